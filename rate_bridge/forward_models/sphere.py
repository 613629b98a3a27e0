"""Spherical head models, fully offline: the default forward model."""
import numpy as np

from ..utils import check_option, logger, verbose
from .sensors import eeg_positions, make_sensor_info
from .sources import compute_forward_model, make_sources

#: MNE's default four-shell sphere (brain, CSF, skull, scalp): relative radii and S/m.
DEFAULT_RADII = (0.90, 0.92, 0.97, 1.0)
DEFAULT_SIGMAS = (0.33, 1.0, 0.004, 0.33)


@verbose
def make_sphere(info, sphere="auto", *, relative_radii=DEFAULT_RADII, sigmas=DEFAULT_SIGMAS,
                verbose=None):
    """A spherical conductor model (:func:`mne.make_sphere_model`).

    Parameters
    ----------
    info : mne.Info
        Sensors; with ``sphere="auto"`` the sphere is fitted to their digitisation (EEG
        electrodes of a montage).
    sphere : "auto" | tuple | mne.bem.ConductorModel
        ``"auto"``: fitted to the head points of ``info`` (MNE's default centre (0, 0, 40) mm
        and radius 90 mm when there are none); ``(r0, radius)`` with ``r0`` (3,) and radius in
        mm; or a spherical ConductorModel used as is.
    relative_radii, sigmas : tuple of float
        Layer radii (fraction of the scalp radius) and conductivities (S/m), innermost first.
    %(verbose)s

    Returns
    -------
    sphere : mne.bem.ConductorModel
    """
    import mne
    if isinstance(sphere, mne.bem.ConductorModel):
        if not sphere["is_sphere"]:
            raise ValueError("sphere must be a spherical ConductorModel; for a BEM use from_bem")
        return sphere
    if isinstance(sphere, str):
        check_option("sphere", sphere, ("auto",), extra=", (r0_mm, radius_mm) or a "
                     "ConductorModel")
        has_dig = info["dig"] is not None and len(info["dig"]) >= 4
        if has_dig:
            return mne.make_sphere_model("auto", "auto", info, relative_radii=relative_radii,
                                         sigmas=sigmas, verbose=False)
        logger.info("no head points in the sensors' Info: sphere at (0, 0, 40) mm, radius "
                    "90 mm")
        r0, radius = (0.0, 0.0, 40.0), 90.0
    else:
        try:
            r0, radius = sphere
            r0 = np.asarray(r0, float).reshape(3)
            radius = float(radius)
        except (TypeError, ValueError):
            raise ValueError(f"sphere must be 'auto', (r0_mm, radius_mm) or a ConductorModel, "
                             f"got {sphere!r:.80}") from None
    return mne.make_sphere_model(np.asarray(r0) * 1e-3, radius * 1e-3, None,
                                 relative_radii=relative_radii, sigmas=sigmas, verbose=False)


def sphere_geometry(sphere):
    """Centre (mm), inner-skull (innermost layer) and scalp radius (mm) of a sphere model."""
    r0 = np.asarray(sphere["r0"], float) * 1e3
    layers = sphere["layers"]
    if not layers:  # MEG-only sphere
        return r0, 81.0, 90.0
    return r0, float(layers[0]["rad"]) * 1e3, float(layers[-1]["rad"]) * 1e3


