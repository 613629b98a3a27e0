"""Generic 2D oscillator, FitzHugh-Nagumo, Larter-Breakspear and Epileptor templates: against
the papers' equations (fixed points, bifurcations and regimes solved here with scipy) and
against their reference implementations.

Peer data: ``tests/data/zoo/<model>_<peer>.npz``, written by
``benchmarks/peers/zoo_oscillators.py``: TVB 2.10 (``Generic2dOscillator``,
``LarterBreakspear``, ``Epileptor``; ``EulerDeterministic``) and neurolib 0.6.2 (``fhn``, its
Euler loop), dt = 0.1 ms, one region and a 4-region network with delays of 0.5-5 ms (whole
steps), samples every 2 ms from t = 0. Conventions converted (each file's ``notes`` has the
details):

* time: every peer and our four templates count time in ms; rate_bridge's API takes s.
* coupling: TVB ``Linear(a=G)`` on V (G2D) = our linear V -> c with ``global_coupling = G``;
  TVB ``HyperbolicTangent(a=0.5, midpoint=VT, sigma=d_V)`` on V (LB) = our linear QV -> QV_mean
  with G = 1 (the weights row-normalised, so the sum is the paper's mean <QV>); TVB
  ``Difference(a=K)`` on x1 with ``Ks = -1`` (Epileptor) = our difference x1 -> K_z with
  G = K; neurolib's diffusive ``K_gl`` (FHN) = our difference v -> c with G = K_gl. Weights
  are ``[target, source]`` everywhere.
* names and scalings: TVB's G2D ``e``, ``c`` are our ``e2``, ``c2``; neurolib's FHN
  (alpha, beta, gamma, delta, epsilon) = (1/3, 0, 1, -a, b); TVB's Epileptor ``r`` is our
  1 / tau0 and its ``g`` is ours x 1e-3 (the file stores ours); TVB's ``tt`` / ``t_scale`` = 1.
* initial state: the peers' history is constant at the initial state, as our default history.
* precision: TVB keeps its delay history and weights in float32; the reference runs set them to
  float64, so the comparison tests the equations (see the peer script).

Every simulation of a model runs one kernel (the template's coupling, Euler): a single region is
a 1-region network with the coupling passed explicitly (a network without edges drops the
declared coupling, which would be another kernel).
"""
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq, fsolve, minimize_scalar

import rate_bridge as rb

DATA = Path(__file__).parent / "data" / "zoo"
DT = 1e-4
PEERS = {"generic_2d_oscillator": ("tvb", "g2d"), "fitzhugh_nagumo": ("neurolib", "fhn"),
         "larter_breakspear": ("tvb", "lb"), "epileptor": ("tvb", "epi")}


def _network(model, weights, delays=None):
    """The model's network with its declared coupling, passed explicitly so that one region
    without edges shares the kernel of the coupled network."""
    declared = rb.load_template(model).coupling
    return rb.Network.from_arrays(weights, model, delays=delays,
                                  coupling=(declared["source"], declared["target"]))


def _single(model, duration, params, initial_state=None, sampling_rate=1000.0, n_regions=1):
    """Uncoupled regions of ``model`` (a batch when ``params`` is a list)."""
    net = _network(model, np.zeros((n_regions, n_regions)))
    return rb.simulate(net, duration, DT, integrator="euler", params=params,
                       initial_state=initial_state, sampling_rate=sampling_rate)


def _jacobian(f, y, h=1e-7):
    y = np.asarray(y, float)
    cols = [(np.asarray(f(y + e)) - np.asarray(f(y - e))) / (2 * h) for e in np.eye(len(y)) * h]
    return np.array(cols).T


def _crossing_times(t, x, level):
    """Times of upward crossings of ``level``, linearly interpolated between samples."""
    i = np.flatnonzero((x[:-1] < level) & (x[1:] >= level))
    return t[i] + (level - x[i]) / (x[i + 1] - x[i]) * (t[i + 1] - t[i])


