"""simulate(): values in, one compiled kernel call, labelled results out."""
import math
import os
import threading
import time

import numpy as np

from . import monitors as mon
from .compile import abi, cuda
from .compile.cache import compiled_entry, kernel_for
from .compile.integrators import INTEGRATORS, STOCHASTIC_VERSION
from .model.templates import Circuit
from .network import Network
from .result import Result, ResultBatch
from .utils import UnknownNameError, check_option, logger, validate_type, verbose, warn

#: most integration steps of one run (the kernel counts steps in int64)
MAX_STEPS = 2 ** 62


class SimulationDiverged(FloatingPointError):
    """A state became NaN or infinite. ``.time``, ``.region``, ``.variable`` say where and when;
    ``.result`` holds what was recorded up to then."""

    def __init__(self, message, time=None, region=None, variable=None, result=None):
        super().__init__(message)
        self.time, self.region, self.variable, self.result = time, region, variable, result


class SimulationInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C). ``.result`` holds what was recorded until then: the
    Result (ResultBatch for a batch) that simulate() would have returned, with NaN samples
    after the stop and ``status == "interrupted"``."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


class SimulationMemoryError(MemoryError, ValueError):
    """A run would need more memory than is available; ``.needed`` and ``.available`` in
    bytes."""

    def __init__(self, message, needed=None, available=None):
        super().__init__(message)
        self.needed, self.available = needed, available


