"""Zetterberg-Jansen (Spiegler 2010), Coombes-Byrne (2019) and QIF with spike-frequency
adaptation (Gast, Schmidt & Knösche 2020) templates: against the papers' equations (written
and solved here with scipy) and against TVB 2.10 / PyRates 1.2.3.

Peer data: ``tests/data/zoo/<model>_<peer>.npz``, written by
``benchmarks/peers/zoo_neural_mass.py`` (TVB ``ZetterbergJansen``, ``CoombesByrne``,
``GastSchmidtKnosche_SF`` with ``EulerDeterministic``; PyRates' ``qif_sfa`` circuit with its
fixed-step ``euler`` solver); one region and a 3-region network with delays of 0.5-5 ms (whole
steps). Conventions converted:

* time: TVB and PyRates in ms. zetterberg_jansen is in s: its ke, ki, e0, P, U, Q are TVB's
  x 1000, its y1-y5 (mV/s) TVB's (mV/ms) x 1000; rho_1, rho_2 are our r, v0. coombes_byrne and
  qif_sfa are in ms like the peers.
* coupling: TVB ``Linear(a=G, b=0)`` = our ``global_coupling = G`` with the template's declared
  coupling (Zetterberg-Jansen: v6 -> c, turned into the rate S(c) inside the column as in TVB;
  Coombes-Byrne and QIF-SFA: r -> I into dV/dt; TVB's cr = 1, cv = 0). Weights are
  ``[target, source]`` in all, and exact in float32.
* TVB's GastSchmidtKnosche_SF alpha is our alpha * tau_a (its A, B are our a, x); PyRates'
  self-edge weight is our J. TVB clamps r >= 0 (never reached).
* TVB 2.10's ZetterbergJansen has ke^2 in v5's equation where the inhibitory kernel (and our
  template) has ki^2: its reference runs use gamma_5 = 0 (v5 = 0) or ke = ki, where the two
  coincide; the literature tests cover v5 with ki != ke.
* precision: TVB keeps its history buffer and weights in float32, so coupled trajectories
  agree to ~1e-8-1e-7 of their range; uncoupled ones to ~1e-14.

Every simulation of a model runs one kernel (the template's coupling, Euler): a single region is
a 1-region network with the coupling passed explicitly.
"""
import ast
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

import rate_bridge as rb

DATA = Path(__file__).parent / "data" / "zoo"
RTOL_PEER = 1e-6


def _network(model, weights, delays=None, global_coupling=1.0):
    declared = rb.load_template(model).coupling
    return rb.Network.from_arrays(weights, model, delays=delays,
                                  coupling=(declared["source"], declared["target"]),
                                  global_coupling=global_coupling)


def _peer(name):
    with np.load(DATA / f"{name}.npz") as f:
        return {k: f[k] for k in f.files}


def _case(peer, case):
    """(weights, delays) of a stored case."""
    if case == "network":
        return peer["weights"], peer["delays"]
    return np.zeros((1, 1)), None


def _init(peer, key, node, scale=None):
    """Initial state stored as ``<key>_init_<state>``, in our units."""
    scale = scale or {}
    return {f"{node}.{s}": peer[f"{key}_init_{s}"] * scale.get(str(s), 1.0)
            for s in peer["states"]}


def _assert_matches_peer(res, peer, key, node, scale=None):
    """Every state of ``res`` within RTOL_PEER x max|peer| of the stored ``<key>_<state>``.
    Returns the largest relative deviation."""
    worst = 0.0
    for s in (str(s) for s in peer["states"]):
        theirs = peer[f"{key}_{s}"] * (scale or {}).get(s, 1.0)
        ours = res[f"{node}.{s}"]
        n = min(len(ours), len(theirs))
        assert n >= len(theirs) - 1 and n > 50
        ref = np.abs(theirs).max()
        if ref == 0.0:                 # v5 with gamma_5 = 0: exactly zero in both
            assert np.abs(ours[:n]).max() == 0.0, s
            continue
        dev = np.abs(ours[:n] - theirs[:n]).max() / ref
        assert dev <= RTOL_PEER, f"{key} {s}: {dev:.2e} of max |peer|"
        worst = max(worst, dev)
    return worst


