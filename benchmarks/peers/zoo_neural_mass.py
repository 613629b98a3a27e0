#!/usr/bin/env python
"""Reference trajectories for the zetterberg_jansen, coombes_byrne and qif_sfa templates.

Runs TVB 2.10 (``tvb.simulator``) with ``EulerDeterministic`` and a ``Raw`` monitor, and
PyRates 1.2.3 (its ``euler`` solver, ``default`` backend, at a fixed step) for qif_sfa; both
are GPL, imported at run time only, nothing copied. Writes ``tests/data/zoo/<model>_<peer>.npz``
(read by ``tests/test_zoo_neural_mass.py``): one isolated region and a 3-region network with
conduction delays per model, each with one or two parameter sets ("members").

Conventions, converted so that rate_bridge's templates see the same system:

* Time: TVB and PyRates in ms. zetterberg_jansen is written in s: its rates (ke, ki, e0, P, U,
  Q) are TVB's times 1000 and its y1-y5 (mV/s) are TVB's (mV/ms) times 1000; the files keep
  TVB's units. coombes_byrne and qif_sfa are in ms like the peers.
* Weights are ``weights[target, source]`` in all, exact in float32 (TVB's sparse history keeps
  them in float32). Delays: tract lengths (mm) at 1 mm/ms, whole
  multiples of dt. Linear coupling ``a`` = our ``global_coupling``.
* Initial state: a constant history (TVB ``initial_conditions`` over the whole horizon) equal
  to the initial state, as rate_bridge's default history.
* Sample i is the state at t = i * every * dt: TVB's Raw output k is the state after k + 1
  steps (every ``every``-th is kept and the initial state prepended); PyRates' output starts at
  t = 0.
* TVB 2.10's ZetterbergJansen integrates v5 with ke^2 where the inhibitory kernel (and our
  template) has ki^2 (derivative[9]); the two agree exactly where that term does not act, so
  its reference runs use gamma_5 = 0 (v5 = 0 throughout) or ke = ki.
* TVB's GastSchmidtKnosche_SF writes alpha for our alpha * tau_a (its B is our x).
* Precision: TVB keeps its history buffer (hence every delayed coupled value) in float32, so
  coupled runs agree with an exact Euler to ~5e-8 of their range, uncoupled ones to ~1e-14.

Run (from the repository root):

    /work/peers_venv/bin/python benchmarks/peers/zoo_neural_mass.py
"""
import importlib.metadata as im
import os
import warnings

import numpy as np
from _peer_common import run_tvb

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "zoo")
# 3-region network: weights[target, source] and delays (ms) = tract lengths (mm) at 1 mm/ms.
# The weights are exact in float32: TVB's sparse history (used by its Linear coupling) stores
# them as float32, which with 0.8 or 0.3 changes trajectories by ~1e-7 relative.
WEIGHTS = np.array([[0.0, 0.75, 0.25],
                    [0.5, 0.0, 1.0],
                    [0.125, 0.625, 0.0]])
DELAYS_MS = np.array([[0.0, 2.0, 5.0],
                      [1.0, 0.0, 3.0],
                      [4.0, 0.5, 0.0]])
SINGLE = (np.zeros((1, 1)), np.zeros((1, 1)))


def _tvb(model, G, weights, delays_ms, init, dt, duration, every):
    """Run TVB with linear coupling G; ``init`` is (n_svar, n_regions). Returns (n_samples,
    n_svar, n_regions)."""
    from tvb.simulator import coupling
    kept = run_tvb(model, coupling.Linear(a=np.array([G]), b=np.array([0.0])), weights,
                   delays_ms, init, dt, duration, every)
    assert np.isfinite(kept).all(), f"{type(model).__name__} diverged"
    return kept


def _save(name, peer, states, runs, meta):
    """``runs``: {case: (trajectory (n_t, n_svar, n_regions), init (n_svar, n_regions))}."""
    path = os.path.join(OUT, f"{name}_{peer}.npz")
    arrays = {}
    for case, (traj, init) in runs.items():
        for k, var in enumerate(states):
            arrays[f"{case}_{var}"] = traj[:, k, :]
            arrays[f"{case}_init_{var}"] = init[k]
    package = {"tvb": "tvb-library", "pyrates": "pyrates"}[peer]
    np.savez_compressed(path, peer=package, peer_version=im.version(package),
                        states=np.array(states), weights=WEIGHTS, delays=DELAYS_MS * 1e-3,
                        **meta, **arrays)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) / 1e3:.1f} kB)")


# -- Zetterberg-Jansen ------------------------------------------------------------------------
ZJ_STATES = ["v1", "y1", "v2", "y2", "v3", "y3", "v4", "y4", "v5", "y5", "v6", "v7"]
# members, in TVB's units (ms, 1/ms); "network" members get per-region P
ZJ_MEMBERS = {
    # Jansen-Rit limit (gamma_5 = 0, U = Q = 0): alpha oscillation; v5 stays 0
    "jr_limit": {"gamma_5": 0.0, "U": 0.0, "Q": 0.0, "P": 0.22},
    # all five kernels and the self-inhibition, with ke = ki (where TVB's v5 term is exact)
    "equal_rates": {"ke": 0.1, "ki": 0.1},
}
ZJ_NETWORK = {"G": 0.5, "gamma_T": 10.0, "P_scale": np.array([0.9, 1.0, 1.2])}
ZJ_DT, ZJ_DURATION = 0.1, 500.0


