"""Measures of simulated or recorded activity, and the distances that compare them with data.

Functional connectivity (FC) and its dynamics (FCD), Welch power spectra, band power and peak
frequency; FC correlation and distance, FCD Kolmogorov-Smirnov distance and PSD distance.
numpy, scipy and MNE do the work; this module resolves the inputs and checks them.

Every measure takes ``data`` as one of:

- :class:`~rate_bridge.Result`: ``variable`` names a recorded variable or a time-series
  monitor (BOLD, sensors), optional when there is only one; times and ``sfreq`` come from the
  Result (a monitor's from its own times). Signals are regions (or a monitor's channels).
- :class:`~rate_bridge.ResultBatch`: the measure of each member, stacked along a first axis of
  length ``n_members`` (parts shared by all members, frequencies or window times, are returned
  once); a member that did not complete raises, naming it.
- :class:`mne.io.Raw`, :class:`mne.Epochs` or :class:`mne.Evoked`: ``picks`` chooses the
  channels (default: the good data channels); ``sfreq`` comes from ``info``. The FC and PSD of
  Epochs are those of each epoch, averaged over epochs.
- an array of shape ``(n_times,)`` or ``(n_times, n_signals)``: **time first**, as
  ``Result[variable]`` (MNE arrays are channel-first: transpose them). Spectral measures, FCD
  windows and ``tmin``/``tmax`` need ``sfreq`` (Hz).
"""
import functools
import numbers
import sys
from typing import NamedTuple

import numpy as np

from .result import Result, ResultBatch
from .utils import docdict, logger, short_repr, validate_type, verbose

docdict.update({
    "meas_data": """data : Result | ResultBatch | mne.io.Raw | mne.Epochs | mne.Evoked | ndarray
    The signals (see :mod:`rate_bridge.measures`); an array is ``(n_times,)`` or
    ``(n_times, n_signals)``, time first.""",
    "meas_select": """variable : str | None
    A recorded variable (``"pc.v"``) or time-series monitor (``"bold"``, on its own times) of
    a Result; None: its only one.
sfreq : float | None
    Sampling rate in Hz of an array (taken from a Result or an MNE object otherwise).
picks : str | list | slice | None
    Channels of an MNE object (MNE's ``picks``); None: the good data channels.
tmin, tmax : float | None
    Keep the samples with ``tmin <= t <= tmax`` (s; a Result's ``time``, an MNE object's
    ``times``, ``index / sfreq`` for an array), e.g. ``tmin=1.0`` drops a 1 s transient.""",
    "meas_welch": """segment : float | None
    Length of a Welch segment in s (frequency resolution ``1 / segment`` Hz); None: 2 s or
    256 samples, whichever is longer (slow signals such as BOLD), at most the whole data.
overlap : float
    Overlap of consecutive segments, a fraction in [0, 1).
window : str | tuple | ndarray
    Taper of each segment, as :func:`scipy.signal.get_window` takes it.""",
    "meas_filter": """band : tuple of float | None
    ``(low, high)`` in Hz, 0 < low < high < Nyquist: band-pass the signals first
    (:func:`mne.filter.filter_data`, zero-phase); None: no filtering.
envelope : bool
    Use the amplitude envelopes (modulus of the analytic signal, :func:`scipy.signal.hilbert`)
    of the (band-passed) signals.
filter_kws : dict | None
    Passed to :func:`mne.filter.filter_data`; default ``{"method": "iir"}`` (4th-order
    Butterworth, forward-backward), which also suits short data such as BOLD.""",
})


class _Signals(NamedTuple):
    """Resolved input: ``data`` (n_epochs, n_times, n_signals) float64 and finite, ``sfreq``
    (Hz or None), one label per signal, ``times`` (n_times,) in s or None."""
    data: np.ndarray
    sfreq: float | None
    labels: list
    times: np.ndarray | None


# -- inputs ----------------------------------------------------------------------------------
def _positive(value, name):
    """``value`` as a positive finite float, or an error naming ``name``."""
    validate_type(value, "numeric", name, "a positive number")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {short_repr(value)}")
    return float(value)


