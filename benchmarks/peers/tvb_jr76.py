#!/usr/bin/env python
"""Peer benchmark: TVB (tvb-library) Jansen-Rit on the 76-region connectome.

``tvb.simulator.models.JansenRit`` (TVB defaults; time in ms, potentials in mV,
rates in 1/ms) coupled with ``coupling.SigmoidalJansenRit`` (TVB defaults,
a=1) on ``connectivity_76.zip`` from tvb-data (weights as stored, tract lengths
in mm), conduction speed 3 m/s (= 3 mm/ms), dt = 0.1 ms, default 10 s,
``HeunDeterministic`` (or ``HeunStochastic`` with additive noise on y4 with
``--stochastic``), ``TemporalAverage`` monitor with period 1 ms on TVB's default
variables of interest (y0, y1, y2, y3).

TVB is imported at run time only (GPL).

    /work/peers_venv/bin/python benchmarks/peers/tvb_jr76.py --duration 10
    /work/peers_venv/bin/python benchmarks/peers/tvb_jr76.py --duration 10 --stochastic

Timing fields: ``import_seconds`` (``import tvb.simulator.lab``; TVB's numba
guvectorize kernels for JansenRit compile eagerly here), ``setup_seconds``
(connectivity load + ``Simulator.configure()``), ``seconds`` (``Simulator.run``),
``compile_seconds`` (numba compile events seen during configure+run; normally ~0).
"""
import argparse
import json
import os
import platform
import resource
import time
import warnings

