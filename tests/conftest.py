import os
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")
# kernels compiled by the tests go to the user cache (reused across runs) unless told otherwise
os.environ.setdefault("RATE_BRIDGE_CACHE", os.path.join(
    os.path.expanduser("~"), ".cache", "rate_bridge", "kernels"))


@pytest.fixture
def write_yaml(tmp_path):
    """Write a YAML text to a file in a temporary folder and return its path."""
    def _write(text, name="model.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


@pytest.fixture(scope="session")
def tvb_connectivity_76():
    """tvb-data's 76-region connectome as (weights, tract_lengths, labels), or skip."""
    pytest.importorskip("tvb_data")
    import io
    import zipfile
    from pathlib import Path

    import numpy as np
    import tvb_data
    path = Path(tvb_data.__file__).parent / "connectivity" / "connectivity_76.zip"
    with zipfile.ZipFile(path) as zf:
        weights = np.loadtxt(io.BytesIO(zf.read("weights.txt")))
        lengths = np.loadtxt(io.BytesIO(zf.read("tract_lengths.txt")))
        labels = [line.split()[0] for line in zf.read("centres.txt").decode().splitlines()
                  if line.strip()]
    return weights, lengths, labels


del tempfile
