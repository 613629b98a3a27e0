"""Operations on connectomes: normalisation, thresholding, symmetrisation, region selection
and plotting. Every function returns a new :class:`Connectome` (the input is not changed)."""
import numpy as np

from ..utils import UnknownNameError, check_option, logger, validate_type
from .connectome import Connectome

NORMALISATIONS = ("max", "row_sum", "spectral_radius")
SYMMETRISATIONS = ("mean", "max", "min")


def _with(conn, **changes):
    validate_type(conn, Connectome, "conn")
    new = conn.copy()
    for key, val in changes.items():
        setattr(new, key, val)
    return new


def normalise(conn, method="max"):
    """Scale the weights (tract lengths are unchanged).

    Parameters
    ----------
    conn : Connectome
        The connectome.
    method : "max" | "row_sum" | "spectral_radius"
        * ``"max"``: divide by the largest weight (result in [0, 1]);
        * ``"row_sum"``: divide each row (target) by its sum, so every region's total input
          is 1 (rows without input stay zero);
        * ``"spectral_radius"``: divide by the largest eigenvalue modulus, so the result has
          spectral radius 1.

    Returns
    -------
    conn : Connectome
        A new connectome with normalised weights (dimensionless).
    """
    validate_type(conn, Connectome, "conn")
    w = conn.weights
    check_option("method", method, NORMALISATIONS)
    if not np.any(w):
        raise ValueError(f"{conn.name}: cannot normalise an all-zero weights matrix")
    if method == "max":
        new = w / np.abs(w).max()
    elif method == "row_sum":
        sums = w.sum(axis=1, keepdims=True)
        new = np.divide(w, sums, out=np.zeros_like(w), where=sums != 0)
    else:
        rho = np.abs(np.linalg.eigvals(w)).max()
        if rho == 0:
            raise ValueError(f"{conn.name}: spectral radius is 0 (nilpotent weights, e.g. a "
                             f"feed-forward chain); use method='max' or 'row_sum'")
        new = w / rho
    return _with(conn, weights=new)


def threshold(conn, value=None, *, proportion=None):
    """Zero weak connections (tract lengths are kept).

    Parameters
    ----------
    conn : Connectome
        The connectome.
    value : float | None
        Absolute threshold (weight units): weights ``< value`` become 0.
    proportion : float | None
        Keep the strongest fraction in (0, 1] of the non-zero weights; entries tied with the
        weakest kept weight are all kept.

    Returns
    -------
    conn : Connectome
        A new connectome.
    """
    validate_type(conn, Connectome, "conn")
    if (value is None) == (proportion is None):
        raise ValueError("give exactly one of value (absolute threshold) or proportion "
                         f"(fraction of edges to keep), got value={value!r}, "
                         f"proportion={proportion!r}")
    w = conn.weights
    if value is not None:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"value must be finite, got {value}")
        cut = value
    else:
        proportion = float(proportion)
        if not 0 < proportion <= 1:
            raise ValueError(f"proportion must be in (0, 1], got {proportion}")
        nz = np.sort(w[w != 0])[::-1]
        if nz.size == 0:
            return conn.copy()
        n_keep = max(int(round(proportion * nz.size)), 1)
        cut = nz[n_keep - 1]
    new = np.where(w >= cut, w, 0.0)
    logger.info(f"{conn.name}: threshold kept {np.count_nonzero(new)} of "
                f"{np.count_nonzero(w)} connections")
    return _with(conn, weights=new)