# -- against the peers ---------------------------------------------------------------------------
@pytest.mark.parametrize("model", list(PEERS))
@pytest.mark.parametrize("case", ["single", "network"])
def test_matches_reference_implementation(model, case):
    """Same equations, dt, Euler scheme, weights, delays and initial history as TVB 2.10 /
    neurolib 0.6.2: every state agrees to 1e-6 of its largest value (measured <= 2e-9)."""
    peer, node = PEERS[model]
    with np.load(DATA / f"{model}_{peer}.npz") as f:
        ref = {k: f[k] for k in f.files}
    states = [str(s) for s in ref["states"]]
    n = ref[f"{case}_init_{states[0]}"].size
    weights = ref.get("weights_used", ref["weights"]) if case == "network" else np.zeros((1, 1))
    delays = ref["delays"] if case == "network" else None
    params = {k: np.asarray(v) if isinstance(v, list) else v
              for k, v in json.loads(str(ref[f"{case}_params"])).items()}
    time = ref["time"]
    step = float(time[1] - time[0])
    assert float(ref["dt"]) == DT and weights.shape == (n, n)
    res = rb.simulate(_network(model, weights, delays), float(time[-1]) + step, DT,
                      integrator="euler", params=params, sampling_rate=1.0 / step,
                      initial_state={f"{node}.{s}": ref[f"{case}_init_{s}"] for s in states})
    np.testing.assert_allclose(res.time, time, atol=1e-12)
    for s in states:
        theirs, ours = ref[f"{case}_{s}"], res[f"{node}.{s}"]
        assert ours.shape == theirs.shape and np.ptp(theirs) > 0.1
        dev = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
        assert dev <= 1e-6, f"{model} {case} {s}: max relative deviation {dev:.2e}"


# -- generic 2D oscillator (Sanz-Leon et al. 2015) -----------------------------------------------
def _g2d_rhs(a, V, W):
    """Sanz-Leon et al. 2015 with the default parameters (tau = 1, d = 0.02 /ms, e = 3, f = 1,
    g = 0, b = -10, c = 0, alpha = beta = gamma = 1, I = 0), written here independently."""
    return 0.02 * (W - V**3 + 3 * V**2), 0.02 * (a - 10 * V - W)


def _g2d_fixed_point(a):
    V = brentq(lambda V: V**3 - 3 * V**2 + 10 * V - a, -5, 5)      # both nullclines meet
    return V, a - 10 * V


@pytest.fixture(scope="module")
def g2d_runs():
    A = [-2.0, 1.0, 2.0]
    res = _single("generic_2d_oscillator", 6.0, [{"g2d.a": a} for a in A],
                  initial_state={"g2d.V": 1.5, "g2d.W": -3.0})
    return dict(zip(A, res))


def test_g2d_default_is_the_stable_fixed_point(g2d_runs):
    """TVB's default (excitable) configuration rests at the nullclines' intersection."""
    V, W = _g2d_fixed_point(-2.0)
    J = _jacobian(lambda y: _g2d_rhs(-2.0, *y), [V, W])
    assert np.all(np.linalg.eigvals(J).real < 0)
    np.testing.assert_allclose(g2d_runs[-2.0]["g2d.V"][-1, 0], V, atol=1e-9)
    np.testing.assert_allclose(g2d_runs[-2.0]["g2d.W"][-1, 0], W, atol=1e-9)


def test_g2d_hopf_in_a_and_its_frequency(g2d_runs):
    """The rest state loses stability (Hopf) at a_H ~ 1.74 (trace of the Jacobian = 0): below
    it a perturbation decays in damped oscillations at Im(lambda) / 2 pi (~10 Hz, the model's
    alpha-like rhythm); above it (a = 2, TVB's documented limit-cycle setting) it oscillates."""
    def trace(a):
        return np.trace(_jacobian(lambda y: _g2d_rhs(a, *y), _g2d_fixed_point(a)))
    a_h = brentq(trace, 0.0, 2.0)
    assert 1.0 < a_h < 2.0
    V1, W1 = _g2d_fixed_point(1.0)
    lam = np.linalg.eigvals(_jacobian(lambda y: _g2d_rhs(1.0, *y), [V1, W1]))
    damped = g2d_runs[1.0]
    v = damped["g2d.V"][:, 0]
    assert abs(v[-1] - V1) < 1e-6
    up = _crossing_times(damped.time, v, V1)
    up = up[(up > 0.5) & (up < 2.5)]
    hz = 1.0 / np.mean(np.diff(up))
    np.testing.assert_allclose(hz, np.abs(lam.imag).max() / (2 * np.pi) * 1e3, rtol=0.01)
    assert 8.0 < hz < 12.0
    assert np.ptp(g2d_runs[2.0]["g2d.V"][3000:, 0]) > 1.0


# -- FitzHugh-Nagumo ---------------------------------------------------------------------------
FHN_A, FHN_B, FHN_TAU = 0.7, 0.8, 12.5


def _fhn_fixed_point(current):
    v = brentq(lambda v: v - v**3 / 3 - (v + FHN_A) / FHN_B + current, -3, 3)
    return v, (v + FHN_A) / FHN_B


