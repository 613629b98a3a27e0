"""The :class:`Parcellation`: regions of an atlas (volume or surface) with their geometry."""
import numpy as np

from . import _common as C
from .connectome import build_connectome


class Parcellation:
    """Brain regions defined on a volume or a surface.

    Parameters
    ----------
    labels : list of str
        Unique region names.
    centroids : array-like, shape (n_regions, 3)
        Region centroids in mm (``coord_frame``); NaN rows for regions without any vertex
        or voxel (see :attr:`empty_regions`).
    region_mapping : array-like of int, shape (n_vertices,) | None
        Surface parcellations: region index of every vertex, -1 for unassigned vertices.
    vertices : array-like, shape (n_vertices, 3) | None
        Vertex positions in mm.
    triangles : array-like of int, shape (n_triangles, 3) | None
        Vertex indices of the surface triangles.
    normals : array-like, shape (n_regions, 3) | None
        Mean unit normal of each region (area-weighted vertex normals).
    areas : array-like, shape (n_regions,) | None
        Region areas in mm² (surface).
    volumes : array-like, shape (n_regions,) | None
        Region volumes in mm³ (volume).
    hemispheres : array-like of bool, shape (n_regions,) | None
        True for right-hemisphere regions.
    vertex_hemis : array-like of str, shape (n_vertices,) | None
        ``"lh"``/``"rh"`` per vertex (needed to make MNE labels, whose vertex numbers are
        per hemisphere; each hemisphere's vertices must be contiguous, lh first).
    label_values : array-like of int, shape (n_regions,) | None
        The value that codes each region in the source file (voxel value, annotation key).
    coord_frame : str
        Frame of centroids and vertices (``"mri"`` for FreeSurfer surfaces, NIfTI's
        ``"scanner"``/``"mni"``/..., ``"tvb"``, ``"unknown"``).
    name : str
        Name (e.g. the file name).
    """

    def __init__(self, labels, centroids, *, region_mapping=None, vertices=None,
                 triangles=None, normals=None, areas=None, volumes=None, hemispheres=None,
                 vertex_hemis=None, label_values=None, coord_frame="unknown",
                 name="parcellation"):
        self.name = str(name)
        labels = [str(lab) for lab in labels]
        n = len(labels)
        if n == 0:
            raise ValueError(f"{self.name}: no regions")
        self.labels = C.check_labels(labels, n, self.name)
        cen = np.array(centroids, dtype=float)
        if cen.shape != (n, 3):
            raise ValueError(f"{self.name}: centroids must have shape ({n}, 3), got {cen.shape}")
        if np.isinf(cen).any() or (np.isnan(cen).any(axis=1) & ~np.isnan(cen).all(axis=1)).any():
            raise ValueError(f"{self.name}: centroids contain inf or partly-NaN rows")
        self.centroids = cen
        self.coord_frame = str(coord_frame)
        self.region_mapping = self.vertices = self.triangles = self.vertex_hemis = None
        if region_mapping is not None:
            rm = np.asarray(region_mapping)
            if rm.ndim != 1 or not np.issubdtype(rm.dtype, np.integer):
                raise ValueError(f"{self.name}: region_mapping must be a 1D integer array, got "
                                 f"{rm.dtype} of shape {rm.shape}")
            if rm.size and (rm.min() < -1 or rm.max() >= n):
                raise ValueError(f"{self.name}: region_mapping values must be in [-1, {n - 1}], "
                                 f"got [{rm.min()}, {rm.max()}]")
            self.region_mapping = rm.astype(np.int64)
            nv = rm.size
            if vertices is not None:
                v = np.array(vertices, dtype=float)
                if v.shape != (nv, 3) or not np.isfinite(v).all():
                    raise ValueError(f"{self.name}: vertices must be finite with shape "
                                     f"({nv}, 3) (one per region_mapping entry), got {v.shape}")
                self.vertices = v
            if triangles is not None:
                t = np.asarray(triangles)
                if t.ndim != 2 or t.shape[1] != 3 or not np.issubdtype(t.dtype, np.integer):
                    raise ValueError(f"{self.name}: triangles must be an (n, 3) integer array, "
                                     f"got {t.dtype} {t.shape}")
                if t.size and (t.min() < 0 or t.max() >= nv):
                    raise ValueError(f"{self.name}: triangles index vertices outside "
                                     f"[0, {nv - 1}]")
                self.triangles = t.astype(np.int64)
            if vertex_hemis is not None:
                vh = np.asarray(vertex_hemis, dtype=str)
                if vh.shape != (nv,) or not np.isin(vh, ("lh", "rh")).all():
                    raise ValueError(f"{self.name}: vertex_hemis must be 'lh'/'rh' for each of "
                                     f"the {nv} vertices")
                self.vertex_hemis = vh
        elif vertices is not None or triangles is not None or vertex_hemis is not None:
            raise ValueError(f"{self.name}: vertices/triangles/vertex_hemis need a "
                             f"region_mapping")
        self.normals = _opt(normals, (n, 3), "normals", self.name)
        self.areas = _opt(areas, (n,), "areas", self.name)
        self.volumes = _opt(volumes, (n,), "volumes", self.name)
        self.hemispheres = None if hemispheres is None else _opt(hemispheres, (n,),
                                                                 "hemispheres", self.name, bool)
        self.label_values = None if label_values is None else _opt(
            label_values, (n,), "label_values", self.name, np.int64)

    @property
    def n_regions(self):
        return len(self.labels)

    @property
    def kind(self):
        """``"surface"`` with a vertex -> region mapping, ``"volume"`` with voxel volumes,
        else ``"regions"`` (centroids only)."""
        if self.region_mapping is not None:
            return "surface"
        return "volume" if self.volumes is not None else "regions"

    @property
    def empty_regions(self):
        """Labels of regions without any vertex/voxel (NaN centroid)."""
        return [lab for lab, c in zip(self.labels, self.centroids) if np.isnan(c).all()]

    def __len__(self):
        return self.n_regions

    def __repr__(self):
        extra = (f", {self.region_mapping.size} vertices" if self.kind == "surface" else "")
        return (f"<Parcellation {self.name!r} | {self.kind}, {self.n_regions} regions{extra}, "
                f"frame {self.coord_frame!r}>")

    def to_connectome(self, weights, tract_lengths=None, *, name=None):
        """Combine with a weights matrix into a :class:`Connectome`.

        Parameters
        ----------
        weights : array-like, shape (n_regions, n_regions)
            ``weights[target, source]`` in the parcellation's region order.
        tract_lengths : array-like | None
            Tract lengths in mm (None: zeros).
        name : str | None
            Name of the connectome (default the parcellation's).

        Returns
        -------
        conn : Connectome
            Labels, centres (= centroids, mm), orientations (= normals), areas and hemispheres
            from the parcellation.
        """
        where = name or self.name
        if self.empty_regions:
            raise ValueError(f"{where}: regions {self.empty_regions[:10]} have no vertices or "
                             f"voxels, so no centre; drop them or give them a geometry first")
        w = C.check_weights(weights, where)
        if w.shape[0] != self.n_regions:
            raise ValueError(f"{where}: weights are {w.shape[0]} x {w.shape[1]} but the "
                             f"parcellation has {self.n_regions} regions")
        return build_connectome(where, weights=w, tract_lengths=tract_lengths,
                                  labels=self.labels, centres=self.centroids,
                                  coord_frame=self.coord_frame, orientations=self.normals,
                                  areas=self.areas, hemispheres=self.hemispheres, name=where)


