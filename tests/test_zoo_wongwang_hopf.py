"""Reduced Wong-Wang (Deco 2013; E-I with feedback inhibition control, Deco 2014) and Hopf
(Stuart-Landau, Deco 2017) templates: against the papers and against TVB 2.10.

Peer data: ``tests/data/zoo/<model>_tvb.npz``, written by
``benchmarks/peers/zoo_wongwang_hopf.py`` (TVB 2.10 ``ReducedWongWang``,
``ReducedWongWangExcInh``, ``SupHopf``; ``EulerDeterministic``, dt = 0.1 ms; one region and a
3-region network with delays of 0.5-5 ms; samples every 1 ms from t = 0). Conventions converted:

* time: TVB in ms, our templates in s. RWW: TVB's H in kHz and b, a in kHz units are our Hz
  ones / 1000, d in ms; RWW E-I: TVB's gamma_e = 0.641/1000 and gamma_i = 1/1000 are our 0.641
  and 1 with time in s. Hopf: a, omega, G are TVB's x 1000, and the states are TVB's x
  sqrt(1000) (the cubic term has coefficient 1 in either time unit; the file's
  ``state_scale``).
* coupling: TVB ``Linear(a=G, b=0)`` (RWW), model ``G`` x ``Linear(a=1, b=0)`` with
  ``lamda = 0`` (RWW E-I), ``Difference(a=G/1000)`` on x and y (Hopf) = our
  ``global_coupling = G`` with the template's coupling (Hopf: x -> cx and y -> cy,
  "difference"). Weights are ``[target, source]`` in both; delays are whole steps.
* TVB clamps the RWW gatings to [0, 1] (state-variable boundaries); we do not clamp, and the
  trajectories stay inside, so the clamp never acts.
* initial state: TVB's history is constant at the initial state, as our default history.
* precision: TVB keeps its history buffer and weights in float32 (``tvb.simulator.history``),
  so coupled trajectories agree to ~4e-8 of their range; uncoupled ones to ~1e-14.

Every simulation of a model runs one kernel (the template's coupling, Euler): a single region is
a 1-region network with the coupling passed explicitly (a network without edges drops the
declared coupling, which would be another kernel).
"""
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import rate_bridge as rb

DATA = Path(__file__).parent / "data" / "zoo"
DT = 1e-4
MODELS = ("reduced_wong_wang", "reduced_wong_wang_ei", "hopf")


def _network(model, weights, delays=None):
    """The model's network: the template's declared couplings (both of Hopf's), also for one
    region without edges, so every simulation of a model shares one kernel."""
    declared = rb.load_template(model).couplings
    coupling = [(d["source"], d["target"]) for d in declared]
    return rb.Network.from_arrays(weights, model, delays=delays, coupling=coupling)


def _peer(model):
    with np.load(DATA / f"{model}_tvb.npz") as f:
        return {k: f[k] for k in f.files}


def _run_like_peer(model, case, params):
    """Simulate ``case`` ("single" / "network") of the stored TVB run; returns (ours, peer)
    as dicts state -> (n_times, n_regions) in our units."""
    peer = _peer(model)
    states = [str(s) for s in peer["states"]]
    W = peer["weights"] if case == "network" else np.zeros((1, 1))
    D = peer["delays"] if case == "network" else None
    node = next(iter(rb.load_template(model).nodes))
    init = {f"{node}.{s}": peer[f"{case}_init_{s}"] for s in states}
    duration = float(peer["time"][-1])
    res = rb.simulate(_network(model, W, D), duration, float(peer["dt"]), integrator="euler",
                      params={"global_coupling": float(peer["global_coupling"]), **params},
                      initial_state=init, record=list(init), sampling_rate=1000.0)
    scale = float(peer.get("state_scale", 1.0))
    n = min(len(res.time), len(peer["time"]))
    assert n >= 1000
    ours = {s: res[f"{node}.{s}"][:n] for s in states}
    theirs = {s: scale * peer[f"{case}_{s}"][:n] for s in states}
    return ours, theirs


def _assert_close_to_peer(ours, theirs):
    for state, ref in theirs.items():
        err = np.max(np.abs(ours[state] - ref))
        assert err <= 1e-6 * np.max(np.abs(ref)), (state, err, np.max(np.abs(ref)))


# --- the templates themselves (no kernel) ---------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_templates_declare_units_coupling_observables(model):
    """Every variable has a unit; coupling, observables and references are declared."""
    circuit = rb.load_template(model)
    units = circuit.units
    assert set(units) == set(circuit.variables)
    assert all(units.values()), units            # an undeclared unit is ""
    assert circuit.reference and circuit.coupling["reference"]
    assert set(circuit.observables) == {"eeg_meg", "bold"}
    text = circuit.describe()
    for state in circuit.state_variables:
        assert state in text


