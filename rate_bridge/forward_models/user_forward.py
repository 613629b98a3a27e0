"""Region lead fields from a user's MNE forward solution and a parcellation."""
import os

import numpy as np

from ..utils import check_option, logger, validate_type, verbose, warn
from .model import ForwardModel, SourceMap
from .sources import MODES, region_weights

_LH, _RH = 101, 102  # FIFF.FIFFV_MNE_SURF_LEFT_HEMI / RIGHT_HEMI


def _hemi_of(s, k):
    sid = int(s.get("id", -1))
    if sid == _LH:
        return "lh"
    if sid == _RH:
        return "rh"
    return ("lh", "rh")[k] if k < 2 else None


def _source_regions(fwd, labels, region_names, subjects_dir):
    """Region index of every source of the forward (concatenated ``vertno`` order) + names."""
    import mne
    src = fwd["src"]
    offsets = np.cumsum([0] + [len(s["vertno"]) for s in src])
    n_src = offsets[-1]
    if isinstance(labels, str) or (isinstance(labels, (tuple, list)) and len(labels) == 2 and
                                   all(isinstance(x, str) for x in labels)):
        parc, subject = (labels, src[0].get("subject_his_id")) if isinstance(labels, str) \
            else (labels[1], labels[0])
        if subject is None:
            raise ValueError("the forward's source space names no subject; pass labels as "
                             "(subject, parc)")
        labels = mne.read_labels_from_annot(subject, parc, subjects_dir=subjects_dir,
                                            verbose=False)
        labels = [lab for lab in labels if "unknown" not in lab.name.lower()]
    if isinstance(labels, (list, tuple)) and labels and isinstance(labels[0], mne.Label):
        if any(s["type"] != "surf" for s in src):
            raise ValueError("MNE labels need a surface source space; for volume/discrete "
                             "sources pass a region mapping array")
        hemis = {_hemi_of(s, k): k for k, s in enumerate(src)}
        names = [lab.name for lab in labels]
        if len(set(names)) != len(names):
            raise ValueError("label names must be unique (they become region labels)")
        region = np.full(n_src, -1)
        for r, lab in enumerate(labels):
            parts = [lab.lh, lab.rh] if isinstance(lab, mne.BiHemiLabel) else [lab]
            for part in parts:
                if part.hemi not in hemis:
                    raise ValueError(f"label {lab.name!r} is on {part.hemi}, which the forward "
                                     f"does not have")
                k = hemis[part.hemi]
                vno = np.asarray(src[k]["vertno"])
                hit = np.where(np.isin(vno, part.vertices))[0] + offsets[k]
                clash = region[hit] >= 0
                if clash.any():
                    other = names[region[hit][clash][0]]
                    raise ValueError(f"labels {other!r} and {lab.name!r} overlap; a source "
                                     f"belongs to one region only")
                region[hit] = r
        return region, names
    rm = labels
    if isinstance(rm, (list, tuple)) and len(rm) == len(src) and \
            all(np.ndim(x) == 1 for x in rm):
        rm = np.concatenate([np.asarray(x)[np.asarray(s["vertno"])] if len(x) == s["np"]
                             else np.asarray(x) for x, s in zip(rm, src)])
    rm = np.asarray(rm)
    if rm.ndim != 1 or not np.issubdtype(rm.dtype, np.number) or \
            not np.array_equal(rm, np.round(rm)):
        raise TypeError("labels must be a list of mne.Label, an annotation name (parc) or "
                        "(subject, parc), or a region mapping (integer array)")
    rm = rm.astype(np.int64)
    n_full = sum(int(s["np"]) for s in src)
    if len(rm) == n_full and n_full != n_src:
        full_off = np.cumsum([0] + [int(s["np"]) for s in src])
        rm = np.concatenate([rm[full_off[k]:full_off[k + 1]][np.asarray(s["vertno"])]
                             for k, s in enumerate(src)])
    elif len(rm) != n_src:
        raise ValueError(f"the region mapping has {len(rm)} entries; expected one per source "
                         f"of the forward ({n_src}, in vertno order, lh then rh) or one per "
                         f"source-space point ({n_full})")
    n_reg = int(rm.max()) + 1
    if region_names is None:
        names = [f"r{k}" for k in range(n_reg)]
    else:
        names = [str(x) for x in region_names]
        if rm.max() >= len(names):
            raise ValueError(f"the region mapping refers to region {rm.max()} but only "
                             f"{len(names)} names were given")
    return rm, names


