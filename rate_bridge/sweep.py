"""Parameter sweeps: grids and random designs, batched in one kernel, or spread on dask.

Every design point is one batch member; batches of ``batch_size`` points run in one compiled
kernel call (parallel over the batch). Point ``i`` of the design always uses ``seed + i``, so a
sweep gives the same numbers however it is split into batches or spread over workers.
"""
import itertools

import numpy as np

from .measures import peak_frequency
from .simulate import SimulationInterrupted, simulate
from .utils import logger, progress_bar, validate_type, verbose


def grid(**axes):
    """Cartesian product of parameter values: ``grid(**{"pc.u": [100, 200], "global_coupling":
    [0, 0.1]})`` -> list of 4 dicts."""
    if not axes:
        raise ValueError("grid() needs at least one parameter axis")
    names = list(axes)
    values = [np.atleast_1d(np.asarray(axes[n], dtype=float)) for n in names]
    for n, v in zip(names, values):
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"grid axis {n!r} must be a non-empty 1-D list of numbers")
    return [dict(zip(names, map(float, combo))) for combo in itertools.product(*values)]


def random_design(n, seed=0, log=(), **ranges):
    """``n`` points drawn uniformly (log-uniformly for names in ``log``) in ``(low, high)``."""
    rng = np.random.default_rng(seed)
    out = [{} for _ in range(int(n))]
    for name, (low, high) in ranges.items():
        if not high > low:
            raise ValueError(f"range of {name!r} must have high > low, got ({low}, {high})")
        if name in log:
            if low <= 0:
                raise ValueError(f"log-uniform range of {name!r} must be positive")
            vals = np.exp(rng.uniform(np.log(low), np.log(high), len(out)))
        else:
            vals = rng.uniform(low, high, len(out))
        for d, v in zip(out, vals):
            d[name] = float(v)
    return out


def summary_features(result, variable, skip=0.0, segment=None):
    """Per-run features of ``variable``, ignoring the first ``skip`` seconds.

    Parameters
    ----------
    result : Result
    variable : str
        The recorded variable, e.g. ``"pc.v"``.
    skip : float
        Transient to drop, in s.
    segment : float | None
        Welch segment length in s (see :func:`rate_bridge.measures.psd`); None: 2 s (or 256
        samples if longer), at most the whole data.

    Returns
    -------
    dict
        ``mean``: mean over time and regions; ``std``: standard deviation over time,
        averaged over regions; ``peak_hz``: frequency (Hz) of the peak above 0 Hz of the
        Welch PSD averaged over regions (:func:`rate_bridge.measures.peak_frequency`; NaN for
        a constant signal), resolution ``1 / segment``.
    """
    x = result[variable][result.time >= skip]
    return {"mean": float(x.mean()), "std": float(x.std(axis=0).mean()),
            "peak_hz": peak_frequency(result, variable, tmin=skip, average=True,
                                      segment=segment)}


def _run_chunk(model, chunk, seed, reduce, kwargs):
    """Results of one batch (``reduce``: (status, features or None) per point)."""
    results = simulate(model, params=chunk, seed=[seed + i for i in range(len(chunk))],
                       **kwargs)
    if reduce is None:
        return list(results)
    return [(r.status, reduce(r) if r.status == "completed" else None) for r in results]


def _table(design, outputs):
    """One row per point: design columns, feature columns (NaN where a point diverged), then
    ``status``."""
    import pandas as pd
    features = list(dict.fromkeys(k for _, f in outputs if f is not None for k in f))
    rows = [{**point, **{k: np.nan for k in features}, **(f or {}), "status": status}
            for point, (status, f) in zip(design, outputs)]
    columns = list(dict.fromkeys(k for point in design for k in point))
    return pd.DataFrame(rows, columns=columns + [k for k in features if k not in columns]
                        + ["status"])


@verbose
def sweep(model, design, duration, dt, *, batch_size=None, seed=0, reduce=None, client=None,
          verbose=None, **simulate_kwargs):
    """Simulate every point of a design.

    Parameters
    ----------
    model : Network | Circuit | str
    design : list of dict
        Parameter sets (see :func:`grid`, :func:`random_design`).
    duration, dt : float
        In seconds.
    batch_size : int | None
        Points per kernel call (memory: batch_size x recorded samples), >= 1. None: 64 on
        the CPU, 4096 on the GPU (``backend="cuda"``, or "auto" with a GPU present), where a
        call needs thousands of members to fill the device.
    seed : int
        Point ``i`` uses ``seed + i``.
    reduce : callable | None
        ``reduce(result) -> dict`` keeps only features of each run (e.g.
        ``lambda r: summary_features(r, "pc.v")``); without it all Results are kept.
    client : dask.distributed.Client | None
        Spread batches over a dask cluster (``pip install rate_bridge[dist]``).
    %(verbose)s
    **simulate_kwargs
        Passed to :func:`~rate_bridge.simulate` (integrator, record, noise, ...).

    Returns
    -------
    pandas.DataFrame | list of Result
        With ``reduce``: one row per point, design columns, feature columns, and ``status``
        (``"completed"``, or ``"diverged"`` with NaN features). Otherwise the list of Results
        in design order (see ``Result.status``). A diverging point never discards the others.

    Raises
    ------
    SimulationInterrupted
        Ctrl-C: ``.result`` holds what the finished batches returned (table or Results).
    """
    design = list(design)
    if not design:
        raise ValueError("the design is empty")
    if batch_size is None:
        batch_size = _default_batch_size(simulate_kwargs.get("backend", "cpu"))
    validate_type(batch_size, "int", "batch_size", "a positive int", error=ValueError)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    chunks = [(start, design[start:start + batch_size])
              for start in range(0, len(design), batch_size)]
    kwargs = dict(duration=duration, dt=dt, **simulate_kwargs)
    logger.info(f"sweep: {len(design)} points in {len(chunks)} batch(es)")
    if client is not None:
        futures = [client.submit(_run_chunk, model, chunk, seed + start, reduce, kwargs,
                                 pure=False) for start, chunk in chunks]
        outputs = client.gather(futures)
    else:
        outputs = []
        try:
            for start, chunk in progress_bar(chunks, desc="sweep", verbose=verbose):
                outputs.append(_run_chunk(model, chunk, seed + start, reduce, kwargs))
        except KeyboardInterrupt:          # in the kernel (SimulationInterrupted) or between
            done = sum(len(out) for out in outputs)
            raise SimulationInterrupted(
                f"sweep interrupted after {done} of {len(design)} points; the finished points "
                "are in this exception's .result", _assemble(design[:done], outputs, reduce)) \
                from None
    return _assemble(design, outputs, reduce)


def _default_batch_size(backend):
    """Points per kernel call when the user gives none: see :func:`sweep`."""
    from .compile import cuda
    gpu = backend == "cuda" or (backend == "auto" and cuda.available() and not cuda.simulator())
    return 4096 if gpu else 64


def _assemble(design, outputs, reduce):
    """The sweep's return value from the chunks' outputs, warning about diverged points."""
    flat = [item for out in outputs for item in out]
    status = [r.status for r in flat] if reduce is None else [st for st, _ in flat]
    bad = [i for i, st in enumerate(status) if st != "completed"]
    if bad:
        logger.warning(f"sweep: {len(bad)} of {len(design)} point(s) diverged: design rows "
                       f"{bad[:20]}{' ...' if len(bad) > 20 else ''}; kept with status "
                       f"'diverged'" + (" and NaN features" if reduce is not None else ""))
    return flat if reduce is None else _table(design, flat)
