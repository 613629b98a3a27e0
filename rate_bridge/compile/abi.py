"""The kernel's interface, in one place: its arguments and their layout.

:class:`KernelArgs` lists the arguments of the generated entry point ``run`` in the order of its
signature (codegen writes the signature from it); :func:`pack` builds them from a network, a
batch of parameter sets and the run's options; :func:`unpack_params` and :func:`locate` read the
flat per-member layout back (parameters by name; a state index -> variable and region).

Layout per batch member (from :meth:`KernelSpec.layout`): group g's state k of its local region
i at ``X_g + k * R_g + i`` of ``x``, parameter j at ``P_g + j * R_g + i`` of ``par``; coupling
edges in a CSR shared by all members (``cptr``, rows = targets) with per-member values.
"""
from dataclasses import dataclass, field, fields

import numpy as np

from ..utils import UnknownNameError, finite_number, validate_type

#: stage times per block of far-edge sums (blocks of FAR_BLOCK - 1 steps; edges delayed by at
#: least FAR_BLOCK - 1 steps are summed once per block)
FAR_BLOCK = 8


def _member(doc):
    return field(metadata={"member": True, "doc": doc})


def _shared(doc):
    return field(metadata={"member": False, "doc": doc})


@dataclass
class KernelArgs:
    """Arguments of the kernel's ``run``, in signature order (member arrays lead with B)."""
    x0: np.ndarray = _member("(B, S) initial states")
    lay: np.ndarray = _shared("group sizes and offsets, then NR, S, E totals")
    par: np.ndarray = _member("(B, P) parameters")
    cpar: np.ndarray = _member("(B, n_cpar) coupling parameters: G, then the function's")
    idi: np.ndarray = _member("(B, E) circuit-internal edge delays, whole steps")
    idf: np.ndarray = _member("(B, E) ... and fractions of a step")
    cptr: np.ndarray = _shared("(C, R + 1) CSR row pointers (rows = targets) per coupling")
    csplit: np.ndarray = _member("(B, C, R) first delayed edge of each row")
    cfar: np.ndarray = _member("(B, C, R) first far edge (summed in blocks) of each row")
    cidx: np.ndarray = _member("(B, C * nnz) source region of each edge")
    coff: np.ndarray = _member("(B, C * nnz) flat offset of each delayed edge in the history")
    cw: np.ndarray = _member("(B, C * nnz) weights")
    cdi: np.ndarray = _member("(B, C * nnz) delays, whole steps")
    cdf: np.ndarray = _member("(B, C * nnz) ... and fractions of a step")
    cwhole: np.ndarray = _member("(B, C) no delay of the coupling is a fraction of a step")
    cdense_on: np.ndarray = _shared("(C,) coupling summed as dense row products")
    cdense: np.ndarray = _shared("(C, R, R) those dense matrices (or empty)")
    L: int = _shared("length of the delay ring buffers, in steps")
    hinit: np.ndarray = _member("(B, Q, R, H) history before t = 0 (H = 0: constant)")
    drv: np.ndarray = _shared("(D, n_steps, R) drives added to inputs")
    dvar: np.ndarray = _shared("(D,) variable index of each drive")
    nsig: np.ndarray = _member("(B, Z, R) noise amplitudes")
    nvar: np.ndarray = _shared("(Z,) variable index of each noise")
    seeds: np.ndarray = _member("(B,) uint64 noise seeds")
    rvar: np.ndarray = _shared("(K,) variable index of each recorded variable")
    greg: np.ndarray = _shared("(R,) global region of each group's local region")
    n_steps: int = _shared("steps to integrate")
    dt: float = _shared("step in s")
    rec_every: int = _shared("steps per recorded sample")
    rec_avg: bool = _shared("average the steps of a sample (else keep the first)")
    out: np.ndarray = _member("(B, K, n_samples, R) recordings, NaN until written")
    status: np.ndarray = _member("(B, 3) how each member ended (see codegen._gen_run)")
    mvar: np.ndarray = _shared("(M,) variable index of each streaming monitor")
    mon: np.ndarray = _shared("(M, MON_COLS) int64 monitor tables (see monitor_code.py)")
    monf: np.ndarray = _shared("(M, MONF_COLS) their float constants")
    marr: np.ndarray = _shared("(A,) their shared arrays (gains, windows, FFT tables)")
    nmw: int = _shared("length of one member's monitor work space")
    mout: np.ndarray = _member("(B, O) the monitors' outputs")
    ctl: np.ndarray = _shared("(8,) ctl[0] = 1 asks the kernel to stop (Ctrl-C)")

    def astuple(self):
        """The positional arguments (no copies)."""
        return tuple(getattr(self, f.name) for f in fields(self))


