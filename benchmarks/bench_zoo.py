#!/usr/bin/env python
"""Benchmark: every model of the zoo that TVB 2.10 also has, on the 76-region connectome.

Per model: ``rb.adapters.read_tvb_connectome(76)`` with its weights divided by each region's
in-strength (``normalise("row_sum")``, so that one global coupling G per model means the same
input whatever a region's degree; Larter-Breakspear's coupling is defined on that mean),
conduction delays at ``--speed`` (3 m/s), the template's declared coupling and parameters, Heun
(deterministic) at ``--dt`` = 1e-4 s for ``--duration`` s (1 s), one variable averaged over
1 ms (``record_mode="average"``, TVB's ``TemporalAverage``), the template's initial state.
TVB runs the same model in the peers' venv (``benchmarks/peers/tvb_zoo.py``, one process for
all models): the conversions (time in ms, coupling functions, parameter names) are those of the
zoo reference scripts ``benchmarks/peers/zoo_*.py`` and ``tvb_jr76.py``, listed per model in
``MODELS`` here and in the peer's ``notes``.

Printed: ns per region-step (our kernel, our whole simulate() call, TVB's ``Simulator.run``),
TVB / ours, and our compile time for each model = first simulate() call minus a later identical
call. By default our kernels go to an empty temporary ``$RATE_BRIDGE_CACHE``, so that first call
compiles (numba's once-per-process initialisation is done beforehand and reported apart);
``--cached`` (implied by ``--quick``) uses the user's kernel cache, and the column is then a
cache load for kernels already there. A second table compares the recordings' mean and std
(same workload? exact for non-chaotic models up to Heun's coupling at the second stage, TVB's
float32 history and sample alignment; statistical only for chaotic ones).

Parameters not set by the template are TVB's defaults; where neither side's default matters
for timing (coupling strength, Zetterberg-Jansen's regime), the values are listed in MODELS.
coombes_byrne and qif_sfa diverge with Heun at 0.1 ms (both codes; their rates are ~1/ms):
they run at dt / 10 (10x the steps; the cost is per region-step).

    python benchmarks/bench_zoo.py --quick                      # 0.2 s simulated, cached kernels
    python benchmarks/bench_zoo.py                              # 1 s, compile of every model
    python benchmarks/bench_zoo.py --models hopf epileptor --no-peers
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

NAME = "zoo"
N_REGIONS = 76
PEER = "tvb_zoo.py"
# template -> recorded variable, global coupling G (rate_bridge's units; the peer converts),
# parameter overrides, dt scale (as the peer's DT_SCALE), TVB model
MODELS = {
    "jansen_rit": {"record": "pc.v", "G": 1.0, "tvb": "JansenRit (v0 = 6 mV)"},
    "montbrio": {"record": "p.r", "G": 1.0, "tvb": "MontbrioPazoRoxin"},
    "wilson_cowan": {"record": "wc.E", "G": 1.0, "tvb": "WilsonCowan"},
    "kuramoto": {"record": "osc.theta", "G": 10.0, "tvb": "Kuramoto"},
    "reduced_wong_wang": {"record": "rww.S", "G": 0.5, "tvb": "ReducedWongWang"},
    "reduced_wong_wang_ei": {"record": "rww.S_E", "G": 0.8, "tvb": "ReducedWongWangExcInh"},
    "hopf": {"record": "osc.x", "G": 5.0, "tvb": "SupHopf"},
    "generic_2d_oscillator": {"record": "g2d.V", "G": 0.1, "tvb": "Generic2dOscillator"},
    "fitzhugh_nagumo": {"record": "fhn.v", "G": 0.3, "tvb": "Generic2dOscillator (FHN form)"},
    "larter_breakspear": {"record": "lb.V", "G": 1.0, "tvb": "LarterBreakspear"},
    # TVB's r = 0.00035 /ms exactly (our template rounds 1/r to 2857 ms)
    "epileptor": {"record": "epi.x1", "G": 0.5, "params": {"epi.tau0": 1.0 / 0.00035},
                  "tvb": "Epileptor"},
    # the Jansen-Rit limit, where TVB 2.10's v5 equation (ke^2 for ki^2) equals ours
    "zetterberg_jansen": {"record": "col.v6", "G": 0.5, "tvb": "ZetterbergJansen",
                          "params": {"col.gamma_5": 0.0, "col.U": 0.0, "col.Q": 0.0,
                                     "col.P": 220.0}},
    "coombes_byrne": {"record": "p.r", "G": 2.0, "dt_scale": 0.1, "tvb": "CoombesByrne"},
    "qif_sfa": {"record": "p.r", "G": 0.5, "dt_scale": 0.1, "tvb": "GastSchmidtKnosche_SF"},
}


def parse_args(argv=None):
    ap = C.parser(__doc__)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                    metavar="MODEL", help="templates to run (default: all of "
                                          + ", ".join(MODELS) + ")")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated time in s (default 1; 0.2 with --quick)")
    ap.add_argument("--dt", type=float, default=1e-4, help="step in s (default 1e-4)")
    ap.add_argument("--speed", type=float, default=3.0, help="conduction speed m/s (default 3)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats of our runs (best kept; default 3, 2 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="short smoke version (0.2 s, 2 repeats, the user's kernel cache)")
    ap.add_argument("--cached", action="store_true",
                    help="use the user's kernel cache (compile column = load where cached)")
    ap.add_argument("--no-peers", action="store_true", help="skip TVB")
    ap.add_argument("--peer-threads", type=int, default=None,
                    help="pass --threads N to the peer (its default is 1)")
    ap.add_argument("--peer-timeout", type=float, default=1800.0,
                    help="timeout of the peer run (all models) in s (default 1800)")
    args = ap.parse_args(argv)
    if args.duration is None:
        args.duration = 0.2 if args.quick else 1.0
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    args.cached = args.cached or args.quick
    return args


# -- ours ----------------------------------------------------------------------------------------
def build(name, args):
    import rate_bridge as rb
    conn = rb.adapters.read_tvb_connectome(n_regions=N_REGIONS).normalise("row_sum")
    return rb.Network.from_connectome(conn, name, global_coupling=MODELS[name]["G"],
                                      speed=args.speed)


def sim_kwargs(name, args):
    spec = MODELS[name]
    return dict(duration=args.duration, dt=args.dt * spec.get("dt_scale", 1.0),
                integrator="heun", params=spec.get("params"), record=[spec["record"]],
                sampling_rate=1000.0, record_mode="average")


def summary(x):
    """Mean / std of a (n_samples, n_regions) recording without its first average, as the
    peer's ``summary`` (TVB's first average is over a partly filled buffer)."""
    import numpy as np
    x = np.asarray(x, dtype=float)[1:]
    half = x[x.shape[0] // 2:]
    return {"n_samples": int(x.shape[0]), "finite": bool(np.isfinite(x).all()),
            "mean": float(np.mean(x)), "std": float(np.std(x)),
            "mean_2nd_half": float(np.mean(half)), "std_2nd_half": float(np.std(half))}


def time_model(name, args):
    """Build, first call (compile or cache load + run), then best of ``repeats``."""
    import rate_bridge as rb
    t0 = time.perf_counter()
    net = build(name, args)
    t_build = time.perf_counter() - t0
    kw = sim_kwargs(name, args)
    before = C.nbi_files()
    t0 = time.perf_counter()
    rb.simulate(net, **kw)
    first = time.perf_counter() - t0
    r = C.time_ours(lambda: rb.simulate(net, **kw), args.repeats)
    res = r.pop("result")
    key = res.provenance["kernel"]
    r.update(build_seconds=t_build, first_call_seconds=first, kernel=key,
             compile_seconds=first - min(r["walls"]),
             compiled=C.compiled_since(before, key),
             n_steps=int(round(kw["duration"] / kw["dt"])), dt=kw["dt"],
             summary=summary(res[MODELS[name]["record"]]))
    print(f"  {name}: first call {first:.2f} s ({'compile' if r['compiled'] else 'load'}); "
          f"best of {r['repeats']}: kernel {r['run']:.3f} s, simulate() {r['wall']:.3f} s",
          flush=True)
    return r


def prime_numba():
    """numba's CPU-target initialisation, once per process (else the first model pays it)."""
    t0 = time.perf_counter()
    from numba.core.registry import cpu_target
    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
    return time.perf_counter() - t0


