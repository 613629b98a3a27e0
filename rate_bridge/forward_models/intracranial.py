"""Intracranial contacts (sEEG, ECoG, DBS): region lead fields on depth and surface electrodes.

Contacts come as an :class:`mne.channels.DigMontage` or a table of positions in **mm**, in one
of two frames:

``"mri"``
    The frame of the connectome's centres (and cortical surface): the MRI or atlas space the
    regions were defined in, e.g. the subject's FreeSurfer surface RAS when the parcellation is
    the subject's own. Contacts and regions are moved into MNE's head frame together, by the
    same rigid placement (rotation + shift, never a scale), so their distances are kept.
``"head"``
    MNE's head frame. The regions must then be brought there too: a connectome whose
    ``coord_frame`` is ``"head"``, or ``placement=`` the MRI -> head transform
    (:func:`mne.read_trans`, a 4 x 4 affine in mm); guessing it would put every contact at an
    arbitrary place relative to the regions, so ``placement="auto"`` is refused.

Lead fields (V per A·m of region moment):

``method="analytic"`` (default, offline)
    A current dipole of moment p at r0 in an infinite homogeneous conductor of conductivity
    sigma gives at r the potential (potential relative to infinity)

        V(r) = p . (r - r0) / (4 pi sigma |r - r0|^3)

    The standard approximation for depth recordings, whose near field dominates (skull and scalp
    are far and change mainly a smooth, distant part). Default sigma 0.33 S/m: the brain
    conductivity of MNE's sphere and BEM models (grey and white matter lie between ~0.14 and
    0.48 S/m).
``method="sphere"``
    MNE's forward solution (:func:`mne.make_forward_solution`) in a homogeneous sphere, for
    contacts on the sphere's surface: ECoG grids on an insulated brain sphere. MNE computes
    lead fields for EEG channels only, and only at the surface of its conductor (a sphere's
    formula is the surface potential; a BEM projects electrodes onto the scalp), so depth
    contacts are refused. The contacts are projected radially onto the sphere (at most
    ``tolerance`` mm). Compared with the infinite medium, the insulating surface doubles the
    near field and adds a smooth image term: gains come out 2-3 times larger, correlated
    (>= 0.99 per source in our tests) with the analytic ones.

Region moments are oriented as in :func:`~.sphere.from_sphere` (the connectome's orientations,
radial, or given; cortical vertices along their normals, combined per region by ``mode``), with
the same source code (:func:`~.sources.make_sources`).
"""
import os

import numpy as np

from ..utils import (UnknownNameError, check_option, finite_number, logger, validate_type,
                     verbose)
from .model import ForwardModel, SourceMap
from .placement import fit_sphere
from .sources import MODES, _centre_gain, compute_forward_model, make_sources, region_weights
from .surfaces import read_surface, vertex_normals

#: Conductivity (S/m) of the homogeneous medium: MNE's brain conductivity.
DEFAULT_SIGMA = 0.33
#: MNE channel types of intracranial contacts.
CH_TYPES = ("seeg", "ecog", "dbs")
#: Frames contacts may be given in (see the module doc).
FRAMES = ("head", "mri")
#: Head sphere (centre, radius; mm, head frame) used only to place regions in the "mri" case:
#: MNE's default head sphere, the one :func:`~.sphere.make_sphere` uses without electrodes.
_HEAD_CENTRE, _HEAD_RADIUS = (0.0, 0.0, 40.0), 90.0
#: How far (mm) beyond the farthest region source a contact may lie before it is refused.
_REACH_MM = 30.0
_NAME_COLUMNS = ("name", "ch_name", "channel", "contact", "label")
_TYPE_COLUMNS = ("type", "ch_type")
#: Electrode types of BIDS iEEG ``electrodes.tsv`` files, as MNE channel types.
_BIDS_TYPES = {"depth": "seeg", "grid": "ecog", "strip": "ecog"}


