"""Streaming monitors computed inside the kernel, each against an independent truth: BOLD
against ``solve_ivp`` of the same Balloon-Windkessel equations, covariance against
``numpy.cov``, Welch against ``scipy.signal.welch``, sensors against ``gain @ regions``.

Kernel: one structure (a leaky network with a driven input, euler, all four monitor kinds):
every simulation here passes the four kinds, so the file compiles once.
"""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.signal import welch

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable

DT = 1e-4
GAIN = np.random.default_rng(0).normal(size=(5, 3))
WEIGHTS = np.array([[0.0, 0.5, 0.2], [0.3, 0.0, 0.1], [0.2, 0.4, 0.0]])


def _network(n=3):
    op = Operator("drv_op", ["d/dt * x = (-x + I + u) / tau"],
                  {"x": Variable("state", unit="1"), "I": Variable("input"),
                   "u": Variable("input"), "tau": Variable("parameter", 0.01)})
    circuit = Circuit("driven", {"n": Node("n", [op])})
    return rb.Network.from_arrays(WEIGHTS[:n, :n], circuit, coupling=("n.x", "n.I"))


def _monitors(bold=(), start=0.5, gain=GAIN, **welch_kw):
    """The four kinds (one kernel); extra Bold monitors as given."""
    welch_kw.setdefault("nperseg", 256)
    return [rb.monitors.Covariance("n.x", sampling_rate=1000.0, start=start),
            rb.monitors.Welch("n.x", sampling_rate=1000.0, start=start, **welch_kw),
            rb.monitors.Sensors("n.x", gain=gain, sampling_rate=1000.0),
            *(bold or [rb.monitors.Bold("n.x", tr=0.5)])]


@pytest.fixture(scope="module")
def noisy():
    """5 s of the network driven by noise on u, recorded at 1 kHz (1 ms averages) and
    monitored."""
    return rb.simulate(_network(), 5.0, DT, integrator="euler", noise={"n.u": 10.0},
                       record=["n.x"], sampling_rate=1000.0, record_mode="average",
                       monitors=_monitors())


def test_covariance_and_fc_equal_numpy_on_the_stored_signal(noisy):
    x = noisy["n.x"][500:]                       # from start = 0.5 s
    fc = noisy.monitors["fc"]
    assert fc.count == len(x)
    np.testing.assert_allclose(fc.mean, x.mean(axis=0), rtol=1e-10, atol=0)
    np.testing.assert_allclose(fc.cov, np.cov(x.T), rtol=1e-10, atol=0)
    np.testing.assert_allclose(fc.fc, np.corrcoef(x.T), rtol=1e-10, atol=1e-14)


def test_welch_equals_scipy_on_the_stored_signal(noisy):
    psd = noisy.monitors["psd"]
    f, p = welch(noisy["n.x"][500:], fs=1000.0, nperseg=256, axis=0)
    np.testing.assert_allclose(psd.freqs, f, rtol=1e-14)
    np.testing.assert_allclose(psd.data, p, rtol=1e-10, atol=1e-10 * p.max())
    assert psd.segments == (4500 - 256) // 128 + 1