def _mne_kind(data):
    """``"raw"``, ``"epochs"``, ``"evoked"`` or None (MNE is only looked at when imported: an
    object of it cannot exist otherwise)."""
    mne = sys.modules.get("mne")
    if mne is None:
        return None
    for kind, cls in (("raw", mne.io.BaseRaw), ("epochs", mne.BaseEpochs),
                      ("evoked", mne.Evoked)):
        if isinstance(data, cls):
            return kind
    return None


def _from_mne(inst, kind, picks):
    """(data (n_epochs, n_times, n_channels), times, channel names, sfreq) of an MNE object."""
    from mne._fiff.pick import _picks_to_idx     # MNE's own picks rules (what get_data uses)
    try:
        idx = _picks_to_idx(inst.info, picks, "data", exclude="bads")
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(f"picks={short_repr(picks)} selects no usable channel of the "
                         f"{type(inst).__name__}: {err}") from None
    x = inst.get_data(picks=idx)
    x = x[None] if kind != "epochs" else x
    return (np.swapaxes(x, 1, 2), np.asarray(inst.times, float),
            [inst.ch_names[i] for i in idx], float(inst.info["sfreq"]))


def _from_result(res, variable):
    """(data (1, n_times, n_signals), times, labels, sfreq) of a recorded variable or of a
    time-series monitor (BOLD, sensors: its own time axis) of a Result."""
    monitors = {name: m for name, m in getattr(res, "monitors", {}).items()
                if getattr(m, "time", None) is not None}
    if variable is None:
        names = res.variables + [m for m in monitors if m not in res.variables]
        if len(names) != 1:
            raise ValueError(f"variable must name one of the Result's variables or time-series "
                             f"monitors {names}, got None")
        variable = names[0]
    if not isinstance(variable, str) or variable in res.variables \
            or variable not in getattr(res, "monitors", {}):
        return res[variable][None], res.time, res.labels, res.sfreq   # unknown: res names it
    if variable not in monitors:
        raise ValueError(f"variable={variable!r} is a {res.monitors[variable].kind} monitor, "
                         f"not a time series: use res.monitors[{variable!r}] directly")
    mon = monitors[variable]
    times = np.asarray(mon.time, dtype=float)
    sfreq = 1.0 / (times[1] - times[0]) if len(times) > 1 else None
    return np.asarray(mon.data)[None], times, mon.labels, sfreq


def _from_array(data):
    """(data (1, n_times, n_signals), labels) of an array-like, time first."""
    if np.iscomplexobj(data):
        raise TypeError("data must be real, got a complex array")
    try:
        x = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"data must be a Result, a ResultBatch, an MNE Raw/Epochs/Evoked or a "
                        f"numeric array, got {type(data).__name__} {short_repr(data)}") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"data must be an array of shape (n_times,) or (n_times, n_signals), "
                         f"got shape {x.shape} (a batch: pass a ResultBatch or one run at a "
                         "time)")
    return x[None], [str(i) for i in range(x.shape[1])]


def _crop(x, times, tmin, tmax):
    """Samples of ``x`` (n_epochs, n_times, n_signals) with tmin <= t <= tmax."""
    if tmin is None and tmax is None:
        return x, times
    if times is None:
        raise ValueError("tmin/tmax are in seconds: pass sfreq= with an array")
    keep = np.ones(len(times), bool)
    if tmin is not None:
        keep &= times >= validate_type(tmin, "numeric", "tmin")
    if tmax is not None:
        keep &= times <= validate_type(tmax, "numeric", "tmax")
    if keep.sum() < 2:
        raise ValueError(f"tmin={tmin}, tmax={tmax} keep {keep.sum()} sample(s) of data "
                         f"spanning {times[0]:g} to {times[-1]:g} s; at least 2 are needed")
    return x[:, keep], times[keep]