def _opt(arr, shape, what, name, dtype=float):
    if arr is None:
        return None
    arr = np.array(arr, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name}: {what} must have shape {shape}, got {arr.shape}")
    return arr


def combine_parcellations(parcellations, *, name=None):
    """Concatenate surface parcellations (e.g. left then right hemisphere) into one.

    Vertices, triangles and region mappings are stacked (indices offset); labels must be
    unique across the inputs.

    Parameters
    ----------
    parcellations : list of Parcellation
        Surface parcellations in a common coordinate frame.
    name : str | None
        Name of the result.

    Returns
    -------
    parc : Parcellation
        The combined parcellation.
    """
    parcs = list(parcellations)
    if not parcs:
        raise ValueError("no parcellations to combine")
    for p in parcs:
        if not isinstance(p, Parcellation) or p.kind != "surface":
            raise ValueError(f"combine_parcellations needs surface Parcellations, got {p!r}")
    frames = {p.coord_frame for p in parcs}
    if len(frames) > 1:
        raise ValueError(f"cannot combine parcellations in different frames {sorted(frames)}")

    def cat(attr, offset=None):
        vals = [getattr(p, attr) for p in parcs]
        if any(v is None for v in vals):
            return None
        return np.concatenate(vals)

    offsets = np.cumsum([0] + [p.region_mapping.size for p in parcs])[:-1]
    roff = np.cumsum([0] + [p.n_regions for p in parcs])[:-1]
    rm = np.concatenate([np.where(p.region_mapping >= 0, p.region_mapping + r, -1)
                         for p, r in zip(parcs, roff)])
    tris = None
    if all(p.triangles is not None for p in parcs):
        tris = np.concatenate([p.triangles + o for p, o in zip(parcs, offsets)])
    return Parcellation(
        [lab for p in parcs for lab in p.labels], cat("centroids"), region_mapping=rm,
        vertices=cat("vertices"), triangles=tris, normals=cat("normals"), areas=cat("areas"),
        hemispheres=cat("hemispheres"), vertex_hemis=cat("vertex_hemis"),
        label_values=cat("label_values"), coord_frame=frames.pop(),
        name=name or "+".join(p.name for p in parcs))