def test_fhn_onset_of_oscillation_at_the_hopf_current():
    """The classic FitzHugh-Nagumo (a = 0.7, b = 0.8, tau = 12.5) rests below the current where
    the fixed point turns unstable (trace 1 - v*^2 - b / tau = 0, I_H ~ 0.331) and fires
    relaxation oscillations (v spanning ~ -2..2) just above it."""
    i_h = brentq(lambda i: 1 - _fhn_fixed_point(i)[0] ** 2 - FHN_B / FHN_TAU, 0.0, 1.0)
    np.testing.assert_allclose(i_h, 0.3313, atol=1e-3)
    below, above = _single("fitzhugh_nagumo", 3.0, [{"fhn.I": i_h - 0.03},
                                                    {"fhn.I": i_h + 0.01}])
    v_rest = _fhn_fixed_point(i_h - 0.03)[0]
    assert abs(below["fhn.v"][-1, 0] - v_rest) < 1e-6
    v = above["fhn.v"][1500:, 0]
    assert v.min() < -1.5 and v.max() > 1.5
    assert len(_crossing_times(above.time[1500:], v, 0.0)) >= 20      # a period of ~45 ms


# -- Larter-Breakspear (Breakspear et al. 2003) --------------------------------------------------
LB = dict(gCa=1.1, gK=2.0, gL=0.5, gNa=6.7, VCa=1.0, VK=-0.7, VL=-0.5, VNa=0.53, TCa=-0.01,
          TNa=0.3, TK=0.0, d_Ca=0.15, d_Na=0.15, d_K=0.3, VT=0.0, ZT=0.0, d_Z=0.7, aee=0.4,
          aei=2.0, aie=2.0, ane=1.0, ani=0.4, rNMDA=0.25, I=0.3, phi=0.7, tau_K=1.0, b=0.1)


def _lb_rhs(y, d_V):
    """One uncoupled column (C = 0) of Breakspear et al. 2003 (the paper's set), per ms."""
    V, W, Z = y
    p = LB
    gate = lambda x, t, s: 0.5 * (1 + np.tanh((x - t) / s))  # noqa: E731
    QV, QZ = gate(V, p["VT"], d_V), gate(Z, p["ZT"], p["d_Z"])
    dV = (-(p["gCa"] + p["rNMDA"] * p["aee"] * QV) * gate(V, p["TCa"], p["d_Ca"]) * (V - p["VCa"])
          - p["gK"] * W * (V - p["VK"]) - p["gL"] * (V - p["VL"])
          - (p["gNa"] * gate(V, p["TNa"], p["d_Na"]) + p["aee"] * QV) * (V - p["VNa"])
          - p["aie"] * Z * QZ + p["ane"] * p["I"])
    dW = p["phi"] * (gate(V, p["TK"], p["d_K"]) - W) / p["tau_K"]
    dZ = p["b"] * (p["ani"] * p["I"] + p["aei"] * V * QV)
    return [dV, dW, dZ]


def _lb_fixed_point(d_V):
    return fsolve(lambda y: _lb_rhs(y, d_V), [-0.18, 0.22, 0.11], xtol=1e-13)


def test_lb_rest_state_loses_stability_as_dv_grows():
    """Breakspear et al. 2003: an uncoupled column rests at a fixed point for small spreads of
    the excitatory thresholds d_V and oscillates beyond a Hopf bifurcation (TVB's documentation
    quotes d_V ~ 0.55; ~0.51 for this parameter set, computed here). Below it, a perturbation
    decays in damped oscillations at Im(lambda) / 2 pi (~109 Hz with time in ms)."""
    def growth(d_V):
        J = _jacobian(lambda y: _lb_rhs(y, d_V), _lb_fixed_point(d_V))
        return np.linalg.eigvals(J).real.max()
    dv_h = brentq(growth, 0.45, 0.6)
    assert 0.5 < dv_h < 0.56
    d_v = np.array([dv_h - 0.04, dv_h + 0.04])       # two uncoupled regions, both near rest
    rests = np.array([_lb_fixed_point(d) for d in d_v])
    res = _single("larter_breakspear", 1.0, {"lb.d_V": d_v, "lb.C": 0.0},
                  initial_state={"lb.V": rests[:, 0] + 0.01, "lb.W": rests[:, 1],
                                 "lb.Z": rests[:, 2]}, sampling_rate=1e4, n_regions=2)
    np.testing.assert_allclose([res[f"lb.{s}"][-1, 0] for s in "VWZ"], rests[0], atol=1e-9)
    lam = np.linalg.eigvals(_jacobian(lambda y: _lb_rhs(y, d_v[0]), rests[0]))
    up = _crossing_times(res.time, res["lb.V"][:, 0], rests[0][0])
    up = up[up < 0.06]
    np.testing.assert_allclose(1.0 / np.mean(np.diff(up)),
                               np.abs(lam.imag).max() / (2 * np.pi) * 1e3, rtol=0.02)
    assert np.ptp(res["lb.V"][5000:, 1]) > 0.3


