#!/usr/bin/env python
"""Reference trajectories from TVB for the reduced Wong-Wang (E and E-I) and Hopf templates.

Runs TVB 2.10 (``tvb.simulator``; GPL, imported at run time only, nothing copied) with
``EulerDeterministic`` at dt = 0.1 ms and a ``Raw`` monitor, for each model: one isolated
region and a 3-region network with conduction delays, and writes
``tests/data/zoo/<model>_tvb.npz`` (read by ``tests/test_zoo_wongwang_hopf.py``).

Conventions, converted so that rate_bridge's templates (time in s) see the same system:

* TVB's time is in ms. Our rates and time constants are in s; parameters given here in TVB's
  units are listed next to ours in each file's ``notes``.
* Weights are ``weights[target, source]`` in both. Delays: tract lengths (mm) at a speed of
  1 mm/ms, chosen as whole multiples of dt, so the delays in steps are exact.
* Initial state: a constant history (TVB ``initial_conditions`` of the full horizon) equal to
  the initial state; rate_bridge's default history (constant at the initial state) matches.
* Hopf: TVB's SupHopf in ms is ours with a, omega, G x 1000 and states x sqrt(1000) (the
  cubic term keeps coefficient 1 in either unit); see ``hopf()``.
* TVB keeps its coupling history and weights in float32: coupled runs agree to ~4e-8 only.
* TVB's Raw monitor output k is the state after k + 1 steps; we keep every 10th (1 ms) and
  prepend the initial state, so sample i is at t = i ms.

Run (from the repository root):

    /work/peers_venv/bin/python benchmarks/peers/zoo_wongwang_hopf.py
"""
import importlib.metadata as im
import os
import warnings

import numpy as np
from _peer_common import run_tvb

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "zoo")
DT_MS = 0.1
EVERY = 10                                            # keep 1 sample per ms
DURATION_MS = 1000.0
# 3-region network: weights[target, source] and delays (ms) = tract lengths (mm) at 1 mm/ms
WEIGHTS = np.array([[0.0, 0.8, 0.3],
                    [0.5, 0.0, 1.0],
                    [0.2, 0.6, 0.0]])
DELAYS_MS = np.array([[0.0, 2.0, 5.0],
                      [1.0, 0.0, 3.0],
                      [4.0, 0.5, 0.0]])


def _simulate(model, cpl, weights, delays_ms, init):
    """Run TVB; ``init`` is (n_svar, n_regions). Returns (n_samples, n_svar, n_regions)."""
    return run_tvb(model, cpl, weights, delays_ms, init, DT_MS, DURATION_MS, EVERY)


def _save(name, model_name, states, runs, notes, extra):
    path = os.path.join(OUT, f"{name}_tvb.npz")
    arrays = {}
    for case, (traj, init) in runs.items():
        for k, var in enumerate(states):
            arrays[f"{case}_{var}"] = traj[:, k, :]
            arrays[f"{case}_init_{var}"] = init[k]
    n_t = next(iter(runs.values()))[0].shape[0]
    np.savez_compressed(
        path, peer="tvb-library", peer_version=im.version("tvb-library"),
        peer_model=model_name, integrator="EulerDeterministic", dt=DT_MS * 1e-3,
        time=np.arange(n_t) * EVERY * DT_MS * 1e-3, weights=WEIGHTS,
        delays=DELAYS_MS * 1e-3, states=np.array(states), notes=notes, **extra, **arrays)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path) / 1e3:.1f} kB)")


def rww():
    """Deco 2013 parameters (ours in s, Hz; TVB in ms, kHz); G = 0.5, bistable regime."""
    from tvb.simulator import coupling, models
    G = 0.5
    runs = {}
    for case, W, D, init in (("single", np.zeros((1, 1)), np.zeros((1, 1)), [[0.6]]),
                             ("network", WEIGHTS, DELAYS_MS, [[0.05, 0.3, 0.6]])):
        init = np.array(init)
        model = models.ReducedWongWang(
            a=np.array([0.270]), b=np.array([0.108]), d=np.array([154.0]),
            gamma=np.array([0.641]), tau_s=np.array([100.0]), w=np.array([0.9]),
            J_N=np.array([0.2609]), I_o=np.array([0.3]))
        traj = _simulate(model, coupling.Linear(a=np.array([G]), b=np.array([0.0])), W, D, init)
        runs[case] = (traj, init)
    notes = ("TVB ReducedWongWang a=0.270 /(nA ms) [ours 270 /nC], b=0.108 kHz [108 Hz], "
             "d=154 ms [0.154 s], gamma=0.641, tau_s=100 ms [0.1 s], w=0.9, J_N=0.2609 nA, "
             "I_o=0.3 nA (Deco 2013; TVB's defaults are w=0.6, I_o=0.33); coupling Linear(a=G, "
             "b=0) = our linear coupling with global_coupling=G; TVB clamps S to [0, 1] "
             "(never reached here)")
    _save("reduced_wong_wang", "ReducedWongWang", ["S"], runs, notes,
          {"global_coupling": G})


