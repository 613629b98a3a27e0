"""Put sources, surfaces and sensors into one frame: MNE's head frame, in mm.

MNE's *head* frame (defined by the fiducials of a montage or a digitisation) has x towards the
right pre-auricular point, y towards the nasion and z up, origin between the pre-auricular
points. Forward models in :mod:`rate_bridge.forward_models` are computed in that frame with an
identity MRI -> head transform, so every source position must be expressed in it.

Connectome centres usually come in another frame (TVB's files: x anterior, y left, z up, origin
at the centroid of the cortical mesh, mm; FreeSurfer/MNI: RAS, mm). :func:`place_sources` maps
them in three documented steps:

1. **axes**: a three-letter code (``"RAS"``, ``"ALS"``, ``"LPS"``...) says where the frame's +x,
   +y and +z point (R/L right/left, A/P anterior/posterior, S/I superior/inferior); the points
   are rotated to RAS. The code comes from ``coord_frame`` (:data:`FRAME_AXES`) or, for an
   unknown frame, is inferred: the left-right axis from the hemisphere flags, the longest of the
   two other axes is taken as anterior-posterior (pointing +) and the last one follows from a
   right-handed frame (a warning says so).
2. **translate**: the centroid of the reference points (region centres) goes to the centre of
   the head model plus an offset (default 0 mm right, 11 mm anterior, 12 mm up of a sphere fitted
   to the electrodes: what tvb-data's subject shows, whose electrodes lie on its scalp).
3. **scale**: if any source point lies farther than ``inner radius - margin`` from the centre
   (outside the brain compartment), all points shrink isotropically about their centroid by the
   largest factor that brings them inside; points are never enlarged.

The result is a :class:`Placement`: a 4 x 4 affine (mm -> mm) plus what was decided, kept in the
forward model's provenance.
"""
import itertools

import numpy as np

from ..utils import check_option, logger

#: Axis codes of known coordinate frames (where +x, +y, +z point).
FRAME_AXES = {
    "ras": "RAS", "mri": "RAS", "head": "RAS", "mni": "RAS", "mni_tal": "RAS", "mni305": "RAS",
    "mni152": "RAS", "talairach": "RAS", "scanner": "RAS", "surface_ras": "RAS",
    "fsaverage": "RAS", "tvb": "ALS", "scs": "ALS", "ctf": "ALS", "brainstorm": "ALS",
    "lps": "LPS", "itk": "LPS", "dicom": "LPS", "als": "ALS",
}

_DIRS = {"R": (0, 1), "L": (0, -1), "A": (1, 1), "P": (1, -1), "S": (2, 1), "I": (2, -1)}

#: Default offset (mm, RAS) of the region-centre centroid from the centre of a sphere fitted to
#: the EEG electrodes. Measured on tvb-data: connectivity_76 centres vs. a sphere fitted to
#: eeg_brainstorm_65 once the electrodes sit on the subject's scalp (scalp_1082).
DEFAULT_OFFSET = (0.0, 11.0, 12.0)


def axes_matrix(code):
    """Rotation taking coordinates in a frame with axis code ``code`` to RAS.

    Parameters
    ----------
    code : str
        Three letters, one of R/L, A/P, S/I each (e.g. ``"ALS"`` for x anterior, y left, z up).

    Returns
    -------
    rot : ndarray, shape (3, 3)
        ``ras = rot @ xyz``.
    """
    code = str(code).upper()
    if len(code) != 3 or any(c not in _DIRS for c in code) or \
            len({_DIRS[c][0] for c in code}) != 3:
        raise ValueError(f"axes must be a 3-letter code with one of R/L, A/P and S/I each "
                         f"(e.g. 'RAS', 'ALS', 'LPS'), got {code!r}")
    rot = np.zeros((3, 3))
    for col, c in enumerate(code):
        row, sign = _DIRS[c]
        rot[row, col] = sign
    return rot