def _check_finite(x, times, labels, data):
    """Raise a ValueError locating the first NaN/inf of ``x``."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return
    ep, t, s = np.argwhere(bad)[0]
    where = f"sample {t}" + (f" (t = {times[t]:.6g} s)" if times is not None else "") + \
        (f" of epoch {ep}" if x.shape[0] > 1 else "") + f", signal {labels[s]!r}"
    hint = "remove or interpolate them first"
    if isinstance(data, Result) and data.status != "completed":
        hint = (f"the run is {data.status} (see Result.diverged_at): measure a completed run, "
                "or pass tmax= before the first NaN")
    raise ValueError(f"data contains NaN or infinite values (first at {where}): {hint}")


def _resolve(data, variable=None, sfreq=None, picks=None, tmin=None, tmax=None, *,
             need_sfreq=False):
    """The one place that turns any accepted input into :class:`_Signals`."""
    kind = "result" if isinstance(data, Result) else _mne_kind(data)
    if variable is not None and kind != "result":
        raise TypeError(f"variable={variable!r} names a variable of a Result; data is a "
                        f"{type(data).__name__}")
    if picks is not None and kind not in ("raw", "epochs", "evoked"):
        raise TypeError(f"picks={short_repr(picks)} chooses channels of an MNE object; data is "
                        f"a {type(data).__name__}")
    if sfreq is not None:
        sfreq = _positive(sfreq, "sfreq")
    if kind == "result":
        x, times, labels, own = _from_result(data, variable)
    elif kind is not None:
        x, times, labels, own = _from_mne(data, kind, picks)
    else:
        (x, labels), times, own = _from_array(data), None, None
    if x.shape[1] < 2:
        raise ValueError(f"data has {x.shape[1]} sample(s); a measure needs at least 2")
    if own is not None and sfreq is not None and not np.isclose(own, sfreq):
        raise ValueError(f"sfreq={sfreq} Hz differs from the data's own {own} Hz: leave it out")
    sfreq = own if own is not None else sfreq
    if times is None and sfreq is not None:
        times = np.arange(x.shape[1]) / sfreq
    if need_sfreq and sfreq is None:
        raise ValueError("sfreq (Hz) is required for an array given to a spectral or windowed "
                         "measure")
    x, times = _crop(x, times, tmin, tmax)
    _check_finite(x, times, labels, data)
    return _Signals(np.asarray(x, dtype=float), sfreq, list(labels), times)


def _stack(values):
    """One array of equal-shape values (members of one batch); a list otherwise."""
    shapes = {np.shape(v) for v in values}
    return np.stack(values) if len(shapes) == 1 else list(values)


def _per_member(func):
    """Apply ``func`` to each member of a ResultBatch and stack the outputs (the parts of a
    tuple output equal for all members are returned once)."""
    @functools.wraps(func)
    def wrapper(data, *args, **kwargs):
        if not isinstance(data, ResultBatch):
            return func(data, *args, **kwargs)
        if not len(data):
            raise ValueError("data is an empty ResultBatch")
        outs = []
        for i, member in enumerate(data):
            try:
                outs.append(func(member, *args, **kwargs))
            except (TypeError, ValueError) as err:     # the same error, naming the member
                msg = f"data[{i}] (member {i} of the ResultBatch): {err}"
                try:
                    new = type(err)(msg)
                except Exception:
                    new = ValueError(msg)
                raise new from None
        if not isinstance(outs[0], tuple):
            return _stack(outs)
        return tuple(part[0] if all(np.array_equal(p, part[0]) for p in part[1:])
                     else _stack(part) for part in zip(*outs))
    return wrapper


# -- signal preparation ------------------------------------------------------------------------
def _check_band(band, sfreq, name="band", *, strict=True):
    """``band`` as (low, high) floats within (0, Nyquist) (``strict``) or [0, Nyquist]."""
    nyq = sfreq / 2.0
    ok = isinstance(band, (tuple, list, np.ndarray)) and len(band) == 2 and all(
        isinstance(b, numbers.Real) and not isinstance(b, bool) for b in band)
    lo, hi = (float(band[0]), float(band[1])) if ok else (np.nan, np.nan)
    inside = 0 < lo < hi < nyq if strict else 0 <= lo < hi <= nyq
    if not inside:
        limits = f"0 < low < high < {nyq:g}" if strict else f"0 <= low < high <= {nyq:g}"
        raise ValueError(f"{name} must be (low, high) in Hz with {limits} (Nyquist of "
                         f"{sfreq:g} Hz data), got {short_repr(band)}")
    return lo, hi


def _prepare(sig, band, envelope, filter_kws):
    """Band-passed and/or envelope signals (n_epochs, n_times, n_signals)."""
    x = sig.data
    if band is not None:
        if sig.sfreq is None:
            raise ValueError("band is in Hz: pass sfreq= with an array")
        lo, hi = _check_band(band, sig.sfreq)
        from mne.filter import filter_data
        kws = {"method": "iir", **(filter_kws or {})}
        logger.info(f"band-pass {lo:g}-{hi:g} Hz ({kws['method']}) of {x.shape[2]} signals")
        try:
            x = np.swapaxes(filter_data(np.swapaxes(x, 1, 2), sig.sfreq, lo, hi,
                                        verbose=logger.level, **kws), 1, 2)
        except (ValueError, TypeError, RuntimeError) as err:
            raise ValueError(f"band={band}: band-pass filtering {x.shape[1]} samples at "
                             f"{sig.sfreq:g} Hz failed ({err}); use longer data or other "
                             "filter_kws") from None
    if envelope:
        from scipy.signal import hilbert
        x = np.abs(hilbert(x - x.mean(axis=1, keepdims=True), axis=1))
    return x


def _warn_constant(x, labels):
    """Log the signals constant in some epoch of ``x`` (n_epochs, n_times, n_signals)."""
    flat = (np.ptp(x, axis=1) == 0).any(axis=0)
    if flat.any():
        names = [labels[i] for i in np.flatnonzero(flat)]
        logger.warning(f"{len(names)} constant signal(s) {names[:5]}"
                       f"{'...' if len(names) > 5 else ''}: their correlations are NaN")


def _corr(x):
    """Pearson correlation matrix of the columns of ``x`` (n_times, n_signals); NaN rows and
    columns for constant signals (their correlation is undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.atleast_2d(np.corrcoef(x, rowvar=False))


# -- FC and FCD --------------------------------------------------------------------------------
@verbose
@_per_member
def fc(data, variable=None, *, sfreq=None, picks=None, tmin=None, tmax=None, band=None,
       envelope=False, filter_kws=None, verbose=None):
    """Functional connectivity: Pearson correlation between every pair of signals.

    Parameters
    ----------
    %(meas_data)s
    %(meas_select)s
    %(meas_filter)s
    %(verbose)s

    Returns
    -------
    ndarray, shape (n_signals, n_signals)
        Correlations (a ResultBatch: ``(n_members, n_signals, n_signals)``); NaN for a
        constant signal. Epochs: the mean of the epochs' FC.
    """
    sig = _resolve(data, variable, sfreq, picks, tmin, tmax)
    x = _prepare(sig, band, envelope, filter_kws)
    _warn_constant(x, sig.labels)
    return np.mean([_corr(epoch) for epoch in x], axis=0)


def _windows(n_times, sfreq, window, step):
    """Start samples and length (samples) of the FCD windows."""
    n_win = int(round(_positive(window, "window") * sfreq))
    n_step = int(round(_positive(step, "step") * sfreq))
    if n_win < 2 or n_step < 1:
        raise ValueError(f"window={window} s and step={step} s must span at least 2 and 1 "
                         f"sample(s) at {sfreq:g} Hz")
    if n_win > n_times:
        raise ValueError(f"window={window} s is longer than the data ({n_times / sfreq:g} s, "
                         f"{n_times} samples)")
    starts = np.arange(0, n_times - n_win + 1, n_step)
    if len(starts) < 2:
        raise ValueError(f"window={window} s and step={step} s give one window in "
                         f"{n_times / sfreq:g} s of data; FCD needs at least 2")
    return starts, n_win


@verbose
@_per_member
def fcd(data, window, step, variable=None, *, sfreq=None, picks=None, tmin=None, tmax=None,
        band=None, envelope=False, filter_kws=None, return_times=False, verbose=None):
    """Functional connectivity dynamics: correlations between sliding-window FCs.

    The FC of each window (``window`` s long, every ``step`` s) is reduced to its upper
    triangle (diagonal excluded); entry ``(i, j)`` of the FCD is the Pearson correlation of
    the upper triangles of windows ``i`` and ``j``. Filtering and envelopes apply to the whole
    signal before windowing.

    Parameters
    ----------
    %(meas_data)s
    window : float
        Window length in s.
    step : float
        Time between consecutive windows in s.
    %(meas_select)s
    %(meas_filter)s
    return_times : bool
        Also return the centre of each window (s).
    %(verbose)s

    Returns
    -------
    fcd : ndarray, shape (n_windows, n_windows)
        (a ResultBatch: ``(n_members, n_windows, n_windows)``.)
    times : ndarray, shape (n_windows,)
        Window centres in s, if ``return_times``.

    See Also
    --------
    fcd_distribution, fcd_ks
    """
    sig = _resolve(data, variable, sfreq, picks, tmin, tmax, need_sfreq=True)
    if sig.data.shape[0] != 1:
        raise ValueError(f"fcd needs continuous data; data has {sig.data.shape[0]} epochs "
                         "(pass one epoch, or a Raw)")
    if sig.data.shape[2] < 3:
        raise ValueError(f"fcd needs at least 3 signals (an FC upper triangle of 2+ values), "
                         f"data has {sig.data.shape[2]}")
    x = _prepare(sig, band, envelope, filter_kws)
    _warn_constant(x, sig.labels)
    x = x[0]
    starts, n_win = _windows(x.shape[0], sig.sfreq, window, step)
    logger.info(f"FCD: {len(starts)} windows of {n_win} samples")
    iu = np.triu_indices(x.shape[1], k=1)
    tri = np.array([_corr(x[s:s + n_win])[iu] for s in starts])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.corrcoef(tri)
    if not return_times:
        return out
    return out, (sig.times[starts] + sig.times[starts + n_win - 1]) / 2.0


def fcd_distribution(matrix, k=1):
    """The values of an FCD matrix compared between runs: its upper triangle.

    Parameters
    ----------
    matrix : ndarray, shape (n_windows, n_windows)
        An FCD (:func:`fcd`).
    k : int
        First diagonal kept: 1 drops the diagonal; ``ceil(window / step)`` also drops the
        pairs of overlapping windows.

    Returns
    -------
    ndarray, shape (n_values,)
    """
    m = _square(matrix, "matrix")
    validate_type(k, "int", "k")
    if not 0 <= k < m.shape[0]:
        raise ValueError(f"k must be in [0, {m.shape[0] - 1}] for a {m.shape[0]}-window FCD, "
                         f"got {k}")
    return m[np.triu_indices(m.shape[0], k=k)]


# -- spectra -----------------------------------------------------------------------------------
def _welch_args(sig, segment, overlap, window):
    """(nperseg, noverlap, taper) of a Welch estimate, checked against the data."""
    n_times = sig.data.shape[1]
    nper = min(n_times, max(256, int(round(2.0 * sig.sfreq)))) if segment is None else \
        int(round(_positive(segment, "segment") * sig.sfreq))
    if nper > n_times:
        raise ValueError(f"segment={segment} s is longer than the data ({n_times / sig.sfreq:g}"
                         f" s, {n_times} samples)")
    if nper < 2:
        raise ValueError(f"segment={segment} s is shorter than 2 samples at {sig.sfreq:g} Hz")
    validate_type(overlap, "numeric", "overlap", "a fraction in [0, 1)")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap}")
    from scipy.signal import get_window
    try:
        taper = get_window(window, nper)
    except (ValueError, TypeError) as err:
        raise ValueError(f"window={short_repr(window)} is not a scipy.signal window ({err})") \
            from None
    return nper, min(int(round(overlap * nper)), nper - 1), taper