@verbose
def from_forward(fwd, labels, *, names=None, mode="mean", bem=None, subjects_dir=None,
                 on_dropped="warn", verbose=None):
    """A region forward model from an MNE forward solution and a parcellation.

    Parameters
    ----------
    fwd : mne.Forward | str
        Forward solution (object or ``-fwd.fif``), free or fixed orientation, surface,
        volume or discrete source space.
    labels : list of mne.Label | str | (str, str) | array of int | Connectome-ordered list
        The parcellation: MNE labels (one region each; :class:`mne.BiHemiLabel` allowed), an
        annotation read with :func:`mne.read_labels_from_annot` (``"aparc"`` for the
        forward's subject, or ``(subject, parc)``), or a region mapping: region index (-1 =
        none) of every source in ``vertno`` order (lh then rh), of every source-space point, or
        a list with one array per source space.
    names : list of str | Connectome | None
        Region labels: reorders/selects the regions (by name; ``"X"`` also matches an
        annotation's ``"X-lh"``/``"X-rh"``) for label inputs; names the region indices of a
        region mapping (default ``"r0", "r1", ...``).
    mode : "mean" | "sum" | "dipole"
        Region gain from the sources' fixed-orientation gains (normal to the cortex):
        ``"mean"`` (default) -- the region signal is the region's total moment, spread equally
        over its sources; ``"sum"`` -- every source carries the full moment (TVB's convention);
        ``"dipole"`` -- one equivalent dipole at the sources' centroid along their mean normal
        (recomputed with ``bem`` when given, else using the free-orientation gain of the
        source nearest to the centroid).
    bem : mne.bem.ConductorModel | str | None
        Conductor model of the forward (``-sol.fif`` or a sphere) for exact dipole gains.
    subjects_dir : str | None
        For annotations.
    on_dropped : "warn" | "raise" | "ignore"
        Regions without any source in the forward.
    %(verbose)s

    Returns
    -------
    fm : ForwardModel
        Sensors = the forward's channels; ``fm.forward`` is ``fwd``.
    """
    import mne
    if isinstance(fwd, (str, os.PathLike)):
        fwd = mne.read_forward_solution(str(fwd), verbose=False)
    validate_type(fwd, mne.Forward, "fwd", "an mne.Forward or a -fwd.fif path")
    check_option("mode", mode, MODES)
    src = fwd["src"]
    is_surf = all(s["type"] == "surf" for s in src)
    fixed_ori = fwd["source_ori"] == 1  # FIFFV_MNE_FIXED_ORI
    wanted = None
    if names is not None and hasattr(names, "labels") and not isinstance(names, list):
        names = list(names.labels)
    if _is_region_mapping(labels, mne):
        region, lab_names = _source_regions(fwd, labels, names, subjects_dir)
    else:
        region, lab_names = _source_regions(fwd, labels, None, subjects_dir)
        wanted = names
    g_fixed, nn = _fixed_gain(fwd, src, fixed_ori, is_surf)
    gain, weights, counts = _region_gain(g_fixed, region, len(lab_names), mode,
                                         fwd=fwd, bem=bem, nn=nn, fixed_ori=fixed_ori)
    lost = [lab_names[r] for r in np.where(counts == 0)[0]]
    if lost:
        msg = f"regions without any source in the forward (zero gain): {lost[:20]}"
        if on_dropped == "raise":
            raise ValueError(msg)
        if on_dropped == "warn":
            warn(msg, RuntimeWarning)
    info = mne.pick_info(fwd["info"], [fwd["info"].ch_names.index(n)
                                       for n in fwd["sol"]["row_names"]])
    if wanted is not None:
        sel = _named_regions(wanted, lab_names)
        gain, weights, lab_names = gain[:, sel], weights[:, sel], list(wanted)
    info, gain = _eeg_meg_only(info, gain)
    smap = _source_map(src, is_surf, weights)
    prov = {"head_model": "user forward", "n_sources": int(len(region)),
            "dropped": {"n_sources": 0, "regions": lost},
            "unassigned_sources": int((region < 0).sum())}
    return ForwardModel(gain, info, lab_names, forward=fwd, source_map=smap, kind="forward",
                        mode=mode, provenance=prov)


def _is_region_mapping(labels, mne):
    """True unless ``labels`` are MNE labels or names an annotation (``"aparc"`` or
    ``(subject, parc)``)."""
    return not (isinstance(labels, (list, tuple)) and labels and
                isinstance(labels[0], mne.Label)) and not isinstance(labels, str) and \
        not (isinstance(labels, tuple) and all(isinstance(x, str) for x in labels))


def _fixed_gain(fwd, src, fixed_ori, is_surf):
    """Fixed-orientation gain (n_ch, n_src) and source normals (head frame) of ``fwd``."""
    import mne
    if fixed_ori:
        return np.asarray(fwd["sol"]["data"]), np.asarray(fwd["source_nn"])
    if is_surf:
        conv = mne.convert_forward_solution(fwd, surf_ori=True, force_fixed=True,
                                            use_cps=True, verbose=False)
        return np.asarray(conv["sol"]["data"]), np.asarray(conv["source_nn"])
    nn = np.concatenate([np.asarray(s["nn"])[np.asarray(s["vertno"])] for s in src])
    if np.allclose(nn, nn[0]) and len(nn) > 1:
        raise ValueError("this volume source space has no meaningful orientations (all "
                         "normals equal); region gains need fixed orientations -- use a "
                         "discrete source space with normals (pos=dict(rr=..., nn=...))")
    conv = mne.convert_forward_solution(fwd, surf_ori=False, force_fixed=False,
                                        verbose=False)
    g = np.asarray(conv["sol"]["data"]).reshape(len(conv["sol"]["row_names"]), -1, 3)
    return np.einsum("ckx,kx->ck", g, nn), nn


