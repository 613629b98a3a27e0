"""Shared helpers of the benchmark scripts (not a test module; not part of the package).

* machine description printed at the top of every script,
* peers run in their own venv (``$RATE_BRIDGE_PEERS_PY``, default ``/work/peers_venv/bin/python``)
  through ``subprocess``; each peer script prints one JSON line,
* timing of our side (best of N after a warm-up call),
* fresh-process measurements of kernel compile time (empty ``$RATE_BRIDGE_CACHE``) and cached
  load time (a second fresh process on the same cache),
* tables on stdout and JSON in ``benchmarks/results/<name>.json`` (git-ignored).
"""
import datetime
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / "peers"
RESULTS_DIR = HERE / "results"
DEFAULT_PEERS_PY = "/work/peers_venv/bin/python"

LOAD_NOTE = ("NOTE: timings taken while other jobs share the machine are pessimistic (for us "
             "and the peers alike); ratios are more robust than absolute times. Re-run on an "
             "idle machine for final numbers.")


# -- machine -----------------------------------------------------------------------------------
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit():
    try:
        out = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(HERE), "status", "--porcelain", "--",
                                str(HERE.parent / "rate_bridge")],
                               capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("+dirty(rate_bridge)" if dirty.stdout.strip() else "")
    except Exception:   # noqa: BLE001  (git missing is fine)
        return "?"


def machine_info():
    import numba
    import numpy as np

    import rate_bridge
    try:
        layer = numba.threading_layer()
    except ValueError:      # no parallel region run yet
        layer = f"not yet chosen (config: {numba.config.THREADING_LAYER})"
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": layer,
        "rate_bridge": rate_bridge.__version__,
        "git": _git_commit(),
        "peers_python": peers_python()[0] or peers_python()[1],
    }


def print_machine(title, info):
    print("=" * 100)
    print(title)
    print("=" * 100)
    print(f"machine   : {info['cpu_model']} | platform.processor()={info['processor']!r} | "
          f"os.cpu_count()={info['cpu_count']} (affinity {info['affinity']})")
    print(f"software  : python {info['python']}, numpy {info['numpy']}, numba {info['numba']} "
          f"({info['numba_threads']} threads), rate_bridge {info['rate_bridge']} @ {info['git']}")
    print(f"load avg  : {', '.join(f'{x:.2f}' for x in info['loadavg'])} (1/5/15 min) on "
          f"{info['cpu_count']} cores")
    if info["loadavg"][0] > 0.5 * (info["cpu_count"] or 1):
        print(f"            the machine is busy: {LOAD_NOTE}")
    else:
        print(f"            {LOAD_NOTE}")
    print(f"peers     : {info['peers_python']}")
    print(flush=True)


# -- output ------------------------------------------------------------------------------------
def fmt(x, digits=3):
    """Compact number formatting for tables (None/NaN -> '-')."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e5 or ax < 1e-3:
        return f"{x:.{digits - 1}e}"
    if ax >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def table(rows, headers, title=None):
    """Print a plain-text table; rows are lists of values (formatted with :func:`fmt`)."""
    cells = [[fmt(v) if not isinstance(v, str) else v for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]
    if title:
        print(title)
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for r in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(flush=True)


def ratio(num, den):
    if num is None or den is None or not den or not math.isfinite(num) or not math.isfinite(den):
        return None
    return num / den


def write_json(name, payload):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"

    def default(o):
        try:
            import numpy as np
            if isinstance(o, np.generic):
                return o.item()
            if isinstance(o, np.ndarray):
                return o.tolist()
        except ImportError:
            pass
        if isinstance(o, Path):
            return str(o)
        return repr(o)
    path.write_text(json.dumps(payload, indent=1, default=default))
    print(f"results written to {path}")
    return path


# -- peers -------------------------------------------------------------------------------------
def peers_python():
    """(path, None) or (None, reason)."""
    py = os.environ.get("RATE_BRIDGE_PEERS_PY", DEFAULT_PEERS_PY)
    if not py:
        return None, "RATE_BRIDGE_PEERS_PY is empty"
    if not (os.path.isfile(py) and os.access(py, os.X_OK)):
        return None, (f"peers python {py!r} not found (set RATE_BRIDGE_PEERS_PY or run "
                      "benchmarks/peers/setup_peers.sh)")
    return py, None


_HELP = {}


def peer_help(script):
    """``--help`` text of a peer script ('' if unavailable); cheap: the peers import their
    library only after argument parsing."""
    if script not in _HELP:
        py, _ = peers_python()
        text = ""
        if py is not None:
            try:
                text = subprocess.run([py, str(PEERS_DIR / script), "--help"],
                                      capture_output=True, text=True, timeout=60).stdout
            except (OSError, subprocess.TimeoutExpired):
                text = ""
        _HELP[script] = text
    return _HELP[script]


def peer_choices(script, option):
    """Choices of ``option`` advertised by the peer's --help (e.g. backends), or []."""
    import re
    m = re.search(re.escape(option) + r"\s+\{([^}]*)\}", peer_help(script))
    return [c.strip() for c in m.group(1).split(",")] if m else []


