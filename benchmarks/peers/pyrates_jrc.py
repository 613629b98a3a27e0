#!/usr/bin/env python
"""Peer benchmark: one Jansen-Rit circuit in PyRates 1.2.3.

Runs PyRates' own template ``model_templates.neural_mass_models.jansenrit.JRC``
(3 populations: pc, ein, iin; time in seconds, potentials in volts, rates in
1/s) with its built-in constant input ``pc/rpo_e_in/u = 220`` (1/s), forward
Euler, dt = 1e-4 s, and records the pyramidal membrane potential
``pc/rpo_e_in/v + pc/rpo_i/v`` (V) at 1 kHz.

PyRates is imported at run time only (GPL); nothing of it is copied here.
Run with the peers venv, e.g.::

    /work/peers_venv/bin/python benchmarks/peers/pyrates_jrc.py --duration 10 --backend default
    /work/peers_venv/bin/python benchmarks/peers/pyrates_jrc.py --duration 10 --backend numba
    /work/peers_venv/bin/python benchmarks/peers/pyrates_jrc.py --duration 10 --backend jax

Prints ONE JSON line.  Timing fields:

* ``import_seconds``  - ``import pyrates`` (+ numba / jax for those backends)
* ``setup_seconds``   - template loading + everything ``CircuitTemplate.run``
                        does besides the integration loop (graph build, code
                        generation, output DataFrame assembly)
* ``compile_seconds`` - numba JIT of the generated vector field (numba backend;
                        0 for the numpy backend); it happens on the first call
                        inside PyRates' Euler loop and is measured with a numba
                        compile-event listener.  jax backend: sum of jax's
                        ``/jax/core/compile/*`` monitoring durations (tracing,
                        lowering, XLA compile) during the solver call
* ``cpu_seconds``     - process CPU time of the same phase (None for jax)
* ``seconds``         - PyRates' Euler integration loop (``ComputeGraph.run``)
                        minus ``compile_seconds``
"""
import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time

from _peer_common import blas_threads, compile_listener, limit_threads, stdout_to_stderr


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="simulated time in s (default 10)")
    ap.add_argument("--dt", type=float, default=1e-4, help="Euler step in s (default 1e-4)")
    ap.add_argument("--sampling", type=float, default=1e-3, help="recording step in s (default 1e-3 = 1 kHz)")
    ap.add_argument("--u", type=float, default=220.0, help="constant extrinsic input to pc/rpo_e_in/u in 1/s (default 220)")
    ap.add_argument("--backend", choices=["default", "numba", "jax"], default="default",
                    help="'default' = PyRates numpy backend; 'numba' = numpy backend with the generated "
                         "vector field wrapped in numba.njit (PyRates' `decorator=` hook); 'jax' = PyRates "
                         "jax backend (whole Euler loop fused by jax.lax.scan; needs `pip install jax`)")
    ap.add_argument("--precision", choices=["float64", "float32"], default="float64",
                    help="PyRates float_precision (PyRates' own default is float32; default here float64)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/XLA threads (default 1; set before numpy is imported)")
    return ap.parse_args(argv)


BACKEND_NOTE = {"default": "(numpy)", "numba": "(numpy+numba.njit decorator)", "jax": "(jax.lax.scan)"}

