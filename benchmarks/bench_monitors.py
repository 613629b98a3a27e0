#!/usr/bin/env python
"""Benchmark: streaming monitors (BOLD; covariance + Welch in a sweep) on the 76-region network.

Network: Jansen-Rit on every region of ``rb.adapters.read_tvb_connectome(n_regions=76)``
(weights as stored), the template's declared coupling (the sigmoid of the delayed ``pc.v`` onto
``pc.m_in_e``, TVB's ``SigmoidalJansenRit``), global coupling 1, delays at 3 m/s, Heun,
dt = 1e-4 s.

Part 1 (``bold``): ``--duration`` s (600, i.e. 10 minutes; 20 with ``--quick``) with one
``rb.monitors.Bold`` (TR = 2 s, the circuit's declared bold signal ``pc.v``, Stephan 2007
constants) and ``record=[]``, in a fresh process: time of the run after a warm-up call, and peak
RSS (VmHWM: ``ru_maxrss`` of a subprocess carries its parent's peak on Linux). Peer
(``benchmarks/peers/tvb_bold.py``): TVB 2.10 on the same simulation (JansenRit with v0 = 6 mV
as in ``tvb_jr76.py``, zero initial history) with ``monitors.Bold(period=2000 ms)`` reading
y1 - y2 (= pc.v). TVB's Bold monitor convolves 4-ms averages of the signal with an HRF kernel
(``FirstOrderVolterra`` by default: the first-order Volterra kernel of the Balloon model,
Friston et al. 2000), where ours integrates the Balloon-Windkessel equations at every step: the
simulations are the same, the BOLD models differ, so compare time and memory, not values.

Part 2 (``batch``): ``--batch-size`` (256) members, ``params=[{"global_coupling": g}]`` with g
over [0, ``--g-max``], each ``--batch-durations`` (10 and 100 s) long, run in fresh processes:
(a) ``record=[]`` with a ``Covariance`` and a ``Welch`` monitor of pc.v (1 kHz averages, from
``--start`` s on; Welch ``--nperseg`` 1024); (b) the same batch recording pc.v at 1 kHz
(``record_mode="average"``) and no monitor. Reported: peak RSS per case (memory of (a) must not
grow with duration, (b) grows as B x samples x regions x 8 bytes), throughput (simulations/s,
(a) vs (b) within 10 %), and, as a check that both ran the same simulation, the FC of the
monitors against ``numpy.corrcoef`` of the recording. A recording case that would need more
than the machine's free memory is refused by rate_bridge (``SimulationMemoryError``, before
allocating) and reported; one that would fit but needs more than ``--max-record-gb`` (the
machine is shared) is skipped. A probe also asks for a recording 10x longer than the longest
duration, which rate_bridge must refuse (``--no-refusal-probe``: not).

    python benchmarks/bench_monitors.py --quick          # ~2 min (TVB: 20 s simulated)
    python benchmarks/bench_monitors.py                  # ~50 min on 2 cores (TVB ~20 min)
    python benchmarks/bench_monitors.py --parts batch --batch-size 64
"""
import argparse
import json
import os
import sys
import time