def _welch(sig, segment, overlap, window):
    """(freqs (n_freqs,), power (n_freqs, n_signals)) of resolved signals, epochs averaged."""
    from scipy.signal import welch
    nper, nover, taper = _welch_args(sig, segment, overlap, window)
    logger.info(f"Welch: segments of {nper} samples, {nover} overlapping")
    freqs, power = welch(sig.data, sig.sfreq, window=taper, nperseg=nper,
                             noverlap=nover, axis=1)
    return freqs, power.mean(axis=0)


@verbose
@_per_member
def psd(data, variable=None, *, sfreq=None, picks=None, tmin=None, tmax=None, segment=None,
        overlap=0.5, window="hann", fmin=None, fmax=None, verbose=None):
    """Power spectral density by Welch's method (:func:`scipy.signal.welch`).

    Each segment is detrended (its mean removed) and tapered; densities are one-sided.

    Parameters
    ----------
    %(meas_data)s
    %(meas_select)s
    %(meas_welch)s
    fmin, fmax : float | None
        Keep the frequencies in [fmin, fmax] Hz.
    %(verbose)s

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        In Hz.
    power : ndarray, shape (n_freqs, n_signals)
        In (data unit)² / Hz (a ResultBatch: ``(n_members, n_freqs, n_signals)``). Epochs:
        the mean of the epochs' spectra.
    """
    sig = _resolve(data, variable, sfreq, picks, tmin, tmax, need_sfreq=True)
    freqs, power = _welch(sig, segment, overlap, window)
    keep = np.ones(len(freqs), bool)
    if fmin is not None:
        keep &= freqs >= validate_type(fmin, "numeric", "fmin")
    if fmax is not None:
        keep &= freqs <= validate_type(fmax, "numeric", "fmax")
    if not keep.any():
        raise ValueError(f"fmin={fmin}, fmax={fmax} keep no frequency of 0 to {freqs[-1]:g} "
                         "Hz")
    return freqs[keep], power[keep]


