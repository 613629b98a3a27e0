"""The gallery's scripts (examples/*.py) run at their --quick settings and write their figure.

Kernels: the "jansen_rit" circuit with heun, the "montbrio" circuit with rk4, conftest's
jr_network (declared coupling) with heun, and the README's monitor kernel (Bold, Covariance,
Welch and Sensors on that network, heun): structures test_library.py, test_simulate.py and the
README test compile anyway (the kernel count of the session does not grow). The fit example,
examples/fit_jansen_rit.py, is not run here."""
import importlib
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture
def run_example(tmp_path, monkeypatch):
    """Import examples/<name>.py and run its main() with --quick into a temporary folder."""
    monkeypatch.syspath_prepend(str(EXAMPLES))           # the scripts import one another

    def run(name):
        out = importlib.import_module(name).main(["--quick", "--out", str(tmp_path)])
        fig = Path(out["figure"])
        assert fig.parent == tmp_path and fig.suffix == ".png"
        assert fig.stat().st_size > 20_000                 # a drawn figure, not an empty canvas
        return out
    return run


def test_jansen_rit_bifurcation_regimes(run_example):
    out = run_example("jansen_rit_bifurcation")
    p, amp = out["inputs"], out["vmax"] - out["vmin"]
    assert amp[p == 100.0][0] < 1e-3 and amp[p == 125.0][0] > 8.0    # rest, then spikes
    alpha = (p >= 200) & (p <= 300)
    assert np.all((out["peak_hz"][alpha] >= 8) & (out["peak_hz"][alpha] <= 13))


def test_montbrio_step_leaves_the_population_in_its_other_state(run_example):
    out = run_example("montbrio_step")
    rates = out["rates"]
    assert rates["before"] < 0.1 and rates["after"] > 0.9            # two stable states
    bistable = out["high"] > 5 * out["low"]                            # eta = -5 among them
    assert bistable[np.isclose(out["etas"], -5.0)].all() and not bistable.all()


def test_whole_brain_eeg_has_an_alpha_peak(run_example):
    mne = pytest.importorskip("mne")
    pytest.importorskip("tvb_data")
    out = run_example("whole_brain_eeg")
    assert isinstance(out["raw"], mne.io.BaseRaw) and len(out["raw"].ch_names) == 64
    freqs, power = out["freqs"], out["psd"].mean(0)
    above = freqs >= 6.0                                               # past the delta rise
    assert 8.0 <= freqs[above][np.argmax(power[above])] <= 13.0


def test_bold_fc_follows_the_structure(run_example):
    pytest.importorskip("tvb_data")
    out = run_example("bold_fc")
    assert out["obs"]["bold"].shape == (80, 76) and out["obs"]["sensors"].shape[1] == 64
    assert out["r"]["neural"] > 0.1 and out["r"]["bold"] > 0.05


def test_source_inverse_recovers_time_courses(run_example):
    pytest.importorskip("mne")
    pytest.importorskip("tvb_data")
    out = run_example("source_inverse")
    for method in ("dSPM", "sLORETA"):
        assert np.median(out["scores"][method]["r"]) > 0.3