def run_ours(models, args):
    from rate_bridge.model import list_templates
    shipped = {entry["name"] for entry in list_templates()}
    cache = None
    if not args.cached:
        cache = tempfile.mkdtemp(prefix="rb_bench_zoo_cache_")
        os.environ["RATE_BRIDGE_CACHE"] = cache
    print(f"rate_bridge (in-process; kernel cache: {cache or 'the user cache'}):", flush=True)
    ours = {"numba_init_seconds": prime_numba()}
    try:
        for name in models:
            if name not in shipped:
                print(f"  {name}: skipped, no such template in this checkout", flush=True)
                ours[name] = {"error": "template not shipped"}
                continue
            try:
                ours[name] = time_model(name, args)
            except Exception as err:        # noqa: BLE001  (report it, go on with the others)
                print(f"  {name}: failed: {type(err).__name__}: {err}", flush=True)
                ours[name] = {"error": f"{type(err).__name__}: {err}"}
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    print(f"  numba initialisation (once per process, before the first model): "
          f"{ours['numba_init_seconds']:.2f} s\n", flush=True)
    return ours


# -- peer ----------------------------------------------------------------------------------------
def run_tvb(models, args):
    print("TVB (peers venv):", flush=True)
    cmd = ["--duration", args.duration, "--dt", args.dt * 1e3, "--speed", args.speed,
           "--models", *models]
    for name in models:
        cmd += ["--g", f"{name}={MODELS[name]['G']!r}"]
    if args.peer_threads is not None:
        cmd += ["--threads", args.peer_threads]
    out = C.run_peer(PEER, cmd, args.peer_timeout, "TVB zoo76")
    for name, d in out.get("results", {}).items():
        if "error" in d:
            print(f"peer unavailable: TVB {name}: {d['error']}", flush=True)
    print(flush=True)
    return out