def _in_band(freqs, band, sfreq, name="band"):
    """Mask of the frequencies within ``band`` (None: all but 0 Hz); at least 2 of them."""
    if band is None:
        mask = freqs > 0
    else:
        lo, hi = _check_band(band, sfreq, name, strict=False)
        mask = (freqs >= lo) & (freqs <= hi)
    if mask.sum() < 2:
        res = freqs[1] - freqs[0] if len(freqs) > 1 else np.nan
        raise ValueError(f"{name}={short_repr(band)} holds {mask.sum()} frequency bin(s) at "
                         f"{res:g} Hz resolution; widen it or lengthen segment")
    return mask


@verbose
@_per_member
def band_power(data, band, variable=None, *, sfreq=None, picks=None, tmin=None, tmax=None,
               relative=False, segment=None, overlap=0.5, window="hann", verbose=None):
    """Power in a frequency band: the Welch PSD integrated over the band (trapezoid rule).

    Parameters
    ----------
    %(meas_data)s
    band : tuple of float
        ``(low, high)`` in Hz, 0 <= low < high <= Nyquist, e.g. ``(8, 12)``.
    %(meas_select)s
    relative : bool
        Divide by the power over all frequencies.
    %(meas_welch)s
    %(verbose)s

    Returns
    -------
    ndarray, shape (n_signals,)
        In (data unit)², or a fraction if ``relative`` (a ResultBatch: ``(n_members,
        n_signals)``).
    """
    sig = _resolve(data, variable, sfreq, picks, tmin, tmax, need_sfreq=True)
    from scipy.integrate import trapezoid
    freqs, power = _welch(sig, segment, overlap, window)
    mask = _in_band(freqs, band, sig.sfreq)
    out = trapezoid(power[mask], freqs[mask], axis=0)
    if relative:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = out / trapezoid(power, freqs, axis=0)
    return out