@verbose
def from_sphere(conn, montage="biosemi64", *, meg=False, surface=None, orientation="auto",
                mode="mean", placement="auto", axes=None, offset=None, scale="auto",
                sphere="auto", relative_radii=DEFAULT_RADII, sigmas=DEFAULT_SIGMAS,
                mindist=0.0, on_dropped="warn", verbose=None):
    """Forward model in a spherical head -- offline, the default.

    Parameters
    ----------
    conn : Connectome
        Regions (labels = the forward model's columns), centres in mm, optional orientations
        and hemisphere flags.
    montage : str | mne.channels.DigMontage | mne.Info | dict | None
        EEG electrodes: any montage MNE ships (``"biosemi64"``, ``"standard_1020"``, ...), a
        DigMontage, ``{name: (x, y, z) mm}`` in the head frame, or an Info whose EEG/MEG
        channels are used as they are. None for MEG only.
    meg : bool | str | dict
        Add synthetic MEG sensors on a helmet MNE ships (see :func:`~.meg.make_meg_info`).
    surface : Surface | str | tuple | None
        Cortical surface with a region mapping (e.g. tvb-data's cortex): one fixed dipole per
        vertex along its normal, combined per region by ``mode``. None: one dipole per region
        at its centre.
    orientation : "auto" | "connectome" | "radial" | array
        Region-centre dipoles: the connectome's orientations when it has them (``"auto"``),
        radial to the sphere (silent in MEG!), or an (n_regions, 3) array in the connectome's
        frame. Orientations are unit directions; the moment is the signal times
        ``moment_scale``.
    mode : "mean" | "sum" | "dipole"
        Surface sources: a region's moment spread equally over its vertices (``"mean"``,
        default: the signal is the region's total moment), the full moment on every vertex
        (``"sum"``, TVB's convention), or one equivalent dipole at the centroid along the mean
        normal (``"dipole"``).
    placement : "auto" | "none" | array (4, 4) | mne.transforms.Transform
        How the centres/vertices get into MNE's head frame (see :mod:`.placement`).
        ``"auto"`` reorients (``axes``), centres them on the sphere (``offset``, mm) and
        shrinks them only if needed to fit inside the inner skull.
    axes : str | None
        Axis code of the connectome's frame (``"RAS"``, ``"ALS"``...); None: from
        ``conn.coord_frame`` (TVB's ``"tvb"`` is ALS) or inferred.
    offset : array (3,) | None
        Centroid of the centres relative to the sphere centre (mm, RAS); default
        :data:`~.placement.DEFAULT_OFFSET`.
    scale : "auto" | float
        Isotropic scale of the placement.
    sphere : "auto" | (r0_mm, radius_mm) | mne.bem.ConductorModel
        Head sphere (fitted to the electrodes by default).
    relative_radii, sigmas : tuple
        Shells of the sphere (default MNE's brain/CSF/skull/scalp).
    mindist : float
        Minimum distance (mm) of sources to the inner skull.
    on_dropped : "warn" | "raise" | "ignore"
        What to do when the sphere drops sources outside its inner shell (they are always
        listed in ``fm.provenance["dropped"]``).
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
        ``fm.gain`` in V/(A·m) (EEG), T/(A·m) (MEG); ``fm.forward`` is MNE's free-orientation
        forward solution on the same sources.
    """
    info = make_sensor_info(montage, meg=meg)
    cond = make_sphere(info, sphere, relative_radii=relative_radii, sigmas=sigmas)
    r0, r_inner, r_scalp = sphere_geometry(cond)
    sources = make_sources(conn, surface=surface, orientation=orientation, placement=placement,
                           axes=axes, offset=offset, scale=scale, r0=r0, inner_radius=r_inner)
    if sources.kind == "centres" and getattr(sources, "orientation", "") == "radial" and \
            any(t in ("mag", "grad") for t in info.get_channel_types()):
        logger.warning("radial dipoles produce no magnetic field outside a sphere: the MEG gain "
                       "will be ~0; pass orientation= or a surface")

    def outside(rr):
        return np.linalg.norm(rr - r0, axis=1) > r_scalp
    from .sources import _check_in_head
    _check_in_head(sources, outside)
    _, pos = eeg_positions(info)
    if len(pos) and np.median(np.linalg.norm(pos - r0, axis=1)) < r_inner:
        raise ValueError(f"the EEG electrodes lie inside the brain compartment of the sphere "
                         f"(median distance {np.median(np.linalg.norm(pos - r0, axis=1)):.0f} mm "
                         f"from the centre, inner radius {r_inner:.0f} mm); are the positions in "
                         f"mm/m consistently?")
    prov = {"head_model": "sphere", "r0_mm": r0.round(3).tolist(),
            "radii_mm": [round(float(layer["rad"]) * 1e3, 3) for layer in cond["layers"]],
            "sigmas": [float(layer["sigma"]) for layer in cond["layers"]],
            "montage": montage if isinstance(montage, str) else type(montage).__name__,
            "sources": "surface" if surface is not None else "centres"}
    fm = compute_forward_model(info, cond, sources, mode=mode, kind="sphere",
                               mindist=mindist, on_dropped=on_dropped, provenance=prov)
    fm.conductor = cond
    logger.info(f"from_sphere: {fm!r} (sphere r0 {r0.round(1).tolist()} mm, R {r_scalp:.0f} mm)")
    return fm


@verbose
def default_eeg(conn, *, verbose=None, **kwargs):
    """The default forward model of the command line: sphere head, BioSemi 64 electrodes.

    Equivalent to ``from_sphere(conn, montage="biosemi64", **kwargs)``.
    """
    kwargs.setdefault("montage", "biosemi64")
    return from_sphere(conn, **kwargs)
