#!/usr/bin/env python
"""Peer benchmark: TVB 2.10 models of rate_bridge's model zoo on the 76-region connectome.

For every model named in ``--models``: ``connectivity_76.zip`` from tvb-data with its weights
divided by each region's in-strength (row sums; rows without input stay zero), conduction
speed ``--speed`` (3 m/s = 3 mm/ms), ``HeunDeterministic`` at ``--dt`` (0.1 ms) for
``--duration`` s (coombes_byrne and qif_sfa: dt / 10, see ``DT_SCALE``), one
variable recorded by ``TemporalAverage(period=1 ms)``, the initial history constant at
rate_bridge's template defaults (converted to TVB's units). Run with the peers' python; TVB
(GPL) is imported at run time only, nothing of it is copied.

The conversions (time in ms vs s, coupling functions, parameter names) are those of the zoo
reference scripts ``zoo_wongwang_hopf.py``, ``zoo_oscillators.py`` and ``zoo_neural_mass.py``
and of ``tvb_jr76.py``; each model's ``notes`` in the JSON says what it runs. ``--g
MODEL=VALUE`` gives the global coupling in rate_bridge's units (``benchmarks/bench_zoo.py``
passes its own); it is converted here.

    /work/peers_venv/bin/python benchmarks/peers/tvb_zoo.py --duration 1
    /work/peers_venv/bin/python benchmarks/peers/tvb_zoo.py --models hopf epileptor

Prints one JSON line: per model ``seconds`` (``Simulator.run`` minus numba compile events
during it), ``cpu_seconds``, ``setup_seconds`` (``Simulator.configure``), ``compile_seconds``,
``n_steps``, ``summary`` (mean / std of the recording in rate_bridge's units, without the first
average), or ``error``.
"""
import argparse
import json
import os
import platform
import resource
import sys
import time
import warnings

from _peer_common import blas_threads, limit_threads, stdout_to_stderr

N_REGIONS = 76
# global coupling in rate_bridge's units (bench_zoo.py passes its own values with --g)
DEFAULT_G = {"jansen_rit": 1.0, "montbrio": 1.0, "wilson_cowan": 1.0, "kuramoto": 10.0,
             "reduced_wong_wang": 0.5, "reduced_wong_wang_ei": 0.8, "hopf": 5.0,
             "generic_2d_oscillator": 0.1, "fitzhugh_nagumo": 0.3, "larter_breakspear": 1.0,
             "epileptor": 0.5, "zetterberg_jansen": 0.5, "coombes_byrne": 2.0, "qif_sfa": 0.5}
# models whose rates are too fast for Heun at dt = 0.1 ms (NaN within ms in TVB and ours; the
# zoo references use 0.01 ms): their dt is scaled by this (10x the steps for the same duration)
DT_SCALE = {"coombes_byrne": 0.1, "qif_sfa": 0.1}


def _a(x):
    import numpy as np
    return np.atleast_1d(np.asarray(x, dtype=float))


# Each builder returns (model, coupling, initial state per state variable in TVB's units,
# variables of interest, signal(voi -> array) in rate_bridge's units, notes).
def jansen_rit(G, m, c):
    model = m.JansenRit(v0=_a(6.0))
    return (model, c.SigmoidalJansenRit(a=_a(G)), [0.0] * 6, ("y1", "y2"),
            lambda d: d["y1"] - d["y2"],
            "JansenRit(v0=6 mV, our template's; TVB's default 5.52) + SigmoidalJansenRit(a=G) "
            "= our declared sigmoidal pc.v -> pc.m_in_e (cmax 5 Hz = 0.005/ms); y1 - y2 = pc.v")


def montbrio(G, m, c):
    return (m.MontbrioPazoRoxin(), c.Linear(a=_a(G), b=_a(0.0)), [0.0, -2.0], ("r",),
            lambda d: d["r"],
            "MontbrioPazoRoxin defaults (tau=1, Delta=1, J=15, eta=-5, I=0, cr=1, cv=0) = our "
            "template (ms); Linear(a=G) on r = our linear p.r -> p.I")


