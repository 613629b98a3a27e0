"""Sources of a forward model (region centres or cortical vertices) and the MNE computation.

Shared by :mod:`.sphere` and :mod:`.bem`: sources are placed in the head frame, turned into an
MNE source space (:func:`mne.setup_volume_source_space` with ``pos=`` for region centres,
:func:`mne.setup_source_space` on surfaces written to a temporary subject for cortical
vertices), :func:`mne.make_forward_solution` computes the free-orientation lead field, and the
sources it kept (``fwd["src"][i]["vertno"]``) are mapped back to regions. Sources the head model
drops are reported, never silently lost.
"""
import tempfile

import numpy as np

from ..utils import check_option, logger, warn
from .model import ForwardModel, SourceMap
from .placement import Placement, as_placement, place_sources, unit_vectors
from .surfaces import Surface, connected_components, read_surface, write_subject

MODES = ("mean", "sum", "dipole")


class SourceSet:
    """Sources in MNE's head frame (mm).

    Attributes
    ----------
    kind : "centres" | "surface"
    rr : ndarray, shape (n, 3)
        Positions (mm, head frame).
    nn : ndarray, shape (n, 3) | None
        Unit orientations (centres); surfaces use MNE's vertex normals.
    region : ndarray of int, shape (n,)
        Region of every source (-1: none).
    labels : list of str
        Region labels (the forward model's columns).
    hemis : ndarray of str | None
        ``"lh"``/``"rh"`` per vertex (surfaces).
    tris : ndarray | None
        Triangles (surfaces).
    """

    def __init__(self, kind, rr, region, labels, *, nn=None, hemis=None, tris=None,
                 placement=None):
        self.kind = kind
        self.rr = np.asarray(rr, float)
        self.nn = None if nn is None else np.asarray(nn, float)
        self.region = np.asarray(region, np.int64)
        self.labels = list(labels)
        self.hemis = hemis
        self.tris = tris
        self.placement = placement


def _conn_points(conn):
    if conn.centres is None:
        raise ValueError(f"connectome {conn.name!r} has no centres; pass surface= (a cortical "
                         f"surface with a region mapping) or a connectome with centres (mm)")
    return np.asarray(conn.centres, float)


def _surface_regions(surface, conn):
    """Region index (into conn.labels) of every vertex of a cortical surface."""
    if surface.region_mapping is None:
        raise ValueError(f"surface {surface.name!r} has no region_mapping (vertex -> region); "
                         f"pass Surface(..., region_mapping=...)")
    rm = surface.region_mapping
    if surface.region_labels is not None and surface.region_labels != conn.labels:
        pos = {lab: k for k, lab in enumerate(conn.labels)}
        lut = np.array([pos.get(lab, -1) for lab in surface.region_labels] + [-1])
        out = lut[np.where(rm >= 0, rm, -1)]
        unknown = sorted({surface.region_labels[r] for r in np.unique(rm[rm >= 0])
                          if surface.region_labels[r] not in pos})
        if unknown:
            logger.warning(f"surface regions not in the connectome are ignored: {unknown[:10]}")
        return out
    if rm.max() >= conn.n_regions:
        raise ValueError(f"surface {surface.name!r}: region_mapping goes up to {rm.max()} but "
                         f"the connectome has {conn.n_regions} regions; give the surface its "
                         f"region_labels or use the matching connectome")
    return rm


def _vertex_hemis(surface, region, conn, rr_head):
    if surface.vertex_hemis is not None:
        return surface.vertex_hemis
    comps = connected_components(len(rr_head), surface.tris)
    if conn.hemispheres is not None:
        right = np.where(region >= 0, conn.hemispheres[np.maximum(region, 0)], False)
        hemis = np.where(right, "rh", "lh")
        # vertices outside every region take their component's majority
        for c in np.unique(comps):
            sel = comps == c
            known = sel & (region >= 0)
            if (~(region >= 0) & sel).any() and known.any():
                hemis[sel & (region < 0)] = "rh" if right[known].mean() > 0.5 else "lh"
        return hemis
    n_comp = comps.max() + 1
    if n_comp == 2:
        xs = [rr_head[comps == c, 0].mean() for c in range(2)]
        rh = int(np.argmax(xs))
        return np.where(comps == rh, "rh", "lh")
    mid = rr_head[:, 0].mean()
    return np.where(rr_head[:, 0] > mid, "rh", "lh")


