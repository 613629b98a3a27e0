"""Synthetic MEG sensor arrays on the helmet surfaces MNE ships (no download needed)."""
import os

import numpy as np

from ..utils import check_known, check_option, logger, verbose
from .placement import fit_sphere

_COIL_MAG = 3024    # FIFF.FIFFV_COIL_VV_MAG_T3   (Vectorview magnetometer, 25.8 mm square)
_COIL_GRAD = 3012   # FIFF.FIFFV_COIL_VV_PLANAR_T1 (Vectorview planar gradiometer)
_COORD_DEVICE = 1   # FIFF.FIFFV_COORD_DEVICE


def helmet_names():
    """Names of the helmet surfaces shipped with MNE (``mne/data/helmets``)."""
    import mne
    root = os.path.join(os.path.dirname(mne.__file__), "data", "helmets")
    return sorted(f[:-len(".fif.gz")] for f in os.listdir(root) if f.endswith(".fif.gz"))


def read_helmet(name="306m"):
    """A helmet surface shipped with MNE, via :func:`mne.read_bem_surfaces`.

    Returns
    -------
    rr : ndarray, shape (n, 3)
        Vertices in mm (helmet frame: x right, y anterior, z up).
    nn : ndarray, shape (n, 3)
        Unit normals pointing away from the head.
    """
    import mne
    check_known(name, helmet_names(), "helmet")
    path = os.path.join(os.path.dirname(mne.__file__), "data", "helmets", f"{name}.fif.gz")
    surf = mne.read_bem_surfaces(path, verbose=False)[0]
    rr = np.asarray(surf["rr"], float) * 1e3
    nn = np.asarray(surf["nn"], float)
    centre, _ = fit_sphere(rr)
    flip = np.einsum("ij,ij->i", nn, rr - centre) < 0
    nn[flip] *= -1
    return rr, nn


def farthest_point_sample(points, n, start=None):
    """Indices of ``n`` points spread evenly by greedy farthest-point sampling."""
    points = np.asarray(points, float)
    n = int(n)
    if n >= len(points):
        return np.arange(len(points))
    if start is None:  # the highest point, for a reproducible start at the vertex
        start = int(np.argmax(points[:, 2]))
    idx = [start]
    dist = np.linalg.norm(points - points[start], axis=1)
    for _ in range(n - 1):
        k = int(np.argmax(dist))
        idx.append(k)
        dist = np.minimum(dist, np.linalg.norm(points - points[k], axis=1))
    return np.array(sorted(idx))


def _tangents(ez):
    ref = np.where(np.abs(ez[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    ex = np.cross(ref, ez)
    ex /= np.linalg.norm(ex, axis=1, keepdims=True)
    ey = np.cross(ez, ex)
    return ex, ey


@verbose
def make_meg_info(helmet="306m", *, kind="mag", n_sensors=102, center=(0.0, 0.0, 40.0),
                  offset=(0.0, 0.0, 0.0), distance=0.0, sfreq=1000.0, verbose=None):
    """An MNE Info with synthetic MEG sensors on a helmet surface MNE ships.

    Sensor locations are ``n_sensors`` helmet vertices spread by farthest-point sampling,
    pushed ``distance`` mm outward along the helmet normal. Each location gets a Vectorview-type
    magnetometer (``FIFFV_COIL_VV_MAG_T3``, normal to the helmet) and/or two orthogonal planar
    gradiometers (``FIFFV_COIL_VV_PLANAR_T1``). Channel positions are in the device frame; the
    device -> head transform (``info['dev_head_t']``) is a translation putting the centre of a
    sphere fitted to the helmet at ``center + offset`` (head frame) -- the head centred in the
    helmet.

    Parameters
    ----------
    helmet : str
        One of :func:`helmet_names` (``"306m"``, ``"CTF_275"``, ``"KIT"``, ...).
    kind : "mag" | "grad" | "both"
        Magnetometers (T), planar gradiometer pairs (T/m), or both at every location
        (Vectorview-like triplets).
    n_sensors : int | None
        Number of locations; all helmet vertices if None.
    center : array-like, shape (3,)
        Head centre in the head frame (mm), e.g. the centre of the sphere head model.
    offset : array-like, shape (3,)
        Shift (mm) of the helmet centre from ``center``.
    distance : float
        Outward shift (mm) of the sensors from the helmet surface.
    sfreq : float
        Sampling rate written into the Info (Hz).
    %(verbose)s

    Returns
    -------
    info : mne.Info
    """
    import mne
    check_option("kind", kind, ("mag", "grad", "both"))
    rr, nn = read_helmet(helmet)
    idx = farthest_point_sample(rr, n_sensors if n_sensors is not None else len(rr))
    rr = rr[idx] + float(distance) * nn[idx]
    nn = nn[idx]
    ex, ey = _tangents(nn)
    names, types, locs = [], [], []
    for k in range(len(rr)):
        base = f"MEG {k + 1:03d}"
        if kind in ("mag", "both"):
            names.append(base + "1")
            types.append("mag")
            locs.append(np.r_[rr[k] * 1e-3, ex[k], ey[k], nn[k]])
        if kind in ("grad", "both"):
            names += [base + "2", base + "3"]
            types += ["grad", "grad"]
            locs.append(np.r_[rr[k] * 1e-3, ex[k], ey[k], nn[k]])
            locs.append(np.r_[rr[k] * 1e-3, ey[k], -ex[k], nn[k]])
    info = mne.create_info(names, float(sfreq), types)
    for ch, loc, typ in zip(info["chs"], locs, types):
        ch["loc"][:] = loc
        ch["coil_type"] = _COIL_MAG if typ == "mag" else _COIL_GRAD
        ch["coord_frame"] = _COORD_DEVICE
    centre, radius = fit_sphere(read_helmet(helmet)[0])
    dev_head = np.eye(4)
    dev_head[:3, 3] = (np.asarray(center, float) + np.asarray(offset, float) - centre) * 1e-3
    info["dev_head_t"] = mne.transforms.Transform("meg", "head", dev_head)
    logger.info(f"synthetic MEG: {len(names)} {kind} channels at {len(rr)} locations on the "
                f"{helmet} helmet (fitted radius {radius:.0f} mm)")
    return info
