"""tvb-data's head: cortex, sensors, skull/scalp shells and precomputed projection matrices.

tvb-data (an optional extra, GPL data read in place and never copied) ships pieces of one head
in three undocumented frames. We bring them into MNE's head frame (x right, y anterior, z up,
mm) as follows; :func:`read_tvb_head` does it at run time and records the numbers:

* **cortex frame** -- ``surfaceData/cortex_16384.zip``, ``surfaceData/scalp_1082.zip`` and the
  connectome centres (``connectivity_76.zip`` etc.): axes ALS (x anterior, y left, z up), mm,
  origin at the cortex's vertex centroid. (Checked: every region centre of connectivity_76 is
  the centroid of its vertices in ``regionMapping_16k_76`` to 1e-6 mm; right-hemisphere
  regions have y < 0; frontal poles have the largest x.)
* **sensor frame** -- ``sensors/eeg_brainstorm_65.txt`` and ``meg_brainstorm_276.txt``:
  Brainstorm's subject coordinate system (SCS/CTF: ALS axes, origin between the pre-auricular
  points), mm. Its offset to the cortex frame is found by a translation-only ICP of the
  electrodes onto ``scalp_1082`` (electrodes sit on the scalp): (-10.4, 0.2, -61.3) mm with a
  4.2 mm mean electrode-scalp distance.
* **shell frame** -- ``surfaceData/{inner_skull,outer_skull,outer_skin}_4096.zip``: axes LPS
  (x left, y posterior, z up), mm; registered onto the cortex by trying the 24 axis
  permutations with a translation ICP of the inner skull onto the cortex (best: LPS, residual
  5.2 mm vs 6.5 mm for the runner-up, a 180-degree turn about z). These shells hug the cortex
  closely (skull ~1.5 mm, scalp ~1 mm thick, and the cortex's inferior temporal surface pokes
  through the inner skull by ~2 mm): fine for exercising BEM code, crude as a head model.
* **head frame** -- SCS rotated to MNE's axes: ``head = axes_matrix("ALS") @ scs``.

Projection matrices (``projectionMatrix/projection_eeg_65_surface_16k.npy``, ``..._meg_276_...``)
are per-vertex lead fields of ``cortex_16384`` on those sensors, taken to be V/(A·m) (EEG) and
T/(A·m) (MEG). With the registration above, region topographies (average reference, vertex
gains combined per region of ``regionMapping_16k_76``) of our 4-shell sphere model correlate
with TVB's EEG matrix at a median r = 0.988; TVB's gains are ~3x smaller than the sphere's
(median norm ratio 0.33), a realistic-BEM vs sphere difference or a unit convention we cannot
check. Rows that are NaN (the infra-orbital IO1/IO2 electrodes) are dropped and reported.
"""
import os
from pathlib import Path

import numpy as np

from ..utils import check_option, logger, verbose
from .model import ForwardModel, SourceMap
from .placement import (Placement, apply_trans, axes_matrix, fit_sphere, icp_translation,
                        register_axis_aligned)
from .sources import region_weights
from .surfaces import read_surface

_DIRS = {"connectivity": ("connectivity_",), "surfaceData": ("cortex_", "scalp_", "inner_skull",
                                                              "outer_skull", "outer_skin",
                                                              "face_"),
         "sensors": ("eeg_", "meg_", "seeg_"), "regionMapping": ("regionMapping",),
         "projectionMatrix": ("projection_",)}


def tvb_file(name):
    """Path of a tvb-data file (``"cortex_16384.zip"``) or an existing path as given.

    Raises ImportError without tvb-data (``pip install rate_bridge[tvb]``).
    """
    path = Path(name)
    if path.exists():
        return path
    try:
        import tvb_data
    except ImportError:
        raise ImportError(f"{name!r} is not a file and tvb-data is not installed; "
                          f"pip install 'rate_bridge[tvb]' (or tvb-data) to use TVB's files"
                          ) from None
    root = Path(os.path.dirname(tvb_data.__file__))
    for sub, prefixes in _DIRS.items():
        if any(str(name).startswith(p) for p in prefixes):
            cand = root / sub / name
            if cand.exists():
                return cand
    hits = sorted(root.rglob(str(name)))
    if not hits:
        raise FileNotFoundError(f"tvb-data has no file {name!r}")
    return hits[0]