@verbose
def simulate(model, duration, dt, *, integrator="heun", params=None, initial_state=None,
             inputs=None, noise=None, seed=0, record=None, sampling_rate=None,
             record_mode="decimate", delay_mode="round", history=None, parallel="auto",
             n_jobs=None, specialize=None, monitors=None, backend="cpu", dtype="float64",
             verbose=None):
    """Simulate a circuit or network in one compiled kernel.

    Parameters
    ----------
    model : Network | Circuit | str
        A network, a circuit (run as one region) or a template name.
    duration : float
        Simulated time in s: a whole number of steps ``dt`` (to a relative 1e-9).
    dt : float
        Integration step in s.
    integrator : {"euler", "heun", "rk4", "euler_maruyama", "heun_stochastic"}
        Scheme. With noise on a state variable, "euler" and "heun" become their stochastic
        versions ("euler_maruyama", "heun_stochastic").
    params : dict | list of dict | None
        Parameter values by qualified name (``{"pc.u": 150.0}``), each a number or an array with
        one value per region. ``"global_coupling"`` sets G of every coupling; ``"speed"``
        (m/s) the conduction speed, hence every delay, of a network built from a connectome;
        ``"weights"`` an (n_regions, n_regions) matrix ``[target, source]`` on the network's
        connections. A **list** of dicts is a batch: one simulation per dict, all in the same
        kernel call (parallel over the batch), returning a :class:`ResultBatch`; members may
        differ in any of these (what a fit or a sweep over speed needs).
    initial_state : dict | None
        Initial values of states by name (number or per-region array).
    inputs : dict | None
        Time-varying drives added to inputs, by name: an array of shape (n_steps,) or
        (n_steps, n_regions) sampled at ``dt``, or a callable ``f(t) -> array`` evaluated on the
        step times ``t`` (s) before the run.
    noise : dict | None
        Noise amplitude by variable (number or per-region array). On a **state**: additive
        white noise ``sigma dW`` (or the template's diffusion term times sigma), integrated
        with dW ~ N(0, dt). On an **input**: ``sigma * N(0, 1)`` drawn anew every step and held
        for the step (e.g. ``{"pc.u": 22.0}`` for Jansen-Rit's noisy input).
    seed : int | list of int
        Noise seed (batch member b uses ``seed + b``, or ``seed[b]`` for a list). The same seed
        gives a bit-identical result, whatever the thread count or batch split.
    record : list of str | None
        Variables to record (states, outputs, variables or inputs); all states by default,
        none with ``[]`` (e.g. when monitors give all a run needs).
    sampling_rate : float | None
        Recording rate in Hz; ``1/dt`` must be a multiple of it. Default: 1000 Hz, or 1/dt
        if that is lower.
    record_mode : {"decimate", "average"}
        Keep every k-th step (sample i at time i/sampling_rate), or average the k steps from
        that time on. Either way only the samples are kept in memory.
    delay_mode : {"round", "interpolate"}
        Delays rounded to whole steps, or linearly interpolated between steps.
    history : float | dict | None
        Values of coupled variables before t = 0: None keeps them constant at the initial
        state; a number, or ``{source variable: value}`` with a number, one value per region
        (n_regions,), or a series (n_times,) / (n_times, n_regions), oldest first, last row at
        t = 0, spaced by ``dt`` (shorter series are padded with their oldest row).
    parallel : {"auto", "batch", "regions"}
        Parallelise over batch members ("auto" = "batch" on the CPU), or over regions inside
        each step ("regions": on the CPU only worth it for very large networks on many cores).
        On the GPU, "batch" runs each member in a thread and "regions" each member in a block
        of threads over its regions; "auto" takes "regions" from ``CUDA_BLOCK_MIN_REGIONS``
        regions on (a block fills the GPU at moderate batches), else "batch".
    n_jobs : int | None
        Number of threads (numba): None (default) or -1 for all cores, or a positive int.
    monitors : list of Monitor | None
        Observables computed inside the kernel, keeping only their own output: BOLD, sensor
        signals, covariance/FC, Welch spectra (:mod:`rate_bridge.monitors`); results in
        ``Result.monitors[name]`` (``res[name]`` for the data).
    specialize : bool | None
        Compile this network's region counts into the kernel. By default (None) one kernel
        serves every network size of a model structure; a specialised one runs the region
        loops about 15 % faster (constant trip counts and offsets) but compiles once per size:
        worth it for long runs or large sweeps on one connectome. None also specialises a lone
        circuit (one region, no coupling), which has no other size.
    backend : {"cpu", "cuda", "auto"}
        Where the kernel runs: the CPU (numba threads), an NVIDIA GPU (threads per member
        as ``parallel`` says; needs numba's CUDA target, e.g. ``pip install numba-cuda``, and
        a driver; an error if none is usable), or "auto": the GPU when one is present and the
        batch has at least ``AUTO_CUDA_MIN_BATCH`` members, else the CPU. Both run the same
        generated equations and draw the same noise for a seed.
    dtype : {"float64", "float32"}
        Precision of the GPU's arrays and arithmetic (the CPU computes in float64). float32
        halves the device memory and traffic of a member, so that larger batches fit and
        delayed coupling reads twice the values per transaction; the noise is the float64
        kernel's draws rounded to float32. Against float64, a noisy 3-region JR network
        differed by 2e-5 of its range over 4 s, its BOLD, FC and spectra by 1e-5 (README's
        GPU section). Results are float64 either way.
    %(verbose)s

    Returns
    -------
    Result | ResultBatch
        A batch returns every member: one whose state became NaN or infinite has
        ``status == "diverged"``, ``diverged_at`` (time, step, region, variable) and NaN
        samples from then on (a warning names it).

    Raises
    ------
    SimulationDiverged
        A single (non-batch) run diverged; ``.result`` holds the samples until then.
    SimulationInterrupted
        Ctrl-C (a KeyboardInterrupt): the run stops within a step; ``.result`` holds the
        samples until then.
    SimulationMemoryError
        The run would need more memory than is available (a MemoryError and a ValueError),
        checked before allocating it.
    """
    t_start = time.perf_counter()
    net = _as_network(model)
    o = _check_options(net, duration, dt, integrator, params, seed, noise, inputs, record,
                       sampling_rate, record_mode, delay_mode, parallel, n_jobs)
    check_option("dtype", dtype, ("float64", "float32"))    # before looking for a device
    backend = _backend(backend, len(o.batch))
    _check_dtype(dtype, backend, o.n_steps)
    if backend == "cuda":       # o.parallel is checked; "auto" means something else here
        o.parallel = _cuda_parallel("auto" if parallel == "auto" else o.parallel, net.n_regions)
    if specialize is None:      # a lone circuit has one size only: nothing to share
        specialize = net.n_regions == 1 and not net.couplings
    kinds = {validate_type(m, mon.Monitor, f"monitors[{i}]").kind
             for i, m in enumerate(monitors or [])}
    spec = net.kernel_spec(o.integrator, o.parallel, validate_type(specialize, bool,
                                                                   "specialize"), kinds)
    tables, _, watched = mon.pack(monitors, net, spec.var_index, o.dt, o.n_steps,
                                  len(o.batch))
    args = abi.pack(spec, net, o.batch, seeds=o.seeds, initial_state=initial_state,
                    record=o.record, inputs=o.inputs, noise=o.noise, history=history, dt=o.dt,
                    n_steps=o.n_steps, rec_every=o.rec_every, rec_avg=record_mode == "average",
                    delay_mode=delay_mode, duration=o.duration, workers=o.workers,
                    check_memory=_check_memory, monitors=tables if monitors else None)
    # numba compiles (or loads from its cache) here, so that run_seconds is the simulation alone
    t0 = time.perf_counter()
    carry = abi.carry_length(spec, args)
    if backend == "cuda":       # compiled at its first launch, counted in run_seconds
        _, source, key = kernel_for(spec)
        t_kernel, t0 = time.perf_counter() - t0, time.perf_counter()
        interrupted = cuda.run(spec, source, args, carry, dtype=dtype)
    else:
        entry, key = compiled_entry(spec, args.astuple() + (0, 1, 0, 0, np.zeros((1, carry))))
        t_kernel, t0 = time.perf_counter() - t0, time.perf_counter()
        interrupted = _run_kernel(entry, args, o.workers, o.n_threads, o.parallel, carry)
    t_run = time.perf_counter() - t0
    logger.info(f"simulated {len(o.batch)} x {net.n_regions} region(s), {o.n_steps} steps in "
                f"{t_run:.3f} s (kernel ready in {t_kernel:.3f} s)")
    common = {
        "model": net.groups[0]["circuit"].name if len(net.groups) == 1 else
        [g["circuit"].name for g in net.groups], "observables": net.observables,
        "network": net.name, "n_regions": net.n_regions, "integrator": o.integrator,
        "dt": o.dt, "duration": o.duration, "sampling_rate": o.sfreq, "record_mode": record_mode,
        "delay_mode": delay_mode, "noise": {k: np.asarray(v).tolist() for k, v in o.noise.items()},
        "inputs": sorted(o.inputs), "couplings": [repr(c) for c in net.couplings],
        "kernel": key, "versions": _versions(), "run_seconds": t_run, "kernel_seconds": t_kernel,
        "backend": backend, "parallel": o.parallel, "dtype": dtype,
    }
    times = np.arange(args.out.shape[2]) * o.rec_every * o.dt
    results = _results(net, spec.totals, o.record, times, args, common, o.batch)
    for b, res in enumerate(results):
        res.monitors = mon.decode(monitors, args.mon, args.mout[b], o.dt, o.n_steps, net.labels,
                                  net.units, watched)
    logger.debug(f"simulate() total {time.perf_counter() - t_start:.3f} s")
    return _finish(results, o.is_batch, interrupted, o.n_steps, o.batch)