def infer_axes(points, hemispheres=None, coord_frame="unknown"):
    """Axis code of a frame: from its name, else inferred from the points (see module doc).

    Parameters
    ----------
    points : ndarray, shape (n, 3)
        Region centres or vertices (mm).
    hemispheres : ndarray of bool, shape (n,) | None
        True for right-hemisphere points.
    coord_frame : str
        Name of the frame (:data:`FRAME_AXES`).

    Returns
    -------
    code : str
    reason : str
        How the code was obtained (for logs and provenance).
    """
    key = str(coord_frame).lower()
    if key in FRAME_AXES:
        return FRAME_AXES[key], f"coord_frame {coord_frame!r}"
    points = np.asarray(points, float)
    if hemispheres is None or np.all(hemispheres) or not np.any(hemispheres):
        return "RAS", (f"coord_frame {coord_frame!r} is unknown and no hemisphere flags: "
                       f"assumed RAS")
    hemi = np.asarray(hemispheres, bool)
    diff = points[hemi].mean(0) - points[~hemi].mean(0)
    lr = int(np.argmax(np.abs(diff)))
    letters = [None, None, None]
    letters[lr] = "R" if diff[lr] > 0 else "L"
    others = [k for k in range(3) if k != lr]
    ext = np.ptp(points[:, others], axis=0)
    ap = others[int(np.argmax(ext))]
    si = others[int(np.argmin(ext))]
    letters[ap] = "A"
    for c in "SI":
        letters[si] = c
        if np.linalg.det(axes_matrix("".join(letters))) > 0:
            break
    code = "".join(letters)
    return code, (f"coord_frame {coord_frame!r} is unknown: left-right axis from the hemisphere "
                  f"flags, anterior = + along the longest other axis, right-handed -> {code}")


def fit_sphere(points):
    """Least-squares sphere through points.

    Parameters
    ----------
    points : ndarray, shape (n, 3)

    Returns
    -------
    centre : ndarray, shape (3,)
    radius : float
        In the units of ``points``.
    """
    p = np.asarray(points, float)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 4:
        raise ValueError(f"fitting a sphere needs at least 4 points of shape (n, 3), got "
                         f"{p.shape}")
    a = np.c_[2 * p, np.ones(len(p))]
    b = (p ** 2).sum(1)
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    centre = sol[:3]
    radius = float(np.sqrt(sol[3] + centre @ centre))
    return centre, radius


def apply_trans(trans, points, vectors=False):
    """Apply a 4 x 4 affine to points (or only its linear part to vectors)."""
    points = np.asarray(points, float)
    out = points @ trans[:3, :3].T
    if not vectors:
        out = out + trans[:3, 3]
    return out


def unit_vectors(vecs, what="orientations"):
    vecs = np.asarray(vecs, float)
    norm = np.linalg.norm(vecs, axis=-1, keepdims=True)
    if not np.isfinite(vecs).all() or (norm == 0).any():
        bad = np.where(~np.isfinite(norm[:, 0]) | (norm[:, 0] == 0))[0]
        raise ValueError(f"{what} must be finite non-zero vectors; rows {bad[:10].tolist()} "
                         f"are not")
    return vecs / norm


class Placement:
    """Affine mapping of source coordinates (mm) into MNE's head frame (mm).

    Attributes
    ----------
    trans : ndarray, shape (4, 4)
        ``head = trans @ [x, y, z, 1]`` in mm.
    axes : str | None
        Axis code of the source frame.
    scale : float
        Isotropic scale applied (1 = none).
    info : dict
        What was decided and why.
    """

    def __init__(self, trans, *, axes=None, scale=1.0, info=None):
        self.trans = np.asarray(trans, float)
        if self.trans.shape != (4, 4) or not np.isfinite(self.trans).all():
            raise ValueError(f"a placement transform must be a finite 4 x 4 matrix, got shape "
                             f"{self.trans.shape}")
        self.axes = axes
        self.scale = float(scale)
        self.info = dict(info or {})

    @classmethod
    def identity(cls, reason="sources already in the head frame"):
        return cls(np.eye(4), axes="RAS", info={"method": "none", "reason": reason})

    def apply(self, points):
        """Points (mm) -> head frame (mm)."""
        return apply_trans(self.trans, points)

    def apply_vectors(self, vecs):
        """Directions -> head frame, renormalised to unit length (rows of zeros stay zero)."""
        out = apply_trans(self.trans, vecs, vectors=True)
        norm = np.linalg.norm(out, axis=-1, keepdims=True)
        return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)

    def as_dict(self):
        return {"trans_mm": self.trans.round(6).tolist(), "axes": self.axes,
                "scale": self.scale, **self.info}

    def __repr__(self):
        t = self.trans[:3, 3]
        return (f"<Placement | axes {self.axes}, scale {self.scale:.3f}, "
                f"shift ({t[0]:.1f}, {t[1]:.1f}, {t[2]:.1f}) mm>")