def _split_hemis(rr, tris, hemis):
    """Per-hemisphere Surfaces with local vertex numbers, and the global index of each."""
    out = {}
    for hemi in ("lh", "rh"):
        idx = np.where(hemis == hemi)[0]
        if len(idx) == 0:
            continue
        local = np.full(len(rr), -1)
        local[idx] = np.arange(len(idx))
        t = tris[(hemis[tris] == hemi).all(1)]
        t = local[t]
        lonely = np.setdiff1d(np.arange(len(idx)), np.unique(t))
        if len(lonely):
            raise ValueError(f"{len(lonely)} {hemi} vertices belong to no {hemi} triangle (the "
                             f"hemisphere split cuts through the mesh); pass the surface's "
                             f"vertex_hemis")
        out[hemi] = (Surface(rr[idx], t, name=hemi), idx)
    return out


def make_sources(conn, *, surface=None, orientation="auto", placement="auto", axes=None,
                 offset=None, scale="auto", margin=None, r0=None, inner_radius=None,
                 inside=None):
    """Sources of a connectome in the head frame.

    Parameters
    ----------
    conn : Connectome
    surface : Surface | str | tuple | None
        Cortical surface with a region mapping: sources at its vertices; else region centres.
    orientation : "auto" | "connectome" | "radial" | array, shape (n_regions, 3)
        Centres only. ``"auto"``: the connectome's orientations if it has them, else radial
        (away from the head centre ``r0``). Arrays are in the connectome's frame.
    placement : "auto" | "none" | array (4, 4) | mne.transforms.Transform | Placement
        How to bring the points into the head frame (:mod:`.placement`); ``"none"`` when they
        already are. A surface whose ``coord_frame`` is ``"head"`` is never moved.
    axes, offset, scale, margin : see :func:`~.placement.place_sources`.
    r0 : array (3,)
        Head centre (mm).
    inner_radius : float
        Brain compartment radius (mm) for the auto placement.
    inside : callable | None
        Inside test for the auto placement (BEM).
    """
    from .placement import DEFAULT_OFFSET
    if surface is not None:
        surface = read_surface(surface, coord_frame=conn.coord_frame)
        region = _surface_regions(surface, conn)
        pts = surface.rr
        frame = surface.coord_frame
    else:
        pts = _conn_points(conn)
        frame = conn.coord_frame
        region = np.arange(conn.n_regions)
    is_str = isinstance(placement, str)
    if is_str and (placement in ("none", "head") or (placement == "auto" and frame == "head")):
        plc = Placement.identity()
    elif isinstance(placement, str):
        check_option("placement", placement, ("auto", "none"), extra=", a 4 x 4 affine (mm), "
                     "an mne.transforms.Transform or a Placement")
        if surface is not None:
            ref = np.array([pts[region == r].mean(0) for r in np.unique(region[region >= 0])])
            hemi = None
            if conn.hemispheres is not None:
                hemi = conn.hemispheres[np.unique(region[region >= 0])]
        else:
            ref, hemi = pts, conn.hemispheres
        plc = place_sources(ref, r0, inner_radius, axes=axes, hemispheres=hemi,
                            coord_frame=frame, offset=DEFAULT_OFFSET if offset is None else offset,
                            scale=scale, margin=5.0 if margin is None else margin,
                            all_points=pts, inside=inside)
        logger.info(f"placement: {plc}")
    else:
        plc = as_placement(placement)
    rr = plc.apply(pts)
    if surface is not None:
        if orientation not in ("auto", None):
            raise ValueError("orientation is set by the surface normals for cortical sources; "
                             "leave orientation='auto'")
        hemis = _vertex_hemis(surface, region, conn, rr)
        tris = surface.tris if np.linalg.det(plc.trans[:3, :3]) > 0 else surface.tris[:, ::-1]
        return SourceSet("surface", rr, region, conn.labels, hemis=hemis, tris=tris,
                         placement=plc)
    if isinstance(orientation, str):
        check_option("orientation", orientation, ("auto", "connectome", "radial"),
                     extra=" or an array (n_regions, 3)")
        if orientation == "auto":
            orientation = "connectome" if conn.orientations is not None else "radial"
        if orientation == "connectome":
            if conn.orientations is None:
                raise ValueError(f"connectome {conn.name!r} has no orientations; use "
                                 f"orientation='radial' or pass an (n_regions, 3) array")
            nn = plc.apply_vectors(unit_vectors(conn.orientations, "connectome orientations"))
        else:                                          # "radial"
            nn = unit_vectors(rr - np.asarray(r0, float), "radial orientations (a centre "
                              "coincides with the head centre)")
        how = orientation
    else:
        arr = np.asarray(orientation, float)
        if arr.shape != (conn.n_regions, 3):
            raise ValueError(f"orientation array must have shape ({conn.n_regions}, 3), got "
                             f"{arr.shape}")
        nn = plc.apply_vectors(unit_vectors(arr))
        how = "given"
    logger.info(f"region dipoles oriented: {how}")
    out = SourceSet("centres", rr, region, conn.labels, nn=nn, placement=plc)
    out.orientation = how
    return out


