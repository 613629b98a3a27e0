#!/usr/bin/env python
"""Peer benchmark: neurolib's ``Evolution`` fitting its Wilson-Cowan model on the 76-region
TVB connectome to a target FC.

Model: ``neurolib.models.wc.WCModel`` (time in ms, forward Euler, dt = 0.1 ms) on tvb-data's
``connectivity_76.zip``: ``weights / max(weights)`` as Cmat (neurolib zeroes its diagonal),
``tract_lengths`` (mm) as Dmat, signalV = 3 m/s, OU noise ``sigma_ou`` on both populations.
Fitted: ``K_gl`` and ``exc_ext`` (two parameters, uniform ranges). Target FC: the structural
weights themselves (``weights / max``, the same matrix as Cmat), so that both sides of
``bench_fit.py`` fit the same target with their own models. Score of a candidate: neurolib's
``matrix_correlation`` (Pearson correlation of the upper triangles) of the target and
``func.fc`` of ``exc`` sampled every ``--sampling-dt`` ms, after a ``--start`` transient.

Evolution: ``POP_INIT_SIZE = POP_SIZE = --pop`` (even), ``NGEN = --generations`` (so
``pop * generations`` evaluations, the first generation random), ``ncores = --cores``;
neurolib's defaults otherwise (algorithm "adaptive", pypet storage in an HDF file in a
temporary directory). pypet 0.6.1 uses numpy names removed in numpy 2 (``np.string_``,
``np.float_``, ``np.complex_``): the script sets them as aliases before importing neurolib. The model is run once before the evolution so that numba's compile of
its integration loop (inherited by pypet's forked workers) is not counted.

Each evaluation appends ``(end time, generation, correlation)`` to a log, from which the script
reports evaluations per second (evaluations / wall time of ``Evolution.run``) and the time
from the start of ``run`` to the end of each generation with the best correlation so far.

neurolib is imported at run time only. Prints one JSON line.

    /work/peers_venv/bin/python benchmarks/peers/neurolib_evolution.py --duration 10 --pop 16
"""
import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
import warnings

