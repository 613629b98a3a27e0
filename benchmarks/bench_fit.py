#!/usr/bin/env python
"""Benchmark: fitting a 76-region network to a target FC, rb.fit.fit vs neurolib's Evolution.

Both sides fit two parameters of a Wilson-Cowan network on tvb-data's 76-region connectome
(weights / max(weights), no self-connections, delays from the tract lengths at 3 m/s, forward
Euler at dt = 0.1 ms, noise) to the **same target FC: the structural weights themselves**
(weights / max). Each side uses its own model, so the correlations they reach differ; the
benchmark compares throughput and the time to a correlation both reach.

* ours: the ``wilson_cowan`` template, coupling ``("wc.E", "wc.E_in")`` linear, white noise of
  ``--noise`` on ``wc.E_in``; fitted ``global_coupling`` in [0, 2] and ``wc.P`` in [0, 2];
  objective ``FCCorrelation`` (the in-kernel covariance of ``wc.E`` at 250 Hz after a
  ``--start`` transient; score 1 - r); ``method="differential_evolution"`` (scipy, vectorised),
  population ``--pop``, ``--generations`` generations, each one batched simulate() call on
  ``--cores`` numba threads.
* neurolib (``peers/neurolib_evolution.py``): ``WCModel`` with OU noise (``--sigma-ou``) on the
  same connectome; fitted ``K_gl`` in [0, 2] and ``exc_ext`` in [0, 2]; score the correlation
  of ``func.fc`` of ``exc`` sampled at 250 Hz after the same transient with the target;
  ``Evolution`` with ``POP_INIT_SIZE = POP_SIZE = --pop``, ``NGEN = --generations``,
  ``ncores = --cores`` (pypet forks a process per evaluation).

Measured, in one run: evaluations per second (evaluations / wall time of the whole fit call:
``rb.fit.fit``; ``Evolution.run``), both after their compile (our warm-up fit; neurolib's
warm-up run), and the wall time from the fit's start to the end of the first generation whose
best correlation reaches ``--target-corr`` (default: the lower of the two sides' best
correlations, i.e. a value both reached).

    python benchmarks/bench_fit.py --quick                         # ~1-2 min
    python benchmarks/bench_fit.py --duration 10                   # ~3 min on 2 cores
    python benchmarks/bench_fit.py                                 # 60 s per evaluation (long)
"""
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "fit"
RANGE = (0.0, 2.0)


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="short smoke version (5 s per evaluation, population 8, 3 generations)")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated s per evaluation (default 60; 5 with --quick)")
    ap.add_argument("--pop", type=int, default=None,
                    help="population size, even (default 16; 8 with --quick)")
    ap.add_argument("--generations", type=int, default=None,
                    help="generations, the first random (default 5; 3 with --quick)")
    ap.add_argument("--cores", type=int, default=2,
                    help="our numba threads and neurolib's ncores (default 2)")
    ap.add_argument("--start", type=float, default=1.0, help="transient skipped, s (default 1)")
    ap.add_argument("--noise", type=float, default=0.2,
                    help="ours: white noise on wc.E_in per step (default 0.2)")
    ap.add_argument("--sigma-ou", type=float, default=0.1,
                    help="neurolib: OU noise sigma_ou (default 0.1)")
    ap.add_argument("--target-corr", type=float, default=None,
                    help="FC correlation of the time-to-target (default: the lower best)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-peers", action="store_true", help="skip neurolib")
    ap.add_argument("--peer-timeout", type=float, default=3600.0,
                    help="timeout of the neurolib run in s (default 3600)")
    args = ap.parse_args(argv)
    quick = args.quick
    args.duration = args.duration or (5.0 if quick else 60.0)
    args.pop = args.pop or (8 if quick else 16)
    args.generations = args.generations or (3 if quick else 5)
    if args.pop % 2 or args.pop < 6:
        ap.error(f"--pop must be even and >= 6 (neurolib; scipy's DE), got {args.pop}")
    return args


def build():
    import numpy as np

    import rate_bridge as rb
    conn = rb.adapters.read_tvb_connectome(76)
    w = np.asarray(conn.weights, dtype=float) / np.max(conn.weights)
    net = rb.Network.from_connectome(rb.adapters.Connectome(w, conn.tract_lengths),
                                     node="wilson_cowan", coupling=("wc.E", "wc.E_in"),
                                     coupling_function="linear", speed=3.0,
                                     self_connections=False)
    target = w.copy()
    np.fill_diagonal(target, 0.0)
    return net, target


