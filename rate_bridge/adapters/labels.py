"""MNE labels <-> connectome regions.

MNE's :class:`mne.Label` (e.g. from :func:`mne.read_labels_from_annot`) holds a region's
vertex numbers on one hemisphere's surface and their positions in **metres**; rate_bridge
uses **mm**. These functions

* turn labels into a :class:`Parcellation` -- with a source space, a ``region_mapping``
  giving the region of every source (in the order of MNE's source estimates: left
  hemisphere's ``vertno`` then right's), so simulated region activity can be placed on the
  sources (:func:`labels_to_parcellation`);
* order labels like a connectome's regions (:func:`labels_to_connectome_regions`);
* make labels from a surface parcellation for a connectome's regions
  (:func:`connectome_to_labels`, :func:`parcellation_to_labels`).
"""
import numpy as np

from ..utils import UnknownNameError, logger, validate_type, verbose
from . import _common as C
from .parcellation import Parcellation

_LH, _RH = 101, 102  # FIFF.FIFFV_MNE_SURF_LEFT_HEMI / RIGHT_HEMI


def _check_labels(labels):
    import mne
    labels = list(labels)
    if not labels:
        raise ValueError("labels is empty; expected a list of mne.Label")
    for lab in labels:
        if isinstance(lab, mne.BiHemiLabel):
            raise ValueError(f"label {lab.name!r} spans both hemispheres (BiHemiLabel); pass "
                             f"its .lh and .rh parts as separate labels")
        validate_type(lab, mne.Label, "labels", "a list of mne.Label objects")
        if lab.hemi not in ("lh", "rh"):
            raise ValueError(f"label {lab.name!r} has hemi {lab.hemi!r}, expected 'lh' or 'rh'")
        if len(lab.vertices) == 0:
            raise ValueError(f"label {lab.name!r} has no vertices")
    C.check_labels([lab.name for lab in labels], len(labels), "labels")
    return labels


def _src_hemis(src):
    """{'lh': s, 'rh': s} for a surface source space, in src order."""
    out = {}
    for k, s in enumerate(src):
        if s.get("type", "surf") != "surf":
            raise ValueError(f"src[{k}] is a {s.get('type')!r} source space; only surface "
                             f"source spaces map onto labels")
        hemi = {_LH: "lh", _RH: "rh"}.get(int(s.get("id", -1)), ("lh", "rh")[k] if k < 2 else None)
        if hemi is None or hemi in out:
            raise ValueError(f"src[{k}]: cannot tell its hemisphere (id {s.get('id')})")
        out[hemi] = s
    return out


