#!/usr/bin/env python
"""Benchmark: whole-brain networks on the 76-region TVB connectome, vs TVB and neurolib.

Workload 1 (vs TVB, ``benchmarks/peers/tvb_jr76.py``): Jansen-Rit on every region of
``rb.adapters.read_tvb_connectome(76)``, coupled through ``("pc.m_out", "pc.m_in_e")`` with the
linear function, i.e. ``G * sum_j w_ij * 2 e0 / (1 + exp(r (v0 - v_j)))`` added to the pyramidal
cells' excitatory input -- TVB's ``SigmoidalJansenRit`` on y1 - y2 with cmax = 2 e0 = 5 /s,
midpoint = v0 = 6 mV, r = 0.56, a = G = 1. Conduction delays from tract lengths at 3 m/s, Heun,
dt = 1e-4 s, 10 s, pc.v averaged over 1 ms (record_mode="average", TVB's TemporalAverage).
TVB runs with ``--v0 6`` by default so that its JansenRit sigmoid equals ours and the recordings
can be compared (``--tvb-v0 5.52`` restores TVB's default). Stochastic variant: our
``noise={"pc.u": 22.0}`` (input 220 + 22 N(0,1) per step) vs TVB ``--stochastic`` (additive noise
on y4 of the same per-step variance).

vs neurolib (``benchmarks/peers/neurolib_76.py``, its Wilson-Cowan model on the same connectome,
Euler, diagonal zeroed, delays at 3 m/s, K_gl = 0.6): our ``wilson_cowan`` template on the same
connectome, coupling ``("wc.E", "wc.E_in")`` linear, G = 0.6, no self-connections, Euler, same dt
and duration. The models differ in details, so the comparison is per region-step:
time / (n_regions * n_steps).

Workload 3 (``--batch``): ``--batch-size`` (64) parameter sets of workload 1 (global_coupling
spread over [0, --g-max]) in one simulate() call, vs separate calls (``--separate-calls`` of them,
default 8, extrapolated to the batch size; 64 for the real thing). Batch members are checked
to equal the separate runs.

    python benchmarks/bench_whole_brain.py --quick            # ~2 min smoke run (0.5 s simulated)
    python benchmarks/bench_whole_brain.py --batch            # the 10 s workloads + batch
    python benchmarks/bench_whole_brain.py --batch --separate-calls 64

Bars (issue 10): >= 50x faster than TVB; faster than neurolib per region-step.
"""
import os
import sys
import time

T_PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "whole_brain"
N_REGIONS = 76


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated time in s (default 10; 0.5 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="step in s (default 1e-4)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats of our runs (best kept; default 3, 2 with --quick)")
    ap.add_argument("--quick", action="store_true", help="short smoke version")
    ap.add_argument("--no-peers", action="store_true", help="skip TVB and neurolib")
    ap.add_argument("--no-tvb", action="store_true", help="skip TVB")
    ap.add_argument("--no-neurolib", action="store_true", help="skip neurolib (and our WC run)")
    ap.add_argument("--no-stochastic", action="store_true",
                    help="skip the stochastic variant of workload 1")
    ap.add_argument("--batch", action="store_true", help="also run workload 3 (batch)")
    ap.add_argument("--specialize", action="store_true",
                    help="compile the 76-region sizes into our kernels (simulate(specialize="
                         "True): faster region loops, one compile per size)")
    ap.add_argument("--batch-size", type=int, default=64, help="batch members (default 64)")
    ap.add_argument("--separate-calls", type=int, default=8,
                    help="separate calls timed for the batch comparison, extrapolated to "
                         "--batch-size (default 8)")
    ap.add_argument("--g-max", type=float, default=1.0,
                    help="batch: global_coupling spread over [0, g_max] (default 1)")
    ap.add_argument("--global-coupling", type=float, default=1.0,
                    help="JR global coupling G (= TVB SigmoidalJansenRit a; default 1)")
    ap.add_argument("--tvb-v0", type=float, default=6.0,
                    help="TVB JansenRit v0 in mV (default 6 = our template; TVB's own is 5.52)")
    ap.add_argument("--wc-coupling", type=float, default=0.6,
                    help="WC global coupling (= neurolib K_gl; default 0.6)")
    ap.add_argument("--speed", type=float, default=3.0, help="conduction speed m/s (default 3)")
    C.add_peer_and_compile_args(ap, peer_timeout=3600.0)
    args = ap.parse_args(argv)
    if args.duration is None:
        args.duration = 0.5 if args.quick else 10.0
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    return args


