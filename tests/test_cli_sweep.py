"""Command line, run configurations, sweeps and the README's model example."""
import re
from pathlib import Path

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.cli import main
from rate_bridge.config import ConfigError, load_config
from rate_bridge.sweep import grid, random_design, summary_features, sweep

README = Path(__file__).parents[1] / "README.md"


def test_default_config_is_valid_and_overridable():
    cfg = load_config(overrides={"simulation.duration": 2.0, "params": {"pc.u": 150.0}})
    assert cfg["simulation"]["duration"] == 2.0 and cfg["params"] == {"pc.u": 150.0}
    assert cfg["model"] == "jansen_rit" and cfg["connectome"] == "tvb:76"


def test_bad_config_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("simulation: {duratoin: 2.0}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown field\(s\) \['duratoin'\]"):
        load_config(bad)
    bad.write_text("simulation: {dt: -1}\n")
    with pytest.raises(ConfigError, match="simulation.dt must be a positive"):
        load_config(bad)
    assert main(["simulate", str(bad)]) == 2


def test_cli_simulate_writes_raw_and_png(tmp_path, capsys):
    pytest.importorskip("tvb_data")
    mne = pytest.importorskip("mne")
    out = tmp_path / "short_raw.fif"
    code = main(["simulate", "-q", "-o", str(out), "--set", "simulation.duration=1.0"])
    assert code == 0
    raw = mne.io.read_raw_fif(out, preload=True, verbose=False)
    assert len(raw.ch_names) == 64 and raw.info["sfreq"] == 1000.0
    assert set(raw.get_channel_types()) == {"eeg"}
    assert 1e-8 < np.std(raw.get_data()) < 1e-3          # volts: EEG-sized
    assert (tmp_path / "short_psd_topomap.png").stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out


def test_cli_lists_templates_and_prints_config(capsys):
    assert main(["templates"]) == 0
    assert "jansen_rit" in capsys.readouterr().out
    assert main(["show-config"]) == 0
    assert "biosemi64" in capsys.readouterr().out


def test_grid_and_random_design():
    d = grid(**{"pc.u": [100, 200], "global_coupling": [0.0, 0.1, 0.2]})
    assert len(d) == 6 and d[-1] == {"pc.u": 200.0, "global_coupling": 0.2}
    r = random_design(50, seed=1, log=("a",), a=(0.1, 10.0), b=(0, 1))
    assert all(0.1 <= p["a"] <= 10 and 0 <= p["b"] <= 1 for p in r)
    with pytest.raises(ValueError, match="high > low"):
        random_design(3, a=(1, 1))


def test_sweep_is_independent_of_batch_size():
    design = grid(**{"pc.u": [110.0, 220.0, 400.0]})
    kw = dict(record=["pc.v"], noise={"pc.u": 5.0}, seed=4,
              reduce=lambda r: summary_features(r, "pc.v", skip=1.0))
    a = sweep("jansen_rit", design, 3.0, 1e-4, batch_size=3, **kw)
    b = sweep("jansen_rit", design, 3.0, 1e-4, batch_size=1, **kw)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert list(a.columns) == ["pc.u", "mean", "std", "peak_hz", "status"]
    assert (a["status"] == "completed").all()
    assert 9 <= a.loc[1, "peak_hz"] <= 12.5 and a.loc[1, "std"] > a.loc[0, "std"]


def test_sweep_on_a_dask_cluster_matches_local():
    distributed = pytest.importorskip("distributed")
    design = grid(**{"osc.omega": [1.0, 2.0, 3.0, 4.0]})
    kw = dict(record=["osc.theta"], reduce=lambda r: {"end": float(r["osc.theta"][-1, 0])})
    local = sweep("kuramoto", design, 0.5, 1e-3, batch_size=2, **kw)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        remote = sweep("kuramoto", design, 0.5, 1e-3, batch_size=2, client=client, **kw)
    np.testing.assert_array_equal(local.to_numpy(), remote.to_numpy())


def test_readme_model_example_runs(tmp_path):
    text = README.read_text()
    yaml_block = re.search(r"```yaml\n(# my_models.yaml.*?)```", text, re.S).group(1)
    path = tmp_path / "my_models.yaml"
    path.write_text(yaml_block)
    slow = rb.load_template(f"{path}:slow_pair")
    assert slow.parameters["e.tau"] == 0.05 and slow.parameters["i.tau"] == 0.02
    res = rb.simulate(slow, 0.5, 1e-4, record=["e.r", "i.r"])
    assert np.isfinite(res["e.r"]).all() and res["e.r"][-1, 0] > 0
