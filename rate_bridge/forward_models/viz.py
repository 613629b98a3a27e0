"""Sensor-space figures made by MNE, saved as PNG with the non-interactive Agg backend."""
import contextlib
from pathlib import Path

import numpy as np

from ..utils import check_known, logger

_POWER_UNITS = {"eeg": (1e12, "µV²"), "mag": (1e30, "fT²"), "grad": (1e26, "(fT/cm)²")}


@contextlib.contextmanager
def agg_backend():
    """Temporarily switch matplotlib to the Agg backend (headless; restored afterwards)."""
    import matplotlib
    import matplotlib.pyplot as plt
    old = matplotlib.get_backend()
    switch = old.lower() != "agg"
    if switch:
        plt.switch_backend("agg")
    try:
        yield
    finally:
        if switch:
            try:
                plt.switch_backend(old)
            except Exception:  # pragma: no cover - the old backend may not be importable
                pass


def save_psd_topomap(raw, fname, *, fmin=1.0, fmax=45.0, band=None, ch_type=None, dpi=110):
    """Save one PNG: the sensor PSD (``raw.compute_psd().plot``) and a band-power topomap
    (:func:`mne.viz.plot_topomap`), both drawn by MNE.

    Parameters
    ----------
    raw : mne.io.Raw
    fname : path-like
        Output PNG.
    fmin, fmax : float
        PSD frequency range (Hz).
    band : (float, float) | None
        Band of the topomap (Hz); default +-2 Hz around the peak of the mean PSD.
    ch_type : str | None
        Channel type (``"eeg"``, ``"mag"``, ``"grad"``); the first present by default.
    dpi : int

    Returns
    -------
    fname : pathlib.Path
    """
    import matplotlib.pyplot as plt
    import mne
    fname = Path(fname)
    types = [t for t in ("eeg", "mag", "grad") if t in raw.get_channel_types()]
    if not types:
        raise ValueError("raw has no EEG/MEG channels to plot")
    ch_type = ch_type or types[0]
    check_known(ch_type, types, "channel type", where="ch_type: ")
    fmax = min(fmax, raw.info["sfreq"] / 2)
    with agg_backend():
        spec = raw.compute_psd(fmin=fmin, fmax=fmax, picks=ch_type, verbose=False)
        psd, freqs = spec.get_data(return_freqs=True)
        if band is None:
            peak = freqs[int(np.argmax(psd.mean(0)))]
            band = (max(fmin, peak - 2.0), min(fmax, peak + 2.0))
        sel = (freqs >= band[0]) & (freqs <= band[1])
        power = psd[:, sel].mean(1) if sel.any() else psd.mean(1)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), width_ratios=(1.6, 1))
        with mne.utils.use_log_level("warning"):
            spec.plot(axes=axes[0], show=False, average=False, amplitude=False)
        axes[0].set_xlabel("Frequency (Hz)")            # MNE leaves it to the caller's axes
        info = mne.pick_info(raw.info, mne.pick_types(raw.info, meg=ch_type if ch_type != "eeg"
                                                      else False, eeg=ch_type == "eeg",
                                                      exclude="bads"))
        scale, unit = _POWER_UNITS[ch_type]
        db = 10 * np.log10(np.maximum(power * scale, 1e-300))
        im, _ = mne.viz.plot_topomap(db, info, axes=axes[1], show=False, ch_type=ch_type,
                                     cmap="viridis", vlim=(db.min(), db.max()))
        fig.colorbar(im, ax=axes[1], shrink=0.7, label=f"dB re 1 {unit}/Hz")
        axes[1].set_title(f"{ch_type} power {band[0]:.1f}-{band[1]:.1f} Hz")
        fname.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(fname, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    logger.info(f"saved {fname}")
    return fname
