"""Fitting (rb.fit): parameter recovery by DE and CMA-ES, grid/random/optuna, objectives on the
streaming monitors (FC, FCD, PSD, sensor space), resume from a history file, the simulator
function for inference libraries, and clear errors for bad input.

Kernel: test_monitors.py's structure (a leaky network with a driven input u, euler, all four
monitor kinds in every run): every run here passes the four kinds, so no kernel of its own;
the recovery on independent noise uses the README's Jansen-Rit monitor kernel. Runs are short
(dt = 1 ms, 1-2 s), but for that recovery (20 s).
"""
import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.model import Circuit, Node, Operator, Variable

DT, T = 1e-3, 2.0
W5 = np.array([[0.0, 0.6, 0.0, 0.3, 0.1],
               [0.5, 0.0, 0.4, 0.0, 0.0],
               [0.0, 0.7, 0.0, 0.2, 0.0],
               [0.4, 0.0, 0.3, 0.0, 0.6],
               [0.2, 0.0, 0.0, 0.5, 0.0]]) / 1.2
GAIN = np.random.default_rng(0).normal(size=(5, 5))
TRUTH = {"global_coupling": 0.5, "n.tau": 0.02}
BOUNDS = {"global_coupling": (0.0, 0.9), "n.tau": (0.005, 0.05)}
RUN = dict(integrator="euler", noise={"n.u": 10.0})


def _network(weights=W5):
    """test_monitors.py's circuit and coupling (any size: the same kernel)."""
    op = Operator("drv_op", ["d/dt * x = (-x + I + u) / tau"],
                  {"x": Variable("state", unit="1"), "I": Variable("input"),
                   "u": Variable("input"), "tau": Variable("parameter", 0.01)})
    circuit = Circuit("driven", {"n": Node("n", [op])})
    return rb.Network.from_arrays(weights, circuit, coupling=("n.x", "n.I"))


def _monitors(n=5):
    """The four monitor kinds of test_monitors.py (its kernel), under names of their own."""
    return [rb.monitors.Covariance("n.x", sampling_rate=1000.0, start=0.5),
            rb.monitors.Welch("n.x", sampling_rate=1000.0, start=0.5, nperseg=256),
            rb.monitors.Sensors("n.x", gain=GAIN[:, :n], sampling_rate=1000.0),
            rb.monitors.Bold("n.x", tr=0.5)]


@pytest.fixture(scope="module")
def net():
    return _network()


@pytest.fixture(scope="module")
def target(net):
    """A run at the true parameters with noise seed 7, its FC and PSD in the kernel."""
    return rb.simulate(net, T, DT, params=TRUTH, seed=7, record=["n.x"], monitors=_monitors(),
                       **RUN)


def _objective():
    """FC correlation and the PSD in 2-60 Hz (where the coupling and tau shape it)."""
    return [(rb.fit.FCCorrelation(), 1.0), (rb.fit.PSDDistance(band=(2.0, 60.0)), 1.0)]


def _fit(net, target, **kw):
    kw = {"objective": _objective(), "duration": T, "dt": DT, "variable": "n.x",
          "start": 0.5, "monitors": _monitors(), "noise_seed": 7, **RUN, **kw}
    return rb.fit.fit(net, target, kw.pop("parameters", BOUNDS), **kw)


def _close_to_truth(fit):
    """Within 10 % of each parameter's range."""
    for name, (low, high) in BOUNDS.items():
        assert abs(fit.best_params[name] - TRUTH[name]) <= 0.1 * (high - low), (name, fit)


@pytest.fixture
def count_runs(monkeypatch):
    """The real simulate(), counted: one call per generation."""
    calls = []
    real = rb.fit.simulate

    def counted(*args, **kwargs):
        calls.append(len(kwargs["params"]))
        return real(*args, **kwargs)
    monkeypatch.setattr(rb.fit, "simulate", counted)
    return calls


