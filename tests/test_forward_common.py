"""Shared helpers and fixtures of the forward-model tests (imported by test_forward_*.py).

Connectomes and results are built here directly (tvb-data's connectivity_76.zip read with
zipfile + numpy) so the tests do not depend on the adapters or the simulator.
"""
import functools
import io
import os
import zipfile

import numpy as np
import pytest

from rate_bridge import Result
from rate_bridge.adapters import Connectome
from rate_bridge.model import library_templates, load_template


def tvb_path(*parts):
    tvb_data = pytest.importorskip("tvb_data")
    return os.path.join(os.path.dirname(tvb_data.__file__), *parts)


def read_conn76():
    with zipfile.ZipFile(tvb_path("connectivity", "connectivity_76.zip")) as z:
        def arr(name, **kw):
            return np.loadtxt(io.BytesIO(z.read(name)), **kw)
        cen = np.loadtxt(io.BytesIO(z.read("centres.txt")), dtype=str)
        labels = list(cen[:, 0])
        return Connectome(arr("weights.txt"), arr("tract_lengths.txt"), labels=labels,
                          centres=cen[:, 1:].astype(float), coord_frame="tvb",
                          orientations=arr("average_orientations.txt"),
                          hemispheres=[lab.startswith("r") for lab in labels],
                          cortical=arr("cortical.txt").astype(bool), areas=arr("areas.txt"),
                          name="connectivity_76")


def small_conn(n=8, frame="ras", orientations=True):
    """n regions on a ring 45 mm around the brain centre (RAS, mm), half of them right."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    cen = np.c_[45 * np.cos(ang), 30 * np.sin(ang), 10 * np.sin(2 * ang) + 5]
    ori = cen / np.linalg.norm(cen, axis=1, keepdims=True) + [0.3, 0.2, 0.5]
    return Connectome(np.ones((n, n)) - np.eye(n), labels=[f"reg{k}" for k in range(n)],
                      centres=cen, coord_frame=frame, hemispheres=cen[:, 0] > 0,
                      orientations=ori if orientations else None, name="small")


def make_result(labels, n_times=2000, sfreq=1000.0, model="jansen_rit", var="pc.v",
                seed=0, active=None, freq=10.0, amp=5.0, extra=None, provenance=None):
    """Random-walk-free test result: white noise plus a sinusoid in ``active`` regions."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    data = 0.1 * rng.standard_normal((n_times, len(labels))) + 6.0
    if active is not None:
        for k in np.atleast_1d(active):
            data[:, k] += amp * np.sin(2 * np.pi * freq * t)
    rec = {var: data}
    if extra:
        rec.update(extra(t, len(labels)))
    # as simulate() writes it: the template's declared observables travel with the result
    shipped = {n for names in library_templates().values() for n in names}
    prov = {"model": model, "sampling_rate": sfreq,
            "observables": load_template(model).observables if model in shipped else {}}
    prov.update(provenance or {})
    return Result(t, rec, labels, {k: "mV" for k in rec}, prov)


# Heavy objects are cached per process: fixtures imported into several test modules are
# registered once per module by pytest, so their own caching alone would rebuild them.
@functools.lru_cache(maxsize=None)
def _conn76():
    return read_conn76()


@functools.lru_cache(maxsize=None)
def _fm76():
    from rate_bridge.forward_models import from_sphere
    return from_sphere(_conn76(), montage="biosemi64")


@functools.lru_cache(maxsize=None)
def _tvb_head():
    from rate_bridge.forward_models import read_tvb_head
    return read_tvb_head(region_labels=_conn76().labels)


@functools.lru_cache(maxsize=None)
def _fm_cortex():
    import warnings
    from rate_bridge.forward_models import from_sphere
    head = _tvb_head()
    info = head.eeg_info(exclude=("IO1", "IO2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ~600 frontal vertices dropped
        return from_sphere(_conn76(), montage=info, surface=head.cortex, mode="mean")


@pytest.fixture(scope="session")
def conn76():
    pytest.importorskip("tvb_data")
    return _conn76()


@pytest.fixture(scope="session")
def fm76(conn76):
    return _fm76()


@pytest.fixture(scope="session")
def tvb_head(conn76):
    return _tvb_head()


@pytest.fixture(scope="session")
def fm_cortex(conn76, tvb_head):
    """Sphere forward with sources at tvb-data's 16k cortical vertices, TVB's electrodes."""
    return _fm_cortex()


@pytest.fixture(scope="session")
def bem_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bem_cache")


def test_helpers_build_consistent_objects():
    conn = small_conn()
    res = make_result(conn.labels, n_times=10)
    assert res["pc.v"].shape == (10, conn.n_regions)