def test_template_defaults_are_the_papers():
    """Deco 2013 and Deco 2014 parameter sets, in s / Hz / nA."""
    rww = rb.load_template("reduced_wong_wang").parameters
    assert {k: rww[f"rww.{k}"] for k in ("a", "b", "d", "gamma", "tau_S", "J_N", "w", "I_0")} \
        == {"a": 270.0, "b": 108.0, "d": 0.154, "gamma": 0.641, "tau_S": 0.1, "J_N": 0.2609,
            "w": 0.9, "I_0": 0.3}
    ei = rb.load_template("reduced_wong_wang_ei").parameters
    expected = {"a_E": 310.0, "b_E": 125.0, "d_E": 0.16, "a_I": 615.0, "b_I": 177.0,
                "d_I": 0.087, "tau_E": 0.1, "tau_I": 0.01, "gamma": 0.641, "J_N": 0.15,
                "w_p": 1.4, "W_E": 1.0, "W_I": 0.7, "I_0": 0.382, "J_i": 1.0}
    assert {k: ei[f"rww.{k}"] for k in expected} == expected


# --- against TVB 2.10 ---------------------------------------------------------------------

@pytest.mark.parametrize("case", ["single", "network"])
def test_rww_matches_tvb(case):
    _assert_close_to_peer(*_run_like_peer("reduced_wong_wang", case, {}))


@pytest.mark.parametrize("case", ["single", "network"])
def test_rww_ei_matches_tvb(case):
    """J_i differs per region in the network (TVB's per-node J_i array)."""
    J_i = _peer("reduced_wong_wang_ei")[f"{case}_J_i"]
    _assert_close_to_peer(*_run_like_peer("reduced_wong_wang_ei", case, {"rww.J_i": J_i}))


@pytest.mark.parametrize("case", ["single", "network"])
def test_hopf_matches_tvb(case):
    """Per-region a and omega; difference coupling on x and y (TVB's SupHopf couples both)."""
    peer = _peer("hopf")
    params = {"osc.a": peer[f"{case}_a"], "osc.omega": peer[f"{case}_omega"]}
    _assert_close_to_peer(*_run_like_peer("hopf", case, params))


# --- against the papers -------------------------------------------------------------------

def _rww_fixed_points(w_eff):
    """Steady states of Deco 2013's reduced model, p. 11242, with recurrence w_eff J_N
    (w + G for a row-normalised homogeneous network): -S/tau + (1 - S) gamma H(x) = 0."""
    a, b, d, gamma, tau, J_N, I_0 = 270.0, 108.0, 0.154, 0.641, 0.1, 0.2609, 0.3

    def f(S):
        u = a * (w_eff * J_N * S + I_0) - b
        return -S / tau + (1 - S) * gamma * u / (1 - np.exp(-d * u))

    grid = np.linspace(1e-6, 1 - 1e-6, 20001)
    v = f(grid)
    return [brentq(f, grid[i], grid[i + 1]) for i in np.flatnonzero(np.diff(np.sign(v)))]


def test_rww_fixed_points_and_bistability():
    """Deco 2013 (Fig. 2): an isolated region (w = 0.9) has one low-activity state; coupling
    G = 0.5 in a homogeneous row-normalised network adds a high-activity state, and the
    network settles in the one its initial state leads to. The fixed points are solved
    with scipy from the paper's equations."""
    low0, = _rww_fixed_points(0.9)
    low, _saddle, high = _rww_fixed_points(0.9 + 0.5)
    assert 0.03 < low0 < 0.04 and low < 0.05 < 0.7 < high
    W = (np.ones((3, 3)) - np.eye(3)) / 2.0
    net = _network("reduced_wong_wang", W)
    runs = rb.simulate(net, 3.0, DT, integrator="euler", record=["rww.S"],
                       initial_state={"rww.S": np.array([0.9, 0.9, 0.01])},
                       params=[{"global_coupling": 0.0}, {"global_coupling": 0.5}])
    isolated, coupled = (r["rww.S"][-1] for r in runs)
    np.testing.assert_allclose(isolated, low0, rtol=1e-6)
    # the two regions starting high pull the third up: all settle in the high state
    np.testing.assert_allclose(coupled, high, rtol=1e-6)
    start_low = rb.simulate(net, 3.0, DT, integrator="euler", record=["rww.S"],
                            initial_state={"rww.S": 0.01}, params={"global_coupling": 0.5})
    np.testing.assert_allclose(start_low["rww.S"][-1], low, rtol=1e-6)