def as_placement(placement):
    """A Placement from a 4 x 4 array (mm), an ``mne.transforms.Transform`` (m) or a Placement."""
    if isinstance(placement, Placement):
        return placement
    try:
        import mne
        if isinstance(placement, mne.transforms.Transform):
            trans = np.array(placement["trans"], float)
            trans[:3, 3] *= 1e3  # m -> mm
            return Placement(trans, info={"method": "mne.Transform",
                                          "from": placement["from"], "to": placement["to"]})
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(placement, float)
    if arr.shape != (4, 4):
        raise ValueError(f"placement must be 'auto', 'none', a 4 x 4 affine in mm, an "
                         f"mne.transforms.Transform or a Placement, got {placement!r:.80}")
    return Placement(arr, info={"method": "user transform (mm)"})


def place_sources(ref_points, r0, inner_radius, *, axes=None, hemispheres=None,
                  coord_frame="unknown", offset=DEFAULT_OFFSET, scale="auto", margin=5.0,
                  all_points=None, inside=None):
    """Fit points into the brain compartment of a head model (see the module doc).

    Parameters
    ----------
    ref_points : ndarray, shape (n, 3)
        Reference points (region centres, mm) whose centroid is placed.
    r0 : array-like, shape (3,)
        Centre of the head model in the head frame (mm).
    inner_radius : float
        Radius (mm) of the brain compartment about ``r0`` (inner skull sphere).
    axes : str | None
        Axis code of the source frame; None infers it (:func:`infer_axes`).
    hemispheres : ndarray of bool | None
        Right-hemisphere flags of ``ref_points`` (for inferring axes).
    coord_frame : str
        Name of the source frame.
    offset : array-like, shape (3,)
        Where the centroid goes relative to ``r0`` (mm, RAS).
    scale : "auto" | float
        ``"auto"`` shrinks only if needed; a number is applied as given.
    margin : float
        Minimum depth (mm) of every point below the inner radius (or surface) for ``"auto"``.
    all_points : ndarray, shape (m, 3) | None
        Every point that must fit (e.g. cortical vertices); defaults to ``ref_points``.
    inside : callable | None
        ``inside(points_head_mm, margin) -> bool array``; replaces the sphere test (used for
        BEM surfaces).

    Returns
    -------
    placement : Placement
    """
    ref = np.asarray(ref_points, float)
    pts = ref if all_points is None else np.asarray(all_points, float)
    extent = float(np.ptp(pts, axis=0).max()) if len(pts) > 1 else 0.0
    if len(pts) > 1 and extent < 20.0:
        raise ValueError(f"the source positions span only {extent:.3g} mm; positions must be "
                         f"in mm (were they given in m?)")
    if axes is None:
        axes, why = infer_axes(ref, hemispheres, coord_frame)
        if "unknown" in why:
            logger.warning(f"placing sources: {why}. Pass axes='RAS'/'ALS'/... or a 4 x 4 "
                           f"placement if this is wrong.")
        else:
            logger.info(f"placing sources: axes {axes} from {why}")
    else:
        why = "given"
    rot = axes_matrix(axes)
    r0 = np.asarray(r0, float)
    centroid = ref.mean(0)
    target = r0 + np.asarray(offset, float)

    def transform(s):
        t = np.eye(4)
        t[:3, :3] = s * rot
        t[:3, 3] = target - s * rot @ centroid
        return t

    if len(pts) > 1000:  # only the convex hull can leave first when shrinking about the centroid
        from scipy.spatial import ConvexHull
        pts = pts[ConvexHull(pts).vertices]
    if inside is None:
        def inside(p, m):
            return np.linalg.norm(p - r0, axis=1) <= inner_radius - m
    if isinstance(scale, str):
        check_option("scale", scale, ("auto",), extra=" or a positive number")
        if inside(apply_trans(transform(1.0), pts), margin).all():
            s = 1.0
        else:
            lo, hi = 0.0, 1.0
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                if inside(apply_trans(transform(mid), pts), margin).all():
                    lo = mid
                else:
                    hi = mid
            s = lo
            if s < 0.5:
                raise ValueError(f"the sources only fit inside the head model when shrunk by "
                                 f"{s:.2f}; check the units (mm expected) and the frame of the "
                                 f"centres, or pass placement= explicitly")
            logger.info(f"placing sources: shrunk by {s:.3f} to fit {margin:g} mm inside the "
                        f"brain compartment")
    else:
        s = float(scale)
        if not np.isfinite(s) or s <= 0:
            raise ValueError(f"scale must be 'auto' or a positive number, got {scale!r}")
    return Placement(transform(s), axes=axes, scale=s,
                     info={"method": "auto", "axes_reason": why, "offset_mm": list(map(float,
                           offset)), "centre_mm": r0.round(3).tolist(), "margin_mm": margin})