@verbose
@_per_member
def peak_frequency(data, variable=None, *, sfreq=None, picks=None, tmin=None, tmax=None,
                   fmin=None, fmax=None, average=False, segment=None, overlap=0.5,
                   window="hann", verbose=None):
    """Frequency of the largest Welch PSD value of each signal.

    Parameters
    ----------
    %(meas_data)s
    %(meas_select)s
    fmin, fmax : float | None
        Search in [fmin, fmax] Hz; by default every frequency above 0 Hz.
    average : bool
        The peak of the PSD averaged over signals (one frequency).
    %(meas_welch)s
    %(verbose)s

    Returns
    -------
    ndarray, shape (n_signals,) | float
        In Hz, resolution ``1 / segment``; NaN for a signal without power in the range (a
        constant). A ResultBatch: one value (or row) per member.
    """
    sig = _resolve(data, variable, sfreq, picks, tmin, tmax, need_sfreq=True)
    freqs, power = _welch(sig, segment, overlap, window)
    lo = freqs[1] if fmin is None else fmin
    hi = freqs[-1] if fmax is None else fmax
    mask = _in_band(freqs, (lo, hi), sig.sfreq, "(fmin, fmax)")
    power = power[mask].mean(axis=1, keepdims=True) if average else power[mask]
    peak = np.where(power.max(axis=0) > 0, freqs[mask][np.argmax(power, axis=0)], np.nan)
    return float(peak[0]) if average else peak