def wilson_cowan(G, m, c):
    import numpy as np
    ae, be, ai, bi = 1.3, 4.0, 2.0, 3.7
    model = m.WilsonCowan(
        c_ee=_a(16.0), c_ei=_a(12.0), c_ie=_a(15.0), c_ii=_a(3.0), tau_e=_a(10.0),
        tau_i=_a(10.0), a_e=_a(ae), b_e=_a(be), c_e=_a(1.0), theta_e=_a(0.0), a_i=_a(ai),
        b_i=_a(bi), c_i=_a(1.0), theta_i=_a(0.0), r_e=_a(1.0), r_i=_a(1.0),
        k_e=_a(1 - 1 / (1 + np.exp(ae * be))), k_i=_a(1 - 1 / (1 + np.exp(ai * bi))),
        P=_a(1.25), Q=_a(0.0), alpha_e=_a(1.0), alpha_i=_a(1.0), shift_sigmoid=np.array([True]))
    return (model, c.Linear(a=_a(G), b=_a(0.0)), [0.0, 0.0], ("E",), lambda d: d["E"],
            "WilsonCowan with our template's Wilson & Cowan 1972 set: c_ee=16, c_ei=12 (I->E), "
            "c_ie=15, c_ii=3, a_e=1.3, b_e=4 (our theta_e), a_i=2, b_i=3.7, theta=0, P=1.25, "
            "Q=0, tau=10 ms, shift_sigmoid, k = 1 - 1/(1+exp(a b)) (our 1 - S(0)); "
            "Linear(a=G) on E = our linear wc.E -> wc.E_in")


def kuramoto(G, m, c):
    omega = 2 * 3.141592653589793 * 10.0          # our default, rad/s
    # TVB 2.10's coupling.Kuramoto is documented as a / N sum_j w_ij sin(x_j - x_i), but its
    # post() divides by the first axis of the sparse sum, (n_cvar, n_node, n_mode): by 1
    return (m.Kuramoto(omega=_a(omega / 1000.0)), c.Kuramoto(a=_a(G / 1000.0)),
            [0.0], ("theta",), lambda d: d["theta"],
            "Kuramoto(omega = ours / 1000, rad/ms) + coupling.Kuramoto(a = G / 1000): time in "
            "ms; TVB 2.10 divides the sum by n_cvar = 1, not by N as documented; = our "
            "kuramoto coupling G sum_j w sin(th_j - th_i); phases start at 0 (our default)")


def reduced_wong_wang(G, m, c):
    model = m.ReducedWongWang(a=_a(0.270), b=_a(0.108), d=_a(154.0), gamma=_a(0.641),
                              tau_s=_a(100.0), w=_a(0.9), J_N=_a(0.2609), I_o=_a(0.3))
    return (model, c.Linear(a=_a(G), b=_a(0.0)), [0.0344], ("S",), lambda d: d["S"],
            "ReducedWongWang with Deco 2013 (our defaults in TVB's ms/kHz units, as "
            "zoo_wongwang_hopf.py) + Linear(a=G) = our linear rww.S -> rww.c")


def reduced_wong_wang_ei(G, m, c):
    model = m.ReducedWongWangExcInh(
        a_e=_a(310.0), b_e=_a(125.0), d_e=_a(0.16), gamma_e=_a(0.641 / 1000), tau_e=_a(100.0),
        w_p=_a(1.4), J_N=_a(0.15), W_e=_a(1.0), a_i=_a(615.0), b_i=_a(177.0), d_i=_a(0.087),
        gamma_i=_a(1.0 / 1000), tau_i=_a(10.0), J_i=_a(1.0), W_i=_a(0.7), I_o=_a(0.382),
        I_ext=_a(0.0), G=_a(G), lamda=_a(0.0))
    return (model, c.Linear(a=_a(1.0), b=_a(0.0)), [0.164, 0.039], ("S_e",),
            lambda d: d["S_e"],
            "ReducedWongWangExcInh with Deco 2014 (as zoo_wongwang_hopf.py), model G = G, "
            "Linear(a=1), lamda=0 = our linear rww.S_E -> rww.c")


