"""Atlases read with nibabel: volumetric label images and surface parcellations.

* Volumes (``.nii``, ``.nii.gz``, ``.mgz``, ``.mgh``): every non-background integer value is
  a region; centroids are the mean voxel position mapped through the affine (world mm).
* Surfaces: a per-vertex labelling -- FreeSurfer ``.annot``, GIFTI label (``.label.gii``) or
  a TVB region mapping (``.txt``, one region index per vertex) -- on a surface -- GIFTI,
  FreeSurfer geometry (``lh.white``...) or a TVB surface zip/folder (``vertices.txt``,
  ``triangles.txt``, ``vertex_normals.txt``). Each region gets its area (mm²), an
  area-weighted centroid and mean normal. Vertex normals are the file's (TVB) or the
  area-weighted average of the adjacent triangles' normals; vertex areas are a third of the
  adjacent triangles' areas.
"""
import math
import re
import struct
import warnings
from pathlib import Path

import numpy as np

from ..utils import check_option, logger, verbose
from . import _common as C
from . import _files as F
from .parcellation import Parcellation

VOLUME_EXTS = (".nii", ".nii.gz", ".mgz", ".mgh")
_UNIT_SCALE = {"mm": 1.0, "unknown": 1.0, "meter": 1000.0, "micron": 1e-3}


# --------------------------------------------------------------------------- geometry


def surface_geometry(vertices, triangles):
    """Vertex normals and vertex areas of a triangle mesh.

    Parameters
    ----------
    vertices : array, shape (n_vertices, 3)
        Positions in mm.
    triangles : array of int, shape (n_triangles, 3)
        Vertex indices (counter-clockwise seen from outside for outward normals).

    Returns
    -------
    normals : array, shape (n_vertices, 3)
        Unit vertex normals: the area-weighted sum of adjacent triangle normals, normalised
        (zero for vertices in no triangle).
    areas : array, shape (n_vertices,)
        Vertex areas in mm² (a third of the adjacent triangles' areas).
    """
    v = np.asarray(vertices, dtype=float)
    t = np.asarray(triangles, dtype=np.int64)
    nv = v.shape[0]
    cross = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])  # |cross| = 2 * area
    tri_area = 0.5 * np.linalg.norm(cross, axis=1)
    normals = np.zeros((nv, 3))
    areas = np.zeros(nv)
    for col in range(3):
        idx = t[:, col]
        areas += np.bincount(idx, tri_area / 3.0, minlength=nv)
        for d in range(3):
            normals[:, d] += np.bincount(idx, cross[:, d], minlength=nv)
    return _unit(normals), areas


def _unit(vecs):
    norm = np.linalg.norm(vecs, axis=-1, keepdims=True)
    return np.divide(vecs, norm, out=np.zeros_like(vecs), where=norm > 0)