T_PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "monitors"
N_REGIONS = 76
GIB = 2 ** 30


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--parts", nargs="+", choices=["bold", "batch"], default=["bold", "batch"])
    ap.add_argument("--duration", type=float, default=None,
                    help="part 1: simulated s (default 600; 20 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="step in s (default 1e-4)")
    ap.add_argument("--tr", type=float, default=2.0, help="part 1: BOLD TR in s (default 2)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="part 1: timed runs of ours, best kept (default 1; 3 with --quick)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="part 2: members (default 256; 16 with --quick)")
    ap.add_argument("--batch-durations", type=float, nargs="+", default=None,
                    help="part 2: simulated s per member (default 10 100; 3 20 with --quick)")
    ap.add_argument("--g-max", type=float, default=1.0,
                    help="part 2: global_coupling spread over [0, g_max] (default 1)")
    ap.add_argument("--fs", type=float, default=1000.0,
                    help="part 2: monitor sampling and recording rate in Hz (default 1000)")
    ap.add_argument("--start", type=float, default=1.0,
                    help="part 2: transient skipped by the monitors in s (default 1)")
    ap.add_argument("--nperseg", type=int, default=1024, help="part 2: Welch segment (1024)")
    ap.add_argument("--max-record-gb", type=float, default=6.0,
                    help="part 2: skip recording cases whose recording needs more GiB than this "
                         "(the machine is shared; default 6)")
    ap.add_argument("--no-refusal-probe", dest="refusal_probe", action="store_false",
                    help="part 2: do not ask rate_bridge for a recording it must refuse")
    ap.add_argument("--speed", type=float, default=3.0, help="conduction speed m/s (default 3)")
    ap.add_argument("--global-coupling", type=float, default=1.0,
                    help="part 1: global coupling G (= TVB SigmoidalJansenRit a; default 1)")
    ap.add_argument("--tvb-v0", type=float, default=6.0,
                    help="TVB JansenRit v0 in mV (default 6 = our template)")
    ap.add_argument("--quick", action="store_true", help="short smoke version")
    ap.add_argument("--no-peers", action="store_true", help="skip TVB")
    ap.add_argument("--peer-threads", type=int, default=None,
                    help="pass --threads N to the peer (its default is 1)")
    ap.add_argument("--peer-timeout", type=float, default=7200.0,
                    help="timeout of the peer run in s (default 7200)")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="timeout of each of our fresh processes in s (default 3600)")
    ap.add_argument("--child", choices=["bold", "monitors", "record"], help=argparse.SUPPRESS)
    ap.add_argument("--child-duration", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--child-no-warmup", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    args.duration = args.duration or (20.0 if q else 600.0)
    args.repeats = args.repeats or (3 if q else 1)
    args.batch_size = args.batch_size or (16 if q else 256)
    args.batch_durations = args.batch_durations or ([3.0, 20.0] if q else [10.0, 100.0])
    return args


# -- workloads ---------------------------------------------------------------------------------
def build_jr(args, rb):
    conn = rb.adapters.read_tvb_connectome(n_regions=N_REGIONS)
    return rb.Network.from_connectome(conn, "jansen_rit", global_coupling=args.global_coupling,
                                      speed=args.speed)


def bold_kwargs(args, rb, duration):
    return dict(duration=duration, dt=args.dt, integrator="heun", record=[],
                monitors=[rb.monitors.Bold(tr=args.tr)])


def design(args):
    import numpy as np
    return [{"global_coupling": float(g)} for g in np.linspace(0.0, args.g_max, args.batch_size)]


def batch_kwargs(args, rb, mode, duration, start=None):
    start = args.start if start is None else start
    kw = dict(duration=duration, dt=args.dt, integrator="heun")
    if mode == "record":
        return dict(kw, record=["pc.v"], sampling_rate=args.fs, record_mode="average")
    return dict(kw, record=[], monitors=[
        rb.monitors.Covariance("pc.v", sampling_rate=args.fs, start=start),
        rb.monitors.Welch("pc.v", sampling_rate=args.fs, nperseg=args.nperseg, start=start)])


def peak_rss_mb():
    """Peak RSS of this process in MB: VmHWM of /proc/self/status (``C.maxrss_mb``, i.e.
    ru_maxrss, where missing). Not ru_maxrss first: in a process started by subprocess, Linux
    keeps the parent's peak in ru_maxrss across exec, so there it is at least the parent's
    (~300 MB here, after the parent compiled the kernels)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return C.maxrss_mb()


def record_bytes(args, duration):
    """The recording of a batch (B x samples x regions x 8 bytes)."""
    return args.batch_size * int(round(duration * args.fs)) * N_REGIONS * 8


def fc_upper_mean(fc):
    import numpy as np
    return float(fc[np.triu_indices_from(fc, 1)].mean())


# -- fresh processes ---------------------------------------------------------------------------
def child_bold(args):
    """Part 1 in this fresh process: warm-up, timed runs; one JSON line."""
    import numpy as np

    import rate_bridge as rb
    t_import, rss_import = time.perf_counter() - T_PROCESS_START, peak_rss_mb()
    net = build_jr(args, rb)
    before = C.nbi_files()
    t0 = time.perf_counter()
    warm = rb.simulate(net, **bold_kwargs(args, rb, args.tr))       # compile or cache load
    t_warm, rss_warm = time.perf_counter() - t0, peak_rss_mb()
    r = C.time_ours(lambda: rb.simulate(net, **bold_kwargs(args, rb, args.duration)),
                    args.repeats)
    res = r.pop("result")
    bold = res["bold"]
    out = dict(r, import_seconds=t_import, warmup_call_seconds=t_warm,
               compiled_in_this_process=C.compiled_since(before, warm.provenance["kernel"]),
               kernel=res.provenance["kernel"], n_steps=int(round(args.duration / args.dt)),
               maxrss_after_import_mb=rss_import, maxrss_after_warmup_mb=rss_warm,
               peak_rss_mb=peak_rss_mb(), bold_shape=list(bold.shape),
               summary={"n_samples": int(bold.shape[0]),
                        "t_first": float(res.monitors["bold"].time[0]),
                        "t_last": float(res.monitors["bold"].time[-1]),
                        "mean": float(bold.mean()), "std": float(bold.std()),
                        "node_std_mean": float(np.std(bold, axis=0).mean()),
                        "finite": bool(np.isfinite(bold).all())})
    del res
    # reference, after the peak RSS was read: the same run without the Bold monitor (pc.v
    # decimated to one sample per TR, a negligible recording): what the BOLD costs
    ref_kw = dict(duration=args.duration, dt=args.dt, integrator="heun", record=["pc.v"],
                  sampling_rate=1.0 / args.tr)
    rb.simulate(net, **dict(ref_kw, duration=args.tr))              # cache load
    ref = C.time_ours(lambda: rb.simulate(net, **ref_kw), args.repeats)
    ref.pop("result")
    out["no_monitor"] = ref
    print(json.dumps(out), flush=True)


def child_batch(args):
    """Part 2, one case (``--child`` monitors|record, ``--child-duration``) in this fresh
    process; one JSON line (``refused`` if rate_bridge raised SimulationMemoryError)."""
    import rate_bridge as rb
    mode, duration = args.child, args.child_duration
    t_import, rss_import = time.perf_counter() - T_PROCESS_START, peak_rss_mb()
    net = build_jr(args, rb)
    params = design(args)
    out = {"mode": mode, "duration": duration, "batch_size": len(params),
           "maxrss_after_import_mb": rss_import, "import_seconds": t_import}
    if not args.child_no_warmup:         # same kernel, 2 members, just long enough
        t0, before = time.perf_counter(), C.nbi_files()
        warm = rb.simulate(net, params=params[:2], **batch_kwargs(
            args, rb, mode, args.nperseg / args.fs + 0.01, start=0.0))
        out.update(warmup_call_seconds=time.perf_counter() - t0,
                   compiled_in_this_process=C.compiled_since(before, warm[0].provenance["kernel"]))
    out["maxrss_after_warmup_mb"] = peak_rss_mb()
    c0, t0 = time.process_time(), time.perf_counter()
    try:
        res = rb.simulate(net, params=params, **batch_kwargs(args, rb, mode, duration))
    except rb.SimulationMemoryError as err:
        out.update(refused=str(err), needed_bytes=err.needed, available_bytes=err.available,
                   refused_after_seconds=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb())
        print(json.dumps(out), flush=True)
        return
    out.update(wall=time.perf_counter() - t0, cpu=time.process_time() - c0,
               run=res[0].provenance["run_seconds"], kernel=res[0].provenance["kernel"],
               peak_rss_mb=peak_rss_mb(), fc_upper_mean=_fc_means(args, res, mode))
    out["sims_per_second"] = len(params) / out["wall"]
    out["sims_per_second_kernel"] = len(params) / out["run"]
    out["sims_per_cpu_second"] = len(params) / out["cpu"]
    out["kept_mb"] = _kept_bytes(res, mode) / 2 ** 20
    print(json.dumps(out), flush=True)


def _fc_means(args, res, mode):
    """Per member, the mean off-diagonal FC: of the Covariance monitor, or numpy.corrcoef of
    the recording from ``start`` on (the monitor's samples)."""
    import numpy as np
    if mode == "monitors":
        return [fc_upper_mean(r.monitors["fc"].fc) for r in res]
    first = int(round(args.start * args.fs))
    return [fc_upper_mean(np.corrcoef(r["pc.v"][first:], rowvar=False)) for r in res]


def _kept_bytes(res, mode):
    if mode == "monitors":
        return sum(m.data.nbytes for r in res for m in r.monitors.values())
    return sum(r["pc.v"].nbytes for r in res)


# -- parent ------------------------------------------------------------------------------------
def prepare_kernels(args, rb):
    """Compile (or load) the three kernels here, so the fresh processes load them from the
    cache and their peak RSS carries no LLVM compile."""
    net = build_jr(args, rb)
    t0 = time.perf_counter()
    if "bold" in args.parts:
        rb.simulate(net, **bold_kwargs(args, rb, args.tr))
    if "batch" in args.parts:
        for mode in ("monitors", "record"):
            rb.simulate(net, params=design(args)[:2], **batch_kwargs(
                args, rb, mode, args.nperseg / args.fs + 0.01, start=0.0))
    print(f"  kernels compiled or loaded in {time.perf_counter() - t0:.1f} s (in this process; "
          "the measured processes load them from the cache)\n", flush=True)


def common_child_args(args):
    return [f"--dt={args.dt}", f"--tr={args.tr}", f"--repeats={args.repeats}",
            f"--batch-size={args.batch_size}", f"--g-max={args.g_max}", f"--fs={args.fs}",
            f"--start={args.start}", f"--nperseg={args.nperseg}", f"--speed={args.speed}",
            f"--global-coupling={args.global_coupling}", f"--duration={args.duration}"]


def run_bold(args):
    print(f"Part 1: BOLD, {args.duration:g} s simulated, TR = {args.tr:g} s", flush=True)
    print("  rate_bridge, fresh process ...", flush=True)
    ours = C.run_child(__file__, common_child_args(args) + ["--child=bold"],
                       timeout=args.timeout)
    if "error" in ours:
        print(f"    failed: {ours['error']}", flush=True)
    else:
        print(f"    run {ours['run']:.2f} s, peak RSS {ours['peak_rss_mb']:.0f} MB", flush=True)
    peer = None
    if not args.no_peers:
        extra = [] if args.peer_threads is None else ["--threads", args.peer_threads]
        peer = C.run_peer("tvb_bold.py", ["--duration", args.duration, "--dt", args.dt * 1e3,
                                          "--period", args.tr * 1e3, "--speed", args.speed,
                                          "--coupling-a", args.global_coupling,
                                          "--v0", args.tvb_v0, *extra],
                          args.peer_timeout, "TVB JR76 + Bold monitor")
    print()
    return {"ours": ours, "peer": peer}


def print_bold(args, part):
    ours, peer = part["ours"], part["peer"]
    n_steps = int(round(args.duration / args.dt))
    rs = N_REGIONS * n_steps
    rows, ratios = [], {}
    if "error" not in ours:
        rows.append(["rate_bridge Bold (Balloon-Windkessel, in the kernel)", ours["run"],
                     ours["wall"], ours["cpu"], ours["run"] / rs * 1e9, ours["peak_rss_mb"],
                     ours["peak_rss_mb"] - ours["maxrss_after_warmup_mb"], None, None, None])
    if peer and "error" not in peer and "error" not in ours:
        ratios = {"time_vs_kernel": C.ratio(peer["seconds"], ours["run"]),
                  "time_vs_call": C.ratio(peer["seconds"], ours["wall"]),
                  "cpu": C.ratio(peer["cpu_seconds"], ours["cpu"]),
                  "peak_rss": C.ratio(peer["peak_rss_mb"], ours["peak_rss_mb"])}
        rows.append([f"TVB {peer['peer_version']} Bold ({peer['hrf_kernel']} HRF)",
                     peer["seconds"], None, peer["cpu_seconds"], peer["seconds"] / rs * 1e9,
                     peer["peak_rss_mb"], peer["peak_rss_mb"] - peer["maxrss_after_setup_mb"],
                     ratios["time_vs_kernel"], ratios["cpu"], ratios["peak_rss"]])
    elif peer:
        rows.append(["TVB Bold", "unavailable", "", "", "", "", "", "", "", ""])
    ref = ours.get("no_monitor")
    if ref:
        rows.append(["rate_bridge, same run without Bold (reference)", ref["run"], ref["wall"],
                     ref["cpu"], ref["run"] / rs * 1e9, None, None, None, None, None])
    C.table(rows, ["simulator", "run s", "call s", "CPU s", "ns/region-step", "peak RSS MB",
                   "RSS growth in run MB", "TVB/ours time", "TVB/ours CPU",
                   "TVB/ours RSS"],
            title=f"Part 1: JR76 BOLD, {args.duration:g} s simulated ({n_steps} Heun steps, "
                  f"dt = {args.dt:g} s), TR = {args.tr:g} s; each in a fresh process")
    print("  ours: best of repeats after a warm-up call; run = kernel, call = simulate(). TVB: "
          "Simulator.run.\n  RSS growth: peak RSS minus the peak before the run (ours: after "
          "the warm-up call; TVB: after\n  configure()). Peak RSS includes each side's imports "
          "(numba/LLVM for both). reference: the same\n  simulation without the Bold monitor "
          "(pc.v decimated to one sample per TR), timed in the same process\n  after its peak "
          "RSS was read: the difference is what the Bold monitor costs.", flush=True)
    if peer and "error" not in peer:
        hp = ", ".join(f"{k} = {v:g}" for k, v in peer["hrf_parameters"].items())
        print(f"  TVB's Bold monitor: 4-ms averages of y1 - y2, the last {peer['hrf_length_ms']:g}"
              f" ms kept ({peer['stock_samples']} samples) and\n  convolved every "
              f"{peer['period']:g} ms with the {peer['hrf_kernel']} kernel ({hp}): a linear "
              "HRF, not the\n  Balloon-Windkessel ODE ours integrates. Same simulation, "
              "different BOLD models: values are not compared.")
    if "error" not in ours:
        s = ours["summary"]
        print(f"  ours: {s['n_samples']} BOLD samples ({s['t_first']:g}..{s['t_last']:g} s), "
              f"mean {s['mean']:.4g}, std {s['std']:.3g}, all finite: {s['finite']}")
    if peer and "error" not in peer:
        s = peer["summary"]
        print(f"  TVB : {s['n_samples']} BOLD samples ({s['t_first']:g}..{s['t_last']:g} ms), "
              f"mean {s['mean']:.4g}, std {s['std']:.3g}")
    print(flush=True)
    part["ratios"] = ratios


def run_batch(args):
    """Part 2: one fresh process per (mode, duration)."""
    from rate_bridge.simulate import _available_memory
    B = args.batch_size
    print(f"Part 2: batch of {B} members, durations {args.batch_durations} s", flush=True)
    cases = [(m, d) for d in sorted(args.batch_durations) for m in ("monitors", "record")]
    probe = 10 * max(args.batch_durations)
    runs = []
    for mode, dur in cases + ([("record", probe)] if args.refusal_probe else []):
        is_probe = dur == probe and args.refusal_probe and (mode, dur) not in cases
        need, avail = record_bytes(args, dur), _available_memory()
        case = {"mode": mode, "duration": dur, "batch_size": B, "probe": is_probe,
                "record_bytes_estimate": need if mode == "record" else 0}
        if mode == "record" and is_probe and not (avail and need > 1.5 * avail):
            case["skipped"] = f"probe not run: {need / GIB:.1f} GiB might fit in memory"
        elif mode == "record" and not is_probe and need > args.max_record_gb * GIB and \
                not (avail and need > avail):
            case["skipped"] = (f"recording needs {need / GIB:.1f} GiB: fits in the free "
                               f"{(avail or 0) / GIB:.1f} GiB but exceeds --max-record-gb "
                               f"{args.max_record_gb:g} on this shared machine")
        if "skipped" in case:
            print(f"  {mode}, {dur:g} s: skipped ({case['skipped']})", flush=True)
            runs.append(case)
            continue
        print(f"  {mode}, {dur:g} s: fresh process ...", flush=True)
        child = common_child_args(args) + [f"--child={mode}", f"--child-duration={dur}"]
        d = C.run_child(__file__, child + (["--child-no-warmup"] if is_probe else []),
                        timeout=args.timeout)
        case.update(d)
        _print_case(case)
        runs.append(case)
    print()
    return {"runs": runs}


def _print_case(d):
    if "error" in d:
        print(f"    failed: {d['error'][-300:]}", flush=True)
    elif "refused" in d:
        print(f"    refused by rate_bridge (SimulationMemoryError) after "
              f"{d['refused_after_seconds']:.2f} s: {d['refused']}", flush=True)
    else:
        print(f"    run {d['run']:.1f} s, {d['sims_per_second']:.2f} sims/s, peak RSS "
              f"{d['peak_rss_mb']:.0f} MB", flush=True)


def print_batch(args, part):
    rows, notes = [], []
    for d in part["runs"]:
        label = f"{'Covariance + Welch' if d['mode'] == 'monitors' else 'record pc.v 1 kHz'}"
        if "skipped" in d or "error" in d or "refused" in d:
            why = "skipped" if "skipped" in d else "error" if "error" in d else "refused"
            notes.append(f"  {label}, {d['duration']:g} s: {why}: " + (
                d.get("skipped") or d.get("error") or
                f"SimulationMemoryError after {d['refused_after_seconds']:.2f} s, "
                f"needs {(d['needed_bytes'] or 0) / GIB:.1f} GiB, "
                f"{(d['available_bytes'] or 0) / GIB:.1f} GiB free"))
            rows.append([label, d["duration"], d["batch_size"], why] + [""] * 8)
            continue
        rows.append([label, d["duration"], d["batch_size"], d["run"], d["wall"], d["cpu"],
                     d["sims_per_second"], d["sims_per_cpu_second"], d["kept_mb"],
                     d["maxrss_after_warmup_mb"], d["peak_rss_mb"],
                     d["peak_rss_mb"] - d["maxrss_after_warmup_mb"]])
    C.table(rows, ["case", "simulated s", "members", "run s", "call s", "CPU s",
                   "sims/s (call)", "sims/CPU s", "kept MB", "RSS before MB", "peak RSS MB",
                   "growth MB"],
            title=f"Part 2: batch of {args.batch_size} (global_coupling in [0, {args.g_max:g}]), "
                  f"JR76, Heun, dt = {args.dt:g} s; one fresh process per row")
    print("  one timed run per row; CPU = process CPU time of the call (both kernel threads), "
          "less sensitive\n  to other jobs than the wall time. kept = the outputs simulate() "
          "returns (monitor results, or\n  the recordings); RSS before = peak after the imports "
          "and a 2-member warm-up call; growth =\n  peak RSS minus that.", flush=True)
    print("\n".join(notes) + "\n", flush=True)
    part["verdicts"] = batch_verdicts(part["runs"])


def batch_verdicts(runs):
    """Memory growth with duration per mode, throughput monitors vs recording, FC check."""
    import numpy as np
    ok = {(d["mode"], d["duration"]): d for d in runs if "run" in d and not d.get("probe")}
    verdicts = {}
    for mode in ("monitors", "record"):
        ds = sorted(d for m, d in ok if m == mode)
        if len(ds) >= 2:
            a, b = ok[(mode, ds[0])], ok[(mode, ds[-1])]
            verdicts[f"{mode}_rss_growth"] = {
                "durations": [ds[0], ds[-1]], "peak_rss_mb": [a["peak_rss_mb"], b["peak_rss_mb"]],
                "ratio": b["peak_rss_mb"] / a["peak_rss_mb"]}
            grow = b["peak_rss_mb"] / a["peak_rss_mb"]
            print(f"  {mode}: peak RSS {a['peak_rss_mb']:.0f} MB at {ds[0]:g} s -> "
                  f"{b['peak_rss_mb']:.0f} MB at {ds[-1]:g} s ({grow:.2f}x for "
                  f"{ds[-1] / ds[0]:.3g}x the duration)")
    for dur in sorted({d for _, d in ok}):
        m, r = ok.get(("monitors", dur)), ok.get(("record", dur))
        if not (m and r):
            continue
        rel = m["sims_per_second"] / r["sims_per_second"] - 1.0
        rel_k = m["sims_per_second_kernel"] / r["sims_per_second_kernel"] - 1.0
        rel_c = m["sims_per_cpu_second"] / r["sims_per_cpu_second"] - 1.0
        diff = float(np.max(np.abs(np.subtract(m["fc_upper_mean"], r["fc_upper_mean"]))))
        verdicts[f"throughput_{dur:g}s"] = {"monitors_vs_record_call": rel,
                                            "monitors_vs_record_kernel": rel_k,
                                            "monitors_vs_record_cpu": rel_c,
                                            "fc_mean_max_abs_diff": diff}
        print(f"  {dur:g} s: monitors-only throughput vs recording: {rel_c:+.1%} per CPU s "
              f"-> {'within' if abs(rel_c) <= 0.10 else 'NOT within'} 10 % (wall: call "
              f"{rel:+.1%}, kernel {rel_k:+.1%});\n      mean FC of the monitor vs "
              f"numpy.corrcoef of the recording: max |diff| {diff:.1e} over the members")
    print(flush=True)
    return verdicts


def main(argv=None):
    args = parse_args(argv)
    if args.child == "bold":
        return child_bold(args)
    if args.child:
        return child_batch(args)
    import rate_bridge as rb
    info = C.machine_info()
    C.print_machine(f"bench_monitors: JR76 with streaming monitors (BOLD {args.duration:g} s; "
                    f"batch of {args.batch_size} x {args.batch_durations} s)"
                    + ("  [--quick]" if args.quick else ""), info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info}
    prepare_kernels(args, rb)
    if "bold" in args.parts:
        out["bold"] = run_bold(args)
        print_bold(args, out["bold"])
    if "batch" in args.parts:
        out["batch"] = run_batch(args)
        print_batch(args, out["batch"])
    la = os.getloadavg()
    out["loadavg_end"] = list(la)
    print(f"load average at the end: {la[0]:.2f} on {os.cpu_count()} cores. {C.LOAD_NOTE}")
    C.write_json(NAME, out)


if __name__ == "__main__":
    main()