def _check_in_head(sources, outside_head, max_fraction=0.05):
    """Refuse sources outside the head: any region centre, or more than ``max_fraction`` of a
    surface's vertices (a few vertices beyond a sphere fitted to an electrode cap are a
    geometric artefact; MNE drops them with the others outside the inner skull)."""
    out = outside_head(sources.rr)
    if not out.any():
        return
    if sources.kind == "centres":
        names = [sources.labels[r] for r in sources.region[out]]
        what = f"region centres {names[:8]}"
    elif out.mean() > max_fraction:
        what = (f"{int(out.sum())} of {len(out)} cortical vertices (e.g. "
                f"#{np.where(out)[0][:5].tolist()})")
    else:
        logger.info(f"{int(out.sum())} cortical vertices lie beyond the scalp of the head model; "
                    f"they will be dropped")
        return
    raise ValueError(f"{what} lie outside the head after placement (beyond the scalp of the "
                     f"head model). Check the units (mm) and frame of the sources, or use "
                     f"placement='auto'.")


def _report_dropped(labels, lost_regions, n_dropped, n_total, on_dropped, what):
    if not n_dropped:
        return
    msg = (f"{n_dropped} of {n_total} {what} lie outside the brain compartment of the head "
           f"model (inner skull) and were dropped by MNE")
    if lost_regions:
        msg += (f"; regions left without any source (zero gain): "
                f"{[labels[r] for r in lost_regions]}")
    if on_dropped == "raise":
        raise ValueError(msg + ". Use placement= to move the sources inside, or "
                               "on_dropped='warn' to accept.")
    if on_dropped == "warn":
        warn(msg, RuntimeWarning)
    logger.info(msg)


def _fwd_gain(fwd, info):
    """Free-orientation gain with rows in ``info`` order: (n_ch, n_src, 3)."""
    rows = fwd["sol"]["row_names"]
    pos = {n: k for k, n in enumerate(rows)}
    order = [pos[n] for n in info.ch_names]
    g = np.asarray(fwd["sol"]["data"])[order]
    return g.reshape(len(order), -1, 3)


def _sensor_picks(info):
    types = set(info.get_channel_types())
    return {"eeg": "eeg" in types, "meg": bool(types & {"mag", "grad"})}