# -- recovery --------------------------------------------------------------------------------
# The candidates of most tests run on the target's noise (noise_seed = its seed): the score is
# 0 exactly at the truth, so they test the optimisers' loop over batched runs; identifiability
# (candidates on independent noise) has a test of its own.
def test_differential_evolution_recovers_coupling_and_tau(net, target, count_runs):
    fit = _fit(net, target, method="differential_evolution", n_evaluations=128,
               batch_size=16, seed=1)
    _close_to_truth(fit)
    h = fit.history
    assert len(h) == 128 and count_runs == [16] * 8            # one kernel call a generation
    assert list(h.columns) == ["generation", "member", "global_coupling", "n.tau", "score",
                               "fc_corr", "psd", "status"]
    np.testing.assert_allclose(h["score"], h["fc_corr"] + h["psd"], rtol=1e-12)
    assert fit.best_score == h["score"].min() and (h["status"] == "completed").all()
    for name, (low, high) in BOUNDS.items():
        assert h[name].between(low, high).all()


def test_jansen_rit_network_recovered_from_features_of_independent_noise():
    # identifiability: the candidates run on other noise than the target's, so the score at the
    # truth is not 0. A 10-region JR network with delays; the README's monitor kernel (JR,
    # declared coupling, heun, the four monitor kinds): no compile of its own. Noise seeds 0
    # and 2-7 tried: G within 1-9 %, p within 0.1-5 % of the range; seed 2 is the median.
    rng = np.random.default_rng(0)
    w = 10.0 * rng.uniform(size=(10, 10)) * (rng.uniform(size=(10, 10)) < 0.4)
    np.fill_diagonal(w, 0.0)
    net = rb.Network.from_arrays(w, "jansen_rit", coupling=("pc.v", "pc.m_in_e"),
                                 delays=rng.uniform(0.005, 0.03, (10, 10)))
    truth = {"global_coupling": 0.6, "pc.u": 180.0}
    bounds = {"global_coupling": (0.0, 1.5), "pc.u": (120.0, 300.0)}
    run = dict(duration=20.0, dt=1e-4, integrator="heun", noise={"pc.u": 22.0})
    gain = np.random.default_rng(1).normal(size=(4, 10)) * 1e-6

    def monitors():
        return [rb.monitors.Covariance("pc.v", sampling_rate=250.0, start=1.0),
                rb.monitors.Welch("pc.v", sampling_rate=250.0, nperseg=256, start=1.0),
                rb.monitors.Sensors("pc.v", gain=gain, sampling_rate=250.0),
                rb.monitors.Bold("pc.v", tr=2.0)]
    target = rb.simulate(net, params=truth, seed=1, record=[], monitors=monitors(), **run)
    fit = rb.fit.fit(net, target, bounds,
                     objective=[(rb.fit.FCCorrelation(sampling_rate=250.0), 1.0),
                                (rb.fit.PSDDistance(band=(2.0, 40.0)), 1.0)],
                     variable="pc.v", start=1.0, method="differential_evolution",
                     n_evaluations=80, batch_size=16, seed=0, noise_seed=2,
                     monitors=monitors(), **run)
    for name, (low, high) in bounds.items():
        assert abs(fit.best_params[name] - truth[name]) <= 0.1 * (high - low), (name, fit)
    assert fit.best_score > 0.05              # another realisation: no exact match


def test_cmaes_recovers_coupling_and_tau(net, target, count_runs):
    pytest.importorskip("cma")
    fit = _fit(net, target, method="cmaes", n_evaluations=96, batch_size=8, seed=0)
    _close_to_truth(fit)
    assert fit.best_score < 0.05 and set(count_runs) == {8} and len(count_runs) <= 12


def test_same_seed_same_fit_and_the_score_is_the_objective_on_the_member_run(net, target):
    a = _fit(net, target, method="random", n_evaluations=6, batch_size=4, seed=3)
    b = _fit(net, target, method="random", n_evaluations=6, batch_size=4, seed=3)
    c = _fit(net, target, method="random", n_evaluations=6, batch_size=4, seed=4)
    assert a.history.equals(b.history) and not a.history.equals(c.history)
    assert list(a.history["generation"]) == [0, 0, 0, 0, 1, 1]
    # the best member re-simulated alone, with the fit's noise seed: the same score
    alone = rb.simulate(net, T, DT, params=a.best_params, seed=7, record=[],
                        monitors=_monitors(), **RUN)
    fc = 1 - rb.measures.fc_correlation(alone.monitors["fc"].fc, target.monitors["fc"].fc)
    psd = rb.measures.psd_distance(alone.monitors["psd"], target.monitors["psd"],
                                   band=(2.0, 60.0))
    assert a.best_score == pytest.approx(fc + psd, rel=1e-12)