def region_geometry(region_mapping, n_regions, vertices, vertex_areas, vertex_normals):
    """Per-region area (mm²), area-weighted centroid (mm) and unit mean normal.

    Regions without vertices get NaN centroid/normal and zero area; regions whose vertices
    all have zero area use an unweighted mean.
    """
    rm = np.asarray(region_mapping)
    keep = rm >= 0
    r = rm[keep]
    w = vertex_areas[keep]
    count = np.bincount(r, minlength=n_regions).astype(float)
    area = np.bincount(r, w, minlength=n_regions)
    weights = np.where(area[r] > 0, w, 1.0)  # degenerate regions: plain mean
    wsum = np.bincount(r, weights, minlength=n_regions)
    cen = np.stack([np.bincount(r, weights * vertices[keep, d], minlength=n_regions)
                    for d in range(3)], axis=1)
    nrm = np.stack([np.bincount(r, weights * vertex_normals[keep, d], minlength=n_regions)
                    for d in range(3)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cen = cen / wsum[:, None]
    nrm = _unit(nrm)
    empty = count == 0
    cen[empty] = np.nan
    nrm[empty] = np.nan
    return area, cen, nrm


# --------------------------------------------------------------------------- surfaces


# GIFTI data types -> bytes per value (unknown types count as 16)
_GIFTI_ITEMSIZE = {"NIFTI_TYPE_UINT8": 1, "NIFTI_TYPE_INT8": 1, "NIFTI_TYPE_INT16": 2,
                   "NIFTI_TYPE_UINT16": 2, "NIFTI_TYPE_INT32": 4, "NIFTI_TYPE_UINT32": 4,
                   "NIFTI_TYPE_FLOAT32": 4, "NIFTI_TYPE_INT64": 8, "NIFTI_TYPE_UINT64": 8,
                   "NIFTI_TYPE_FLOAT64": 8}
_FS_TRIANGLE, _FS_QUADS = 0xFFFFFE, (0xFFFFFF, 0xFFFFFD)


def load_gifti(path):
    """A GIFTI image from ``path``, after checking its data arrays against the size limit.

    nibabel inflates gzip-encoded arrays whole, so their declared and actual sizes are
    counted here first (streaming, capped); arrays kept in external files must lie in the
    GIFTI's own folder.
    """
    import nibabel as nib
    _check_gifti(path)
    try:
        return nib.load(path)
    except Exception as err:
        raise ValueError(f"{path}: not a readable GIFTI file ({err})") from None


def _check_gifti(path):
    import xml.etree.ElementTree as ET
    budget = F.Budget(path)
    budget.check(path.stat().st_size, str(path), "holds")
    try:
        for k, (_, elem) in enumerate(e for e in ET.iterparse(path) if e[1].tag == "DataArray"):
            where = f"{path} (data array {k})"
            try:
                ndim = int(elem.get("Dimensionality", "1"))
                dims = [int(elem.get(f"Dim{d}", "1")) for d in range(ndim)]
            except ValueError:
                raise ValueError(f"{where}: Dimensionality/Dim attributes must be integers")
            declared = math.prod(dims) * _GIFTI_ITEMSIZE.get(elem.get("DataType"), 16)
            budget.check(declared, where)
            encoding = elem.get("Encoding", "")
            if encoding == "ExternalFileBinary":
                F.inside(path.parent, path.parent / elem.get("ExternalFileName", ""))
            elif encoding == "GZipBase64Binary":
                _check_inflated(elem.findtext("Data") or "", declared, where)
            budget.left -= declared
            elem.clear()
    except ET.ParseError as err:
        raise ValueError(f"{path}: not a readable GIFTI file (XML error: {err})") from None


def _check_inflated(text, declared, where):
    """Refuse base64+zlib ``text`` that inflates past ``declared`` bytes (counted in chunks)."""
    import base64
    import binascii
    import zlib
    try:
        data = base64.b64decode(text.encode("ascii"))
        dec, total = zlib.decompressobj(), 0
        while data and total <= declared:
            total += len(dec.decompress(data, 1 << 20))
            data = dec.unconsumed_tail
    except (binascii.Error, zlib.error, UnicodeEncodeError) as err:
        raise F.corrupt(where, err) from None
    if total > declared:
        raise ValueError(f"{where}: gzip data inflates to more than the {declared} bytes its "
                         f"dimensions declare")


def _read_header(fid, fmt, where):
    data = fid.read(struct.calcsize(fmt))
    if len(data) != struct.calcsize(fmt):
        raise ValueError(f"{where}: truncated or corrupt file (its header ends early)")
    return struct.unpack(fmt, data)


def check_freesurfer_surface(path):
    """Refuse a FreeSurfer surface whose header declares more data than the file holds."""
    size = path.stat().st_size
    F.Budget(path).check(size, str(path), "holds")
    with open(path, "rb") as fid:
        magic = int.from_bytes(fid.read(3), "big")
        if magic == _FS_TRIANGLE:
            fid.readline()  # creation stamp, then a blank line (nibabel's layout)
            fid.readline()
            nv, nf = _read_header(fid, ">ii", path)
            need = fid.tell() + 12 * nv + 12 * nf
        elif magic in _FS_QUADS:
            nv = int.from_bytes(fid.read(3), "big")
            nf = int.from_bytes(fid.read(3), "big")
            need = 9 + nv * 3 * (2 if magic == _FS_QUADS[0] else 4) + nf * 12
        else:
            return  # nibabel refuses it with its own message
    if nv < 0 or nf < 0 or need > size:
        raise ValueError(f"{path}: not a FreeSurfer surface, truncated or corrupt: its header "
                         f"declares {nv} vertices and {nf} faces ({need} bytes) but the file "
                         f"holds {size} bytes")


def _check_annot(path):
    """Refuse an .annot whose header declares more vertices or colour-table entries than it
    can hold (nibabel allocates the table from the header)."""
    size = path.stat().st_size
    F.Budget(path).check(size, str(path), "holds")
    with open(path, "rb") as fid:
        (nv,) = _read_header(fid, ">i", path)
        if nv < 0 or 4 + 8 * nv > size:
            raise ValueError(f"{path}: not a readable FreeSurfer .annot file, truncated or "
                             f"corrupt: its header declares {nv} vertices ({4 + 8 * nv} "
                             f"bytes) but the file holds {size} bytes")
        fid.seek(4 + 8 * nv)
        if fid.read(4) in (b"", b"\0\0\0\0"):
            return  # no colour table
        (n_entries,) = _read_header(fid, ">i", path)
        if n_entries < 0:  # new format: version, then the largest index
            (n_entries,) = _read_header(fid, ">i", path)
        # nibabel's colour table: (n, 5) int32 plus temporaries
        F.check_alloc(max(n_entries, 0) * 5 * 4 * 4, path,
                      f"a colour table of {n_entries} entries")


def _hemi_from_name(path):
    name = Path(path).name
    low = name.lower()
    if low.startswith(("lh.", "lh_", "lh-")) or re.search(r"(hemi-l|[._]l)[._]", low):
        return "lh"
    if low.startswith(("rh.", "rh_", "rh-")) or re.search(r"(hemi-r|[._]r)[._]", low):
        return "rh"
    return None


def _gifti_arrays(img, path):
    import nibabel as nib
    out = {}
    for da in img.darrays:
        out.setdefault(nib.nifti1.intent_codes.label[da.intent], []).append(da)
    return out


def _gifti_frame(da):
    import nibabel as nib
    cs = getattr(da, "coordsys", None)
    if cs is None:
        return "unknown"
    try:
        return nib.nifti1.xform_codes.label[cs.dataspace].lower()
    except KeyError:
        return "unknown"


_SURFACE_ROLES = {"vertices": "vertices", "triangles": "triangles", "normals": "normals",
                  "vertex_normals": "normals"}


def _surface_roles(path, names):
    """{role: member name} of a TVB surface's files; refuses two files for one role."""
    roles = {}
    for fname in names:
        base = Path(fname).name
        role = _SURFACE_ROLES.get(C.stem(base).lower())
        if role is None or base.startswith("."):
            continue
        if role in roles:
            raise ValueError(f"{path}: several files for {role} ({roles[role]!r}, {fname!r})")
        roles[role] = fname
    return roles


def _tvb_surface_files(path):
    """{role: (display name, bytes)} of a TVB surface zip or folder (only its own files)."""
    budget = F.Budget(path, text=True)
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.is_file())
        roles = _surface_roles(path, names)
        return names, {role: (str(path / f), F.read_file(F.inside(path, path / f),
                                                         budget=budget))
                       for role, f in roles.items()}
    with F.open_zip(path) as zf:
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        roles = _surface_roles(path, infos)
        return sorted(infos), {role: (f"{path}/{f}", F.read_member(zf, infos[f], path, budget))
                               for role, f in roles.items()}


def _read_tvb_surface(path):
    files, roles = _tvb_surface_files(path)
    if "normals" in roles and not roles["normals"][1].strip():
        del roles["normals"]  # tvb-data's face_8614.zip has an empty vertex_normals.txt
    missing = [r for r in ("vertices", "triangles") if r not in roles]
    if missing:
        raise ValueError(f"{path}: TVB surface lacks {missing} (expected vertices.txt and "
                         f"triangles.txt); found {sorted(files)}")

    def table(role):
        where, data = roles[role]
        return where, C.parse_table(C.decode(data, where), where)

    where, verts = table("vertices")
    if verts.shape[1] != 3:
        raise ValueError(f"{where}: expected 3 columns (x y z in mm), got {verts.shape[1]}")
    where, tris = table("triangles")
    if tris.shape[1] != 3 or not np.array_equal(tris, np.round(tris)):
        raise ValueError(f"{where}: expected 3 integer vertex indices per line")
    normals = None
    if "normals" in roles:
        where, normals = table("normals")
        if normals.shape != verts.shape:
            raise ValueError(f"{where}: {normals.shape} normals for {verts.shape[0]} vertices")
    return verts, tris.astype(np.int64), normals, "tvb"


@verbose
@F.reader
def read_surface(path, *, verbose=None):
    """Read a triangulated surface.

    Parameters
    ----------
    path : str | path-like
        GIFTI (``.gii``, pointset + triangle arrays), TVB surface (``.zip`` or folder with
        ``vertices.txt``, ``triangles.txt`` and optionally ``vertex_normals.txt``), or a
        FreeSurfer geometry file (``lh.white``, ``rh.pial``...).
    %(verbose)s

    Returns
    -------
    vertices : array, shape (n_vertices, 3)
        Positions in mm.
    triangles : array of int, shape (n_triangles, 3)
        Vertex indices.
    normals : array, shape (n_vertices, 3) | None
        Vertex normals stored in the file (TVB), else None.
    coord_frame : str
        ``"mri"`` (FreeSurfer surface RAS), ``"tvb"``, or the GIFTI data space.
    """
    import nibabel as nib
    path = C.check_exists(C.as_path(path))
    ext = C.suffixes(path)
    if path.is_dir() or ext == ".zip":
        verts, tris, normals, frame = _read_tvb_surface(path)
    elif ext == ".gii":
        img = load_gifti(path)
        arrays = _gifti_arrays(img, path)
        if "pointset" not in arrays or "triangle" not in arrays:
            raise ValueError(f"{path}: a GIFTI surface needs a pointset and a triangle array, "
                             f"got intents {sorted(arrays)}")
        verts = np.asarray(arrays["pointset"][0].data, dtype=float)
        tris = np.asarray(arrays["triangle"][0].data, dtype=np.int64)
        normals = None
        frame = _gifti_frame(arrays["pointset"][0])
    else:
        check_freesurfer_surface(path)
        try:
            with warnings.catch_warnings():  # garbage files overflow in nibabel's reader
                warnings.simplefilter("ignore", RuntimeWarning)
                verts, tris = nib.freesurfer.read_geometry(path)[:2]
        except Exception as err:
            raise ValueError(f"{path}: not a FreeSurfer surface, GIFTI (.gii) or TVB surface "
                             f"(.zip) ({type(err).__name__}: {err})") from None
        verts = np.asarray(verts, dtype=float)
        tris = np.asarray(tris, dtype=np.int64)
        normals = None
        frame = "mri"
    _check_mesh(verts, tris, path)
    if normals is not None:
        normals = _unit(normals)
    logger.info(f"Read surface {path}: {verts.shape[0]} vertices, {tris.shape[0]} triangles")
    return verts, tris, normals, frame


def _check_mesh(verts, tris, where):
    if verts.ndim != 2 or verts.shape[1] != 3 or not np.isfinite(verts).all():
        raise ValueError(f"{where}: vertices must be finite (n, 3), got {verts.shape}")
    if tris.ndim != 2 or tris.shape[1] != 3:
        raise ValueError(f"{where}: triangles must be (n, 3), got {tris.shape}")
    if tris.size == 0:
        raise ValueError(f"{where}: surface has no triangles")
    if tris.min() < 0 or tris.max() >= verts.shape[0]:
        raise ValueError(f"{where}: triangles index vertices outside [0, {verts.shape[0] - 1}]")


# --------------------------------------------------------------------------- labellings


def _read_annot(path):
    import nibabel as nib
    _check_annot(path)
    try:
        with warnings.catch_warnings():  # garbage files overflow in nibabel's reader
            warnings.simplefilter("ignore", RuntimeWarning)
            codes, ctab, names = nib.freesurfer.read_annot(path)
    except Exception as err:
        raise ValueError(f"{path}: not a readable FreeSurfer .annot file ({err})") from None
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    table = dict(enumerate(names))
    return np.asarray(codes, dtype=np.int64), table, None


def _read_gifti_labels(path):
    img = load_gifti(path)
    arrays = _gifti_arrays(img, path)
    das = arrays.get("label") or [da for da in img.darrays
                                  if np.issubdtype(np.asarray(da.data).dtype, np.integer)]
    if not das:
        raise ValueError(f"{path}: no label array (intent NIFTI_INTENT_LABEL) in this GIFTI "
                         f"file; intents {sorted(arrays)}")
    if len(das) > 1:
        raise ValueError(f"{path}: {len(das)} label arrays; expected one")
    codes = np.asarray(das[0].data)
    if codes.ndim != 1:
        raise ValueError(f"{path}: label array must be 1D (one value per vertex), got "
                         f"{codes.shape}")
    table = img.labeltable.get_labels_as_dict() if img.labeltable is not None else {}
    hemi = None
    struct = str(img.meta.get("AnatomicalStructurePrimary", "")) if img.meta else ""
    if struct.lower().endswith("left"):
        hemi = "lh"
    elif struct.lower().endswith("right"):
        hemi = "rh"
    return _integer_codes(codes, path), {int(k): str(v) for k, v in table.items()}, hemi


def _integer_codes(codes, where):
    """int64 copy of label codes; floats must be integral (never silently truncated)."""
    if codes.dtype.kind == "f":
        bad = ~np.isfinite(codes) | (codes != np.round(codes))
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"{where}: label values must be integers, got {float(codes[k])} at "
                             f"vertex {k} ({int(bad.sum())} non-integer values)")
        if np.abs(codes).max(initial=0) >= 2 ** 53:
            raise ValueError(f"{where}: label values out of the integer range")
    elif codes.dtype.kind not in "iub":
        raise ValueError(f"{where}: label values must be integers, got {codes.dtype}")
    return codes.astype(np.int64)