from _peer_common import blas_threads, limit_threads, stdout_to_stderr


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="simulated time in s (default 10)")
    ap.add_argument("--dt", type=float, default=0.1, help="integration step in ms (default 0.1)")
    ap.add_argument("--period", type=float, default=1.0, help="TemporalAverage period in ms (default 1)")
    ap.add_argument("--speed", type=float, default=3.0, help="conduction speed in m/s = mm/ms (default 3)")
    ap.add_argument("--coupling-a", type=float, default=1.0, help="SigmoidalJansenRit a (global scaling, default 1)")
    ap.add_argument("--v0", type=float, default=None,
                    help="JansenRit v0 in mV (TVB default 5.52; PyRates' JRC template uses 6.0)")
    ap.add_argument("--stochastic", action="store_true", help="HeunStochastic with additive noise")
    ap.add_argument("--nsig", type=float, default=None,
                    help="additive-noise nsig on y4 (TVB: g = sqrt(2*nsig)); default = dt*(A*a*0.022)^2/2, i.e. "
                         "the y4 diffusion of an extrinsic input p(t) = 0.22 + 0.022*randn per step (1/ms)")
    ap.add_argument("--seed", type=int, default=42, help="noise seed / random-init seed")
    ap.add_argument("--init", choices=["zeros", "random"], default="zeros",
                    help="initial history: zeros (reproducible) or TVB's random draw from state_variable_range")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/XLA threads (default 1; set before numpy is imported)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    real_stdout = stdout_to_stderr()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    import numpy as np
    import numba.core.event as nev
    from tvb.simulator import lab  # noqa: F401  (imports all simulator modules, compiles guvectorize kernels)
    from tvb.simulator import simulator, models, coupling, integrators, monitors, noise
    from tvb.datatypes import connectivity
    import tvb.simulator
    t_import = time.perf_counter() - t0

    compile_box = {"t": 0.0}
    with nev.install_timer("numba:compile", lambda d: compile_box.__setitem__("t", compile_box["t"] + d)):
        t1 = time.perf_counter()
        conn = connectivity.Connectivity.from_file("connectivity_76.zip")
        conn.speed = np.array([args.speed])
        model = models.JansenRit()
        if args.v0 is not None:
            model.v0 = np.array([args.v0])
        cpl = coupling.SigmoidalJansenRit(a=np.array([args.coupling_a]))
        nsig = None
        if args.stochastic:
            A, a = float(model.A[0]), float(model.a[0])
            nsig = args.nsig if args.nsig is not None else args.dt * (A * a * 0.022) ** 2 / 2.0
            nsig_vec = np.zeros(6)
            nsig_vec[4] = nsig
            integ = integrators.HeunStochastic(dt=args.dt, noise=noise.Additive(nsig=nsig_vec, noise_seed=args.seed))
        else:
            integ = integrators.HeunDeterministic(dt=args.dt)
        mon = monitors.TemporalAverage(period=args.period)
        sim_kw = {}
        if args.init == "zeros":
            # history buffer length = max delay in steps + 1; compute after loading tract lengths
            conn.configure()
            horizon = int(np.max(np.rint(conn.tract_lengths / args.speed / args.dt))) + 1
            sim_kw["initial_conditions"] = np.zeros((horizon, 6, conn.number_of_regions, 1))
        else:
            np.random.seed(args.seed)
        sim = simulator.Simulator(model=model, connectivity=conn, coupling=cpl, integrator=integ,
                                  monitors=(mon,), simulation_length=args.duration * 1e3, **sim_kw)
        sim.configure()
        t_setup = time.perf_counter() - t1
        compile_setup = compile_box["t"]

        t2, c2 = time.perf_counter(), time.process_time()
        (tt, data), = sim.run()
        t_run = time.perf_counter() - t2
        c_run = time.process_time() - c2
    compile_run = compile_box["t"] - compile_setup

    # data: (n_samples, n_voi, n_nodes, n_modes); TVB default VOI order y0,y1,y2,y3
    voi = list(model.variables_of_interest)
    eeg = data[:, voi.index("y1"), :, 0] - data[:, voi.index("y2"), :, 0]   # pyramidal PSP y1-y2 (mV)
    half = eeg[eeg.shape[0] // 2:]
    node_mean = eeg.mean(axis=0)
    node_std = eeg.std(axis=0)
    try:
        import importlib.metadata as im
        tvb_version = im.version("tvb-library")
        tvb_data_version = im.version("tvb-data")
    except Exception:  # pragma: no cover
        tvb_version = tvb_data_version = "?"
    out = {
        "peer": "tvb",
        "peer_version": tvb_version,
        "tvb_data_version": tvb_data_version,
        "workload": "jr76_" + ("heun_stochastic" if args.stochastic else "heun_deterministic"),
        "seconds": t_run - compile_run,
        "cpu_seconds": c_run - compile_run,
        "loadavg_1min_end": os.getloadavg()[0],
        "setup_seconds": t_setup,
        "compile_seconds": compile_setup + compile_run,
        "import_seconds": t_import,
        "n_steps": int(np.ceil(args.duration * 1e3 / args.dt)),
        "n_nodes": int(conn.number_of_regions),
        "dt": args.dt, "duration": args.duration * 1e3, "time_unit": "ms",
        "speed_mm_per_ms": args.speed,
        "max_delay_steps": int(sim.connectivity.idelays.max()),
        "n_edges": int(np.count_nonzero(conn.weights)),
        "coupling_a": args.coupling_a,
        "v0": float(model.v0[0]),
        "nsig_y4": nsig,
        "init": args.init,
        "variables_of_interest": voi,
        "summary": {
            "signal": "TemporalAverage(1 ms) of y1 - y2 (mV), all nodes",
            "n_samples": int(eeg.shape[0]),
            "t_first": float(tt[0]), "t_last": float(tt[-1]),
            "mean": float(eeg.mean()), "std": float(eeg.std()),
            "node_mean_min": float(node_mean.min()), "node_mean_max": float(node_mean.max()),
            "node_std_mean": float(node_std.mean()),
            "mean_2nd_half": float(half.mean()), "std_2nd_half": float(half.std()),
            "node0_mean": float(node_mean[0]), "node0_last": float(eeg[-1, 0]),
            "y0_mean": float(data[:, voi.index("y0"), :, 0].mean()),
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": args.threads,
        "blas_threads": blas_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
