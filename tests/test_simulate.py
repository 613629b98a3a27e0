"""simulate(): integrators' order, noise statistics and reproducibility, recording, inputs,
divergence, bad input, and the compiled-kernel cache."""
import subprocess
import sys

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable


def _circuit(equations, variables, name="c"):
    return Circuit(name, {"n": Node("n", [Operator(name + "_op", equations, variables)])})


@pytest.fixture(scope="module")
def oscillator():
    """Damped harmonic oscillator with an analytic solution."""
    return _circuit(["d/dt * x = v", "d/dt * v = -w**2 * x - 2 * z * w * v"],
                    {"x": Variable("state", 1.0), "v": Variable("state", 0.0),
                     "w": Variable("parameter", 20.0), "z": Variable("parameter", 0.1)}, "osc")


def _osc_exact(t, w=20.0, z=0.1):
    wd = w * np.sqrt(1 - z ** 2)
    return np.exp(-z * w * t) * (np.cos(wd * t) + z * w / wd * np.sin(wd * t))


@pytest.mark.parametrize("integrator, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_integrators_converge_at_their_order(oscillator, integrator, order):
    errors = []
    for dt in (1e-3, 5e-4):
        res = rb.simulate(oscillator, 0.5, dt, integrator=integrator, record=["n.x"],
                          sampling_rate=100.0)
        errors.append(np.abs(res["n.x"][:, 0] - _osc_exact(res.time)).max())
    observed = np.log2(errors[0] / errors[1])
    assert abs(observed - order) < 0.25, (errors, observed)


def _independent_ou(n, sigma=0.5, tau=0.05):
    ou = _circuit(["d/dt * x = -x / tau"], {"x": Variable("state", 0.0),
                                            "tau": Variable("parameter", tau)}, "ou")
    return rb.Network.from_arrays(np.zeros((n, n)), ou), sigma, tau


def test_state_noise_gives_the_ornstein_uhlenbeck_variance():
    net, sigma, tau = _independent_ou(2000)
    res = rb.simulate(net, 0.5, 1e-4, integrator="euler", noise={"n.x": sigma}, seed=3,
                      record=["n.x"], sampling_rate=100.0, parallel="batch")
    assert res.provenance["integrator"] == "euler_maruyama"
    x = res["n.x"][-1]
    expected = sigma ** 2 * tau / 2 * (1 - np.exp(-2 * 0.49 / tau))
    assert abs(x.var() / expected - 1) < 0.08
    assert abs(x.mean()) < 4 * np.sqrt(expected / x.size)


def test_input_noise_is_drawn_per_step():
    """Noise on an input holds sigma * N(0, 1) over each step: for dx/dt = -x/tau + I with
    Euler the stationary variance is dt^2 sigma^2 / (1 - (1 - dt/tau)^2)."""
    leaky = _circuit(["d/dt * x = -x / tau + I"],
                     {"x": Variable("state"), "I": Variable("input"),
                      "tau": Variable("parameter", 0.01)}, "leaky")
    n, dt, sigma, tau = 2000, 1e-4, 30.0, 0.01
    net = rb.Network.from_arrays(np.zeros((n, n)), leaky)
    res = rb.simulate(net, 0.2, dt, integrator="euler", noise={"n.I": sigma}, seed=1,
                      record=["n.x"], sampling_rate=100.0, parallel="batch")
    expected = dt ** 2 * sigma ** 2 / (1 - (1 - dt / tau) ** 2)
    assert abs(res["n.x"][-1].var() / expected - 1) < 0.08


def test_same_seed_is_bit_identical_whatever_the_threads_or_batch_split():
    net, sigma, _ = _independent_ou(50)
    kw = dict(duration=0.1, dt=1e-4, integrator="heun", noise={"n.x": sigma}, record=["n.x"])
    a = rb.simulate(net, seed=7, n_jobs=1, **kw)
    b = rb.simulate(net, seed=7, n_jobs=2, **kw)
    np.testing.assert_array_equal(a["n.x"], b["n.x"])
    c = rb.simulate(net, seed=8, **kw)
    assert not np.array_equal(a["n.x"], c["n.x"])
    batch = rb.simulate(net, params=[{}, {}, {}], seed=6, **kw)     # members use 6, 7, 8
    np.testing.assert_array_equal(batch[1]["n.x"], a["n.x"])
    np.testing.assert_array_equal(batch[2]["n.x"], c["n.x"])
    assert [r.provenance["seed"] for r in batch] == [6, 7, 8]


def test_changing_values_never_recompiles(oscillator):
    r1 = rb.simulate(oscillator, 0.05, 1e-4, integrator="rk4", record=["n.x"])
    r2 = rb.simulate(oscillator, 0.07, 2e-4, integrator="rk4", record=["n.x"],
                     params={"n.w": 5.0}, initial_state={"n.x": 2.0})
    assert r1.provenance["kernel"] == r2.provenance["kernel"]
    from rate_bridge.compile.cache import _LOADED
    module = next(m for m, _, key in _LOADED.values() if key == r1.provenance["kernel"])
    assert len(module.run.signatures) == 1


def test_recording_decimate_and_average():
    ramp = _circuit(["d/dt * x = 1"], {"x": Variable("state")}, "ramp")
    dt, k = 1e-3, 10
    dec = rb.simulate(ramp, 1.0, dt, integrator="euler", record=["n.x"], sampling_rate=100.0)
    avg = rb.simulate(ramp, 1.0, dt, integrator="euler", record=["n.x"], sampling_rate=100.0,
                      record_mode="average")
    assert dec["n.x"].shape == (100, 1)
    np.testing.assert_allclose(dec.time, np.arange(100) * k * dt)
    np.testing.assert_allclose(dec["n.x"][:, 0], dec.time, atol=1e-12)
    np.testing.assert_allclose(avg["n.x"][:, 0], avg.time + (k - 1) * dt / 2, atol=1e-12)
    assert dec.sfreq == 100.0


def test_inputs_as_array_and_callable():
    integ = _circuit(["d/dt * x = I"], {"x": Variable("state"), "I": Variable("input")}, "int")
    dt, f = 1e-5, 5.0
    res = rb.simulate(integ, 0.2, dt, integrator="euler", record=["n.x"],
                      inputs={"n.I": lambda t: np.cos(2 * np.pi * f * t)})
    np.testing.assert_allclose(res["n.x"][:, 0], np.sin(2 * np.pi * f * res.time) / (2 * np.pi * f),
                               atol=2 * dt)
    steps = np.ones(int(round(0.2 / dt)))
    res2 = rb.simulate(integ, 0.2, dt, integrator="euler", record=["n.x"], inputs={"n.I": steps})
    np.testing.assert_allclose(res2["n.x"][:, 0], res2.time, atol=1e-9)


def test_divergence_stops_with_time_node_and_variable():
    blow = _circuit(["d/dt * x = x**2"], {"x": Variable("state", 1.0)}, "blow")
    net = rb.Network.from_arrays(np.zeros((3, 3)), blow, labels=["a", "b", "c"])
    net.set_initial_state("n.x", 0.5, regions=["a", "c"])
    with pytest.raises(rb.SimulationDiverged, match=r"t = 1\.\d+ s .*'n\.x' of region 'b'") as err:
        rb.simulate(net, 3.0, 1e-4, integrator="euler", record=["n.x"])
    assert 1.0 < err.value.time < 1.1 and err.value.region == "b"
    partial = err.value.result["n.x"]
    assert np.isfinite(partial[:900]).all()          # what was recorded before is kept


def test_bad_arguments_are_refused_clearly(oscillator):
    kw = dict(duration=0.1, dt=1e-4)
    with pytest.raises(KeyError, match="cannot record 'n.y'"):
        rb.simulate(oscillator, record=["n.y"], **kw)
    with pytest.raises(ValueError, match="whole multiple of sampling_rate"):
        rb.simulate(oscillator, sampling_rate=300.0, **kw)
    with pytest.raises(KeyError, match=r"unknown parameter\(s\) \['n.q'\]"):
        rb.simulate(oscillator, params={"n.q": 1.0}, **kw)
    with pytest.raises(ValueError, match="integrator must be one of .* got 'midpoint'"):
        rb.simulate(oscillator, integrator="midpoint", **kw)
    with pytest.raises(ValueError, match="cannot integrate noise on state"):
        rb.simulate(oscillator, integrator="rk4", noise={"n.x": 1.0}, **kw)
    with pytest.raises(ValueError, match="noise amplitude"):
        rb.simulate(oscillator, noise={"n.x": -1.0}, **kw)
    with pytest.raises(ValueError, match="dt must be a positive"):
        rb.simulate(oscillator, duration=1.0, dt=0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        rb.simulate(oscillator, params={"n.w": np.nan}, **kw)
    with pytest.raises(ValueError, match="noise can act on"):
        rb.simulate(oscillator, noise={"n.w": 1.0}, **kw)


def test_result_conversions(oscillator):
    res = rb.simulate(oscillator, 0.05, 1e-4, record=["n.x", "n.v"])
    df = res.to_dataframe()
    assert df.shape == (50, 2) and df.index.name == "time"
    assert set(res.to_dataframe(long=True).columns) == {"time", "region", "variable", "value"}
    assert res.data.shape == (50, 1, 2)
    assert res.provenance["versions"]["numba"]
    assert res.units == {"n.x": "", "n.v": ""}
    fig = res.plot()
    assert len(fig.axes) == 2
    xr = pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds["n_x"].dims == ("time", "region")


def test_compiled_kernel_is_reused_by_a_new_process(tmp_path):
    code = (
        "import rate_bridge as rb\n"
        "from rate_bridge.compile.cache import _LOADED\n"
        "res = rb.simulate('kuramoto', 0.01, 1e-3, integrator='heun', record=['osc.theta'])\n"
        "m = next(iter(_LOADED.values()))[0]\n"
        "st = m.run.stats\n"
        "print(sum(st.cache_hits.values()), sum(st.cache_misses.values()))\n")
    env = {"RATE_BRIDGE_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    import os
    env = {**os.environ, **env}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert first == ["0", "1"]          # compiled and written to the cache
    assert second == ["1", "0"]         # loaded from disk, not compiled
    assert list(tmp_path.glob("rb_kernel_*.py")) and list(tmp_path.rglob("*.nbi"))


def test_multiplicative_noise_ito_and_stratonovich_means():
    """Geometric Brownian motion dX = mu X dt + s X dW: E[X_T] = exp(mu T) read as Itô
    (Euler-Maruyama), exp((mu + s^2 / 2) T) read as Stratonovich (stochastic Heun)."""
    gbm = Operator("gbm", ["d/dt * x = mu * x"],
                   {"x": Variable("state", 1.0, noise="x"), "mu": Variable("parameter", 0.5)})
    n = 4000
    net = rb.Network.from_arrays(np.zeros((n, n)), Circuit("gbm", {"n": Node("n", [gbm])}))
    s, T = 0.6, 1.0
    kw = dict(noise={"n.x": s}, seed=2, record=["n.x"], sampling_rate=10.0, parallel="batch")
    ito = rb.simulate(net, T + 0.1, 1e-3, integrator="euler_maruyama", **kw)
    strat = rb.simulate(net, T + 0.1, 1e-3, integrator="heun_stochastic", **kw)
    k = np.argmin(abs(ito.time - T))
    se = np.sqrt(np.exp(s ** 2 * T) - 1) / np.sqrt(n)       # relative standard error
    assert abs(ito["n.x"][k].mean() / np.exp(0.5 * T) - 1) < 4 * se
    assert abs(strat["n.x"][k].mean() / np.exp((0.5 + s ** 2 / 2) * T) - 1) < 4 * se


def test_inputs_noise_and_records_share_one_kernel():
    leaky = _circuit(["d/dt * x = (-x + I) / tau", "y = 2 * x"],
                     {"x": Variable("state"), "I": Variable("input"), "y": Variable("variable"),
                      "tau": Variable("parameter", 0.01)}, "leaky_share")
    runs = [
        rb.simulate(leaky, 0.01, 1e-4, integrator="heun", record=["n.x"]),
        rb.simulate(leaky, 0.01, 1e-4, integrator="heun", record=["n.y", "n.I"],
                    noise={"n.I": 1.0}),
        rb.simulate(leaky, 0.01, 1e-4, integrator="heun", inputs={"n.I": np.ones(100)},
                    record=["n.x"]),
        rb.simulate(rb.Network.from_arrays(np.zeros((5, 5)), leaky), 0.01, 1e-4,
                    integrator="heun", inputs={"n.I": np.ones(100)}, record=["n.x"]),
    ]
    # sizes, drives, noise and records are run-time arrays: one kernel for all four
    assert len({r.provenance["kernel"] for r in runs}) == 1
    assert np.abs(runs[1]["n.I"]).max() > 0                 # the recorded input is noisy
    np.testing.assert_allclose(runs[3]["n.x"][:, 0], runs[3]["n.x"][:, 4])
    np.testing.assert_array_equal(runs[3]["n.x"][:, 0], runs[2]["n.x"][:, 0])