def read_region_indices(path):
    """Region index of every vertex from a TVB region mapping (``.txt``, ``.txt.bz2/.gz``,
    ``.npy``), read within the size limit; integers only."""
    ext = C.suffixes(path)
    if ext == ".npy":
        vals = F.load_npy(path)
        if vals.dtype.kind not in "iubf":
            raise ValueError(f"{path}: region mapping must hold integer region indices, got "
                             f"{vals.dtype}")
        vals = vals.ravel()
    else:
        vals = C.parse_vector(C.read_text(path), path, what="region indices")
    if not np.isfinite(vals).all() or not np.array_equal(vals, np.round(vals)):
        raise ValueError(f"{path}: region mapping must hold integer region indices")
    return _integer_codes(vals, path)


@verbose
@F.reader
def read_parcellation(path, *, surface=None, labels=None, lut=None, background=0,
                      exclude=(), hemi=None, coord_frame=None, name=None, verbose=None):
    """Read an atlas into a :class:`Parcellation`.

    Parameters
    ----------
    path : str | path-like
        * volume label image ``.nii``, ``.nii.gz``, ``.mgz``, ``.mgh`` (integer values);
        * FreeSurfer ``.annot`` or GIFTI label ``.gii`` (needs ``surface``);
        * TVB region mapping ``.txt`` (+``.bz2``/``.gz``) or ``.npy``: one region index per
          vertex (needs ``surface``; region names from ``labels``).
    surface : str | path-like | tuple | None
        Surface the labelling lives on: a file for :func:`read_surface`, or a tuple
        ``(vertices_mm, triangles)``. Required for surface labellings.
    labels : list of str | Connectome | None
        TVB region mappings: region names, index = region number (a Connectome's labels and
        hemispheres); default ``r0, r1, ...`` up to the largest index.
    lut : dict | str | path-like | None
        Volumes: names of the values, ``{value: name}`` or a lookup-table file with
        ``value name ...`` lines (FreeSurfer ``*LUT.txt``); default the value as text.
    background : int
        Volume value that is not a region.
    exclude : sequence of str
        Region names to drop (their vertices/voxels become unassigned), e.g. ``"unknown"``.
    hemi : "lh" | "rh" | None
        Hemisphere of an .annot/GIFTI labelling; default from the file name (``lh.*``,
        ``*.L.*``, ``hemi-L``) or GIFTI metadata. Names then get MNE's ``-lh``/``-rh``
        suffix.
    coord_frame : str | None
        Override the frame (default: from the file).
    name : str | None
        Name (default the file stem).
    %(verbose)s

    Returns
    -------
    parc : Parcellation
        Volumes: labels, centroids (world mm), volumes (mm³), label values. Surfaces: also
        region mapping, vertices, triangles, normals, areas (mm²).
    """
    path = C.check_exists(C.as_path(path))
    ext = C.suffixes(path)
    name = name or C.stem(path)
    if ext in VOLUME_EXTS:
        return _read_volume(path, lut, background, exclude, coord_frame, name)
    codes, table, file_hemi = _read_vertex_codes(path, ext)
    verts, tris, normals, frame = _labelled_surface(surface, path, codes.size)
    hemi = hemi or file_hemi or (None if table is None else _hemi_from_name(path))
    check_option("hemi", hemi, ("lh", "rh", None))
    if table is None:  # TVB region mapping: codes are region indices
        labels, region_mapping, values, hemispheres = _mapping_regions(codes, labels, path)
    else:
        labels, region_mapping, values, hemispheres = _table_regions(codes, table, hemi,
                                                                     exclude, path)
    n = len(labels)
    if hemispheres is None:
        hemispheres = _hemis_from_labels(labels, path)
    vnormals, vareas = surface_geometry(verts, tris)
    if normals is not None:
        vnormals = normals
    areas, centroids, region_normals = region_geometry(region_mapping, n, verts, vareas,
                                                       vnormals)
    parc = Parcellation(labels, centroids, region_mapping=region_mapping, vertices=verts,
                        triangles=tris, normals=region_normals, areas=areas,
                        hemispheres=hemispheres, label_values=values,
                        vertex_hemis=None if hemi is None else np.full(verts.shape[0], hemi),
                        coord_frame=coord_frame or frame, name=name)
    if parc.empty_regions:
        logger.warning(f"{path}: regions without vertices (NaN centroids): "
                       f"{parc.empty_regions[:10]}")
    logger.info(f"Read {parc!r}")
    return parc