# -- our workloads -----------------------------------------------------------------------------
def build_jr(args):
    import rate_bridge as rb
    conn = rb.adapters.read_tvb_connectome(N_REGIONS)
    return rb.Network.from_connectome(conn, node="jansen_rit", coupling=("pc.m_out", "pc.m_in_e"),
                                      coupling_function="linear",
                                      global_coupling=args.global_coupling, speed=args.speed)


def jr_kwargs(args, stochastic=False):
    kw = dict(duration=args.duration, dt=args.dt, integrator="heun", record=["pc.v"],
              sampling_rate=1000.0, record_mode="average", seed=0,
              specialize=args.specialize)
    if stochastic:
        kw["noise"] = {"pc.u": 22.0}
    return kw


def build_wc(args):
    import rate_bridge as rb
    conn = rb.adapters.read_tvb_connectome(N_REGIONS)
    return rb.Network.from_connectome(conn, node="wilson_cowan", coupling=("wc.E", "wc.E_in"),
                                      coupling_function="linear",
                                      global_coupling=args.wc_coupling, speed=args.speed,
                                      self_connections=False)


def wc_kwargs(args):
    return dict(duration=args.duration, dt=args.dt, integrator="euler", record=["wc.E"],
                sampling_rate=1000.0, seed=0, specialize=args.specialize)


