#!/usr/bin/env python
"""Reference trajectories of the peers for the oscillator templates of the model zoo.

* generic_2d_oscillator, larter_breakspear, epileptor: TVB 2.10 (``tvb.simulator.models``
  ``Generic2dOscillator``, ``LarterBreakspear``, ``Epileptor``), ``EulerDeterministic``;
* fitzhugh_nagumo: neurolib 0.6.2 (``FHNModel``, its own Euler loop).

Each model runs deterministically at dt = 0.1 ms for one isolated region and for a 4-region
network with conduction delays, and the states are written to
``tests/data/zoo/<model>_<peer>.npz`` (read by ``tests/test_zoo_oscillators.py``). The peers
are GPL: they are imported at run time only, nothing of them is copied.

Conventions, converted so that rate_bridge's templates see the same system:

* Time: the peers and our four templates count time in ms; rate_bridge's API takes s, so the
  files store ``dt``, ``time`` and ``delays`` in s.
* Weights are ``weights[target, source]`` in every code. Delays are tract lengths (mm) at
  1 mm/ms (TVB) or signalV = 1 m/s (neurolib), whole multiples of dt, so the delays in steps
  are exact. The diagonal is zero (neurolib zeroes it anyway).
* Initial state: a constant history equal to the initial state (TVB ``initial_conditions``
  over the whole horizon; neurolib ``xs_init`` of shape (N, 1)); rate_bridge's default.
* Output k of TVB's Raw monitor (and of neurolib) is the state after k + 1 steps; we keep
  every EVERY-th and prepend the initial state, so sample i is at t = i * EVERY * dt.
* TVB 2.10 stores its delay history and sparse weights in float32; the TVB runs here set
  those arrays to float64 (``_tvb_history_in_float64``), so that they test the equations.
* The coupling and parameter conversions of each model are in its ``notes`` string.

Run (from the repository root):

    /work/peers_venv/bin/python benchmarks/peers/zoo_oscillators.py
"""
import importlib.metadata as im
import json
import os
import warnings

import numpy as np
from _peer_common import run_tvb

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "zoo")
DT_MS = 0.1
# 4-region network: weights[target, source]; delays (ms) = tract lengths (mm) at 1 mm/ms
WEIGHTS = np.array([[0.0, 0.8, 0.3, 0.0],
                    [0.5, 0.0, 1.0, 0.4],
                    [0.2, 0.6, 0.0, 0.7],
                    [0.9, 0.0, 0.5, 0.0]])
DELAYS_MS = np.array([[0.0, 2.0, 5.0, 0.0],
                      [1.0, 0.0, 3.0, 1.5],
                      [4.0, 0.5, 0.0, 2.5],
                      [3.5, 0.0, 1.0, 0.0]])
ZERO = np.zeros((1, 1))


def _tvb_history_in_float64():
    """TVB 2.10 keeps its delay history and its sparse weights in float32 (NDArray descriptors
    of dtype 'f' in tvb.simulator.history): delayed coupling terms carry a relative rounding
    of ~6e-8, which grows into deviations of 1e-9 (G2D) up to O(1) (chaotic LB, Epileptor) over
    a run. The references are about the equations, so these descriptors are set to float64
    (nothing else changes; TVB's own code is untouched)."""
    from tvb.simulator import descriptors, history
    for cls in (history.BaseHistory, history.DenseHistory, history.SparseHistory):
        for attr in vars(cls).values():
            if isinstance(attr, descriptors.NDArray) and np.dtype(attr.dtype) == np.float32:
                attr.dtype = "d"


def _tvb(model, cpl, weights, delays_ms, init, duration_ms, every):
    """Run TVB; ``init`` is (n_svar, n_regions). Returns (n_samples, n_svar, n_regions)."""
    return run_tvb(model, cpl, weights, delays_ms, init, DT_MS, duration_ms, every)


def _save(name, peer, peer_model, states, runs, every, meta):
    """``runs``: case -> (trajectory (n_t, n_svar, n), init (n_svar, n), params dict)."""
    path = os.path.join(OUT, f"{name}_{peer}.npz")
    arrays = {}
    for case, (traj, init, params) in runs.items():
        for k, var in enumerate(states):
            arrays[f"{case}_{var}"] = traj[:, k, :]
            arrays[f"{case}_init_{var}"] = init[k]
        arrays[f"{case}_params"] = json.dumps(params)
    n_t = next(iter(runs.values()))[0].shape[0]
    package = {"tvb": "tvb-library", "neurolib": "neurolib"}[peer]
    np.savez_compressed(
        path, peer=package, peer_version=im.version(package), peer_model=peer_model,
        integrator="Euler (deterministic)", dt=DT_MS * 1e-3,
        time=np.arange(n_t) * every * DT_MS * 1e-3, weights=WEIGHTS, delays=DELAYS_MS * 1e-3,
        states=np.array(states), **{k: v for k, v in meta.items()}, **arrays)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) / 1e3:.1f} kB)")


