"""simulate(): values in, one compiled kernel call, labelled results out."""
import math
import os
import threading
import time

import numpy as np

from .compile.cache import compiled_entry
from .compile.codegen import FAR_BLOCK, KernelSpec
from .compile.integrators import INTEGRATORS, STOCHASTIC_VERSION
from .model.templates import Circuit
from .network import Network
from .result import Result, ResultBatch
from .utils import UnknownNameError, check_option, logger, validate_type, verbose

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
             n_jobs=None, verbose=None):
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
        Variables to record (states, outputs, variables or inputs); all states by default.
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
        Parallelise over batch members ("auto" = "batch"), or over regions inside each step
        ("regions": only worth it for very large networks on many cores).
    n_jobs : int | None
        Number of threads (numba): None (default) or -1 for all cores, or a positive int.
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
    duration, dt, n_steps = _steps(duration, dt)
    is_batch = isinstance(params, (list, tuple))
    batch = list(params) if is_batch else [params or {}]
    if not batch:
        raise ValueError("params is an empty list: give at least one parameter set")
    B = len(batch)
    seeds = _seeds(seed, B)
    n_threads = _n_jobs(n_jobs)
    noise = dict(noise or {})
    integrator = _integrator(net, integrator, noise)
    R = net.n_regions
    record = _record_names(net, record)
    rec_every, sfreq = _decimation(dt, sampling_rate)
    check_option("record_mode", record_mode, ("decimate", "average"))
    check_option("delay_mode", delay_mode, ("round", "interpolate"))
    n_samples = n_steps // rec_every
    if n_samples < 1:
        raise ValueError(f"duration {duration} s holds no sample at {sfreq} Hz")
    noise_names = _check_names(net, noise, "noise", ("state", "input"))
    drive_names = _check_names(net, inputs or {}, "inputs", ("input",))
    parallel = _parallel_mode(parallel, B, R, n_jobs)
    spec = KernelSpec([g["flat"] for g in net.groups], net.couplings, integrator, parallel,
                      [len(g["regions"]) for g in net.groups])
    totals = spec.totals

    values = _values(net, spec, batch, initial_state)
    idel = _internal_delays(net, totals, values["par"])
    weights, delays = _member_edges(net, batch)
    longest = max(idel.max(initial=0.0), delays.max(initial=0.0))
    sizes = dict(B=B, record=len(record), samples=n_samples, steps=n_steps,
                 drives=len(drive_names), noise=len(noise_names),
                 callable_drive=any(callable(inputs[n]) for n in drive_names),
                 history=_history_length(history, R),
                 L=math.ceil(min(longest / dt, n_steps)) + 3,
                 workers=1 if parallel == "regions" else min(B, n_threads or _max_threads()))
    _check_memory(_memory_needed(net, spec, sizes))
    arrays = _edges(net, idel, weights, delays, dt, delay_mode, duration)
    greg = np.concatenate([g["regions"] for g in net.groups]).astype(np.int64)
    hinit = _history(net, spec, history, values["cpar"])
    drv = _drives(net, drive_names, inputs or {}, n_steps, dt)
    rvar = np.array([spec.var_index[name] for name in record], dtype=np.int64)
    dvar = np.array([spec.var_index[name] for name in drive_names], dtype=np.int64)
    nvar = np.array([spec.var_index[name] for name in noise_names], dtype=np.int64)
    nsig = _noise_amplitudes(noise, noise_names, B, R)
    out = np.full((B, len(record), n_samples, R), np.nan)
    status = np.zeros((B, 3), dtype=np.int64)
    ctl = np.zeros(8, dtype=np.int64)      # ctl[0] = 1 stops the kernel (a cache line alone)

    args = (values["x0"], spec.lay, values["par"], values["cpar"], arrays["idi"], arrays["idf"],
            arrays["cptr"], arrays["csplit"], arrays["cfar"], arrays["cidx"], arrays["coff"],
            arrays["cw"], arrays["cdi"], arrays["cdf"], arrays["cwhole"], arrays["cdense_on"],
            arrays["cdense"], arrays["L"], hinit, drv, dvar, nsig, nvar, seeds, rvar, greg,
            n_steps, dt, rec_every, record_mode == "average", out, status, ctl)
    # numba compiles (or loads from its cache) here, so that run_seconds is the simulation alone
    t0 = time.perf_counter()
    entry, key = compiled_entry(spec, "run", args + (0, B))
    t_kernel = time.perf_counter() - t0
    t0 = time.perf_counter()
    interrupted = _run_kernel(entry, args, ctl, n_threads, parallel)
    t_run = time.perf_counter() - t0
    logger.info(f"simulated {B} x {R} region(s), {n_steps} steps in {t_run:.3f} s "
                f"(kernel ready in {t_kernel:.3f} s)")

    common = {
        "model": net.groups[0]["circuit"].name if len(net.groups) == 1 else
        [g["circuit"].name for g in net.groups], "observables": net.observables,
        "network": net.name, "n_regions": R, "integrator": integrator, "dt": dt,
        "duration": duration, "sampling_rate": sfreq, "record_mode": record_mode,
        "delay_mode": delay_mode, "noise": {k: np.asarray(v).tolist() for k, v in noise.items()},
        "inputs": sorted((inputs or {}).keys()), "couplings": [repr(c) for c in net.couplings],
        "kernel": key, "versions": _versions(), "run_seconds": t_run, "kernel_seconds": t_kernel,
    }
    times = np.arange(n_samples) * rec_every * dt
    results = _results(net, totals, record, times, out, status, common, seeds, values["par"],
                       batch)
    logger.debug(f"simulate() total {time.perf_counter() - t_start:.3f} s")
    return _finish(results, is_batch, interrupted, n_steps, batch)


