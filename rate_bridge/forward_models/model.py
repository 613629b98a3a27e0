"""The :class:`ForwardModel`: a region lead field and the sensors, turning results into MNE objects.

Projection is one matrix product per block of samples with the precomputed region gain
(``sensors = gain @ moments``); MNE's ``simulate_raw`` is never used.
"""
import datetime
import numbers

import numpy as np

from ..utils import (UnknownNameError, check_option, logger, progress_bar, validate_type,
                     verbose)
from .signals import SourceSignal, region_order, resolve_moment_scale

_UNITS = {"eeg": "V", "mag": "T", "grad": "T/m", "seeg": "V", "ecog": "V", "dbs": "V"}
#: Channel types whose potentials are re-referenced (``reference=``), each on its own.
_ELECTRODES = ("eeg", "ecog", "seeg", "dbs")


class SourceMap:
    """How region moments spread over the sources of a source space (for source estimates).

    Parameters
    ----------
    kind : "surface" | "volume"
        :class:`mne.SourceEstimate` (lh, rh) or :class:`mne.VolSourceEstimate`.
    vertices : list of ndarray
        Vertex numbers per source space (MNE's ``vertno``, sorted).
    weights : scipy.sparse matrix, shape (n_sources, n_regions)
        Moment of every source (rows in ``vertices`` order) per A·m of region moment.
    subject : str | None
        Subject name for the source estimate.
    src : mne.SourceSpaces | None
        The source space, when there is one.
    """

    def __init__(self, kind, vertices, weights, subject=None, src=None):
        import scipy.sparse as sp
        check_option("kind", kind, ("surface", "volume"))
        self.kind = kind
        self.vertices = [np.asarray(v, dtype=np.int64) for v in vertices]
        self.weights = sp.csr_matrix(weights)
        n = sum(len(v) for v in self.vertices)
        if self.weights.shape[0] != n:
            raise ValueError(f"weights have {self.weights.shape[0]} rows for {n} sources")
        self.subject = subject
        self.src = src


