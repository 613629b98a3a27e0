#!/usr/bin/env python
"""Benchmark: one Jansen-Rit circuit, rate_bridge vs PyRates 1.2.3 on the same workload.

Workload (the issue's): a single Jansen-Rit circuit, 10 s at dt = 1e-4 s, forward Euler, constant
input u = 220 /s, recording the pyramidal potential pc.v (PyRates: pc/rpo_e_in/v + pc/rpo_i/v) at
1 kHz. PyRates' JRC template and ours are the same equations (PyRates in V, ours in mV), so the
summaries of both recordings are printed side by side as a sanity check.

Reported for rate_bridge:
* run time after compile: best of ``--repeats`` simulate() calls after a warm-up call (both the
  kernel time ``provenance["run_seconds"]`` and the whole simulate() call),
* compile time: first simulate() in a fresh process with an empty ``$RATE_BRIDGE_CACHE``,
* cached load time: the same in a second fresh process on that cache.
PyRates runs as ``benchmarks/peers/pyrates_jrc.py`` in the peers' venv with every backend that
script offers (numpy, numpy + numba.njit vector field, jax if installed); its ``seconds`` is
PyRates' Euler loop without (numba/jax) compilation.

    python benchmarks/bench_single_circuit.py --quick          # ~1 min smoke run (1 s simulated)
    python benchmarks/bench_single_circuit.py                  # the issue's 10 s workload
    python benchmarks/bench_single_circuit.py --no-peers --repeats 20
    python benchmarks/bench_single_circuit.py --backends default jax

Bars (issue 10): the kernel <= 8 ms for the 10 s run, >= 300x faster than PyRates' numpy
backend and >= 6x its jax backend after compile; cached kernel load well under a second.
"""
import os
import sys
import time