def _zj_model(member, network):
    from tvb.simulator import models
    p = dict(ZJ_MEMBERS[member])
    gT = ZJ_NETWORK["gamma_T"] if network else 1.0
    kw = {key: np.atleast_1d(np.asarray(value, float)) for key, value in p.items()}
    for key in ("P", "U", "Q"):     # the extrinsic inputs enter as gamma_T * input
        base = kw.get(key, np.array([0.12]))
        scale = ZJ_NETWORK["P_scale"] if network and key == "P" else 1.0
        kw[key] = base * scale / gT
    for key in ("gamma_1T", "gamma_2T", "gamma_3T"):
        kw[key] = np.array([gT])
    return models.ZetterbergJansen(**kw), {k: v.tolist() for k, v in kw.items()}


def zetterberg_jansen():
    runs, meta = {}, {}
    for case, (W, D), every in (("single", SINGLE, 20), ("network", (WEIGHTS, DELAYS_MS), 40)):
        n = W.shape[0]
        for member in ZJ_MEMBERS:
            model, kw = _zj_model(member, case == "network")
            init = np.zeros((12, n))
            G = ZJ_NETWORK["G"] if case == "network" else 0.0
            traj = _tvb(model, G, W, D, init, ZJ_DT, ZJ_DURATION, every)
            runs[f"{case}_{member}"] = (traj, init)
            meta[f"{case}_{member}_params"] = repr(kw)
            meta[f"{case}_every"] = every
            meta[f"{case}_global_coupling"] = G
    notes = ("TVB ZetterbergJansen (time in ms; rates in 1/ms; y in mV/ms), defaults He=3.25, "
             "Hi=22, ke=0.1, ki=0.05, e0=0.0025, rho_1=0.56, rho_2=6, gamma_1..5 = 135, 108, "
             "33.75, 33.75, 15, gamma_xT=1, P=U=Q=0.12, overridden per member as in "
             "<case>_<member>_params. Ours (time in s): ke, ki, e0, P, U, Q times 1000, y1-y5 "
             "times 1000; rho_1 = r, rho_2 = v0. Coupling Linear(a=G, b=0) on v6 = our linear "
             "coupling col.v6 -> col.c with global_coupling=G. The network multiplies gamma_1T, "
             "gamma_2T, gamma_3T by 10 (and divides P, U, Q by 10) so that the long-range rate "
             "S(c) matters, and scales P per region. Initial state 0.")
    _save("zetterberg_jansen", "tvb", ZJ_STATES, runs,
          {"peer_model": "ZetterbergJansen", "integrator": "EulerDeterministic",
           "dt": ZJ_DT * 1e-3, "duration": ZJ_DURATION * 1e-3, "notes": notes, **meta})


# -- Coombes-Byrne ----------------------------------------------------------------------------
CB_STATES = ["r", "V", "g", "q"]
CB_DT, CB_DURATION, CB_EVERY = 0.01, 100.0, 50
# near the default limit cycle (Euler at this dt blows up from r = 0.1, V = 0, g = 0)
CB_INIT = {"single": [[0.5], [-1.0], [1.5], [0.0]],
           "network": [[0.5, 0.3, 1.0], [-1.0, -2.0, 0.0], [1.5, 1.0, 2.0], [0.0, 0.1, -0.1]]}
CB_ETA = {"single": np.array([20.0]), "network": np.array([5.0, 12.0, 20.0])}
CB_G = {"single": 0.0, "network": 2.0}


def coombes_byrne():
    from tvb.simulator import models
    runs = {}
    for case, (W, D) in (("single", SINGLE), ("network", (WEIGHTS, DELAYS_MS))):
        init = np.array(CB_INIT[case])
        model = models.CoombesByrne(Delta=np.array([0.5]), alpha=np.array([0.95]),
                                    v_syn=np.array([-10.0]), k=np.array([1.0]),
                                    eta=CB_ETA[case])
        runs[case] = (_tvb(model, CB_G[case], W, D, init, CB_DT, CB_DURATION, CB_EVERY), init)
    notes = ("TVB CoombesByrne (4-D; time in ms as ours) with Delta=0.5, alpha=0.95, "
             "v_syn=-10, k=1, eta per region (<case>_eta); Linear(a=G, b=0) on r into dV/dt = "
             "our linear coupling p.r -> p.I with global_coupling=G. TVB clamps r >= 0 (never "
             "reached here).")
    _save("coombes_byrne", "tvb", CB_STATES, runs,
          {"peer_model": "CoombesByrne", "integrator": "EulerDeterministic", "dt": CB_DT * 1e-3,
           "duration": CB_DURATION * 1e-3, "every": CB_EVERY, "notes": notes,
           "single_eta": CB_ETA["single"], "network_eta": CB_ETA["network"],
           "single_global_coupling": CB_G["single"], "network_global_coupling": CB_G["network"]})


