#!/usr/bin/env python
"""Benchmark: the PyRates paper's grid -- N Jansen-Rit circuits x coupling density p, vs PyRates.

Workload 4 (Gast et al. 2019, PyRates' CPU benchmark; ``benchmarks/peers/pyrates_grid.py``):
N = 1, 2, 4, ..., 2048 Jansen-Rit circuits; random coupling of density p in {0, .25, .5, .75, 1}:
``C = U(0,1)^(NxN); C[C > p] = 0``, rows (targets) divided by their sums, self-connections kept;
edge ``pc.m_out -> pc.m_in_e`` with weight C[i, j] (linear, G = 1, no delays); noisy input
u = 220 + 22 N(0,1) per node and step (our ``noise={"pc.u": 22.0}``); Euler, dt = 1e-4 s, 10 s;
pc.v recorded at 1 kHz. C is drawn exactly as the peer draws it (same seed, same generator).

Every cell of ours runs in a fresh process (per-cell peak RSS): a short warm-up call (compiles
the kernel if it is not cached; if the region count is part of the kernel, every N compiles
once), then the timed run(s) under tracemalloc (numba-internal buffers are not traced). PyRates runs where
N <= ``--peer-max-n`` and finishes within ``--peer-timeout`` (larger N at the same p are skipped
after a timeout). For cells with N <= ``--check-max-n`` where PyRates ran, our simulator also
replays PyRates' exact input array (``inputs={"pc.u": inp}``) and the recordings' summaries are
compared (they agree to rounding: same equations, same Euler scheme).

Output: tables of time and peak memory, ``benchmarks/results/pyrates_grid.json`` and a heatmap
``benchmarks/results/pyrates_grid.png`` (ours, PyRates, PyRates/ours).

    python benchmarks/bench_pyrates_grid.py --quick             # 3 x 3 cells, 0.2 s simulated
    python benchmarks/bench_pyrates_grid.py                     # the full grid, 10 s (hours)
    python benchmarks/bench_pyrates_grid.py --duration 1 --peer-max-n 512 --peer-timeout 600
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

NAME = "pyrates_grid"
SIZES = [2 ** k for k in range(12)]
DENSITIES = [0.0, 0.25, 0.5, 0.75, 1.0]


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="N values (default 1 2 4 ... 2048; --quick: 1 16 256)")
    ap.add_argument("--densities", type=float, nargs="+", default=None,
                    help="p values (default 0 .25 .5 .75 1; --quick: 0 .5 1)")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated time in s (default 10; 0.2 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="Euler step in s (1e-4)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="timed repeats of our run per cell (best kept; default 1)")
    ap.add_argument("--parallel", default="auto", choices=["auto", "batch", "regions"],
                    help="our parallel mode (default auto: 'nodes' for N >= 512)")
    ap.add_argument("--seed", type=int, default=0, help="seed of C and of the noise")
    ap.add_argument("--quick", action="store_true", help="short smoke version")
    ap.add_argument("--no-peers", action="store_true", help="skip PyRates")
    ap.add_argument("--peer-backend", default="default",
                    help="PyRates backend as offered by peers/pyrates_grid.py: default (numpy; "
                         "default), numba, jax")
    ap.add_argument("--peer-threads", type=int, default=None,
                    help="pass --threads N to the peer (if it supports it; its default is 1)")
    ap.add_argument("--peer-max-n", type=int, default=None,
                    help="largest N run with PyRates (default 512; --quick: 16)")
    ap.add_argument("--peer-timeout", type=float, default=None,
                    help="timeout of one PyRates cell in s (default 900; --quick: 120)")
    ap.add_argument("--our-timeout", type=float, default=None,
                    help="timeout of one of our cells in s; larger N at that p are skipped "
                         "(default 1800; --quick: 300)")
    ap.add_argument("--check-max-n", type=int, default=16,
                    help="replay PyRates' inputs and compare recordings for N <= this (16)")
    ap.add_argument("--no-plot", action="store_true", help="skip the heatmap")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-p", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--child-replay", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    if args.sizes is None:
        args.sizes = [1, 16, 256] if q else SIZES
    if args.densities is None:
        args.densities = [0.0, 0.5, 1.0] if q else DENSITIES
    if args.duration is None:
        args.duration = 0.2 if q else 10.0
    if args.peer_max_n is None:
        args.peer_max_n = 16 if q else 512
    if args.peer_timeout is None:
        args.peer_timeout = 120.0 if q else 900.0
    if args.our_timeout is None:
        args.our_timeout = 300.0 if q else 1800.0
    return args


def coupling_matrix(N, p, seed):
    """C exactly as peers/pyrates_grid.py draws it, and the generator (for the inputs)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    Cm = rng.uniform(size=(N, N))
    Cm[Cm > p] = 0.0
    rs = Cm.sum(axis=1)
    nz = rs > 0
    Cm[nz] /= rs[nz, None]
    return Cm, rng