def peer_supports(script, option):
    return option in peer_help(script)


def run_peer(script, args, timeout=None, label=None):
    """Run ``benchmarks/peers/<script> ARGS`` with the peers' python; return its JSON dict.

    On any failure prints ``peer unavailable: <reason>`` and returns ``{"error": reason}``.
    Adds ``wall_seconds`` (the whole subprocess) and ``cmd``.
    """
    label = label or script
    py, why = peers_python()
    if py is None:
        print(f"peer unavailable: {label}: {why}", flush=True)
        return {"error": why}
    cmd = [py, str(PEERS_DIR / script), *map(str, args)]
    print(f"  running peer: {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        why = f"timed out after {timeout:g} s"
        print(f"peer unavailable: {label}: {why}", flush=True)
        return {"error": why, "timeout": True, "cmd": cmd}
    except OSError as err:
        print(f"peer unavailable: {label}: {err}", flush=True)
        return {"error": str(err), "cmd": cmd}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        why = f"exit {proc.returncode}: {tail[-400:]}"
        print(f"peer unavailable: {label}: {why}", flush=True)
        return {"error": why, "cmd": cmd}
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError as err:
        print(f"peer unavailable: {label}: bad JSON ({err})", flush=True)
        return {"error": f"bad JSON: {err}", "cmd": cmd}
    out["wall_seconds"] = wall
    out["cmd"] = cmd
    return out


# -- our side ----------------------------------------------------------------------------------
def time_ours(call, repeats=3, budget=None):
    """Warm-up excluded: run ``call()`` (which returns a Result/ResultBatch) ``repeats`` times,
    stopping early once ``budget`` seconds are spent; return dict with the best wall time of the
    whole simulate() call, the best kernel time (provenance run_seconds), CPU time and all runs."""
    walls, runs, cpus = [], [], []
    spent = 0.0
    res = None
    for _ in range(max(1, repeats)):
        res = None          # free the previous result first (memory peaks are per run)
        c0, t0 = time.process_time(), time.perf_counter()
        res = call()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        first = res[0] if isinstance(res, list) else res
        walls.append(wall)
        runs.append(first.provenance["run_seconds"])
        cpus.append(cpu)
        spent += wall
        if budget is not None and spent > budget:
            break
    k = min(range(len(walls)), key=walls.__getitem__)
    return {"wall": walls[k], "run": min(runs), "cpu": cpus[k], "walls": walls, "runs": runs,
            "cpus": cpus, "repeats": len(walls), "result": res}


def maxrss_mb():
    """Peak resident set size of this process so far, in MB (Linux: ru_maxrss is in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def nbi_files():
    """Names of numba cache index files in the kernel cache (to tell compile from load)."""
    try:
        from rate_bridge.compile.cache import cache_dir
        return {p.name for p in (cache_dir() / "__pycache__").glob("*.nbi")}
    except Exception:       # noqa: BLE001
        return set()


def compiled_since(before, key):
    """True if numba wrote a new cache index for kernel ``key`` since ``before``."""
    return any(name.startswith(f"rb_kernel_{key}.") for name in nbi_files() - before)


def run_child(script, child_args, env_extra=None, timeout=None, retries=1):
    """Like :func:`_run_child_once`; a failed (not timed-out) child is retried ``retries`` times
    (the package may be edited while the benchmark runs)."""
    for attempt in range(retries + 1):
        out = _run_child_once(script, child_args, env_extra, timeout)
        if "error" not in out or out.get("timeout") or attempt == retries:
            return out
        print(f"    child failed ({out['error'][-160:]}); retrying", flush=True)
        time.sleep(2.0)
    return out


def _run_child_once(script, child_args, env_extra=None, timeout=None):
    """Run ``python script child_args`` (this interpreter); parse its last JSON line.

    Returns the dict plus ``process_wall_seconds`` (spawn to exit), or ``{"error": ...}``.
    """
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = [sys.executable, str(script), *map(str, child_args)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s", "timeout": True}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-5:])
        return {"error": f"exit {proc.returncode}: {tail[-600:]}"}
    out = json.loads(lines[-1])
    out["process_wall_seconds"] = wall
    return out


def child_first_call(build, call_kwargs, t_process_start, prime_numba=False):
    """Body of a ``--child-first-call`` process: time import (already done by the caller,
    measured from ``t_process_start``), the first simulate() call (codegen + compile or cache
    load + run) and then two more calls; print one JSON line.

    ``prime_numba``: first initialise numba's CPU target (typing and target contexts, which
    numba does once per process on the first compile or cache load of any function), timed
    apart as ``numba_init_seconds``, so the first call's overhead is the kernel's own load."""
    import rate_bridge as rb
    t_import = time.perf_counter() - t_process_start
    t_numba_init = None
    if prime_numba:
        t0 = time.perf_counter()
        from numba.core.registry import cpu_target
        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
        t_numba_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = rb.simulate(model, **call_kwargs)
    first_total = time.perf_counter() - t0
    t_first_result = time.perf_counter() - t_process_start
    first_run = res.provenance["run_seconds"]
    warm_totals, warm_runs = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        r2 = rb.simulate(model, **call_kwargs)
        warm_totals.append(time.perf_counter() - t0)
        warm_runs.append(r2.provenance["run_seconds"])
    out = {
        "import_seconds": t_import, "build_seconds": t_build, "numba_init_seconds": t_numba_init,
        "first_call_seconds": first_total, "first_call_run_seconds": first_run,
        "warm_call_seconds": min(warm_totals), "warm_run_seconds": min(warm_runs),
        # one-time cost of the first call: codegen + numba compile (empty cache) or cache load
        "first_call_overhead_seconds": first_total - min(warm_totals),
        # the brief's simple formula: simulate() compiles or loads the kernel before its
        # run_seconds clock starts (kernel_seconds is that compile/load as simulate() timed it)
        "first_total_minus_first_run_seconds": first_total - first_run,
        "first_call_kernel_seconds": res.provenance.get("kernel_seconds"),
        "kernel": res.provenance["kernel"],
        # from the first line of the script (after interpreter start-up) to the first result
        "script_start_to_first_result_seconds": t_first_result,
        "maxrss_mb": maxrss_mb(),
    }
    print(json.dumps(out), flush=True)


def parser(doc):
    """An argument parser whose description is the script's docstring (first line, rest as
    epilog)."""
    import argparse
    return argparse.ArgumentParser(description=doc.split("\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog="\n".join(doc.split("\n")[1:]))


def add_peer_and_compile_args(ap, peer_timeout):
    """The options the single-circuit and whole-brain scripts share: peer threads and timeout,
    and the fresh-process compile / cached-load measurement (with its hidden child flags)."""
    import argparse
    ap.add_argument("--peer-threads", type=int, default=None,
                    help="pass --threads N to the peers (if supported; their default is 1)")
    ap.add_argument("--peer-timeout", type=float, default=peer_timeout,
                    help=f"timeout per peer run in s (default {peer_timeout:g})")
    ap.add_argument("--no-compile", action="store_true",
                    help="skip the fresh-process compile / cached-load measurement")
    ap.add_argument("--child-first-call", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-prime-numba", action="store_true", help=argparse.SUPPRESS)


def compile_and_load(script, child_args, timeout=None, keep_cache=False):
    """Two fresh processes on one empty temporary ``$RATE_BRIDGE_CACHE``: the first compiles the
    kernel, the second loads it from the cache. Returns dict(compile=..., load=..., cache_dir)."""
    cache = tempfile.mkdtemp(prefix="rb_bench_cache_")
    env = {"RATE_BRIDGE_CACHE": cache}
    try:
        print(f"  fresh process, empty kernel cache ({cache}): compile ...", flush=True)
        cold = run_child(script, ["--child-first-call", *child_args], env, timeout)
        print("  second fresh process, same cache: load ...", flush=True)
        warm = run_child(script, ["--child-first-call", *child_args], env, timeout)
        print("  third fresh process, same cache, numba initialised first: load breakdown ...",
              flush=True)
        primed = run_child(script, ["--child-first-call", "--child-prime-numba", *child_args],
                           env, timeout)
    finally:
        if not keep_cache:
            shutil.rmtree(cache, ignore_errors=True)
    return {"compile": cold, "load": warm, "load_primed": primed, "cache_dir": cache}


def print_compile_load(cl):
    rows = []
    for name, key in (("cold cache (compile)", "compile"), ("warm cache (load)", "load"),
                      ("warm cache, numba pre-initialised", "load_primed")):
        d = cl.get(key)
        if d is None:
            continue
        if "error" in d:
            rows.append([name, d["error"][:60], "", "", "", "", "", ""])
            continue
        rows.append([name, d["process_wall_seconds"], d["import_seconds"],
                     d.get("numba_init_seconds"), d["first_call_seconds"],
                     d["warm_call_seconds"], d["first_call_overhead_seconds"],
                     d["first_total_minus_first_run_seconds"]])
    table(rows, ["fresh process", "process wall s", "import s", "numba init s",
                 "1st simulate s", "next simulate s", "1st-next (=compile/load) s",
                 "1st total-run_seconds s"],
          title="Kernel compile / cached load in fresh processes")
    print("  'compile/load' = first simulate() call minus a later identical call in the same "
          "process,\n  i.e. code generation + numba compilation (cold) or loading the cached "
          "machine code (warm).\n  (first total - provenance run_seconds) measures the same: "
          "simulate() compiles or\n  loads the kernel before its run_seconds clock starts.\n  "
          "'numba init': numba initialises its CPU target once per process, on the first "
          "compile or\n  cache load of any function (numba's cost, paid by every numba-based "
          "tool); the third\n  process does it before the first "
          "simulate(), leaving the kernel's own cache load.\n", flush=True)