# -- QIF with spike-frequency adaptation ------------------------------------------------------
SFA_STATES = ["r", "v", "a", "x"]
SFA = {"Delta": 2.0, "J": 15.0 * np.sqrt(2.0), "tau": 1.0, "tau_a": 10.0, "alpha": 1.0}
SFA_DT, SFA_DURATION, SFA_EVERY = 0.01, 100.0, 100
SFA_INIT = {"single": [[0.01], [-2.0], [0.0], [0.0]],
            "network": [[0.01, 0.5, 1.0], [-2.0, -1.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.5, 0.0]]}
SFA_ETA = {"single": np.array([1.0]), "network": np.array([-2.0, 0.0, 1.0])}
SFA_G = {"single": 0.0, "network": 0.5}


def qif_sfa_tvb():
    from tvb.simulator import models
    runs = {}
    for case, (W, D) in (("single", SINGLE), ("network", (WEIGHTS, DELAYS_MS))):
        init = np.array(SFA_INIT[case])
        model = models.GastSchmidtKnosche_SF(
            tau=np.array([SFA["tau"]]), tau_A=np.array([SFA["tau_a"]]),
            alpha=np.array([SFA["alpha"] * SFA["tau_a"]]), I=np.array([0.0]),
            Delta=np.array([SFA["Delta"]]), J=np.array([SFA["J"]]), eta=SFA_ETA[case],
            cr=np.array([1.0]), cv=np.array([0.0]))
        runs[case] = (_tvb(model, SFA_G[case], W, D, init, SFA_DT, SFA_DURATION, SFA_EVERY),
                      init)
    notes = ("TVB GastSchmidtKnosche_SF (time in ms as ours), tau=1, tau_A=10, alpha=10 "
             "(= our alpha * tau_a, alpha=1), Delta=2, J=15 sqrt(2), I=0, cr=1, cv=0, eta per "
             "region (<case>_eta); states r, V, A, B = our r, v, a, x. Linear(a=G, b=0) on r "
             "= our linear coupling p.r -> p.I with global_coupling=G. TVB clamps r >= 0 "
             "(never reached here).")
    _save("qif_sfa", "tvb", SFA_STATES, runs,
          {"peer_model": "GastSchmidtKnosche_SF", "integrator": "EulerDeterministic",
           "dt": SFA_DT * 1e-3, "duration": SFA_DURATION * 1e-3, "every": SFA_EVERY,
           "notes": notes, "single_eta": SFA_ETA["single"], "network_eta": SFA_ETA["network"],
           "single_global_coupling": SFA_G["single"],
           "network_global_coupling": SFA_G["network"]})


def qif_sfa_pyrates():
    """PyRates' own qif_sfa circuit (one population, self-edge weight J) with our values."""
    from pyrates import CircuitTemplate
    op = "p/qif_sfa_op/"
    circuit = CircuitTemplate.from_yaml("model_templates.neural_mass_models.qif.qif_sfa")
    init = np.array(SFA_INIT["single"])
    node_vars = {op + "Delta": SFA["Delta"], op + "tau": SFA["tau"], op + "tau_a": SFA["tau_a"],
                 op + "alpha": SFA["alpha"], op + "eta": float(SFA_ETA["single"][0])}
    node_vars.update({op + var: float(init[k, 0]) for k, var in enumerate(SFA_STATES)})
    circuit.update_var(node_vars=node_vars,
                       edge_vars=[(op + "r", op + "r_in", {"weight": SFA["J"]})])
    res = circuit.run(simulation_time=SFA_DURATION, step_size=SFA_DT, solver="euler",
                      backend="default", sampling_step_size=SFA_DT * SFA_EVERY,
                      outputs={var: op + var for var in SFA_STATES}, float_precision="float64",
                      clear=True, verbose=False)
    # sample i at t = i * every * dt, from t = 0 (PyRates stops one sample before duration)
    traj = np.stack([res[var].to_numpy() for var in SFA_STATES], axis=1)[:, :, np.newaxis]
    assert np.isfinite(traj).all(), "PyRates qif_sfa diverged"
    notes = ("PyRates model_templates.neural_mass_models.qif.qif_sfa (time in ms as ours), "
             "solver='euler' (fixed step), backend='default', float64, with Delta=2, tau=1, "
             "tau_a=10, alpha=1, eta=<single_eta> and the self-edge r -> r_in weight J = 15 "
             "sqrt(2) (PyRates' J); its variables r, v, a, x = ours.")
    _save("qif_sfa", "pyrates", SFA_STATES, {"single": (traj, init)},
          {"peer_model": "qif_sfa", "integrator": "euler", "dt": SFA_DT * 1e-3,
           "duration": SFA_DURATION * 1e-3, "every": SFA_EVERY, "notes": notes,
           "single_eta": SFA_ETA["single"]})


def main():
    warnings.filterwarnings("ignore")
    os.makedirs(OUT, exist_ok=True)
    zetterberg_jansen()
    coombes_byrne()
    qif_sfa_tvb()
    qif_sfa_pyrates()


if __name__ == "__main__":
    main()