def test_sensors_equal_the_gain_times_the_stored_regions(noisy):
    s = noisy.monitors["sensors"]
    expected = noisy["n.x"] @ GAIN.T
    np.testing.assert_allclose(s.data, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_array_equal(s.time, noisy.time)
    assert noisy["sensors"] is s.data and "sensors" in noisy


def _balloon_reference(drive, constants, t_end, t_eval):
    """The Balloon-Windkessel equations (Friston et al. 2000), integrated by solve_ivp."""
    c = constants

    def rhs(t, y):
        s, f, v, q = y
        z = drive(t)
        return [z - c["kappa"] * s - c["gamma"] * (f - 1), s,
                (f - v ** (1 / c["alpha"])) / c["tau"],
                (f * (1 - (1 - c["E0"]) ** (1 / f)) / c["E0"]
                 - v ** (1 / c["alpha"]) * q / v) / c["tau"]]
    sol = solve_ivp(rhs, (0, t_end), [0, 1, 1, 1], t_eval=t_eval, rtol=1e-11, atol=1e-13,
                    max_step=0.05)
    s, f, v, q = sol.y
    return c["V0"] * (c["k1"] * (1 - q) + c["k2"] * (1 - q / v) + c["k3"] * (1 - v))


@pytest.mark.parametrize("design", ["step", "blocks"])
def test_bold_equals_solve_ivp_of_the_balloon_model(design):
    """Neural drive u prescribed (a step at 1 s, or 4 s on / 6 s off blocks): the kernel's
    BOLD at every TR equals solve_ivp's to 1e-6 relative, for both constant sets."""
    T, tr = 20.0, 0.5
    t = np.arange(int(round(T / DT))) * DT
    on = (t >= 1.0) if design == "step" else ((t % 10.0) < 4.0)
    drive = on.astype(float)
    sets = ("friston2000", "stephan2007")
    bolds = [rb.monitors.Bold("n.u", tr=tr, constants=k, name=k) for k in sets]
    res = rb.simulate(_network(1), T, DT, integrator="euler", inputs={"n.u": drive},
                      record=[], monitors=_monitors(bolds, start=0.0, gain=GAIN[:, :1]))
    for k in sets:
        out = res.monitors[k]
        ref = _balloon_reference(
            lambda s: float(s >= 1.0) if design == "step" else float((s % 10.0) < 4.0 - 1e-12),
            rb.monitors.BOLD_CONSTANTS[k], T, out.time)
        np.testing.assert_allclose(out.time, np.arange(1, 41) * tr)
        assert np.abs(out.data[:, 0] - ref).max() <= 1e-6 * np.abs(ref).max(), k


def test_an_impulse_gives_the_canonical_hemodynamic_response():
    """A 100 ms pulse: the response (Stephan et al. 2007 constants, the default) peaks 4-6 s
    after it and undershoots below baseline."""
    t = np.arange(int(round(30.0 / DT))) * DT
    drive = ((t >= 1.0) & (t < 1.1)).astype(float)
    res = rb.simulate(_network(1), 30.0, DT, integrator="euler", inputs={"n.u": drive},
                      record=[], monitors=_monitors([rb.monitors.Bold("n.u", tr=0.1)],
                                                    start=0.0, gain=GAIN[:, :1]))
    bold, time = res["bold"][:, 0], res.monitors["bold"].time
    peak = time[np.argmax(bold)] - 1.0
    assert 4.0 <= peak <= 6.0 and bold.max() > 0
    assert bold[time > 1.0 + peak + 4.0].min() < -0.05 * bold.max()


def test_batch_members_and_threads_give_identical_monitors():
    net = _network()
    kw = dict(integrator="euler", noise={"n.u": 10.0}, record=[], params=[{}, {"n.tau": 0.02}],
              seed=[3, 4], monitors=_monitors())
    one = rb.simulate(net, 1.0, DT, n_jobs=1, **kw)
    two = rb.simulate(net, 1.0, DT, n_jobs=2, **kw)
    alone = rb.simulate(net, 1.0, DT, integrator="euler", noise={"n.u": 10.0}, record=[],
                        params={"n.tau": 0.02}, seed=4, monitors=_monitors())
    for name in ("fc", "psd", "sensors", "bold"):
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(one[1][name], alone[name])
    assert not np.array_equal(one[0]["fc"], one[1]["fc"])


def test_monitor_memory_does_not_grow_with_the_duration():
    from rate_bridge.compile.abi import memory_needed
    net = _network()
    spec = net.kernel_spec("euler", "batch", False, ("covariance", "welch"))
    tables = [rb.monitors.pack(_monitors()[:2], net, spec.var_index, DT, n, 4)[0]
              for n in (10_000, 1_000_000)]
    assert tables[0]["mout"].shape == tables[1]["mout"].shape
    need = [memory_needed(net, spec, dict(B=4, record=0, samples=n, steps=n, drives=0, noise=1,
                                          callable_drive=False, history=0, workers=1, L=3,
                                          history_rows=1,
                                          monitors=t["mout"].shape[1], monitor_work=t["nmw"]))
            for n, t in zip((10_000, 1_000_000), tables)]
    assert need[0] == need[1]


@pytest.mark.parametrize("monitor, match", [
    (lambda: rb.monitors.Bold("n.x", tr=0.00015), "tr = 0.00015 s must be a whole multiple"),
    (lambda: rb.monitors.Bold("n.x", tr=5.0), "longer than the run"),
    (lambda: rb.monitors.Welch("n.x", sampling_rate=1000.0, nperseg=2048), "longer than"),
    (lambda: rb.monitors.Sensors("n.x", gain=np.ones((2, 5))), "5 region columns, the network 3"),
    (lambda: rb.monitors.Covariance("n.nope"), "'n.nope' is not a variable"),
    (lambda: rb.monitors.Covariance("n.x", start=2.0), "no sample between start"),
])
def test_bad_monitors_are_refused_before_the_run(monitor, match):
    with pytest.raises(ValueError, match=match):
        rb.simulate(_network(), 1.0, DT, integrator="euler", record=[],
                    monitors=[monitor()])


def test_bad_monitor_arguments_name_the_argument():
    with pytest.raises(ValueError, match="nperseg must be a power of two"):
        rb.monitors.Welch("n.x", nperseg=300)
    with pytest.raises(ValueError, match="constants"):
        rb.monitors.Bold("n.x", constants="spm")
    with pytest.raises(TypeError, match="gain must be"):
        rb.monitors.Sensors("n.x", gain="eeg")
    with pytest.raises(ValueError, match="share a name"):
        rb.simulate(_network(), 1.0, DT, monitors=[rb.monitors.Bold("n.x"),
                                                   rb.monitors.Bold("n.x")])


def test_a_run_in_chunks_equals_one_call_bit_for_bit(monkeypatch):
    """Long runs go as successive kernel calls (progress, prompt Ctrl-C): states, delay
    buffers (far-edge blocks included), partial averages, monitors and noise counters carry
    over, so the results equal one call exactly, whatever the chunk length."""
    import importlib
    sim_module = importlib.import_module("rate_bridge.simulate")
    net = rb.Network.from_arrays(WEIGHTS, _network().groups[0]["circuit"],
                                 coupling=("n.x", "n.I"), delays=np.full((3, 3), 2.3e-3))
    kw = dict(integrator="euler", noise={"n.u": 10.0}, record=["n.x", "n.I"],
              sampling_rate=1000.0, record_mode="average", params=[{}, {"n.tau": 0.02}],
              monitors=_monitors(), delay_mode="interpolate")
    whole = rb.simulate(net, 1.5, DT, **kw)
    monkeypatch.setattr(sim_module, "CHUNK_REGION_STEPS", 3 * 997)    # 997-step calls
    chunked = rb.simulate(net, 1.5, DT, **kw)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a.data, b.data)
        for name in ("fc", "psd", "sensors", "bold"):
            np.testing.assert_array_equal(a[name], b[name])
        assert a.provenance["steps_done"] == b.provenance["steps_done"] == 15000