# -- comparisons -------------------------------------------------------------------------------
def _square(m, name, leading=False):
    """``m`` as a finite float array of shape (n, n), or (..., n, n) if ``leading``."""
    validate_type(m, (np.ndarray, list, tuple), name, "an array")
    try:
        m = np.asarray(m, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {short_repr(m)}") from None
    if (m.ndim != 2 and not (leading and m.ndim > 2)) or m.shape[-1] != m.shape[-2]:
        shapes = "(n, n) or a stack (..., n, n)" if leading else "(n, n)"
        raise ValueError(f"{name} must be a square matrix {shapes}, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError(f"{name} contains NaN or infinite values (a constant signal's FC, or "
                         "a diverged run)")
    return m


def _pair(a, b):
    """Upper triangles (k=1) of two FC matrices: b (n, n), a (n, n) or a stack (..., n, n)."""
    a, b = _square(a, "a", leading=True), _square(b, "b")
    if a.shape[-2:] != b.shape:
        raise ValueError(f"a and b must have the same size, got shapes {a.shape} and {b.shape}")
    if b.shape[0] < 2:
        raise ValueError(f"a and b must be at least 2 x 2, got shape {b.shape}")
    iu = np.triu_indices(b.shape[0], k=1)
    return a[..., iu[0], iu[1]], b[iu]


def fc_correlation(a, b):
    """Pearson correlation of the upper triangles (diagonal excluded) of two FC matrices.

    Parameters
    ----------
    a : ndarray, shape (n, n) | (n_members, n, n)
        FC (a stack: one value per member).
    b : ndarray, shape (n, n)
        FC, e.g. a subject's.

    Returns
    -------
    float | ndarray, shape (n_members,)
    """
    ta, tb = _pair(a, b)
    if np.ptp(tb) == 0:
        raise ValueError("b's upper triangle is constant: its correlation is undefined")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.array([np.corrcoef(t, tb)[0, 1] for t in ta.reshape(-1, tb.size)])
    return float(out[0]) if ta.ndim == 1 else out.reshape(ta.shape[:-1])


def fc_distance(a, b):
    """Euclidean distance between the upper triangles (diagonal excluded) of two FC matrices.

    Parameters
    ----------
    a : ndarray, shape (n, n) | (n_members, n, n)
    b : ndarray, shape (n, n)

    Returns
    -------
    float | ndarray, shape (n_members,)
    """
    ta, tb = _pair(a, b)
    out = np.linalg.norm(ta - tb, axis=-1)
    return float(out) if ta.ndim == 1 else out


def _distribution(x, name, k):
    """An FCD's values: the upper triangle of a square matrix, or a 1-D distribution as is."""
    if np.ndim(x) == 1:
        x = np.asarray(x, dtype=float)
        if not np.isfinite(x).all() or not x.size:
            raise ValueError(f"{name} must be a non-empty finite distribution")
        return x
    return fcd_distribution(_square(x, name), k)


def fcd_ks(a, b, k=1):
    """Kolmogorov-Smirnov distance between two FCD distributions.

    The statistic of :func:`scipy.stats.ks_2samp`: the largest difference between the two
    empirical cumulative distributions, in [0, 1].

    Parameters
    ----------
    a, b : ndarray, shape (n_windows, n_windows) | (n_values,)
        FCD matrices (:func:`fcd`; their sizes may differ) or their distributions
        (:func:`fcd_distribution`).
    k : int
        First diagonal of a matrix kept (see :func:`fcd_distribution`).

    Returns
    -------
    float
    """
    from scipy.stats import ks_2samp
    da, db = _distribution(a, "a", k), _distribution(b, "b", k)
    return float(ks_2samp(da, db).statistic)


def _spectrum(p, name):
    """(freqs, power (..., n_freqs, n_signals)) of a :func:`psd` output or of a Welch
    monitor's result."""
    if getattr(p, "freqs", None) is not None:
        p = (p.freqs, p.data)
    if not (isinstance(p, (tuple, list)) and len(p) == 2):
        raise TypeError(f"{name} must be a (freqs, power) pair as psd() returns, got "
                        f"{type(p).__name__} {short_repr(p)}")
    freqs, power = np.asarray(p[0], dtype=float), np.asarray(p[1], dtype=float)
    power = power[:, None] if power.ndim == 1 else power
    if freqs.ndim != 1 or power.shape[-2] != len(freqs):
        raise ValueError(f"{name}: power of shape {power.shape} does not match {freqs.shape[0]}"
                         " frequencies (expected (n_freqs,) or (..., n_freqs, n_signals))")
    return freqs, power


def psd_distance(a, b, band=None, average=False):
    """Root-mean-square difference of the log10 power of two spectra within a band.

    ``sqrt(mean((log10 Pa - log10 Pb)²))`` over the frequencies in ``band`` and the signals:
    0 for identical spectral shapes and scales; 1 for a factor of 10 everywhere.

    Parameters
    ----------
    a : tuple of (ndarray, ndarray) | MonitorResult
        ``(freqs, power)`` as :func:`psd` returns (power ``(n_freqs, n_signals)``, or
        ``(n_members, n_freqs, n_signals)`` for a ResultBatch: one distance per member), or
        the result of a Welch monitor (``res.monitors["psd"]``).
    b : tuple of (ndarray, ndarray)
        ``(freqs, power)`` at the same frequencies (same ``sfreq`` and ``segment``), e.g. a
        subject's.
    band : tuple of float | None
        ``(low, high)`` in Hz; None: every frequency above 0 Hz.
    average : bool
        Compare the power averaged over signals (lets a and b have different signals, e.g.
        regions and sensors).

    Returns
    -------
    float | ndarray, shape (n_members,)
    """
    (fa, pa), (fb, pb) = _spectrum(a, "a"), _spectrum(b, "b")
    if fa.shape != fb.shape or not np.allclose(fa, fb):
        raise ValueError(f"a and b have different frequencies ({len(fa)} bins to {fa[-1]:g} Hz"
                         f" vs {len(fb)} bins to {fb[-1]:g} Hz): use the same sfreq and segment")
    if average:
        pa, pb = pa.mean(axis=-1, keepdims=True), pb.mean(axis=-1, keepdims=True)
    if pb.ndim != 2 or pa.shape[-2:] != pb.shape:
        raise ValueError(f"a and b must have the same signals, got power shapes {pa.shape} and "
                         f"{pb.shape} (average=True compares the mean spectra)")
    mask = _in_band(fa, band, 2.0 * fa[-1])
    sel_a, sel_b = pa[..., mask, :], pb[mask]
    for name, p in (("a", sel_a), ("b", sel_b)):
        if not (np.isfinite(p).all() and (p > 0).all()):
            raise ValueError(f"{name}'s power must be positive and finite within band="
                             f"{short_repr(band)} (log power)")
    diff = np.log10(sel_a) - np.log10(sel_b)
    out = np.sqrt(np.mean(diff ** 2, axis=(-2, -1)))
    return float(out) if np.ndim(out) == 0 else out