class ForwardModel:
    """Lead field of brain regions on EEG/MEG sensors or intracranial contacts.

    Parameters
    ----------
    gain : array-like, shape (n_channels, n_regions)
        Sensor signal per A·m of region moment: V/(A·m) for EEG and intracranial (sEEG, ECoG,
        DBS) contacts, T/(A·m) for magnetometers, T/(m·A·m) for gradiometers; rows in
        ``info.ch_names`` order.
    info : mne.Info
        The sensors (EEG, MEG, seeg, ecog and/or dbs channels only).
    labels : list of str
        Region labels of the gain's columns.
    forward : mne.Forward | None
        The underlying MNE forward solution (free orientation), if any.
    source_map : SourceMap | None
        Where region activity sits on a source space (enables :meth:`to_source_estimate`).
    kind : str
        How the lead field was made (``"sphere"``, ``"bem"``, ``"forward"``, ...).
    mode : str
        How source gains were combined into a region gain (``"mean"``, ``"sum"``, ``"dipole"``,
        ``"centre"``).
    provenance : dict | None
        Everything needed to say how the model was built (placement, dropped sources...).

    Attributes
    ----------
    dropped : dict
        ``{"n_sources": int, "regions": [labels without any source left]}`` -- sources the
        head model rejected (outside the inner skull).
    """

    def __init__(self, gain, info, labels, *, forward=None, source_map=None, kind="custom",
                 mode="mean", provenance=None):
        import mne
        validate_type(info, mne.Info, "info")
        gain = np.array(gain, dtype=float)
        labels = [str(x) for x in labels]
        if gain.ndim != 2:
            raise ValueError(f"gain must be a 2D (n_channels, n_regions) matrix, got shape "
                             f"{gain.shape}")
        if gain.shape != (len(info.ch_names), len(labels)):
            raise ValueError(f"gain has shape {gain.shape} but the Info has "
                             f"{len(info.ch_names)} channels and there are {len(labels)} region "
                             f"labels: expected ({len(info.ch_names)}, {len(labels)})")
        bad = ~np.isfinite(gain)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"gain has {int(bad.sum())} NaN/inf entries, the first at channel "
                             f"{info.ch_names[i]!r}, region {labels[j]!r}; drop those channels "
                             f"or regions first")
        if len(set(labels)) != len(labels):
            raise ValueError("region labels are not unique")
        types = set(info.get_channel_types())
        if not types <= set(_UNITS):
            raise ValueError(f"the Info must hold only EEG/MEG/sEEG/ECoG/DBS channels "
                             f"({', '.join(_UNITS)}), got types {sorted(types)}")
        self.gain = gain
        self.gain.flags.writeable = False
        self.info = info
        self.labels = labels
        self.forward = forward
        self.source_map = source_map
        self.kind = str(kind)
        self.mode = str(mode)
        self.provenance = dict(provenance or {})
        self.dropped = self.provenance.get("dropped", {"n_sources": 0, "regions": []})

    # -- basics -----------------------------------------------------------------------------
    @property
    def n_regions(self):
        return len(self.labels)

    @property
    def ch_names(self):
        return list(self.info.ch_names)

    @property
    def ch_types(self):
        return sorted(set(self.info.get_channel_types()))

    def __repr__(self):
        types = ", ".join(f"{sum(t == ct for t in self.info.get_channel_types())} {ct}"
                          for ct in self.ch_types)
        return (f"<ForwardModel {self.kind} | {self.n_regions} regions -> {types}, "
                f"mode {self.mode!r}>")

    def pick(self, picks):
        """A forward model restricted to some channels.

        Parameters
        ----------
        picks : str | list of str
            Channel type(s) (``"eeg"``, ``"meg"``, ``"mag"``, ``"grad"``, ``"seeg"``,
            ``"ecog"``, ``"dbs"``) or channel names.
        """
        import mne
        if isinstance(picks, str):
            picks = [picks]
        types = self.info.get_channel_types()
        want = set()
        for p in picks:
            if p in _UNITS and p in types:
                want |= {k for k, t in enumerate(types) if t == p}
            elif p == "meg":
                want |= {k for k, t in enumerate(types) if t in ("mag", "grad")}
            elif p in self.info.ch_names:
                want.add(self.info.ch_names.index(p))
            else:
                raise UnknownNameError(f"pick {p!r} is neither a channel type of this model "
                                       f"{self.ch_types} nor one of its channels")
        idx = sorted(want)
        if not idx:
            raise ValueError(f"no channels picked by {picks}")
        out = ForwardModel(self.gain[idx], mne.pick_info(self.info, idx), self.labels,
                           forward=self.forward, source_map=self.source_map, kind=self.kind,
                           mode=self.mode, provenance=self.provenance)
        return out

    def region_index(self, labels):
        """Column of the result for each region of this model (see :func:`region_order`)."""
        return region_order(labels, self.labels)

    # -- projection -------------------------------------------------------------------------
    def _moments_setup(self, result, signal, moment_scale, demean):
        from ..result import Result
        validate_type(result, Result, "result", "a rate_bridge Result")
        if len(result.time) < 2:
            raise ValueError("the result has fewer than 2 samples")
        dt = np.diff(result.time)
        if not np.allclose(dt, 1.0 / result.sfreq, rtol=1e-6, atol=1e-12):
            raise ValueError(f"the result is not uniformly sampled at {result.sfreq:g} Hz "
                             f"(time steps from {dt.min():g} to {dt.max():g} s)")
        index = region_order(result.labels, self.labels)
        sig = SourceSignal(result, signal)
        scale, scale_src = resolve_moment_scale(result, signal, moment_scale)
        offset = sig.mean()[index] if demean else np.zeros(len(index))
        meta = {"signal": sig.description, "signal_unit": sig.unit, "moment_scale": scale,
                "moment_scale_source": scale_src, "demean": bool(demean),
                "model": str(result.provenance.get("model", "unknown"))}
        return sig, index, scale, offset, meta

    def moments(self, result, signal=None, moment_scale=None, *, demean=True):
        """Region moments in A·m, shape (n_regions, n_times), in this model's region order."""
        sig, index, scale, offset, _ = self._moments_setup(result, signal, moment_scale, demean)
        block = sig.block(0, len(result.time))[:, index]
        return ((block - offset) * scale).T

    def project(self, moments):
        """Sensor data (V, T, T/m), shape (n_channels, n_times), for region moments in A·m."""
        moments = np.asarray(moments, float)
        if moments.ndim != 2 or moments.shape[0] != self.n_regions:
            raise ValueError(f"moments must have shape (n_regions={self.n_regions}, n_times), "
                             f"got {moments.shape}")
        return self.gain @ moments

    def _sensor_data(self, result, signal, moment_scale, demean, block_size, gain=None):
        sig, index, scale, offset, meta = self._moments_setup(result, signal, moment_scale,
                                                              demean)
        n_times = len(result.time)
        gain = self.gain if gain is None else gain
        # columns in the result's region order, so blocks are used without copying
        g_res = np.zeros((gain.shape[0], result.n_regions))
        g_res[:, index] = gain * scale                    # sensor unit per signal unit
        const = g_res[:, index] @ offset                  # the removed mean, per channel
        data = np.empty((gain.shape[0], n_times))
        block_size = max(1, int(block_size))
        starts = range(0, n_times, block_size)
        if len(starts) > 20:
            starts = progress_bar(starts, desc="projecting to sensors")
        for start in starts:
            stop = min(start + block_size, n_times)
            data[:, start:stop] = g_res @ sig.block(start, stop).T
        if demean:
            data -= const[:, None]
        return data, meta

    def _make_info(self, sfreq, meta, description=None):
        from .sensors import info_like
        info = info_like(self.info, sfreq)
        from .. import __version__
        desc = (f"Simulated with rate_bridge {__version__}: model {meta['model']}, source "
                f"signal {meta['signal']} x {meta['moment_scale']:g} A·m per unit "
                f"({meta['moment_scale_source']}), lead field {self.kind}/{self.mode}")
        info["description"] = description or desc
        return info

    @verbose
    def to_raw(self, result, signal=None, moment_scale=None, *, reference="average", noise=None,
               events=None, event_id=None, demean=True, meas_date=None, random_state=None,
               block_size=20000, verbose=None):
        """Project a result to the sensors as an :class:`mne.io.RawArray`.

        Parameters
        ----------
        result : Result
            Simulation whose region labels match this model's regions (any order).
        signal : str | dict | callable | None
            Source signal: a recorded variable (``"pc.v"``), a linear combination
            (``{"pc.psp_e": 1, "pc.psp_i": -1}``) or ``f(result) -> (n_times, n_regions)``;
            None uses the template's default (:mod:`~.signals`).
        moment_scale : float | None
            A·m of region moment per unit of the signal (e.g. 1e-8 for 10 nA·m per mV); None
            uses the template's documented default.
        reference : "average" | "projection" | str | list of str | None
            EEG reference: the average (applied), an average-reference projector (not applied,
            as MNE's inverse methods prefer), channel name(s), or None to keep the model's
            potentials (relative to infinity in a sphere or an infinite medium, or to the BEM's
            own zero). sEEG, ECoG and DBS channels are referenced the same way, each type on
            its own (a common average per type by default); for bipolar montages pass None and
            use :func:`mne.set_bipolar_reference`.
        noise : float | dict | mne.Covariance | None
            Sensor noise added with :func:`mne.simulation.add_noise` (before referencing): a
            covariance, a dict of white-noise standard deviations per channel type
            (``{"eeg": 1e-6, "mag": 20e-15, "grad": 5e-13}`` in V, T, T/m; ``"seeg"``,
            ``"ecog"``, ``"dbs"`` in V), or a number for a model with one channel type.
        events : array | list | dict | mne.Annotations | None
            Stimuli to annotate: MNE events (n, 3) with sample numbers counted from the
            result's first sample, onsets in s on the result's time axis (list of numbers,
            list of ``(onset, duration, description)`` or of dicts, dict of lists), or
            Annotations. Default: ``result.provenance["events"]`` (or ``"stimuli"``) if present.
        event_id : dict | None
            Names for integer event codes (``{"stim": 1}``).
        demean : bool
            Remove each region's temporal mean before projection.
        meas_date : datetime | str | None
            Measurement date; default ``result.provenance["meas_date"]`` or now (UTC).
        random_state : int | None
            Seed of the sensor noise.
        block_size : int
            Samples per matrix product.
        %(verbose)s

        Returns
        -------
        raw : mne.io.RawArray
            Data in V (EEG), T (magnetometers), T/m (gradiometers).
        """
        import mne
        gain = None
        pre_ref = reference == "average" and noise is None and "eeg" in self.ch_types
        if pre_ref:  # average-reference the gain: same data, no pass over the samples
            eeg = np.array([t == "eeg" for t in self.info.get_channel_types()])
            gain = self.gain.copy()
            gain[eeg] -= gain[eeg].mean(0)
        data, meta = self._sensor_data(result, signal, moment_scale, demean, block_size, gain)
        info = self._make_info(result.sfreq, meta)
        raw = mne.io.RawArray(data, info, verbose=False)
        raw.set_meas_date(_meas_date(meas_date, result))
        if pre_ref:
            raw.set_eeg_reference([], verbose=False)   # mark it as referenced
        else:
            self._finish(raw, noise, reference, random_state)
        ann = _annotations(events if events is not None else _prov_events(result), result,
                           raw, event_id)
        if ann is not None:
            raw.set_annotations(ann)
        logger.info(f"to_raw: {len(raw.ch_names)} channels x {len(raw.times)} samples at "
                    f"{raw.info['sfreq']:g} Hz from {meta['signal']}")
        return raw

    def _finish(self, inst, noise, reference, random_state):
        if noise is not None:
            _add_noise(inst, self._noise_cov(noise), random_state)
        _set_reference(inst, reference)

    def _noise_cov(self, noise):
        import mne
        if isinstance(noise, mne.Covariance):
            missing = [c for c in self.info.ch_names if c not in noise.ch_names]
            if missing:
                raise ValueError(f"the noise covariance lacks channels {missing[:10]} of the "
                                 f"forward model")
            return noise
        types = self.ch_types
        if isinstance(noise, numbers.Number):
            if len(types) != 1:
                raise ValueError(f"noise as one number is ambiguous for channel types {types}; "
                                 f"pass a dict like {{'eeg': 1e-6, 'mag': 2e-14, 'grad': "
                                 f"5e-13}} (V, T, T/m)")
            noise = {types[0]: float(noise)}
        validate_type(noise, dict, "noise", "a number, a dict of standard deviations per "
                      "channel type or an mne.Covariance")
        unknown = set(noise) - set(_UNITS)
        if unknown:
            raise UnknownNameError(f"noise keys must be channel types "
                                   f"{', '.join(map(repr, _UNITS))}; got {sorted(unknown)}")
        missing = set(types) - set(noise)
        if missing:
            raise ValueError(f"noise gives no level for channel type(s) {sorted(missing)} "
                             f"(units: {', '.join(_UNITS[t] for t in sorted(missing))})")
        for key, val in noise.items():
            if not np.isfinite(val) or val < 0:
                raise ValueError(f"noise level for {key} must be >= 0, got {val}")
        std = {k: max(float(v), 1e-300) for k, v in noise.items()}
        if set(types) <= {"eeg", "mag", "grad"}:
            return mne.make_ad_hoc_cov(self.info, std=std, verbose=False)
        # make_ad_hoc_cov knows EEG/MEG only: the same diagonal covariance for every type
        var = np.array([std[t] ** 2 for t in self.info.get_channel_types()])
        return mne.Covariance(var, self.info.ch_names, [], [], nfree=1, verbose=False)

    # -- trials -----------------------------------------------------------------------------
    @verbose
    def to_epochs(self, results, signal=None, moment_scale=None, *, tmin=None, onset=None,
                  events=None, event_id=None, tmax=None, baseline=None, reference="average",
                  noise=None, demean=True, random_state=None, verbose=None):
        """Trials as :class:`mne.Epochs`.

        Parameters
        ----------
        results : list of Result | ResultBatch | Result
            One result per trial (same labels and time axis), or one continuous result cut
            around ``events`` (see :meth:`to_raw`).
        onset : float | None
            Trials: stimulus time (s) on the results' time axis, so that epoch time 0 is the
            stimulus; default ``provenance["onset"]`` of the first result, or its first event,
            else 0.
        tmin, tmax : float | None
            Continuous result: epoch window (s) around each event (default -0.2, 0.5).
        baseline : tuple | None
            Baseline correction, as in MNE.
        %(verbose)s
        (other parameters as in :meth:`to_raw`; noise is drawn independently per trial)

        Returns
        -------
        epochs : mne.EpochsArray | mne.Epochs
        """
        import mne
        from ..result import Result
        if isinstance(results, Result):
            raw = self.to_raw(results, signal, moment_scale, reference=reference, noise=noise,
                              events=events, event_id=event_id, demean=demean,
                              random_state=random_state)
            if not len(raw.annotations):
                raise ValueError("one continuous result needs events (argument or "
                                 "provenance['events']) to cut epochs around")
            ev, ev_id = mne.events_from_annotations(raw, event_id=event_id, verbose=False)
            return mne.Epochs(raw, ev, ev_id, tmin=-0.2 if tmin is None else tmin,
                              tmax=0.5 if tmax is None else tmax, baseline=baseline,
                              preload=True, verbose=False)
        results = list(results)
        if not results:
            raise ValueError("no results given")
        first = results[0]
        for k, r in enumerate(results[1:], 1):
            validate_type(r, Result, f"results[{k}]")
            if len(r.time) != len(first.time) or not np.allclose(r.time, first.time):
                raise ValueError(f"results[{k}] has another time axis than results[0]; trials "
                                 f"must share it")
        data = []
        meta = None
        for r in progress_bar(results, desc="projecting trials"):
            d, meta = self._sensor_data(r, signal, moment_scale, demean, 20000)
            data.append(d)
        data = np.stack(data)
        if onset is None:
            onset = first.provenance.get("onset")
            if onset is None:
                ann = _annotations(_prov_events(first), first, None, None)
                onset = first.time[0] + ann.onset[0] if ann is not None and len(ann) else 0.0
        info = self._make_info(first.sfreq, meta)
        epochs = mne.EpochsArray(data, info, tmin=float(first.time[0] - onset),
                                 baseline=None, verbose=False)
        if noise is not None:
            _add_noise(epochs, self._noise_cov(noise), random_state)
        _set_reference(epochs, reference)
        if baseline is not None:
            epochs.apply_baseline(baseline, verbose=False)
        return epochs

    @verbose
    def to_evoked(self, results, signal=None, moment_scale=None, *, comment=None, verbose=None,
                  **kwargs):
        """Average of trials as an :class:`mne.EvokedArray` (see :meth:`to_epochs`)."""
        epochs = self.to_epochs(results, signal, moment_scale, **kwargs)
        evoked = epochs.average()
        evoked.comment = comment or f"rate_bridge {self.kind} ({len(epochs)} trials)"
        return evoked

    # -- sources ----------------------------------------------------------------------------
    @verbose
    def to_source_estimate(self, result, signal=None, moment_scale=None, *, demean=True,
                           subject=None, verbose=None):
        """Ground-truth source activity on this model's source space.

        Region moments are spread over the region's sources as the lead field assumes
        (``mode="mean"``: equal shares summing to the region moment; ``"sum"``: every source
        carries the full moment; region centres: one source per region), so projecting the
        estimate with ``self.forward`` (fixed orientation) gives :meth:`to_raw`'s data without
        noise and reference. With ``mode="dipole"`` the equivalent dipole is not a point of the
        source space; the estimate then shows the equal-share spread of ``"mean"``.
        Surface estimates name the forward's subject (a temporary one, ``"rate_bridge_cortex"``,
        for surfaces we wrote ourselves); pass ``subject=`` to plot with your own
        ``subjects_dir``.

        Returns
        -------
        stc : mne.SourceEstimate | mne.VolSourceEstimate
            Dipole moments in A·m; lh sources then rh for surfaces, as MNE expects.
        """
        import mne
        if self.source_map is None:
            raise ValueError(f"this {self.kind} forward model has no source space (e.g. a "
                             f"precomputed projection matrix without a cortical surface); "
                             f"source estimates need one")
        mom = self.moments(result, signal, moment_scale, demean=demean)
        sm = self.source_map
        data = np.asarray(sm.weights @ mom)
        subject = subject or sm.subject
        tstep = 1.0 / result.sfreq
        tmin = float(result.time[0])
        if sm.kind == "surface":
            return mne.SourceEstimate(data, sm.vertices, tmin, tstep, subject=subject)
        return mne.VolSourceEstimate(data, sm.vertices, tmin, tstep, subject=subject)

    # -- files ------------------------------------------------------------------------------
    @verbose
    def save(self, fname, overwrite=False, *, verbose=None):
        """Save the forward model (gain, Info, labels, source map, MNE forward, provenance).

        Read it back with :func:`~rate_bridge.forward_models.read_forward_model`; see
        :mod:`~rate_bridge.forward_models.storage` for the format.

        Parameters
        ----------
        fname : path-like
            The file (a zip archive; e.g. ``"sub-01-rbfwd.zip"``), replaced atomically.
        overwrite : bool
            Replace an existing file; otherwise a FileExistsError.
        %(verbose)s

        Returns
        -------
        fname : pathlib.Path
        """
        from .storage import save_forward_model
        return save_forward_model(self, fname, overwrite=overwrite)

    # -- sharing ----------------------------------------------------------------------------
    @verbose
    def to_bids(self, result, bids_root, subject, task, session=None, run=None, *,
                signal=None, moment_scale=None, reference="average", noise=None, events=None,
                event_id=None, random_state=None, line_freq=None, format="auto", space=None,
                overwrite=False, verbose=None):
        """Write the simulation as a BIDS EEG/MEG/iEEG dataset (needs ``mne-bids``).

        The sensor data of :meth:`to_raw` go through :func:`mne_bids.write_raw_bids`; the
        result itself (the ground-truth sources) goes to ``derivatives/rate_bridge/`` as
        NetCDF, with a JSON sidecar holding the full provenance (simulation, forward model,
        projection, versions) under ``"RateBridgeProvenance"`` (:mod:`rate_bridge.bids`).

        Parameters
        ----------
        result : Result
        bids_root : path-like
            Root folder of the BIDS dataset (created or added to).
        subject, task : str
            BIDS entities (letters and digits).
        session, run : str | int | None
            Optional BIDS entities.
        line_freq : float | None
            ``PowerLineFrequency`` of the sidecar (None: ``"n/a"``, a simulation has none).
        format : "auto" | "BrainVision" | "EDF" | "FIF" | ...
            File format (mne-bids' ``format``); auto: BrainVision (float32) for EEG and
            iEEG, FIF (float64) for MEG.
        space : str | None
            BIDS space of the electrode positions (e.g. ``"ACPC"`` or an MNI template for
            iEEG contacts in those coordinates); None: from the positions' frame (iEEG
            contacts in MNE's head or MRI frame: ``"Other"``, described in the
            coordsystem JSON).
        overwrite : bool
            Replace this recording's files if they exist (otherwise FileExistsError).
        %(verbose)s
        (signal, moment_scale, reference, noise, events, event_id, random_state as in
        :meth:`to_raw`)

        Returns
        -------
        dict
            ``raw`` (the recording's :class:`mne_bids.BIDSPath`), ``sidecar`` (its JSON),
            ``sources`` (the Result file) and ``provenance`` (the sources' JSON sidecar).
        """
        from ..bids import write_bids
        return write_bids(self, result, bids_root, subject, task, session, run, signal=signal,
                          moment_scale=moment_scale, reference=reference, noise=noise,
                          events=events, event_id=event_id, random_state=random_state,
                          line_freq=line_freq, format=format, space=space,
                          overwrite=overwrite)

    # -- plots ------------------------------------------------------------------------------
    def save_sensor_plots(self, raw, fname, **kwargs):
        """Save a PNG of the sensor PSD and a band-power topomap.

        See :func:`~rate_bridge.forward_models.viz.save_psd_topomap`.
        """
        from .viz import save_psd_topomap
        return save_psd_topomap(raw, fname, **kwargs)


