"""simulate(): integrators' order, noise statistics and reproducibility, recording, inputs,
divergence, bad input, and the compiled-kernel cache.

Every run uses conftest.py's shared structures (oscillator, sde_network, leaky_network): no
kernel of its own."""
import os
import subprocess
import sys

import numpy as np
import pytest

import rate_bridge as rb


@pytest.mark.parametrize("integrator, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_integrators_converge_at_their_order(oscillator, oscillator_exact, integrator, order):
    errors = []
    for dt in (1e-3, 5e-4):
        res = rb.simulate(oscillator, 0.5, dt, integrator=integrator, record=["n.x"],
                          sampling_rate=100.0)
        errors.append(np.abs(res["n.x"][:, 0] - oscillator_exact(res.time)).max())
    observed = np.log2(errors[0] / errors[1])
    assert abs(observed - order) < 0.25, (errors, observed)


def test_state_noise_gives_the_ornstein_uhlenbeck_variance(sde_network):
    sigma, tau = 0.5, 0.05
    res = rb.simulate(sde_network(2000), 0.5, 1e-4, integrator="euler", noise={"n.x": sigma},
                      seed=3, record=["n.x"], sampling_rate=100.0, parallel="batch")
    assert res.provenance["integrator"] == "euler_maruyama"
    x = res["n.x"][-1]
    expected = sigma ** 2 * tau / 2 * (1 - np.exp(-2 * 0.49 / tau))
    assert abs(x.var() / expected - 1) < 0.08
    assert abs(x.mean()) < 4 * np.sqrt(expected / x.size)


def test_input_noise_is_drawn_per_step(leaky_network):
    """Noise on an input holds sigma * N(0, 1) over each step: for dx/dt = (-x + I) / tau with
    Euler the stationary variance is (dt sigma / tau)^2 / (1 - (1 - dt/tau)^2)."""
    n, dt, sigma, tau = 2000, 1e-4, 0.3, 0.01
    res = rb.simulate(leaky_network(np.zeros((n, n))), 0.2, dt, integrator="euler",
                      noise={"n.I": sigma}, seed=1, record=["n.x"], sampling_rate=100.0,
                      parallel="batch")
    assert res.provenance["integrator"] == "euler"          # inputs: no stochastic scheme
    expected = (dt * sigma / tau) ** 2 / (1 - (1 - dt / tau) ** 2)
    assert abs(res["n.x"][-1].var() / expected - 1) < 0.08


def test_same_seed_is_bit_identical_whatever_the_threads_or_batch_split(sde_network):
    net = sde_network(50)
    kw = dict(duration=0.1, dt=1e-4, integrator="heun", noise={"n.x": 0.5}, record=["n.x"])
    a = rb.simulate(net, seed=7, n_jobs=1, **kw)
    assert a.provenance["integrator"] == "heun_stochastic"
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


def _euler_oscillator(n, dt, w=20.0, z=0.1):
    """States (n + 1, 2) of the oscillator fixture under explicit Euler, in plain numpy."""
    xs = np.empty((n + 1, 2))
    xs[0] = 1.0, 0.0
    for k in range(n):
        x, v = xs[k]
        xs[k + 1] = x + dt * v, v + dt * (-w ** 2 * x - 2 * z * w * v)
    return xs


def test_recording_decimate_and_average(oscillator):
    dt, k = 1e-3, 10
    dec = rb.simulate(oscillator, 1.0, dt, integrator="euler", record=["n.x"],
                      sampling_rate=100.0)
    avg = rb.simulate(oscillator, 1.0, dt, integrator="euler", record=["n.x"],
                      sampling_rate=100.0, record_mode="average")
    x = _euler_oscillator(1000, dt)[:1000, 0]
    assert dec.sfreq == 100.0 and dec["n.x"].shape == (100, 1)
    np.testing.assert_allclose(dec.time, np.arange(100) * k * dt)
    # decimate: the state at each sample time; average: the mean over the k steps it opens
    np.testing.assert_allclose(dec["n.x"][:, 0], x[::k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(avg["n.x"][:, 0], x.reshape(100, k).mean(axis=1), rtol=1e-12,
                               atol=1e-14)


def test_inputs_as_array_and_callable(leaky_network):
    dt, f, tau, n = 1e-4, 5.0, 0.01, 2000
    drive = lambda t: np.cos(2 * np.pi * f * t)      # noqa: E731
    x = np.zeros(n + 1)                              # Euler in plain numpy, I held per step
    for k in range(n):
        x[k + 1] = x[k] + dt * (-x[k] + drive(k * dt)) / tau
    res = rb.simulate(leaky_network(np.zeros((1, 1))), n * dt, dt, integrator="euler",
                      record=["n.x"], inputs={"n.I": drive}, sampling_rate=1 / dt)
    np.testing.assert_allclose(res["n.x"][:, 0], x[:n], rtol=1e-12, atol=1e-14)
    # an array, (n_times,) for every region, or (n_times, n_regions)
    both = np.stack([drive(np.arange(n) * dt), np.zeros(n)], axis=1)
    for inputs in (both[:, 0], both):
        res2 = rb.simulate(leaky_network(np.zeros((2, 2))), n * dt, dt, integrator="euler",
                           record=["n.x"], inputs={"n.I": inputs}, sampling_rate=1 / dt)
        np.testing.assert_allclose(res2["n.x"][:, 0], x[:n], rtol=1e-12, atol=1e-14)
        expected = x[:n] if inputs.ndim == 1 else 0.0
        np.testing.assert_allclose(res2["n.x"][:, 1], expected, rtol=1e-12, atol=1e-14)


def test_divergence_stops_with_time_node_and_variable(oscillator):
    # undamped, w dt = 0.39: Euler's amplitude grows 1.073-fold per step in region b only
    w, dt = 3900.0, 1e-4
    net = rb.Network.from_arrays(np.zeros((3, 3)), oscillator.copy(), labels=["a", "b", "c"])
    net.set_parameter("n.w", w, regions=["b"])
    net.set_parameter("n.z", 0.0, regions=["b"])
    x, v, step = 1.0, 0.0, 0                       # x += dt * f(x) in plain Python floats
    while np.isfinite(v):
        x, v, step = x + dt * v, v + dt * (-w ** 2 * x), step + 1
    assert 9000 < step < 11000
    with pytest.raises(rb.SimulationDiverged, match=rf"t = {step * dt:.4f} s \(step {step}\): "
                                                    r"state 'n\.v' of region 'b'") as err:
        rb.simulate(net, 3.0, dt, integrator="euler", record=["n.x"])
    assert err.value.region == "b" and err.value.variable == "n.v"
    np.testing.assert_allclose(err.value.time, step * dt)
    partial = err.value.result["n.x"]                # what was recorded before is kept
    samples = int(step * dt * 1000)                  # 1 kHz
    np.testing.assert_allclose(partial[:samples, 0], partial[:samples, 2])   # a, c untouched
    assert np.isfinite(partial[:samples]).all() and np.isnan(partial[samples + 1:]).all()


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
    import numba
    res = rb.simulate(oscillator, 0.05, 1e-4, record=["n.x", "n.v"])
    df = res.to_dataframe()
    assert df.shape == (50, 2) and df.index.name == "time"
    np.testing.assert_array_equal(df.index, res.time)
    np.testing.assert_array_equal(df[("n.v", "osc")], res["n.v"][:, 0])   # (variable, region)
    long = res.to_dataframe(long=True)
    assert set(long.columns) == {"time", "region", "variable", "value"}
    np.testing.assert_array_equal(long[long["variable"] == "n.x"]["value"], res["n.x"][:, 0])
    assert res.data.shape == (50, 1, 2)
    np.testing.assert_array_equal(res.data[:, 0, 1], res["n.v"][:, 0])
    assert res.provenance["versions"]["numba"] == numba.__version__
    assert res.provenance["versions"]["rate_bridge"] == rb.__version__
    assert res.units == {"n.x": "", "n.v": ""}
    fig = res.plot()
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), res["n.x"][:, 0])
    xr = pytest.importorskip("xarray")
    ds = res.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds["n_x"].dims == ("time", "region")
    np.testing.assert_array_equal(ds["n_x"].values, res["n.x"])


def test_compiled_kernel_is_reused_by_a_new_process(oscillator):
    """A kernel compiled here (or already in the cache) is written to the cache folder and
    loaded, not compiled, by a new process building the same structure."""
    import os

    from rate_bridge.compile.cache import cache_dir
    res = rb.simulate(oscillator, 0.01, 1e-3, integrator="rk4", record=["n.x"])
    key = res.provenance["kernel"]
    assert (cache_dir() / f"rb_kernel_{key}.py").is_file()
    assert list(cache_dir().rglob(f"rb_kernel_{key}*.nbi"))
    code = (
        "import rate_bridge as rb\n"
        "from rate_bridge.compile.cache import _LOADED\n"
        "from rate_bridge.model import Circuit, Node, Operator, Variable\n"
        "op = Operator('osc_op', ['d/dt * x = v', 'd/dt * v = -w**2 * x - 2 * z * w * v'],\n"
        "              {'x': Variable('state', 1.0), 'v': Variable('state', 0.0),\n"
        "               'w': Variable('parameter', 20.0), 'z': Variable('parameter', 0.1)})\n"
        "res = rb.simulate(Circuit('osc', {'n': Node('n', [op])}), 0.01, 1e-3,\n"
        "                  integrator='rk4', record=['n.x'])\n"
        "st = next(iter(_LOADED.values()))[0].run.stats\n"
        "print(res.provenance['kernel'], sum(st.cache_hits.values()),\n"
        "      sum(st.cache_misses.values()))\n")
    env = {**os.environ, "RATE_BRIDGE_CACHE": str(cache_dir())}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [key, "1", "0"]          # the same kernel, loaded from disk, not compiled


def test_multiplicative_noise_ito_and_stratonovich_means(sde_network):
    """Geometric Brownian motion dY = mu Y dt + s Y dW: E[Y_T] = exp(mu T) read as Itô
    (Euler-Maruyama), exp((mu + s^2 / 2) T) read as Stratonovich (stochastic Heun)."""
    n, s, T = 4000, 0.6, 1.0
    net = sde_network(n)
    kw = dict(noise={"n.y": s}, seed=2, record=["n.y"], sampling_rate=10.0, parallel="batch")
    ito = rb.simulate(net, T + 0.1, 1e-3, integrator="euler_maruyama", **kw)
    strat = rb.simulate(net, T + 0.1, 1e-3, integrator="heun_stochastic", **kw)
    k = np.argmin(abs(ito.time - T))
    se = np.sqrt(np.exp(s ** 2 * T) - 1) / np.sqrt(n)       # relative standard error
    assert abs(ito["n.y"][k].mean() / np.exp(0.5 * T) - 1) < 4 * se
    assert abs(strat["n.y"][k].mean() / np.exp((0.5 + s ** 2 / 2) * T) - 1) < 4 * se


def test_inputs_noise_and_records_share_one_kernel(leaky_network):
    dt, tau = 1e-4, 0.01
    kw = dict(duration=0.01, dt=dt, integrator="heun", sampling_rate=1 / dt)
    runs = [
        rb.simulate(leaky_network(np.zeros((1, 1))), record=["n.x"], **kw),
        rb.simulate(leaky_network(np.zeros((3, 3))), record=["n.I", "n.x"], noise={"n.I": 1.0},
                    seed=3, **kw),
        rb.simulate(leaky_network(np.zeros((1, 1))), inputs={"n.I": np.ones(100)},
                    record=["n.x"], **kw),
        rb.simulate(leaky_network(np.zeros((5, 5))), inputs={"n.I": np.ones(100)},
                    record=["n.x"], **kw),
    ]
    # sizes, drives, noise and records are run-time arrays: one kernel for all four
    assert len({r.provenance["kernel"] for r in runs}) == 1
    np.testing.assert_array_equal(runs[0]["n.x"], 0.0)
    # the recorded input is the per-step noise that drove the state: Heun in plain numpy
    noise = runs[1]["n.I"]
    assert abs(noise.std() - 1.0) < 0.15 and abs(noise.mean()) < 0.2
    xs = np.zeros((101, 3))
    for k in range(100):
        f1 = (-xs[k] + noise[k]) / tau
        f2 = (-(xs[k] + dt * f1) + noise[k]) / tau
        xs[k + 1] = xs[k] + 0.5 * dt * (f1 + f2)
    np.testing.assert_allclose(runs[1]["n.x"], xs[:100], rtol=1e-12, atol=1e-15)
    # a constant input I = 1: Heun's x_k = 1 - (1 - h + h^2 / 2)^k, h = dt / tau
    h = dt / tau
    exact = 1 - (1 - h + h ** 2 / 2) ** np.arange(100)
    np.testing.assert_allclose(runs[2]["n.x"][:, 0], exact, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(runs[3]["n.x"], np.repeat(runs[2]["n.x"], 5, axis=1))


def test_a_long_run_logs_progress_and_stops_on_sigint_keeping_its_samples(tmp_path):
    """A run of ~minutes in a subprocess: progress lines at verbose="info", then SIGINT (what
    Ctrl-C sends) stops it within a second with the samples so far, saved and read back."""
    import signal
    import threading
    import time

    from rate_bridge.compile.cache import cache_dir
    code = (
        "import sys, rate_bridge as rb\n"
        "from rate_bridge.model import Circuit, Node, Operator, Variable\n"
        "op = Operator('osc_op', ['d/dt * x = v', 'd/dt * v = -w**2 * x - 2 * z * w * v'],\n"
        "              {'x': Variable('state', 1.0), 'v': Variable('state', 0.0),\n"
        "               'w': Variable('parameter', 20.0), 'z': Variable('parameter', 0.1)})\n"
        "try:\n"
        "    rb.simulate(Circuit('osc', {'n': Node('n', [op])}), 1e5, 1e-4, integrator='rk4',\n"
        "                record=['n.x'], sampling_rate=1.0, verbose='info')\n"
        "except rb.SimulationInterrupted as err:\n"
        "    print('interrupted', err.result.provenance['steps_done'], flush=True)\n"
        "    err.result.save(sys.argv[1])\n")
    path = tmp_path / "partial.nc"
    env = {**os.environ, "RATE_BRIDGE_CACHE": str(cache_dir())}
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    progress, stopped = threading.Event(), []
    threading.Thread(target=lambda: [progress.set() for line in proc.stderr
                                     if "simulated" in line and "%" in line],
                     daemon=True).start()
    try:
        assert progress.wait(90), "no progress line"
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline()
        stopped.append(time.perf_counter() - sent)
        proc.wait(30)
    finally:
        proc.kill()
    assert line.startswith("interrupted") and stopped[0] < 1.0
    res = rb.read_result(path)
    steps = int(line.split()[1])
    assert res.status == "interrupted" and res.provenance["steps_done"] == steps > 10 ** 6
    kept = (steps - 1) // 10 ** 4 + 1
    assert np.isfinite(res["n.x"][:kept]).all() and np.isnan(res["n.x"][kept:]).all()