def _fixed_info(fwd, info):
    import mne
    rows = fwd["sol"]["row_names"]
    missing = [n for n in info.ch_names if n not in rows]
    if missing:
        raise ValueError(f"the forward solution lacks channels {missing[:10]} of the sensors")
    return mne.pick_info(info, [info.ch_names.index(n) for n in rows])


def compute_forward_model(info, conductor, sources, *, mode="mean", kind="sphere",
                          mindist=0.0, on_dropped="warn", provenance=None):
    """Lead field of the sources' regions with MNE (see the module doc)."""
    check_option("mode", mode, MODES)
    check_option("on_dropped", on_dropped, ("warn", "raise", "ignore"))
    picks = _sensor_picks(info)
    labels = sources.labels
    n_reg = len(labels)
    prov = dict(provenance or {})
    if sources.placement is not None:
        prov["placement"] = sources.placement.as_dict()
    fwd, parts, subject = _mne_forward(info, conductor, sources, picks, mindist)
    info = _fixed_info(fwd, info)
    g = _fwd_gain(fwd, info)                                   # (n_ch, n_kept, 3)
    n_kept = int(sum(len(s["vertno"]) for s in fwd["src"]))
    if sources.kind == "centres":
        kept = np.asarray(fwd["src"][0]["vertno"])
        gain, weights, lost = _centre_gain(g, sources, kept, n_reg)
        _report_dropped(labels, lost, len(sources.rr) - len(kept), len(sources.rr), on_dropped,
                        "region centres")
        smap = SourceMap("volume", [kept], weights, src=fwd["src"])
        mode_used = "centre"
    else:
        glob, nn = _kept_vertices(fwd, parts)
        reg_kept = sources.region[glob]
        weights, counts = region_weights(reg_kept, n_reg, mode)
        lost = [r for r in range(n_reg) if counts[r] == 0]
        n_in_region = int((sources.region >= 0).sum())
        _report_dropped(labels, lost, n_in_region - int((reg_kept >= 0).sum()), n_in_region,
                        on_dropped, "cortical vertices")
        if mode == "dipole":
            gain = _dipole_gain(info, conductor, sources, fwd, glob, nn, reg_kept, n_reg,
                                picks, mindist, on_dropped)
            weights, _ = region_weights(reg_kept, n_reg, "mean")
        else:
            fixed = np.einsum("ckx,kx->ck", g, nn)             # (n_ch, n_kept)
            gain = np.asarray(weights.T @ fixed.T).T if fixed.size else \
                np.zeros((len(info.ch_names), n_reg))
        smap = SourceMap("surface", [np.asarray(s["vertno"]) for s in fwd["src"]], weights,
                         subject=subject, src=fwd["src"])
        mode_used = mode
    prov["dropped"] = {"n_sources": int(len(sources.rr) - n_kept),
                       "regions": [labels[r] for r in lost]}
    prov["n_sources"] = n_kept
    return ForwardModel(gain, info, labels, forward=fwd, source_map=smap, kind=kind,
                        mode=mode_used, provenance=prov)


def region_weights(region, n_reg, mode):
    """Weights of the sources in their regions, and the number of sources of each region.

    Parameters
    ----------
    region : ndarray of int, shape (n_sources,)
        Region index of every source (-1: none).
    n_reg : int
        Number of regions.
    mode : "mean" | "sum" | "dipole"
        ``"sum"``: every source carries the region's full moment (weight 1); otherwise the
        region's moment is spread equally over its sources (weight 1 / count).

    Returns
    -------
    weights : scipy.sparse.csr_matrix, shape (n_sources, n_reg)
    counts : ndarray of int, shape (n_reg,)
    """
    import scipy.sparse as sp
    inreg = region >= 0
    counts = np.bincount(region[inreg], minlength=n_reg)
    vals = np.ones(inreg.sum()) if mode == "sum" else 1.0 / counts[region[inreg]]
    weights = sp.csr_matrix((vals, (np.where(inreg)[0], region[inreg])),
                            shape=(len(region), n_reg))
    return weights, counts