def from_gain(gain, sensors, labels, **kwargs):
    """A forward model from any gain matrix.

    Parameters
    ----------
    gain : array-like, shape (n_channels, n_regions)
        V (EEG), T (magnetometers) or T/m (gradiometers) per A·m of region moment.
    sensors : mne.Info | str | DigMontage | dict
        The channels of the gain's rows: an Info, or anything
        :func:`~rate_bridge.forward_models.make_sensor_info` takes (e.g. a montage name).
    labels : list of str
        Region labels of the columns.
    **kwargs
        Passed to :class:`ForwardModel` (``kind``, ``mode``, ``provenance``...).

    Returns
    -------
    fm : ForwardModel
    """
    import mne
    from .sensors import make_sensor_info
    info = sensors if isinstance(sensors, mne.Info) else make_sensor_info(sensors)
    kwargs.setdefault("kind", "gain")
    return ForwardModel(gain, info, labels, **kwargs)


def _add_noise(inst, cov, seed):
    """mne.simulation.add_noise with a generator (independent noise per epoch)."""
    import warnings
    from mne.simulation import add_noise
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        # noise is added at the electrodes before referencing, on purpose
        warnings.filterwarnings("ignore", message="No average EEG reference")
        try:
            add_noise(inst, cov, iir_filter=None, rng=rng, verbose=False)
        except TypeError:  # MNE < 1.12: only random_state
            add_noise(inst, cov, iir_filter=None, random_state=rng, verbose=False)