FIELDS = tuple(f.name for f in fields(KernelArgs))
MEMBER = frozenset(f.name for f in fields(KernelArgs) if f.metadata["member"])
# inside the kernel's batch loop, member b's view of a member array goes by the field's name
# (x and seed where the name is plural), the whole batch by <name>_all
_ONE = {"x0": "x", "seeds": "seed"}


def _batch_name(name):
    return f"{name}_all" if name in MEMBER and name not in _ONE else name


def run_signature():
    """Parameters of the generated ``run``: every field, then the member range b0, b1, the
    step range n0, n1 and ``carry`` (what later calls continue from, one row per member of the
    range: :func:`carry_length`)."""
    return ", ".join(_batch_name(n) for n in FIELDS) + ", b0, b1, n0, n1, carry"


def history_rows(spec, internal_delays):
    """Rows of a member's delay buffers: every delayed quantity if some circuit-internal
    delay is set in the batch, else the couplings' sources only (the kernel's QH)."""
    return spec.n_q if internal_delays else max(len(spec.couplings), 1)


def carry_length(spec, args):
    """Floats one member carries between calls of ``run``: counters, delay buffers, far-edge
    sums, delayed coupling sums, partial samples, monitor work, the stage-time cache, state."""
    R, C = spec.totals["n_regions"], max(len(spec.couplings), 1)
    rows = history_rows(spec, bool(np.any(args.idi > 0) or np.any(args.idf > 0)))
    return (3 + rows * R * 2 * args.L + C * R * FAR_BLOCK + C * R
            + args.out.shape[1] * R + args.nmw + 1 + spec.totals["n_state"])


def member_views():
    """Lines of ``run``'s batch loop binding member b's views (its state ``x`` a copy)."""
    return [f"{_ONE.get(n, n)} = {_batch_name(n)}[b]" + (".copy()" if n == "x0" else "")
            for n in FIELDS if n in MEMBER]


def pack(spec, net, batch, *, seeds, initial_state, record, inputs, noise, history, dt,
         n_steps, rec_every, rec_avg, delay_mode, duration, workers=1, check_memory=None,
         monitors=None):
    """Every argument of the kernel for a batch of parameter sets, values checked.

    ``inputs`` and ``noise`` map checked variable names to drives and amplitudes; ``monitors``
    holds the monitor tables of :func:`rate_bridge.monitors.pack` (None: no monitor);
    ``check_memory(parts)`` (bytes by purpose) may refuse the run before anything large is
    allocated.
    """
    B, R = len(batch), net.n_regions
    values = _values(net, spec, batch, initial_state)
    idel = _internal_delays(net, spec.totals, values["par"])
    weights, delays = _member_edges(net, batch)
    n_samples = n_steps // rec_every
    if check_memory is not None:
        longest = max(idel.max(initial=0.0), delays.max(initial=0.0))
        check_memory(memory_needed(net, spec, dict(
            B=B, record=len(record), samples=n_samples, steps=n_steps, drives=len(inputs),
            noise=len(noise), callable_drive=any(callable(v) for v in inputs.values()),
            history=_history_length(history, R), workers=workers,
            history_rows=history_rows(spec, bool(idel.max(initial=0.0) > 0)),
            L=int(np.ceil(min(longest / dt, n_steps))) + 3,
            monitors=monitors["mout"].shape[1] if monitors else 0,
            monitor_work=monitors["nmw"] if monitors else 0)))
    monitors = monitors or _no_monitors(B)
    index = [np.array([spec.var_index[n] for n in names], dtype=np.int64)
             for names in (inputs, noise, record)]
    return KernelArgs(
        x0=values["x0"], lay=spec.lay, par=values["par"], cpar=values["cpar"],
        **_edges(net, idel, weights, delays, dt, delay_mode, duration),
        hinit=_history(net, spec, history, values["cpar"]),
        drv=_drives(net, inputs, n_steps, dt), dvar=index[0],
        nsig=_noise_amplitudes(noise, B, R), nvar=index[1], seeds=seeds,
        rvar=index[2], greg=np.concatenate([g["regions"] for g in net.groups]).astype(np.int64),
        n_steps=n_steps, dt=dt, rec_every=rec_every, rec_avg=rec_avg,
        out=np.full((B, len(record), n_samples, R), np.nan),
        status=np.zeros((B, 3), dtype=np.int64), ctl=np.zeros(8, dtype=np.int64), **monitors)