def _check_options(net, duration, dt, integrator, params, seed, noise, inputs, record,
                   sampling_rate, record_mode, delay_mode, parallel, n_jobs):
    """simulate()'s options checked and resolved, as attributes."""
    from types import SimpleNamespace
    duration, dt, n_steps = _steps(duration, dt)
    is_batch = isinstance(params, (list, tuple))
    batch = list(params) if is_batch else [params or {}]
    if not batch:
        raise ValueError("params is an empty list: give at least one parameter set")
    noise, inputs = dict(noise or {}), dict(inputs or {})
    rec_every, sfreq = _decimation(dt, sampling_rate)
    check_option("record_mode", record_mode, ("decimate", "average"))
    check_option("delay_mode", delay_mode, ("round", "interpolate"))
    if n_steps // rec_every < 1:
        raise ValueError(f"duration {duration} s holds no sample at {sfreq} Hz")
    n_threads = _n_jobs(n_jobs)
    parallel = _parallel_mode(parallel)
    return SimpleNamespace(
        duration=duration, dt=dt, n_steps=n_steps, is_batch=is_batch, batch=batch,
        seeds=_seeds(seed, len(batch)), n_threads=n_threads, parallel=parallel,
        integrator=_integrator(net, integrator, noise), record=_record_names(net, record),
        rec_every=rec_every, sfreq=sfreq,
        noise={n: noise[n] for n in _check_names(net, noise, "noise", ("state", "input"))},
        inputs={n: inputs[n] for n in _check_names(net, inputs, "inputs", ("input",))},
        workers=1 if parallel == "regions" else min(len(batch), n_threads or _max_threads()))


