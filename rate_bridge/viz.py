"""Plots people expect of a whole-brain model: FC and FCD matrices, spectra, sweep maps.

Each function draws with matplotlib and returns the :class:`~matplotlib.figure.Figure`; time
series are :meth:`rate_bridge.Result.plot` (BOLD included: ``res.plot(["bold"])``).
"""
import numpy as np

from .utils import check_known, short_repr, validate_type


def _axes(ax, figsize):
    """(figure, axes): a new figure when ``ax`` is None."""
    import matplotlib.pyplot as plt
    if ax is None:
        return plt.subplots(figsize=figsize)
    return ax.figure, ax


def _finish(fig, show):
    if show:
        import matplotlib.pyplot as plt
        plt.show()
    return fig


def _matrix(matrix, name):
    """``matrix`` as a float array of shape (n, n)."""
    m = np.asarray(validate_type(matrix, (np.ndarray, list, tuple), name, "an array"),
                   dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square matrix (n, n), got shape {m.shape}")
    return m


def _labels(labels, n, name="labels"):
    """``labels`` as a list of n str (None stays None)."""
    if labels is None:
        return None
    labels = [str(lab) for lab in labels]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries for {n} signals")
    return labels


def plot_fc(matrix, labels=None, *, ax=None, cmap="RdBu_r", vmin=-1.0, vmax=1.0,
            title="Functional connectivity", what="region", show=False):
    """Plot an FC matrix with its region (or channel) labels.

    Parameters
    ----------
    matrix : ndarray, shape (n, n)
        FC (:func:`rate_bridge.measures.fc`).
    labels : list of str | None
        One per row, e.g. ``res.labels``; shown as ticks (every k-th one beyond 40).
    ax : matplotlib Axes | None
        Axes to draw in; a new figure by default.
    cmap : str
        Colour map.
    vmin, vmax : float
        Colour limits.
    title : str | None
    what : str
        What the rows are, for the axis labels (``"region"``, ``"channel"``).
    show : bool
        Show the figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = _matrix(matrix, "matrix")
    labels = _labels(labels, m.shape[0])
    fig, ax = _axes(ax, (6.5, 5.5))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="correlation")
    if labels is not None:
        every = max(1, int(np.ceil(len(labels) / 40)))
        ticks = np.arange(0, len(labels), every)
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize="xx-small")
        ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize="xx-small")
    index = "" if labels is not None else " (index)"
    ax.set_xlabel(f"{what}{index}")
    ax.set_ylabel(f"{what}{index}")
    ax.set_title(title or "")
    return _finish(fig, show)


def plot_fcd(matrix, times=None, *, ax=None, cmap="viridis", vmin=None, vmax=None,
             title="FC dynamics", show=False):
    """Plot an FCD matrix (correlations between sliding-window FCs).

    Parameters
    ----------
    matrix : ndarray, shape (n_windows, n_windows)
        FCD (:func:`rate_bridge.measures.fcd`).
    times : ndarray, shape (n_windows,) | None
        Window centres in s (``fcd(..., return_times=True)``); window indices by default.
    ax : matplotlib Axes | None
    cmap : str
    vmin, vmax : float | None
        Colour limits; the data's range by default.
    title : str | None
    show : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = _matrix(matrix, "matrix")
    fig, ax = _axes(ax, (6, 5))
    extent, unit = None, "window (index)"
    if times is not None:
        t = np.asarray(times, dtype=float)
        if t.shape != (m.shape[0],):
            raise ValueError(f"times must have one entry per window ({m.shape[0]}), got shape "
                             f"{t.shape}")
        half = (t[1] - t[0]) / 2 if len(t) > 1 else 0.5
        extent, unit = (t[0] - half, t[-1] + half, t[-1] + half, t[0] - half), "time (s)"
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="correlation of window FCs")
    ax.set_xlabel(unit)
    ax.set_ylabel(unit)
    ax.set_title(title or "")
    return _finish(fig, show)