# -- grid, random, optuna, callables, divergence -----------------------------------------------
def test_grid_scores_every_point_and_a_diverged_member_gets_the_worst_score(net, target):
    """dt / tau = 5 makes euler blow up: that member is 'diverged', scores inf, is not best."""
    bounds = {"global_coupling": (0.0, 0.5), "n.tau": (2e-4, 0.02)}
    fit = _fit(net, target, parameters=bounds, objective="fc_corr", method="grid",
               n_evaluations=4, batch_size=3)
    h = fit.history
    assert len(h) == 4 and list(h["generation"]) == [0, 0, 0, 1]
    np.testing.assert_array_equal(h["global_coupling"], [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(h["n.tau"], [2e-4, 0.02, 2e-4, 0.02])
    assert list(h["status"]) == ["diverged", "completed", "diverged", "completed"]
    assert np.isinf(h["score"][[0, 2]]).all() and np.isfinite(h["score"][[1, 3]]).all()
    assert fit.best_params == {"global_coupling": 0.5, "n.tau": pytest.approx(0.02)}
    assert 0 <= fit.best_score <= 2


def test_log_scale_and_fixed_parameters(net, target):
    fit = _fit(net, target, parameters={"n.tau": (0.005, 0.05, "log")}, objective="psd",
               method="grid", n_evaluations=3, params={"global_coupling": 0.5})
    np.testing.assert_allclose(fit.history["n.tau"], [0.005, np.sqrt(0.005 * 0.05), 0.05],
                               rtol=1e-12)


def test_conduction_speed_is_fitted_in_one_batch():
    """Members of one kernel call differ in speed (hence every delay): the FC of the target's
    speed is found (a connectome network: the same kernel as without delays)."""
    lengths = 30.0 + 20.0 * np.arange(25.0).reshape(5, 5) % 90.0
    conn = rb.adapters.Connectome(W5, lengths, [f"r{i}" for i in range(5)])
    net = rb.Network.from_connectome(conn, _network().groups[0]["circuit"],
                                     coupling=("n.x", "n.I"), speed=4.0)
    target = rb.simulate(net, T, DT, params={"global_coupling": 0.8}, seed=7, record=[],
                         monitors=_monitors(), **RUN)
    fit = _fit(net, target, parameters={"speed": (2.0, 6.0)}, objective="fc_corr",
               method="grid", n_evaluations=3, params={"global_coupling": 0.8})
    assert fit.best_params == {"speed": 4.0} and fit.best_score < 1e-12
    assert fit.history["score"].min() < 0.5 * np.sort(fit.history["score"])[1]
    with pytest.raises(ValueError, match="no tract lengths"):
        _fit(_network(), target, parameters={"speed": (2.0, 6.0)})


def test_callable_objective_with_its_own_monitors(net):
    def objective(res):
        return abs(res.monitors["fc"].fc[0, 1] - 0.3)
    fit = rb.fit.fit(net, None, {"global_coupling": (0.0, 0.9)}, objective=objective,
                     method="random", n_evaluations=5, duration=T, dt=DT, seed=2,
                     monitors=_monitors(), **RUN)
    h = fit.history
    assert list(h.columns) == ["generation", "member", "global_coupling", "score", "status"]
    alone = rb.simulate(net, T, DT, params={"global_coupling": h["global_coupling"][3]},
                        seed=2, record=[], monitors=_monitors(), **RUN)
    assert h["score"][3] == objective(alone)


def test_optuna_fit_is_reproducible_and_fails_diverged_trials(net, target):
    optuna = pytest.importorskip("optuna")
    kw = dict(parameters={"global_coupling": (0.0, 0.9), "n.tau": (2e-4, 0.05, "log")},
              method="optuna", n_evaluations=14, batch_size=7, seed=0)
    a, b = _fit(net, target, **kw), _fit(net, target, **kw)
    assert a.history.equals(b.history) and len(a.history) == 14
    assert a.best_score == a.history["score"].min()
    # tau < dt / 2 diverges: told to optuna as failed trials, and TPE goes on after them
    assert (a.history["status"][:10] == "diverged").any()
    sampler = optuna.samplers.RandomSampler(seed=1)
    c = _fit(net, target, **{**kw, "method_options": {"sampler": sampler}})
    assert len(c.history) == 14 and not c.history.equals(a.history)


def test_dask_client_gives_the_local_fit(net, target):
    distributed = pytest.importorskip("distributed")
    local = _fit(net, target, method="random", n_evaluations=4, batch_size=4)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=None) as client:
        remote = _fit(net, target, method="random", n_evaluations=4, batch_size=4,
                      client=client)
    assert local.history.equals(remote.history)


# -- resume ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["differential_evolution", "cmaes", "optuna"])
def test_resume_from_the_history_file_gives_the_uninterrupted_fit(net, target, tmp_path,
                                                                  method, count_runs):
    if method != "differential_evolution":
        pytest.importorskip({"cmaes": "cma"}.get(method, method))
    kw = dict(method=method, batch_size=6, seed=5, objective="psd")
    whole = _fit(net, target, n_evaluations=24, **kw)
    path = tmp_path / "fit.csv"
    _fit(net, target, n_evaluations=12, history_file=path, **kw)       # "stopped" after 2
    del count_runs[:]
    resumed = _fit(net, target, n_evaluations=24, history_file=path, **kw)
    assert len(count_runs) == 2                    # generations 0 and 1 replayed, not run
    assert resumed.history.equals(whole.history)
    assert resumed.best_params == whole.best_params
    with pytest.raises(ValueError, match="holds other points than this fit proposes"):
        _fit(net, target, n_evaluations=24, history_file=path, **{**kw, "seed": 6})


def test_an_interrupted_fit_keeps_its_generations_and_resumes(net, tmp_path):
    runs = []

    def objective(res):                    # Ctrl-C during the second generation
        runs.append(1)
        if len(runs) > 4:
            raise KeyboardInterrupt
        return float(res.monitors["fc"].fc[0, 1])
    kw = dict(method="random", n_evaluations=8, batch_size=4, duration=T, dt=DT,
              monitors=_monitors(), history_file=tmp_path / "h.csv", **RUN)
    with pytest.raises(rb.SimulationInterrupted, match="after 4 evaluations") as err:
        rb.fit.fit(net, None, {"global_coupling": (0.0, 0.9)}, objective=objective, **kw)
    assert err.value.result.n_evaluations == 4
    del runs[:]
    resumed = rb.fit.fit(net, None, {"global_coupling": (0.0, 0.9)}, objective=objective,
                         **{**kw, "n_evaluations": 8})
    assert len(runs) == 4 and resumed.history["score"][:4].equals(
        err.value.result.history["score"])


def test_plot_save_and_progress(net, target, tmp_path):
    import logging.handlers
    memory = logging.handlers.MemoryHandler(capacity=100, flushLevel=logging.CRITICAL + 1)
    logging.getLogger("rate_bridge").addHandler(memory)
    try:
        fit = _fit(net, target, method="random", n_evaluations=4, batch_size=4,
                   objective="psd", verbose="info")
    finally:
        logging.getLogger("rate_bridge").removeHandler(memory)
    log = "\n".join(r.getMessage() for r in memory.buffer)
    assert "generation 0: 4 evaluations; best score" in log and "evaluations/s" in log
    assert "simulated 4 x 5 region(s)" not in log                 # simulate's own: quiet
    fig = fit.plot()
    assert len(fig.axes) == 3 and fig.axes[1].get_ylabel() == "global_coupling"
    fit.save(tmp_path / "h.csv")
    again = _fit(net, target, method="random", n_evaluations=4, batch_size=4,
                 objective="psd", history_file=tmp_path / "h.csv")
    assert again.history.equals(fit.history)
    assert "random, 4 evaluations" in repr(fit)


# -- targets ---------------------------------------------------------------------------------
def test_fc_target_matrix_fcd_from_records_and_spectrum_tuple(net, target):
    """Each objective scores 0 on the target's own run (same parameters and noise)."""
    grid = {"global_coupling": (0.0, 1.0)}
    kw = dict(parameters=grid, method="grid", n_evaluations=3, params={"n.tau": 0.02})
    fc = _fit(net, target.monitors["fc"].fc, objective="fc_corr", **kw)
    assert fc.best_score == pytest.approx(0.0, abs=1e-12) and fc.best_params == {
        "global_coupling": 0.5}
    bold = _fit(net, target, objective=rb.fit.FCCorrelation(tr=0.5, start=0.0), **kw)
    assert bold.best_score == pytest.approx(0.0, abs=1e-12)       # FC of 4 BOLD samples
    assert bold.history["score"].max() > 1e-3
    fcd = _fit(net, target, objective=rb.fit.FCDDistance(window=0.5, step=0.25), **kw)
    assert fcd.best_score == 0.0 and fcd.history["score"].max() > 0
    psd = target.monitors["psd"]
    spec = _fit(net, (psd.freqs, psd.data), objective="psd", **kw)
    assert spec.best_score == 0.0 and spec.best_params == {"global_coupling": 0.5}
    both = _fit(net, {"fc_corr": target.monitors["fc"].fc, "psd": (psd.freqs, psd.data)},
                objective={"fc_corr": 1.0, "psd": 2.0}, **kw)
    np.testing.assert_allclose(both.history["score"],
                               fc.history["score"] + 2 * spec.history["score"], rtol=1e-12)


def _sensor_data(net, target):
    """The target's sensor signals through a ForwardModel, as an MNE Raw."""
    mne = pytest.importorskip("mne")
    info = mne.create_info([f"E{i}" for i in range(5)], 1000.0, "eeg")
    fwd = rb.forward_models.ForwardModel(GAIN, info, net.labels)
    x = rb.simulate(net, T, DT, params=TRUTH, seed=7, record=[], **RUN,
                    monitors=_monitors()[:3] + [rb.monitors.Bold("n.x", tr=0.5),
                                                rb.monitors.Sensors("n.x", gain=fwd,
                                                                    sampling_rate=1000.0,
                                                                    start=0.5, name="eeg")])
    return fwd, mne.io.RawArray(x["eeg"].T, info, verbose=False)


def test_mne_raw_target_in_sensor_space(net, target):
    fwd, raw = _sensor_data(net, target)
    kw = dict(parameters={"global_coupling": (0.0, 1.0)}, method="grid", n_evaluations=3,
              params={"n.tau": 0.02}, forward=fwd)
    psd = _fit(net, raw, objective=rb.fit.PSDDistance(nperseg=512), **kw)
    assert psd.best_score < 1e-12 and psd.best_params == {"global_coupling": 0.5}
    fc = _fit(net, raw, objective="fc_corr", **kw)
    assert fc.best_score == pytest.approx(0.0, abs=1e-12)
    raw.info["bads"] = ["E0"]                    # a bad channel is left out of both sides
    fc = _fit(net, raw, objective="fc_corr", **kw)
    assert fc.best_score == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="pass forward="):
        _fit(net, raw, objective="psd", **{**kw, "forward": None})
    with pytest.raises(ValueError, match="lack 1 of the forward model's 5 channels"):
        _fit(net, raw.copy().drop_channels(["E4"]), objective="psd", **kw)
    with pytest.raises(ValueError, match="300 Hz must divide the simulation's 1/dt"):
        _fit(net, raw.copy().resample(300.0), objective="psd", **kw)
    small = _network(W5[:3, :3])
    with pytest.raises(ValueError, match="are not the network's 3"):
        _fit(small, raw, objective="psd", **kw)