def symmetrise(conn, method="mean"):
    """Make weights and tract lengths symmetric (undirected).

    Parameters
    ----------
    conn : Connectome
        The connectome.
    method : "mean" | "max" | "min"
        How ``weights[i, j]`` and ``weights[j, i]`` are combined.

    Returns
    -------
    conn : Connectome
        A new connectome. Tract lengths: the mean of both directions where both are known
        (non-zero), the known one otherwise.
    """
    validate_type(conn, Connectome, "conn")
    check_option("method", method, SYMMETRISATIONS)
    w = conn.weights
    new_w = {"mean": (w + w.T) / 2, "max": np.maximum(w, w.T), "min": np.minimum(w, w.T)}[method]
    tl = conn.tract_lengths
    both = (tl > 0) & (tl.T > 0)
    new_tl = np.where(both, (tl + tl.T) / 2, np.maximum(tl, tl.T))
    return _with(conn, weights=new_w, tract_lengths=new_tl)


def select_regions(conn, regions):
    """Sub-connectome of some regions, in the order given.

    Parameters
    ----------
    conn : Connectome
        The connectome.
    regions : list of str | list of int
        Labels (or indices) of the regions to keep.

    Returns
    -------
    conn : Connectome
        A new connectome with those rows/columns and per-region data.
    """
    validate_type(conn, Connectome, "conn")
    if isinstance(regions, (str, int, np.integer)):
        regions = [regions]
    regions = list(regions)
    if not regions:
        raise ValueError("regions is empty; select at least one region")
    index = {lab: k for k, lab in enumerate(conn.labels)}
    idx = []
    unknown = []
    for r in regions:
        if isinstance(r, (int, np.integer)) and not isinstance(r, bool):
            if not -conn.n_regions <= r < conn.n_regions:
                unknown.append(r)
            else:
                idx.append(int(r) % conn.n_regions)
        elif str(r) in index:
            idx.append(index[str(r)])
        else:
            unknown.append(r)
    if unknown:
        raise UnknownNameError(f"{conn.name}: unknown regions {unknown[:10]}; labels are "
                               f"{conn.labels[:10]}{' ...' if conn.n_regions > 10 else ''}")
    if len(set(idx)) != len(idx):
        dup = sorted({conn.labels[i] for i in idx if idx.count(i) > 1})
        raise ValueError(f"{conn.name}: regions selected more than once: {dup}")
    idx = np.array(idx)
    sub = np.ix_(idx, idx)

    def take(arr):
        return None if arr is None else arr[idx].copy()

    return Connectome(conn.weights[sub], conn.tract_lengths[sub],
                      [conn.labels[i] for i in idx], take(conn.centres),
                      coord_frame=conn.coord_frame, hemispheres=take(conn.hemispheres),
                      cortical=take(conn.cortical), orientations=take(conn.orientations),
                      areas=take(conn.areas), name=conn.name)


def plot_connectome(conn, *, log=False, cmap="viridis", show=False):
    """Plot the weights and tract lengths matrices side by side.

    Parameters
    ----------
    conn : Connectome
        The connectome.
    log : bool
        Show ``log10`` of the non-zero weights (zeros left blank).
    cmap : str
        Matplotlib colour map.
    show : bool
        Call :func:`matplotlib.pyplot.show`.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure (axes: weights, tract lengths in mm; rows = target, columns = source).
    """
    import matplotlib.pyplot as plt
    validate_type(conn, Connectome, "conn")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    w = conn.weights
    if log:
        w = np.where(w > 0, np.log10(np.where(w > 0, w, 1)), np.nan)
    panels = ((w, "log10 weight (a.u.)" if log else "weight (a.u.)", "Weights"),
              (conn.tract_lengths, "tract length (mm)", "Tract lengths"))
    for ax, (mat, unit, title) in zip(axes, panels):
        im = ax.imshow(mat, cmap=cmap, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=unit, shrink=0.8)
        ax.set(title=f"{title}: {conn.name}", xlabel="source region", ylabel="target region")
        if conn.n_regions <= 40:
            ticks = np.arange(conn.n_regions)
            ax.set_xticks(ticks, conn.labels, rotation=90, fontsize=6)
            ax.set_yticks(ticks, conn.labels, fontsize=6)
    if show:
        plt.show()
    return fig
