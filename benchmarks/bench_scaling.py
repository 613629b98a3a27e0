#!/usr/bin/env python
"""Benchmark: scaling with network size (random sparse networks of Jansen-Rit nodes).

Workload 2: random sparse networks of 100, 1000 and 10000 nodes, ~20 incoming edges per node
(sources drawn without replacement, no self-connections; weights U(0.5, 1.5)/20 so that every row
sums to ~1), per-edge delays U(0, 20 ms) rounded to steps, Jansen-Rit nodes coupled through
``("pc.m_out", "pc.m_in_e")`` linear, Heun, dt = 1e-4 s, 1 s simulated, pc.v recorded at 1 kHz.

Every size runs in its own fresh process (so ``ru_maxrss`` is per size) that builds the network,
makes a 1-ms warm-up call on the same structure without edges (compiles the kernel if it is
not in the cache -- weights and delays are run-time values, so the edgeless network uses the same
kernel, which is checked) and then times the run (best of ``--repeats``, under tracemalloc). Reported: time,
time per edge-step and per node-step, tracemalloc peak during one run (numpy arrays that
simulate() allocates; numba-internal buffers are not traced, so their size is estimated:
history ring buffer = sources x regions x 2 (max delay steps + 2) x 8 B), and peak RSS (process
peak, and its increase over the state after import and after the warm-up call). The sizes run
with ``parallel="batch"`` (one thread per batch member, so one thread here: the cleanest
cost-vs-edges measurement); the largest also with ``parallel="regions"`` (regions split over
threads inside each step, what ``parallel="auto"`` picks for >= 512 regions and one member).

    python benchmarks/bench_scaling.py --quick                 # 30 ms, up to 3000 nodes, ~2 min
    python benchmarks/bench_scaling.py                         # 1 s simulated
    python benchmarks/bench_scaling.py --sizes 100 1000 10000 30000 --repeats 1
"""
import argparse
import json
import math
import os
import sys
import time