# -- helpers -----------------------------------------------------------------------------------
#: backend="auto" takes the GPU from this many batch members on (fewer leave most of a GPU
#: idle, and the CPU kernel is faster)
AUTO_CUDA_MIN_BATCH = 256
#: on the GPU, parallel="auto" gives each member a block of threads over its regions from this
#: many regions on (a warp's worth), else a thread
CUDA_BLOCK_MIN_REGIONS = 32


def _backend(backend, n_members):
    """"cpu" or "cuda" for simulate()'s ``backend``, or a clear error."""
    check_option("backend", backend, ("cpu", "cuda", "auto"))
    if backend == "cpu":
        return "cpu"
    usable = cuda.available()
    if backend == "auto":
        return ("cuda" if usable and not cuda.simulator() and n_members >= AUTO_CUDA_MIN_BATCH
                else "cpu")
    if not usable:
        raise RuntimeError("backend='cuda' needs an NVIDIA GPU that numba can use "
                           "(numba.cuda.is_available() is False): install numba-cuda and a CUDA "
                           "driver, or use backend='cpu' or 'auto' (which falls back to the CPU)")
    return "cuda"


def _check_dtype(dtype, backend, n_steps):
    """simulate()'s ``dtype`` (one of its values): float32 on the GPU only, for runs whose
    step counters (kept in the state's precision) stay exact."""
    if dtype == "float32" and backend != "cuda":
        raise ValueError("dtype='float32' is for the GPU (backend='cuda'); the CPU kernel "
                         "computes in float64")
    if dtype == "float32" and n_steps >= 2**24:
        raise ValueError(f"dtype='float32' holds step counts exactly up to 2**24 steps; this "
                         f"run has {n_steps}: use float64 or a larger dt")


def _cuda_parallel(parallel, n_regions):
    """The GPU layout of a checked ``parallel`` ("auto", "batch" or "regions"): "batch" (a
    thread per member) or "regions" (a block of threads per member)."""
    if parallel == "auto":
        return "regions" if n_regions >= CUDA_BLOCK_MIN_REGIONS else "batch"
    return parallel


def _as_network(model):
    if isinstance(model, Network):
        return model
    if isinstance(model, Circuit):
        return Network.from_circuit(model)
    if isinstance(model, str):
        from .model import load_template
        return Network.from_circuit(load_template(model))
    raise TypeError(f"model must be a Network, a Circuit or a template name, got "
                    f"{type(model).__name__}")


def _seconds(value, name):
    """A positive finite number of seconds, or an error naming the argument."""
    value = float(validate_type(value, "numeric", name, "a number of seconds"))
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number of seconds, got {value}")
    return value


def _steps(duration, dt):
    """``duration``, ``dt`` and the number of steps: a whole number, at most MAX_STEPS."""
    dt, duration = _seconds(dt, "dt"), _seconds(duration, "duration")
    ratio = duration / dt
    if not ratio < MAX_STEPS:
        raise ValueError(f"duration = {duration:g} s with dt = {dt:g} s makes {ratio:.3g} steps; "
                         f"at most {MAX_STEPS:.3g} are possible: increase dt or shorten duration")
    n_steps = round(ratio)
    if n_steps < 1:
        raise ValueError(f"duration {duration} s is shorter than one step dt = {dt} s")
    if abs(ratio - n_steps) > 1e-9 * n_steps:
        raise ValueError(f"duration = {duration!r} s is not a whole number of steps of dt = "
                         f"{dt!r} s ({ratio:.10g} steps); choose a duration that is a multiple "
                         f"of dt, e.g. {n_steps * dt!r} s")
    return duration, dt, n_steps


