#!/usr/bin/env python
"""Benchmark: kernel compile and cached-load times, per model and network size.

For each shipped model (Jansen-Rit, Montbrio-Pazo-Roxin, Wilson-Cowan, Kuramoto), one empty
kernel cache: a fresh process per network size (default 68, 76 and 192 regions, random sparse
connectomes with delays, each template's declared coupling, Heun, 0.1 s) times its first
simulate() call -- code generation + numba compile for the first size, a cache load for the
others, since sizes are run-time values -- and then a second fresh process on the same cache
times the cached load of the first size with numba's own start-up paid beforehand.

    python benchmarks/bench_compile.py                    # 4 models x 3 sizes, ~2 min
    python benchmarks/bench_compile.py --models jansen_rit --sizes 76

Bars (issue 10): a cold JR76 compile <= 8 s and a cached load <= 0.3 s beyond numba's start-up,
on the 2-core development machine; a new size never compiles.
"""
import os
import shutil
import sys
import tempfile
import time

T_PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "compile"
MODELS = ("jansen_rit", "montbrio", "wilson_cowan", "kuramoto")


def parse_args(argv=None):
    import argparse
    ap = C.parser(__doc__)
    ap.add_argument("--models", nargs="+", default=list(MODELS), help="library templates")
    ap.add_argument("--sizes", nargs="+", type=int, default=[68, 76, 192],
                    help="network sizes in regions (the first one compiles)")
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--child-prime-numba", action="store_true", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def build(model, n):
    """A random sparse connectome (30 % of edges, delays up to 20 ms) with the template's
    declared coupling."""
    import numpy as np

    import rate_bridge as rb
    rng = np.random.default_rng(n)
    W = rng.uniform(0, 1, (n, n)) * (rng.uniform(size=(n, n)) < 0.3)
    np.fill_diagonal(W, 0.0)
    return rb.Network.from_arrays(W / n, model, delays=rng.uniform(0, 0.02, (n, n)))


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        model, n = args.child[0], int(args.child[1])
        C.child_first_call(lambda: build(model, n), dict(duration=0.1, dt=1e-4,
                                                          integrator="heun"),
                           T_PROCESS_START, args.child_prime_numba)
        return
    info = C.machine_info()
    C.print_machine("bench_compile: first simulate() call in fresh processes, per model and "
                    "size", info)
    rows, out = [], {"benchmark": NAME, "args": vars(args), "machine": info, "runs": []}
    for model in args.models:
        cache = tempfile.mkdtemp(prefix="rb_bench_compile_")
        env = {"RATE_BRIDGE_CACHE": cache}
        try:
            kernels = set()
            for k, n in enumerate(args.sizes):
                d = C.run_child(__file__, ["--child", model, n], env, timeout=1800)
                label = "compile" if k == 0 else "load (new size)"
                rows.append(_row(model, n, label, d))
                kernels.add(d.get("kernel"))
                out["runs"].append({"model": model, "size": n, "what": label, **d})
            d = C.run_child(__file__, ["--child", model, args.sizes[0], "--child-prime-numba"],
                            env, timeout=600)
            rows.append(_row(model, args.sizes[0], "load, numba started", d))
            out["runs"].append({"model": model, "size": args.sizes[0], "what": "load primed", **d})
            if len(kernels) != 1:
                print(f"  WARNING: {model}: sizes used {len(kernels)} kernels", flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    C.table(rows, ["model", "regions", "first call", "numba init s", "kernel compile/load s",
                   "1st simulate s", "process wall s"],
            title="First simulate() per fresh process (one empty cache per model)")
    print("  'kernel compile/load': simulate()'s own kernel_seconds (code generation + numba "
          "compile,\n  or loading the cached machine code); 'numba init': numba's CPU target "
          "start-up,\n  paid once per process by any numba code, measured apart in the primed "
          "run.\n  " + C.LOAD_NOTE, flush=True)
    C.write_json(NAME, out)


def _row(model, n, label, d):
    if "error" in d:
        return [model, n, label, d["error"][:50], "", "", ""]
    return [model, n, label, d.get("numba_init_seconds"), d["first_call_kernel_seconds"],
            d["first_call_seconds"], d["process_wall_seconds"]]


if __name__ == "__main__":
    main()