def _peak_hz(x, fs):
    x = x - x.mean()
    return np.fft.rfftfreq(len(x), 1 / fs)[np.argmax(np.abs(np.fft.rfft(x)))]


def _max_real_eig(jac):
    return np.linalg.eigvals(jac).real.max()


# -- Zetterberg-Jansen ----------------------------------------------------------------------------
ZJ = dict(He=3.25, Hi=22.0, ke=100.0, ki=50.0, e0=2.5, v0=6.0, r=0.56, gamma_1=135.0,
          gamma_2=108.0, gamma_3=33.75, gamma_4=33.75, gamma_5=15.0, gamma_1T=1.0,
          gamma_2T=1.0, gamma_3T=1.0, P=120.0, U=120.0, Q=120.0)   # Spiegler 2010 (TVB), in s
ZJ_RATES = ("ke", "ki", "e0", "P", "U", "Q")                         # x 1000 from TVB's ms


def _zj_fixed_points(p):
    """Rest states of the paper's 12 equations (Spiegler et al. 2010; all y_k and derivatives
    zero, each kernel at its static gain H / k; the lone column receives S(0) through its
    long-range input), as the values of v6 = v2 - v3: the roots x of
    x = v2(x) - v3(z(x)) with z = v4 - v5 solved for each x (z + v5(z) increases in z)."""
    S = lambda v: 2 * p["e0"] / (1 + np.exp(p["r"] * (p["v0"] - v)))  # noqa: E731
    ge, gi, ext = p["He"] / p["ke"], p["Hi"] / p["ki"], S(0.0)

    def z_of(x):                       # z = v4 - v5, v4 = ge (g3 S(x) + Q), v5 = gi g5 S(z)
        v4 = ge * (p["gamma_3"] * S(x) + p["gamma_3T"] * (p["Q"] + ext))
        return brentq(lambda z: v4 - gi * p["gamma_5"] * S(z) - z, -1e3, 1e3, xtol=1e-14)

    def residual(x):
        v1 = ge * (p["gamma_1"] * S(x) + p["gamma_1T"] * (p["U"] + ext))
        v2 = ge * (p["gamma_2"] * S(v1) + p["gamma_2T"] * (p["P"] + ext))
        return v2 - gi * p["gamma_4"] * S(z_of(x)) - x
    grid = np.linspace(-50.0, 50.0, 2001)
    values = np.array([residual(x) for x in grid])
    return [brentq(residual, a, b, xtol=1e-14) for a, b, fa, fb in
            zip(grid[:-1], grid[1:], values[:-1], values[1:]) if fa * fb < 0]


ZJ_LIT = {   # members of one batch: name -> parameters (our units, Hz)
    "default": {},
    "low_input": {"P": 10.0, "U": 10.0, "Q": 10.0},
    "jr_limit_150": {"gamma_5": 0.0, "U": 0.0, "Q": 0.0, "P": 150.0},
    "jr_limit_220": {"gamma_5": 0.0, "U": 0.0, "Q": 0.0, "P": 220.0},
}


@pytest.fixture(scope="module")
def zj_literature():
    net = _network("zetterberg_jansen", np.zeros((1, 1)))
    runs = rb.simulate(net, 4.0, 1e-4, integrator="euler", record=["col.v6", "col.v5"],
                       params=[{f"col.{k}": v for k, v in m.items()} for m in ZJ_LIT.values()],
                       sampling_rate=1000.0)
    return dict(zip(ZJ_LIT, runs))