def _read_vertex_codes(path, ext):
    """(code per vertex, {code: name} or None for a TVB region mapping, hemisphere or None)
    of a surface labelling file."""
    if ext == ".annot":
        return _read_annot(path)
    if ext == ".gii":
        return _read_gifti_labels(path)
    if ext in (".txt", ".txt.bz2", ".txt.gz", ".npy"):
        return read_region_indices(path), None, None
    raise ValueError(f"{path}: unknown parcellation extension {ext!r}; supported: "
                     f"{list(VOLUME_EXTS)} (volumes), .annot, .gii (surface labels), "
                     f".txt/.npy (TVB region mapping)")


def _labelled_surface(surface, path, n_codes):
    """(vertices, triangles, normals or None, frame) of the mesh a labelling of ``path``
    with ``n_codes`` vertices lives on."""
    if surface is None:
        raise ValueError(f"{path}: a surface labelling needs surface= (the mesh it labels: "
                         f"GIFTI, FreeSurfer geometry or TVB surface zip)")
    if isinstance(surface, tuple):
        verts, tris = np.asarray(surface[0], dtype=float), np.asarray(surface[1], np.int64)
        normals, frame, sname = None, "unknown", "surface"
        _check_mesh(verts, tris, f"{path} (surface)")
    else:
        verts, tris, normals, frame = read_surface(surface)
        sname = str(surface)
    if n_codes != verts.shape[0]:
        raise ValueError(f"{path}: {n_codes} labelled vertices but the surface {sname} has "
                         f"{verts.shape[0]} vertices")
    return verts, tris, normals, frame