# -- the simulator function ------------------------------------------------------------------
def test_simulator_shapes_determinism_and_equal_to_simulate_and_measures(net):
    kw = dict(duration=1.0, dt=DT, start=0.5, variable="n.x", monitors=_monitors(), **RUN)
    sim = rb.fit.simulator(net, ["global_coupling", "n.tau"], ["fc", "psd"], batch_size=2,
                           seed=11, **kw)
    theta = np.array([[0.1, 0.01], [0.5, 0.02], [0.9, 0.03], [0.3, 2e-4]])
    x = sim(theta)
    assert x.shape == (4, 10 + 129) and x.dtype == np.float64 and sim.parameters == [
        "global_coupling", "n.tau"]
    assert np.isnan(x[3]).all() and np.isfinite(x[:3]).all()      # row 3 diverged
    for i in range(3):                     # the same as simulate + measures, member by member
        res = rb.simulate(net, 1.0, DT, params=dict(zip(sim.parameters, theta[i])),
                          seed=11 + i, record=[], monitors=_monitors(), **RUN)
        fc = res.monitors["fc"].fc[np.triu_indices(5, k=1)]
        np.testing.assert_array_equal(x[i, :10], fc)
        np.testing.assert_array_equal(x[i, 10:], np.log10(res.monitors["psd"].data.mean(1)))
    again = rb.fit.simulator(net, ["global_coupling", "n.tau"], ["fc", "psd"], seed=11, **kw)
    np.testing.assert_array_equal(again(theta), x)                # a new simulator: same
    np.testing.assert_array_equal(again(theta[:2], seed=11), x[:2])
    assert not np.array_equal(again(theta[:2])[:, :10], x[:2, :10])  # next call: new noise
    one = rb.fit.simulator(net, ["global_coupling"], lambda r: [r["fc"][0, 1], 1.0],
                           params={"n.tau": 0.02}, **kw)
    assert one(np.array([0.2, 0.4])).shape == (2, 2)              # (n,) for one parameter
    with pytest.raises(ValueError, match=r"theta must have shape \(n, 2\)"):
        sim(np.zeros((3, 3)))


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(parameters={"n.taux": (0, 1)}), rb.UnknownNameError,
     r"parameters: unknown parameter 'n.taux' \(did you mean 'n.tau'"),
    (dict(parameters={"n.tau": (0.05, 0.01)}), ValueError,
     r"parameters\['n.tau'\]: bounds must have low < high, got \(0.05, 0.01\)"),
    (dict(parameters={"n.tau": (0.01, 0.01)}), ValueError, "low < high"),
    (dict(parameters={"n.tau": (0.0, 1.0, "log")}), ValueError, "log scale needs low > 0"),
    (dict(parameters={"n.tau": 0.01}), TypeError, r"parameters\['n.tau'\] must be \(low, high\)"),
    (dict(parameters={}), ValueError, "parameters is empty"),
    (dict(parameters={"weights": (1, 10)}), ValueError, "not a range"),
    (dict(method="nelder"), ValueError, "method must be one of"),
    (dict(objective="fc_dist"), ValueError, "objective must be one of 'fc_corr'"),
    (dict(objective=3), TypeError, "objective must be"),
    (dict(objective=[("psd", "heavy")]), TypeError, "weight of objective 'psd'"),
    (dict(objective={"psd": -1.0}), ValueError, r"weights must be > 0, got \[-1.0\]"),
    (dict(params={"n.tau": 0.02}), ValueError, r"params fixes \['n.tau'\]"),
    (dict(batch_size=3), ValueError, "batch_size must be >= 5 for method='differential"),
    (dict(n_evaluations=10, batch_size=8), ValueError, "n_evaluations=10 allows no generation"),
    (dict(method_options={"polish": True}), ValueError, r"\['polish'\] are set by fit"),
    (dict(variable="n.y"), rb.UnknownNameError, "variable 'n.y' is not a variable"),
])
def test_bad_input_names_the_argument(net, target, kwargs, error, match):
    with pytest.raises(error, match=match):
        _fit(net, target, **kwargs)


def test_bad_targets_name_what_is_wrong(net, target):
    with pytest.raises(ValueError, match=r"target FC has shape \(3, 3\); the network has 5"):
        _fit(net, np.eye(3), objective="fc_corr")
    with pytest.raises(ValueError, match="needs a target"):
        _fit(net, None, objective="psd")
    freqs = np.linspace(0, 500, 100)
    with pytest.raises(ValueError, match="power-of-two segment"):
        _fit(net, (freqs, np.ones((100, 5))), objective="psd")
    psd = target.monitors["psd"]
    with pytest.raises(ValueError, match="target power has 3 signal"):
        _fit(net, (psd.freqs, psd.data[:, :3]), objective="psd")
    with pytest.raises(rb.UnknownNameError, match="target has no entry for objective 'psd'"):
        _fit(net, {"fc_corr": np.eye(5)}, objective=["fc_corr", "psd"])
    with pytest.raises(TypeError, match=r"fit\(\) sets \['model'\] itself"):
        _fit(net, target, model=net)