def hopf(G, m, c):
    k = 1000.0 ** 0.5                               # our states = TVB's x sqrt(1000)
    a, omega = -0.02, 0.3141592653589793            # our defaults (1/s, rad/s)
    return (m.SupHopf(a=_a(a / 1000.0), omega=_a(omega / 1000.0)), c.Difference(a=_a(G / 1000)),
            [0.1 / k, 0.0], ("x",), lambda d: d["x"] * k,
            "SupHopf(a, omega / 1000) + Difference(a=G/1000) on x and y, states / sqrt(1000) "
            "(zoo_wongwang_hopf.py) = our hopf, both declared difference couplings")


def generic_2d_oscillator(G, m, c):
    return (m.Generic2dOscillator(), c.Linear(a=_a(G), b=_a(0.0)), [0.0, 0.0], ("V",),
            lambda d: d["V"],
            "Generic2dOscillator defaults (= ours) + Linear(a=G) on V = our linear g2d.V -> "
            "g2d.c")


def fitzhugh_nagumo(G, m, c):
    # G2D: V' = d tau (alpha W - f V^3 + e V^2 + g V + gamma (I + c)),
    #      W' = d (a + b V + c V^2 - beta W) / tau; d tau = 1 and d / tau = 1 / 12.5
    d, tau = (1 / 12.5) ** 0.5, 12.5 ** 0.5
    model = m.Generic2dOscillator(
        tau=_a(tau), d=_a(d), alpha=_a(-1.0), f=_a(1 / 3), e=_a(0.0), g=_a(1.0), gamma=_a(1.0),
        I=_a(0.0), a=_a(0.7), b=_a(1.0), c=_a(0.0), beta=_a(0.8))
    return (model, c.Difference(a=_a(G)), [-1.2, -0.6], ("V",), lambda d_: d_["V"],
            "TVB has no FitzHugh-Nagumo class: Generic2dOscillator in the classic FHN form "
            "(d tau = 1, d / tau = 1/12.5, alpha=-1, f=1/3, e=0, g=1, a=0.7, b=1, beta=0.8, "
            "I=0) + Difference(a=G) = our fhn (a=0.7, b=0.8, tau=12.5 ms) with difference "
            "fhn.v -> fhn.c")


def larter_breakspear(G, m, c):
    cpl = c.HyperbolicTangent(a=_a(0.5 * G), b=_a(1.0), midpoint=_a(0.0), sigma=_a(0.65))
    return (m.LarterBreakspear(), cpl, [0.0, 0.0, 0.0], ("V",), lambda d: d["V"],
            "LarterBreakspear defaults + HyperbolicTangent(a=0.5 G, midpoint=VT, sigma=d_V) "
            "on V = sum_j w QV_j = our linear lb.QV -> lb.QV_mean (zoo_oscillators.py); "
            "row-normalised weights make the sum the paper's mean <QV>")


def epileptor(G, m, c):
    init = [-1.8, -15.0, 3.6, -0.9, 0.0, -180.0e-3]      # ours, g x 1e-3
    return (m.Epileptor(x0=_a(-1.6), Ks=_a(-1.0)), c.Difference(a=_a(G)), init, ("x1",),
            lambda d: d["x1"],
            "Epileptor defaults (r=0.00035 = our 1/tau0), x0=-1.6, Ks=-1 + Difference(a=K) on "
            "x1 = our difference epi.x1 -> epi.K_z (zoo_oscillators.py); TVB's g = ours x 1e-3")