T_PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "scaling"


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="network sizes (default 100 1000 10000; --quick: 100 1000 3000)")
    ap.add_argument("--degree", type=int, default=20, help="incoming edges per node (20)")
    ap.add_argument("--max-delay", type=float, default=0.02, help="max delay in s (0.02)")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated time in s (default 1; 0.05 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="Heun step in s (1e-4)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per size (best kept; default 3, 1 with --quick)")
    ap.add_argument("--repeat-budget", type=float, default=120.0,
                    help="stop repeating once this many seconds were spent on a size (120)")
    ap.add_argument("--size-mode", default="batch", choices=["auto", "batch", "regions"],
                    help="parallel mode of the size sweep (default batch: one batch member -> "
                         "one thread, the cleanest cost-vs-edges measurement)")
    ap.add_argument("--modes", nargs="+", default=["regions"],
                    choices=["auto", "batch", "regions"],
                    help="other parallel modes tried on the largest size (default regions; note "
                         "auto resolves to regions for >= 512 regions and one batch member)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="short smoke version")
    ap.add_argument("--no-peers", action="store_true", help="accepted for symmetry; no peer here")
    ap.add_argument("--timeout", type=float, default=3600.0, help="timeout per size in s")
    ap.add_argument("--child-size", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-mode", default="auto", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.sizes is None:
        args.sizes = [100, 1000, 3000] if args.quick else [100, 1000, 10000]
    if args.duration is None:
        args.duration = 0.03 if args.quick else 1.0
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def random_network(n, degree, max_delay, seed):
    """CSR weights [target, source] and delays (s), ``degree`` random sources per target."""
    import numpy as np
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    k = min(degree, n - 1)
    rows = np.repeat(np.arange(n), k)
    cols = np.empty(n * k, dtype=np.int64)
    for i in range(n):
        src = rng.choice(n - 1, size=k, replace=False)
        src[src >= i] += 1                      # skip self
        cols[i * k:(i + 1) * k] = src
    w = rng.uniform(0.5, 1.5, n * k) / k
    d = rng.uniform(0.0, max_delay, n * k)
    W = sp.csr_matrix((w, (rows, cols)), shape=(n, n))
    D = sp.csr_matrix((d, (rows, cols)), shape=(n, n))
    return W, D


def child(args):
    """One size in this (fresh) process; prints one JSON line."""
    import tracemalloc

    import numba
    import numpy as np

    import rate_bridge as rb
    t_import = time.perf_counter() - T_PROCESS_START
    rss_import = C.maxrss_mb()
    n = args.child_size
    t0 = time.perf_counter()
    W, D = random_network(n, args.degree, args.max_delay, args.seed)
    net = rb.Network.from_arrays(W, "jansen_rit", delays=D, coupling=("pc.m_out", "pc.m_in_e"),
                                 coupling_function="linear")
    t_build = time.perf_counter() - t0
    rss_build = C.maxrss_mb()
    kw = dict(dt=args.dt, integrator="heun", record=["pc.v"], sampling_rate=1000.0,
              parallel=args.child_mode, seed=0)
    # warm-up (compile or cache load) on the same structure without edges, for 1 ms: the
    # kernel does not depend on weights or delays (checked below: warmup_same_kernel)
    import scipy.sparse as sp
    net0 = rb.Network.from_arrays(sp.csr_matrix((n, n)), "jansen_rit",
                                  coupling=("pc.m_out", "pc.m_in_e"), coupling_function="linear")
    before = C.nbi_files()
    t0 = time.perf_counter()
    warm = rb.simulate(net0, duration=max(2 * args.dt, 1e-3), **kw)   # >= 1 sample
    t_first = time.perf_counter() - t0
    compiled = C.compiled_since(before, warm.provenance["kernel"])
    del net0
    rss_warm = C.maxrss_mb()
    tracemalloc.start()
    r = C.time_ours(lambda: rb.simulate(net, duration=args.duration, **kw), args.repeats,
                    budget=args.repeat_budget)
    tm_peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    res = r.pop("result")
    same_kernel = res.provenance["kernel"] == warm.provenance["kernel"]
    del res
    rss_run = C.maxrss_mb()
    n_steps = int(round(args.duration / args.dt))
    nnz = int(net.weights.nnz)
    max_d = int(np.round(net.delays.data / args.dt).max()) if nnz else 0
    L = max_d + 2
    n_q = 4        # pc.m_out (coupling) + the circuit's 3 internal edge sources
    hist_mb = n_q * n * 2 * L * 8 / 2 ** 20      # every sample is stored twice (no wrap-around)
    threads = numba.get_num_threads()
    mode = args.child_mode
    if mode == "auto":      # mirrors simulate._parallel_mode for one batch member
        mode = "regions" if (1 < numba.config.NUMBA_NUM_THREADS and n >= 512) else "batch"
    out = {"n": n, "edges": nnz, "n_steps": n_steps, "parallel": args.child_mode,
           "parallel_resolved": mode, "threads": threads, "max_delay_steps": max_d,
           "import_seconds": t_import, "build_seconds": t_build,
           "first_call_seconds": t_first, "compiled_in_this_process": compiled,
           "warmup_same_kernel": same_kernel,
           "kernel": warm.provenance["kernel"],
           "run": r["run"], "wall": r["wall"], "cpu": r["cpu"], "runs": r["runs"],
           "repeats": r["repeats"],
           "ns_per_edge_step": r["run"] / max(nnz, 1) / n_steps * 1e9,
           "ns_per_node_step": r["run"] / n / n_steps * 1e9,
           "tracemalloc_peak_mb": tm_peak, "hist_estimate_mb": hist_mb,
           "maxrss_after_import_mb": rss_import, "maxrss_after_build_mb": rss_build,
           "maxrss_after_warmup_mb": rss_warm, "maxrss_after_runs_mb": rss_run,
           "maxrss_delta_from_import_mb": rss_run - rss_import,
           "maxrss_delta_from_warmup_mb": rss_run - rss_warm}
    print(json.dumps(out), flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.child_size is not None:
        child(args)
        return
    info = C.machine_info()
    C.print_machine(f"bench_scaling: random sparse JR networks, ~{args.degree} edges/node, delays "
                    f"U(0, {args.max_delay * 1e3:g} ms), Heun, dt = {args.dt:g} s, "
                    f"{args.duration:g} s" + ("  [--quick]" if args.quick else ""), info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info, "runs": []}
    sizes = sorted(args.sizes)
    jobs = [(n, args.size_mode) for n in sizes] + [(sizes[-1], m) for m in args.modes
                                                   if m != args.size_mode]
    common = [f"--degree={args.degree}", f"--max-delay={args.max_delay}",
              f"--duration={args.duration}", f"--dt={args.dt}", f"--repeats={args.repeats}",
              f"--repeat-budget={args.repeat_budget}", f"--seed={args.seed}"]
    for n, mode in jobs:
        print(f"  size {n}, parallel={mode!r}: fresh process ...", flush=True)
        d = C.run_child(__file__, common + [f"--child-size={n}", f"--child-mode={mode}"],
                        timeout=args.timeout)
        d.setdefault("n", n)
        d.setdefault("parallel", mode)
        if "error" in d:
            print(f"    failed: {d['error']}", flush=True)
        else:
            print(f"    {d['edges']} edges, first call {d['first_call_seconds']:.2f} s "
                  f"({'compiled' if d['compiled_in_this_process'] else 'cached kernel'}), "
                  f"run {d['run']:.3f} s", flush=True)
        out["runs"].append(d)
    print()

    ok = [d for d in out["runs"] if "error" not in d]
    rows = []
    for d in out["runs"]:
        if "error" in d:
            rows.append([d["n"], "", d["parallel"], "failed"] + [""] * 11)
            continue
        rows.append([d["n"], d["edges"], f"{d['parallel']}->{d['parallel_resolved']}",
                     d["run"], d["wall"], d["cpu"], d["ns_per_edge_step"], d["ns_per_node_step"],
                     d["build_seconds"], d["first_call_seconds"], d["tracemalloc_peak_mb"], d["hist_estimate_mb"],
                     d["maxrss_after_runs_mb"], d["maxrss_delta_from_import_mb"],
                     d["maxrss_delta_from_warmup_mb"]])
    C.table(rows, ["nodes", "edges", "parallel", "run s", "call s", "CPU s", "ns/edge-step",
                   "ns/node-step", "build s", "1st call s", "tracemalloc MB", "hist est MB",
                   "maxrss MB", "dRSS import MB", "dRSS warm MB"],
            title=f"Scaling ({args.duration:g} s simulated, "
                  f"{int(round(args.duration / args.dt))} Heun steps; one fresh process per row)")
    print("  run = kernel time (best of repeats); build = random_network + Network.from_arrays;\n"
          "  1st call = warm-up call incl. compile (if not cached) or cache load; tracemalloc = "
          "peak of numpy\n  allocations during the runs; hist est = numba-internal delay ring "
          "buffer (not traced); maxrss =\n  process peak; dRSS = increase since after import / "
          "since after the warm-up call.\n")

    # linearity over the size sweep
    auto = sorted((d for d in ok if d["parallel"] == args.size_mode), key=lambda d: d["edges"])
    if len(auto) >= 2:
        xs = [math.log(d["edges"]) for d in auto]
        ys = [math.log(d["run"]) for d in auto]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        per_edge = [d["ns_per_edge_step"] for d in auto]
        spread = max(per_edge) / min(per_edge)
        linear = 0.85 <= slope <= 1.15
        verdict = (f"cost vs edges: log-log slope {slope:.2f} over {auto[0]['edges']}.."
                   f"{auto[-1]['edges']} edges; time per edge-step varies {spread:.2f}x "
                   f"({min(per_edge):.1f}..{max(per_edge):.1f} ns) -> "
                   + ("grows ~linearly with edges" if linear else
                      ("grows faster than linearly" if slope > 1.15 else
                       "grows slower than linearly (fixed costs / parallel speed-up dominate)")))
        print(verdict)
        out["linearity"] = {"slope": slope, "per_edge_spread": spread, "linear": linear}
        modes = [d for d in ok if d["n"] == sizes[-1]]
        if len(modes) > 1:
            print(f"parallel modes at {sizes[-1]} nodes: " + ", ".join(
                f"{d['parallel']}->{d['parallel_resolved']} {d['run']:.3f} s" for d in modes))
    la = os.getloadavg()
    out["loadavg_end"] = list(la)
    print(f"\nload average at the end: {la[0]:.2f} on {os.cpu_count()} cores. {C.LOAD_NOTE}")
    C.write_json(NAME, out)


if __name__ == "__main__":
    main()
