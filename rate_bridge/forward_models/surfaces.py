"""Triangulated surfaces (cortex, skull, scalp) in mm: reading, orienting, remeshing, writing.

MNE reads surfaces from a FreeSurfer ``subjects_dir``; to use its public API
(:func:`mne.setup_source_space`, :func:`mne.make_bem_model`) on surfaces we get as files or
arrays, :func:`write_subject` writes them with :func:`mne.write_surface` into a (temporary)
subject folder.
"""
import os
from pathlib import Path

import numpy as np

from ..utils import logger
from .placement import apply_trans


class Surface:
    """A triangulated surface.

    Parameters
    ----------
    rr : array-like, shape (n_vertices, 3)
        Vertex positions in mm.
    tris : array-like of int, shape (n_triangles, 3)
        Vertex indices of the triangles.
    nn : array-like, shape (n_vertices, 3) | None
        Unit vertex normals (pointing out of the surface); computed from the triangles if None.
    region_mapping : array-like of int, shape (n_vertices,) | None
        Region index of every vertex (into ``region_labels`` or the connectome's labels);
        -1 for vertices outside every region.
    region_labels : list of str | None
        Names of the regions that ``region_mapping`` indexes.
    vertex_hemis : array-like of str, shape (n_vertices,) | None
        ``"lh"``/``"rh"`` per vertex (for cortical surfaces).
    coord_frame : str
        Frame of ``rr`` (``"head"`` when already placed in MNE's head frame).
    name : str
        Name used in messages.
    """

    def __init__(self, rr, tris, nn=None, *, region_mapping=None, region_labels=None,
                 vertex_hemis=None, coord_frame="unknown", name="surface"):
        self.name = str(name)
        rr = np.array(rr, dtype=float)
        if rr.ndim != 2 or rr.shape[1] != 3 or len(rr) < 4 or not np.isfinite(rr).all():
            raise ValueError(f"{self.name}: vertices must be a finite (n_vertices, 3) array in "
                             f"mm with n_vertices >= 4, got shape {rr.shape}")
        tris = np.array(tris)
        if tris.ndim != 2 or tris.shape[1] != 3 or not np.issubdtype(tris.dtype, np.number) or \
                not np.array_equal(tris, np.round(tris)):
            raise ValueError(f"{self.name}: triangles must be an (n_triangles, 3) integer "
                             f"array, got {tris.dtype} of shape {tris.shape}")
        tris = tris.astype(np.int64)
        if tris.size == 0 or tris.min() < 0 or tris.max() >= len(rr):
            raise ValueError(f"{self.name}: triangles must index vertices in [0, {len(rr) - 1}], "
                             f"got [{tris.min() if tris.size else '-'}, "
                             f"{tris.max() if tris.size else '-'}]")
        self.rr = rr
        self.tris = tris
        if nn is not None:
            nn = np.array(nn, dtype=float)
            if nn.shape != rr.shape:
                raise ValueError(f"{self.name}: {nn.shape} normals for {rr.shape} vertices")
            norm = np.linalg.norm(nn, axis=1, keepdims=True)
            nn = np.divide(nn, norm, out=np.zeros_like(nn), where=norm > 0)
        self._nn = nn
        if region_mapping is not None:
            rm = np.asarray(region_mapping)
            if rm.shape != (len(rr),) or not np.array_equal(rm, np.round(rm)):
                raise ValueError(f"{self.name}: region_mapping must hold one integer per vertex "
                                 f"({len(rr)}), got {rm.dtype} of shape {rm.shape}")
            rm = rm.astype(np.int64)
            if rm.min() < -1:
                raise ValueError(f"{self.name}: region_mapping values must be >= -1")
            if region_labels is not None and rm.max() >= len(region_labels):
                raise ValueError(f"{self.name}: region_mapping refers to region {rm.max()} but "
                                 f"there are {len(region_labels)} region labels")
            region_mapping = rm
        self.region_mapping = region_mapping
        self.region_labels = None if region_labels is None else [str(x) for x in region_labels]
        if vertex_hemis is not None:
            vh = np.asarray(vertex_hemis, dtype=str)
            if vh.shape != (len(rr),) or not np.isin(vh, ("lh", "rh")).all():
                raise ValueError(f"{self.name}: vertex_hemis must be 'lh' or 'rh' for each of "
                                 f"the {len(rr)} vertices")
            vertex_hemis = vh
        self.vertex_hemis = vertex_hemis
        self.coord_frame = str(coord_frame)

    # -- geometry --------------------------------------------------------------------------
    @property
    def n_vertices(self):
        return len(self.rr)

    @property
    def nn(self):
        """Unit vertex normals (from the file, else area-weighted triangle normals)."""
        if self._nn is None:
            self._nn = vertex_normals(self.rr, self.tris)
        return self._nn

    def copy(self):
        import copy
        return copy.deepcopy(self)

    def transformed(self, trans, coord_frame="head"):
        """A copy with vertices (and normals) mapped by a 4 x 4 affine (mm)."""
        out = self.copy()
        out.rr = apply_trans(trans, self.rr)
        if self._nn is not None:
            nn = apply_trans(trans, self._nn, vectors=True)
            norm = np.linalg.norm(nn, axis=1, keepdims=True)
            out._nn = np.divide(nn, norm, out=np.zeros_like(nn), where=norm > 0)
        if np.linalg.det(trans[:3, :3]) < 0:  # a reflection flips the triangles' orientation
            out.tris = out.tris[:, ::-1].copy()
        out.coord_frame = coord_frame
        return out

    def oriented_outward(self):
        """A copy whose triangles are wound counter-clockwise seen from outside.

        Each connected component that is closed is checked by its signed volume; an open one by
        agreement with the stored normals (or, without them, with the direction away from its
        centroid). Components wound inward are flipped.
        """
        out = self.copy()
        tris = out.tris.copy()
        comps = connected_components(len(self.rr), tris)
        tri_comp = comps[tris[:, 0]]
        for c in np.unique(tri_comp):
            sel = tri_comp == c
            t = tris[sel]
            a, b, d = self.rr[t[:, 0]], self.rr[t[:, 1]], self.rr[t[:, 2]]
            if _is_closed(t):
                flip = np.einsum("ij,ij->i", a, np.cross(b, d)).sum() < 0
            else:
                tn = np.cross(b - a, d - a)
                ref = (self._nn[t].mean(1) if self._nn is not None
                       else (a + b + d) / 3 - self.rr[np.unique(t)].mean(0))
                flip = np.einsum("ij,ij->i", tn, ref).sum() < 0
            if flip:
                tris[sel] = t[:, ::-1]
        if not np.array_equal(tris, self.tris):
            logger.info(f"{self.name}: triangles re-wound to face outward")
        out.tris = tris
        return out

    def __repr__(self):
        extra = "" if self.region_mapping is None else \
            f", {len(np.unique(self.region_mapping[self.region_mapping >= 0]))} regions"
        return (f"<Surface {self.name!r} | {self.n_vertices} vertices, {len(self.tris)} "
                f"triangles{extra}, frame {self.coord_frame!r}>")