def _set_reference(inst, reference):
    """EEG and each intracranial type (ecog, seeg, dbs) re-referenced on its own."""
    present = set(inst.get_channel_types())
    kinds = [t for t in _ELECTRODES if t in present]
    if reference is None or not kinds:
        return
    if reference in ("average", "projection"):
        for kind in kinds:
            inst.set_eeg_reference("average", projection=reference == "projection",
                                   ch_type=kind, verbose=False)
        return
    refs = [reference] if isinstance(reference, str) else list(reference)
    names = dict(zip(inst.ch_names, inst.get_channel_types()))
    missing = [r for r in refs if names.get(r) not in _ELECTRODES]
    if missing:
        raise ValueError(f"reference channel(s) {missing} are not EEG/sEEG/ECoG/DBS channels "
                         f"of the model; expected 'average', 'projection', None or channel "
                         f"names")
    for kind in sorted({names[r] for r in refs}, key=_ELECTRODES.index):
        inst.set_eeg_reference([r for r in refs if names[r] == kind], projection=False,
                               ch_type=kind, verbose=False)


def _meas_date(meas_date, result):
    if meas_date is None:
        meas_date = result.provenance.get("meas_date")
    if meas_date is None:
        meas_date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if isinstance(meas_date, str):
        meas_date = datetime.datetime.fromisoformat(meas_date)
    if isinstance(meas_date, numbers.Number):
        meas_date = datetime.datetime.fromtimestamp(float(meas_date), datetime.timezone.utc)
    validate_type(meas_date, datetime.datetime, "meas_date",
                  "a datetime, ISO string or timestamp")
    if meas_date.tzinfo is None:
        meas_date = meas_date.replace(tzinfo=datetime.timezone.utc)
    return meas_date