def _region_gain(g_fixed, region, n_reg, mode, *, fwd, bem, nn, fixed_ori):
    """(gain (n_ch, n_reg), source weights (n_src, n_reg) sparse, sources per region) of
    the region index of every source, for ``mode``."""
    weights, counts = region_weights(region, n_reg, mode)
    if mode == "dipole":
        return _dipole(fwd, bem, region, nn, n_reg, fixed_ori), weights, counts
    return np.asarray((weights.T @ g_fixed.T).T), weights, counts


def _named_regions(wanted, lab_names):
    """Indices in ``lab_names`` of the regions named ``wanted`` (annotation labels
    ``"X-lh"``/``"X-rh"`` also match a bare ``"X"`` when unambiguous)."""
    pos = {n: k for k, n in enumerate(lab_names)}
    stripped = {}
    for k, n in enumerate(lab_names):
        if n.endswith(("-lh", "-rh")):
            stripped.setdefault(n[:-3], []).append(k)
    for n, ks in stripped.items():
        if n not in pos and len(ks) == 1:
            pos[n] = ks[0]
    missing = [n for n in wanted if n not in pos]
    if missing:
        raise ValueError(f"names {missing[:10]} are not among the labels "
                         f"{lab_names[:10]}...")
    return [pos[n] for n in wanted]


def _eeg_meg_only(info, gain):
    """``info`` and the gain rows without the channels that are neither EEG nor MEG."""
    import mne
    types = set(info.get_channel_types())
    keep = [k for k, t in enumerate(info.get_channel_types()) if t in ("eeg", "mag", "grad")]
    if len(keep) < len(info.ch_names):
        logger.info(f"dropping non-EEG/MEG channels of types {sorted(types)}")
        info = mne.pick_info(info, keep)
        gain = gain[keep]
    return info, gain


def _source_map(src, is_surf, weights):
    """The :class:`SourceMap` of the source space ``src`` (None for several volumes)."""
    if not is_surf and len(src) > 1:
        return None  # several volume source spaces: no single VolSourceEstimate layout
    vertices = [np.asarray(s["vertno"]) for s in src]
    return SourceMap("surface" if is_surf and len(src) == 2 else "volume",
                     vertices if is_surf else [np.concatenate(vertices)], weights,
                     subject=src[0].get("subject_his_id"), src=src)


def _dipole(fwd, bem, region, nn, n_reg, fixed_ori):
    import mne
    rr = np.asarray(fwd["source_rr"])  # head frame, m
    if len(rr) == 3 * len(region):
        rr = rr[::3]
    regs = [r for r in range(n_reg) if (region == r).any()]
    cen = np.array([rr[region == r].mean(0) for r in regs])
    mean_nn = np.array([nn[region == r].mean(0) for r in regs])
    gain = np.zeros((len(fwd["sol"]["row_names"]), n_reg))
    if bem is not None:
        if isinstance(bem, (str, os.PathLike)):
            bem = mne.read_bem_solution(str(bem), verbose=False)
        head_mri = mne.transforms.invert_transform(fwd["mri_head_t"])
        cen_mri = mne.transforms.apply_trans(head_mri, cen)
        norm = np.linalg.norm(mean_nn, axis=1, keepdims=True)
        nn_mri = mne.transforms.apply_trans(head_mri, mean_nn / np.maximum(norm, 1e-12),
                                            move=False)
        src = mne.setup_volume_source_space(pos=dict(rr=cen_mri, nn=nn_mri), verbose=False)
        types = set(fwd["info"].get_channel_types())
        dfwd = mne.make_forward_solution(fwd["info"], fwd["mri_head_t"], src, bem,
                                         meg=bool(types & {"mag", "grad"}), eeg="eeg" in types,
                                         verbose=False)
        rows = dfwd["sol"]["row_names"]
        order = [rows.index(n) for n in fwd["sol"]["row_names"]]
        g = np.asarray(dfwd["sol"]["data"])[order].reshape(len(order), -1, 3)
        kept = np.asarray(dfwd["src"][0]["vertno"])
        for j, k in enumerate(kept):
            gain[:, regs[k]] = g[:, j] @ mean_nn[k]
        return gain
    if fixed_ori:
        raise ValueError("mode='dipole' with a fixed-orientation forward needs bem= (the "
                         "conductor model) to compute the equivalent dipoles")
    conv = mne.convert_forward_solution(fwd, surf_ori=False, force_fixed=False, verbose=False)
    g = np.asarray(conv["sol"]["data"]).reshape(len(conv["sol"]["row_names"]), -1, 3)
    for j, r in enumerate(regs):
        idx = np.where(region == r)[0]
        near = idx[np.argmin(np.linalg.norm(rr[idx] - cen[j], axis=1))]
        gain[:, r] = g[:, near] @ mean_nn[j]
    logger.info("mode='dipole' without bem: each region's dipole sits at its source nearest to "
                "the centroid")
    return gain