from _peer_common import limit_threads, load_connectome_76, stdout_to_stderr


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=60.0,
                    help="simulated s per evaluation (default 60)")
    ap.add_argument("--dt", type=float, default=0.1, help="Euler step in ms (default 0.1)")
    ap.add_argument("--pop", type=int, default=16, help="population size, even (default 16)")
    ap.add_argument("--generations", type=int, default=5, help="NGEN (default 5)")
    ap.add_argument("--cores", type=int, default=2, help="ncores of Evolution (default 2)")
    ap.add_argument("--k-gl", type=float, nargs=2, default=(0.0, 2.0),
                    help="range of K_gl (default 0 2)")
    ap.add_argument("--exc-ext", type=float, nargs=2, default=(0.0, 2.0),
                    help="range of exc_ext (default 0 2)")
    ap.add_argument("--sigma-ou", type=float, default=0.1, help="OU noise sigma (default 0.1)")
    ap.add_argument("--signal-v", type=float, default=3.0, help="signalV in m/s (default 3)")
    ap.add_argument("--sampling-dt", type=float, default=4.0,
                    help="output sampling in ms (default 4: 250 Hz)")
    ap.add_argument("--start", type=float, default=1.0, help="transient skipped, s (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="numpy/model seed (default 0)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.pop % 2:
        raise SystemExit(f"--pop must be even for neurolib's Evolution, got {args.pop}")
    limit_threads(1)                      # one BLAS thread per pypet worker process
    real_stdout = stdout_to_stderr()
    warnings.filterwarnings("ignore")
    import numpy as np
    # pypet 0.6.1 (neurolib's storage layer) still names types removed in numpy 2.0
    for old, new in (("string_", "bytes_"), ("float_", "float64"), ("complex_", "complex128"),
                     ("unicode_", "str_")):
        if old not in np.__dict__:
            setattr(np, old, getattr(np, new))
    np.random.seed(args.seed)
    import neurolib
    import neurolib.utils.functions as func
    from neurolib.models.wc import WCModel
    from neurolib.optimize.evolution import Evolution
    from neurolib.utils.parameterSpace import ParameterSpace

    cmat, dmat, _ = load_connectome_76()
    cmat = cmat / cmat.max()
    target = cmat.copy()
    np.fill_diagonal(target, 0.0)
    model = WCModel(Cmat=cmat, Dmat=dmat, seed=args.seed)
    p = model.params
    p.update(dt=args.dt, signalV=args.signal_v, sigma_ou=args.sigma_ou,
             sampling_dt=args.sampling_dt, duration=args.duration * 1e3)
    skip = int(round(args.start * 1e3 / args.sampling_dt))
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False).name

    def evaluate(traj):
        model = evolution.getModelFromTraj(traj)
        model.run()
        corr = float(func.matrix_correlation(func.fc(model.exc[:, skip:]), target))
        try:
            gen = int(traj.generation)
        except Exception:            # noqa: BLE001  (pypet version differences)
            gen = -1
        with open(log, "a") as f:
            f.write(f"{time.time()!r} {gen} {corr!r}\n")
        return (corr if np.isfinite(corr) else np.nan,), {}

    # warm-up: numba compiles the integration loop here, before pypet forks its workers
    p["duration"] = 100.0
    t0 = time.perf_counter()
    model.run()
    t_compile = time.perf_counter() - t0
    p["duration"] = args.duration * 1e3

    space = ParameterSpace(["K_gl", "exc_ext"], [list(args.k_gl), list(args.exc_ext)])
    work = tempfile.mkdtemp(prefix="nl_evolution_")
    os.chdir(work)                        # neurolib writes ./data/hdf/<filename>
    evolution = Evolution(evaluate, space, weightList=[1.0], model=model,
                          filename="bench.hdf", ncores=args.cores, POP_INIT_SIZE=args.pop,
                          POP_SIZE=args.pop, NGEN=args.generations)
    t_start, wall0, c0 = time.time(), time.perf_counter(), time.process_time()
    evolution.run(verbose=False)
    wall = time.perf_counter() - wall0
    cpu_parent = time.process_time() - c0

    rows = [line.split() for line in open(log)]
    t_end = np.array([float(r[0]) for r in rows]) - t_start
    gens = np.array([int(r[1]) for r in rows])
    corr = np.array([float(r[2]) for r in rows])
    # per generation: its end (its last evaluation) and the best correlation so far
    best, progress = -np.inf, []
    for g in sorted(set(gens.tolist())):
        sel = gens == g
        good = corr[sel][np.isfinite(corr[sel])]
        best = max(best, float(good.max()) if good.size else -np.inf)
        progress.append({"generation": g, "evaluations": int(sel.sum()),
                         "end_seconds": float(t_end[sel].max()), "best_corr": best})
    i = int(np.nanargmax(np.where(np.isfinite(corr), corr, np.nan)))
    best_ind = evolution.toolbox.selBest(evolution.pop, 1)[0]
    try:
        import importlib.metadata as im
        version = im.version("neurolib")
    except Exception:                     # noqa: BLE001
        version = getattr(neurolib, "__version__", "?")
    out = {
        "peer": "neurolib", "peer_version": version, "model": "WCModel",
        "optimizer": "neurolib.optimize.evolution.Evolution (adaptive)",
        "n_evaluations": int(len(rows)), "seconds": wall,
        "evaluations_per_s": len(rows) / wall, "cpu_seconds_parent": cpu_parent,
        "compile_seconds": t_compile, "pop": args.pop, "generations": args.generations,
        "cores": args.cores, "duration": args.duration, "dt_ms": args.dt,
        "sigma_ou": args.sigma_ou, "signalV": args.signal_v, "sampling_dt_ms": args.sampling_dt,
        "start": args.start, "ranges": {"K_gl": list(args.k_gl), "exc_ext": list(args.exc_ext)},
        "best_corr": float(corr[i]), "best_params": dict(zip(["K_gl", "exc_ext"],
                                                              map(float, best_ind))),
        "n_invalid": int((~np.isfinite(corr)).sum()),
        "progress": progress,
        "evaluations": [[float(a), int(b), float(c)] for a, b, c in zip(t_end, gens, corr)],
        "loadavg_1min_end": os.getloadavg()[0],
        "peak_rss_mb_parent": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "python": platform.python_version(), "numpy": np.__version__,
    }
    os.unlink(log)
    os.chdir(tempfile.gettempdir())
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