@pytest.mark.parametrize("member", ["default", "low_input"])
def test_zetterberg_jansen_rest_state_is_the_papers_fixed_point(zj_literature, member):
    """Spiegler et al. 2010's column with its default constants (gamma_5 = 15, ke != ki) rests:
    the simulated state is the fixed point of the paper's equations solved with scipy."""
    v6 = zj_literature[member]["col.v6"][:, 0]
    assert np.ptp(v6[-1000:]) < 1e-8
    assert np.abs(zj_literature[member]["col.v5"][-1, 0]) > 0.1      # the self-inhibition acts
    roots = _zj_fixed_points({**ZJ, **ZJ_LIT[member]})
    assert min(abs(v6[-1] - x) for x in roots) <= 1e-8 * abs(v6[-1])


@pytest.mark.parametrize("member", ["jr_limit_150", "jr_limit_220"])
def test_zetterberg_jansen_alpha_rhythm_in_jansen_rit_limit(zj_literature, member):
    """Without self-inhibition and interneuron inputs (gamma_5 = 0, U = Q = 0) the model is
    Jansen & Rit's (1995), which Spiegler et al. 2010 extend: alpha waves (8-13 Hz) of a few mV
    for P = 150-220 Hz."""
    v6 = zj_literature[member]["col.v6"][2000:, 0]
    assert 1.0 < np.ptp(v6) < 15.0
    assert 8.0 <= _peak_hz(v6, 1000.0) <= 13.0


def _zj_params(peer, key):
    """Our parameters (Hz, 1/s) from the TVB ones stored for ``key`` (ms units)."""
    out = {}
    for name, value in ast.literal_eval(str(peer[f"{key}_params"])).items():
        value = np.asarray(value) * (1000.0 if name in ZJ_RATES else 1.0)
        out[f"col.{name}"] = value if value.size > 1 else float(value[0])
    return out


@pytest.mark.parametrize("case", ["single", "network"])
def test_zetterberg_jansen_matches_tvb(case):
    peer = _peer("zetterberg_jansen_tvb")
    W, D = _case(peer, case)
    members = ("jr_limit", "equal_rates")
    G = float(peer[f"{case}_global_coupling"])
    scale = {f"y{k}": 1000.0 for k in range(1, 6)}
    runs = rb.simulate(_network("zetterberg_jansen", W, D, G), float(peer["duration"]),
                       float(peer["dt"]), integrator="euler",
                       params=[_zj_params(peer, f"{case}_{m}") for m in members],
                       initial_state=_init(peer, f"{case}_{members[0]}", "col", scale),
                       sampling_rate=1.0 / (float(peer["dt"]) * int(peer[f"{case}_every"])))
    for member, res in zip(members, runs):
        _assert_matches_peer(res, peer, f"{case}_{member}", "col", scale)


# -- Coombes-Byrne --------------------------------------------------------------------------------
CB = dict(Delta=0.5, alpha=0.95, v_syn=-10.0, k=1.0)      # the paper's / TVB's defaults


def _cb_fixed_point(eta, p=CB):
    """(r, V, g, q) at rest from the paper's equations: g = k pi r, q = 0,
    V = (g r - Delta / pi) / (2 r), and dV/dt = 0 solved for r."""
    def state(r):
        g = p["k"] * np.pi * r
        return np.array([r, (g * r - p["Delta"] / np.pi) / (2 * r), g, 0.0])

    def dV(r):
        _, V, g, _ = state(r)
        return V ** 2 - np.pi ** 2 * r ** 2 + eta + (p["v_syn"] - V) * g
    return state(brentq(dV, 1e-6, 100.0))


def _cb_jacobian(x, p=CB):
    r, V, g, q = x
    a, k, vs = p["alpha"], p["k"], p["v_syn"]
    return np.array([[2 * V - g, 2 * r, -r, 0.0],
                     [-2 * np.pi ** 2 * r, 2 * V - g, vs - V, 0.0],
                     [0.0, 0.0, 0.0, a],
                     [a * k * np.pi, 0.0, -a, -2 * a]])