def _mapping_regions(codes, labels, path):
    """(labels, region mapping, label values, hemispheres or None) of a TVB region mapping,
    whose codes are region indices and whose names come from ``labels``."""
    if codes.min() < 0:
        raise ValueError(f"{path}: negative region index {codes.min()}")
    hemispheres = None
    if labels is not None and hasattr(labels, "labels") and hasattr(labels, "weights"):
        hemispheres = labels.hemispheres
        labels = labels.labels
    if labels is None:
        # one region per index up to the largest: bounded by the vertices before
        # allocating (index 10**8 in a 20-byte file would ask for 10**8 regions)
        if codes.max() >= codes.size:
            raise ValueError(f"{path}: region index {codes.max()} in a mapping of "
                             f"{codes.size} vertices; without labels= regions are "
                             f"numbered 0..n-1 with n <= the number of vertices; pass "
                             f"labels= (one name per region) for sparse indices")
        labels = [f"r{k}" for k in range(codes.max() + 1)]
    labels = C.check_labels(labels, len(labels), f"{path} (labels)")
    if codes.max() >= len(labels):
        raise ValueError(f"{path}: region index {codes.max()} but only {len(labels)} "
                         f"labels (regions 0..{len(labels) - 1})")
    return labels, codes, np.arange(len(labels)), hemispheres