class Contacts:
    """Intracranial contacts: names, positions (mm), MNE channel types and coordinate frame."""

    def __init__(self, names, pos, types, coord_frame):
        self.names = [str(n) for n in names]
        self.pos = np.asarray(pos, float).reshape(-1, 3)
        self.types = list(types)
        self.coord_frame = coord_frame

    def __repr__(self):
        kinds = ", ".join(f"{self.types.count(t)} {t}" for t in CH_TYPES if t in self.types)
        return f"<Contacts | {kinds}, frame {self.coord_frame!r}>"


def _table(contacts):
    """Names, positions (mm) and types (or None) of a table: DataFrame, dict or file."""
    import pandas as pd
    if isinstance(contacts, (str, os.PathLike)):
        import io
        from ..adapters._files import read_file, reading
        where = str(contacts)
        with reading(where):
            text = read_file(contacts, text=True)
        sep = "\t" if where.lower().endswith((".tsv", ".tsv.gz")) else None
        try:
            contacts = pd.read_csv(io.BytesIO(text), sep=sep, engine="python",
                                   na_values=["n/a"])
        except (ValueError, UnicodeDecodeError) as err:   # pandas' ParserError, EmptyDataError
            raise ValueError(f"{where}: cannot read it as a table of contacts "
                             f"({type(err).__name__}: {err})") from None
    if isinstance(contacts, dict):
        try:
            pos = np.array([np.asarray(v, float).reshape(3) for v in contacts.values()])
        except (TypeError, ValueError):
            raise ValueError("a contacts dict must map each contact name to its (x, y, z) "
                             "position in mm") from None
        return list(contacts), pos.reshape(-1, 3), None
    validate_type(contacts, pd.DataFrame, "contacts", "a DigMontage, a DataFrame, a dict "
                  "{name: (x, y, z) mm} or a .tsv/.csv file")
    cols = {str(c).strip().lower(): c for c in contacts.columns}
    name_col = next((cols[c] for c in _NAME_COLUMNS if c in cols), None)
    missing = [c for c in ("x", "y", "z") if c not in cols]
    if name_col is None or missing:
        raise ValueError(f"the contacts table needs a name column (one of {_NAME_COLUMNS}) and "
                         f"columns x, y, z (mm); it has {list(contacts.columns)}")
    try:
        pos = contacts[[cols["x"], cols["y"], cols["z"]]].to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the contacts table's x, y, z columns must be numbers in mm "
                         f"({err})") from None
    type_col = next((cols[c] for c in _TYPE_COLUMNS if c in cols), None)
    types = None if type_col is None else \
        [_BIDS_TYPES.get(str(t).strip().lower(), str(t).strip().lower())
         for t in contacts[type_col]]
    return [str(n) for n in contacts[name_col]], pos, types


