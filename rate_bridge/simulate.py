"""simulate(): values in, one compiled kernel call, labelled results out."""
import math
import os
import time

import numpy as np

from .compile.cache import kernel_for
from .compile.codegen import FAR_BLOCK, KernelSpec
from .compile.integrators import INTEGRATORS, STOCHASTIC_VERSION
from .model.templates import Circuit
from .network import Network
from .result import Result, ResultBatch
from .utils import logger, verbose


class SimulationDiverged(FloatingPointError):
    """A state became NaN or infinite. ``.time``, ``.region``, ``.variable`` say where and when;
    ``.result`` holds what was recorded up to then."""

    def __init__(self, message, time=None, region=None, variable=None, result=None):
        super().__init__(message)
        self.time, self.region, self.variable, self.result = time, region, variable, result


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
        Simulated time in s.
    dt : float
        Integration step in s.
    integrator : {"euler", "heun", "rk4", "euler_maruyama", "heun_stochastic"}
        Scheme. With noise on a state variable, "euler" and "heun" become their stochastic
        versions ("euler_maruyama", "heun_stochastic").
    params : dict | list of dict | None
        Parameter values by qualified name (``{"pc.u": 150.0}``), each a number or an array with
        one value per region. ``"global_coupling"`` sets G of every coupling. A **list** of
        dicts is a batch: one simulation per dict, all in the same kernel call (parallel over
        the batch), returning a :class:`ResultBatch`.
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
    parallel : {"auto", "batch", "nodes"}
        Parallelise over batch members ("auto" = "batch"), or over regions inside each step
        ("nodes": only worth it for very large networks on many cores).
    n_jobs : int | None
        Number of threads (numba); all cores by default.
    %(verbose)s

    Returns
    -------
    Result | ResultBatch
    """
    t_start = time.perf_counter()
    net = _as_network(model)
    duration, dt = float(duration), float(dt)
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    if not (duration > 0 and math.isfinite(duration)):
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    n_steps = int(round(duration / dt))
    if n_steps < 1:
        raise ValueError(f"duration {duration} s is shorter than one step dt = {dt} s")
    batch = params if isinstance(params, (list, tuple)) else [params or {}]
    if not batch:
        raise ValueError("params is an empty list: give at least one parameter set")
    B = len(batch)
    seeds = _seeds(seed, B)

    noise = dict(noise or {})
    state_noise = any(name in net.initial_state for name in noise)
    if integrator not in INTEGRATORS:
        raise ValueError(f"unknown integrator {integrator!r}; choose one of "
                         f"{sorted(INTEGRATORS)}")
    if state_noise:
        if integrator not in STOCHASTIC_VERSION:
            raise ValueError(f"integrator {integrator!r} cannot integrate noise on state "
                             f"variables; use one of {sorted(set(STOCHASTIC_VERSION.values()))}")
        if STOCHASTIC_VERSION[integrator] != integrator:
            logger.info(f"noise on states: using {STOCHASTIC_VERSION[integrator]} "
                        f"instead of {integrator}")
        integrator = STOCHASTIC_VERSION[integrator]

    R = net.n_regions
    variables = net.variables
    record = list(dict.fromkeys(record)) if record is not None else list(net.initial_state)
    for name in record:
        if name not in variables:
            raise KeyError(f"cannot record {name!r}: not a variable of the model; variables: "
                           f"{variables}")
    rec_every, sfreq = _decimation(dt, sampling_rate)
    if record_mode not in ("decimate", "average"):
        raise ValueError(f"record_mode must be 'decimate' or 'average', got {record_mode!r}")
    n_samples = n_steps // rec_every
    if n_samples < 1:
        raise ValueError(f"duration {duration} s holds no sample at {sfreq} Hz")

    noise_names = _check_names(net, noise, "noise", ("state", "input"))
    drive_names = _check_names(net, inputs or {}, "inputs", ("input",))
    parallel = _parallel_mode(parallel, B, R, n_jobs)
    spec = KernelSpec([g["flat"] for g in net.groups], net.couplings, integrator, parallel,
                      [len(g["regions"]) for g in net.groups])
    t0 = time.perf_counter()
    module, _, key = kernel_for(spec)
    t_kernel = time.perf_counter() - t0
    lay, totals = spec.lay, spec.totals

    arrays = _arrays(net, spec, totals, batch, initial_state, dt, n_steps, delay_mode, duration)
    greg = np.concatenate([g["regions"] for g in net.groups]).astype(np.int64)
    hinit = _history(net, spec, history, arrays["cpar"])
    drv = _drives(net, drive_names, inputs or {}, n_steps, dt)
    rvar = np.array([spec.var_index[name] for name in record], dtype=np.int64)
    dvar = np.array([spec.var_index[name] for name in drive_names], dtype=np.int64)
    nvar = np.array([spec.var_index[name] for name in noise_names], dtype=np.int64)
    nsig = np.zeros((B, len(noise_names), R))
    for z, name in enumerate(noise_names):
        nsig[:, z, :] = _per_region(noise[name], R, f"noise[{name!r}]")
        if (nsig[:, z, :] < 0).any():
            raise ValueError(f"noise amplitude of {name!r} must be >= 0")
    out = np.full((B, len(record), n_samples, R), np.nan)
    status = np.zeros((B, 3), dtype=np.int64)

    args = (arrays["x0"], lay, arrays["par"], arrays["cpar"], arrays["idi"], arrays["idf"],
            arrays["cptr"], arrays["csplit"], arrays["cfar"], arrays["cidx"], arrays["coff"],
            arrays["cw"], arrays["cdi"], arrays["cdf"], arrays["cwhole"], arrays["cdense_on"],
            arrays["cdense"], arrays["L"], hinit, drv, dvar, nsig, nvar, seeds, rvar, greg,
            n_steps, dt, rec_every, record_mode == "average", out, status)
    entry = module.run if (B > 1 and (n_jobs is None or n_jobs > 1)) else module.run_serial
    # numba compiles (or loads from its cache) on the first call: do it here, so that
    # run_seconds is the simulation alone
    t0 = time.perf_counter()
    import numba
    entry.compile(tuple(numba.typeof(a) for a in args))
    t_kernel += time.perf_counter() - t0
    old_threads = None
    if n_jobs is not None:
        old_threads = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(n_jobs), numba.config.NUMBA_NUM_THREADS)))
    t0 = time.perf_counter()
    try:
        entry(*args)
    finally:
        if old_threads is not None:
            numba.set_num_threads(old_threads)
    t_run = time.perf_counter() - t0
    logger.info(f"simulated {B} x {R} region(s), {n_steps} steps in {t_run:.3f} s "
                f"(kernel ready in {t_kernel:.3f} s)")

    for k, name in enumerate(record):          # regions whose circuit lacks a variable: NaN
        for g in net.groups:
            if name not in g["flat"].variables:
                out[:, k, :, g["regions"]] = np.nan
    times = np.arange(n_samples) * rec_every * dt
    units = net.units
    results = ResultBatch()
    for b in range(B):
        prov = {
            "model": net.groups[0]["circuit"].name if len(net.groups) == 1 else
            [g["circuit"].name for g in net.groups],
            "network": net.name, "n_regions": R, "integrator": integrator, "dt": dt,
            "duration": duration, "sampling_rate": sfreq, "record_mode": record_mode,
            "delay_mode": delay_mode, "seed": int(seeds[b]), "noise": {k: np.asarray(v).tolist()
                                                                        for k, v in noise.items()},
            "inputs": sorted((inputs or {}).keys()),
            "params": _param_view(net, totals, arrays["par"][b]),
            "couplings": [repr(c) for c in net.couplings], "kernel": key,
            "versions": _versions(), "run_seconds": t_run, "kernel_seconds": t_kernel,
        }
        data = {name: out[b, k] for k, name in enumerate(record)}
        res = Result(times, data, net.labels, {n: units.get(n, "") for n in record}, prov)
        if status[b, 0] > 0:
            raise _diverged(net, totals, status[b], dt, res, b, B)
        results.append(res)
    logger.debug(f"simulate() total {time.perf_counter() - t_start:.3f} s")
    return results if isinstance(params, (list, tuple)) else results[0]


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


def _seeds(seed, B):
    if isinstance(seed, (list, tuple, np.ndarray)):
        if len(seed) != B:
            raise ValueError(f"{len(seed)} seeds for a batch of {B}")
        vals = [int(s) for s in seed]
    else:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 63))
            logger.info(f"seed: {seed}")
        vals = [int(seed) + b for b in range(B)]
    if any(v < 0 for v in vals):
        raise ValueError("seeds must be >= 0")
    return np.array(vals, dtype=np.uint64)


def _decimation(dt, sampling_rate):
    if sampling_rate is None:
        sampling_rate = min(1000.0, 1.0 / dt)
    sampling_rate = float(sampling_rate)
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
            raise KeyError(f"{what}: the model has no variable {name!r}")
        for kind in kinds_found:
            if kind not in kinds:
                raise ValueError(f"{what}: {name!r} is a {kind}; {what} can act on "
                                 f"{' or '.join(k + 's' for k in kinds)} only")
        names.append(name)
    return names


#: largest dense coupling matrix (bytes) used for undelayed dense coupling
DENSE_MAX_BYTES = 2 ** 28


def _parallel_mode(parallel, B, R, n_jobs):
    if parallel not in ("auto", "batch", "nodes"):
        raise ValueError(f"parallel must be 'auto', 'batch' or 'nodes', got {parallel!r}")
    if parallel != "auto":
        return parallel
    # region-parallel steps open several parallel sections per step; measured slower than
    # serial on 2 cores up to 10 000 regions, so "auto" keeps to batch parallelism
    return "batch"


def _per_region(value, R, what):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(R, float(arr))
    if arr.shape != (R,):
        raise ValueError(f"{what} must be a number or an array of {R} values (one per region), "
                         f"got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or inf")
    return arr


def _arrays(net, spec, totals, batch, initial_state, dt, n_steps, delay_mode, duration):
    """Parameters, states, delays and coupling arrays for every batch member."""
    if delay_mode not in ("round", "interpolate"):
        raise ValueError(f"delay_mode must be 'round' or 'interpolate', got {delay_mode!r}")
    B, R = len(batch), net.n_regions
    known = set(net.parameters) | {"global_coupling"}
    for c_i, c in enumerate(net.couplings):
        known |= {f"coupling{c_i}.G"} | {f"coupling{c_i}.{p}" for p in c.params}
    x0 = np.empty((B, totals["n_state"]))
    par = np.empty((B, totals["n_par"]))
    offs = totals["groups"]
    cpar = np.zeros((B, spec.n_cpar))
    init = dict(net.initial_state)
    for name, value in (initial_state or {}).items():
        if name not in init:
            raise KeyError(f"initial_state: {name!r} is not a state; states: {sorted(init)}")
        init[name] = _per_region(value, R, f"initial_state[{name!r}]")
    for b, values in enumerate(batch):
        if not isinstance(values, dict):
            raise TypeError(f"params[{b}] must be a dict, got {type(values).__name__}")
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"unknown parameter(s) {unknown}; parameters: {sorted(known)}")
        for gi, g in enumerate(net.groups):
            flat, regs = g["flat"], g["regions"]
            Rg = len(regs)
            for k, s in enumerate(flat.states):
                x0[b, offs[gi]["X"] + k * Rg: offs[gi]["X"] + (k + 1) * Rg] = init[s][regs]
            for j, p in enumerate(flat.params):
                v = g["values"][p]
                if p in values:
                    v = _per_region(values[p], R, f"params[{p!r}]")[regs]
                par[b, offs[gi]["P"] + j * Rg: offs[gi]["P"] + (j + 1) * Rg] = v
        for ci, c in enumerate(net.couplings):
            idx = spec.cpar_index[ci]
            G = values.get(f"coupling{ci}.G", values.get("global_coupling", c.global_coupling))
            cpar[b, idx["G"]] = float(G)
            for p in c.params:
                cpar[b, idx[p]] = float(values.get(f"coupling{ci}.{p}", c.params[p]))
    if not np.isfinite(par).all():
        raise ValueError("parameters contain NaN or inf")

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

    # circuit-internal edge delays, per batch member (they are parameters)
    idel = np.zeros((B, max(totals["n_intra"], 1)))
    for gi, g in enumerate(net.groups):
        flat, Rg = g["flat"], len(g["regions"])
        for ei, e in enumerate(flat.edges):
            if e.delay is None:
                continue
            j = flat.params.index(e.delay)
            idel[:, offs[gi]["E"] + ei * Rg: offs[gi]["E"] + (ei + 1) * Rg] = \
                par[:, offs[gi]["P"] + j * Rg: offs[gi]["P"] + (j + 1) * Rg]
    idi, idf = steps(idel, "circuit edges")
    # coupling CSR (shared pattern) with per-member weights and delays
    W, D = net.weights, net.delays
    C = len(net.couplings)
    cptr = np.zeros((max(C, 1), R + 1), dtype=np.int64)
    nnz = W.nnz
    for ci in range(C):
        cptr[ci] = W.indptr + ci * nnz
    cidx = np.tile(W.indices.astype(np.int64), (B, C)) if C else np.zeros((B, 1), np.int64)
    cw = np.tile(W.data, (B, C)) if C else np.zeros((B, 1))
    cdi, cdf = steps(np.tile(D.data, (B, C)) if C else np.zeros((B, 1)), "connectome")
    L = int(max(idi.max(initial=0) + (idf.max(initial=0) > 0), cdi.max(initial=0)
                + (cdf.max(initial=0) > 0))) + 2
    csplit, cfar, coff, cwhole = _order_edges(cptr, cidx, cw, cdi, cdf, L)
    cdense_on, cdense = _dense_coupling(net, cptr, csplit, cidx, cw, cdi, cwhole)
    return dict(x0=x0, par=par, cpar=cpar, idi=idi, idf=idf, cptr=cptr, csplit=csplit,
                cfar=cfar, cidx=cidx, coff=coff, cw=cw, cdi=cdi, cdf=cdf, cwhole=cwhole,
                cdense_on=cdense_on, cdense=cdense, L=L)


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
            raise KeyError(f"history: no values for the coupled variable {c.source!r}")
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
    t = np.arange(n_steps) * dt
    for d, name in enumerate(names):
        value = inputs[name]
        if callable(value):
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


def _diverged(net, totals, status, dt, res, b, B):
    step, j = int(status[0]), int(status[1])
    for gi, g in enumerate(net.groups):
        flat, Rg = g["flat"], len(g["regions"])
        off = totals["groups"][gi]["X"]
        if off <= j < off + len(flat.states) * Rg:
            k, i = divmod(j - off, Rg)
            var, region = flat.states[k], net.labels[g["regions"][i]]
            break
    t = step * dt
    who = f" (batch member {b})" if B > 1 else ""
    return SimulationDiverged(
        f"simulation diverged at t = {t:.6g} s (step {step}){who}: state {var!r} of region "
        f"{region!r} became NaN or infinite. Reduce dt, check parameters, or use another "
        "integrator; samples recorded until then are in this error's .result.",
        time=t, region=region, variable=var, result=res)


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