def read_sensors(name="eeg_brainstorm_65.txt"):
    """TVB sensors: names, positions (mm, sensor frame) and orientations (or None).

    Parameters
    ----------
    name : str | path-like
        A tvb-data sensor file name or a path (whitespace table: ``name x y z [ox oy oz]``,
        optionally bz2-compressed).
    """
    from ..adapters import _common
    path = tvb_file(name)
    text = _common.read_text(path)  # within the adapters' size limit, .bz2/.gz inflated
    rows = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not rows or any(len(r) not in (4, 7) for r in rows):
        raise ValueError(f"{path}: expected lines 'name x y z' or 'name x y z ox oy oz'")
    names = [r[0] for r in rows]
    vals = np.array([[_common.to_float(x, f"{path}, sensor {r[0]!r}") for x in r[1:]]
                     for r in rows])
    ori = vals[:, 3:] if vals.shape[1] == 6 else None
    return names, vals[:, :3], ori


def read_region_mapping(name="regionMapping_16k_76.txt"):
    """Region index of every cortical vertex (int array)."""
    from ..adapters.atlas import read_region_indices
    return read_region_indices(tvb_file(name))


def read_projection(name="projection_eeg_65_surface_16k.npy"):
    """A TVB projection matrix (n_sensors, n_vertices) from ``.npy`` or ``.mat``."""
    from ..adapters import _files
    from ..adapters.matrix import _load_container
    path = tvb_file(name)
    if str(path).endswith(".npy"):
        return _files.load_npy(path)  # within the size limit, no pickles
    if str(path).endswith(".mat"):
        arrays = [v for v in _load_container(path).values()
                  if isinstance(v, np.ndarray) and v.ndim == 2]
        if len(arrays) != 1:
            raise ValueError(f"{path}: expected one 2D matrix, found {len(arrays)}")
        return np.asarray(arrays[0], float)
    raise ValueError(f"{path}: projection matrices are read from .npy or .mat")


class TVBHead:
    """tvb-data's cortex, sensors and shells in MNE's head frame (mm); see the module doc.

    Attributes
    ----------
    cortex : Surface
        ``cortex_16384`` with its region mapping, ``coord_frame="head"``.
    cortex_to_head : Placement
        The TVB cortex/connectome frame -> head (use as ``placement=`` for TVB connectomes).
    eeg_names, eeg_pos : list, ndarray (n, 3)
        Electrodes in the head frame (mm).
    shells : dict of Surface
        ``inner_skull``, ``outer_skull``, ``outer_skin`` in the head frame.
    shells_to_head : ndarray, shape (4, 4) | None
        The shells' file frame -> head (mm).
    fits : dict
        Registration numbers (translations, residuals in mm).
    """

    def __init__(self, cortex, cortex_to_head, eeg_names, eeg_pos, shells, fits,
                 scs_to_head, shells_to_head=None):
        self.cortex = cortex
        self.cortex_to_head = cortex_to_head
        self.eeg_names = eeg_names
        self.eeg_pos = eeg_pos
        self.shells = shells
        self.fits = fits
        self.scs_to_head = scs_to_head
        self.shells_to_head = shells_to_head

    def eeg_montage(self):
        """The electrodes as a DigMontage in the head frame."""
        import mne
        return mne.channels.make_dig_montage(
            ch_pos={n: p * 1e-3 for n, p in zip(self.eeg_names, self.eeg_pos)},
            coord_frame="head")

    def eeg_info(self, sfreq=1000.0, exclude=()):
        """An Info with the EEG electrodes (minus ``exclude``)."""
        import mne
        names = [n for n in self.eeg_names if n not in set(exclude)]
        info = mne.create_info(names, sfreq, "eeg")
        info.set_montage(self.eeg_montage(), on_missing="ignore")
        return info

    def __repr__(self):
        return (f"<TVBHead | cortex {self.cortex.n_vertices} vertices, {len(self.eeg_names)} "
                f"electrodes, shells {sorted(self.shells)}>")


