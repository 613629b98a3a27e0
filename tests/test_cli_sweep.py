"""Command line, run configurations, sweeps and the README's model example.

Kernels: conftest.py's Jansen-Rit network and circuit with heun, its Kuramoto network with rk4,
and the README's model with heun."""
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
    # the template's declared coupling (the kernel the network tests share), not the linear one
    code = main(["simulate", "-q", "-o", str(out), "--set", "simulation.duration=1.0",
                 "--set", "coupling.source=pc.v", "--set", "coupling.function=null"])
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


def test_sweep_on_a_dask_cluster_matches_local(kuramoto_network):
    distributed = pytest.importorskip("distributed")
    net = kuramoto_network(np.zeros((1, 1)))
    design = grid(**{"osc.omega": [1.0, 2.0, 3.0, 4.0]})
    kw = dict(integrator="rk4", record=["osc.theta"],
              reduce=lambda r: {"end": float(r["osc.theta"][-1, 0])})
    local = sweep(net, design, 0.5, 1e-3, batch_size=2, **kw)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None) as client:
        remote = sweep(net, design, 0.5, 1e-3, batch_size=2, client=client, **kw)
    np.testing.assert_array_equal(local.to_numpy(), remote.to_numpy())
    # a free oscillator: theta = omega t at the last sample, t = 0.499 s
    np.testing.assert_allclose(local["end"], np.array([1.0, 2.0, 3.0, 4.0]) * 0.499, rtol=1e-12)


def test_readme_model_example_runs(tmp_path):
    text = README.read_text()
    yaml_block = re.search(r"```yaml\n(# my_models.yaml.*?)```", text, re.S).group(1)
    path = tmp_path / "my_models.yaml"
    path.write_text(yaml_block)
    slow = rb.load_template(f"{path}:slow_pair")
    assert slow.parameters["e.tau"] == 0.05 and slow.parameters["i.tau"] == 0.02
    res = rb.simulate(slow, 0.5, 1e-4, record=["e.r", "i.r"])
    ref = _readme_pair(0.5, 1e-4)[::10]                      # sampled at 1 kHz
    np.testing.assert_allclose(res["e.r"][:, 0], ref[:, 0], rtol=1e-10)
    np.testing.assert_allclose(res["i.r"][:, 0], ref[:, 1], rtol=1e-10)


def _readme_pair(duration, dt):
    """The README's slow_pair in plain numpy: Heun, the i -> e edge delayed by 2 ms (20 steps;
    history = the initial state 0), the e -> i edge undelayed (read at each stage)."""
    n, lag = int(round(duration / dt)), int(round(0.002 / dt))
    tau = np.array([0.05, 0.02])
    r = np.zeros((n + 1, 2))                                 # columns e.r, i.r

    def f(x, delayed_i):
        inputs = np.array([-3.0 * delayed_i, 2.0 * x[0]])
        return (-x + 1 / (1 + np.exp(-(inputs + 0.5)))) / tau
    for k in range(n):
        f1 = f(r[k], r[k - lag, 1] if k >= lag else 0.0)
        f2 = f(r[k] + dt * f1, r[k + 1 - lag, 1] if k + 1 >= lag else 0.0)
        r[k + 1] = r[k] + 0.5 * dt * (f1 + f2)
    return r[:n]


def test_every_python_block_of_the_readme_runs_in_order(tmp_path, monkeypatch):
    """The README's Python blocks, run one after the other in one namespace (in a temporary
    folder: they write files). They use structures the suite compiles anyway."""
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 5
    namespace = {}
    for k, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {k + 1}", "exec"), namespace)
    assert namespace["res"]["pc.v"].shape == (10000, 76)
    assert namespace["raw"].get_data().shape == (64, 10000)
    assert len(namespace["runs"]) == 3 and len(namespace["table"]) == 6
    assert namespace["pair"].weights[1, 0] == 1.0
