#!/usr/bin/env python
"""Peer benchmark: neurolib whole-brain model on the 76-region TVB connectome.

Default: ``neurolib.models.wc.WCModel`` (Wilson-Cowan, time in ms), ``--model hopf``
gives ``HopfModel``.  Structural data: ``weights.txt`` as Cmat and ``tract_lengths.txt``
(mm) as Dmat, read directly from tvb-data's ``connectivity_76.zip`` (same files TVB
uses; weights[i, j] = j -> i in both TVB and neurolib).  neurolib zeroes the Cmat
diagonal; delays = round(length / signalV / dt) steps, signalV in m/s (= mm/ms),
default 3.  dt = 0.1 ms, default 10 s, forward Euler (neurolib's only scheme).

neurolib JIT-compiles its integration loop with numba on the first call, so the
model is run twice: a short warm-up run (``compile_seconds``; includes the
compile) and then the timed full run (``seconds``).  ``setup_seconds`` = loading
the connectome and constructing the model.  Note neurolib draws its (N x n_steps)
standard-normal noise arrays in Python on every run even with sigma_ou = 0; that
is included in ``seconds``, as is its output handling.

neurolib is imported at run time only.

    /work/peers_venv/bin/python benchmarks/peers/neurolib_76.py --duration 10
"""
import argparse
import json
import os
import platform
import resource
import time
import warnings

from _peer_common import blas_threads, limit_threads, load_connectome_76, stdout_to_stderr


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="simulated time in s (default 10)")
    ap.add_argument("--dt", type=float, default=0.1, help="Euler step in ms (default 0.1)")
    ap.add_argument("--model", choices=["wc", "hopf"], default="wc")
    ap.add_argument("--signal-v", type=float, default=3.0, help="signalV, conduction speed in m/s (default 3)")
    ap.add_argument("--k-gl", type=float, default=None, help="global coupling K_gl (default: WC 0.6 = neurolib's default; Hopf 0.1, because neurolib's "
                         "default 0.6 with diffusive coupling on the raw 76-region weights (row sums up to 71) is "
                         "unstable under Euler at dt=0.1 ms and gives NaN)")
    ap.add_argument("--exc-ext", type=float, default=None, help="WC: constant exc_ext (neurolib default 0)")
    ap.add_argument("--sigma-ou", type=float, default=0.0, help="OU noise sigma (default 0 = deterministic)")
    ap.add_argument("--sampling-dt", type=float, default=1.0, help="neurolib sampling_dt in ms (default 1)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--warmup-duration", type=float, default=0.01, help="warm-up run length in s (default 0.01)")
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
    import numba
    import neurolib
    if args.model == "wc":
        from neurolib.models.wc import WCModel as Model
    else:
        from neurolib.models.hopf import HopfModel as Model
    t_import = time.perf_counter() - t0

    t1 = time.perf_counter()
    Cmat, Dmat, path = load_connectome_76()
    model = Model(Cmat=Cmat, Dmat=Dmat, seed=args.seed)
    p = model.params
    p["dt"] = args.dt
    p["signalV"] = args.signal_v
    p["sigma_ou"] = args.sigma_ou
    if args.k_gl is not None:
        p["K_gl"] = args.k_gl
    elif args.model == "hopf":
        p["K_gl"] = 0.1
    if args.exc_ext is not None and args.model == "wc":
        p["exc_ext"] = args.exc_ext
    p["sampling_dt"] = args.sampling_dt
    # keep the initial conditions of the timed run independent of the warm-up run
    init = {k: np.array(p[k], copy=True) for k in model.init_vars if k in p}
    t_setup = time.perf_counter() - t1

    # warm-up run: includes numba compilation of the integration loop
    p["duration"] = args.warmup_duration * 1e3
    t2 = time.perf_counter()
    model.run()
    t_warm = time.perf_counter() - t2

    # timed run from the same initial conditions
    for k, v in init.items():
        p[k] = np.array(v, copy=True)
    p["duration"] = args.duration * 1e3
    t3, c3 = time.perf_counter(), time.process_time()
    model.run()
    t_run = time.perf_counter() - t3
    c_run = time.process_time() - c3

    out_var = model.default_output
    x = np.asarray(model.outputs[out_var])          # (N, n_samples)
    t = np.asarray(model.outputs["t"])
    half = x[:, x.shape[1] // 2:]
    node_mean = x.mean(axis=1)
    node_std = x.std(axis=1)
    Dmat_ndt = np.asarray(p.get("Dmat_ndt", np.zeros(1)))
    try:
        import importlib.metadata as im
        nl_version = im.version("neurolib")
    except Exception:  # pragma: no cover
        nl_version = "?"
    out = {
        "peer": "neurolib",
        "peer_version": nl_version,
        "workload": f"{args.model}76",
        "model": Model.__name__,
        "seconds": t_run,
        "cpu_seconds": c_run,
        "loadavg_1min_end": os.getloadavg()[0],
        "setup_seconds": t_setup,
        "compile_seconds": t_warm,
        "warmup_duration": args.warmup_duration * 1e3,
        "import_seconds": t_import,
        "n_steps": int(round(args.duration * 1e3 / args.dt)),
        "n_nodes": int(Cmat.shape[0]),
        "dt": args.dt, "duration": args.duration * 1e3, "time_unit": "ms",
        "signalV_m_per_s": args.signal_v,
        "K_gl": float(p["K_gl"]),
        "sigma_ou": float(p["sigma_ou"]),
        "exc_ext": float(np.mean(p["exc_ext"])) if args.model == "wc" else None,
        "max_delay_steps": int(Dmat_ndt.max()),
        "n_edges": int(np.count_nonzero(p["Cmat"])),
        "connectome": os.path.basename(path),
        "summary": {
            "signal": f"{out_var} (all nodes, sampled every {args.sampling_dt} ms)",
            "n_samples": int(x.shape[1]),
            "t_first": float(t[0]), "t_last": float(t[-1]),
            "mean": float(x.mean()), "std": float(x.std()),
            "node_mean_min": float(node_mean.min()), "node_mean_max": float(node_mean.max()),
            "node_std_mean": float(node_std.mean()),
            "mean_2nd_half": float(half.mean()), "std_2nd_half": float(half.std()),
            "node0_mean": float(node_mean[0]), "node0_last": float(x[0, -1]),
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": args.threads,
        "blas_threads": blas_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }
    print(json.dumps(out), file=real_stdout, flush=True)


if __name__ == "__main__":
    main()