def read_contacts(contacts, ch_type=None, coord_frame=None):
    """Intracranial contacts from a montage or a table of positions.

    Parameters
    ----------
    contacts : mne.channels.DigMontage | pandas.DataFrame | dict | path-like
        A DigMontage (its channel positions and frame), a table with a name column (``name``,
        ``ch_name``, ``channel``, ``contact`` or ``label``), ``x``, ``y``, ``z`` in mm and an
        optional ``type`` column (``seeg``/``ecog``/``dbs``, or BIDS's ``depth`` -> seeg,
        ``grid``/``strip`` -> ecog), a dict ``{name: (x, y, z) mm}``, or a ``.tsv``/``.csv``
        file of such a table (``n/a`` marks a missing value; a BIDS ``electrodes.tsv`` in mm).
    ch_type : "seeg" | "ecog" | "dbs" | dict | None
        MNE channel type of every contact, or ``{name: type}``; None: the table's ``type``
        column, else ``"seeg"``.
    coord_frame : "mri" | "head" | None
        Frame of the positions (see the module doc); None: the montage's own frame, or
        ``"mri"`` for a table.

    Returns
    -------
    contacts : Contacts
    """
    import mne
    if isinstance(contacts, mne.channels.DigMontage):
        got = contacts.get_positions()
        names = list(got["ch_pos"])
        pos = np.array([got["ch_pos"][n] for n in names], float).reshape(-1, 3) * 1e3
        table_types, frame = None, got["coord_frame"]
    else:
        names, pos, table_types = _table(contacts)
        frame = "mri"
    frame = frame if coord_frame is None else coord_frame
    if frame not in FRAMES:
        raise ValueError(f"the contacts are in the coordinate frame {frame!r}; expected 'mri' "
                         f"(the frame of the connectome's centres) or 'head' (MNE's head "
                         f"frame). Pass coord_frame= to say which, or transform the montage "
                         f"first (DigMontage.apply_trans)")
    if not names:
        raise ValueError("no contacts given")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"contact names must be unique; repeated: {dup[:10]}")
    bad = ~np.isfinite(pos).all(1)
    if bad.any():
        raise ValueError(f"contacts without a finite position: "
                         f"{[names[k] for k in np.where(bad)[0][:10]]}")
    types = _contact_types(names, ch_type, table_types)
    if len(pos) > 1 and np.ptp(pos, axis=0).max() < 1.0:
        raise ValueError(f"the contact positions span only {np.ptp(pos, axis=0).max():.3g} "
                         f"mm; positions must be in mm (were they given in m?)")
    return Contacts(names, pos, types, frame)


def _contact_types(names, ch_type, table_types):
    if ch_type is None:
        types = table_types or ["seeg"] * len(names)
    elif isinstance(ch_type, dict):
        unknown = sorted(set(ch_type) - set(names))
        if unknown:
            raise UnknownNameError(f"ch_type names contacts that are not in the table: "
                                   f"{unknown[:10]}")
        missing = [n for n in names if n not in ch_type]
        if missing:
            raise ValueError(f"ch_type gives no type for contacts {missing[:10]}")
        types = [ch_type[n] for n in names]
    else:
        types = [ch_type] * len(names)
    for name, t in zip(names, types):
        check_option(f"channel type of contact {name!r}", t, CH_TYPES)
    return list(types)


def contacts_info(contacts, pos_head=None, sfreq=1000.0):
    """An :class:`mne.Info` with the contacts as seeg/ecog/dbs channels at their positions.

    Parameters
    ----------
    contacts : Contacts
    pos_head : array, shape (n_contacts, 3) | None
        Positions in the head frame (mm); default the contacts' own (which must then be in it).
    sfreq : float
    """
    import mne
    pos = contacts.pos if pos_head is None else np.asarray(pos_head, float)
    info = mne.create_info(contacts.names, float(sfreq), contacts.types)
    montage = mne.channels.make_dig_montage(
        ch_pos={n: p * 1e-3 for n, p in zip(contacts.names, pos)}, coord_frame="head")
    info.set_montage(montage)
    return info