def summarize(t, v):
    import numpy as np
    v = np.asarray(v, dtype=float)
    half = v[len(v) // 2:]
    fs = 1.0 / (t[1] - t[0]) if len(t) > 1 else float("nan")
    if len(half) > 8:
        spec = np.abs(np.fft.rfft(half - half.mean()))
        freqs = np.fft.rfftfreq(len(half), 1.0 / fs)
        peak = float(freqs[1:][np.argmax(spec[1:])])
    else:
        peak = float("nan")
    return {
        "signal": "pc/rpo_e_in/v + pc/rpo_i/v (V)",
        "n_samples": int(len(v)),
        "t_first": float(t[0]), "t_last": float(t[-1]),
        "mean": float(v.mean()), "std": float(v.std()),
        "min": float(v.min()), "max": float(v.max()),
        "first": float(v[0]), "last": float(v[-1]),
        "mean_2nd_half": float(half.mean()), "std_2nd_half": float(half.std()),
        "peak_freq_hz_2nd_half": peak,
    }


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    real_stdout = stdout_to_stderr()
    # PyRates writes its generated module into the current directory
    workdir = tempfile.mkdtemp(prefix="pyrates_jrc_")
    os.chdir(workdir)
    sys.path.insert(0, workdir)

    t0 = time.perf_counter()
    import numpy as np
    import pyrates
    from pyrates import CircuitTemplate
    from pyrates.backend.computegraph import ComputeGraph
    kw = {}
    compile_box = {"t": 0.0, "cpu": 0.0}
    jax_box = {"t": 0.0, "on": False}
    if args.backend == "numba":
        import numba
        from numba import njit
        import numba.core.event as nev
        kw = dict(decorator=njit)
    elif args.backend == "jax":
        import jax
        import jax.monitoring as jmon

        def _jax_compile_events(name, duration, **_):
            # XLA tracing/lowering/compilation inside PyRates' solver call
            if jax_box["on"] and "/compile/" in name:
                jax_box["t"] += duration
        jmon.register_event_duration_secs_listener(_jax_compile_events)
    t_import = time.perf_counter() - t0

    # time PyRates' integration loop (ComputeGraph.run) without touching its source
    solve_box = {"t": 0.0, "cpu": 0.0}
    orig_run = ComputeGraph.run

    def timed_run(self, *a, **k):
        ts, cs = time.perf_counter(), time.process_time()
        jax_box["on"] = True
        try:
            return orig_run(self, *a, **k)
        finally:
            jax_box["on"] = False
            solve_box["t"] += time.perf_counter() - ts
            solve_box["cpu"] += time.process_time() - cs
    ComputeGraph.run = timed_run

    t1 = time.perf_counter()
    jrc = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
    if args.u != 220.0:
        jrc.update_var(node_vars={"pc/rpo_e_in/u": args.u})
    t_load = time.perf_counter() - t1

    ctimer = compile_listener()
    ctx = nev.install_listener("numba:compile", ctimer) if args.backend == "numba" else contextlib.nullcontext()
    t2 = time.perf_counter()
    with ctx:
        res = jrc.run(simulation_time=args.duration, step_size=args.dt, sampling_step_size=args.sampling,
                      outputs={"ve": "pc/rpo_e_in/v", "vi": "pc/rpo_i/v"}, solver="euler",
                      backend="jax" if args.backend == "jax" else "default", float_precision=args.precision,
                      verbose=False, clear=True, **kw)
    t_runcall = time.perf_counter() - t2
    compile_box["t"], compile_box["cpu"] = ctimer.wall, ctimer.cpu
    if args.backend == "jax":   # jax reports wall durations only
        compile_box["t"], compile_box["cpu"] = jax_box["t"], None

    v = res["ve"].values + res["vi"].values
    t = res.index.values
    n_steps = int(round(args.duration / args.dt))
    out = {
        "peer": "pyrates",
        "peer_version": pyrates.__version__,
        "workload": "jrc_single",
        "backend": args.backend + BACKEND_NOTE[args.backend],
        "solver": "euler",
        "precision": args.precision,
        "seconds": solve_box["t"] - compile_box["t"],
        "setup_seconds": t_load + (t_runcall - solve_box["t"]),
        "compile_seconds": compile_box["t"],
        # jax reports compile durations only as wall time, so its CPU split is not measurable (None)
        "cpu_seconds": None if args.backend == "jax" else solve_box["cpu"] - compile_box["cpu"],
        "solve_seconds": solve_box["t"],
        "solve_cpu_seconds": solve_box["cpu"],
        "compile_cpu_seconds": compile_box["cpu"],
        "loadavg_1min_end": os.getloadavg()[0],
        "import_seconds": t_import,
        "run_call_seconds": t_runcall,
        "n_steps": n_steps,
        "n_nodes": 1,
        "n_state_vars": 12,
        "dt": args.dt, "duration": args.duration, "time_unit": "s",
        "input_u": args.u,
        "summary": summarize(t, v),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": args.threads,
        "blas_threads": blas_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if args.backend == "numba":
        out["numba"] = numba.__version__
    if args.backend == "jax":
        out["jax"] = jax.__version__
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