def _seed_int(value, name):
    validate_type(value, "int", name, "an int (or None)")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _seeds(seed, B):
    """The uint64 noise seed of every batch member: ``seed + b``, or ``seed[b]``."""
    if isinstance(seed, (list, tuple, np.ndarray)):
        if len(seed) != B:
            raise ValueError(f"{len(seed)} seeds for a batch of {B}")
        vals = [_seed_int(s, f"seed[{b}]") for b, s in enumerate(seed)]
    else:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
            logger.info(f"seed: {seed}")
        vals = [_seed_int(seed, "seed") + b for b in range(B)]
    if max(vals) >= 2 ** 64:
        raise ValueError(f"seed must be < 2**64 (the noise generator's seed is 64 bits), got "
                         f"{max(vals)}" + (f" (seed + batch member {B - 1})" if B > 1 else ""))
    return np.array(vals, dtype=np.uint64)


def _max_threads():
    import numba
    return numba.config.NUMBA_NUM_THREADS


def _n_jobs(n_jobs):
    """Threads for the kernel, MNE's convention: None (numba's default: all cores), -1 (all
    cores) or a positive int (at most the cores numba may use)."""
    if n_jobs is None:
        return None
    expected = "None, -1 (all cores) or a positive int"
    validate_type(n_jobs, "int", "n_jobs", expected)
    if n_jobs == -1:
        return _max_threads()
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be {expected}, got {n_jobs}")
    if n_jobs > _max_threads():
        logger.info(f"n_jobs={n_jobs}: using the {_max_threads()} threads numba may use")
    return min(int(n_jobs), _max_threads())


def _integrator(net, integrator, noise):
    """The scheme to run: a stochastic one when noise acts on a state."""
    check_option("integrator", integrator, sorted(INTEGRATORS))
    if not any(name in net.initial_state for name in noise):
        return integrator
    if integrator not in STOCHASTIC_VERSION:
        raise ValueError(f"integrator {integrator!r} cannot integrate noise on state "
                         f"variables; use one of {sorted(set(STOCHASTIC_VERSION.values()))}")
    if STOCHASTIC_VERSION[integrator] != integrator:
        logger.info(f"noise on states: using {STOCHASTIC_VERSION[integrator]} "
                    f"instead of {integrator}")
    return STOCHASTIC_VERSION[integrator]


def _record_names(net, record):
    """Variables to record (all states by default), each checked to exist."""
    variables = net.variables
    record = list(dict.fromkeys(record)) if record is not None else list(net.initial_state)
    for name in record:
        if name not in variables:
            raise UnknownNameError(f"cannot record {name!r}: not a variable of the model; "
                                   f"variables: {variables}")
    return record


def _decimation(dt, sampling_rate):
    if sampling_rate is None:
        sampling_rate = min(1000.0, 1.0 / dt)
    sampling_rate = float(validate_type(sampling_rate, ("numeric", None), "sampling_rate"))
    if not sampling_rate > 0:
        raise ValueError(f"sampling_rate must be > 0 Hz, got {sampling_rate}")
    ratio = 1.0 / (dt * sampling_rate)
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 1e-6 * max(1, ratio):
        raise ValueError(f"the integration rate 1/dt = {1 / dt:g} Hz must be a whole multiple "
                         f"of sampling_rate = {sampling_rate:g} Hz")
    return k, 1.0 / (k * dt)


def _check_names(net, spec_dict, what, kinds):
    """Names of ``spec_dict`` checked to be variables of the given kinds."""
    names = []
    for name in spec_dict:
        kinds_found = {g["flat"].kinds.get(name) for g in net.groups} - {None}
        if not kinds_found:
            raise UnknownNameError(f"{what}: the model has no variable {name!r}")
        for kind in kinds_found:
            if kind not in kinds:
                raise ValueError(f"{what}: {name!r} is a {kind}; {what} can act on "
                                 f"{' or '.join(k + 's' for k in kinds)} only")
        names.append(name)
    return names


def _parallel_mode(parallel):
    check_option("parallel", parallel, ("auto", "batch", "regions", "nodes"))
    if parallel == "nodes":
        warn('parallel="nodes" is deprecated: use parallel="regions"', DeprecationWarning)
        return "regions"
    if parallel != "auto":
        return parallel
    # region-parallel steps open several parallel sections per step; measured slower than
    # serial on 2 cores up to 10 000 regions, so "auto" keeps to batch parallelism
    return "batch"