@verbose
def read_tvb_head(*, cortex="cortex_16384.zip", region_mapping="regionMapping_16k_76.txt",
                  region_labels=None, sensors="eeg_brainstorm_65.txt", scalp="scalp_1082.zip",
                  shells=("inner_skull_4096.zip", "outer_skull_4096.zip",
                          "outer_skin_4096.zip"), verbose=None):
    """tvb-data's head in MNE's head frame (registration described in the module doc).

    Parameters
    ----------
    cortex, region_mapping, sensors, scalp : str | path-like
        tvb-data file names (or paths to files in the same frames).
    region_labels : list of str | None
        Labels the region mapping indexes (e.g. ``conn.labels``).
    shells : tuple of 3 str | None
        Inner skull, outer skull and scalp surfaces; None to skip them.
    %(verbose)s

    Returns
    -------
    head : TVBHead
    """
    ctx = read_surface(str(tvb_file(cortex)), name=str(cortex), coord_frame="tvb")
    rm = read_region_mapping(region_mapping)
    if len(rm) != ctx.n_vertices:
        raise ValueError(f"{region_mapping}: {len(rm)} entries for {ctx.n_vertices} vertices")
    ctx.region_mapping = rm
    ctx.region_labels = None if region_labels is None else list(region_labels)
    names, pos, _ = read_sensors(sensors)
    sc = read_surface(str(tvb_file(scalp)), name=str(scalp))
    # electrodes (SCS) onto the scalp (cortex frame); several starts, keep the best
    starts = [sc.rr.mean(0) - pos.mean(0) + [0, 0, dz] for dz in (-40.0, -20.0, 0.0, 20.0)]
    starts.append(np.r_[sc.rr.mean(0)[:2] - pos.mean(0)[:2], sc.rr[:, 2].max() - pos[:, 2].max()])
    from scipy.spatial import cKDTree
    tree = cKDTree(sc.rr)
    best = min((icp_translation(pos, sc.rr, init=s, tree=tree) for s in starts),
               key=lambda f: f[1])
    t_scs_to_ctx, res_eeg = best
    rot = axes_matrix("ALS")
    scs_to_head = np.eye(4)
    scs_to_head[:3, :3] = rot
    ctx_to_head = np.eye(4)
    ctx_to_head[:3, :3] = rot
    ctx_to_head[:3, 3] = -rot @ t_scs_to_ctx
    fits = {"scs_to_cortex_mm": t_scs_to_ctx.round(2).tolist(),
            "electrode_scalp_mean_distance_mm": round(res_eeg, 2)}
    logger.info(f"TVB electrodes -> scalp: shift {t_scs_to_ctx.round(1).tolist()} mm, mean "
                f"distance {res_eeg:.1f} mm")
    placement = Placement(ctx_to_head, axes="ALS", info={
        "method": "tvb-data registration", **fits})
    shell_surfs = {}
    shells_to_head = None
    if shells:
        keys = ("inner_skull", "outer_skull", "outer_skin")
        if len(shells) != 3:
            raise ValueError("shells must name 3 surfaces (inner skull, outer skull, scalp)")
        raw = [read_surface(str(tvb_file(s)), name=str(s)) for s in shells]
        trans, res, runner = register_axis_aligned(raw[0].rr, ctx.rr)
        fits.update({"shells_to_cortex": trans.round(3).tolist(),
                     "inner_skull_cortex_residual_mm": round(res, 2),
                     "runner_up_residual_mm": round(runner, 2)})
        logger.info(f"TVB shells -> cortex: residual {res:.1f} mm (next best rotation "
                    f"{runner:.1f} mm)")
        shells_to_head = ctx_to_head @ trans
        for key, s in zip(keys, raw):
            shell_surfs[key] = s.transformed(shells_to_head)
    head_ctx = ctx.transformed(ctx_to_head)
    return TVBHead(head_ctx, placement, names, apply_trans(scs_to_head, pos), shell_surfs, fits,
                   scs_to_head, shells_to_head)