def generic_2d():
    """TVB defaults (a = -2, excitable) alone; a = 2 (oscillating) in the network; G = 0.1."""
    from tvb.simulator import coupling, models
    G, every, duration = 0.1, 20, 1000.0
    runs = {}
    for case, W, D, init, a in (("single", ZERO, ZERO, [[1.5], [-3.0]], -2.0),
                                ("network", WEIGHTS, DELAYS_MS,
                                 [[1.0, -0.5, 2.0, 0.2], [-2.0, 1.0, -4.0, 0.5]], 2.0)):
        init = np.array(init)
        model = models.Generic2dOscillator(a=np.array([a]))
        traj = _tvb(model, coupling.Linear(a=np.array([G]), b=np.array([0.0])), W, D, init,
                    duration, every)
        runs[case] = (traj, init, {"g2d.a": a, "global_coupling": G if case == "network" else 0.0})
    notes = ("TVB Generic2dOscillator with its defaults (tau=1, I=0, b=-10, c=0, d=0.02, e=3, "
             "f=1, g=0, alpha=beta=gamma=1) except a; TVB's e and c are our e2 and c2. "
             "Coupling Linear(a=G, b=0) on V = our linear coupling V -> c with "
             "global_coupling=G (TVB adds gamma*c_0 to V's right-hand side, we gamma*(I + c)).")
    _save("generic_2d_oscillator", "tvb", "Generic2dOscillator", ["V", "W"], runs, every,
          {"notes": notes, "global_coupling": G})


def larter_breakspear():
    """TVB defaults (the paper's set, d_V = 0.65); row-normalised weights, C = 0.1."""
    from tvb.simulator import coupling, models
    every, duration = 20, 1000.0
    W_norm = WEIGHTS / WEIGHTS.sum(axis=1, keepdims=True)
    runs = {}
    for case, W, D, init in (("single", ZERO, ZERO, [[0.1], [0.3], [0.05]]),
                             ("network", W_norm, DELAYS_MS,
                              [[-0.2, 0.1, 0.3, 0.0], [0.2, 0.3, 0.25, 0.1],
                               [0.1, 0.0, 0.05, 0.15]])):
        init = np.array(init)
        model = models.LarterBreakspear()
        # pre-summation a (1 + tanh((b V_j - midpoint) / sigma)) = QV_j of the source
        cpl = coupling.HyperbolicTangent(a=np.array([0.5]), b=np.array([1.0]),
                                         midpoint=np.array([0.0]), sigma=np.array([0.65]))
        traj = _tvb(model, cpl, W, D, init, duration, every)
        runs[case] = (traj, init, {"global_coupling": 1.0})
    notes = ("TVB LarterBreakspear with its defaults (gCa=1.1, gK=2, gL=0.5, gNa=6.7, phi=0.7, "
             "TK=0, TCa=-0.01, TNa=0.3, VCa=1, VK=-0.7, VL=-0.5, VNa=0.53, d_K=0.3, tau_K=1, "
             "d_Na=d_Ca=0.15, aei=aie=2, b=0.1, C=0.1, ane=1, ani=0.4, aee=0.4, Iext=0.3, "
             "rNMDA=0.25, VT=0, d_V=0.65, ZT=0, d_Z=0.7, QV_max=QZ_max=1, t_scale=1). Coupling "
             "HyperbolicTangent(a=0.5, b=1, midpoint=VT=0, sigma=d_V=0.65) on V, i.e. "
             "sum_j w_ij QV(V_j) = <QV>, = our linear coupling QV -> QV_mean with "
             "global_coupling=1; weights (stored) row-normalised so the sum is the mean.")
    _save("larter_breakspear", "tvb", "LarterBreakspear", ["V", "W", "Z"], runs, every,
          {"notes": notes, "weights_used": W_norm})


