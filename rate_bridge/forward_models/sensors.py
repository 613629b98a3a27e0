"""Sensor definitions as :class:`mne.Info`: montages MNE ships, user montages or Infos, helmets."""
import numpy as np

from ..utils import check_known, logger, validate_type

_FIFF_EEG = 2  # FIFF.FIFFV_EEG_CH


def _copy_info_chs(src_info, dst_info):
    for c_new, c_old in zip(dst_info["chs"], src_info["chs"]):
        for key in ("loc", "coil_type", "coord_frame", "unit", "unit_mul", "cal", "range",
                    "kind"):
            val = c_old[key]
            c_new[key] = val.copy() if hasattr(val, "copy") else val


def info_like(info, sfreq):
    """A new Info with the channels (types, coils, positions), digitisation and device -> head
    transform of ``info`` but another sampling rate; built only with MNE's public API."""
    import mne
    types = info.get_channel_types()
    new = mne.create_info(list(info.ch_names), float(sfreq), types)
    _copy_info_chs(info, new)
    if info["dev_head_t"] is not None:
        new["dev_head_t"] = info["dev_head_t"]
    montage = info.get_montage()
    if montage is not None:
        new.set_montage(montage, on_missing="ignore")
    new["bads"] = [b for b in info["bads"] if b in new.ch_names]
    if info["description"]:
        new["description"] = info["description"]
    return new


def _merge(meg_info, eeg_info):
    """One Info with MEG channels then EEG channels (public API: RawArray.add_channels)."""
    import mne
    sfreq = eeg_info["sfreq"]
    meg = mne.io.RawArray(np.zeros((len(meg_info.ch_names), 1)),
                          info_like(meg_info, sfreq), verbose=False)
    eeg = mne.io.RawArray(np.zeros((len(eeg_info.ch_names), 1)), eeg_info.copy(),
                          verbose=False)
    meg.add_channels([eeg], force_update_info=True)
    info = meg.info.copy()
    montage = eeg_info.get_montage()
    if montage is not None:
        info.set_montage(montage, on_missing="ignore")
    return info


def builtin_montages():
    import mne
    return list(mne.channels.get_builtin_montages())


def eeg_positions(info):
    """EEG channel names and positions (mm, head frame) of an Info."""
    import mne
    picks = mne.pick_types(info, meg=False, eeg=True, exclude=[])
    names = [info.ch_names[k] for k in picks]
    pos = np.array([info["chs"][k]["loc"][:3] for k in picks], float).reshape(-1, 3) * 1e3
    return names, pos


def make_sensor_info(montage="biosemi64", *, meg=False, sfreq=1000.0):
    """The sensors of a forward model as an :class:`mne.Info`.

    Parameters
    ----------
    montage : str | mne.channels.DigMontage | mne.Info | dict | None
        EEG electrodes: the name of a montage MNE ships (:func:`mne.channels.make_standard_montage`,
        e.g. ``"biosemi64"``, ``"standard_1020"``), a DigMontage, a dict ``{name: (x, y, z)}``
        in **mm** in MNE's head frame, or an Info whose EEG and MEG channels are used as they
        are (positions, coils, ``dev_head_t``). None for MEG only.
    meg : bool | str | dict
        Add synthetic MEG on a helmet MNE ships (:func:`~.meg.make_meg_info`): True for the
        Vectorview ``"306m"`` helmet, a helmet name, or a dict of keyword arguments.
    sfreq : float
        Sampling rate written into the Info (replaced by the result's rate in ``to_raw``).

    Returns
    -------
    info : mne.Info
        EEG (V) and/or MEG (T, T/m) channels only.
    """
    import mne
    eeg_info = None
    if isinstance(montage, mne.Info):
        picks = mne.pick_types(montage, meg=True, eeg=True, ref_meg=False, exclude=[])
        if len(picks) == 0:
            raise ValueError(f"the Info has no EEG or MEG channels; it has types "
                             f"{sorted(set(montage.get_channel_types()))}")
        info = mne.pick_info(montage, picks)
        _, pos = eeg_positions(info)
        if len(pos) and not np.isfinite(pos).all():
            bad = [info.ch_names[k] for k in mne.pick_types(info, meg=False, eeg=True, exclude=[])
                   if not np.isfinite(info["chs"][k]["loc"][:3]).all()]
            raise ValueError(f"EEG channels without positions in the Info: {bad[:10]}; set a "
                             f"montage (info.set_montage) first")
        if meg:
            raise ValueError("meg= adds a synthetic helmet; with an Info the Info's own MEG "
                             "channels are used, so pass meg=False")
        return info
    if isinstance(montage, str):
        check_known(montage, builtin_montages(), "montage")
        montage = mne.channels.make_standard_montage(montage)
    elif isinstance(montage, dict):
        pos = {str(k): np.asarray(v, float) * 1e-3 for k, v in montage.items()}
        if not pos or any(v.shape != (3,) or not np.isfinite(v).all() for v in pos.values()):
            raise ValueError("a montage dict must map channel names to finite (x, y, z) "
                             "positions in mm")
        spread = np.ptp(np.array(list(pos.values())), axis=0).max() * 1e3
        if len(pos) > 1 and spread < 20.0:
            raise ValueError(f"the electrode positions span only {spread:.3g} mm; a montage "
                             f"dict takes positions in mm (were they given in m?)")
        montage = mne.channels.make_dig_montage(ch_pos=pos, coord_frame="head")
    if montage is not None:
        validate_type(montage, mne.channels.DigMontage, "montage",
                      "a montage name, a DigMontage, a dict of positions, an Info or None")
        eeg_info = mne.create_info(montage.ch_names, float(sfreq), "eeg")
        eeg_info.set_montage(montage)
    meg_info = None
    if meg:
        from .meg import make_meg_info
        kwargs = dict(meg) if isinstance(meg, dict) else {}
        if isinstance(meg, str):
            kwargs["helmet"] = meg
        if eeg_info is not None and "center" not in kwargs:
            from .placement import fit_sphere
            _, pos = eeg_positions(eeg_info)
            kwargs["center"] = fit_sphere(pos)[0]
        kwargs.setdefault("sfreq", sfreq)
        meg_info = make_meg_info(**kwargs)
    if eeg_info is None and meg_info is None:
        raise ValueError("no sensors: pass a montage (EEG) and/or meg=True")
    if meg_info is None:
        return eeg_info
    if eeg_info is None:
        return meg_info
    info = _merge(meg_info, eeg_info)
    logger.info(f"sensors: {len(info.ch_names)} channels")
    return info