# -- rigid registration (used to bring tvb-data's files into one frame) -----------------------

def proper_axis_rotations():
    """The 24 rotations that permute and flip coordinate axes (determinant +1)."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            rot = np.zeros((3, 3))
            for i, (p, sg) in enumerate(zip(perm, signs)):
                rot[i, p] = sg
            if np.linalg.det(rot) > 0:
                out.append(rot)
    return out


def icp_translation(moving, fixed, *, init=None, n_iter=100, tol=1e-4, tree=None):
    """Translation t minimising the mean distance of ``moving + t`` to the nearest ``fixed``.

    Parameters
    ----------
    moving : ndarray, shape (n, 3)
    fixed : ndarray, shape (m, 3)
        Points (e.g. vertices of a surface).
    init : ndarray, shape (3,) | None
        Start (default: match centroids).
    tree : scipy.spatial.cKDTree | None
        A tree of ``fixed`` to reuse.

    Returns
    -------
    t : ndarray, shape (3,)
    residual : float
        Mean nearest-point distance at the solution.
    """
    from scipy.spatial import cKDTree
    moving = np.asarray(moving, float)
    fixed = np.asarray(fixed, float)
    tree = cKDTree(fixed) if tree is None else tree
    t = fixed.mean(0) - moving.mean(0) if init is None else np.asarray(init, float).copy()
    for _ in range(n_iter):
        _, idx = tree.query(moving + t)
        step = (fixed[idx] - (moving + t)).mean(0)
        t = t + step
        if np.linalg.norm(step) < tol:
            break
    dist, _ = tree.query(moving + t)
    return t, float(dist.mean())


def register_axis_aligned(moving, fixed, *, n_iter=60, n_points=500):
    """Best axis-permuting rotation + translation taking ``moving`` onto ``fixed``.

    Tries the 24 proper axis rotations, each followed by a translation-only ICP of (a
    reproducible subsample of ``n_points``) moving points onto their nearest fixed points, keeps
    the smallest mean distance and refines it with all points.

    Returns
    -------
    trans : ndarray, shape (4, 4)
    residual : float
        Mean nearest-point distance (units of the inputs).
    runner_up : float
        Residual of the second-best rotation (how clear-cut the choice was).
    """
    from scipy.spatial import cKDTree
    moving = np.asarray(moving, float)
    fixed = np.asarray(fixed, float)
    tree = cKDTree(fixed)
    sub = moving
    if len(moving) > n_points:
        sub = moving[np.random.default_rng(0).choice(len(moving), n_points, replace=False)]
    fits = []
    for rot in proper_axis_rotations():
        t, res = icp_translation(sub @ rot.T, fixed, n_iter=n_iter, tree=tree, tol=1e-3)
        fits.append((res, rot, t))
    fits.sort(key=lambda f: f[0])
    _, rot, t = fits[0]
    t, res = icp_translation(moving @ rot.T, fixed, init=t, n_iter=n_iter, tree=tree)
    trans = np.eye(4)
    trans[:3, :3] = rot
    trans[:3, 3] = t
    return trans, res, fits[1][0]