def zetterberg_jansen(G, m, c):
    model = m.ZetterbergJansen(gamma_5=_a(0.0), U=_a(0.0), Q=_a(0.0), P=_a(0.22))
    return (model, c.Linear(a=_a(G), b=_a(0.0)), [0.0] * 12, ("v6",), lambda d: d["v6"],
            "ZetterbergJansen in its Jansen-Rit limit (gamma_5=0, U=Q=0, P=0.22/ms = our 220 "
            "Hz; zoo_neural_mass.py's jr_limit: there TVB's v5 equation equals ours) + "
            "Linear(a=G) on v6 = our linear col.v6 -> col.c")


def coombes_byrne(G, m, c):
    model = m.CoombesByrne(Delta=_a(0.5), alpha=_a(0.95), v_syn=_a(-10.0), k=_a(1.0),
                           eta=_a(20.0))
    return (model, c.Linear(a=_a(G), b=_a(0.0)), [0.5, -1.0, 1.5, 0.0], ("r",),
            lambda d: d["r"],
            "CoombesByrne(Delta=0.5, alpha=0.95, v_syn=-10, k=1, eta=20) = our defaults; "
            "Linear(a=G) on r into dV/dt = our linear p.r -> p.I")


def qif_sfa(G, m, c):
    model = m.GastSchmidtKnosche_SF(tau=_a(1.0), tau_A=_a(10.0), alpha=_a(10.0), I=_a(0.0),
                                    Delta=_a(2.0), J=_a(15.0 * 2 ** 0.5), eta=_a(1.0),
                                    cr=_a(1.0), cv=_a(0.0))
    return (model, c.Linear(a=_a(G), b=_a(0.0)), [0.0, -2.0, 0.0, 0.0], ("r",),
            lambda d: d["r"],
            "GastSchmidtKnosche_SF(tau=1, tau_A=10, alpha=10 = our alpha tau_a, Delta=2, "
            "J=15 sqrt 2, eta=1, cr=1, cv=0) = our defaults; Linear(a=G) on r = our linear "
            "p.r -> p.I")


BUILDERS = {f.__name__: f for f in (
    jansen_rit, montbrio, wilson_cowan, kuramoto, reduced_wong_wang, reduced_wong_wang_ei, hopf,
    generic_2d_oscillator, fitzhugh_nagumo, larter_breakspear, epileptor, zetterberg_jansen,
    coombes_byrne, qif_sfa)}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(BUILDERS), choices=list(BUILDERS),
                    metavar="MODEL", help="rate_bridge template names (default: all: "
                                          + ", ".join(BUILDERS) + ")")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated time in s (default 1)")
    ap.add_argument("--dt", type=float, default=0.1, help="integration step in ms (default 0.1)")
    ap.add_argument("--period", type=float, default=1.0,
                    help="TemporalAverage period in ms (default 1)")
    ap.add_argument("--speed", type=float, default=3.0, help="conduction speed in m/s (default 3)")
    ap.add_argument("--g", action="append", default=[], metavar="MODEL=VALUE",
                    help="global coupling of MODEL in rate_bridge's units (repeatable)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/numba threads (default 1; set before numpy is imported)")
    args = ap.parse_args(argv)
    args.coupling = dict(DEFAULT_G)
    for item in args.g:
        name, sep, value = item.partition("=")
        if not sep or name not in BUILDERS:
            ap.error(f"--g {item!r}: expected MODEL=VALUE with MODEL one of {', '.join(BUILDERS)}")
        try:
            args.coupling[name] = float(value)
        except ValueError:
            ap.error(f"--g {item!r}: {value!r} is not a number")
    return args


def connectivity(speed):
    """connectivity_76 with row-normalised weights, at ``speed`` mm/ms (configured)."""
    import numpy as np
    from tvb.datatypes import connectivity as tvb_conn
    conn = tvb_conn.Connectivity.from_file("connectivity_76.zip")
    w = np.asarray(conn.weights, dtype=float)
    sums = w.sum(axis=1, keepdims=True)
    conn.weights = np.divide(w, sums, out=np.zeros_like(w), where=sums != 0)
    conn.speed = np.array([speed])
    conn.configure()
    return conn


