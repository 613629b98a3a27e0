"""Networks: connectome coupling, delays, noise, batches, parallel kernels, bad input."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable


def _leaky(name="leaky"):
    op = Operator(name, ["d/dt * x = (-x + I) / tau"],
                  {"x": Variable("state"), "I": Variable("input"),
                   "tau": Variable("parameter", 0.01)})
    return Circuit(name, {"n": Node("n", [op])})


def test_zero_weights_reproduce_the_single_circuit_exactly():
    single = rb.simulate("jansen_rit", 1.0, 1e-4, integrator="heun", record=["pc.v"])
    # 9 regions: the network's region loops run vectorised, the single circuit's scalar
    net = rb.Network.from_arrays(np.zeros((9, 9)), "jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                 delays=np.full((9, 9), 0.01))
    res = rb.simulate(net, 1.0, 1e-4, integrator="heun", record=["pc.v"])
    for r in range(9):
        np.testing.assert_array_equal(res["pc.v"][:, r], single["pc.v"][:, 0])


@pytest.mark.parametrize("delay", [0.0, 3e-4, 6e-4, 7e-4, 1e-3, 0.0137])
def test_pulse_arrives_after_exactly_the_delay(delay):
    dt = 1e-4
    # weights[target, source]: region 0 drives region 1 only
    net = rb.Network.from_arrays([[0.0, 0.0], [1.0, 0.0]], _leaky(), coupling=("n.x", "n.I"),
                                 delays=[[0.0, 0.0], [delay, 0.0]])
    n = int(round(0.05 / dt))
    pulse = np.zeros((n, 2))
    k0 = 100
    pulse[k0, 0] = 1.0                       # one-step pulse into the source at t = 10 ms
    res = rb.simulate(net, 0.05, dt, integrator="euler", inputs={"n.I": pulse},
                      record=["n.x"], sampling_rate=1 / dt)
    src, tgt = res["n.x"][:, 0], res["n.x"][:, 1]
    first_src = np.flatnonzero(src)[0]
    first_tgt = np.flatnonzero(tgt)[0]
    assert first_src == k0 + 1
    # the target's input sees x_src(t - delay): nonzero from step k0 + 1 + delay/dt, and the
    # target state one step later
    assert first_tgt == first_src + int(round(delay / dt)) + 1


@pytest.mark.parametrize("integrator, kind", [("euler", "mixed"), ("heun", "mixed"),
                                              ("euler", "dense"), ("heun", "dense")])
def test_delayed_coupling_matches_a_plain_numpy_loop(integrator, kind):
    """Every kind of edge (no delay; shorter and longer than the kernel's far-edge blocks; a
    dense undelayed matrix) against a direct numpy integration of the same delay equations."""
    rng = np.random.default_rng(5)
    N, dt, n, G, tau = 6, 1e-4, 300, 0.7, 0.01
    W = rng.uniform(0.2, 1.0, (N, N)) * (rng.random((N, N)) < 0.8)       # [target, source]
    D = rng.integers(0, 25, (N, N))                                      # steps
    D[0, 1:4] = [0, 3, 6]
    D[1, 2:5] = [7, 8, 24]
    W[0, 1:4] = W[1, 2:5] = 0.9
    if kind == "dense":
        D[:] = 0
    drive = rng.normal(0.0, 50.0, (n, N))
    x0 = rng.normal(0.0, 1.0, N)
    net = rb.Network.from_arrays(W, _leaky(), coupling=("n.x", "n.I"), delays=D * dt,
                                 global_coupling=G)
    res = rb.simulate(net, n * dt, dt, integrator=integrator, inputs={"n.I": drive},
                      initial_state={"n.x": x0}, record=["n.x"], sampling_rate=1 / dt)
    xs = np.empty((n + 1, N))
    xs[0] = x0

    def past(k):                       # x_j(t_k - d_ij) for every (target i, source j)
        idx = k - D
        return np.where(idx >= 0, xs[np.clip(idx, 0, None), np.arange(N)], x0[None, :])

    for k in range(n):
        f1 = (-xs[k] + drive[k] + G * (W * past(k)).sum(axis=1)) / tau
        if integrator == "euler":
            xs[k + 1] = xs[k] + dt * f1
            continue
        xt = xs[k] + dt * f1
        xs[k + 1] = xt                 # only read where d = 0 (the stage value) below
        f2 = (-xt + drive[k] + G * (W * past(k + 1)).sum(axis=1)) / tau
        xs[k + 1] = xs[k] + 0.5 * dt * (f1 + f2)
    np.testing.assert_allclose(res["n.x"], xs[:n], rtol=1e-11, atol=1e-11)


def _reference_network(t_eval, weights, G, tau=0.02):
    """Three Wilson-Cowan-like saturating units, solved with solve_ivp (no delays)."""
    def f(t, y):
        return (-y + np.tanh(G * weights @ y + 1.0)) / tau
    return solve_ivp(f, (0, t_eval[-1]), [0.1, -0.2, 0.3], t_eval=t_eval, rtol=1e-12,
                     atol=1e-12, method="DOP853").y.T


@pytest.mark.parametrize("integrator, order", [("heun", 2), ("rk4", 4)])
def test_network_agrees_with_solve_ivp_at_the_expected_order(integrator, order):
    op = Operator("sat", ["d/dt * x = (-x + tanh(I + 1)) / tau"],
                  {"x": Variable("state"), "I": Variable("input"),
                   "tau": Variable("parameter", 0.02)})
    circuit = Circuit("sat", {"n": Node("n", [op])})
    W = np.array([[0.0, 1.0, -0.5], [0.8, 0.0, 0.3], [0.2, -1.0, 0.0]])
    net = rb.Network.from_arrays(W, circuit, coupling=("n.x", "n.I"), global_coupling=1.5,
                                 allow_negative=True)
    errors = []
    for dt in (2e-3, 1e-3):
        res = rb.simulate(net, 0.2, dt, integrator=integrator, record=["n.x"], sampling_rate=50,
                          initial_state={"n.x": [0.1, -0.2, 0.3]})
        ref = _reference_network(res.time, W, 1.5)
        errors.append(np.abs(res["n.x"] - ref).max())
    observed = np.log2(errors[0] / errors[1])
    assert abs(observed - order) < 0.3, (errors, observed)


@pytest.mark.parametrize("delay_mode, delays", [("round", (0.0124, 0.0072)),   # whole steps
                                                ("interpolate", (0.0123, 0.0071))])
def test_delayed_network_converges_as_dt_shrinks(delay_mode, delays):
    op = Operator("osc", ["d/dt * x = -x / tau + I"],
                  {"x": Variable("state", 1.0), "I": Variable("input"),
                   "tau": Variable("parameter", 0.05)})
    circuit = Circuit("dl", {"n": Node("n", [op])})
    W = np.array([[0.0, -20.0], [20.0, 0.0]])
    D = np.array([[0.0, delays[0]], [delays[1], 0.0]])
    net = rb.Network.from_arrays(W, circuit, coupling=("n.x", "n.I"), delays=D,
                                 allow_negative=True)
    sols = [rb.simulate(net, 0.3, dt, integrator="heun", record=["n.x"], sampling_rate=100,
                        delay_mode=delay_mode)["n.x"] for dt in (4e-4, 2e-4, 1e-4, 5e-5)]
    diffs = [np.abs(a - b).max() for a, b in zip(sols, sols[1:])]
    assert diffs[0] > diffs[1] > diffs[2]
    assert diffs[2] < 0.6 * diffs[1]


def _order_parameter(theta):
    return np.abs(np.exp(1j * theta).mean(axis=-1))


def test_kuramoto_locks_above_and_not_below_the_critical_coupling():
    """Lorentzian natural frequencies of half-width gamma: Kc = 2 gamma and
    r = sqrt(1 - Kc / K) above it (Kuramoto 1975; Acebrón et al. 2005, eq. 14)."""
    N, gamma = 100, 2.0
    q = (np.arange(N) + 0.5) / N
    omega = 10.0 + gamma * np.tan(np.pi * (q - 0.5))     # deterministic Lorentzian sample
    omega = np.clip(omega, -200, 220)
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(0, 2 * np.pi, N)
    net = rb.Network.from_arrays(np.ones((N, N)) - np.eye(N), "kuramoto",
                                 coupling=("osc.theta", "osc.c"), coupling_function="kuramoto")
    net.set_parameter("osc.omega", omega)
    Kc = 2 * gamma
    runs = rb.simulate(net, 5.0, 2e-3, integrator="rk4", record=["osc.theta"], sampling_rate=10,
                       initial_state={"osc.theta": theta0},
                       params=[{"global_coupling": 3 * Kc / N}, {"global_coupling": 0.5 * Kc / N}])
    r_strong = _order_parameter(runs[0]["osc.theta"][-20:]).mean()
    r_weak = _order_parameter(runs[1]["osc.theta"][-20:]).mean()
    assert abs(r_strong - np.sqrt(1 - 1 / 3)) < 0.06
    assert r_weak < 0.3


def test_two_kuramoto_oscillators_lock_at_the_analytic_phase_difference():
    net = rb.Network.from_arrays([[0, 1.0], [1.0, 0]], "kuramoto", global_coupling=3.0,
                                 coupling=("osc.theta", "osc.c"), coupling_function="kuramoto")
    net.set_parameter("osc.omega", [10.0, 12.0])
    res = rb.simulate(net, 5.0, 1e-3, integrator="rk4", record=["osc.theta"])
    phi = res["osc.theta"][-1, 1] - res["osc.theta"][-1, 0]
    np.testing.assert_allclose(phi, np.arcsin(2.0 / (2 * 3.0)), atol=1e-6)


def test_sigmoidal_coupling_delivers_the_delayed_sigmoid(tvb_connectivity_76):
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W[:4, :4] + 1.0 - np.eye(4), L[:4, :4], labels[:4])
    net = rb.Network.from_connectome(conn, "jansen_rit", coupling=("pc.v", "pc.m_in_e"),
                                     global_coupling=0.2, speed=3.0)
    assert net.couplings[0].name == "sigmoidal"
    dt = 1e-4
    res = rb.simulate(net, 0.3, dt, integrator="euler", record=["pc.v", "pc.m_in_e"],
                      sampling_rate=1 / dt)
    v = res["pc.v"]
    # recorded m_in_e = G * sum_j w_ij S(v_j(t - d_ij)) + internal input from ein
    S = lambda x: 5.0 / (1 + np.exp(0.56 * (6.0 - x)))  # noqa: E731
    D = np.round(conn.tract_lengths / 3.0e3 / dt).astype(int)
    n = 2000
    expected = 0.2 * sum(conn.weights[0, j] * S(v[n - D[0, j], j]) for j in range(4))
    internal = res["pc.m_in_e"][n, 0] - expected
    # the rest is ein's output times C2 = 108 (no other source)
    assert 0 <= internal <= 108 * 5.0 + 1e-9
    net0 = rb.Network.from_connectome(conn, "jansen_rit", coupling=("pc.v", "pc.m_in_e"),
                                      global_coupling=0.0, speed=3.0)
    res0 = rb.simulate(net0, 0.3, dt, integrator="euler", record=["pc.m_in_e"],
                       sampling_rate=1 / dt, initial_state={})
    assert res0["pc.m_in_e"].shape == res["pc.m_in_e"].shape


def test_batch_equals_separate_calls_and_threads_do_not_matter(tvb_connectivity_76):
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W, L, labels)
    net = rb.Network.from_connectome(conn, "jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                     global_coupling=0.05, speed=3.0)
    kw = dict(duration=0.3, dt=1e-4, integrator="heun", noise={"pc.u": 22.0},
              record=["pc.v"])
    batch = rb.simulate(net, params=[{"global_coupling": g} for g in (0.0, 0.05, 0.1)],
                        seed=11, **kw)
    alone = rb.simulate(net, params={"global_coupling": 0.05}, seed=12, **kw)
    np.testing.assert_array_equal(batch[1]["pc.v"], alone["pc.v"])
    one_thread = rb.simulate(net, params={"global_coupling": 0.05}, seed=12, n_jobs=1, **kw)
    np.testing.assert_array_equal(one_thread["pc.v"], alone["pc.v"])
    by_regions = rb.simulate(net, params={"global_coupling": 0.05}, seed=12, parallel="regions",
                           **kw)
    np.testing.assert_array_equal(by_regions["pc.v"], alone["pc.v"])
    assert not np.array_equal(batch[0]["pc.v"], batch[2]["pc.v"])


def test_heterogeneous_parameters_by_region_label_and_mixed_templates():
    wc, kur = rb.load_template("wilson_cowan"), rb.load_template("kuramoto")
    net = rb.Network.from_arrays(np.zeros((3, 3)), [wc, kur, wc], labels=["a", "b", "c"])
    assert len(net.groups) == 2
    net.set_parameter("wc.P", 0.0, regions=["c"])
    net.set_parameter("osc.omega", 2.0, regions="b")
    res = rb.simulate(net, 0.2, 1e-4, integrator="rk4", record=["wc.E", "osc.theta"],
                      initial_state={"wc.E": 0.1})
    single = rb.simulate(wc, 0.2, 1e-4, integrator="rk4", record=["wc.E"],
                         initial_state={"wc.E": 0.1})
    np.testing.assert_array_equal(res["wc.E"][:, 0], single["wc.E"][:, 0])
    assert np.isnan(res["wc.E"][:, 1]).all()                   # region b has no wc.E
    np.testing.assert_allclose(res["osc.theta"][:, 1], 2.0 * res.time, rtol=1e-12)
    assert res["wc.E"][-1, 2] < res["wc.E"][-1, 0]              # P = 0 decays to rest
    assert net.parameters["wc.P"][2] == 0.0 and np.isnan(net.parameters["wc.P"][1])


def test_initial_history_is_used_before_time_zero():
    net = rb.Network.from_arrays([[0.0, 0.0], [1.0, 0.0]], _leaky(), coupling=("n.x", "n.I"),
                                 delays=[[0, 0], [0.01, 0]])
    res = rb.simulate(net, 0.02, 1e-4, integrator="euler", record=["n.x"],
                      history={"n.x": 2.0}, sampling_rate=1e4)
    # target: dx/dt = (-x + 2) / tau while the delayed source is still in its history
    k = np.arange(101)
    np.testing.assert_allclose(res["n.x"][:101, 1], 2 * (1 - (1 - 1e-4 / 0.01) ** k),
                               rtol=1e-10)
    assert res["n.x"][-1, 1] < res["n.x"][101, 1]   # then the source's own zero arrives


# -- bad input ---------------------------------------------------------------------------------
def test_bad_connectivity_is_refused():
    jr = "jansen_rit"
    cpl = ("pc.m_out", "pc.m_in_e")
    with pytest.raises(ValueError, match="NaN/inf"):
        rb.Network.from_arrays([[0, np.nan], [1, 0]], jr, coupling=cpl)
    with pytest.raises(ValueError, match="negative value"):
        rb.Network.from_arrays([[0, -1.0], [1, 0]], jr, coupling=cpl)
    with pytest.raises(ValueError, match="square"):
        rb.Network.from_arrays(np.ones((2, 3)), jr, coupling=cpl)
    with pytest.raises(ValueError, match="3 labels for a 2x2"):
        rb.Network.from_arrays(np.ones((2, 2)), jr, coupling=cpl, labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="delays must be finite and >= 0|negative"):
        rb.Network.from_arrays(np.ones((2, 2)), jr, coupling=cpl, delays=[[0, -1], [0, 0]])
    with pytest.raises(ValueError, match="no coupling, and the circuit declares none"):
        rb.Network.from_arrays(np.ones((2, 2)), _leaky())
    with pytest.raises(rb.ModelError, match="not an input"):
        rb.Network.from_arrays(np.ones((2, 2)), jr, coupling=("pc.m_out", "pc.psp_e"))
    with pytest.raises(rb.ModelError, match="depends on input"):
        rb.Network.from_arrays(np.ones((2, 2)), jr, coupling=("pc.m_e", "pc.m_in_e"))
    with pytest.raises(ValueError, match="tract_lengths must be >= 0"):
        rb.adapters.Connectome(np.ones((2, 2)), [[0, -3.0], [1, 0]])
    with pytest.raises(ValueError, match="NaN/inf"):
        rb.adapters.Connectome(np.ones((2, 2)), [[0, np.nan], [1, 0]])
    conn = rb.adapters.Connectome(np.ones((2, 2)), np.full((2, 2), 10.0))
    with pytest.raises(ValueError, match="speed must be a positive"):
        rb.Network.from_connectome(conn, jr, coupling=cpl, speed=0.0)


def test_size_mismatches_and_too_long_delays_are_refused():
    net = rb.Network.from_arrays(np.ones((3, 3)), _leaky(), coupling=("n.x", "n.I"),
                                 delays=np.full((3, 3), 0.2))
    with pytest.raises(ValueError, match="one per region"):
        rb.simulate(net, 1.0, 1e-3, params={"n.tau": [0.01, 0.02]})
    with pytest.raises(ValueError, match="longest delay"):
        rb.simulate(net, 0.1, 1e-3)
    with pytest.raises(ValueError, match=r"shape \(n_steps, n_regions\)"):
        rb.simulate(net, 1.0, 1e-3, inputs={"n.I": np.zeros((1000, 2))})
    with pytest.raises(KeyError, match="unknown region"):
        net.set_parameter("n.tau", 0.1, regions=["nowhere"])


def test_every_network_size_runs_on_one_compiled_kernel(tvb_connectivity_76):
    """Sizes are run-time values: 68 and 96 regions share the kernel of the 76-region one."""
    from rate_bridge.compile.cache import kernel_for
    rng = np.random.default_rng(3)
    modules, keys = [], set()
    for n in (68, 96):
        W = rng.uniform(0, 1, (n, n)) * (rng.uniform(size=(n, n)) < 0.3)
        net = rb.Network.from_arrays(W, "jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                     delays=rng.uniform(0, 0.02, (n, n)), global_coupling=0.05)
        res = rb.simulate(net, 0.05, 1e-4, integrator="heun", record=["pc.v"], n_jobs=1)
        assert res["pc.v"].shape == (50, n) and np.isfinite(res["pc.v"]).all()
        keys.add(res.provenance["kernel"])
        spec = rb.compile.KernelSpec([g["flat"] for g in net.groups], net.couplings, "heun",
                                     "batch", [n])
        modules.append(kernel_for(spec)[0])
    assert len(keys) == 1 and modules[0] is modules[1]
    assert len(modules[0].run.signatures) == 1       # compiled (or loaded) once


def test_speed_and_weights_are_batchable(tvb_connectivity_76):
    """Per-member conduction speed and weight matrix equal separately built networks."""
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W, L, labels)
    kw = dict(coupling=("pc.m_out", "pc.m_in_e"), global_coupling=0.05)
    net = rb.Network.from_connectome(conn, "jansen_rit", speed=3.0, **kw)
    run = dict(duration=0.1, dt=1e-4, integrator="heun", record=["pc.v"], n_jobs=2)
    W2 = conn.weights * np.linspace(0.5, 2.0, 76)[:, None]        # a rescaled matrix
    batch = rb.simulate(net, params=[{"speed": 10.0}, {}, {"weights": W2, "speed": 5.0}], **run)
    fast = rb.simulate(rb.Network.from_connectome(conn, "jansen_rit", speed=10.0, **kw), **run)
    np.testing.assert_array_equal(batch[0]["pc.v"], fast["pc.v"])
    np.testing.assert_array_equal(batch[1]["pc.v"], rb.simulate(net, **run)["pc.v"])
    conn2 = rb.adapters.Connectome(W2, L, labels)
    other = rb.simulate(rb.Network.from_connectome(conn2, "jansen_rit", speed=5.0, **kw), **run)
    np.testing.assert_array_equal(batch[2]["pc.v"], other["pc.v"])
    assert not np.array_equal(batch[0]["pc.v"], batch[1]["pc.v"])
    with pytest.raises(ValueError, match="does not"):              # a connection it lacks
        rb.simulate(net, params=[{"weights": np.ones((76, 76))}], **run)
    with pytest.raises(ValueError, match="speed.*> 0"):
        rb.simulate(net, params=[{"speed": -1.0}], **run)
    with pytest.raises(ValueError, match="tract lengths"):
        rb.simulate(rb.Network.from_arrays(W, "jansen_rit", **kw), params=[{"speed": 3.0}],
                    **run)