def _table_regions(codes, table, hemi, exclude, path):
    """(labels, region mapping, label values, hemispheres or None) of an .annot/GIFTI
    labelling: one region per named code present, less the excluded names."""
    present = np.unique(codes[codes >= 0]) if table else np.unique(codes)
    values, labels = [], []
    for val in present:
        lab = table.get(int(val), str(int(val)))
        if lab in exclude or (hemi and f"{lab}-{hemi}" in exclude):
            continue
        values.append(int(val))
        labels.append(f"{lab}-{hemi}" if hemi else lab)
    if not labels:
        raise ValueError(f"{path}: no labelled vertices (after excluding {list(exclude)})")
    unused = sorted(set(table) - set(int(v) for v in present))
    if unused:
        logger.info(f"{path}: {len(unused)} names without vertices are not regions: "
                    f"{[table[k] for k in unused][:10]}")
    labels = C.check_labels(labels, len(labels), path)
    lookup = {v: k for k, v in enumerate(values)}
    region_mapping = np.array([lookup.get(int(c), -1) for c in codes], dtype=np.int64)
    hemispheres = None if hemi is None else np.full(len(labels), hemi == "rh")
    return labels, region_mapping, np.array(values), hemispheres


def _hemis_from_labels(labels, path):
    from .tvb import hemispheres_from_labels
    hemis = hemispheres_from_labels(labels)
    if hemis is not None:
        logger.info(f"{path}: hemispheres inferred from labels")
    return hemis