def region_summary(v):
    """Summary of a (n_samples, n_regions) recording, as in the peers' JSON."""
    import numpy as np
    v = np.asarray(v, dtype=float)
    half = v[v.shape[0] // 2:]
    node_mean, node_std = v.mean(axis=0), v.std(axis=0)
    return {"n_samples": int(v.shape[0]), "mean": float(v.mean()), "std": float(v.std()),
            "node_mean_min": float(node_mean.min()), "node_mean_max": float(node_mean.max()),
            "node_std_mean": float(node_std.mean()), "mean_2nd_half": float(half.mean()),
            "std_2nd_half": float(half.std()), "node0_mean": float(node_mean[0])}


def time_case(label, model, kw, repeats):
    import rate_bridge as rb
    t0 = time.perf_counter()
    rb.simulate(model, **kw)                          # warm-up: compile or cache load
    t_warm = time.perf_counter() - t0
    r = C.time_ours(lambda: rb.simulate(model, **kw), repeats)
    res = r.pop("result")
    r["warmup_call_seconds"] = t_warm
    r["kernel"] = res.provenance["kernel"]
    print(f"  {label}: warm-up {t_warm:.2f} s; best of {r['repeats']}: kernel {r['run']:.3f} s, "
          f"simulate() {r['wall']:.3f} s", flush=True)
    return r, res


def main(argv=None):
    args = parse_args(argv)
    if args.child_first_call:
        C.child_first_call(lambda: build_jr(args), jr_kwargs(args), T_PROCESS_START,
                           args.child_prime_numba)
        return
    import numpy as np

    import rate_bridge as rb

    info = C.machine_info()
    n_steps = int(round(args.duration / args.dt))
    C.print_machine(f"bench_whole_brain: 76-region connectome, {args.duration:g} s at dt = "
                    f"{args.dt:g} s ({n_steps} steps)" + ("  [--quick]" if args.quick else ""),
                    info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info, "n_steps": n_steps}
    run_tvb = not (args.no_peers or args.no_tvb)
    run_nl = not args.no_neurolib
    stoch = not args.no_stochastic

    # -- ours ----------------------------------------------------------------------------------
    print("rate_bridge (in-process):", flush=True)
    jr = build_jr(args)
    print(f"  {jr!r}")
    ours = {}
    ours["jr_det"], res_det = time_case("JR76 Heun deterministic", jr, jr_kwargs(args),
                                        args.repeats)
    ours["jr_det"]["summary"] = region_summary(res_det["pc.v"])
    if stoch:
        ours["jr_sto"], res_sto = time_case("JR76 Heun, noise on pc.u", jr,
                                            jr_kwargs(args, True), args.repeats)
        ours["jr_sto"]["summary"] = region_summary(res_sto["pc.v"])
    if run_nl:
        wc = build_wc(args)
        print(f"  {wc!r}")
        ours["wc"], res_wc = time_case("WC76 Euler", wc, wc_kwargs(args), args.repeats)
        ours["wc"]["summary"] = region_summary(res_wc["wc.E"])
    print()
    out["ours"] = ours

    # -- compile / load ------------------------------------------------------------------------
    if not args.no_compile:
        child = [f"--duration={args.duration}", f"--dt={args.dt}",
                 f"--global-coupling={args.global_coupling}", f"--speed={args.speed}"] \
            + (["--specialize"] if args.specialize else [])
        cl = C.compile_and_load(__file__, child, timeout=3600)
        out["compile_load"] = cl
        C.print_compile_load(cl)

    # -- peers ---------------------------------------------------------------------------------
    peers = {}
    if run_tvb:
        print("TVB (peers venv):", flush=True)
        base = ["--duration", args.duration, "--dt", args.dt * 1e3, "--speed", args.speed,
                "--coupling-a", args.global_coupling, "--v0", args.tvb_v0]
        if args.peer_threads is not None and C.peer_supports("tvb_jr76.py", "--threads"):
            base += ["--threads", args.peer_threads]
        peers["tvb_det"] = C.run_peer("tvb_jr76.py", base, args.peer_timeout,
                                      "TVB JR76 HeunDeterministic")
        if stoch:
            peers["tvb_sto"] = C.run_peer("tvb_jr76.py", base + ["--stochastic"],
                                          args.peer_timeout, "TVB JR76 HeunStochastic")
    if run_nl and not args.no_peers:
        print("neurolib (peers venv):", flush=True)
        extra = []
        if args.peer_threads is not None and C.peer_supports("neurolib_76.py", "--threads"):
            extra = ["--threads", args.peer_threads]
        peers["neurolib"] = C.run_peer(
            "neurolib_76.py", ["--duration", args.duration, "--dt", args.dt * 1e3,
                               "--signal-v", args.speed, "--k-gl", args.wc_coupling, *extra],
            args.peer_timeout, "neurolib WC76")
    print()
    out["peers"] = peers

    # -- tables --------------------------------------------------------------------------------
    rs = N_REGIONS * n_steps
    rows, ratios = [], {}

    def add(label, ours_key, peer_key, peer_label):
        o = ours.get(ours_key)
        if o is None:
            return
        rows.append([f"rate_bridge {label}", o["run"], o["wall"], o["cpu"],
                     o["run"] / rs * 1e9, None, None, None])
        if peer_key is None:
            return
        d = peers.get(peer_key)
        if d is None:
            return
        if "error" in d:
            rows.append([peer_label, "unavailable", "", "", "", "", "", ""])
            return
        n_p = d.get("n_steps", n_steps) * d.get("n_nodes", N_REGIONS)
        r = C.ratio(d["seconds"], o["run"])
        r_call = C.ratio(d["seconds"], o["wall"])
        r_cpu = C.ratio(d.get("cpu_seconds"), o["cpu"])
        r_rs = C.ratio(d["seconds"] / n_p, o["run"] / rs)
        ratios[peer_key] = {"vs_kernel": r, "vs_simulate_call": r_call, "cpu_vs_cpu": r_cpu,
                            "per_region_step": r_rs}
        rows.append([peer_label, d["seconds"], None, d.get("cpu_seconds"),
                     d["seconds"] / n_p * 1e9, r, r_call, r_cpu])

    add("JR76 Heun", "jr_det", "tvb_det" if run_tvb else None, "TVB JR76 HeunDeterministic")
    add("JR76 Heun + noise", "jr_sto", "tvb_sto" if run_tvb else None, "TVB JR76 HeunStochastic")
    add("WC76 Euler", "wc", "neurolib" if run_nl and not args.no_peers else None,
        "neurolib WC76 (Euler)")
    C.table(rows, ["simulator / workload", "run s", "call s", "CPU s", "ns/region-step",
                   "peer/ours(kernel)", "peer/ours(call)", "peer/ours(CPU)"],
            title=f"Run time after compile ({args.duration:g} s simulated, {n_steps} steps, "
                  f"{N_REGIONS} regions)")
    print("  ours: best of repeats after a warm-up call; 'run' = kernel (provenance run_seconds), "
          "'call' = whole\n  simulate(). TVB: Simulator.run; neurolib: model.run incl. its "
          "per-run noise arrays and output\n  handling (its numba compile is excluded). Ratios "
          "use the peer's run time; 'CPU' compares CPU time.\n", flush=True)
    out["ratios"] = ratios

    # same workload? (TVB vs ours)
    agreement = {}
    for ok, pk in (("jr_det", "tvb_det"), ("jr_sto", "tvb_sto")):
        d, o = peers.get(pk), ours.get(ok)
        if not d or "error" in d or not o:
            continue
        ps, osum = d["summary"], o["summary"]
        keys = ["mean", "std", "node_mean_min", "node_mean_max", "node_std_mean",
                "mean_2nd_half", "std_2nd_half", "node0_mean"]
        C.table([[k, osum[k], ps[k], osum[k] - ps[k]] for k in keys],
                ["pc.v / y1-y2 (mV), 1 ms averages", "rate_bridge", "TVB", "difference"],
                title=f"Same workload? {ok} vs {pk} (TVB v0 = {d.get('v0')} mV; ours 6 mV)")
        agreement[pk] = {k: osum[k] - ps[k] for k in keys}
    out["agreement"] = agreement

    # -- batch ---------------------------------------------------------------------------------
    if args.batch:
        out["batch"] = run_batch(args, jr, rb, np)

    # -- bars ----------------------------------------------------------------------------------
    print("Bars:")
    for key, label in (("tvb_det", "TVB (deterministic)"), ("tvb_sto", "TVB (stochastic)")):
        r = ratios.get(key)
        if r:
            print(f"  >= 50x faster than {label}: {r['vs_kernel']:.1f}x (kernel), "
                  f"{r['vs_simulate_call']:.1f}x (simulate call), {r['cpu_vs_cpu']:.1f}x (CPU) "
                  f"-> {'PASS' if r['vs_kernel'] >= 50 else 'FAIL'}")
    r = ratios.get("neurolib")
    if r:
        print(f"  faster than neurolib per region-step: neurolib/ours = "
              f"{r['per_region_step']:.2f}x -> {'PASS' if r['per_region_step'] > 1 else 'FAIL'}")
    b = out.get("batch")
    if b:
        print(f"  batch of {b['batch_size']} in one call: {b['sims_per_second_batch']:.2f} sims/s "
              f"vs {b['sims_per_second_separate']:.2f} sims/s in separate calls "
              f"({b['speedup']:.2f}x; separate calls {b['separate_note']})")
    la = os.getloadavg()
    out["loadavg_end"] = list(la)
    print(f"\nload average at the end: {la[0]:.2f} on {os.cpu_count()} cores. {C.LOAD_NOTE}")
    C.write_json(NAME, out)


def run_batch(args, jr, rb, np):
    B = int(args.batch_size)
    gs = np.linspace(0.0, args.g_max, B)
    design = [{"global_coupling": float(g)} for g in gs]
    kw = jr_kwargs(args)
    print(f"Workload 3: batch of {B} parameter sets (global_coupling in [0, {args.g_max:g}]), "
          f"{args.duration:g} s each", flush=True)
    rb.simulate(jr, **{**kw, "duration": min(args.duration, 0.1)},
                params=design[:2])                  # warm-up (same kernel as single runs)
    c0, t0 = time.process_time(), time.perf_counter()
    batch = rb.simulate(jr, params=design, **kw)
    t_batch = time.perf_counter() - t0
    c_batch = time.process_time() - c0
    k_batch = batch[0].provenance["run_seconds"]
    n_sep = max(1, min(int(args.separate_calls), B))
    idx = np.unique(np.linspace(0, B - 1, n_sep).round().astype(int))
    walls, diffs = [], []
    c0 = time.process_time()
    for i in idx:
        t0 = time.perf_counter()
        r = rb.simulate(jr, params=design[i], **kw)
        walls.append(time.perf_counter() - t0)
        diffs.append(float(np.nanmax(np.abs(r["pc.v"] - batch[int(i)]["pc.v"]))))
    c_sep = time.process_time() - c0
    t_sep = float(np.sum(walls))
    extrapolated = len(idx) < B
    t_sep_B = t_sep / len(idx) * B
    note = (f"{len(idx)} timed, extrapolated to {B}" if extrapolated else f"all {B} timed")
    res = {"batch_size": B, "batch_seconds": t_batch, "batch_kernel_seconds": k_batch,
           "batch_cpu_seconds": c_batch, "separate_calls_timed": int(len(idx)),
           "separate_seconds_timed": t_sep, "separate_seconds_for_batch": t_sep_B,
           "separate_cpu_seconds_timed": c_sep,
           "separate_extrapolated": extrapolated, "separate_note": note,
           "sims_per_second_batch": B / t_batch, "sims_per_second_separate": len(idx) / t_sep,
           "speedup": t_sep_B / t_batch, "max_abs_diff_batch_vs_separate": max(diffs),
           "g_values": gs.tolist()}
    C.table([[f"one call, batch of {B}", t_batch, B / t_batch, t_batch / B, c_batch / B],
             [f"separate calls ({note})", t_sep_B, len(idx) / t_sep, t_sep / len(idx),
              c_sep / len(idx)]],
            ["how", f"seconds for {B} sims", "sims / s", "s per sim", "CPU s per sim"],
            title=f"Workload 3: batch vs separate calls ({os.cpu_count()} cores, numba threads "
                  f"{info_threads()})")
    print(f"  speed-up of the batch: {res['speedup']:.2f}x (CPU/wall of the batch call: "
          f"{c_batch / t_batch:.2f} busy cores); batch members equal the separate runs: "
          f"max |diff| = {res['max_abs_diff_batch_vs_separate']:.3g} mV\n", flush=True)
    return res


def info_threads():
    import numba
    return numba.get_num_threads()


if __name__ == "__main__":
    main()