def rww_ei():
    """Deco 2014 parameters; J_i per region; G = 0.8 (TVB model G, Linear a = 1)."""
    from tvb.simulator import coupling, models
    G = 0.8
    J_i = {"single": np.array([1.0]), "network": np.array([1.0, 0.9, 1.15])}
    runs = {}
    for case, W, D, init in (("single", np.zeros((1, 1)), np.zeros((1, 1)), [[0.3], [0.1]]),
                             ("network", WEIGHTS, DELAYS_MS,
                              [[0.05, 0.3, 0.6], [0.02, 0.05, 0.1]])):
        init = np.array(init)
        model = models.ReducedWongWangExcInh(
            a_e=np.array([310.0]), b_e=np.array([125.0]), d_e=np.array([0.16]),
            gamma_e=np.array([0.641 / 1000]), tau_e=np.array([100.0]), w_p=np.array([1.4]),
            J_N=np.array([0.15]), W_e=np.array([1.0]), a_i=np.array([615.0]),
            b_i=np.array([177.0]), d_i=np.array([0.087]), gamma_i=np.array([1.0 / 1000]),
            tau_i=np.array([10.0]), J_i=J_i[case], W_i=np.array([0.7]), I_o=np.array([0.382]),
            I_ext=np.array([0.0]), G=np.array([G]), lamda=np.array([0.0]))
        traj = _simulate(model, coupling.Linear(a=np.array([1.0]), b=np.array([0.0])), W, D,
                         init)
        runs[case] = (traj, init)
    notes = ("TVB ReducedWongWangExcInh with Deco 2014 parameters: a_e=310 /nC, b_e=125 Hz, "
             "d_e=0.16 s, gamma_e=0.641/1000 [ours 0.641, time in s], tau_e=100 ms [0.1 s], "
             "a_i=615, b_i=177, d_i=0.087, gamma_i=1/1000 [ours: none, r_I enters with 1], "
             "tau_i=10 ms [0.01 s], w_p=1.4, J_N=0.15, W_e=1, W_i=0.7, I_o=0.382, I_ext=0, "
             "lamda=0; model G=G times Linear(a=1, b=0) = our global_coupling=G; J_i per "
             "region; TVB clamps S_e, S_i to [0, 1] (never reached here)")
    _save("reduced_wong_wang_ei", "ReducedWongWangExcInh", ["S_E", "S_I"], runs, notes,
          {"global_coupling": G, "single_J_i": J_i["single"], "network_J_i": J_i["network"]})


def hopf():
    """Our a (1/s), omega (rad/s), G (1/s) are TVB's times 1000 (TVB in ms), and because the
    cubic term has coefficient 1 in either time unit, our x, y are TVB's times sqrt(1000):
    with x = k X, t = tau / 1000, dx/dt = (1000 A - 1000 (x^2 + y^2) / k^2) x - ..., so k^2 =
    1000. Stored trajectories are TVB's (X, Y); ``state_scale`` converts them to ours."""
    from tvb.simulator import coupling, models
    G = 5.0
    scale = np.sqrt(1000.0)
    par = {"single": (np.array([10.0]), np.array([2 * np.pi * 10.0])),
           "network": (np.array([-5.0, 2.0, 10.0]), 2 * np.pi * np.array([8.0, 10.0, 12.0]))}
    runs = {}
    for case, W, D, init in (("single", np.zeros((1, 1)), np.zeros((1, 1)), [[0.1], [0.0]]),
                             ("network", WEIGHTS, DELAYS_MS,
                              [[0.5, -0.2, 0.1], [0.0, 0.4, -0.3]])):
        init = np.array(init)
        a, omega = par[case]
        model = models.SupHopf(a=a / 1000.0, omega=omega / 1000.0)
        traj = _simulate(model, coupling.Difference(a=np.array([G / 1000.0])), W, D,
                         init / scale)
        runs[case] = (traj, init)
    notes = ("TVB SupHopf (cvar x and y) with Difference(a=G/1000) coupling on both, a and "
             "omega divided by 1000 (TVB's time in ms), states in TVB's units (ours = TVB's "
             "times state_scale = sqrt(1000); *_init_* are ours): = our hopf with couplings "
             "[(osc.x, osc.cx), (osc.y, osc.cy)], coupling_function='difference', "
             "global_coupling=G (1/s), a (1/s), omega (rad/s)")
    _save("hopf", "SupHopf", ["x", "y"], runs, notes,
          {"global_coupling": G, "state_scale": scale,
           "single_a": par["single"][0], "single_omega": par["single"][1],
           "network_a": par["network"][0], "network_omega": par["network"][1]})


def main():
    warnings.filterwarnings("ignore")
    os.makedirs(OUT, exist_ok=True)
    rww()
    rww_ei()
    hopf()


if __name__ == "__main__":
    main()