def _read_lut(lut):
    if lut is None:
        return {}
    if isinstance(lut, dict):
        return {int(k): str(v) for k, v in lut.items()}
    path = C.check_exists(C.as_path(lut, "lut"))
    out = {}
    for k, line in C._lines(C.read_text(path)):
        tokens = line.split()
        if len(tokens) < 2:
            raise ValueError(f"{path}, line {k}: expected 'value name ...', got {line!r}")
        try:
            val = int(tokens[0])
        except ValueError:
            raise ValueError(f"{path}, line {k}: value {tokens[0]!r} is not an integer") from None
        if val in out:
            raise ValueError(f"{path}, line {k}: value {val} listed twice")
        out[val] = tokens[1]
    return out


def _read_volume(path, lut, background, exclude, coord_frame, name):
    import nibabel as nib
    try:
        img = nib.load(path)
    except Exception as err:
        raise ValueError(f"{path}: not a readable NIfTI/MGH image ({err})") from None
    _check_volume(img, path)
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as err:
        raise F.corrupt(path, err) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{path}: a label image must be 3D, got shape {data.shape}")
    if data.dtype.kind == "f":
        if not np.isfinite(data).all() or not np.array_equal(data, np.round(data)):
            raise ValueError(f"{path}: label image has non-integer values (expected integer "
                             f"region codes)")
    elif data.dtype.kind not in "iub":
        raise ValueError(f"{path}: label image has {data.dtype} values, expected integers")
    data = data.astype(np.int64)
    affine = img.affine
    scale = 1.0
    frame = "unknown"
    if isinstance(img, nib.Nifti1Image):  # includes Nifti2
        unit = img.header.get_xyzt_units()[0]
        scale = _UNIT_SCALE.get(unit)
        if scale is None:
            raise ValueError(f"{path}: spatial unit {unit!r} not understood")
        for form in ("sform", "qform"):
            code = int(img.header[f"{form}_code"])
            if code > 0:
                frame = str(img.header.get_value_label(f"{form}_code")).lower()
                break
    else:
        frame = "scanner"  # MGH vox2ras: scanner RAS
    names = _read_lut(lut)
    flat = data.ravel()
    values, inverse = np.unique(flat, return_inverse=True)
    keep = (values != background) & ~np.isin([names.get(int(v), str(int(v))) for v in values],
                                             list(exclude))
    if not keep.any():
        raise ValueError(f"{path}: no region voxels (all values are background {background}"
                         f" or excluded)")
    counts = np.bincount(inverse, minlength=values.size).astype(float)
    sums = []
    for d in range(3):  # one axis at a time: memory stays ~ one float per voxel
        shape = [1, 1, 1]
        shape[d] = data.shape[d]
        grid = np.broadcast_to(np.arange(data.shape[d], dtype=float).reshape(shape), data.shape)
        sums.append(np.bincount(inverse, grid.ravel(), minlength=values.size))
    mean_ijk = np.stack(sums, axis=1) / counts[:, None]
    xyz = (mean_ijk @ affine[:3, :3].T + affine[:3, 3]) * scale
    voxel_volume = abs(np.linalg.det(affine[:3, :3])) * scale ** 3
    values, xyz, counts = values[keep], xyz[keep], counts[keep]
    labels = [names.get(int(v), str(int(v))) for v in values]
    missing = sorted(set(names) - set(int(v) for v in values) - {background})
    if missing and len(names) < 100:
        logger.info(f"{path}: lookup-table values absent from the image: {missing[:10]}")
    labels = C.check_labels(labels, len(labels), path)
    parc = Parcellation(labels, xyz, hemispheres=_hemis_from_labels(labels, path),
                        volumes=counts * voxel_volume, label_values=values,
                        coord_frame=coord_frame or frame, name=name)
    logger.info(f"Read {parc!r}")
    return parc