def infinite_medium_gain(contacts, positions, orientations=None, sigma=DEFAULT_SIGMA):
    """Potential of current dipoles in an infinite homogeneous conductor.

    ``V = p . (r - r0) / (4 pi sigma |r - r0|^3)`` (relative to infinity).

    Parameters
    ----------
    contacts : array, shape (n_contacts, 3)
        Where the potential is taken, r (m).
    positions : array, shape (n_sources, 3)
        Dipole positions r0 (m).
    orientations : array, shape (n_sources, 3) | None
        Moment per A·m of each dipole (a unit direction, or a shorter vector); None gives the
        free-orientation gain.
    sigma : float
        Conductivity (S/m).

    Returns
    -------
    gain : ndarray, shape (n_contacts, n_sources) or (n_contacts, n_sources, 3)
        V per A·m.
    """
    r = np.asarray(contacts, float).reshape(-1, 3)
    r0 = np.asarray(positions, float).reshape(-1, 3)
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive conductivity in S/m, got {sigma}")
    out_shape = (len(r), len(r0)) + (() if orientations is not None else (3,))
    out = np.empty(out_shape)
    step = max(1, 2_000_000 // max(1, len(r)))      # bounded memory for dense cortices
    for s in range(0, len(r0), step):
        d = r[:, None, :] - r0[None, s:s + step]    # (n_contacts, chunk, 3)
        k = 1.0 / (4 * np.pi * sigma * np.linalg.norm(d, axis=2) ** 3)
        if orientations is None:
            out[:, s:s + step] = d * k[..., None]
        else:
            nn = np.asarray(orientations, float)[s:s + step]
            out[:, s:s + step] = np.einsum("csx,sx->cs", d, nn) * k
    return out


def _sources_and_contacts(conn, contacts, surface, orientation, placement, axes, offset):
    """Region sources in the head frame and the contacts' head positions (mm)."""
    if surface is not None:
        surface = read_surface(surface, coord_frame=conn.coord_frame)
    frame = surface.coord_frame if surface is not None else conn.coord_frame
    if contacts.coord_frame == "head" and frame != "head" and \
            isinstance(placement, str) and placement == "auto":
        raise ValueError(f"the contacts are in the head frame but the regions are in "
                         f"{frame!r}: pass placement= (the MRI -> head transform, e.g. "
                         f"mne.read_trans(...), or a 4 x 4 affine in mm) or give the contacts "
                         f"in the connectome's frame (coord_frame='mri')")
    sources = make_sources(conn, surface=surface, orientation=orientation, placement=placement,
                           axes=axes, offset=offset, scale=1.0, r0=_HEAD_CENTRE,
                           inner_radius=0.9 * _HEAD_RADIUS)
    pos = sources.placement.apply(contacts.pos) if contacts.coord_frame == "mri" \
        else contacts.pos
    return sources, pos


def _check_geometry(names, pos, sources, min_distance):
    """Refuse contacts beyond the regions' reach, or on top of a source (singular)."""
    rr = sources.rr
    centroid = rr.mean(0)
    reach = np.linalg.norm(rr - centroid, axis=1).max() + _REACH_MM
    far = np.linalg.norm(pos - centroid, axis=1) > reach
    if far.any():
        raise ValueError(f"contacts {[names[k] for k in np.where(far)[0][:10]]} lie outside "
                         f"the brain: more than {_REACH_MM:g} mm beyond the farthest region "
                         f"source (head frame, mm). Check the units (mm), the coordinate frame "
                         f"of the contacts and the placement")
    if min_distance > 0:
        from scipy.spatial import cKDTree
        dist, idx = cKDTree(rr).query(pos)
        near = np.where(dist < min_distance)[0]
        if len(near):
            k = near[0]
            raise ValueError(f"contact {names[k]!r} lies {dist[k]:.3g} mm from a source of "
                             f"region {sources.labels[sources.region[idx[k]]]!r}, closer than "
                             f"min_distance={min_distance:g} mm: a point dipole's potential "
                             f"diverges there. Move the contact or lower min_distance")


def _analytic(contacts_m, sources, mode, sigma):
    """Region gain, source map and mode of the infinite-medium lead field."""
    n_reg = len(sources.labels)
    if sources.kind == "centres":
        g = infinite_medium_gain(contacts_m, sources.rr * 1e-3, sigma=sigma)
        kept = np.arange(len(sources.rr))
        gain, weights, _ = _centre_gain(g, sources, kept, n_reg)
        return gain, SourceMap("volume", [kept], weights), "centre"
    nn = vertex_normals(sources.rr, sources.tris)
    region = sources.region
    weights, counts = region_weights(region, n_reg, "mean" if mode == "dipole" else mode)
    if mode == "dipole":   # as sources._dipole_gain: centroid, mean normal not renormalised
        gain = np.zeros((len(contacts_m), n_reg))
        for r in np.where(counts > 0)[0]:
            sel = region == r
            gain[:, r] = infinite_medium_gain(contacts_m, sources.rr[sel].mean(0) * 1e-3,
                                     nn[sel].mean(0)[None], sigma)[:, 0]
    else:
        fixed = infinite_medium_gain(contacts_m, sources.rr * 1e-3, nn, sigma)  # (n_ch, n_vert)
        gain = np.asarray(weights.T @ fixed.T).T
    lh, rh = (np.where(sources.hemis == h)[0] for h in ("lh", "rh"))
    smap = SourceMap("surface", [np.arange(len(lh)), np.arange(len(rh))],
                     weights[np.r_[lh, rh]])
    return gain, smap, mode


def _sphere(contacts, pos, sphere, sigma, tolerance):
    """MNE's homogeneous sphere whose surface carries the contacts, and their projections."""
    import mne
    if isinstance(sphere, str):
        check_option("sphere", sphere, ("auto",), extra=" or (r0_mm, radius_mm)")
        if len(pos) < 4:
            raise ValueError("fitting a sphere to the contacts needs at least 4 of them; pass "
                             "sphere=(r0_mm, radius_mm)")
        r0, radius = fit_sphere(pos)
        if not 30.0 <= radius <= 150.0:
            raise ValueError(f"the sphere fitted to the contacts has a radius of {radius:.0f} "
                             f"mm, not a brain's; pass sphere=(r0_mm, radius_mm)")
    else:
        try:
            r0, radius = np.asarray(sphere[0], float).reshape(3), float(sphere[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"sphere must be 'auto' or (r0_mm, radius_mm), got "
                             f"{sphere!r:.80}") from None
    rel = pos - r0
    dist = np.linalg.norm(rel, axis=1)
    off = np.abs(dist - radius)
    bad = np.where(off > tolerance)[0]
    if len(bad):
        raise ValueError(f"contacts {[contacts.names[k] for k in bad[:10]]} lie up to "
                         f"{off.max():.1f} mm off the surface of the sphere (radius "
                         f"{radius:.1f} mm): MNE's sphere model gives potentials on its surface "
                         f"(ECoG on a brain sphere), not at depth; use method='analytic' for "
                         f"sEEG/DBS, or pass sphere= / tolerance=")
    cond = mne.make_sphere_model(r0 * 1e-3, radius * 1e-3, None, relative_radii=(0.99, 1.0),
                                 sigmas=(sigma, sigma), verbose=False)
    return cond, r0 + rel / dist[:, None] * radius


def _sphere_model(contacts, pos, sources, sphere, sigma, tolerance, mode, on_dropped, prov):
    """Lead field from MNE: the contacts as EEG electrodes on a homogeneous sphere."""
    import mne
    cond, on_surface = _sphere(contacts, pos, sphere, sigma, tolerance)
    eeg = mne.create_info(contacts.names, 1000.0, "eeg")
    eeg.set_montage(mne.channels.make_dig_montage(
        ch_pos={n: p * 1e-3 for n, p in zip(contacts.names, on_surface)}, coord_frame="head"))
    prov.update(sphere_r0_mm=(np.asarray(cond["r0"]) * 1e3).round(3).tolist(),
                sphere_radius_mm=round(float(cond["layers"][-1]["rad"]) * 1e3, 3))
    fm = compute_forward_model(eeg, cond, sources, mode=mode, kind="sphere",
                               on_dropped=on_dropped, provenance=prov)
    order = [contacts.names.index(n) for n in fm.info.ch_names]
    return fm, order, cond


@verbose
def from_intracranial(conn, contacts, *, ch_type=None, coord_frame=None, method="analytic",
                      sigma=DEFAULT_SIGMA, surface=None, orientation="auto", mode="mean",
                      placement="auto", axes=None, offset=None, sphere="auto", tolerance=5.0,
                      min_distance=1.0, on_dropped="warn", verbose=None):
    """Forward model of brain regions on intracranial contacts (sEEG, ECoG, DBS).

    Parameters
    ----------
    conn : Connectome
        Regions (the model's columns), centres in mm, optional orientations.
    contacts : mne.channels.DigMontage | pandas.DataFrame | dict | path-like
        Contact positions in mm (see :func:`read_contacts`).
    ch_type : "seeg" | "ecog" | "dbs" | dict | None
        MNE channel types (see :func:`read_contacts`).
    coord_frame : "mri" | "head" | None
        Frame of the contacts (see the module doc and :func:`read_contacts`).
    method : "analytic" | "sphere"
        Infinite homogeneous medium (default), or MNE's homogeneous sphere for contacts on its
        surface (see the module doc).
    sigma : float
        Conductivity in S/m (default :data:`DEFAULT_SIGMA`).
    surface, orientation, mode
        Sources: region centres with their orientations, or cortical vertices combined per
        region, as in :func:`~.sphere.from_sphere`.
    placement : "auto" | "none" | array (4, 4) | mne.transforms.Transform
        How regions (and contacts given in ``"mri"``) get into the head frame; ``"auto"``
        reorients by ``axes`` and shifts the centroid by ``offset`` from MNE's default head
        centre (rigid: distances are kept).
    axes, offset
        See :func:`~.placement.place_sources`.
    sphere : "auto" | (r0_mm, radius_mm)
        ``method="sphere"``: the sphere (head frame); ``"auto"`` fits it to the contacts.
    tolerance : float
        ``method="sphere"``: how far (mm) a contact may lie off the sphere's surface.
    min_distance : float
        Closest a contact may come to a point source (mm): the potential diverges there.
    on_dropped : "warn" | "raise" | "ignore"
        ``method="sphere"``: sources outside the sphere (see :func:`~.sphere.from_sphere`).
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
        ``fm.gain`` in V/(A·m); ``fm.info`` has the contacts as seeg/ecog/dbs channels at their
        head-frame positions. ``fm.to_raw`` gives potentials relative to infinity with
        ``reference=None``, a common average per channel type by default; bipolar montages
        via :func:`mne.set_bipolar_reference`.
    """
    import mne
    check_option("method", method, ("analytic", "sphere"),
                 extra=" (MNE's BEM projects electrodes onto the scalp, so it gives no "
                       "intracranial lead field)")
    check_option("mode", mode, MODES)
    sigma, tolerance, min_distance = (finite_number(v, k) for k, v in (
        ("sigma", sigma), ("tolerance", tolerance), ("min_distance", min_distance)))
    if sigma <= 0:
        raise ValueError(f"sigma must be a positive conductivity in S/m, got {sigma}")
    contacts = read_contacts(contacts, ch_type, coord_frame)
    sources, pos = _sources_and_contacts(conn, contacts, surface, orientation, placement, axes,
                                         offset)
    _check_geometry(contacts.names, pos, sources, min_distance)
    info = contacts_info(contacts, pos)
    prov = {"head_model": "infinite homogeneous medium" if method == "analytic" else
            "homogeneous sphere (MNE)", "sigma": sigma, "method": method,
            "contacts_frame": contacts.coord_frame,
            "sources": "surface" if surface is not None else "centres"}
    if method == "sphere":
        fm, order, cond = _sphere_model(contacts, pos, sources, sphere, sigma, tolerance, mode,
                                        on_dropped, prov)
        out = ForwardModel(fm.gain, mne.pick_info(info, order), fm.labels, forward=fm.forward,
                           source_map=fm.source_map, kind="intracranial", mode=fm.mode,
                           provenance=fm.provenance)
        out.conductor = cond
    else:
        gain, smap, mode_used = _analytic(pos * 1e-3, sources, mode, sigma)
        prov.update(placement=sources.placement.as_dict(), n_sources=len(sources.rr),
                    dropped={"n_sources": 0, "regions": []})
        out = ForwardModel(gain, info, sources.labels, source_map=smap, kind="intracranial",
                           mode=mode_used, provenance=prov)
    logger.info(f"from_intracranial: {out!r} ({prov['head_model']}, sigma {sigma:g} S/m)")
    return out
