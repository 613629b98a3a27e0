#!/usr/bin/env python
"""Peer benchmark: network of N Jansen-Rit circuits in PyRates 1.2.3 (the PyRates paper's benchmark).

Workload (as in Gast et al. 2019, PyRates paper, CPU benchmark):

* N copies of ``model_templates.neural_mass_models.jansenrit.JRC`` (seconds, volts, 1/s)
* random coupling, density p: ``C = U(0,1)^{NxN}; C[C > p] = 0``; each row (target)
  divided by its sum (rows with sum 0 stay 0); self-connections are *not* removed
  (as in the paper's script).  Edge ``jrc_j/pc/pro/m -> jrc_i/pc/rpo_e_in/m_in`` with
  weight ``C[i, j]`` (adds to the 108*m of that node's own ein population).
* extrinsic input per node and per Euler step: ``u = 220 + 22 * randn`` (1/s) into
  ``pc/rpo_e_in/u`` (replaces the template's constant 220).
* forward Euler, dt = 1e-4 s, default 10 s; records pc membrane potential
  ``pc/rpo_e_in/v + pc/rpo_i/v`` of every node at 1 kHz.

Random numbers: ``rng = numpy.random.default_rng(seed)``; first ``C = rng.uniform(size=(N, N))``,
then ``inp = 220 + 22 * rng.standard_normal((n_steps, N))``.  ``--save-inputs FILE.npz`` writes
C and inp (and the recorded signal) so another simulator can replay exactly the same workload.

Timing fields: see pyrates_jrc.py (``seconds`` = PyRates' Euler loop minus numba compile).
Memory: ``peak_rss_mb`` (getrusage maxrss of the whole process), ``rss_before_run_mb``
(high-water mark before ``CircuitTemplate.run``), ``input_array_mb``; with ``--tracemalloc``
also the tracemalloc peak during ``run`` (slows the numpy backend, so it is off by default).

    /work/peers_venv/bin/python benchmarks/peers/pyrates_grid.py --n 64 --p 0.5 --duration 10
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
    ap.add_argument("--n", type=int, default=16, help="number of JR circuits (paper: 1,2,4,...,2048)")
    ap.add_argument("--p", type=float, default=0.5, help="coupling density in [0,1] (paper: 0,.25,.5,.75,1)")
    ap.add_argument("--duration", type=float, default=10.0, help="simulated time in s (default 10)")
    ap.add_argument("--dt", type=float, default=1e-4, help="Euler step in s (default 1e-4)")
    ap.add_argument("--sampling", type=float, default=1e-3, help="recording step in s (default 1e-3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=["default", "numba", "jax"], default="default",
                    help="'default' = PyRates numpy backend; 'numba' = numpy backend with the generated "
                         "vector field wrapped in numba.njit (PyRates' `decorator=` hook); 'jax' = PyRates "
                         "jax backend (whole Euler loop fused by jax.lax.scan; needs `pip install jax`)")
    ap.add_argument("--precision", choices=["float64", "float32"], default="float64",
                    help="PyRates float_precision (PyRates' own default is float32)")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure tracemalloc peak during run")
    ap.add_argument("--save-inputs", default=None, help="write C, inp, recorded signal to this .npz")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/XLA threads (default 1; set before numpy is imported)")
    return ap.parse_args(argv)


BACKEND_NOTE = {"default": "(numpy)", "numba": "(numpy+numba.njit decorator)", "jax": "(jax.lax.scan)"}

def mb(x):
    return x / 1024.0 / 1024.0


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    real_stdout = stdout_to_stderr()
    save_path = os.path.abspath(args.save_inputs) if args.save_inputs else None
    workdir = tempfile.mkdtemp(prefix="pyrates_grid_")
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

    N, p = args.n, args.p
    n_steps = int(round(args.duration / args.dt))

    # workload data
    rng = np.random.default_rng(args.seed)
    C = rng.uniform(size=(N, N))
    C[C > p] = 0.0
    rs = C.sum(axis=1)
    nz = rs > 0
    C[nz] /= rs[nz, None]
    inp = 220.0 + 22.0 * rng.standard_normal((n_steps, N))
    n_edges = int(np.count_nonzero(C))

    # network construction in PyRates
    t1 = time.perf_counter()
    jrc = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
    names = [f"jrc{i}" for i in range(N)]
    net = CircuitTemplate(name="net", path=None, circuits={nm: jrc for nm in names})
    if n_edges:
        net.add_edges_from_matrix("pro/m", "rpo_e_in/m_in", source_nodes=[f"{nm}/pc" for nm in names], weight=C)
    t_build = time.perf_counter() - t1
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    run_kwargs = dict(simulation_time=args.duration, step_size=args.dt, sampling_step_size=args.sampling,
                      inputs={"all/pc/rpo_e_in/u": inp},
                      outputs={"ve": "all/pc/rpo_e_in/v", "vi": "all/pc/rpo_i/v"}, solver="euler",
                      backend="jax" if args.backend == "jax" else "default", float_precision=args.precision,
                      verbose=False, clear=True, **kw)
    if args.tracemalloc:
        import tracemalloc
        tracemalloc.start()
    ctimer = compile_listener()
    ctx = nev.install_listener("numba:compile", ctimer) if args.backend == "numba" else contextlib.nullcontext()
    t2 = time.perf_counter()
    with ctx:
        res = net.run(**run_kwargs)
    t_runcall = time.perf_counter() - t2
    compile_box["t"], compile_box["cpu"] = ctimer.wall, ctimer.cpu
    if args.backend == "jax":   # jax reports wall durations only
        compile_box["t"], compile_box["cpu"] = jax_box["t"], None
    tm_peak = None
    if args.tracemalloc:
        tm_peak = mb(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()

    def as_matrix(frame):
        if frame.ndim == 1:                               # N == 1: PyRates returns a Series
            return frame.values.reshape(-1, 1)
        # columns are (node, 'pc', var) tuples; order them by node index
        cols = sorted(frame.columns, key=lambda c: int((c[0] if isinstance(c, tuple) else c).replace("jrc", "")))
        return frame[cols].values
    v = as_matrix(res["ve"]) + as_matrix(res["vi"])       # (n_samples, N)
    node_mean = v.mean(axis=0)
    node_std = v.std(axis=0)
    half = v[v.shape[0] // 2:]
    out = {
        "peer": "pyrates",
        "peer_version": pyrates.__version__,
        "workload": "jrc_grid",
        "backend": args.backend + BACKEND_NOTE[args.backend],
        "solver": "euler",
        "precision": args.precision,
        "seconds": solve_box["t"] - compile_box["t"],
        "setup_seconds": t_build + (t_runcall - solve_box["t"]),
        "build_seconds": t_build,
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
        "n_nodes": N,
        "p": p,
        "n_edges": n_edges,
        "seed": args.seed,
        "dt": args.dt, "duration": args.duration, "time_unit": "s",
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "rss_before_run_mb": rss_before,
        "input_array_mb": mb(inp.nbytes),
        "tracemalloc_peak_mb": tm_peak,
        "summary": {
            "signal": "pc/rpo_e_in/v + pc/rpo_i/v (V), all nodes",
            "n_samples": int(v.shape[0]),
            "mean": float(v.mean()), "std": float(v.std()),
            "node_mean_min": float(node_mean.min()), "node_mean_max": float(node_mean.max()),
            "node_std_mean": float(node_std.mean()),
            "mean_2nd_half": float(half.mean()), "std_2nd_half": float(half.std()),
            "node0_mean": float(node_mean[0]), "node0_std": float(node_std[0]),
            "node0_last": float(v[-1, 0]),
        },
        "threads": args.threads,
        "blas_threads": blas_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if args.backend == "numba":
        out["numba"] = numba.__version__
    if args.backend == "jax":
        out["jax"] = jax.__version__
    if save_path:
        np.savez_compressed(save_path, C=C, inp=inp, v=v, t=res.index.values)
        out["saved"] = save_path
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
