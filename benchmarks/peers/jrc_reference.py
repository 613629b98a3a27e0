#!/usr/bin/env python
"""Plain-numpy re-statement of the PyRates JRC / JRC-grid workload (our own code, no PyRates).

Replays an ``.npz`` written by ``pyrates_grid.py --save-inputs FILE.npz`` (C, inp, v) with the
equations below and prints one JSON line with the max abs difference to PyRates' recording.
It documents exactly what PyRates 1.2.3 integrates, so rate_bridge can run the same thing:

    units: s, V, 1/s.   S(v) = 5 / (1 + exp(560 * (6e-3 - v)))
    alpha-kernel PSP:   v' = x,   x' = h*m_in/tau - 2*x/tau - v/tau**2
      pc  exc PSP (ve): h = 3.25e-3, tau = 10e-3, m_in = 108*S(va) + (C @ S(ve+vi)) + u
      pc  inh PSP (vi): h = -22e-3,  tau = 20e-3, m_in = 33.75*S(vb)
      ein PSP     (va): h = 3.25e-3, tau = 10e-3, m_in = 135*S(ve+vi)
      iin PSP     (vb): h = 3.25e-3, tau = 10e-3, m_in = 33.75*S(ve+vi)
    all states start at 0; forward Euler with dt; u = inp[k] at step k;
    sample j of the recording = (ve + vi) before step j*(sampling/dt) (so sample 0 is t = 0).

    python benchmarks/peers/jrc_reference.py /tmp/grid.npz [--dt 1e-4] [--sampling 1e-3]
"""
import argparse
import json

import numpy as np


def simulate(C, inp, dt=1e-4, sampling=1e-3):
    n_steps, N = inp.shape
    every = int(round(sampling / dt))

    def S(v):
        return 5.0 / (1.0 + np.exp(560.0 * (6e-3 - v)))

    ve, xe, vi, xi, va, xa, vb, xb = (np.zeros(N) for _ in range(8))
    rec = np.empty((n_steps // every, N))
    for k in range(n_steps):
        if k % every == 0:
            rec[k // every] = ve + vi
        m_pc, m_ein, m_iin = S(ve + vi), S(va), S(vb)
        dxe = 3.25e-3 * (108.0 * m_ein + C @ m_pc + inp[k]) / 10e-3 - 2 * xe / 10e-3 - ve / 10e-3 ** 2
        dxi = -22e-3 * 33.75 * m_iin / 20e-3 - 2 * xi / 20e-3 - vi / 20e-3 ** 2
        dxa = 3.25e-3 * 135.0 * m_pc / 10e-3 - 2 * xa / 10e-3 - va / 10e-3 ** 2
        dxb = 3.25e-3 * 33.75 * m_pc / 10e-3 - 2 * xb / 10e-3 - vb / 10e-3 ** 2
        ve, vi, va, vb = ve + dt * xe, vi + dt * xi, va + dt * xa, vb + dt * xb
        xe, xi, xa, xb = xe + dt * dxe, xi + dt * dxi, xa + dt * dxa, xb + dt * dxb
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("npz")
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--sampling", type=float, default=1e-3)
    args = ap.parse_args(argv)
    d = np.load(args.npz)
    rec = simulate(d["C"], d["inp"], args.dt, args.sampling)
    v = d["v"]
    print(json.dumps({"n_nodes": int(v.shape[1]), "n_samples": int(v.shape[0]),
                      "max_abs_diff": float(np.abs(rec - v).max()), "max_abs_v": float(np.abs(v).max())}))


if __name__ == "__main__":
    main()