def vertex_normals(rr, tris):
    """Area-weighted unit vertex normals of a triangulation."""
    a, b, c = rr[tris[:, 0]], rr[tris[:, 1]], rr[tris[:, 2]]
    tn = np.cross(b - a, c - a)
    nn = np.zeros_like(rr)
    for k in range(3):
        np.add.at(nn, tris[:, k], tn)
    norm = np.linalg.norm(nn, axis=1, keepdims=True)
    return np.divide(nn, norm, out=np.zeros_like(nn), where=norm > 0)


def connected_components(n_vertices, tris):
    """Component index of every vertex of a triangulation."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as cc
    rows = tris.ravel()
    cols = np.roll(tris, 1, axis=1).ravel()
    adj = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    return cc(adj, directed=False)[1]


def _is_closed(tris):
    """Every edge shared by exactly two triangles."""
    edges = np.sort(np.r_[tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]], axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


# -- reading ------------------------------------------------------------------------------------

def _read_file(path):
    """(rr, tris, nn) of a surface file, read within rate_bridge's size limits (the adapters
    own the checks: a TVB zip or a GIFTI file may expand to far more than its size)."""
    from ..adapters import atlas
    if path.suffix == ".zip":
        rr, tris, nn, _ = atlas.read_surface(path)
        return rr, tris, nn
    if path.suffix == ".gii":
        img = atlas.load_gifti(path)
        rr = tris = None
        for da in img.darrays:
            if da.data.ndim == 2 and da.data.shape[1] == 3:
                if np.issubdtype(da.data.dtype, np.integer):
                    tris = da.data
                else:
                    rr = da.data
        if rr is None or tris is None:
            raise ValueError(f"{path}: GIFTI file without a pointset and triangles")
        return rr, tris, None
    import mne
    atlas.check_freesurfer_surface(path)
    try:
        rr, tris = mne.read_surface(str(path), verbose=False)[:2]
    except Exception as err:
        raise ValueError(f"{path}: not a TVB zip, GIFTI or FreeSurfer surface "
                         f"({type(err).__name__}: {err})") from None
    return rr, tris, None


def read_surface(surface, *, name=None, coord_frame="unknown"):
    """Read a surface from a file or arrays.

    Parameters
    ----------
    surface : str | path-like | Surface | tuple | dict
        A TVB surface zip (``vertices.txt``, ``triangles.txt`` [, ``vertex_normals.txt``]),
        a FreeSurfer surface (``lh.white``, ``inner_skull.surf``), GIFTI (``.gii``), a
        :class:`Surface`, a tuple ``(rr, tris)`` / ``(rr, tris, nn)``, or a dict with keys
        ``rr`` (or ``vertices``), ``tris`` (or ``triangles``) and optionally ``nn`` -- all in mm.
        An :class:`rate_bridge.adapters.Parcellation` with vertices and triangles is accepted
        too (its region mapping comes along).
    name : str | None
        Name for messages.
    coord_frame : str
        Frame of the coordinates (ignored for :class:`Surface` inputs).

    Returns
    -------
    surface : Surface
    """
    if isinstance(surface, Surface):
        return surface
    if hasattr(surface, "region_mapping") and hasattr(surface, "triangles") and \
            hasattr(surface, "vertices"):  # an adapters.Parcellation
        if surface.vertices is None or surface.triangles is None:
            raise ValueError(f"parcellation {getattr(surface, 'name', '')!r} has no surface "
                             f"(vertices/triangles); a surface parcellation is needed")
        return Surface(surface.vertices, surface.triangles, region_mapping=surface.region_mapping,
                       region_labels=surface.labels, vertex_hemis=surface.vertex_hemis,
                       coord_frame=surface.coord_frame, name=name or surface.name)
    if isinstance(surface, dict):
        rr = surface.get("rr", surface.get("vertices"))
        tris = surface.get("tris", surface.get("triangles"))
        if rr is None or tris is None:
            raise ValueError(f"a surface dict needs 'rr' (or 'vertices') and 'tris' (or "
                             f"'triangles'), got keys {sorted(surface)}")
        return Surface(rr, tris, surface.get("nn"), coord_frame=coord_frame,
                       name=name or "surface")
    if isinstance(surface, (tuple, list)) and len(surface) in (2, 3) and \
            not isinstance(surface[0], (str, os.PathLike)):
        return Surface(*surface, coord_frame=coord_frame, name=name or "surface")
    if isinstance(surface, (str, os.PathLike)):
        path = Path(surface)
        if not path.exists():
            raise FileNotFoundError(f"surface file {str(path)!r} does not exist")
        rr, tris, nn = _read_file(path)
        logger.info(f"read surface {path}: {len(rr)} vertices")
        return Surface(rr, tris, nn, coord_frame=coord_frame, name=name or path.name)
    raise TypeError(f"surface must be a file name, a Surface, (rr, tris) or a dict, got "
                    f"{type(surface).__name__}")


# -- icospheres and radial remeshing (coarse BEM meshes without VTK) -----------------------------

def icosphere(level):
    """Unit icosphere: 12 vertices subdivided ``level`` times (level 3: 642, 4: 2562).

    Returns
    -------
    rr : ndarray, shape (n, 3)
    tris : ndarray, shape (m, 3)
        Counter-clockwise seen from outside.
    """
    level = int(level)
    if level < 0 or level > 6:
        raise ValueError(f"icosphere level must be in 0..6, got {level}")
    g = (1 + 5 ** 0.5) / 2
    rr = np.array([[-1, g, 0], [1, g, 0], [-1, -g, 0], [1, -g, 0], [0, -1, g], [0, 1, g],
                   [0, -1, -g], [0, 1, -g], [g, 0, -1], [g, 0, 1], [-g, 0, -1], [-g, 0, 1]],
                  float)
    tris = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9],
                     [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2],
                     [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10],
                     [8, 6, 7], [9, 8, 1]])
    rr /= np.linalg.norm(rr, axis=1, keepdims=True)
    for _ in range(level):
        edges = np.sort(np.r_[tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]], axis=1)
        uniq, inv = np.unique(edges, axis=0, return_inverse=True)
        mid = rr[uniq].mean(1)
        mid /= np.linalg.norm(mid, axis=1, keepdims=True)
        idx = len(rr) + inv.reshape(3, -1).T  # midpoints of edges 01, 12, 20
        rr = np.r_[rr, mid]
        a, b, c = tris.T
        ab, bc, ca = idx.T
        tris = np.r_[np.c_[a, ab, ca], np.c_[b, bc, ab], np.c_[c, ca, bc], np.c_[ab, bc, ca]]
    return rr, tris


def ray_distances(surface, centre, directions, chunk=256):
    """Distance from ``centre`` along unit ``directions`` to the farthest crossing of a mesh.

    Möller-Trumbore ray/triangle intersection, vectorised. NaN where a ray misses.
    """
    rr, tris = surface.rr, surface.tris
    v0 = rr[tris[:, 0]] - centre
    e1 = rr[tris[:, 1]] - rr[tris[:, 0]]
    e2 = rr[tris[:, 2]] - rr[tris[:, 0]]
    out = np.full(len(directions), np.nan)
    for start in range(0, len(directions), chunk):
        d = directions[start:start + chunk][:, None, :]
        p = np.cross(d, e2[None])
        det = np.einsum("ijk,jk->ij", p, e1)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = -v0[None]
        u = np.einsum("ijk,ijk->ij", s, p) * inv
        q = np.cross(s, e1[None])
        v = np.einsum("ijk,ijk->ij", d, q) * inv
        t = np.einsum("jk,ijk->ij", e2, q) * inv
        hit = ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (t > 0)
        t = np.where(hit, t, -np.inf)
        best = t.max(1)
        out[start:start + chunk] = np.where(np.isfinite(best), best, np.nan)
    return out


def remesh_radial(surface, level=4, centre=None):
    """Resample a star-shaped closed surface on an icosphere (a decimation without VTK).

    Every icosphere direction from ``centre`` is cast onto the surface and the vertex put at the
    outermost crossing, so nested surfaces remeshed about the same centre stay nested.

    Parameters
    ----------
    surface : Surface
    level : int
        Icosphere subdivision (3: 642 vertices, 4: 2562, 5: 10242).
    centre : array-like, shape (3,) | None
        Centre of the rays (mm); the vertex centroid by default.

    Returns
    -------
    surface : Surface
    """
    centre = surface.rr.mean(0) if centre is None else np.asarray(centre, float)
    dirs, tris = icosphere(level)
    dist = ray_distances(surface, centre, dirs)
    if np.isnan(dist).any():
        raise ValueError(f"{surface.name}: {int(np.isnan(dist).sum())} rays from "
                         f"{np.round(centre, 1).tolist()} mm miss the surface; is it closed and "
                         f"around that centre?")
    return Surface(centre + dirs * dist[:, None], tris, coord_frame=surface.coord_frame,
                   name=f"{surface.name} (ico{level})")


def points_inside(surface, points):
    """Whether points lie inside a closed surface (generalised winding number > 0.5)."""
    rr, tris = surface.rr, surface.tris
    points = np.atleast_2d(np.asarray(points, float))
    out = np.zeros(len(points), bool)
    chunk = max(1, int(4e5 // len(tris)))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        a = rr[tris[:, 0]][None] - p[:, None]
        b = rr[tris[:, 1]][None] - p[:, None]
        c = rr[tris[:, 2]][None] - p[:, None]
        la, lb, lc = (np.linalg.norm(x, axis=2) for x in (a, b, c))
        num = np.einsum("ijk,ijk->ij", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("ijk,ijk->ij", a, b) * lc
               + np.einsum("ijk,ijk->ij", b, c) * la + np.einsum("ijk,ijk->ij", c, a) * lb)
        wind = 2 * np.arctan2(num, den).sum(1) / (4 * np.pi)
        out[start:start + chunk] = np.abs(wind) > 0.5
    return out


def depth_inside(surface, points):
    """Signed depth (mm) of points below a closed surface: > 0 inside, < 0 outside.

    The magnitude is the distance to the nearest of the surface's vertices, edge midpoints and
    triangle centroids (within about a quarter of an edge of the true distance).
    """
    from scipy.spatial import cKDTree
    t = surface.tris
    samples = np.r_[surface.rr, surface.rr[t].mean(1),
                    0.5 * (surface.rr[t[:, 0]] + surface.rr[t[:, 1]]),
                    0.5 * (surface.rr[t[:, 1]] + surface.rr[t[:, 2]]),
                    0.5 * (surface.rr[t[:, 2]] + surface.rr[t[:, 0]])]
    dist, _ = cKDTree(samples).query(points)
    return np.where(points_inside(surface, points), dist, -dist)


# -- writing a FreeSurfer-like subject for MNE --------------------------------------------------

def write_subject(subjects_dir, subject, *, cortex=None, bem=None):
    """Write surfaces where MNE's public API looks for them.

    Parameters
    ----------
    subjects_dir : path-like
    subject : str
    cortex : dict of {"lh", "rh"} -> Surface | None
        Written as ``surf/{hemi}.white``.
    bem : dict of {"inner_skull", "outer_skull", "outer_skin"} -> Surface | None
        Written as ``bem/{name}.surf``.
    """
    import mne
    root = Path(subjects_dir) / subject
    for kind, surfs, fmt in (("surf", cortex, "{}.white"), ("bem", bem, "{}.surf")):
        if not surfs:
            continue
        (root / kind).mkdir(parents=True, exist_ok=True)
        for key, surf in surfs.items():
            surf = surf.oriented_outward()
            mne.write_surface(str(root / kind / fmt.format(key)), surf.rr, surf.tris,
                              overwrite=True)
    return root