T_PROCESS_START = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "single_circuit"


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated time in s (default 10; 1 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="Euler step in s (default 1e-4)")
    ap.add_argument("--u", type=float, default=220.0, help="constant input pc.u in 1/s (220)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats of our run after the warm-up (best is kept; default 7, "
                         "3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="short smoke version (1 s simulated)")
    ap.add_argument("--specialize", choices=["auto", "yes", "no"], default="auto",
                    help="simulate(specialize=...): auto (default: None, which compiles a lone "
                         "circuit's size in), yes (True) or no (False: the generic-size kernel)")
    ap.add_argument("--no-peers", action="store_true", help="skip PyRates")
    ap.add_argument("--backends", nargs="+", default=None,
                    help="PyRates backends (default: every backend peers/pyrates_jrc.py offers, "
                         "e.g. default numba jax)")
    C.add_peer_and_compile_args(ap, peer_timeout=1800.0)
    args = ap.parse_args(argv)
    if args.duration is None:
        args.duration = 1.0 if args.quick else 10.0
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    return args


def build():
    import rate_bridge as rb
    return rb.load_template("jansen_rit")


def call_kwargs(args):
    return dict(duration=args.duration, dt=args.dt, integrator="euler",
                params={"pc.u": args.u}, record=["pc.v"], sampling_rate=1000.0, seed=0,
                specialize={"auto": None, "yes": True, "no": False}[args.specialize])


def summarize(t, v):
    """The same summary as peers/pyrates_jrc.py (values in the units of v)."""
    import numpy as np
    v = np.asarray(v, dtype=float)
    half = v[len(v) // 2:]
    fs = 1.0 / (t[1] - t[0])
    spec = np.abs(np.fft.rfft(half - half.mean()))
    freqs = np.fft.rfftfreq(len(half), 1.0 / fs)
    return {"n_samples": int(len(v)), "mean": float(v.mean()), "std": float(v.std()),
            "min": float(v.min()), "max": float(v.max()), "first": float(v[0]),
            "last": float(v[-1]), "mean_2nd_half": float(half.mean()),
            "std_2nd_half": float(half.std()),
            "peak_freq_hz_2nd_half": float(freqs[1:][np.argmax(spec[1:])])}


def main(argv=None):
    args = parse_args(argv)
    if args.child_first_call:
        C.child_first_call(build, call_kwargs(args), T_PROCESS_START, args.child_prime_numba)
        return
    import rate_bridge as rb

    info = C.machine_info()
    C.print_machine(f"bench_single_circuit: one Jansen-Rit circuit, {args.duration:g} s at dt = "
                    f"{args.dt:g} s, Euler, u = {args.u:g}, pc.v at 1 kHz"
                    + ("  [--quick]" if args.quick else ""), info)
    n_steps = int(round(args.duration / args.dt))
    out = {"benchmark": NAME, "args": vars(args), "machine": info, "n_steps": n_steps}

    # -- ours, in-process ------------------------------------------------------------------
    print("rate_bridge (in-process):", flush=True)
    circuit = build()
    model = rb.Network.from_circuit(circuit)   # built once; simulate(circuit) rebuilds it per call
    kw = call_kwargs(args)
    t0 = time.perf_counter()
    rb.simulate(model, **kw)                           # warm-up (compile or cache load)
    t_warm = time.perf_counter() - t0
    ours = C.time_ours(lambda: rb.simulate(model, **kw), args.repeats)
    res = ours.pop("result")
    ours_circ = C.time_ours(lambda: rb.simulate(circuit, **kw), args.repeats)
    ours_circ.pop("result")
    out["ours_simulate_circuit"] = ours_circ
    v = res["pc.v"][:, 0]
    our_summary = summarize(res.time, v)
    out["ours"] = {**ours, "warmup_call_seconds": t_warm, "kernel": res.provenance["kernel"],
                   "summary_mV": our_summary,
                   "us_per_step": ours["run"] / n_steps * 1e6}
    print(f"  warm-up call {t_warm:.3f} s; best of {ours['repeats']}: kernel "
          f"{ours['run']:.4f} s, whole simulate() {ours['wall']:.4f} s "
          f"({ours['run'] / n_steps * 1e9:.0f} ns per step)\n", flush=True)

    # -- compile / cached load in fresh processes --------------------------------------------
    if not args.no_compile:
        child = [f"--duration={args.duration}", f"--dt={args.dt}", f"--u={args.u}"] \
            + ["--specialize", args.specialize]
        cl = C.compile_and_load(__file__, child, timeout=1800)
        out["compile_load"] = cl
        C.print_compile_load(cl)

    # -- PyRates -------------------------------------------------------------------------------
    peers = {}
    if not args.no_peers:
        print("PyRates 1.2.3 (peers venv):", flush=True)
        backends = args.backends or C.peer_choices("pyrates_jrc.py", "--backend") or \
            ["default", "numba"]
        extra = []
        if args.peer_threads is not None and C.peer_supports("pyrates_jrc.py", "--threads"):
            extra = ["--threads", args.peer_threads]
        for backend in backends:
            peers[backend] = C.run_peer(
                "pyrates_jrc.py", ["--duration", args.duration, "--dt", args.dt, "--u", args.u,
                                   "--backend", backend, *extra],
                timeout=args.peer_timeout, label=f"PyRates ({backend} backend)")
        print()
    out["peers"] = peers

    # -- table ---------------------------------------------------------------------------------
    rows = [["rate_bridge (kernel)", ours["run"], None, None, None, 1.0, None, None],
            ["rate_bridge simulate(network)", ours["wall"], ours["cpu"], None, None,
             ours["wall"] / ours["run"], None, None],
            ["rate_bridge simulate(circuit)", ours_circ["wall"], ours_circ["cpu"], None, None,
             ours_circ["wall"] / ours["run"], None, None]]
    cl = out.get("compile_load")
    if cl and "error" not in cl["compile"]:
        rows[0][3] = cl["compile"]["first_call_overhead_seconds"]
    ratios = {}
    for backend, d in peers.items():
        name = f"PyRates {backend}" + {"numba": " (numba.njit)", "default": " (numpy)"}.get(
            backend, "")
        if "error" in d:
            rows.append([name, "unavailable", "", "", "", "", "", ""])
            continue
        r = C.ratio(d["seconds"], ours["run"])
        r_call = C.ratio(d["seconds"], ours["wall"])
        ratios[backend] = {"vs_kernel": r, "vs_simulate_call": r_call,
                           "cpu_vs_cpu": C.ratio(d.get("cpu_seconds"), ours["cpu"])}
        rows.append([name, d["seconds"], d.get("cpu_seconds"), d.get("compile_seconds"),
                     d.get("setup_seconds"), r, r_call, ratios[backend]["cpu_vs_cpu"]])
    C.table(rows, ["simulator", "run s", "CPU s", "compile s", "setup s",
                   "peer/ours(kernel)", "peer/ours(call)", "peer/ours(CPU)"],
            title=f"Run time after compile ({args.duration:g} s simulated, {n_steps} Euler steps)")
    print("  ours: best of repeats; 'kernel' = provenance run_seconds, 'simulate(network)' = the "
          "whole call\n  on a prebuilt Network, 'simulate(circuit)' = the README's "
          "rb.simulate(circuit, ...), which\n  rebuilds (flattens) the network on every call. "
          "Peers: PyRates' Euler loop without numba\n  compilation ('seconds'); 'setup' = "
          "template loading, graph build, code generation, output\n  assembly. The last column "
          "divides by our simulate(network) time; 'CPU' compares process CPU time\n  (less sensitive to other jobs on the machine).\n", flush=True)
    out["ratios"] = ratios

    # -- agreement -----------------------------------------------------------------------------
    agree = {}
    for backend, d in peers.items():
        if "error" in d or "summary" not in d:
            continue
        ps = d["summary"]
        keys = ["mean", "std", "min", "max", "last", "mean_2nd_half", "std_2nd_half"]
        rows = [[k, our_summary[k], ps[k] * 1e3, our_summary[k] - ps[k] * 1e3] for k in keys]
        rows.append(["peak freq (Hz), 2nd half", our_summary["peak_freq_hz_2nd_half"],
                     ps["peak_freq_hz_2nd_half"],
                     our_summary["peak_freq_hz_2nd_half"] - ps["peak_freq_hz_2nd_half"]])
        C.table(rows, ["pc.v summary (mV)", "rate_bridge", f"PyRates {backend}", "difference"],
                title=f"Same workload? recordings compared (PyRates {backend}, V -> mV)")
        agree[backend] = max(abs(r[3]) for r in rows[:-1])
    out["agreement_max_abs_diff_mV"] = agree

    # -- bars ----------------------------------------------------------------------------------
    print("Bars:")
    run = out["ours"]["run"]
    print(f"  kernel <= 8 ms for {args.duration:g} s (at 10 s): {run * 1e3:.2f} ms -> "
          f"{'PASS' if run * 10.0 / args.duration <= 8e-3 else 'FAIL'}")
    targets = {"default": 300, "jax": 6}      # numpy and jax backends; numba: reported only
    for backend, r in ratios.items():
        if r["vs_kernel"] is not None:
            bar = targets.get(backend)
            verdict = ("PASS" if r["vs_kernel"] >= bar else "FAIL") if bar else "(no bar)"
            print(f"  {f'>= {bar}x' if bar else 'vs'} PyRates ({backend}) after compile: "
                  f"{r['vs_kernel']:.1f}x  -> {verdict}"
                  f"   (whole simulate() call: {r['vs_simulate_call']:.1f}x)")
    if cl and "error" not in cl["load"]:
        load = cl["load"]["first_call_overhead_seconds"]
        print(f"  cached kernel load well under 1 s: {load:.3f} s -> "
              f"{'PASS' if load < 0.5 else ('borderline' if load < 1 else 'FAIL')}"
              f"   (fresh process to first result: "
              f"{cl['load']['script_start_to_first_result_seconds']:.2f} s after interpreter "
              f"start, of which import {cl['load']['import_seconds']:.2f} s)")
        pr = cl.get("load_primed", {})
        if "error" not in pr and pr.get("numba_init_seconds") is not None:
            print(f"      of which numba's once-per-process CPU-target initialisation "
                  f"~{pr['numba_init_seconds']:.3f} s; the kernel's own cache load "
                  f"{pr['first_call_overhead_seconds']:.3f} s")
    info_end = os.getloadavg()
    out["loadavg_end"] = list(info_end)
    print(f"\nload average at the end: {info_end[0]:.2f} on {os.cpu_count()} cores. "
          f"{C.LOAD_NOTE}")
    C.write_json(NAME, out)


if __name__ == "__main__":
    main()