def _no_monitors(B):
    """The monitor arguments of a run without monitors."""
    from .monitor_code import MON_COLS, MONF_COLS
    return dict(mvar=np.zeros(0, dtype=np.int64), mon=np.zeros((0, MON_COLS), dtype=np.int64),
                monf=np.zeros((0, MONF_COLS)), marr=np.zeros(0), nmw=0, mout=np.zeros((B, 0)))


#: largest dense coupling matrix (bytes) used for undelayed dense coupling
DENSE_MAX_BYTES = 2 ** 28


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
            finite_number(values["global_coupling"], f"params['global_coupling']{member}")
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
                cpar[b, idx[name]] = finite_number(values[key] if key else default, what)
    _check_finite(net, totals, x0, "X", "initial state")
    _check_finite(net, totals, par, "P", "parameter")
    return dict(x0=x0, par=par, cpar=cpar)


def locate(net, totals, j, where):
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
        name, region = locate(net, totals, j, where)
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
            speed = finite_number(values["speed"], f"params['speed']{member}")
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
    try:
        mat = value.toarray() if sp.issparse(value) else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a matrix of numbers, got {type(value).__name__} "
                        f"{value!r:.40}") from None
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
    from ..model.expressions import evaluate
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


def _drives(net, inputs, n_steps, dt):
    """(D, n_steps, R) drives, one per input named in ``inputs`` (in its order)."""
    R, names = net.n_regions, list(inputs)
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


def _noise_amplitudes(noise, B, R):
    """(B, Z, R) amplitudes, one per variable named in ``noise`` (in its order)."""
    nsig = np.zeros((B, len(noise), R))
    for z, name in enumerate(noise):
        nsig[:, z, :] = _per_region(noise[name], R, f"noise[{name!r}]")
        if (nsig[:, z, :] < 0).any():
            raise ValueError(f"noise amplitude of {name!r} must be >= 0")
    return nsig


def unpack_params(net, totals, par_b):
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


def memory_needed(net, spec, n):
    """Bytes a run allocates, by purpose (8 bytes per value; temporaries included roughly).

    ``n``: batch size ``B``, recorded variables, samples, steps, drives, noisy variables,
    whether a drive is a callable, history samples given, delay buffer rows and length ``L``
    and the members run at once (``workers``).
    """
    R, nnz, C = net.n_regions, net.weights.nnz, max(len(spec.couplings), 1)
    S, P, E = (spec.totals[k] for k in ("n_state", "n_par", "n_intra"))
    V = len(spec.var_names)
    linear = sum(c.pre_transformed for c in spec.couplings)
    work = (n["history_rows"] * R * 2 * n["L"] + spec.n_q * R + C * R * (2 + FAR_BLOCK) + V * R
            + 2 * n["noise"] * R + n["record"] * R + 8 * S + E + n["monitor_work"])
    parts = {
        "recordings": n["B"] * n["record"] * n["samples"] * R,
        "monitor outputs": n["B"] * n["monitors"],
        "drives": n["drives"] * n["steps"] * R * (2 if n["callable_drive"] else 1)
        + (n["steps"] if n["callable_drive"] else 0),
        "batch arrays": n["B"] * (S + P + spec.n_cpar + 2 * E + C * (7 * nnz + 2 * R)
                                  + n["noise"] * R + spec.n_q * R * n["history"]),
        "delay buffers and work arrays": n["workers"] * work,
        "dense coupling": linear * R * R if R * R * 8 <= DENSE_MAX_BYTES else 0,
    }
    return {k: 8 * v for k, v in parts.items()}