CB_ETAS = (2.0, 10.0, 20.0, 30.0)


@pytest.fixture(scope="module")
def cb_literature():
    """dt = 1 us: at eta = 30 the fixed point's fast pair (-0.07 +- 4.4i /ms) needs
    dt < 7 us for Euler to damp it."""
    runs = rb.simulate(_network("coombes_byrne", np.zeros((1, 1))), 0.3, 1e-6,
                       integrator="euler", params=[{"p.eta": eta} for eta in CB_ETAS],
                       record=["p.r", "p.V"], sampling_rate=2000.0)
    return dict(zip(CB_ETAS, runs))


def test_coombes_byrne_hopf_points_from_the_paper_equations():
    """The rest state of the single population loses stability in two Hopf bifurcations of
    eta (Coombes & Byrne 2019: oscillations of the single population arise through Hopf
    bifurcations); with the default constants at eta ~ 3.93 and ~ 23.40 (the template says so)."""
    growth = lambda eta: _max_real_eig(_cb_jacobian(_cb_fixed_point(eta)))  # noqa: E731
    assert growth(2.0) < 0 < growth(10.0) and growth(20.0) > 0 > growth(30.0)
    assert brentq(growth, 2.0, 10.0) == pytest.approx(3.93, abs=0.01)
    assert brentq(growth, 20.0, 30.0) == pytest.approx(23.40, abs=0.01)


def test_coombes_byrne_regimes(cb_literature):
    """Outside the Hopf points the simulation rests on the paper's fixed point; between them
    (TVB's default eta = 20 included) it oscillates."""
    for eta in (2.0, 30.0):
        res = cb_literature[eta]
        np.testing.assert_allclose([res["p.r"][-1, 0], res["p.V"][-1, 0]],
                                   _cb_fixed_point(eta)[:2], rtol=1e-6)
    for eta in (10.0, 20.0):
        r = cb_literature[eta]["p.r"][300:, 0]
        assert np.ptp(r) > 0.5 and r.min() > 0


@pytest.mark.parametrize("case", ["single", "network"])
def test_coombes_byrne_matches_tvb(case):
    peer = _peer("coombes_byrne_tvb")
    W, D = _case(peer, case)
    eta = peer[f"{case}_eta"]
    res = rb.simulate(_network("coombes_byrne", W, D, float(peer[f"{case}_global_coupling"])),
                      float(peer["duration"]), float(peer["dt"]), integrator="euler",
                      params={"p.eta": eta if eta.size > 1 else float(eta[0])},
                      initial_state=_init(peer, case, "p"),
                      sampling_rate=1.0 / (float(peer["dt"]) * int(peer["every"])))
    _assert_matches_peer(res, peer, case, "p")


# -- QIF with spike-frequency adaptation ----------------------------------------------------------
SFA = dict(Delta=2.0, J=15.0 * np.sqrt(2.0), alpha=1.0, tau_a=10.0)   # tau = 1 ms


def _sfa_fixed_point(eta, p=SFA):
    """(r, v, a, x) at rest from the paper's equations (tau = 1, I = 0): v = -Delta / (2 pi r),
    a = alpha tau_a r, x = 0, and dv/dt = 0 solved for r (one root for these eta)."""
    def state(r):
        return np.array([r, -p["Delta"] / (2 * np.pi * r), p["alpha"] * p["tau_a"] * r, 0.0])

    def dv(r):
        _, v, a, _ = state(r)
        return v ** 2 + eta + p["J"] * r - a - np.pi ** 2 * r ** 2
    return state(brentq(dv, 1e-4, 100.0))


def _sfa_jacobian(x, p=SFA):
    r, v, _, _ = x
    ta = p["tau_a"]
    return np.array([[2 * v, 2 * r, 0.0, 0.0],
                     [p["J"] - 2 * np.pi ** 2 * r, 2 * v, -1.0, 0.0],
                     [0.0, 0.0, 0.0, 1 / ta],
                     [p["alpha"], 0.0, -1 / ta, -2 / ta]])