class _GenerationTimes(logging.Handler):
    """Wall-clock time of the end of every generation (rb.fit logs one line per generation)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.times = []

    def emit(self, record):
        if record.getMessage().startswith("fit (") and " generation " in record.getMessage():
            self.times.append(time.perf_counter())


def run_ours(args):
    import numba

    import rate_bridge as rb
    numba.set_num_threads(args.cores)
    net, target = build()
    kw = dict(objective=rb.fit.FCCorrelation(sampling_rate=250.0), variable="wc.E",
              start=args.start, dt=1e-4, integrator="euler", noise={"wc.E_in": args.noise},
              seed=args.seed)
    bounds = {"global_coupling": RANGE, "wc.P": RANGE}
    t0 = time.perf_counter()        # warm-up: compile (or load) the kernel with these monitors
    rb.fit.fit(net, target, bounds, method="random", n_evaluations=2, batch_size=2,
               duration=args.start + 0.2, verbose="error", **kw)
    t_warm = time.perf_counter() - t0
    handler = _GenerationTimes()
    logger = logging.getLogger("rate_bridge")
    logger.addHandler(handler)
    try:
        t0 = time.perf_counter()
        c0 = time.process_time()
        fit = rb.fit.fit(net, target, bounds, method="differential_evolution",
                         n_evaluations=args.pop * args.generations, batch_size=args.pop,
                         duration=args.duration, verbose="info", **kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        logger.removeHandler(handler)
    h = fit.history
    corr = 1.0 - h["score"].to_numpy(dtype=float)
    progress, best = [], float("-inf")
    for g, end in enumerate(handler.times):
        sel = (h["generation"] == g).to_numpy()
        good = corr[sel][[c == c and abs(c) != float("inf") for c in corr[sel]]]
        best = max(best, float(good.max()) if good.size else best)
        progress.append({"generation": g, "evaluations": int(sel.sum()),
                         "end_seconds": end - t0, "best_corr": best})
    return {"n_evaluations": fit.n_evaluations, "seconds": wall, "cpu_seconds": cpu,
            "evaluations_per_s": fit.n_evaluations / wall,
            "evaluations_per_s_simulation_only": fit.evaluations_per_s,
            "warmup_seconds": t_warm, "best_corr": 1.0 - fit.best_score,
            "best_params": fit.best_params, "n_invalid": int((h["status"] != "completed").sum()),
            "numba_threads": numba.get_num_threads(), "progress": progress,
            "evaluations": h.to_dict("list")}


def run_peer(args):
    cli = ["--duration", args.duration, "--pop", args.pop, "--generations", args.generations,
           "--cores", args.cores, "--start", args.start, "--sigma-ou", args.sigma_ou,
           "--seed", args.seed, "--k-gl", *RANGE, "--exc-ext", *RANGE]
    return C.run_peer("neurolib_evolution.py", cli, timeout=args.peer_timeout,
                      label="neurolib Evolution")


def time_to(progress, threshold):
    """Seconds from the fit's start to the end of the first generation at ``threshold``."""
    for p in progress:
        if p["best_corr"] >= threshold:
            return p["end_seconds"]
    return None


def main(argv=None):
    args = parse_args(argv)
    info = C.machine_info()
    C.print_machine(f"bench_fit: 76-region WC fit to the SC as target FC, {args.duration:g} s "
                    f"per evaluation, population {args.pop}, {args.generations} generations, "
                    f"{args.cores} cores", info)
    print("ours: rb.fit.fit, differential evolution ...", flush=True)
    ours = run_ours(args)
    print(f"  {ours['n_evaluations']} evaluations in {ours['seconds']:.1f} s (warm-up "
          f"{ours['warmup_seconds']:.1f} s); best r = {ours['best_corr']:.3f}", flush=True)
    peer = {"error": "skipped (--no-peers)"} if args.no_peers else run_peer(args)
    ok = "error" not in peer
    if ok:
        print(f"  neurolib: {peer['n_evaluations']} evaluations in {peer['seconds']:.1f} s "
              f"(compile {peer['compile_seconds']:.1f} s); best r = {peer['best_corr']:.3f}")
    print()
    C.table([["evaluations", ours["n_evaluations"], peer.get("n_evaluations"), ""],
             ["fit wall s", ours["seconds"], peer.get("seconds"), ""],
             ["evaluations / s", ours["evaluations_per_s"], peer.get("evaluations_per_s"),
              C.ratio(ours["evaluations_per_s"], peer.get("evaluations_per_s"))],
             ["best FC correlation", ours["best_corr"], peer.get("best_corr"), ""],
             ["invalid evaluations", ours["n_invalid"], peer.get("n_invalid"), ""]],
            ["", "rate_bridge", "neurolib", "ours / neurolib"],
            title=f"Fit throughput ({args.duration:g} s simulated per evaluation, population "
                  f"{args.pop}, {args.cores} cores)")
    rows = []
    for g in range(args.generations):
        mine = ours["progress"][g] if g < len(ours["progress"]) else {}
        theirs = peer["progress"][g] if ok and g < len(peer["progress"]) else {}
        rows.append([g, mine.get("end_seconds"), mine.get("best_corr"),
                     theirs.get("end_seconds"), theirs.get("best_corr")])
    C.table(rows, ["generation", "ours: end s", "ours: best r", "neurolib: end s",
                   "neurolib: best r"], title="Progress (time from the fit's start)")
    threshold = args.target_corr
    if threshold is None:
        threshold = min(ours["best_corr"], peer["best_corr"]) if ok else ours["best_corr"]
    t_ours = time_to(ours["progress"], threshold)
    t_peer = time_to(peer["progress"], threshold) if ok else None
    C.table([[f"r >= {threshold:.3f}", t_ours, t_peer, C.ratio(t_peer, t_ours)]],
            ["time to target", "rate_bridge s", "neurolib s", "neurolib / ours"],
            title="Wall time from the fit's start to the end of the first generation reaching "
                  "the target correlation ('-': not reached)")
    info["loadavg_end"] = list(os.getloadavg())
    print(f"load avg at the end: {', '.join(f'{x:.2f}' for x in info['loadavg_end'])}")
    C.write_json(NAME, {"machine": info, "args": vars(args), "ours": ours, "neurolib": peer,
                        "target_corr": threshold, "time_to_target_ours": t_ours,
                        "time_to_target_neurolib": t_peer,
                        "evaluations_per_s_ratio": C.ratio(ours["evaluations_per_s"],
                                                           peer.get("evaluations_per_s"))})


if __name__ == "__main__":
    main()