def _results(net, totals, record, times, args, common, batch):
    """One Result per member: its samples, provenance and how it ended."""
    out, status = args.out, args.status
    for k, name in enumerate(record):          # regions whose circuit lacks a variable: NaN
        for g in net.groups:
            if name not in g["flat"].variables:
                out[:, k, :, g["regions"]] = np.nan
    units = {n: net.units.get(n, "") for n in record}
    results = ResultBatch()
    for b in range(out.shape[0]):
        ended, where = _outcome(net, totals, status[b], common["dt"])
        params = abi.unpack_params(net, totals, args.par[b])
        params.update({k: batch[b][k] for k in ("speed", "global_coupling") if k in batch[b]})
        if "weights" in batch[b]:
            params["weights"] = "per member (given in params)"
        prov = {**common, "seed": int(args.seeds[b]), "params": params, "status": ended,
                "steps_done": int(status[b, 2])}
        results.append(Result(times, {name: out[b, k] for k, name in enumerate(record)},
                              net.labels, units, prov, status=ended, diverged_at=where))
    return results


def _available_memory():
    """Bytes of memory this process can still use (MemAvailable, within a cgroup limit), via
    psutil where /proc is missing; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            import psutil
            avail = int(psutil.virtual_memory().available)
        except Exception:                  # psutil missing or unsupported here
            return None
    try:                                   # a container's limit (cgroup v2)
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read())
        if limit != "max":
            avail = min(avail, int(limit) - used) if avail is not None else int(limit) - used
    except (OSError, ValueError):
        pass
    return avail


def _gib(nbytes):
    return f"{nbytes / 2 ** 30:.2f} GiB"


def _check_memory(parts):
    """Refuse a run that needs more memory than is available, before allocating it."""
    needed = sum(parts.values())
    available = _available_memory()
    logger.debug(f"memory: about {_gib(needed)} needed, {available} bytes available")
    if available is None or needed <= available:
        return
    detail = ", ".join(f"{k} {_gib(v)}" for k, v in parts.items() if v >= 0.01 * needed)
    raise SimulationMemoryError(
        f"this simulation needs about {_gib(needed)} of memory ({detail}) but only "
        f"{_gib(available)} is available: shorten duration, lower sampling_rate, record fewer "
        "variables (record=...), give fewer parameter sets at once (params), or increase dt",
        needed=needed, available=available)


#: a run is split into calls of about this many region-steps per member block (~0.2 s of a
#: JR network), so that it reports progress and an interruption keeps every step done
CHUNK_REGION_STEPS = 4_000_000


def _run_kernel(entry, kernel_args, workers, n_threads, parallel, carry):
    """Run the kernel on worker threads and wait in short slices, so that Ctrl-C reaches this
    (main) thread: it then sets ``ctl[0]``, the kernel stops within a step, and True is
    returned (interrupted).

    Batch members are spread over ``workers`` threads in blocks (the kernel releases the GIL);
    with parallel="regions" one worker runs them all and numba's ``n_threads`` split regions.
    A long run goes as successive calls over chunks of steps, each member continuing from
    what the previous call left in its row of ``carry`` (results identical to one call);
    progress is logged (``verbose="info"``) every few seconds.
    """
    args, ctl = kernel_args.astuple(), kernel_args.ctl
    B, n_steps = kernel_args.x0.shape[0], kernel_args.n_steps
    R = kernel_args.greg.shape[0]
    chunk = max(1, min(n_steps, CHUNK_REGION_STEPS // max(R, 1)))
    size = max(1, B // (4 * workers)) if chunk == n_steps else 1   # several blocks per thread
    blocks = [(b, min(b + size, B)) for b in range(0, B, size)]
    outcome, done, lock = {"left": workers, "steps": 0}, threading.Event(), threading.Lock()

    def work():
        rows = np.zeros((size, carry))          # this thread's members in flight
        try:
            if n_threads is not None and parallel == "regions":
                import numba
                numba.set_num_threads(n_threads)       # thread-local: set in this thread
            while not ctl[0]:
                with lock:
                    if not blocks:
                        break
                    b0, b1 = blocks.pop(0)
                for n0 in range(0, n_steps, chunk):
                    if ctl[0]:
                        break
                    n1 = min(n0 + chunk, n_steps)
                    entry(*args, b0, b1, n0, n1, rows[:b1 - b0])
                    with lock:
                        outcome["steps"] += (b1 - b0) * (n1 - n0)
        except BaseException as err:                   # re-raised in the caller's thread
            outcome.setdefault("error", err)
            ctl[0] = 1
        finally:
            with lock:
                outcome["left"] -= 1
                if outcome["left"] == 0:
                    done.set()

    for _ in range(workers):
        threading.Thread(target=work, name="rate_bridge-kernel", daemon=True).start()
    interrupted, t0, shown = False, time.perf_counter(), time.perf_counter()
    # an Event, not Thread.join: a KeyboardInterrupt inside join() can mark a running thread
    # as stopped (CPython 3.11, bpo-45274), and the kernel would still write into `out`
    while not done.is_set():
        try:
            done.wait(0.05)
        except KeyboardInterrupt:
            ctl[0] = 1                  # asks every member to stop; wait for the kernel
            interrupted = True
        if time.perf_counter() - shown > 5.0:
            shown = time.perf_counter()
            _log_progress(outcome["steps"], B * n_steps, shown - t0)
    if "error" in outcome:
        raise outcome["error"]
    return interrupted


def _log_progress(done, total, seconds):
    left = seconds * (total - done) / max(done, 1)
    logger.info(f"simulated {100 * done / total:.0f} % ({done / seconds:,.0f} member-steps/s, "
                f"about {left:.0f} s left)")


def _outcome(net, totals, status, dt):
    """How one member ended ("completed", "diverged", "interrupted") and, if it diverged,
    where: ``{"time", "step", "region", "variable"}``."""
    if status[0] == -1:
        return "completed", None
    if status[0] <= 0:
        return "interrupted", None
    step = int(status[0])
    var, region = abi.locate(net, totals, int(status[1]), "X")
    return "diverged", dict(time=step * dt, step=step, region=region, variable=var)


def _finish(results, is_batch, interrupted, n_steps, batch):
    """Return the result(s), or raise SimulationInterrupted / SimulationDiverged.

    A single run that diverged raises; a batch returns every member, the diverged ones with
    their status, and logs which diverged.
    """
    result = results if is_batch else results[0]
    if interrupted:
        done = sorted({r.provenance["steps_done"] for r in results})
        raise SimulationInterrupted(
            f"simulation interrupted after {done[0]}" + (f"-{done[-1]}" if len(done) > 1 else "")
            + f" of {n_steps} steps; what was recorded until then is in this exception's "
            ".result (NaN after the stop)", result)
    diverged = [b for b, r in enumerate(results) if r.status == "diverged"]
    if not diverged:
        return result
    if not is_batch:
        d = results[0].diverged_at
        raise SimulationDiverged(
            f"simulation diverged at t = {d['time']:.6g} s (step {d['step']}): state "
            f"{d['variable']!r} of region {d['region']!r} became NaN or infinite. Reduce dt, "
            "check parameters, or use another integrator; samples recorded until then are in "
            "this error's .result.", time=d["time"], region=d["region"], variable=d["variable"],
            result=results[0])
    where = "; ".join(
        f"member {b} (params {batch[b]!r:.80}) at t = {results[b].diverged_at['time']:.6g} s in "
        f"{results[b].diverged_at['variable']!r} of region {results[b].diverged_at['region']!r}"
        for b in diverged[:5])
    logger.warning(f"{len(diverged)} of {len(results)} batch members diverged (a state became "
                   f"NaN or infinite): {where}{'; ...' if len(diverged) > 5 else ''}. Their "
                   "samples after that are NaN; see Result.status and Result.diverged_at")
    return result


def _versions():
    import numba
    import scipy

    from . import __version__
    out = {"rate_bridge": __version__, "numpy": np.__version__, "numba": numba.__version__,
           "scipy": scipy.__version__, "python": os.sys.version.split()[0]}
    try:
        import mne
        out["mne"] = mne.__version__
    except ImportError:
        pass
    return out