# -- helpers -----------------------------------------------------------------------------------
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


#: largest dense coupling matrix (bytes) used for undelayed dense coupling
DENSE_MAX_BYTES = 2 ** 28


def _parallel_mode(parallel, B, R, n_jobs):
    check_option("parallel", parallel, ("auto", "batch", "regions", "nodes"))
    if parallel == "nodes":
        import warnings
        warnings.warn('parallel="nodes" is deprecated: use parallel="regions"',
                      DeprecationWarning, stacklevel=4)
        return "regions"
    if parallel != "auto":
        return parallel
    # region-parallel steps open several parallel sections per step; measured slower than
    # serial on 2 cores up to 10 000 regions, so "auto" keeps to batch parallelism
    return "batch"


def _per_region(value, R, what):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or an array of numbers, got "
                        f"{type(value).__name__} {value!r:.40}") from None
    if arr.ndim == 0:
        arr = np.full(R, float(arr))
    if arr.shape != (R,):
        raise ValueError(f"{what} must be a number or an array of {R} values (one per region), "
                         f"got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{what} contains NaN or inf (region index {bad[0]}: {arr[bad[0]]})")
    return arr


def _scalar(value, what):
    """A finite float, or an error naming ``what``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {type(value).__name__} "
                        f"{value!r:.40}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} is {value}: it must be a finite number (NaN or inf given)")
    return value


def _values(net, spec, batch, initial_state):
    """Initial states, parameters and coupling parameters of every batch member, all checked
    to be finite (before the run, naming the value: not reported as a divergence)."""
    B, R, totals = len(batch), net.n_regions, spec.totals
    known = set(net.parameters) | {"global_coupling", "speed", "weights"}
    for c_i, c in enumerate(net.couplings):
        known |= {f"coupling{c_i}.G"} | {f"coupling{c_i}.{p}" for p in c.params}
    x0 = np.empty((B, totals["n_state"]))
    par = np.empty((B, totals["n_par"]))
    offs = totals["groups"]
    cpar = np.zeros((B, spec.n_cpar))
    init = dict(net.initial_state)
    for name, value in (initial_state or {}).items():
        if name not in init:
            raise UnknownNameError(f"initial_state: {name!r} is not a state; states: "
                                   f"{sorted(init)}")
        init[name] = _per_region(value, R, f"initial_state[{name!r}]")
    for b, values in enumerate(batch):
        validate_type(values, dict, f"params[{b}]")
        unknown = sorted(set(values) - known)
        if unknown:
            raise UnknownNameError(f"unknown parameter(s) {unknown}; parameters: "
                                   f"{sorted(known)}")
        member = f" (batch member {b})" if B > 1 else ""
        if "global_coupling" in values:      # checked even where no coupling reads it
            _scalar(values["global_coupling"], f"params['global_coupling']{member}")
        for gi, g in enumerate(net.groups):
            flat, regs = g["flat"], g["regions"]
            Rg = len(regs)
            for k, s in enumerate(flat.states):
                x0[b, offs[gi]["X"] + k * Rg: offs[gi]["X"] + (k + 1) * Rg] = init[s][regs]
            for j, p in enumerate(flat.params):
                v = g["values"][p]
                if p in values:
                    v = _per_region(values[p], R, f"params[{p!r}]{member}")[regs]
                par[b, offs[gi]["P"] + j * Rg: offs[gi]["P"] + (j + 1) * Rg] = v
        for ci, c in enumerate(net.couplings):
            idx = spec.cpar_index[ci]
            for name in ["G"] + sorted(c.params):
                keys = [f"coupling{ci}.{name}"] + (["global_coupling"] if name == "G" else [])
                key = next((k for k in keys if k in values), None)
                default = c.global_coupling if name == "G" else c.params[name]
                what = (f"params[{key!r}]{member}" if key else
                        f"coupling {ci} ({c.source} -> {c.target}) {name}")
                cpar[b, idx[name]] = _scalar(values[key] if key else default, what)
    _check_finite(net, totals, x0, "X", "initial state")
    _check_finite(net, totals, par, "P", "parameter")
    return dict(x0=x0, par=par, cpar=cpar)


def _locate(net, totals, j, where):
    """(name, region label) of flat index ``j`` of the states ("X") or parameters ("P")."""
    for gi, g in enumerate(net.groups):
        flat, Rg = g["flat"], len(g["regions"])
        names = flat.states if where == "X" else flat.params
        off = totals["groups"][gi][where]
        if off <= j < off + len(names) * Rg:
            k, i = divmod(j - off, Rg)
            return names[k], net.labels[g["regions"][i]]
    raise IndexError(f"index {j} is outside the layout")


def _check_finite(net, totals, arr, where, what):
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        b, j = bad[0]
        name, region = _locate(net, totals, j, where)
        member = f" (batch member {b})" if arr.shape[0] > 1 else ""
        raise ValueError(f"{what} {name!r} of region {region!r}{member} is {arr[b, j]} (NaN or "
                         f"inf; {len(bad)} value(s) in all): set a finite value before the run")


def _internal_delays(net, totals, par):
    """Delays (s) of every circuit-internal edge of every member (they are parameters)."""
    offs = totals["groups"]
    idel = np.zeros((par.shape[0], max(totals["n_intra"], 1)))
    for gi, g in enumerate(net.groups):
        flat, Rg = g["flat"], len(g["regions"])
        for ei, e in enumerate(flat.edges):
            if e.delay is None:
                continue
            j = flat.params.index(e.delay)
            idel[:, offs[gi]["E"] + ei * Rg: offs[gi]["E"] + (ei + 1) * Rg] = \
                par[:, offs[gi]["P"] + j * Rg: offs[gi]["P"] + (j + 1) * Rg]
    return idel


def _member_edges(net, batch):
    """Each member's coupling weights and delays (s) on the network's edges, ``(B, nnz)``.

    ``params`` may give a member its own ``"weights"`` (an (n_regions, n_regions) matrix,
    ``[target, source]``, on the network's connections) and its own conduction ``"speed"``
    (m/s; delays = tract lengths / speed, for a network built from a connectome).
    """
    W = net.weights
    rows = np.repeat(np.arange(net.n_regions), np.diff(W.indptr))
    weights, delays = np.tile(W.data, (len(batch), 1)), np.tile(net.delays.data, (len(batch), 1))
    for b, values in enumerate(batch):
        member = f" (batch member {b})" if len(batch) > 1 else ""
        if "weights" in values:
            weights[b] = _weights_on_edges(net, values["weights"], rows, f"params['weights']"
                                           f"{member}")
        if "speed" in values:
            speed = _scalar(values["speed"], f"params['speed']{member}")
            lengths = getattr(getattr(net, "connectome", None), "tract_lengths", None)
            if lengths is None:
                raise ValueError(f"params['speed']{member}: this network has no tract lengths; "
                                 "build it with Network.from_connectome to batch speeds")
            if speed <= 0:
                raise ValueError(f"params['speed']{member} must be > 0 m/s, got {speed}")
            delays[b] = np.asarray(lengths)[rows, W.indices] / (speed * 1e3)
    return weights, delays


def _weights_on_edges(net, value, rows, what):
    """A member's weight matrix as values on the network's connections."""
    import scipy.sparse as sp
    R, W = net.n_regions, net.weights
    mat = value.toarray() if sp.issparse(value) else np.asarray(value, dtype=float)
    if mat.shape != (R, R):
        raise ValueError(f"{what} must have shape ({R}, {R}) [target, source], got {mat.shape}")
    if not np.isfinite(mat).all():
        raise ValueError(f"{what} contains NaN or inf")
    outside = mat.copy()
    outside[rows, W.indices] = 0.0
    if outside.any():
        t, src = np.argwhere(outside)[0]
        raise ValueError(f"{what} connects {net.labels[src]!r} -> {net.labels[t]!r}, which "
                         "the network does not; give the network every connection a member "
                         "may use (a zero weight is kept)")
    if (mat < 0).any() and not (W.data < 0).any():
        raise ValueError(f"{what} has negative weights; the network's weights are all >= 0")
    return mat[rows, W.indices]


def _edges(net, idel, weights, delays, dt, delay_mode, duration):
    """Delays in steps and coupling arrays (CSR, per member) for the kernel."""
    R, B = net.n_regions, weights.shape[0]

    def steps(delays, what):
        D = np.asarray(delays, dtype=float) / dt
        if (D < 0).any() or not np.isfinite(D).all():
            raise ValueError(f"{what}: delays must be finite and >= 0 s")
        if D.size and D.max() * dt >= duration:
            raise ValueError(f"{what}: the longest delay ({D.max() * dt:g} s) is not shorter "
                             f"than the simulation ({duration:g} s)")
        if delay_mode == "round":
            D = np.round(D)
        Di = np.floor(D)
        return Di.astype(np.int64), D - Di

    idi, idf = steps(idel, "circuit edges")
    # coupling CSR (shared pattern) with per-member weights and delays
    W = net.weights
    C = len(net.couplings)
    cptr = np.zeros((max(C, 1), R + 1), dtype=np.int64)
    nnz = W.nnz
    for ci in range(C):
        cptr[ci] = W.indptr + ci * nnz
    cidx = np.tile(W.indices.astype(np.int64), (B, C)) if C else np.zeros((B, 1), np.int64)
    cw = np.tile(weights, (1, C)) if C else np.zeros((B, 1))
    cdi, cdf = steps(np.tile(delays, (1, C)) if C else np.zeros((B, 1)), "connectome")
    L = int(max(idi.max(initial=0) + (idf.max(initial=0) > 0), cdi.max(initial=0)
                + (cdf.max(initial=0) > 0))) + 2
    csplit, cfar, coff, cwhole = _order_edges(cptr, cidx, cw, cdi, cdf, L)
    cdense_on, cdense = _dense_coupling(net, cptr, csplit, cidx, cw, cdi, cwhole)
    return dict(idi=idi, idf=idf, cptr=cptr, csplit=csplit, cfar=cfar, cidx=cidx, coff=coff,
                cw=cw, cdi=cdi, cdf=cdf, cwhole=cwhole, cdense_on=cdense_on, cdense=cdense, L=L)


def _order_edges(cptr, cidx, cw, cdi, cdf, L):
    """Order each member's edges for the kernel (in place) and return their index arrays.

    Each row (coupling, target) lists its edges shorter than a step first (summed anew at every
    stage), then the delayed ones from ``csplit``, those delayed by >= FAR_BLOCK - 1 steps last
    from ``cfar`` (summed in blocks); ``coff`` is each edge's flat offset in the kernel's doubled
    ring buffer ``hist[coupling, source, 2 L]``; ``cwhole``: no delay is a fraction of a step.
    """
    B, (C, R) = cw.shape[0], (cptr.shape[0], cptr.shape[1] - 1)
    csplit = np.repeat(cptr[None, :, :-1], B, axis=0)
    cfar = csplit.copy()
    coff = np.zeros_like(cidx)
    cwhole = np.ones((B, C), dtype=np.bool_)
    if cptr[-1, -1] == 0:         # no coupling edges
        return csplit, cfar, coff, cwhole
    row = np.repeat(np.arange(C * R), np.diff(cptr, axis=1).ravel())   # coupling * R + target
    for b in range(B):
        kind = (cdi[b] > 0).astype(np.int64) + (cdi[b] >= FAR_BLOCK - 1)
        order = np.lexsort((kind, row))
        for a in (cidx, cw, cdi, cdf):
            a[b] = a[b][order]
        kind = kind[order]
        csplit[b] += np.bincount(row[kind == 0], minlength=C * R).reshape(C, R)
        cfar[b] = csplit[b] + np.bincount(row[kind == 1], minlength=C * R).reshape(C, R)
        coff[b] = ((row // R) * R + cidx[b]) * 2 * L + L - cdi[b]
        cwhole[b] = ~np.bincount(row[cdf[b] > 0] // R, minlength=C).astype(bool)
    return csplit, cfar, coff, cwhole


def _dense_coupling(net, cptr, csplit, cidx, cw, cdi, cwhole):
    """Dense matrices of undelayed linear couplings (e.g. PyRates' benchmark grid).

    The kernel sums such a coupling as contiguous row dot products when its undelayed edges
    fill >= 1/4 of the matrix, are the same for every member and fit in DENSE_MAX_BYTES.
    """
    C, R = cptr.shape[0], cptr.shape[1] - 1
    cdense_on = np.zeros(C, dtype=np.bool_)
    for ci, c in enumerate(net.couplings):
        lo, hi = cptr[ci, 0], cptr[ci, -1]
        inst = cdi[:, lo:hi] == 0
        cdense_on[ci] = (c.pre_transformed and inst[0].sum() * 4 >= R * R
                         and R * R * 8 <= DENSE_MAX_BYTES and cwhole[:, ci].all()
                         and (inst == inst[0]).all() and (cw[:, lo:hi] == cw[0, lo:hi]).all())
    if not cdense_on.any():
        return cdense_on, np.zeros((0, 0, 0))
    cdense = np.zeros((C, R, R))
    for ci in np.flatnonzero(cdense_on):
        for r in range(R):
            e = np.arange(cptr[ci, r], csplit[0, ci, r])
            cdense[ci, r, cidx[0, e]] += cw[0, e]
    return cdense_on, cdense


def _history(net, spec, history, cpar):
    """Values before t = 0 of each coupled variable, as the kernel's buffers hold them.

    A number, or per source variable: a number, one value per region (n_regions,), or a time
    series (n_times,) or (n_times, n_regions), oldest first, spaced by dt.
    """
    B, R = cpar.shape[0], net.n_regions
    if history is None:
        return np.zeros((B, spec.n_q, R, 0))
    from .model.expressions import evaluate
    if not isinstance(history, dict):
        history = {c.source: history for c in net.couplings}
    series = {}
    for c in net.couplings:
        if c.source not in history:
            raise UnknownNameError(f"history: no values for the coupled variable "
                                   f"{c.source!r}")
        arr = np.asarray(history[c.source], dtype=float)
        if arr.ndim == 0:
            arr = np.full((1, R), float(arr))
        elif arr.ndim == 1:
            arr = arr[None, :] if arr.shape[0] == R else np.repeat(arr[:, None], R, axis=1)
        if arr.ndim != 2 or arr.shape[1] != R:
            raise ValueError(f"history[{c.source!r}] must have shape (n_times, {R}), got "
                             f"{arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"history[{c.source!r}] contains NaN or inf")
        series[c.source] = arr
    length = max(a.shape[0] for a in series.values())
    out = np.zeros((B, spec.n_q, R, length))
    for ci, c in enumerate(net.couplings):
        arr = series[c.source]
        vals = np.concatenate([np.repeat(arr[:1], length - arr.shape[0], axis=0), arr]).T
        for b in range(B):
            if c.pre_transformed:   # the buffers hold f(x_j), as in the kernel
                env = {p: cpar[b, spec.cpar_index[ci][p]] for p in c.params}
                out[b, ci] = np.broadcast_to(evaluate(c.expression, {**env, "x_j": vals}),
                                             vals.shape)
            else:
                out[b, ci] = vals
    return out


def _drives(net, names, inputs, n_steps, dt):
    R = net.n_regions
    drv = np.zeros((max(len(names), 1), n_steps if names else 1, R))
    t = None
    for d, name in enumerate(names):
        value = inputs[name]
        if callable(value):
            t = np.arange(n_steps) * dt if t is None else t      # only for callables
            value = value(t)
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            arr = np.full((n_steps, R), float(arr))
        elif arr.ndim == 1:
            if arr.shape[0] != n_steps:
                raise ValueError(f"inputs[{name!r}] has {arr.shape[0]} samples; expected one "
                                 f"per step ({n_steps} = duration / dt)")
            arr = np.repeat(arr[:, None], R, axis=1)
        if arr.shape != (n_steps, R):
            raise ValueError(f"inputs[{name!r}] must have shape (n_steps, n_regions) = "
                             f"({n_steps}, {R}), got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"inputs[{name!r}] contains NaN or inf")
        drv[d] = arr
    return drv


def _noise_amplitudes(noise, names, B, R):
    nsig = np.zeros((B, len(names), R))
    for z, name in enumerate(names):
        nsig[:, z, :] = _per_region(noise[name], R, f"noise[{name!r}]")
        if (nsig[:, z, :] < 0).any():
            raise ValueError(f"noise amplitude of {name!r} must be >= 0")
    return nsig


def _results(net, totals, record, times, out, status, common, seeds, par, batch):
    """One Result per member: its samples, provenance and how it ended."""
    for k, name in enumerate(record):          # regions whose circuit lacks a variable: NaN
        for g in net.groups:
            if name not in g["flat"].variables:
                out[:, k, :, g["regions"]] = np.nan
    units = {n: net.units.get(n, "") for n in record}
    results = ResultBatch()
    for b in range(out.shape[0]):
        ended, where = _outcome(net, totals, status[b], common["dt"])
        params = _param_view(net, totals, par[b])
        params.update({k: batch[b][k] for k in ("speed", "global_coupling") if k in batch[b]})
        if "weights" in batch[b]:
            params["weights"] = "per member (given in params)"
        prov = {**common, "seed": int(seeds[b]), "params": params, "status": ended,
                "steps_done": int(status[b, 2])}
        results.append(Result(times, {name: out[b, k] for k, name in enumerate(record)},
                              net.labels, units, prov, status=ended, diverged_at=where))
    return results


def _param_view(net, totals, par_b):
    out = {}
    for gi, g in enumerate(net.groups):
        flat, regs = g["flat"], g["regions"]
        Rg = len(regs)
        for j, p in enumerate(flat.params):
            off = totals["groups"][gi]["P"]
            vals = par_b[off + j * Rg: off + (j + 1) * Rg]
            out[p] = float(vals[0]) if np.all(vals == vals[0]) else vals.tolist()
    return out


def _history_length(history, R):
    """Rows of the longest history series (0: none), read from shapes only."""
    if history is None:
        return 0
    n = 1
    for value in (history.values() if isinstance(history, dict) else [history]):
        shape = np.shape(value)
        if len(shape) == 2 or (len(shape) == 1 and shape[0] != R):
            n = max(n, shape[0])
    return n


def _memory_needed(net, spec, n):
    """Bytes a run allocates, by purpose (8 bytes per value; temporaries included roughly).

    ``n``: batch size ``B``, recorded variables, samples, steps, drives, noisy variables,
    whether a drive is a callable, history rows, delay buffer length ``L`` and the members run
    at once (``workers``).
    """
    R, nnz, C = net.n_regions, net.weights.nnz, max(len(spec.couplings), 1)
    S, P, E = (spec.totals[k] for k in ("n_state", "n_par", "n_intra"))
    V = len(spec.var_names)
    linear = sum(c.pre_transformed for c in spec.couplings)
    work = (spec.n_q * R * (2 * n["L"] + 1) + C * R * (2 + FAR_BLOCK) + V * R
            + 2 * n["noise"] * R + n["record"] * R + 8 * S + E)
    parts = {
        "recordings": n["B"] * n["record"] * n["samples"] * R,
        "drives": n["drives"] * n["steps"] * R * (2 if n["callable_drive"] else 1)
        + (n["steps"] if n["callable_drive"] else 0),
        "batch arrays": n["B"] * (S + P + spec.n_cpar + 2 * E + C * (7 * nnz + 2 * R)
                                  + n["noise"] * R + spec.n_q * R * n["history"]),
        "delay buffers and work arrays": n["workers"] * work,
        "dense coupling": linear * R * R if R * R * 8 <= DENSE_MAX_BYTES else 0,
    }
    return {k: 8 * v for k, v in parts.items()}


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


def _run_kernel(entry, args, ctl, n_threads, parallel):
    """Run the kernel on worker threads and wait in short slices, so that Ctrl-C reaches this
    (main) thread: it then sets ``ctl[0]``, the kernel stops within a step, and True is
    returned (interrupted).

    Batch members are spread over ``n_threads`` threads in blocks (the kernel releases the
    GIL); with parallel="regions" one thread runs them all and numba's threads split regions.
    """
    B = args[0].shape[0]
    workers = 1 if parallel == "regions" else max(1, min(n_threads or _max_threads(), B))
    size = max(1, B // (4 * workers))            # several blocks per thread: balance
    blocks = [(b, min(b + size, B)) for b in range(0, B, size)]
    outcome, done, lock = {"left": workers}, threading.Event(), threading.Lock()

    def work():
        try:
            if n_threads is not None and parallel == "regions":
                import numba
                numba.set_num_threads(n_threads)       # thread-local: set in this thread
            while not ctl[0]:
                with lock:
                    if not blocks:
                        break
                    b0, b1 = blocks.pop(0)
                entry(*args, b0, b1)
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
    interrupted = False
    # an Event, not Thread.join: a KeyboardInterrupt inside join() can mark a running thread
    # as stopped (CPython 3.11, bpo-45274), and the kernel would still write into `out`
    while not done.is_set():
        try:
            done.wait(0.05)
        except KeyboardInterrupt:
            ctl[0] = 1                  # asks every member to stop; wait for the kernel
            interrupted = True
    if "error" in outcome:
        raise outcome["error"]
    return interrupted


def _outcome(net, totals, status, dt):
    """How one member ended ("completed", "diverged", "interrupted") and, if it diverged,
    where: ``{"time", "step", "region", "variable"}``."""
    if status[0] == -1:
        return "completed", None
    if status[0] <= 0:
        return "interrupted", None
    step = int(status[0])
    var, region = _locate(net, totals, int(status[1]), "X")
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