def epileptor():
    """Paper parameters (TVB defaults), x0 per region; permittivity coupling K = 0.5."""
    from tvb.simulator import coupling, models
    K, every, duration = 0.5, 20, 1000.0
    x0 = {"single": np.array([-1.6]), "network": np.array([-1.6, -2.2, -1.8, -2.4])}
    # interictal states shortly before a seizure onset (x1 < 0, x2 < -0.25); the run covers
    # the onset and the first ictal discharges (both branches of f1 and f2) and stops before
    # the offset, whose timing is sensitive to rounding (the ictal discharges are chaotic)
    near_onset = [-1.4342, -9.3057, 2.9136, -0.7638, 0.0, -0.153574]
    runs = {}
    for case, W, D, init in (
            ("single", ZERO, ZERO, np.array(near_onset)[:, None]),
            ("network", WEIGHTS, DELAYS_MS,
             np.array([near_onset, [-1.6, -11.8, 3.2, -0.85, 0.0, -0.16],
                       [-1.55, -11.0, 3.0, -0.8, 0.0, -0.155],
                       [-1.7, -13.4, 3.3, -0.9, 0.0, -0.17]]).T)):
        init = np.array(init)
        model = models.Epileptor(x0=x0[case], Ks=np.array([-1.0]))
        traj = _tvb(model, coupling.Difference(a=np.array([K])), W, D, init, duration, every)
        ours = traj.copy()
        ours[:, 5] *= 1e3                     # our g is TVB's g * 1e3 (paper's integral)
        runs[case] = (ours, init * np.array([1, 1, 1, 1, 1, 1e3])[:, None],
                      {"epi.x0": x0[case].tolist(), "epi.tau0": 1.0 / 0.00035,
                       "global_coupling": K if case == "network" else 0.0})
    notes = ("TVB Epileptor (Jirsa 2014) with its defaults (a=1, b=3, c=1, d=5, r=0.00035, "
             "Iext=3.1, Iext2=0.45, slope=0, aa=6, bb=2, tau=10, Kvf=Kf=0, tt=1, "
             "modification=False) and x0 per region, Ks=-1 with Difference(a=K) coupling on x1 "
             "(Proix 2014 permittivity coupling) = our difference coupling x1 -> K_z with "
             "global_coupling=K; our tau0 = 1/r; stored g (and its initial value) is TVB's g "
             "times 1e3 (our g is the paper's leaky integral of x1, TVB's is 1e-3 of it, "
             "bb * g_TVB = 0.002 g). TVB's -0.1 z^7 term (z < 0) is never active here (z > 2).")
    _save("epileptor", "tvb", "Epileptor", ["x1", "y1", "z", "x2", "y2", "g"], runs, every,
          {"notes": notes, "global_coupling": K})


def fitzhugh_nagumo():
    """The classic form through neurolib's generalised one; I = 0.5 (oscillating); K_gl = 0.3."""
    from neurolib.models.fhn import FHNModel
    I, K, every, duration = 0.5, 0.3, 20, 1000.0
    runs = {}
    for case, W, D, init in (("single", None, None, [[-1.0], [-0.5]]),
                             ("network", WEIGHTS, DELAYS_MS,
                              [[-1.0, 0.5, 1.5, -1.8], [-0.5, 0.0, 0.8, -0.2]])):
        init = np.array(init)
        model = FHNModel(Cmat=W, Dmat=D)
        n = init.shape[1]
        model.params.update(dict(
            dt=DT_MS, duration=duration, alpha=1.0 / 3.0, beta=0.0, gamma=1.0, delta=-0.7,
            epsilon=0.8, tau=12.5, K_gl=K, signalV=1.0, coupling="diffusive", sigma_ou=0.0,
            x_ext=np.full(n, I), y_ext=np.zeros(n), xs_init=init[0][:, None],
            ys_init=init[1][:, None], x_ou=np.zeros(n), y_ou=np.zeros(n)))
        model.run()
        x, y = np.asarray(model.x), np.asarray(model.y)          # (n, n_steps), t = dt...
        traj = np.stack([x, y], axis=0).transpose(2, 0, 1)[every - 1::every]
        traj = np.concatenate([init[np.newaxis], traj], axis=0)
        runs[case] = (traj, init, {"fhn.I": I, "global_coupling": K if n > 1 else 0.0})
    notes = ("neurolib FHNModel dx/dt = -alpha x^3 + beta x^2 + gamma x - y + K_gl sum_j "
             "Cmat_ij (x_j(t - D_ij) - x_i) + x_ext, dy/dt = (x - delta - epsilon y)/tau with "
             "alpha=1/3, beta=0, gamma=1, delta=-a=-0.7, epsilon=b=0.8, tau=12.5 ms, "
             "x_ext=I=0.5, no noise (sigma_ou=0): our classic form with a, b, tau, I and a "
             "difference coupling v -> c with global_coupling=K_gl. Delays: Dmat = lengths "
             "(mm) / signalV (1 m/s) in ms.")
    _save("fitzhugh_nagumo", "neurolib", "fhn (FHNModel)", ["v", "w"], runs, every,
          {"notes": notes, "global_coupling": K})


def main():
    warnings.filterwarnings("ignore")
    os.makedirs(OUT, exist_ok=True)
    _tvb_history_in_float64()
    generic_2d()
    larter_breakspear()
    epileptor()
    fitzhugh_nagumo()


if __name__ == "__main__":
    main()