@verbose
def from_tvb_projection(conn, projection="projection_eeg_65_surface_16k.npy",
                        sensors="eeg_brainstorm_65.txt",
                        region_mapping="regionMapping_16k_76.txt", *, mode="mean",
                        head=None, kind=None, verbose=None):
    """A forward model from one of TVB's precomputed projection matrices.

    The region gain combines the projection's vertex columns per region of the region mapping
    (``mode="mean"``: the region's total moment spread over its vertices; ``"sum"``: TVB's
    convention, every vertex carrying the full moment). Channels whose row has NaN are dropped
    (listed in ``fm.provenance["dropped_channels"]``).

    Parameters
    ----------
    conn : Connectome
        Regions; the region mapping indexes ``conn.labels``.
    projection, sensors, region_mapping : str | path-like | ndarray
        tvb-data file names or paths; ``projection`` may be an array (n_sensors, n_vertices)
        and ``region_mapping`` an int array (n_vertices,).
    mode : "mean" | "sum"
    head : TVBHead | None | False
        For source estimates on the cortex (``read_tvb_head()`` by default when the cortex
        matches the projection's vertex count); False for none.
    kind : "eeg" | "meg" | None
        Sensor type; from the file name by default.
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
        Sensors in MNE's head frame (see the module doc for the frames).
    """
    check_option("mode", mode, ("mean", "sum"), extra=" for a projection matrix")
    proj = read_projection(projection) if not isinstance(projection, np.ndarray) else \
        np.asarray(projection, float)
    rm = read_region_mapping(region_mapping) if not isinstance(region_mapping, np.ndarray) \
        else np.asarray(region_mapping, np.int64)
    names, pos, ori = read_sensors(sensors)
    if proj.ndim != 2 or proj.shape[0] != len(names):
        raise ValueError(f"projection has shape {proj.shape} but there are {len(names)} sensors "
                         f"in {sensors}: expected ({len(names)}, n_vertices)")
    if proj.shape[1] != len(rm):
        raise ValueError(f"projection has {proj.shape[1]} vertex columns but the region mapping "
                         f"has {len(rm)} vertices")
    if rm.max() >= conn.n_regions or rm.min() < -1:
        raise ValueError(f"region mapping values span [{rm.min()}, {rm.max()}] but the "
                         f"connectome has {conn.n_regions} regions")
    if kind is None:
        kind = "meg" if "meg" in str(projection).lower() or "meg" in str(sensors).lower() \
            else "eeg"
    good = np.isfinite(proj).all(1) & (np.linalg.norm(pos, axis=1) > 0)
    dropped = [n for n, g in zip(names, good) if not g]
    if dropped:
        logger.info(f"projection: dropped {len(dropped)} channel(s) with NaN rows or no "
                    f"position: {dropped}")
    weights, counts = region_weights(rm, conn.n_regions, mode)
    gain = np.asarray((weights.T @ proj[good].T).T)
    empty = [conn.labels[r] for r in np.where(counts == 0)[0]]
    if empty:
        logger.warning(f"regions without vertices in the region mapping (zero gain): {empty}")
    sel = [n for n, g in zip(names, good) if g]
    info = _sensor_info(kind, sel, pos[good] @ axes_matrix("ALS").T)
    if head is None and len(rm) == 16384:
        try:
            head = read_tvb_head(region_labels=conn.labels, shells=None)
        except (ImportError, FileNotFoundError):
            head = None
    smap = None
    if head is not None and head is not False and head.cortex.n_vertices == len(rm):
        smap = _cortex_source_map(conn, head, rm, weights)
    prov = {"head_model": "tvb projection", "projection": str(projection) if not
            isinstance(projection, np.ndarray) else "array", "sensors": str(sensors),
            "dropped_channels": dropped, "empty_regions": empty,
            "note": "sensors placed in MNE's head frame from Brainstorm SCS (ALS)"}
    return ForwardModel(gain, info, conn.labels, source_map=smap, kind="tvb_projection",
                        mode=mode, provenance=prov)


def _sensor_info(kind, names, head_pos):
    """``mne.Info`` of EEG electrodes or (radially oriented point) magnetometers at
    ``head_pos`` (mm, MNE's head frame)."""
    import mne
    if kind == "eeg":
        info = mne.create_info(names, 1000.0, "eeg")
        info.set_montage(mne.channels.make_dig_montage(
            ch_pos={n: p * 1e-3 for n, p in zip(names, head_pos)}, coord_frame="head"))
        return info
    centre, _ = fit_sphere(head_pos)
    nn = head_pos - centre
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    info = mne.create_info(names, 1000.0, "mag")
    for ch, p, n in zip(info["chs"], head_pos, nn):
        ex = np.cross([0.0, 0.0, 1.0], n)
        ex = ex / np.linalg.norm(ex) if np.linalg.norm(ex) > 1e-6 else np.array([1.0, 0, 0])
        ch["loc"][:] = np.r_[p * 1e-3, ex, np.cross(n, ex), n]
        ch["coil_type"] = 2000  # FIFFV_COIL_POINT_MAGNETOMETER
        ch["coord_frame"] = 1   # device == head here
    info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
    return info


def _cortex_source_map(conn, head, rm, weights):
    """Surface :class:`SourceMap` of the region mapping ``rm`` on the cortex of ``head``,
    its vertices split into hemispheres (the connectome's, else by the sign of x)."""
    hemis = np.where(conn.hemispheres[np.maximum(rm, 0)], "rh", "lh") \
        if conn.hemispheres is not None else np.where(head.cortex.rr[:, 0] > 0, "rh", "lh")
    verts, order = [], []
    for h in ("lh", "rh"):
        idx = np.where(hemis == h)[0]
        verts.append(np.arange(len(idx)))  # vertex numbers of the hemisphere's own mesh
        order.append(idx)
    return SourceMap("surface", verts, weights[np.concatenate(order)], subject="tvb_cortex")
