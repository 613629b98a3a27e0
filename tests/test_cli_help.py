"""The command line explains itself, every figure has labelled axes, and the default job
looks like resting EEG.

Kernels: only the Jansen-Rit network with the template's declared coupling and heun (the one
test_cli_sweep.py's simulate test and conftest's jr_network compile)."""
import sys

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.adapters import Connectome
from rate_bridge.cli import main
from rate_bridge.config import ConfigError, build_connectome, load_config, regional_values

# the declared sigmoid-of-pc.v coupling: the kernel the suite already compiles
SHARED_KERNEL = {"coupling.source": "pc.v", "coupling.function": None}
OCCIPITAL = ["O1", "Oz", "O2", "PO3", "POz", "PO4", "PO7", "PO8", "Iz"]
FRONTAL = ["Fp1", "Fpz", "Fp2", "AF3", "AFz", "AF4", "AF7", "AF8"]


def test_sweep_help_documents_arguments_output_and_columns(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for item in ("--param", "NAME=START:STOP:NUM", "--batch-size", "--skip", "--set",
                 "--overwrite", "config", "default: sweep.csv", "columns", "mean", "std",
                 "peak_hz", "status", "seed"):
        assert item in text, item


def test_missing_tvb_data_says_how_to_pass_a_connectome(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tvb_data", None)     # `import tvb_data` fails
    with pytest.raises(ImportError, match="pip install rate_bridge\\[tvb\\]") as exc:
        build_connectome("tvb:76")
    assert "connectome: path/to/file" in str(exc.value)
    assert "read_connectome" in str(exc.value)
    assert main(["simulate", "--no-plot", "-o", "x_raw.fif"]) == 2
    assert "--set connectome=" in capsys.readouterr().err


def _line_connectome():
    """Five regions along TVB's x (anterior) axis, x = 40 (front) ... -40 (back) mm."""
    x = np.linspace(40.0, -40.0, 5)
    centres = np.c_[x, np.zeros(5), np.zeros(5)]
    return Connectome(np.ones((5, 5)) - np.eye(5), centres=centres, coord_frame="tvb")


def test_anterior_posterior_gradient_and_dotted_overrides():
    values = regional_values({"pc.a_e": {"anterior": 200.0, "posterior": 100.0}, "pc.u": 220.0},
                             _line_connectome())
    np.testing.assert_allclose(values["pc.a_e"], [200.0, 175.0, 150.0, 125.0, 100.0])
    assert values["pc.u"] == 220.0
    with pytest.raises(ConfigError, match=r"params.pc.a_e: a gradient is \{anterior"):
        regional_values({"pc.a_e": {"front": 1.0}}, _line_connectome())
    no_centres = Connectome(np.ones((2, 2)))
    with pytest.raises(ConfigError, match="needs region centres"):
        regional_values({"pc.u": {"anterior": 1.0, "posterior": 2.0}}, no_centres)
    cfg = load_config(overrides={"params.pc.u": 150.0})   # a dotted name stays one key
    assert cfg["params"]["pc.u"] == 150.0


def _axes_of(fig):
    """The data axes of a figure (colour bars and MNE's sensor inset left out)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()
            and ax.lines + ax.images and ax.get_position().width > 0.2]


def test_every_figure_has_labelled_axes(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    import pandas as pd

    from rate_bridge import viz
    rng = np.random.default_rng(0)
    t = np.arange(200) / 100
    res = rb.Result(t, {"pc.v": rng.normal(size=(200, 3)), "x": rng.normal(size=(200, 3))},
                    ["a", "b", "c"], units={"pc.v": "mV"})
    table = pd.DataFrame({"g": [0, 0, 1, 1], "s": [1, 2, 1, 2], "v": [1.0, 2, 3, 4]})
    figs = [res.plot(), viz.plot_fc(np.eye(3)), viz.plot_fcd(np.eye(4)),
            viz.plot_fcd(np.eye(4), times=np.arange(4.0)),
            viz.plot_psd(np.arange(1.0, 10), np.ones((9, 2))),
            viz.plot_sweep_map(table, "g", "s", "v")]
    # a PSD + topomap made by the forward models: keep the figure it saves
    saved = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: saved.append(self) or real_savefig(self, *a, **k))
    mne = pytest.importorskip("mne")
    info = mne.create_info(mne.channels.make_standard_montage("biosemi64").ch_names, 250.0,
                           "eeg")
    raw = mne.io.RawArray(rng.normal(size=(64, 2500)) * 1e-6, info, verbose=False)
    raw.set_montage("biosemi64")
    rb.forward_models.viz.save_psd_topomap(raw, tmp_path / "psd.png")
    psd_axes = saved[0].axes[0]
    assert psd_axes.get_xlabel() == "Frequency (Hz)" and "µV" in psd_axes.get_ylabel()
    for fig in figs:
        for ax in _axes_of(fig)[-1:] if fig is figs[0] else _axes_of(fig):
            assert ax.get_xlabel() and ax.get_ylabel(), (fig, ax)
    top, bottom = _axes_of(figs[0])
    assert bottom.get_xlabel() == "time (s)" and top.get_ylabel() == "pc.v (mV)"
    assert bottom.get_ylabel() == "x (a.u.)"
    assert "(s)" in _axes_of(figs[3])[0].get_xlabel()
    assert "Hz" in _axes_of(figs[4])[0].get_xlabel()


def test_default_job_looks_like_resting_eeg():
    """Short run of the default configuration: the alpha peak lies in 8-13 Hz, it is broad
    (not a limit cycle's line) and stronger over occipital than frontal electrodes."""
    pytest.importorskip("tvb_data")
    from scipy.signal import welch

    from rate_bridge.config import run_config
    cfg = load_config(overrides={**SHARED_KERNEL, "simulation.duration": 6.0})
    _, raw = run_config(cfg, verbose="warning")
    sf = raw.info["sfreq"]
    f, p = welch(raw.get_data()[:, int(sf):], sf, nperseg=int(sf))    # 1 Hz, after 1 s
    mean = p.mean(0)
    band = (f >= 5) & (f <= 30)
    peak = f[band][np.argmax(mean[band])]
    assert 8.0 <= peak <= 13.0
    above_half = f[band][mean[band] > mean[f == peak][0] / 2]
    assert np.ptp(above_half) >= 2.0                                  # broad: >= 2 Hz
    alpha = p[:, (f >= 8) & (f <= 13)].mean(1)
    names = raw.ch_names
    ratio = (np.mean([alpha[names.index(c)] for c in OCCIPITAL])
             / np.mean([alpha[names.index(c)] for c in FRONTAL]))
    assert ratio > 1.3


def test_sweep_shows_progress_per_member(tmp_path, capsys):
    pytest.importorskip("tvb_data")
    out = tmp_path / "sweep.csv"
    sets = [x for k, v in SHARED_KERNEL.items() for x in ("--set", f"{k}={v or 'null'}")]
    assert main(["sweep", "--param", "pc.u=150,220,300", "--batch-size", "1", "--set",
                 "simulation.duration=1.5", "--skip", "0.5", "-o", str(out), *sets]) == 0
    err = capsys.readouterr().err
    assert "1/3" in err and "2/3" in err and "3/3" in err
    import pandas as pd
    table = pd.read_csv(out)
    assert list(table.columns) == ["pc.u", "mean", "std", "peak_hz", "status"]
    assert (table["status"] == "completed").all() and len(table) == 3