def summary(v):
    """peers/pyrates_grid.py's summary of a (n_samples, N) recording (same units as v)."""
    import numpy as np
    node_mean, node_std = v.mean(axis=0), v.std(axis=0)
    half = v[v.shape[0] // 2:]
    return {"n_samples": int(v.shape[0]), "mean": float(v.mean()), "std": float(v.std()),
            "node_mean_min": float(node_mean.min()), "node_mean_max": float(node_mean.max()),
            "node_std_mean": float(node_std.mean()), "mean_2nd_half": float(half.mean()),
            "std_2nd_half": float(half.std()), "node0_mean": float(node_mean[0]),
            "node0_std": float(node_std[0]), "node0_last": float(v[-1, 0])}


def child(args):
    import tracemalloc

    import numba
    import numpy as np

    import rate_bridge as rb
    t_import = time.perf_counter() - T_PROCESS_START
    rss_import = C.maxrss_mb()
    N, p = args.child_n, args.child_p
    n_steps = int(round(args.duration / args.dt))
    t0 = time.perf_counter()
    Cm, rng = coupling_matrix(N, p, args.seed)
    net = rb.Network.from_arrays(Cm, "jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                 coupling_function="linear", verbose="warning")
    t_build = time.perf_counter() - t0
    kw = dict(dt=args.dt, integrator="euler", noise={"pc.u": 22.0}, record=["pc.v"],
              sampling_rate=1000.0, seed=args.seed, parallel=args.parallel)
    before = C.nbi_files()
    t0 = time.perf_counter()
    warm = rb.simulate(net, duration=min(args.duration, 0.01), **kw)
    t_first = time.perf_counter() - t0
    compiled = C.compiled_since(before, warm.provenance["kernel"])
    rss_warm = C.maxrss_mb()
    tracemalloc.start()
    r = C.time_ours(lambda: rb.simulate(net, duration=args.duration, **kw), args.repeats)
    tm_peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    res = r.pop("result")
    rss_run = C.maxrss_mb()
    mode = args.parallel
    if mode == "auto":          # mirrors simulate._parallel_mode for one batch member
        mode = "nodes" if (1 < numba.config.NUMBA_NUM_THREADS and N >= 512) else "batch"
    out = {"n": N, "p": p, "edges": int(net.weights.nnz), "n_steps": n_steps,
           "parallel": args.parallel, "parallel_resolved": mode,
           "import_seconds": t_import, "build_seconds": t_build, "first_call_seconds": t_first,
           "compiled_in_this_process": compiled, "kernel": warm.provenance["kernel"], "run": r["run"], "wall": r["wall"],
           "cpu": r["cpu"], "runs": r["runs"], "tracemalloc_peak_mb": tm_peak,
           "maxrss_mb": rss_run, "maxrss_after_import_mb": rss_import,
           "maxrss_delta_from_import_mb": rss_run - rss_import,
           "maxrss_delta_from_warmup_mb": rss_run - rss_warm,
           "summary_V": summary(res["pc.v"] * 1e-3)}
    del res
    if args.child_replay:       # PyRates' exact input array: inp = 220 + 22 randn after C
        inp = 220.0 + 22.0 * rng.standard_normal((n_steps, N))
        rr = rb.simulate(net, duration=args.duration, dt=args.dt, integrator="euler",
                         params={"pc.u": 0.0}, inputs={"pc.u": inp}, record=["pc.v"],
                         sampling_rate=1000.0, parallel=args.parallel)
        out["replay_summary_V"] = summary(rr["pc.v"] * 1e-3)
    print(json.dumps(out), flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    info = C.machine_info()
    sizes, dens = sorted(args.sizes), sorted(args.densities)
    n_steps = int(round(args.duration / args.dt))
    C.print_machine(f"bench_pyrates_grid: N x p grid of Jansen-Rit circuits, noisy input, Euler, "
                    f"dt = {args.dt:g} s, {args.duration:g} s ({n_steps} steps)"
                    + ("  [--quick]" if args.quick else ""), info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info, "cells": {}}
    common = [f"--duration={args.duration}", f"--dt={args.dt}", f"--repeats={args.repeats}",
              f"--parallel={args.parallel}", f"--seed={args.seed}"]
    ours_skip, peer_skip = {}, {}
    for p in dens:
        for N in sizes:
            key = f"{N},{p:g}"
            cell = {"n": N, "p": p}
            # PyRates first (so that we know whether to replay its inputs)
            peer = None
            if not args.no_peers and N <= args.peer_max_n:
                if p in peer_skip:
                    peer = {"error": f"skipped: timed out at N = {peer_skip[p]}", "skipped": True}
                else:
                    extra = []
                    if (args.peer_threads is not None
                            and C.peer_supports("pyrates_grid.py", "--threads")):
                        extra = ["--threads", args.peer_threads]
                    peer = C.run_peer("pyrates_grid.py",
                                      ["--n", N, "--p", p, "--duration", args.duration,
                                       "--dt", args.dt, "--seed", args.seed,
                                       "--backend", args.peer_backend, *extra],
                                      timeout=args.peer_timeout, label=f"PyRates N={N} p={p:g}")
                    if peer.get("timeout"):
                        peer_skip[p] = N
                cell["peer"] = peer
            # ours
            if p in ours_skip:
                ours = {"error": f"skipped: timed out at N = {ours_skip[p]}", "skipped": True}
            else:
                replay = (peer is not None and "error" not in peer and N <= args.check_max_n)
                print(f"  ours N={N} p={p:g}: fresh process{' (+ replay check)' if replay else ''}"
                      " ...", flush=True)
                ours = C.run_child(__file__, common + ["--child", f"--child-n={N}",
                                                       f"--child-p={p}"]
                                   + (["--child-replay"] if replay else []),
                                   timeout=args.our_timeout)
                if ours.get("timeout"):
                    ours_skip[p] = N
                if "error" in ours:
                    print(f"    failed: {ours['error']}", flush=True)
                else:
                    print(f"    {ours['edges']} edges, first call {ours['first_call_seconds']:.2f}"
                          f" s, run {ours['run']:.3f} s"
                          + (f" | PyRates {peer['seconds']:.3f} s"
                             if peer and "error" not in peer else ""), flush=True)
            cell["ours"] = ours
            if peer and "error" not in peer and "replay_summary_V" in ours:
                diffs = {k: abs(ours["replay_summary_V"][k] - peer["summary"][k]) * 1e3
                         for k in ("mean", "std", "node0_mean", "node0_std", "node0_last",
                                   "mean_2nd_half", "std_2nd_half")}
                cell["replay_max_abs_diff_mV"] = max(diffs.values())
            out["cells"][key] = cell
    print()
    report(args, out, sizes, dens, n_steps)
    la = os.getloadavg()
    out["loadavg_end"] = list(la)
    print(f"\nload average at the end: {la[0]:.2f} on {os.cpu_count()} cores. {C.LOAD_NOTE}")
    C.write_json(NAME, out)


def _get(out, N, p, who, field):
    d = out["cells"].get(f"{N},{p:g}", {}).get(who)
    if not d or "error" in d:
        return None
    return d.get(field)


def _status(out, N, p, who):
    d = out["cells"].get(f"{N},{p:g}", {}).get(who)
    if d is None:
        return "-"
    if "error" in d:
        return "skip" if d.get("skipped") else ("timeout" if d.get("timeout") else "fail")
    return None


def report(args, out, sizes, dens, n_steps):
    def grid_table(title, who, field, mark_compiled=False):
        rows = []
        for N in sizes:
            row = [N]
            for p in dens:
                v = _get(out, N, p, who, field)
                if v is None:
                    row.append(_status(out, N, p, who))
                elif mark_compiled and _get(out, N, p, who, "compiled_in_this_process"):
                    row.append(C.fmt(v) + "*")
                else:
                    row.append(v)
            rows.append(row)
        C.table(rows, ["N \\ p"] + [f"{p:g}" for p in dens], title=title)

    grid_table(f"rate_bridge run time (s, kernel, {n_steps} Euler steps)", "ours", "run")
    if not args.no_peers:
        grid_table(f"PyRates {args.peer_backend} run time (s, Euler loop)", "peer", "seconds")
        rows = []
        for N in sizes:
            row = [N]
            for p in dens:
                a, b = _get(out, N, p, "peer", "seconds"), _get(out, N, p, "ours", "run")
                row.append(C.ratio(a, b))
            rows.append(row)
        C.table(rows, ["N \\ p"] + [f"{p:g}" for p in dens],
                title="Speed-up PyRates / rate_bridge (>1: we are faster)")
        out["speedup"] = {f"{r[0]},{p:g}": v for r in rows for p, v in zip(dens, r[1:])}
    grid_table("rate_bridge peak RSS of the cell's process (MB; * = the kernel was compiled in "
               "that process, LLVM's memory included)", "ours", "maxrss_mb", mark_compiled=True)
    grid_table("rate_bridge tracemalloc peak during the run (MB; numpy arrays of simulate())",
               "ours", "tracemalloc_peak_mb")
    if not args.no_peers:
        grid_table("PyRates peak RSS of its process (MB)", "peer", "peak_rss_mb")
    rows = [[k, v.get("replay_max_abs_diff_mV")] for k, v in out["cells"].items()
            if "replay_max_abs_diff_mV" in v]
    if rows:
        C.table(rows, ["N,p", "max |diff| of summaries (mV)"],
                title="Same workload? our replay of PyRates' exact inputs vs PyRates' recording")
    print("  ours: one fresh process per cell, kernel time after a warm-up call; PyRates: its "
          "Euler loop\n  ('seconds', numba compile excluded), inputs drawn in Python before the "
          "run (not timed).\n  Peak RSS includes the interpreter, numpy/numba (ours) or "
          "PyRates/pandas (peer) and the\n  recorded output.", flush=True)
    if not args.no_plot:
        try:
            path = heatmap(args, out, sizes, dens)
            print(f"heatmap written to {path}")
        except Exception as err:        # noqa: BLE001  (plotting must not lose the results)
            print(f"heatmap failed: {err}")


def heatmap(args, out, sizes, dens):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm, TwoSlopeNorm
    from matplotlib.patheffects import withStroke

    def arr(who, field):
        a = np.full((len(sizes), len(dens)), np.nan)
        for i, N in enumerate(sizes):
            for j, p in enumerate(dens):
                v = _get(out, N, p, who, field)
                if v is not None and v > 0:
                    a[i, j] = v
        return a

    panels = [("rate_bridge run time (s)", arr("ours", "run"), "time")]
    if not args.no_peers:
        peer = arr("peer", "seconds")
        panels.append((f"PyRates ({args.peer_backend}) run time (s)", peer, "time"))
        panels.append(("speed-up PyRates / rate_bridge", peer / panels[0][1], "ratio"))
    panels.append(("rate_bridge peak RSS (MB; * incl. kernel compile)", arr("ours", "maxrss_mb"),
                   "mem"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 0.35 * len(sizes) + 2.5),
                             squeeze=False)
    for ax, (title, a, kind) in zip(axes[0], panels):
        finite = a[np.isfinite(a)]
        if kind == "ratio" and finite.size:
            lg = np.log10(a)
            lim = max(1e-3, float(np.nanmax(np.abs(lg))))
            im = ax.imshow(lg, aspect="auto", origin="lower", cmap="RdBu",
                           norm=TwoSlopeNorm(0.0, -lim, lim))
            fig.colorbar(im, ax=ax, label="log10(PyRates / ours)")
        elif finite.size:
            im = ax.imshow(a, aspect="auto", origin="lower", cmap="viridis",
                           norm=LogNorm(finite.min(), max(finite.max(), finite.min() * 1.01)))
            fig.colorbar(im, ax=ax)
        for i in range(len(sizes)):
            for j in range(len(dens)):
                if np.isfinite(a[i, j]):
                    star = "*" if kind == "mem" and _get(out, sizes[i], dens[j], "ours",
                                                         "compiled_in_this_process") else ""
                    ax.text(j, i, f"{a[i, j]:.3g}{star}", ha="center", va="center", fontsize=7,
                            color="w", path_effects=[withStroke(linewidth=1.5, foreground="k")])
        ax.set_xticks(range(len(dens)), [f"{p:g}" for p in dens])
        ax.set_yticks(range(len(sizes)), [str(n) for n in sizes])
        ax.set_xlabel("coupling density p")
        ax.set_ylabel("N circuits")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"PyRates grid: JR circuits, Euler dt={args.dt:g} s, {args.duration:g} s "
                 f"({C._cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})",
                 fontsize=9)
    fig.tight_layout()
    C.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = C.RESULTS_DIR / "pyrates_grid.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