def _check_volume(img, path):
    """Check the header's image size against the limit and the file before reading voxels."""
    shape = tuple(int(d) for d in img.shape)
    if len(shape) != 3 and not (len(shape) == 4 and shape[3] == 1):
        raise ValueError(f"{path}: a label image must be 3D, got shape {shape}")
    dtype = img.get_data_dtype()
    n = math.prod(shape)
    # int64 labels, the unique-inverse and one float coordinate axis at a time
    F.check_alloc(n * (dtype.itemsize + 24), path, f"a label image of shape {shape}")
    offset = getattr(img.dataobj, "offset", None)
    if offset is None or C.suffixes(path).endswith((".gz", ".mgz")):
        return  # compressed: nibabel reads exactly the declared bytes, now known to fit
    need = int(offset) + n * dtype.itemsize
    size = path.stat().st_size
    if need > size:
        raise ValueError(f"{path}: truncated: its header declares shape {shape} of {dtype} "
                         f"({need} bytes with the header) but the file holds {size} bytes")


@verbose
def read_tvb_parcellation(n_regions=76, *, verbose=None):
    """tvb-data's cortical surface (``cortex_16384.zip``) with its region mapping
    (``regionMapping_16k_<n>.txt``), named after ``connectivity_<n>.zip``.

    Raises ImportError if tvb-data is not installed (``pip install rate_bridge[tvb]``).
    """
    from .tvb import read_tvb_connectome, tvb_data_path
    conn = read_tvb_connectome(n_regions)
    return read_parcellation(tvb_data_path(f"regionMapping_16k_{int(n_regions)}.txt"),
                             surface=tvb_data_path("cortex_16384.zip"), labels=conn)