def _prov_events(result):
    for key in ("events", "stimuli", "stimulus"):
        if key in result.provenance and result.provenance[key] is not None:
            return result.provenance[key]
    return None


def _annotations(events, result, raw, event_id):
    """Annotations (onsets relative to the result's first sample) from the accepted formats."""
    import mne
    if events is None:
        return None
    t0 = float(result.time[0])
    sfreq = result.sfreq
    orig_time = raw.info["meas_date"] if raw is not None else None
    if isinstance(events, mne.Annotations):
        return mne.Annotations(events.onset, events.duration, events.description, orig_time)
    names = {v: k for k, v in (event_id or {}).items()}
    onset, duration, desc = [], [], []
    if isinstance(events, dict):
        on = events.get("onset", events.get("onsets", events.get("times")))
        if on is None:
            raise ValueError(f"an events dict needs 'onset' (s); got keys {sorted(events)}")
        on = np.atleast_1d(np.asarray(on, float))
        dur = np.broadcast_to(np.asarray(events.get("duration", 0.0), float), on.shape)
        de = events.get("description", events.get("name", "stim"))
        de = [de] * len(on) if isinstance(de, str) else list(de)
        onset, duration, desc = list(on - t0), list(dur), [str(d) for d in de]
    elif isinstance(events, np.ndarray) and events.ndim == 2 and events.shape[1] == 3 and \
            np.issubdtype(events.dtype, np.integer):
        onset = list(events[:, 0] / sfreq)
        duration = [0.0] * len(events)
        desc = [names.get(int(c), str(int(c))) for c in events[:, 2]]
    else:
        for k, ev in enumerate(list(events)):
            if isinstance(ev, np.ndarray):
                ev = ev.tolist() if ev.ndim else ev.item()
            if isinstance(ev, dict):
                if "onset" not in ev:
                    raise ValueError(f"event {k} has no 'onset' (s): {ev}")
                onset.append(float(ev["onset"]) - t0)
                duration.append(float(ev.get("duration", 0.0)))
                desc.append(str(ev.get("description", ev.get("name", "stim"))))
            elif isinstance(ev, (tuple, list)) and len(ev) >= 1:
                onset.append(float(ev[0]) - t0)
                duration.append(float(ev[1]) if len(ev) > 1 else 0.0)
                desc.append(str(ev[2]) if len(ev) > 2 else "stim")
            elif isinstance(ev, numbers.Number):
                onset.append(float(ev) - t0)
                duration.append(0.0)
                desc.append("stim")
            else:
                raise ValueError(f"cannot read event {k} ({ev!r:.60}); expected an onset in "
                                 f"s, (onset, duration, description), a dict with 'onset', "
                                 f"or MNE events (n, 3)")
    onset = np.asarray(onset, float)
    dur_total = len(result.time) / sfreq
    bad = (onset < -1e-9) | (onset > dur_total)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} event(s) lie outside the result's time span "
                         f"[{t0:g}, {t0 + dur_total:g}] s, e.g. onset {onset[bad][0] + t0:g} s")
    return mne.Annotations(onset, duration, desc, orig_time=orig_time)