@verbose
def labels_to_parcellation(labels, *, src=None, name="labels", verbose=None):
    """Regions from MNE labels, optionally mapped onto a source space.

    Parameters
    ----------
    labels : list of mne.Label
        One label per region (single hemisphere each, unique names, not overlapping when
        ``src`` is given).
    src : mne.SourceSpaces | None
        Surface source space (lh, rh). With it, centroids and mean normals are area-weighted
        over the label's vertices on the full surface (``src[i]['rr']``, ``['nn']``,
        ``['tris']``), areas are in mm², and ``region_mapping`` gives the region of each
        source (-1 outside every label) in source-estimate order; ``vertices`` are the source
        positions (mm). Without it, centroids are the mean of ``label.pos`` (m -> mm).
    name : str
        Name of the parcellation.
    %(verbose)s

    Returns
    -------
    parc : Parcellation
        Regions in label order, ``hemispheres`` True for ``"rh"`` labels.
    """
    labels = _check_labels(labels)
    n = len(labels)
    names = [lab.name for lab in labels]
    right = np.array([lab.hemi == "rh" for lab in labels])
    if src is None:
        cen = []
        for lab in labels:
            pos = np.asarray(lab.pos, dtype=float)
            if pos.shape != (len(lab.vertices), 3) or (len(pos) > 1 and not np.any(pos)):
                raise ValueError(f"label {lab.name!r} has no vertex positions (pos); pass "
                                 f"src= or read labels with mne.read_labels_from_annot")
            cen.append(pos.mean(axis=0) * 1e3)
        return Parcellation(names, cen, hemispheres=right, name=name, coord_frame="mri")
    from .atlas import region_geometry, surface_geometry
    spaces = _src_hemis(src)
    order = [h for h in ("lh", "rh") if h in spaces]
    offsets, off = {}, 0
    for h in order:
        offsets[h] = off
        off += len(spaces[h]["vertno"])
    region_mapping = np.full(off, -1, dtype=np.int64)
    src_pos = np.concatenate([spaces[h]["rr"][spaces[h]["vertno"]] for h in order]) * 1e3
    vertex_hemis = np.concatenate([[h] * len(spaces[h]["vertno"]) for h in order])
    cen = np.full((n, 3), np.nan)
    nrm = np.full((n, 3), np.nan)
    areas = np.zeros(n)
    for h in order:
        s = spaces[h]
        rr = np.asarray(s["rr"], dtype=float) * 1e3
        nn = np.asarray(s["nn"], dtype=float)
        if s.get("tris") is not None and len(s["tris"]):
            vareas = surface_geometry(rr, s["tris"])[1]
        else:
            vareas = np.ones(len(rr))
            logger.info(f"src {h}: no triangles, unweighted centroids and normals")
        full_map = np.full(len(rr), -1, dtype=np.int64)
        for k, lab in enumerate(labels):
            if lab.hemi != h:
                continue
            verts = np.asarray(lab.vertices)
            if verts.max() >= len(rr):
                raise ValueError(f"label {lab.name!r} has vertex {verts.max()} but the {h} "
                                 f"surface of src has {len(rr)} vertices (different subject "
                                 f"or surface?)")
            clash = full_map[verts] >= 0
            if clash.any():
                other = names[full_map[verts][clash][0]]
                raise ValueError(f"labels {other!r} and {lab.name!r} overlap (e.g. {h} vertex "
                                 f"{verts[clash][0]}); a vertex can belong to one region only")
            full_map[verts] = k
        a, c, nr = region_geometry(full_map, n, rr, vareas, nn)
        mine = np.array([lab.hemi == h for lab in labels])
        cen[mine], nrm[mine], areas[mine] = c[mine], nr[mine], a[mine]
        region_mapping[offsets[h]:offsets[h] + len(s["vertno"])] = full_map[s["vertno"]]
    sampled = np.bincount(region_mapping[region_mapping >= 0], minlength=n)
    missing = [names[k] for k in np.flatnonzero(sampled == 0)]
    if missing:
        logger.warning(f"labels without any source of src: {missing[:10]}")
    return Parcellation(names, cen, region_mapping=region_mapping, vertices=src_pos,
                        normals=nrm, areas=areas, hemispheres=right,
                        vertex_hemis=vertex_hemis, coord_frame="mri", name=name)


def labels_to_connectome_regions(labels, conn, *, name_map=None, allow_missing=False):
    """Order MNE labels like a connectome's regions.

    Parameters
    ----------
    labels : list of mne.Label
        Labels, e.g. from :func:`mne.read_labels_from_annot`.
    conn : Connectome
        The connectome whose ``labels`` name the regions.
    name_map : dict | callable | None
        How label names map to region labels: ``{label name: region label}`` or a function
        of the label name; default identical names.
    allow_missing : bool
        Return None for regions without a label instead of raising.

    Returns
    -------
    ordered : list of mne.Label | None
        ``ordered[k]`` is the label of region ``conn.labels[k]``.
    """
    labels = _check_labels(labels)
    if name_map is None:
        def key(nm):
            return nm
    elif callable(name_map):
        key = name_map
    else:
        def key(nm):
            return name_map.get(nm, nm)
    by_region = {}
    for lab in labels:
        region = str(key(lab.name))
        if region in by_region:
            raise ValueError(f"labels {by_region[region].name!r} and {lab.name!r} both map to "
                             f"region {region!r}")
        by_region[region] = lab
    ordered = [by_region.get(r) for r in conn.labels]
    missing = [r for r, lab in zip(conn.labels, ordered) if lab is None]
    if missing and not allow_missing:
        raise ValueError(f"{conn.name}: no label for regions {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''} ({len(missing)} of "
                         f"{conn.n_regions}); label names are e.g. "
                         f"{[lab.name for lab in labels[:5]]}; pass name_map= or "
                         f"allow_missing=True")
    unused = sorted(set(by_region) - set(conn.labels))
    if unused:
        logger.info(f"labels not in {conn.name}: {unused[:10]}")
    return ordered