def plot_psd(freqs, power, labels=None, *, ax=None, log=True, fmin=None, fmax=None,
             unit=None, show=False):
    """Plot power spectra, one line per region or sensor.

    Parameters
    ----------
    freqs : ndarray, shape (n_freqs,)
        In Hz.
    power : ndarray, shape (n_freqs,) | (n_freqs, n_signals)
        As :func:`rate_bridge.measures.psd` returns.
    labels : list of str | None
        One per signal; a legend is drawn for up to 10 signals.
    ax : matplotlib Axes | None
    log : bool
        Logarithmic power axis.
    fmin, fmax : float | None
        Frequency range shown, in Hz.
    unit : str | None
        Unit of the data, for the axis label (power in unit² / Hz).
    show : bool

    Returns
    -------
    matplotlib.figure.Figure
    """
    f = np.asarray(freqs, dtype=float)
    p = np.asarray(power, dtype=float)
    p = p[:, None] if p.ndim == 1 else p
    if f.ndim != 1 or p.ndim != 2 or p.shape[0] != len(f):
        raise ValueError(f"power must have shape (n_freqs,) or (n_freqs, n_signals) with "
                         f"n_freqs = len(freqs) = {f.size}, got shape {np.shape(power)}")
    labels = _labels(labels, p.shape[1])
    fig, ax = _axes(ax, (7, 4))
    lines = ax.plot(f, p, lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set_xlim(f[0] if fmin is None else fmin, f[-1] if fmax is None else fmax)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(f"power ({unit or 'a.u.'}²/Hz)")
    if labels is not None and len(labels) <= 10:
        ax.legend(lines, labels, fontsize="x-small", ncol=2)
    return _finish(fig, show)


def plot_sweep_map(table, x, y, value, *, ax=None, aggfunc="mean", cmap="viridis",
                   vmin=None, vmax=None, show=False):
    """Heat map of a measure over two swept parameters (the classic G x speed plot).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per design point, as :func:`rate_bridge.sweep.sweep` returns with
        ``reduce`` (design columns, feature columns, ``status``).
    x, y : str
        Parameter columns on the horizontal and vertical axes (e.g. ``"global_coupling"``,
        ``"speed"``).
    value : str
        The column shown in colour (e.g. ``"fc_corr"`` computed by ``reduce``).
    ax : matplotlib Axes | None
    aggfunc : str
        How points sharing (x, y) are combined (other parameters swept too), as
        :meth:`pandas.DataFrame.pivot_table` takes it.
    cmap : str
    vmin, vmax : float | None
    show : bool

    Returns
    -------
    matplotlib.figure.Figure
        Points without a value (diverged, or not in the design) are blank.
    """
    import pandas as pd
    validate_type(table, pd.DataFrame, "table")
    for arg, col in (("x", x), ("y", y), ("value", value)):
        check_known(col, table.columns, "column", where=f"{arg}: ")
    if len({x, y, value}) != 3:
        raise ValueError(f"x, y and value must be three different columns, got {x!r}, {y!r}, "
                         f"{value!r}")
    try:
        grid = table.pivot_table(index=y, columns=x, values=value, aggfunc=aggfunc,
                                 dropna=False)
    except (TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"cannot map column {value!r} over ({x!r}, {y!r}) with aggfunc="
                         f"{short_repr(aggfunc)}: {err}") from None
    fig, ax = _axes(ax, (6.5, 5))
    im = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap=cmap,
                   vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=value)
    for setter, values in ((ax.set_xticks, grid.columns), (ax.set_yticks, grid.index)):
        every = max(1, int(np.ceil(len(values) / 12)))
        ticks = np.arange(0, len(values), every)
        setter(ticks, [f"{values[i]:.3g}" if isinstance(values[i], (int, float, np.number))
                       else str(values[i]) for i in ticks])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return _finish(fig, show)