def run_model(name, args, timer):
    """Configure and run one model; returns its JSON entry."""
    import numpy as np
    from tvb.simulator import coupling, integrators, models, monitors, simulator
    t0 = time.perf_counter()
    model, cpl, init, voi, signal, notes = BUILDERS[name](args.coupling[name], models, coupling)
    dt, duration_ms = args.dt * DT_SCALE.get(name, 1.0), args.duration * 1e3
    conn = connectivity(args.speed)
    model.variables_of_interest = voi
    horizon = int(np.max(np.rint(conn.tract_lengths / args.speed / dt))) + 1
    history = np.zeros((horizon, len(model.state_variables), conn.number_of_regions, 1))
    history[:] = np.asarray(init, dtype=float)[None, :, None, None]
    sim = simulator.Simulator(model=model, connectivity=conn, coupling=cpl,
                              integrator=integrators.HeunDeterministic(dt=dt),
                              monitors=(monitors.TemporalAverage(period=args.period),),
                              simulation_length=duration_ms, initial_conditions=history)
    c_setup = timer["t"]
    sim.configure()
    t_setup = time.perf_counter() - t0
    c_run = timer["t"]
    t1, p1 = time.perf_counter(), time.process_time()
    (tt, data), = sim.run()
    wall, cpu = time.perf_counter() - t1, time.process_time() - p1
    compile_run = timer["t"] - c_run
    # the first average is over a partly filled buffer (TVB's first step follows the history)
    x = np.asarray(signal({v: data[1:, k, :, 0] for k, v in enumerate(voi)}), dtype=float)
    half = x[x.shape[0] // 2:]
    return {
        "tvb_model": type(model).__name__, "coupling": type(cpl).__name__,
        "global_coupling": args.coupling[name], "notes": notes,
        "seconds": wall - compile_run, "cpu_seconds": cpu - compile_run,
        "setup_seconds": t_setup, "compile_seconds": compile_run + (c_run - c_setup),
        "dt": dt, "duration": duration_ms, "n_steps": int(np.ceil(duration_ms / dt - 1e-9)),
        "n_nodes": int(conn.number_of_regions),
        "max_delay_steps": int(sim.connectivity.idelays.max()),
        "summary": {"n_samples": int(x.shape[0]), "t_first_ms": float(tt[0]),
                    "finite": bool(np.isfinite(x).all()), "mean": float(np.mean(x)),
                    "std": float(np.std(x)), "mean_2nd_half": float(np.mean(half)),
                    "std_2nd_half": float(np.std(half))},
    }


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    real_stdout = stdout_to_stderr()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    import numba.core.event as nev
    import numpy as np
    from tvb.simulator import lab  # noqa: F401  (imports the simulator; eager numba kernels)
    t_import = time.perf_counter() - t0
    timer = {"t": 0.0}
    results = {}
    with nev.install_timer("numba:compile", lambda d: timer.__setitem__("t", timer["t"] + d)):
        for name in args.models:
            print(f"tvb_zoo: {name}", file=sys.stderr, flush=True)
            try:
                results[name] = run_model(name, args, timer)
            except Exception as err:   # noqa: BLE001  (one model's failure is reported, not fatal)
                results[name] = {"error": f"{type(err).__name__}: {err}"[:400]}
    import importlib.metadata as im
    out = {
        "peer": "tvb", "peer_version": im.version("tvb-library"),
        "tvb_data_version": im.version("tvb-data"), "workload": "zoo76_heun_deterministic",
        "dt": args.dt, "duration": args.duration * 1e3, "time_unit": "ms",
        "speed_mm_per_ms": args.speed, "period_ms": args.period, "weights": "row-normalised",
        "import_seconds": t_import, "results": results,
        "loadavg_1min_end": os.getloadavg()[0],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": args.threads, "blas_threads": blas_threads(),
        "python": platform.python_version(), "numpy": np.__version__,
    }
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