# -- tables --------------------------------------------------------------------------------------
def timing_rows(models, ours, peer):
    rows, ratios = [], {}
    for name in models:
        o, p = ours.get(name, {}), peer.get("results", {}).get(name, {"error": "not run"})
        if "error" in o:
            rows.append([name, MODELS[name]["tvb"], "", "failed", "", "", "", "", ""])
            continue
        rs = N_REGIONS * o["n_steps"]
        ns_run, ns_call = o["run"] / rs * 1e9, o["wall"] / rs * 1e9
        ns_tvb = r_run = r_cpu = None
        if "error" not in p:
            ns_tvb = p["seconds"] / (p["n_nodes"] * p["n_steps"]) * 1e9
            r_run = C.ratio(ns_tvb, ns_run)
            r_cpu = C.ratio(p["cpu_seconds"] / (p["n_nodes"] * p["n_steps"]), o["cpu"] / rs)
            ratios[name] = {"per_region_step_kernel": r_run, "per_region_step_call":
                            C.ratio(ns_tvb, ns_call), "cpu": r_cpu}
        comp = f"{o['compile_seconds']:.1f}" + ("" if o["compiled"] else " (load)")
        rows.append([name, MODELS[name]["tvb"], o["n_steps"], ns_run, ns_call,
                     ns_tvb if ns_tvb is not None else "unavailable", r_run, r_cpu, comp])
    return rows, ratios


def agreement_rows(models, ours, peer):
    rows = []
    for name in models:
        o, p = ours.get(name, {}), peer.get("results", {}).get(name, {})
        if "error" in o or not p or "error" in p:
            continue
        so, sp = o["summary"], p["summary"]
        rows.append([f"{name} ({MODELS[name]['record']})", so["mean"], sp["mean"], so["std"],
                     sp["std"], so["mean_2nd_half"], sp["mean_2nd_half"],
                     "" if so["finite"] and sp["finite"] else "NaN!"])
    return rows


def main(argv=None):
    args = parse_args(argv)
    info = C.machine_info()
    C.print_machine(f"bench_zoo: {len(args.models)} models on the 76-region connectome, "
                    f"{args.duration:g} s at dt = {args.dt:g} s, Heun, 1 ms averages"
                    + ("  [--quick]" if args.quick else ""), info)
    out = {"benchmark": NAME, "args": vars(args), "machine": info, "models": MODELS}
    out["ours"] = ours = run_ours(args.models, args)
    peer = {}
    if not args.no_peers:
        runnable = [m for m in args.models if "error" not in ours.get(m, {})]
        peer = run_tvb(runnable, args) if runnable else {}
    out["peer"] = peer

    rows, ratios = timing_rows(args.models, ours, peer)
    C.table(rows, ["model", "TVB model", "steps", "ours ns/rs (kernel)", "ours ns/rs (call)",
                   "TVB ns/rs", "TVB/ours (kernel)", "TVB/ours (CPU)", "our compile s"],
            title=f"Per region-step cost, {N_REGIONS} regions (rs = region-step), Heun")
    print("  ours: best of repeats after the first call; 'kernel' = provenance run_seconds, "
          "'call' = whole\n  simulate(). TVB: Simulator.run (minus numba compiles during it). "
          "'our compile' = first\n  simulate() minus a later identical call ('(load)': the "
          "kernel was in the cache).\n", flush=True)
    out["ratios"] = ratios
    agree = agreement_rows(args.models, ours, peer)
    if agree:
        C.table(agree, ["model (recorded)", "ours mean", "TVB mean", "ours std", "TVB std",
                        "ours mean 2nd half", "TVB mean 2nd half", ""],
                title="Same workload? Recording summaries (1 ms averages, all regions, our "
                      "units)")
        print("  Heun's coupling differs at the second stage (TVB holds it for the step), TVB "
              "keeps its\n  history in float32 and its first average starts after the "
              "history: close, not equal;\n  chaotic models (larter_breakspear, epileptor) "
              "agree in statistics only.\n", flush=True)
    la = os.getloadavg()
    out["loadavg_end"] = list(la)
    print(f"load average at the end: {la[0]:.2f} on {os.cpu_count()} cores. {C.LOAD_NOTE}")
    C.write_json(NAME, out)


if __name__ == "__main__":
    main()
