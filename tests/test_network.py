"""Networks: connectome coupling, delays, noise, batches, parallel kernels, bad input.

Every run uses conftest.py's shared structures (leaky_network, jr_network, kuramoto_network,
the Jansen-Rit circuit with heun); only the mixed-template network has a kernel of its own."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable


def _leaky(name="leaky"):
    op = Operator(name, ["d/dt * x = (-x + I) / tau"],
                  {"x": Variable("state"), "I": Variable("input"),
                   "tau": Variable("parameter", 0.01)})
    return Circuit(name, {"n": Node("n", [op])})


def test_zero_weights_reproduce_the_single_circuit_exactly(jr_network):
    single = rb.simulate("jansen_rit", 1.0, 1e-4, integrator="heun", record=["pc.v"])
    net = jr_network(np.zeros((9, 9)), delays=np.full((9, 9), 0.01))
    res = rb.simulate(net, 1.0, 1e-4, integrator="heun", record=["pc.v"])
    for r in range(9):
        np.testing.assert_array_equal(res["pc.v"][:, r], single["pc.v"][:, 0])


@pytest.mark.parametrize("delay", [0.0, 3e-4, 6e-4, 7e-4, 1e-3, 0.0137])
def test_pulse_arrives_after_exactly_the_delay(leaky_network, delay):
    dt = 1e-4
    # weights[target, source]: region 0 drives region 1 only
    net = leaky_network([[0.0, 0.0], [1.0, 0.0]], delays=[[0.0, 0.0], [delay, 0.0]])
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


@pytest.mark.parametrize("integrator, kind, parallel", [
    ("euler", "mixed", "batch"), ("heun", "mixed", "batch"), ("euler", "dense", "batch"),
    ("heun", "dense", "batch"), ("heun", "mixed", "regions")])
def test_delayed_coupling_matches_a_plain_numpy_loop(leaky_network, integrator, kind, parallel):
    """Every kind of edge (no delay; shorter and longer than the kernel's far-edge blocks; a
    dense undelayed matrix) against a direct numpy integration of the same delay equations,
    also with regions split over threads inside each step."""
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
    net = leaky_network(W, delays=D * dt, global_coupling=G)
    res = rb.simulate(net, n * dt, dt, integrator=integrator, inputs={"n.I": drive},
                      initial_state={"n.x": x0}, record=["n.x"], sampling_rate=1 / dt,
                      parallel=parallel)
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


def _leaky_case(request):
    """Three leaky units with signed linear coupling: x(t) = expm(A t) x0 exactly."""
    W = np.array([[0.0, 1.0, -0.5], [0.8, 0.0, 0.3], [0.2, -1.0, 0.0]])
    G, tau, x0 = 1.5, 0.02, np.array([0.1, -0.2, 0.3])
    A = (-np.eye(3) + G * W) / tau
    run = dict(duration=0.2, record=["n.x"], params={"n.tau": tau},
               initial_state={"n.x": x0})
    net = request.getfixturevalue("leaky_network")(W, global_coupling=G)
    return net, run, lambda t: np.array(
        [expm(A * tk) @ x0 for tk in t])


def _kuramoto_case(request):
    """Three Kuramoto oscillators (sine coupling), solved with solve_ivp."""
    W = np.array([[0.0, 1.0, 0.5], [0.8, 0.0, 0.3], [0.2, 1.0, 0.0]])
    G, omega, th0 = 3.0, np.array([10.0, 12.0, 15.0]), np.array([0.1, 1.0, 2.0])
    net = request.getfixturevalue("kuramoto_network")(W, global_coupling=G)
    net.set_parameter("osc.omega", omega)

    def f(t, th):
        return omega + G * (W * np.sin(th[None, :] - th[:, None])).sum(axis=1)
    run = dict(duration=1.0, record=["osc.theta"], initial_state={"osc.theta": th0})
    return net, run, lambda t: solve_ivp(f, (0, t[-1]), th0, t_eval=t, rtol=1e-13, atol=1e-13,
                                         method="DOP853").y.T


@pytest.mark.parametrize("integrator, order, case, dts", [
    ("heun", 2, _leaky_case, (2e-3, 1e-3)), ("rk4", 4, _kuramoto_case, (2e-2, 1e-2))])
def test_network_agrees_with_an_exact_solution_at_the_expected_order(request, integrator, order,
                                                                     case, dts):
    net, run, exact = case(request)
    errors = []
    for dt in dts:
        res = rb.simulate(net, dt=dt, integrator=integrator, sampling_rate=10, **run)
        errors.append(np.abs(res[run["record"][0]] - exact(res.time)).max())
    observed = np.log2(errors[0] / errors[1])
    assert abs(observed - order) < 0.3, (errors, observed)


@pytest.mark.parametrize("delay_mode, delays", [("round", (0.0124, 0.0072)),   # whole steps
                                                ("interpolate", (0.0123, 0.0071))])
def test_delayed_network_converges_as_dt_shrinks(leaky_network, delay_mode, delays):
    # dx_i/dt = -x_i / tau + 20 s_i x_j(t - d_ij), s = (-1, +1): a delayed rotation
    W = np.array([[0.0, -1.0], [1.0, 0.0]])
    D = np.array([[0.0, delays[0]], [delays[1], 0.0]])
    net = leaky_network(W, delays=D, global_coupling=20.0 * 0.05)
    sols = [rb.simulate(net, 0.3, dt, integrator="heun", record=["n.x"], sampling_rate=100,
                        delay_mode=delay_mode, params={"n.tau": 0.05},
                        initial_state={"n.x": 1.0})["n.x"] for dt in (4e-4, 2e-4, 1e-4, 5e-5)]
    diffs = [np.abs(a - b).max() for a, b in zip(sols, sols[1:])]
    assert diffs[0] > diffs[1] > diffs[2]
    assert diffs[2] < 0.6 * diffs[1]


def _order_parameter(theta):
    return np.abs(np.exp(1j * theta).mean(axis=-1))


def test_kuramoto_locks_above_and_not_below_the_critical_coupling(kuramoto_network):
    """Lorentzian natural frequencies of half-width gamma: Kc = 2 gamma and
    r = sqrt(1 - Kc / K) above it (Kuramoto 1975; Acebrón et al. 2005, eq. 14)."""
    N, gamma = 100, 2.0
    q = (np.arange(N) + 0.5) / N
    omega = 10.0 + gamma * np.tan(np.pi * (q - 0.5))     # deterministic Lorentzian sample
    omega = np.clip(omega, -200, 220)
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(0, 2 * np.pi, N)
    net = kuramoto_network(np.ones((N, N)) - np.eye(N))
    net.set_parameter("osc.omega", omega)
    Kc = 2 * gamma
    runs = rb.simulate(net, 5.0, 2e-3, integrator="rk4", record=["osc.theta"], sampling_rate=10,
                       initial_state={"osc.theta": theta0},
                       params=[{"global_coupling": 3 * Kc / N}, {"global_coupling": 0.5 * Kc / N}])
    r_strong = _order_parameter(runs[0]["osc.theta"][-20:]).mean()
    r_weak = _order_parameter(runs[1]["osc.theta"][-20:]).mean()
    assert abs(r_strong - np.sqrt(1 - 1 / 3)) < 0.06
    assert r_weak < 0.3


def test_two_kuramoto_oscillators_lock_at_the_analytic_phase_difference(kuramoto_network):
    net = kuramoto_network([[0, 1.0], [1.0, 0]], global_coupling=3.0)
    net.set_parameter("osc.omega", [10.0, 12.0])
    res = rb.simulate(net, 5.0, 1e-3, integrator="rk4", record=["osc.theta"])
    phi = res["osc.theta"][-1, 1] - res["osc.theta"][-1, 0]
    np.testing.assert_allclose(phi, np.arcsin(2.0 / (2 * 3.0)), atol=1e-6)


def test_sigmoidal_coupling_delivers_the_delayed_sigmoid(tvb_connectivity_76):
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W[:4, :4] + 1.0 - np.eye(4), L[:4, :4], labels[:4])
    net = rb.Network.from_connectome(conn, "jansen_rit", global_coupling=0.2, speed=3.0)
    assert net.couplings[0].name == "sigmoidal"          # the template's declared coupling
    dt = 1e-4
    batch = rb.simulate(net, 0.3, dt, integrator="heun", record=["pc.v", "pc.m_in_e",
                                                                  "ein.m_out"],
                        sampling_rate=1 / dt, params=[{}, {"global_coupling": 0.0}])
    S = lambda x: 5.0 / (1 + np.exp(0.56 * (6.0 - x)))  # noqa: E731
    D = np.round(conn.tract_lengths / 3.0e3 / dt).astype(int)
    n = np.arange(int(D.max()), 3000)
    for G, res in zip((0.2, 0.0), batch):
        v = res["pc.v"]
        # m_in_e = G * sum_j w_ij S(v_j(t - d_ij)) + C2 * (excitatory interneurons' rate)
        for i in range(4):
            delivered = G * sum(conn.weights[i, j] * S(v[n - D[i, j], j]) for j in range(4))
            np.testing.assert_allclose(res["pc.m_in_e"][n, i],
                                       delivered + 108.0 * res["ein.m_out"][n, i], rtol=1e-12)
    assert not np.allclose(batch[0]["pc.v"], batch[1]["pc.v"])


def test_batch_equals_separate_calls_and_threads_do_not_matter(tvb_connectivity_76):
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W, L, labels)
    net = rb.Network.from_connectome(conn, "jansen_rit", global_coupling=0.05, speed=3.0)
    kw = dict(duration=0.3, dt=1e-4, integrator="heun", noise={"pc.u": 22.0},
              record=["pc.v"])
    batch = rb.simulate(net, params=[{"global_coupling": g} for g in (0.0, 0.05, 0.1)],
                        seed=11, **kw)
    alone = rb.simulate(net, params={"global_coupling": 0.05}, seed=12, **kw)
    np.testing.assert_array_equal(batch[1]["pc.v"], alone["pc.v"])
    one_thread = rb.simulate(net, params={"global_coupling": 0.05}, seed=12, n_jobs=1, **kw)
    np.testing.assert_array_equal(one_thread["pc.v"], alone["pc.v"])
    # uncoupled, region 0 draws the noise of a lone circuit with the same seed
    lone = rb.simulate("jansen_rit", seed=11, **kw)
    np.testing.assert_array_equal(batch[0]["pc.v"][:, 0], lone["pc.v"][:, 0])
    assert not np.array_equal(batch[0]["pc.v"], batch[2]["pc.v"])


def test_region_parallel_steps_match_the_batch_kernel(leaky_network):
    """parallel="regions" splits each step's regions over threads: same numbers, noise
    included, as members spread over threads."""
    rng = np.random.default_rng(2)
    W = rng.uniform(0, 1, (40, 40)) * (rng.random((40, 40)) < 0.3)
    net = leaky_network(W, delays=rng.integers(0, 30, (40, 40)) * 1e-4, global_coupling=0.5)
    kw = dict(duration=0.05, dt=1e-4, integrator="heun", noise={"n.I": 3.0}, record=["n.x"],
              params=[{}, {"global_coupling": 0.1}], seed=5)
    by_regions = rb.simulate(net, parallel="regions", n_jobs=2, **kw)
    by_members = rb.simulate(net, parallel="batch", n_jobs=2, **kw)
    for a, b in zip(by_regions, by_members):
        np.testing.assert_array_equal(a["n.x"], b["n.x"])
    assert by_regions[0].provenance["kernel"] != by_members[0].provenance["kernel"]
    with pytest.warns(DeprecationWarning, match="regions") as rec:   # the old name still works
        by_nodes = rb.simulate(net, parallel="nodes", n_jobs=2, **kw)
    assert rec[0].filename == __file__                     # the warning points at the caller
    np.testing.assert_array_equal(by_nodes[1]["n.x"], by_regions[1]["n.x"])


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


def test_initial_history_is_used_before_time_zero(leaky_network):
    net = leaky_network([[0.0, 0.0], [1.0, 0.0]], delays=[[0, 0], [0.01, 0]])
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


def test_size_mismatches_and_too_long_delays_are_refused(leaky_network):
    net = leaky_network(np.ones((3, 3)), delays=np.full((3, 3), 0.2))
    with pytest.raises(ValueError, match="one per region"):
        rb.simulate(net, 1.0, 1e-3, params={"n.tau": [0.01, 0.02]})
    with pytest.raises(ValueError, match="longest delay"):
        rb.simulate(net, 0.1, 1e-3)
    with pytest.raises(ValueError, match=r"shape \(n_steps, n_regions\)"):
        rb.simulate(net, 1.0, 1e-3, inputs={"n.I": np.zeros((1000, 2))})
    with pytest.raises(KeyError, match="unknown region"):
        net.set_parameter("n.tau", 0.1, regions=["nowhere"])


def test_every_network_size_runs_on_one_compiled_kernel(jr_network):
    """Sizes are run-time values: 68 and 96 regions share one kernel, and the 96-region network
    holding the 68-region one as an unconnected block reproduces it exactly."""
    from rate_bridge.compile.cache import kernel_for
    rng = np.random.default_rng(3)
    W = np.zeros((96, 96))
    D = np.zeros((96, 96))
    W[:68, :68] = rng.uniform(0, 1, (68, 68)) * (rng.uniform(size=(68, 68)) < 0.3)
    D[:68, :68] = rng.uniform(0, 0.02, (68, 68))
    W[68:, 68:] = rng.uniform(0, 1, (28, 28))
    modules, keys, results = [], set(), []
    for n in (68, 96):
        net = jr_network(W[:n, :n], delays=D[:n, :n], global_coupling=0.05)
        res = rb.simulate(net, 0.05, 1e-4, integrator="heun", record=["pc.v"], n_jobs=1)
        keys.add(res.provenance["kernel"])
        results.append(res["pc.v"])
        modules.append(kernel_for(net.kernel_spec("heun", "batch"))[0])
    assert len(keys) == 1 and modules[0] is modules[1]
    assert len(modules[0].run.signatures) == 1       # compiled (or loaded) once
    np.testing.assert_array_equal(results[1][:, :68], results[0])
    assert not np.allclose(results[0][:, 0], results[1][:, 90])
def test_speed_and_weights_are_batchable(tvb_connectivity_76):
    """Per-member conduction speed and weight matrix equal separately built networks."""
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W, L, labels)
    kw = dict(global_coupling=0.05)          # the template's declared coupling
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
    with pytest.raises(TypeError, match=r"params\['speed'\] must be a number, got bool"):
        rb.simulate(net, params=[{"speed": True}], **run)
    with pytest.raises(TypeError, match=r"params\['weights'\] must be a matrix of numbers"):
        rb.simulate(net, params=[{"weights": "abc"}], **run)
    with pytest.raises(ValueError, match="tract lengths"):
        rb.simulate(rb.Network.from_arrays(W, "jansen_rit", **kw), params=[{"speed": 3.0}],
                    **run)


def test_a_specialised_kernel_gives_the_same_numbers(leaky_network):
    """specialize=True compiles the sizes in (faster loops, one kernel per size): same results
    as the kernel every size shares."""
    rng = np.random.default_rng(4)
    W = rng.uniform(0, 1, (12, 12)) * (rng.random((12, 12)) < 0.5)
    net = leaky_network(W, delays=rng.integers(0, 30, (12, 12)) * 1e-4, global_coupling=0.5)
    kw = dict(duration=0.05, dt=1e-4, integrator="heun", record=["n.x"],
              initial_state={"n.x": rng.uniform(-1, 1, 12)})
    shared = rb.simulate(net, **kw)
    special = rb.simulate(net, specialize=True, **kw)
    np.testing.assert_allclose(special["n.x"], shared["n.x"], rtol=1e-13, atol=1e-15)
    assert special.provenance["kernel"] != shared.provenance["kernel"]
    with pytest.raises(TypeError, match="specialize"):
        rb.simulate(net, specialize="yes", **kw)


def test_a_coupling_of_differences_is_weighted_as_a_whole(leaky_network):
    """``w_ij * (x_j - x_i)``, not ``w_ij * x_j - x_i``: the coupling function's text is
    multiplied by the weight as one term (generated source checked; no kernel compiled here,
    the Hopf network test of the zoo runs it against TVB)."""
    import ast

    from rate_bridge.compile.codegen import generate
    net = leaky_network(np.ones((3, 3)), coupling_function="difference")
    tree = ast.parse(generate(net.kernel_spec("euler", "batch", False)))
    products = [n for n in ast.walk(tree) if isinstance(n, ast.BinOp)
                and isinstance(n.op, ast.Mult) and ast.unparse(n.left) == "cw[e]"]
    assert products and all(ast.unparse(p.right).startswith("val - sv[0,") or
                            ast.unparse(p.right) == "val" for p in products)
    assert any(ast.unparse(p.right) == "val - sv[0, r]" for p in products)


def test_a_time_unit_scales_the_whole_right_hand_side():
    """``time_unit: ms`` multiplies the whole vector field by 1000: ``1000 * (1 - x)``, not
    ``1000 * 1 - x`` (generated source checked; no kernel compiled)."""
    import ast

    from rate_bridge.compile.codegen import generate
    op = Operator("relax", ["d/dt * x = 1 - x"], {"x": Variable("state")}, time_unit="ms")
    net = rb.Network.from_arrays(np.zeros((1, 1)), Circuit("c", {"n": Node("n", [op])}))
    tree = ast.parse(generate(net.kernel_spec("euler", "batch", False)))
    stores = [ast.unparse(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
              and ast.unparse(n.targets[0]).startswith("dx[")]
    assert stores == ["1000.0 * (1.0 - v_n__x)"]