# -- Epileptor (Jirsa et al. 2014) ---------------------------------------------------------------
def _epileptor_rhs(y, x0):
    """Jirsa et al. 2014 with the paper's parameters, written here independently."""
    x1, y1, z, x2, y2, g = y
    f1 = x1**3 - 3 * x1**2 if x1 < 0 else (x2 - 0.6 * (z - 4) ** 2) * x1
    f2 = 0.0 if x2 < -0.25 else 6 * (x2 + 0.25)
    return [y1 - f1 - z + 3.1, 1 - 5 * x1**2 - y1, (4 * (x1 - x0) - z) / 2857.0,
            -y2 + x2 - x2**3 + 0.45 + 0.002 * g - 0.3 * (z - 3.5), (-y2 + f2) / 10.0,
            x1 - 0.01 * g]


def _epileptor_saddle_node():
    """The interictal branch of the (x1, y1) subsystem, z = 4.1 - 2 x1^2 - x1^3 (x1 < 0),
    ends in a saddle-node at its minimum: (x1, z) of the seizure onset."""
    opt = minimize_scalar(lambda x1: 4.1 - 2 * x1**2 - x1**3, bounds=(-3.0, -0.5),
                          method="bounded", options={"xatol": 1e-10})
    return opt.x, opt.fun


@pytest.fixture(scope="module")
def epileptor_runs():
    x1_sn, z_sn = _epileptor_saddle_node()
    x0_c = x1_sn - z_sn / 4             # the z-nullcline meets the saddle-node
    X0 = {"ictal": -1.6, "above": x0_c + 0.03, "below": x0_c - 0.03, "healthy": -2.2}
    res = _single("epileptor", 12.0, [{"epi.x0": x} for x in X0.values()], sampling_rate=100.0)
    return dict(zip(X0, res)), X0, z_sn


def _onsets(res, gap=1.0):
    """Seizure onsets: x1 leaves the interictal branch (x1 > -0.5) after >= gap s below."""
    t, x1 = res.time, res["epi.x1"][:, 0]
    up = _crossing_times(t, x1, -0.5)
    return up[np.r_[True, np.diff(up) > gap]] if len(up) else up


def test_epileptor_seizures_at_the_papers_x0(epileptor_runs):
    """x0 = -1.6 (Jirsa et al. 2014, an epileptogenic zone): seizure-like events recur
    regularly (every ~2.2 s with time in ms), the slow permittivity z oscillating between the
    onset (z falls to the saddle-node of the fast subsystem, 2.915, computed here) and the
    offset (z ~ 4.1); the fast discharges drive x1 above 0."""
    runs, _, z_sn = epileptor_runs
    np.testing.assert_allclose(z_sn, 2.9148, atol=1e-4)
    res = runs["ictal"]
    onsets = _onsets(res)
    assert len(onsets) >= 5
    assert np.ptp(np.diff(onsets)) < 0.05 * np.mean(np.diff(onsets))      # periodic
    z = res["epi.z"][:, 0]
    z_on = np.interp(onsets, res.time, z)
    assert np.all((z_on > z_sn - 0.1) & (z_on < z_sn))
    assert z[200:].max() > 4.0 and z[200:].min() < z_sn
    assert res["epi.x1"][:, 0].max() > 1.0


def test_epileptor_interictal_fixed_point_for_healthy_x0(epileptor_runs):
    """x0 = -2.2 (healthy): the paper's equations have a stable fixed point on the interictal
    branch (solved and its eigenvalues checked here), which the simulation reaches; seizures
    occur exactly above the critical x0 where that fixed point meets the saddle-node."""
    runs, X0, _ = epileptor_runs
    rest = fsolve(lambda y: _epileptor_rhs(y, -2.2), [-1.5, -10, 3, -0.8, 0, -150], xtol=1e-13)
    assert rest[0] < -4 / 3 and rest[3] < -0.25                    # the branches assumed
    J = _jacobian(lambda y: _epileptor_rhs(y, -2.2), rest)
    assert np.all(np.linalg.eigvals(J).real < 0)
    final = [runs["healthy"][f"epi.{s}"][-1, 0] for s in ("x1", "y1", "z", "x2", "y2", "g")]
    np.testing.assert_allclose(final, rest, rtol=1e-3, atol=1e-3)
    assert len(_onsets(runs["healthy"])) == 0 and len(_onsets(runs["below"])) == 0
    assert len(_onsets(runs["above"])) >= 2
