#!/usr/bin/env python
"""Peer benchmark: TVB (tvb-library 2.10) Bold monitor on the 76-region Jansen-Rit network.

The workload of ``tvb_jr76.py`` (``JansenRit`` with ``--v0`` (default 6 mV, rate_bridge's
template; TVB's own is 5.52), ``SigmoidalJansenRit(a=--coupling-a)`` on ``connectivity_76.zip``
with the weights as stored, conduction speed 3 m/s, ``HeunDeterministic`` at dt = 0.1 ms, zero
initial history) for ``--duration`` s (default 600), observed by one ``monitors.Bold`` with
``period = --period`` ms (default 2000: TR = 2 s) and nothing else.

The monitor reads y1 - y2 (the pyramidal potential, rate_bridge's ``pc.v``): the model's
variables of interest are set to one variable and its observer, which TVB builds from them
in ``configure()``, is replaced by one returning y1 - y2, so TVB monitors one signal per region
as rate_bridge does. ``--signal y1`` monitors TVB's own y1 instead.

TVB's Bold monitor does not integrate the Balloon-Windkessel equations: it averages the
signal over 4 ms, keeps the last ``hrf_length`` (20 s) of these averages and, every period,
convolves them with an HRF kernel, by default ``equations.FirstOrderVolterra`` (the first-order
Volterra kernel of the Balloon model, Friston et al. 2000), BOLD = k1 V0 (G * z - 1). The
simulation is the same as rate_bridge's; the BOLD models differ, so compare time and memory,
not values.

TVB is imported at run time only (GPL); nothing of it is copied.

    /work/peers_venv/bin/python benchmarks/peers/tvb_bold.py --duration 600

Prints one JSON line: ``seconds`` (``Simulator.run`` minus numba compile events during it),
``cpu_seconds``, ``setup_seconds`` (connectivity + ``Simulator.configure``), ``import_seconds``,
peak RSS (VmHWM) after the imports, after configure and at the end, the HRF kernel and
its parameters, and a summary of the BOLD signal.
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
    ap.add_argument("--duration", type=float, default=600.0,
                    help="simulated time in s (default 600)")
    ap.add_argument("--dt", type=float, default=0.1, help="integration step in ms (default 0.1)")
    ap.add_argument("--period", type=float, default=2000.0,
                    help="Bold monitor period (TR) in ms (default 2000)")
    ap.add_argument("--speed", type=float, default=3.0,
                    help="conduction speed in m/s = mm/ms (default 3)")
    ap.add_argument("--coupling-a", type=float, default=1.0,
                    help="SigmoidalJansenRit a (global scaling, default 1)")
    ap.add_argument("--v0", type=float, default=6.0,
                    help="JansenRit v0 in mV (default 6 = rate_bridge's template; TVB's 5.52)")
    ap.add_argument("--signal", choices=["y1-y2", "y1"], default="y1-y2",
                    help="the variable the Bold monitor reads (default y1 - y2, our pc.v)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/numba threads (default 1; set before numpy is imported)")
    return ap.parse_args(argv)


def maxrss_mb():
    """Peak RSS of this process in MB: VmHWM of /proc/self/status (ru_maxrss where missing).

    Not ru_maxrss first: in a process started by subprocess, Linux keeps the parent's peak in
    ru_maxrss across exec, so it is at least the parent's."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(args, np, simulator, models, coupling, integrators, monitors, connectivity):
    """The configured Simulator (the JR76 workload of tvb_jr76.py with one Bold monitor)."""
    conn = connectivity.Connectivity.from_file("connectivity_76.zip")
    conn.speed = np.array([args.speed])
    conn.configure()
    model = models.JansenRit(v0=np.array([args.v0]))
    model.variables_of_interest = ("y1",)          # one signal per region
    mon = monitors.Bold(period=args.period)
    horizon = int(np.max(np.rint(conn.tract_lengths / args.speed / args.dt))) + 1
    sim = simulator.Simulator(
        model=model, connectivity=conn, coupling=coupling.SigmoidalJansenRit(
            a=np.array([args.coupling_a])),
        integrator=integrators.HeunDeterministic(dt=args.dt), monitors=(mon,),
        simulation_length=args.duration * 1e3,
        initial_conditions=np.zeros((horizon, 6, conn.number_of_regions, 1)))
    sim.configure()
    if args.signal == "y1-y2":
        # the observer TVB built returns [y1]; return [y1 - y2] instead (same shape)
        sim.model.observe = lambda state: (state[1] - state[2])[np.newaxis]
    return sim, mon, conn


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    real_stdout = stdout_to_stderr()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    import numpy as np
    import numba.core.event as nev
    from tvb.simulator import lab  # noqa: F401  (imports all simulator modules)
    from tvb.simulator import simulator, models, coupling, integrators, monitors
    from tvb.datatypes import connectivity
    t_import = time.perf_counter() - t0
    rss_import = maxrss_mb()

    compile_box = {"t": 0.0}
    with nev.install_timer("numba:compile",
                           lambda d: compile_box.__setitem__("t", compile_box["t"] + d)):
        t1 = time.perf_counter()
        sim, mon, conn = build(args, np, simulator, models, coupling, integrators, monitors,
                               connectivity)
        t_setup = time.perf_counter() - t1
        rss_setup = maxrss_mb()
        compile_setup = compile_box["t"]
        t2, c2 = time.perf_counter(), time.process_time()
        (tt, data), = sim.run()
        t_run = time.perf_counter() - t2
        c_run = time.process_time() - c2
    compile_run = compile_box["t"] - compile_setup

    bold = np.asarray(data)[:, 0, :, 0]                  # (n_tr, n_regions)
    kernel = mon.hrf_kernel
    try:
        import importlib.metadata as im
        tvb_version = im.version("tvb-library")
    except Exception:  # pragma: no cover
        tvb_version = "?"
    out = {
        "peer": "tvb", "peer_version": tvb_version,
        "workload": "jr76_heun_deterministic_bold",
        "seconds": t_run - compile_run, "cpu_seconds": c_run - compile_run,
        "setup_seconds": t_setup, "import_seconds": t_import,
        "compile_seconds": compile_setup + compile_run,
        "loadavg_1min_end": os.getloadavg()[0],
        "n_steps": int(np.ceil(args.duration * 1e3 / args.dt)),
        "n_nodes": int(conn.number_of_regions),
        "dt": args.dt, "duration": args.duration * 1e3, "time_unit": "ms",
        "period": args.period, "v0": float(sim.model.v0[0]), "coupling_a": args.coupling_a,
        "signal": args.signal,
        "hrf_kernel": type(kernel).__name__,
        "hrf_parameters": {k: float(np.asarray(v).ravel()[0]) for k, v in
                           dict(kernel.parameters).items()},
        "hrf_length_ms": float(mon.hrf_length),
        "stock_samples": int(mon._stock_steps), "stock_period_ms": 1.0 / mon._stock_sample_rate,
        "maxrss_after_import_mb": rss_import, "maxrss_after_setup_mb": rss_setup,
        "peak_rss_mb": maxrss_mb(),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "summary": {
            "signal": f"TVB Bold({args.period:g} ms) of {args.signal}",
            "n_samples": int(bold.shape[0]),
            "t_first": float(tt[0]) if len(tt) else None,
            "t_last": float(tt[-1]) if len(tt) else None,
            "mean": float(bold.mean()), "std": float(bold.std()),
            "node_std_mean": float(bold.std(axis=0).mean()),
        },
        "threads": args.threads, "blas_threads": blas_threads(),
        "python": platform.python_version(), "numpy": np.__version__,
    }
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
