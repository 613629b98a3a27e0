"""Boundary-element head models from inner skull / outer skull / scalp surfaces.

MNE builds BEMs from a FreeSurfer subject folder (:func:`mne.make_bem_model`); surfaces given
as files or arrays are written with :func:`mne.write_surface` into a temporary
``subjects_dir`` first, so only MNE's public API is used. The solution
(:func:`mne.make_bem_solution`) is cached on disk, keyed by a hash of the meshes and
conductivities (``$RATE_BRIDGE_CACHE/bem`` or ``~/.cache/rate_bridge/bem``), as a
``-sol.fif`` any MNE code can read. FIF stores the solution in float32, so a freshly computed
BEM is always read back from its cache file: models are identical whether the cache was hit or
not (without a cache, ``cache_dir=False``, the float64 solution is used; coarse 3-layer EEG gains
then differ by up to a few percent).

Meshes can be decimated without VTK: ``ico=3``/``4`` resamples each (star-shaped) surface on an
icosphere by casting rays from the inner skull's centroid (:func:`~.surfaces.remesh_radial`),
which keeps nested surfaces nested. Solving a 3-layer BEM took ~2 s at ico 2 (3 x 162
vertices), 13-35 s at ico 3 (3 x 642) and ~6 min with a 2 GB peak at ico 4 (3 x 2562, MNE's
usual resolution and our default) on a busy 2-core machine; the cache makes that a one-off.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ..utils import UnknownNameError, logger, verbose
from .placement import fit_sphere
from .sensors import eeg_positions, make_sensor_info
from .sources import _check_in_head, compute_forward_model, make_sources
from .surfaces import Surface, depth_inside, points_inside, read_surface, remesh_radial, \
    write_subject

LAYERS = ("inner_skull", "outer_skull", "outer_skin")


def cache_dir_default():
    """Where BEM solutions are cached.

    ``$RATE_BRIDGE_CACHE/bem``, or ``~/.cache/rate_bridge/bem`` without that variable.
    """
    root = os.environ.get("RATE_BRIDGE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "rate_bridge")
    return Path(root) / "bem"


def _as_layers(surfaces, trans=None):
    if isinstance(surfaces, dict):
        unknown = set(surfaces) - set(LAYERS)
        if unknown:
            raise UnknownNameError(f"surface keys must be {LAYERS}, got {sorted(unknown)}")
        if "inner_skull" not in surfaces:
            raise ValueError("a BEM needs at least an 'inner_skull' surface")
        keys = [k for k in LAYERS if k in surfaces]
        if len(keys) == 2:
            raise ValueError(f"a BEM has 1 layer (inner_skull) or 3 (inner_skull, outer_skull, "
                             f"outer_skin); got {keys}")
        items = [surfaces[k] for k in keys]
    elif isinstance(surfaces, (list, tuple)) and not isinstance(surfaces[0], np.ndarray):
        items = list(surfaces)
        if len(items) not in (1, 3):
            raise ValueError(f"a BEM has 1 or 3 surfaces (inner skull[, outer skull, scalp]), "
                             f"got {len(items)}")
    else:
        items = [surfaces]
    out = []
    for key, item in zip(LAYERS, items):
        s = read_surface(item, name=key, coord_frame="head")
        if trans is not None:
            s = s.transformed(np.asarray(trans, float))
        out.append(s.oriented_outward())
    return out


def _hash(layers, conductivity, ico):
    import mne
    h = hashlib.sha256()
    for s in layers:
        h.update(np.round(s.rr, 4).tobytes())
        h.update(s.tris.astype(np.int64).tobytes())
    h.update(repr((tuple(float(c) for c in conductivity), ico,
                   ".".join(mne.__version__.split(".")[:2]))).encode())
    return h.hexdigest()[:20]


@verbose
def make_bem(surfaces, *, conductivity=None, ico=4, trans=None, cache_dir=None, verbose=None):
    """A BEM solution from 1 or 3 surfaces (mm, head frame), cached on disk.

    Parameters
    ----------
    surfaces : dict | list | str | Surface
        ``{"inner_skull": s, "outer_skull": s, "outer_skin": s}`` (or only ``inner_skull``), or a
        list inner -> outer; each a file (TVB zip with ``vertices.txt``/``triangles.txt``,
        FreeSurfer ``.surf``, GIFTI), a :class:`~.surfaces.Surface` or ``(rr, tris)`` in mm.
    conductivity : tuple of float | None
        S/m per layer, inner first; default (0.3,) or (0.3, 0.006, 0.3) (MNE's).
    ico : int | None
        Radial remeshing on an icosphere of this level (3: 642 vertices per surface, 4: 2562);
        None uses the meshes as they are.
    trans : array (4, 4) | None
        Affine (mm) taking the surfaces into the head frame.
    cache_dir : path-like | False | None
        Where to cache the solution (default :func:`cache_dir_default`); False disables it.
    %(verbose)s

    Returns
    -------
    bem : mne.bem.ConductorModel
        The solution; ``bem.surfaces_mm`` holds the (remeshed) layers as Surfaces,
        ``bem.input_surfaces_mm`` the surfaces as given.
    """
    import mne
    layers = _as_layers(surfaces, trans)
    if conductivity is None:
        conductivity = (0.3,) if len(layers) == 1 else (0.3, 0.006, 0.3)
    conductivity = tuple(float(c) for c in conductivity)
    if len(conductivity) != len(layers):
        raise ValueError(f"{len(conductivity)} conductivities for {len(layers)} surfaces")
    given = layers
    if ico is not None:
        centre = layers[0].rr.mean(0)
        layers = [remesh_radial(s, int(ico), centre=centre) for s in layers]
    key = _hash(layers, conductivity, ico)
    fname = None
    if cache_dir is not False:
        cdir = Path(cache_dir) if cache_dir is not None else cache_dir_default()
        fname = cdir / f"bem-{key}-sol.fif"
        if fname.exists():
            logger.info(f"BEM solution from cache {fname}")
            sol = mne.read_bem_solution(str(fname), verbose=False)
            sol.surfaces_mm, sol.input_surfaces_mm = layers, given
            return sol
    with tempfile.TemporaryDirectory(prefix="rate_bridge_bem_") as tmp:
        write_subject(tmp, "rb_bem", bem=dict(zip(LAYERS, layers)))
        try:
            model = mne.make_bem_model("rb_bem", ico=None, conductivity=conductivity,
                                       subjects_dir=tmp, verbose=False)
        except RuntimeError as err:
            raise ValueError(f"MNE refused the BEM surfaces: {err}. They must be closed, "
                             f"nested (inner skull inside outer skull inside scalp) and not "
                             f"intersecting; try ico=3 or 4 to remesh them") from None
        sol = mne.make_bem_solution(model, verbose=False)
    if fname is not None:
        fname.parent.mkdir(parents=True, exist_ok=True)
        mne.write_bem_solution(str(fname), sol, overwrite=True, verbose=False)
        logger.info(f"BEM solution cached in {fname}")
        # use what the cache holds (FIF stores float32), so a model is the same whether its
        # BEM was just computed or read back
        sol = mne.read_bem_solution(str(fname), verbose=False)
    sol.surfaces_mm, sol.input_surfaces_mm = layers, given
    return sol


def _bem_layers(bem):
    """Layers of a BEM solution as Surfaces (mm), inner first."""
    if getattr(bem, "surfaces_mm", None) is not None:
        return bem.surfaces_mm
    out = []
    for s in bem["surfs"]:
        out.append(Surface(np.asarray(s["rr"]) * 1e3, s["tris"], coord_frame="head"))
    return out[::-1] if len(out) == 3 and _radius(out[0]) > _radius(out[-1]) else out


def _radius(surf):
    return np.linalg.norm(surf.rr - surf.rr.mean(0), axis=1).mean()


def fit_points_to_surface(points, surface, *, n_iter=50):
    """Isotropic scale + translation putting points (e.g. template electrodes) on a surface.

    Starts from matching a sphere fitted to the points with one fitted to the surface's
    vertices above its centroid, then alternates nearest-vertex matching with the closed-form
    least-squares scale and shift.

    Returns
    -------
    scale : float
    shift : ndarray, shape (3,)
        ``new = scale * points + shift`` (mm).
    residual : float
        Mean point-surface distance (mm).
    """
    from scipy.spatial import cKDTree
    p = np.asarray(points, float)
    # vertices and triangle centroids: nearest-point matching on a denser sampling
    rr = np.r_[surface.rr, surface.rr[surface.tris].mean(1)]
    top = surface.rr[surface.rr[:, 2] > surface.rr[:, 2].mean()]
    cp, rp = fit_sphere(p)
    cs, rs = fit_sphere(top)
    s = rs / rp
    t = cs - s * cp
    tree = cKDTree(rr)
    for _ in range(n_iter):
        _, idx = tree.query(s * p + t)
        q = rr[idx]
        pm, qm = p.mean(0), q.mean(0)
        s_new = float(((p - pm) * (q - qm)).sum() / ((p - pm) ** 2).sum())
        t_new = qm - s_new * pm
        done = abs(s_new - s) < 1e-6 and np.linalg.norm(t_new - t) < 1e-4
        s, t = s_new, t_new
        if done:
            break
    dist, _ = tree.query(s * p + t)
    return s, t, float(dist.mean())


def _aligned_info(info, scalp):
    """The Info with its EEG electrodes (and fiducials) scaled/shifted onto the scalp."""
    import mne
    names, pos = eeg_positions(info)
    s, t, res = fit_points_to_surface(pos, scalp)
    logger.info(f"template electrodes fitted to the scalp: scale {s:.3f}, shift "
                f"{np.round(t, 1).tolist()} mm, mean distance {res:.1f} mm")
    mont = info.get_montage()
    fid = mont.get_positions() if mont is not None else {}

    def move(p):
        return None if p is None else (s * np.asarray(p) * 1e3 + t) * 1e-3
    new = mne.channels.make_dig_montage(
        ch_pos={n: move(p * 1e-3) for n, p in zip(names, pos)},
        nasion=move(fid.get("nasion")), lpa=move(fid.get("lpa")), rpa=move(fid.get("rpa")),
        coord_frame="head")
    out = info.copy()
    out.set_montage(new)
    return out, {"scale": s, "shift_mm": np.round(t, 3).tolist(), "residual_mm": res}


@verbose
def from_bem(conn, surfaces=None, montage="biosemi64", *, bem=None, meg=False, surface=None,
             orientation="auto", mode="mean", placement="auto", axes=None, offset=(0, 0, 0),
             scale="auto", conductivity=None, ico=4, trans=None, align_sensors="auto",
             cache_dir=None, mindist=0.0, on_dropped="warn", verbose=None):
    """Forward model with a BEM head built from skull/scalp surfaces.

    Parameters
    ----------
    conn : Connectome
    surfaces : dict | list | str | None
        Head surfaces in mm in the head frame (or mapped there by ``trans``); see
        :func:`make_bem`. One surface (inner skull) gives a homogeneous 1-layer model (MEG
        only), three an EEG-capable model.
    montage : str | DigMontage | Info | dict | None
        Sensors (see :func:`~.sphere.from_sphere`).
    bem : mne.bem.ConductorModel | str | None
        A BEM solution (object or ``-sol.fif``) to use instead of ``surfaces``.
    meg, surface, orientation, mode, placement, axes, scale, mindist, on_dropped
        As in :func:`~.sphere.from_sphere`; the auto placement puts the centroid of the centres
        at the inner skull's centroid plus ``offset`` (mm) and shrinks the sources if needed
        to stay 5 mm inside the inner skull.
    conductivity, ico, trans, cache_dir
        See :func:`make_bem`.
    align_sensors : "auto" | bool
        Fit the EEG electrodes onto the scalp by scale + shift (:func:`fit_points_to_surface`).
        ``"auto"``: only for montages given by name (templates, not an individual's
        digitisation).
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
    """
    import mne
    if bem is None:
        if surfaces is None:
            raise ValueError("pass surfaces= (inner skull[, outer skull, scalp]) or bem=")
        bem = make_bem(surfaces, conductivity=conductivity, ico=ico, trans=trans,
                       cache_dir=cache_dir)
    elif isinstance(bem, (str, os.PathLike)):
        bem = mne.read_bem_solution(str(bem), verbose=False)
    if not isinstance(bem, mne.bem.ConductorModel) or bem["is_sphere"]:
        raise TypeError("bem must be a BEM solution (mne.bem.ConductorModel, not a sphere)")
    layers = _bem_layers(bem)
    inner, scalp = layers[0], layers[-1]
    info = make_sensor_info(montage, meg=meg)
    has_eeg = "eeg" in info.get_channel_types()
    if has_eeg and len(layers) == 1:
        raise ValueError("EEG needs a 3-layer BEM (inner skull, outer skull, scalp); a 1-layer "
                         "BEM is for MEG only")
    prov = {"head_model": f"bem ({len(layers)} layers)",
            "n_vertices": [s.n_vertices for s in layers],
            "conductivity": [float(s["sigma"]) for s in bem["surfs"]]}
    if has_eeg and (align_sensors is True or (align_sensors == "auto" and
                                              isinstance(montage, str))):
        given = getattr(bem, "input_surfaces_mm", None) or layers
        info, prov["sensor_fit"] = _aligned_info(info, given[-1])
    r0 = inner.rr.mean(0)

    def inside(pts, margin):
        return depth_inside(inner, pts) >= margin
    sources = make_sources(conn, surface=surface, orientation=orientation, placement=placement,
                           axes=axes, offset=offset, scale=scale, r0=r0, inner_radius=None,
                           inside=inside, margin=5.0)
    rmin = np.linalg.norm(scalp.rr - scalp.rr.mean(0), axis=1).min()

    def outside(rr):
        out = np.zeros(len(rr), bool)
        cand = np.linalg.norm(rr - scalp.rr.mean(0), axis=1) >= rmin
        if cand.any():
            out[cand] = ~points_inside(scalp, rr[cand])
        return out
    _check_in_head(sources, outside)
    fm = compute_forward_model(info, bem, sources, mode=mode, kind="bem", mindist=mindist,
                               on_dropped=on_dropped, provenance=prov)
    fm.conductor = bem
    logger.info(f"from_bem: {fm!r}")
    return fm