def _mne_forward(info, conductor, sources, picks, mindist):
    """MNE's forward solution of the sources (region centres: a discrete volume source space;
    a cortex: an MNE subject written to a temporary folder), its per-hemisphere surfaces
    (None for centres) and its subject name."""
    import mne
    with tempfile.TemporaryDirectory(prefix="rate_bridge_src_") as tmp:
        if sources.kind == "centres":
            src = mne.setup_volume_source_space(
                pos=dict(rr=sources.rr * 1e-3, nn=sources.nn), verbose=False)
            parts, subject = None, None
        else:
            parts = _split_hemis(sources.rr, sources.tris, sources.hemis)
            subject = "rate_bridge_cortex"
            write_subject(tmp, subject, cortex={h: s for h, (s, _) in parts.items()})
            src = mne.setup_source_space(subject, spacing="all", surface="white",
                                         add_dist=False, subjects_dir=tmp, verbose=False)
            if len(parts) != 2:
                raise ValueError(f"the cortical surface has only the {list(parts)} hemisphere; "
                                 f"MNE surface source spaces need lh and rh")
        fwd = mne.make_forward_solution(info, trans=None, src=src, bem=conductor,
                                        meg=picks["meg"], eeg=picks["eeg"], mindist=mindist,
                                        verbose=False)
    return fwd, parts, subject


def _centre_gain(g, sources, kept, n_reg):
    """(gain, weights, regions lost) of one source per region centre, ``kept`` by MNE."""
    import scipy.sparse as sp
    fixed = np.einsum("ckx,kx->ck", g, sources.nn[kept])
    reg_kept = sources.region[kept]
    weights = sp.csr_matrix((np.ones(len(kept)), (np.arange(len(kept)), reg_kept)),
                            shape=(len(kept), n_reg))
    gain = np.zeros((g.shape[0], n_reg))
    gain[:, reg_kept] = fixed
    return gain, weights, sorted(set(range(n_reg)) - set(reg_kept.tolist()))


def _kept_vertices(fwd, parts):
    """Global cortex vertex index and unit normal of every source MNE kept."""
    glob, nn = [], []
    for s, (_, (_, idx)) in zip(fwd["src"], sorted(parts.items())):
        vno = np.asarray(s["vertno"])
        glob.append(idx[vno])
        nn.append(np.asarray(s["nn"])[vno])
    return np.concatenate(glob), np.concatenate(nn)


def _dipole_gain(info, conductor, sources, fwd, glob, nn, reg_kept, n_reg, picks, mindist,
                 on_dropped):
    """One equivalent dipole per region: at the centroid of its kept vertices, moment along
    the mean of their unit normals (not renormalised: the cancellation of opposed normals is
    kept, so the region moment is the total moment spread over the vertices)."""
    import mne
    rr = sources.rr[glob]
    regs = [r for r in range(n_reg) if (reg_kept == r).any()]
    cen = np.array([rr[reg_kept == r].mean(0) for r in regs])
    mean_nn = np.array([nn[reg_kept == r].mean(0) for r in regs])
    norm = np.linalg.norm(mean_nn, axis=1, keepdims=True)
    src = mne.setup_volume_source_space(pos=dict(rr=cen * 1e-3, nn=mean_nn / np.maximum(norm,
                                                                                         1e-12)),
                                        verbose=False)
    dfwd = mne.make_forward_solution(info, trans=None, src=src, bem=conductor, meg=picks["meg"],
                                     eeg=picks["eeg"], mindist=mindist, verbose=False)
    g = _fwd_gain(dfwd, info)
    kept = np.asarray(dfwd["src"][0]["vertno"])
    gain = np.zeros((len(info.ch_names), n_reg))
    for j, k in enumerate(kept):
        gain[:, regs[k]] = g[:, j] @ mean_nn[k]
    lost = [regs[k] for k in sorted(set(range(len(regs))) - set(kept.tolist()))]
    _report_dropped(sources.labels, lost, len(regs) - len(kept), len(regs), on_dropped,
                    "equivalent-dipole centroids")
    return gain