SFA_ETAS = (-6.0, -2.0, 1.0, 3.0)


@pytest.fixture(scope="module")
def sfa_literature():
    """A batch of eta from the template's initial state, and two regions started 1 % off
    their fixed points (eta = 1 and -2)."""
    net = _network("qif_sfa", np.zeros((1, 1)))
    runs = rb.simulate(net, 0.4, 1e-5, integrator="euler", record=["p.r"],
                       params=[{"p.eta": eta} for eta in SFA_ETAS], sampling_rate=1000.0)
    etas = np.array([1.0, -2.0])
    start = 1.01 * np.array([_sfa_fixed_point(eta) for eta in etas])
    near = rb.simulate(_network("qif_sfa", np.zeros((2, 2))), 0.4, 1e-5, integrator="euler",
                       params={"p.eta": etas}, record=["p.r"], sampling_rate=1000.0,
                       initial_state={f"p.{s}": start[:, k] for k, s in enumerate("rvax")})
    return dict(zip(SFA_ETAS, runs)), near["p.r"]


def test_qif_sfa_hopf_points_from_the_paper_equations():
    """The steady state of the SFA mean field is unstable between two Hopf bifurcations of
    eta, ~ -4.04 and ~ -0.53 with the paper's Delta = 2, J = 15 sqrt(2), alpha = 1,
    tau_a = 10 (the template says so)."""
    growth = lambda eta: _max_real_eig(_sfa_jacobian(_sfa_fixed_point(eta)))  # noqa: E731
    assert growth(-6.0) < 0 < growth(-2.0) and growth(1.0) < 0
    assert brentq(growth, -6.0, -2.0) == pytest.approx(-4.04, abs=0.01)
    assert brentq(growth, -2.0, 1.0) == pytest.approx(-0.53, abs=0.01)


def test_qif_sfa_bursting_and_bistability(sfa_literature):
    """Gast et al. 2020: SFA makes the population burst, and bursting coexists with the
    steady state (bistability). Outside the bursting range the simulation rests on the
    equations' fixed point; inside the unstable range it bursts; at eta = 1 (stable fixed
    point) it bursts from the template's initial state but returns to rest from near it."""
    runs, near = sfa_literature
    for eta in (-6.0, 3.0):
        np.testing.assert_allclose(runs[eta]["p.r"][-1, 0], _sfa_fixed_point(eta)[0],
                                   rtol=1e-6)
    for eta in (-2.0, 1.0):
        r = runs[eta]["p.r"][200:, 0]
        assert r.max() > 2.0 and r.min() < 0.2           # bursts of firing, near-silent between
    np.testing.assert_allclose(near[-1, 0], _sfa_fixed_point(1.0)[0], rtol=1e-6)
    assert near[200:, 1].max() > 2.0                     # eta = -2: pushed off, it bursts


@pytest.mark.parametrize("peer_name, case", [("qif_sfa_tvb", "single"),
                                             ("qif_sfa_tvb", "network"),
                                             ("qif_sfa_pyrates", "single")])
def test_qif_sfa_matches_peers(peer_name, case):
    peer = _peer(peer_name)
    W, D = _case(peer, case)
    eta = peer[f"{case}_eta"]
    G = float(peer[f"{case}_global_coupling"]) if case == "network" else 1.0
    res = rb.simulate(_network("qif_sfa", W, D, G), float(peer["duration"]),
                      float(peer["dt"]), integrator="euler",
                      params={"p.eta": eta if eta.size > 1 else float(eta[0])},
                      initial_state=_init(peer, case, "p"),
                      sampling_rate=1.0 / (float(peer["dt"]) * int(peer["every"])))
    _assert_matches_peer(res, peer, case, "p")