def parcellation_to_labels(parc, *, regions=None, subject=None):
    """MNE labels of a surface parcellation's regions.

    Parameters
    ----------
    parc : Parcellation
        Surface parcellation with ``vertex_hemis`` (e.g. from a ``lh.*.annot`` or
        :func:`combine_parcellations` of both hemispheres). Label vertex numbers are
        per hemisphere (vertex index minus the hemisphere's first vertex).
    regions : list of str | None
        Regions to convert, in this order (default all).
    subject : str | None
        Subject name stored in the labels.

    Returns
    -------
    labels : list of mne.Label
        ``pos`` in metres, ``name`` = region label.
    """
    import mne
    if parc.kind != "surface" or parc.vertices is None:
        raise ValueError(f"{parc.name}: MNE labels need a surface parcellation with vertices, "
                         f"got a {parc.kind} parcellation")
    if parc.vertex_hemis is None:
        raise ValueError(f"{parc.name}: the hemisphere of each vertex is unknown; read one "
                         f"hemisphere's labelling (lh.*/rh.*, or pass hemi=) and combine them "
                         f"with combine_parcellations")
    starts = {}
    for h in ("lh", "rh"):
        idx = np.flatnonzero(parc.vertex_hemis == h)
        if idx.size and not np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
            raise ValueError(f"{parc.name}: the {h} vertices are not contiguous")
        if idx.size:
            starts[h] = idx[0]
    index = {lab: k for k, lab in enumerate(parc.labels)}
    regions = parc.labels if regions is None else list(regions)
    unknown = [r for r in regions if r not in index]
    if unknown:
        raise UnknownNameError(f"{parc.name}: no regions {unknown[:10]} in the parcellation")
    out = []
    for r in regions:
        verts = np.flatnonzero(parc.region_mapping == index[r])
        if verts.size == 0:
            raise ValueError(f"{parc.name}: region {r!r} has no vertices")
        hemis = np.unique(parc.vertex_hemis[verts])
        if hemis.size != 1:
            raise ValueError(f"{parc.name}: region {r!r} spans both hemispheres")
        h = str(hemis[0])
        out.append(mne.Label(verts - starts[h], pos=parc.vertices[verts] * 1e-3, hemi=h,
                             name=r, subject=subject))
    return out


def connectome_to_labels(conn, parc, *, subject=None):
    """MNE labels for every region of a connectome, from a surface parcellation.

    Parameters
    ----------
    conn : Connectome
        Regions, matched to the parcellation's by label.
    parc : Parcellation
        Surface parcellation with per-vertex hemispheres (see :func:`parcellation_to_labels`).
    subject : str | None
        Subject name stored in the labels.

    Returns
    -------
    labels : list of mne.Label
        ``labels[k]`` covers region ``conn.labels[k]``.
    """
    have = set(parc.labels)
    missing = [r for r in conn.labels if r not in have]
    if missing:
        raise UnknownNameError(f"{conn.name}: regions {missing[:10]} are not in the "
                               f"parcellation {parc.name!r}")
    return parcellation_to_labels(parc, regions=conn.labels, subject=subject)