def _fic_J_i(c=0.0, rate=3.0):
    """Deco 2014's feedback inhibition control: the J_i that holds r_E at ``rate`` (Hz) in a
    region receiving the long-range input c (G sum_j C_ij S_E,j), from the paper's steady
    state: S_E from dS_E/dt = 0 at r_E = rate, I_E from H_E(I_E) = rate, S_I from
    dS_I/dt = 0, then J_i from the excitatory current balance."""
    a_E, b_E, d_E, a_I, b_I, d_I = 310.0, 125.0, 0.16, 615.0, 177.0, 0.087
    tau_E, tau_I, gamma, J_N, w_p, W_E, W_I, I_0 = 0.1, 0.01, 0.641, 0.15, 1.4, 1.0, 0.7, 0.382

    def H(u, a, b, d):
        v = a * u - b
        return v / (1 - np.exp(-d * v))

    S_E = gamma * rate * tau_E / (1 + gamma * rate * tau_E)
    I_E = brentq(lambda u: H(u, a_E, b_E, d_E) - rate, 0.2, 1.0)
    S_I = brentq(lambda s: s - tau_I * H(W_I * I_0 + J_N * S_E - s, a_I, b_I, d_I), 0.0, 1.0)
    return (W_E * I_0 + w_p * J_N * S_E + J_N * c - I_E) / S_I, S_E


def test_rww_ei_fic_gives_3_hz():
    """Deco 2014: with J_i set by feedback inhibition control the excitatory pools fire at
    ~3 Hz; an isolated region, and each region of a coupled network (G = 0.8, its own J_i
    from its long-range input at the FIC state)."""
    J_i, S_E = _fic_J_i()
    assert 1.0 < J_i < 1.02                      # close to the paper's J_i = 1 without FIC
    one = rb.simulate(_network("reduced_wong_wang_ei", np.zeros((1, 1))), 2.0, DT,
                      integrator="euler", params={"rww.J_i": J_i}, record=["rww.r_E"])
    np.testing.assert_allclose(one["rww.r_E"][-1], 3.0, rtol=1e-6)
    W, G = _peer("reduced_wong_wang_ei")["weights"], 0.8
    J_net = np.array([_fic_J_i(c=G * W[i].sum() * S_E)[0] for i in range(3)])
    assert np.ptp(J_net) > 0.05                  # heterogeneous: a per-region parameter
    # the coupled network relaxes with a ~0.5 s time constant: 8 s bring it within 1e-7
    net = rb.simulate(_network("reduced_wong_wang_ei", W), 8.0, DT, integrator="euler",
                      params={"rww.J_i": J_net, "global_coupling": G}, record=["rww.r_E"])
    np.testing.assert_allclose(net["rww.r_E"][-1], 3.0, rtol=1e-6)


def test_hopf_oscillates_for_positive_a_and_decays_for_negative_a():
    """Normal form of the supercritical Hopf bifurcation (Deco 2017, Methods): for a > 0 a
    limit cycle at omega / (2 pi) of amplitude sqrt(a); for a < 0 the oscillation decays at
    rate |a|. dt = 10 us keeps Euler's biases small: omega^2 dt / 2 on a (amplitude, 1e-3)
    and (omega^2 - a^2) dt / 2 on the decay rate (0.019 /s, 2e-3 of |a|); from
    r = 1 the limit cycle is reached within 1e-4 by t = 0.6 s, and the cubic term of the
    decaying one is below 1e-3 of |a| from t = 0.3 s."""
    omega = 2 * np.pi * 10.0
    net = _network("hopf", np.zeros((1, 1)))
    grow, decay = rb.simulate(net, 1.0, 1e-5, integrator="euler",
                              initial_state={"osc.x": 1.0, "osc.y": 0.0},
                              params=[{"osc.a": 10.0, "osc.omega": omega},
                                      {"osc.a": -10.0, "osc.omega": omega}])
    t = grow.time
    late = t > 0.3
    for res in (grow, decay):                    # frequency from the unwrapped phase
        phase = np.unwrap(np.arctan2(res["osc.y"][late, 0], res["osc.x"][late, 0]))
        assert np.polyfit(t[late], phase, 1)[0] == pytest.approx(omega, rel=1e-3)
    amp = np.hypot(grow["osc.x"][:, 0], grow["osc.y"][:, 0])
    np.testing.assert_allclose(amp[t > 0.6], np.sqrt(10.0), rtol=1e-3)
    amp = np.hypot(decay["osc.x"][:, 0], decay["osc.y"][:, 0])
    rate = -np.polyfit(t[late], np.log(amp[late]), 1)[0]
    assert rate == pytest.approx(10.0, rel=3e-3)
