"""Fitting a network to data: objectives on the streaming monitors, optimisers over batched
kernel calls, and a simulator function for inference libraries.

Each generation of an optimiser -- a CMA-ES population, a differential-evolution population, a
batch of optuna trials, a block of grid or random points -- is **one** batched
:func:`~rate_bridge.simulate` call (split over the workers of a dask client, if one is given),
and every candidate keeps only what its objective needs, computed inside the kernel
(:mod:`rate_bridge.monitors`)::

    fit = rb.fit.fit(net, subject_fc, {"global_coupling": (0.0, 2.0), "pc.u": (100.0, 300.0)},
                     objective="fc_corr", variable="pc.v", method="differential_evolution",
                     duration=60.0, dt=1e-4, start=5.0, n_evaluations=400, batch_size=40,
                     noise={"pc.u": 22.0})
    fit.best_params, fit.best_score     # {"global_coupling": ..., "pc.u": ...}, a distance
    fit.history                         # pandas DataFrame: one row per evaluation
    fit.plot()                          # convergence and parameter trajectories

Scores are distances, lower is better: ``"fc_corr"`` is 1 - the Pearson correlation of the FC
upper triangles (in [0, 2]), ``"fcd_ks"`` the Kolmogorov-Smirnov distance of the FCD
distributions (in [0, 1]), ``"psd"`` the RMS difference of log10 power
(:func:`~rate_bridge.measures.psd_distance`); a weighted sum of them, or any
``callable(result) -> float``.

**Reproducible**: the optimiser draws from ``seed``, and every candidate runs on the same noise
(``noise_seed``: common random numbers), so a score is a function of the parameters alone and
the same seed gives the same fit. **Resumable**: a fit given ``history_file`` writes every
generation there; started again with that file it replays the generations the file holds (no
simulation) and goes on, ending where an uninterrupted fit ends.
"""
import copy
import inspect
import math
import os
import time
from types import SimpleNamespace

import numpy as np

from . import measures, monitors as mon
from .measures import _mne_kind
from .result import Result
from .simulate import SimulationInterrupted, simulate
from .utils import (UnknownNameError, check_known, check_option, finite_number, logger,
                    short_repr, validate_type, verbose)

METHODS = ("cmaes", "differential_evolution", "grid", "random", "optuna")
#: simulate() arguments a fit sets itself
_OWN = ("params", "seed", "model", "duration", "dt")


# -- the fitted parameters ---------------------------------------------------------------------
def _fittable(net):
    """Names a fit may vary: the circuits' parameters, G and coupling parameters, speed."""
    known = set(net.parameters)
    for ci, c in enumerate(net.couplings):
        known |= {"global_coupling", f"coupling{ci}.G"} | {f"coupling{ci}.{p}" for p in c.params}
    if getattr(getattr(net, "connectome", None), "tract_lengths", None) is not None:
        known.add("speed")
    return known


def _bounds(name, bounds):
    """(low, high, log) of ``parameters[name]``: ``(low, high)`` or ``(low, high, "log")``."""
    what = f"parameters[{name!r}]"
    ok = isinstance(bounds, (tuple, list)) and len(bounds) in (2, 3)
    if not ok:
        raise TypeError(f"{what} must be (low, high) or (low, high, 'log'), got "
                        f"{short_repr(bounds)}")
    low, high = finite_number(bounds[0], f"{what} low"), finite_number(bounds[1], f"{what} high")
    scale = check_option(f"{what} scale", bounds[2], ("linear", "log")) if len(bounds) == 3 \
        else "linear"
    if not low < high:
        raise ValueError(f"{what}: bounds must have low < high, got ({low:g}, {high:g})")
    if scale == "log" and low <= 0:
        raise ValueError(f"{what}: a log scale needs low > 0, got {low:g}")
    return low, high, scale == "log"


class _Space:
    """The fitted parameters (names, bounds, scales): optimisers work in the unit cube."""

    def __init__(self, net, parameters, fixed=None):
        if isinstance(parameters, (list, tuple)):          # names only (the simulator)
            parameters = {name: None for name in parameters}
        validate_type(parameters, dict, "parameters", "a dict {name: (low, high)}")
        if not parameters:
            raise ValueError("parameters is empty: give at least one {name: (low, high)}")
        known = _fittable(net)
        self.names = list(parameters)
        for name in self.names:
            _check_name(net, name, known)
        spec = [(0.0, 1.0, False) if b is None else _bounds(n, b) for n, b in parameters.items()]
        self.low, self.high, self.log = (np.array(v) for v in zip(*spec))
        self.fixed = dict(validate_type(fixed, (dict, None), "params") or {})
        both = sorted(set(self.fixed) & set(self.names))
        if both:
            raise ValueError(f"params fixes {both}, which parameters fits: give each once")

    @property
    def d(self):
        return len(self.names)

    def values(self, u):
        """Parameter values (n, d) of unit-cube points ``u`` (n, d)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        lo = np.where(self.log, np.log(np.where(self.log, self.low, 1.0)), self.low)
        hi = np.where(self.log, np.log(np.where(self.log, self.high, 1.0)), self.high)
        x = lo + u * (hi - lo)
        return np.clip(np.where(self.log, np.exp(x), x), self.low, self.high)   # rounding

    def members(self, x):
        """One simulate() parameter dict per row of ``x``."""
        return [{**self.fixed, **{n: float(v) for n, v in zip(self.names, row)}} for row in x]


def _check_name(net, name, known):
    validate_type(name, str, "parameters name", "a str")
    if name == "weights":
        raise ValueError("parameters['weights']: a weight matrix is not a range; fit "
                         "'global_coupling' (their scale) instead")
    if name == "speed" and name not in known:
        raise ValueError("parameters['speed']: this network has no tract lengths; build it "
                         "with Network.from_connectome to fit the conduction speed")
    if name == "global_coupling" and name not in known:
        raise ValueError("parameters['global_coupling']: this network has no coupling")
    check_known(name, sorted(known), "parameter", where="parameters: ")


# -- what a candidate's run keeps --------------------------------------------------------------
def _variable(net, variable, kinds):
    """The variable observed: ``variable``, or the circuits' declared signal of ``kinds``."""
    if variable is not None:
        validate_type(variable, str, "variable")
        if variable not in net.variables:
            raise UnknownNameError(f"variable {variable!r} is not a variable of the network; "
                                   f"variables: {net.variables}")
        return variable
    for kind in kinds:
        signals = {g["circuit"].observables.get(kind, {}).get("signal") for g in net.groups}
        if len(signals) == 1 and (signal := signals.pop()) in net.variables:
            return signal
    raise ValueError(f"variable: give the variable to fit (e.g. variable={net.variables[0]!r}):"
                     f" the circuits declare no single {' or '.join(kinds)} signal")


def _check_rate(rate, dt, what):
    """``rate`` (Hz) such that 1/dt is a whole multiple of it."""
    ratio = 1.0 / (dt * rate)
    if round(ratio) < 1 or abs(ratio - round(ratio)) > 1e-6 * ratio:
        raise ValueError(f"{what}: the data's {rate:g} Hz must divide the simulation's 1/dt = "
                         f"{1 / dt:g} Hz: choose dt = 1 / (k * {rate:g}) s, or resample the "
                         "data")
    return float(rate)


def _pow2(n):
    """The power of two nearest ``n`` (at least 2)."""
    return int(2 ** max(1, round(math.log2(max(n, 2)))))


class _Series:
    """A time series a candidate's run keeps for a measure (FCD, or FC/PSD of BOLD or sensor
    signals): a recorded variable, or a BOLD or sensors monitor, from ``start`` on."""

    def __init__(self, start, record=None, monitor=None, keep=None):
        self.start, self.record, self.monitor, self.keep = start, record, monitor, keep

    def __call__(self, res):
        """(samples (n_times, n_signals), sampling rate in Hz)."""
        if self.record is not None:
            x, t = res[self.record], res.time
        else:
            m = res.monitors[self.monitor.name]
            x, t = m.data, m.time
        x = x[t >= self.start - 1e-12]
        return (x if self.keep is None else x[:, self.keep]), 1.0 / (t[1] - t[0])


def _forward_setup(net, data, ctx, var, tag):
    """A Sensors monitor projecting ``var`` through ``ctx.forward`` at the data's rate, the
    good channels of the data it has, and the data's picks of them (MNE targets)."""
    fwd = ctx.forward
    if fwd is None:
        raise ValueError(f"target is an MNE {type(data).__name__}: pass forward= (a "
                         "ForwardModel of the network's regions) to project the regions onto "
                         "its channels")
    if not (hasattr(fwd, "gain") and hasattr(fwd, "info") and hasattr(fwd, "labels")):
        raise TypeError(f"forward must be a ForwardModel, got {type(fwd).__name__}")
    if list(fwd.labels) != list(net.labels):
        raise ValueError(f"forward: its {len(fwd.labels)} region(s) {fwd.labels[:3]}... are not"
                         f" the network's {net.n_regions} {net.labels[:3]}... in the same order")
    names = list(fwd.info.ch_names)
    missing = [c for c in names if c not in data.ch_names]
    if missing:
        raise ValueError(f"target: the data lack {len(missing)} of the forward model's "
                         f"{len(names)} channels, e.g. {missing[:5]}; pick the same channels "
                         "in both")
    keep = [i for i, c in enumerate(names) if c not in data.info["bads"]]
    if len(keep) < 2:
        raise ValueError("target: fewer than 2 good channels of the forward model in the data")
    rate = _check_rate(data.info["sfreq"], ctx.dt, "target")
    sensors = mon.Sensors(var, gain=fwd, sampling_rate=rate, start=ctx.start,
                          name=f"{tag}_sensors")
    return _Series(ctx.start, monitor=sensors, keep=keep), [names[i] for i in keep]


def _series(ctx, var, tag, tr):
    """A BOLD monitor (``tr``) or the recorded variable."""
    if tr is not None:
        return _Series(ctx.start, monitor=mon.Bold(var, tr=tr, name=f"{tag}_bold"))
    return _Series(ctx.start, record=var)


# -- objectives --------------------------------------------------------------------------------
class Objective:
    """Base of the objectives: what a candidate's run keeps and its score (lower is better).

    A subclass sets ``name``, ``worst`` (the highest score it can give, ``inf`` if unbounded),
    implements ``_bind(net, target, ctx, tag)`` (monitors, recorded variables and target
    features for one network) and ``score(result)``.
    """
    name, worst = "objective", np.inf
    monitors, record, sampling_rate = (), (), None

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    def bind(self, net, target, ctx, tag="fit"):
        """A copy of this objective set up for ``net`` against ``target`` (its own target
        first)."""
        out = copy.copy(self)
        own = getattr(self, "target", None)
        out._bind(net, own if own is not None else target, ctx, tag)
        out.target = None          # its features are kept: no data shipped to dask workers
        return out

    def _bind(self, net, target, ctx, tag):
        pass

    def evaluate(self, result):
        """(score, {term: score}) of a completed run."""
        return self.score(result), {}

    def _start(self, ctx):
        return ctx.start if getattr(self, "start", None) is None else \
            finite_number(self.start, "start")


def _needs(target, name):
    if target is None:
        raise ValueError(f"objective {name!r} needs a target (target=...)")
    return target


def _result_series(res, var, start, bold=False):
    """(data, sfreq) of a series of a target Result: its BOLD monitor (``bold``), ``var`` if
    recorded, else its only time series."""
    name = var if var in res.variables else None
    if bold:
        names = [n for n, m in res.monitors.items() if m.kind == "bold"]
        if not names:
            raise ValueError("tr is given but the target Result has no BOLD monitor: give its "
                             "FC or FCD, or a Result with one")
        name = names[0]
    sig = measures._resolve(res, name, tmin=start or None)
    return sig.data[0], sig.sfreq


class FCCorrelation(Objective):
    """1 - the Pearson correlation of the upper triangles of the simulated and target FC.

    Parameters
    ----------
    target : ndarray, shape (n_regions, n_regions) | Result | mne.io.Raw | mne.Epochs | None
        An FC matrix (e.g. from a subject's BOLD), a Result (its covariance monitor's FC, or
        the FC of its recorded ``variable``), or MNE data (sensor-space FC of the forward
        model's channels, the simulation projected through ``forward``); None: fit()'s.
    variable : str | None
        The variable whose FC is fitted (None: fit()'s, else the circuits' declared ``bold``
        then ``eeg_meg`` signal).
    sampling_rate : float | None
        Samples per second of the in-kernel covariance (None: every step).
    start : float | None
        Transient skipped (s); None: fit()'s ``start``.
    tr : float | None
        Fit the FC of the simulated BOLD signal (a Bold monitor at this TR, s) instead.
    """
    name, worst = "fc_corr", 2.0

    def __init__(self, target=None, variable=None, *, sampling_rate=None, start=None, tr=None):
        self.target, self.variable, self.sampling_rate = target, variable, None
        self.rate, self.start, self.tr = sampling_rate, start, tr

    def _bind(self, net, target, ctx, tag):
        target, start = _needs(target, self.name), self._start(ctx)
        ctx = SimpleNamespace(**{**vars(ctx), "start": start})
        var = _variable(net, self.variable or ctx.variable, ("bold", "eeg_meg"))
        self._series, self.monitors = None, ()
        if _mne_kind(target) in ("raw", "epochs"):
            self._series, channels = _forward_setup(net, target, ctx, var, tag)
            self.target_fc = measures.fc(target, picks=channels)
        elif isinstance(target, Result):
            covs = [m for m in target.monitors.values() if m.kind == "covariance"]
            self.target_fc = covs[0].fc if covs and self.tr is None else measures.fc(
                _result_series(target, var, start, bold=self.tr is not None)[0])
        else:
            self.target_fc = measures._square(target, "target FC")
            if self.target_fc.shape[0] != net.n_regions:
                raise ValueError(f"target FC has shape {self.target_fc.shape}; the network "
                                 f"has {net.n_regions} regions")
        if self._series is None and self.tr is not None:
            self._series = _series(ctx, var, tag, self.tr)
        if self._series is not None:
            self.monitors = (self._series.monitor,)
        else:
            self.monitors = (mon.Covariance(var, sampling_rate=self.rate, start=start,
                                            name=f"{tag}_fc"),)
        self._fc_name = self.monitors[0].name

    def features(self, res):
        """The simulated FC matrix."""
        if self._series is None:
            return res.monitors[self._fc_name].fc
        return measures.fc(self._series(res)[0])

    def score(self, res):
        return 1.0 - measures.fc_correlation(self.features(res), self.target_fc)


class FCDDistance(Objective):
    """Kolmogorov-Smirnov distance between the simulated and target FCD distributions.

    The FCD needs a time series of every region: the run **records** ``variable`` (at
    ``sampling_rate``, or simulate's; memory grows with the duration), or keeps BOLD (``tr``)
    or sensor signals (an MNE target) from in-kernel monitors.

    Parameters
    ----------
    target : ndarray | Result | mne.io.Raw | None
        An FCD matrix or distribution (:func:`~rate_bridge.measures.fcd`,
        :func:`~rate_bridge.measures.fcd_distribution`), a Result (the FCD of its recorded
        ``variable``, or of its only time-series monitor) or MNE data (sensor-space FCD).
    variable : str | None
        See :class:`FCCorrelation`.
    window, step : float | None
        FCD window length and step in s; None: a fifth of the run after ``start``, and a
        quarter of the window.
    tr : float | None
        The FCD of the simulated BOLD signal at this TR.
    sampling_rate : float | None
        Recording rate in Hz of ``variable`` (None: simulate's).
    start : float | None
        Transient skipped (s); None: fit()'s.
    k : int
        First FCD diagonal kept (:func:`~rate_bridge.measures.fcd_distribution`).
    """
    name, worst = "fcd_ks", 1.0

    def __init__(self, target=None, variable=None, *, window=None, step=None, tr=None,
                 sampling_rate=None, start=None, k=1):
        self.target, self.variable, self.window, self.step = target, variable, window, step
        self.tr, self.sampling_rate, self.start, self.k = tr, sampling_rate, start, k

    def _bind(self, net, target, ctx, tag):
        target, start = _needs(target, self.name), self._start(ctx)
        ctx = SimpleNamespace(**{**vars(ctx), "start": start})
        var = _variable(net, self.variable or ctx.variable, ("bold", "eeg_meg"))
        self.window = self.window or (ctx.duration - start) / 5.0
        self.step = self.step or self.window / 4.0
        if _mne_kind(target) in ("raw", "epochs"):
            self._series, channels = _forward_setup(net, target, ctx, var, tag)
            target = measures.fcd(target, self.window, self.step, picks=channels)
        else:
            self._series = _series(ctx, var, tag, self.tr)
            if isinstance(target, Result):
                x, sfreq = _result_series(target, var, start, bold=self.tr is not None)
                target = measures.fcd(x, self.window, self.step, sfreq=sfreq)
        self.target_fcd = measures._distribution(target, "target FCD", self.k)
        recorded = self._series.record is not None
        self.record = (var,) if recorded else ()
        self.sampling_rate = self.sampling_rate if recorded else None
        self.monitors = () if recorded else (self._series.monitor,)

    def features(self, res):
        """The simulated FCD distribution."""
        x, sfreq = self._series(res)
        return measures.fcd_distribution(measures.fcd(x, self.window, self.step, sfreq=sfreq),
                                         self.k)

    def score(self, res):
        return measures.fcd_ks(self.features(res), self.target_fcd)


class PSDDistance(Objective):
    """RMS difference of log10 power between the simulated and target spectra
    (:func:`~rate_bridge.measures.psd_distance`).

    Parameters
    ----------
    target : (freqs, power) | Result | mne.io.Raw | mne.Epochs | None
        A Welch spectrum, power ``(n_freqs, n_regions)`` (or ``(n_freqs,)`` with
        ``average=True``) at frequencies ``k * fs / nperseg``, ``nperseg`` a power of two (the
        in-kernel Welch monitor runs at ``fs`` with that segment); a Result (its Welch
        monitor, or the spectrum of its recorded ``variable``); or MNE data (the spectra of the
        forward model's channels against the simulation projected through ``forward``).
    variable : str | None
        The signal (None: fit()'s, else the circuits' declared ``eeg_meg`` then ``bold``
        signal).
    band : tuple of float | None
        ``(low, high)`` Hz compared; None: every frequency above 0 Hz.
    average : bool
        Compare the spectra averaged over signals.
    relative : bool
        Divide each spectrum by its total power in ``band`` first (compares shapes, not
        scales: e.g. EEG against a model without a calibrated gain).
    sampling_rate : float | None
        Hz, for a Result target without a Welch monitor (None: its own rate).
    nperseg : int | None
        Segment length in samples (a power of two) for a Result or MNE target; None: the
        power of two nearest 2 s.
    start : float | None
        Transient skipped (s); None: fit()'s.
    """
    name, worst = "psd", np.inf

    def __init__(self, target=None, variable=None, *, band=None, average=False,
                 relative=False, sampling_rate=None, nperseg=None, start=None):
        self.target, self.variable, self.band, self.average = target, variable, band, average
        self.relative, self.rate, self.nperseg, self.start = relative, sampling_rate, nperseg, \
            start

    def _bind(self, net, target, ctx, tag):
        target, start = _needs(target, self.name), self._start(ctx)
        ctx = SimpleNamespace(**{**vars(ctx), "start": start})
        var = _variable(net, self.variable or ctx.variable, ("eeg_meg", "bold"))
        self._series = None
        if _mne_kind(target) in ("raw", "epochs"):
            self._series, channels = _forward_setup(net, target, ctx, var, tag)
            self._segment = self._nper(target.info["sfreq"]) / target.info["sfreq"]
            self.target_psd = measures.psd(target, picks=channels, segment=self._segment)
            self.monitors = (self._series.monitor,)
            return
        if isinstance(target, Result):
            welch = [m for m in target.monitors.values() if m.kind == "welch"]
            target = welch[0] if welch else self._result_psd(target, var, start)
        freqs, power = measures._spectrum(target, "target")
        rate, nper = 2.0 * freqs[-1], 2 * (len(freqs) - 1)
        if nper < 2 or nper & (nper - 1) or not np.allclose(freqs, np.arange(len(freqs)) * rate
                                                            / nper):
            raise ValueError(f"target: {len(freqs)} frequencies up to {freqs[-1]:g} Hz are not "
                             "those of a Welch spectrum with a power-of-two segment (0, fs / "
                             "nperseg, ..., fs / 2): use rb.measures.psd with segment = 2**k / "
                             "sfreq")
        if not self.average and power.shape[-1] != net.n_regions:
            raise ValueError(f"target power has {power.shape[-1]} signal(s), the network "
                             f"{net.n_regions} regions: pass one spectrum per region, or "
                             "average=True")
        self.target_psd = (freqs, power)
        self.monitors = (mon.Welch(var, sampling_rate=_check_rate(rate, ctx.dt, "target"),
                                   nperseg=nper, start=start, name=f"{tag}_psd"),)

    def _nper(self, rate):
        return validate_type(self.nperseg, "int", "nperseg") if self.nperseg else _pow2(2 * rate)

    def _result_psd(self, res, var, start):
        x, rate = _result_series(res, var, start)
        if self.rate is not None and not np.isclose(self.rate, rate):
            raise ValueError(f"sampling_rate={self.rate} Hz differs from the target Result's "
                             f"{rate:g} Hz")
        return measures.psd(x, sfreq=rate, segment=min(self._nper(rate), _pow2(len(x) / 2))
                            / rate)

    def features(self, res):
        """The simulated spectrum, (freqs, power)."""
        if self._series is None:
            m = res.monitors[self.monitors[0].name]
            return m.freqs, m.data
        x, rate = self._series(res)
        return measures.psd(x, sfreq=rate, segment=self._segment)

    def score(self, res):
        a, b = self.features(res), self.target_psd
        if self.relative:
            a, b = self._relative(a), self._relative(b)
        return measures.psd_distance(a, b, band=self.band, average=self.average)

    def _relative(self, spectrum):
        freqs, power = spectrum
        mask = measures._in_band(freqs, self.band, 2.0 * freqs[-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return freqs, power / power[mask].sum(axis=0, keepdims=True)


class _Callable(Objective):
    """A user's ``func(result) -> float`` (monitors and record given to fit())."""
    name = "callable"

    def __init__(self, func):
        self.func = func

    def score(self, res):
        value = self.func(res)
        validate_type(value, "numeric", "the objective's return value", "a number")
        return float(value)


class Weighted(Objective):
    """A weighted sum of objectives; each term's score is kept in the history too.

    Parameters
    ----------
    terms : list of (Objective | str, float)
    """
    name = "weighted"

    def __init__(self, terms):
        self.terms = [(_objective(o), finite_number(w, f"weight of objective {short_repr(o)}"))
                      for o, w in terms]
        if any(w <= 0 for _, w in self.terms):
            raise ValueError(f"objective weights must be > 0, got {[w for _, w in self.terms]}")
        names = [o.name for o, _ in self.terms]
        self.names = [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]
        self.worst = sum(w * o.worst for o, w in self.terms)

    def _bind(self, net, target, ctx, tag):
        bound = []
        for i, (o, w) in enumerate(self.terms):
            t = target
            if isinstance(target, dict):
                if self.names[i] not in target and o.name not in target:
                    raise UnknownNameError(f"target has no entry for objective "
                                           f"{self.names[i]!r}; entries: {sorted(target)}")
                t = target.get(self.names[i], target.get(o.name))
            bound.append((o.bind(net, t, ctx, f"{tag}{i}"), w))
        self.terms = bound
        self.monitors = tuple(m for o, _ in bound for m in o.monitors)
        self.record = tuple(dict.fromkeys(v for o, _ in bound for v in o.record))
        rates = {o.sampling_rate for o, _ in bound} - {None}
        if len(rates) > 1:
            raise ValueError(f"the objectives record at different sampling rates {rates}")
        self.sampling_rate = rates.pop() if rates else None

    def evaluate(self, res):
        terms = {n: o.score(res) for n, (o, _) in zip(self.names, self.terms)}
        return sum(w * terms[n] for n, (_, w) in zip(self.names, self.terms)), terms


OBJECTIVES = {"fc_corr": FCCorrelation, "fcd_ks": FCDDistance, "psd": PSDDistance}


def _objective(spec):
    """An Objective from a name, an Objective, a callable or a weighted list / dict (a named
    objective observes fit()'s variable from fit()'s start)."""
    if isinstance(spec, Objective):
        return spec
    if isinstance(spec, str):
        check_option("objective", spec, OBJECTIVES,
                     extra=" (or an Objective, a callable or a weighted list)")
        return OBJECTIVES[spec]()
    if callable(spec):
        return _Callable(spec)
    if isinstance(spec, dict):
        spec = list(spec.items())
    if isinstance(spec, (list, tuple)) and spec:
        terms = [t if isinstance(t, tuple) else (t, 1.0) for t in spec]
        if any(len(t) != 2 for t in terms):
            raise ValueError(f"objective: a weighted list holds (objective, weight) pairs, got "
                             f"{short_repr(spec)}")
        return Weighted(terms)
    raise TypeError(f"objective must be {', '.join(map(repr, OBJECTIVES))}, an Objective, a "
                    f"callable(result) -> float or a weighted list, got {short_repr(spec)}")


# -- running a batch ---------------------------------------------------------------------------
def _run_members(net, members, seeds, reduce, kwargs):
    """(status, reduce(result) or None, error text or None) of each member: ONE simulate()
    call. A completed run whose measure cannot be computed (e.g. a constant signal's FC) is
    ``"invalid"``."""
    out = []
    for res in simulate(net, params=members, seed=list(seeds), **kwargs):
        if res.status != "completed":
            out.append((res.status, None, None))
            continue
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                out.append(("completed", reduce(res), None))    # an absurd run: NaN, invalid
        except (ValueError, FloatingPointError, ZeroDivisionError) as err:
            out.append(("invalid", None, str(err)))
    return out


def _run(net, members, seeds, reduce, kwargs, client):
    """_run_members of all members, in one call, or one per dask worker."""
    if client is None:
        return _run_members(net, members, seeds, reduce, kwargs)
    n = max(1, min(len(members), len(client.scheduler_info().get("workers", {})) or 1))
    cut = np.linspace(0, len(members), n + 1).astype(int)
    futures = [client.submit(_run_members, net, members[a:b], seeds[a:b], reduce, kwargs,
                             pure=False) for a, b in zip(cut[:-1], cut[1:]) if b > a]
    return [item for part in client.gather(futures) for item in part]


def _simulate_kwargs(kwargs, need, what):
    """simulate() keyword arguments with what the objective or features need added."""
    bad = sorted(set(kwargs) & set(_OWN))
    if bad:
        raise TypeError(f"{what}() sets {bad} itself; give the fixed parameters as params=, "
                        "the noise seed as noise_seed=")
    kw = dict(kwargs)
    kw["monitors"] = list(need.monitors) + list(kw.get("monitors") or [])
    kw["record"] = list(dict.fromkeys(list(kw.get("record") or []) + list(need.record)))
    if need.sampling_rate is not None:
        if kw.get("sampling_rate") not in (None, need.sampling_rate):
            raise ValueError(f"sampling_rate={kw['sampling_rate']} differs from the "
                             f"{need.sampling_rate} Hz the objective records at")
        kw["sampling_rate"] = need.sampling_rate
    if logger.getEffectiveLevel() > 10:          # a fit reports divergences per generation
        kw["verbose"] = "error"
    return kw


# -- the fit -----------------------------------------------------------------------------------
class _Engine:
    """Evaluates generations (unit-cube points -> values for the optimiser): one batched run
    each, a history row per evaluation, replay of a history file, progress."""

    def __init__(self, net, space, objective, kwargs, noise_seed, client, history_file,
                 method):
        self.net, self.space, self.objective, self.kwargs = net, space, objective, kwargs
        self.noise_seed, self.client, self.file, self.method = noise_seed, client, history_file, \
            method
        self.rows, self.generation, self.ok = [], 0, None
        self.replay = _read_history(history_file, space) if history_file else None
        self.sim_time, self.sim_count, self.first_error = 0.0, 0, None

    def __call__(self, u):
        """Optimiser values (n,) of unit-cube points ``u`` (n, d)."""
        x = self.space.values(np.atleast_2d(u))
        stored = self._stored(x)
        if stored is None:
            t0 = time.perf_counter()
            out = _run(self.net, self.space.members(x), [self.noise_seed] * len(x),
                       self.objective.evaluate, self.kwargs, self.client)
            self.sim_time += time.perf_counter() - t0
            self.sim_count += len(x)
            rows = [self._row(i, xi, o) for i, (xi, o) in enumerate(zip(x, out))]
            self._check(out)
        else:
            rows = stored
        self.rows += rows
        if stored is None and self.file:
            _write(self.table(), self.file)
        self._log(rows, stored is not None)
        self.generation += 1
        scores = np.array([r["score"] for r in rows], dtype=float)
        self.ok = np.isfinite(scores)
        return np.where(self.ok, scores, self.penalty())

    def _row(self, i, x, out):
        status, value, error = out
        score, terms = value if value is not None else (np.nan, {})
        if error and self.first_error is None:
            self.first_error = error
        if status == "completed" and not np.isfinite(score):
            status = "invalid"
        return {"generation": self.generation, "member": i,
                **dict(zip(self.space.names, map(float, x))),
                "score": float(score) if status == "completed" else np.inf, **terms,
                "status": status}

    def _check(self, out):
        """A generation where no run could be measured and none diverged is a set-up error."""
        if all(st == "invalid" for st, _, _ in out) and self.first_error:
            raise ValueError(f"no candidate of generation {self.generation} could be scored: "
                             f"{self.first_error}")

    def _stored(self, x):
        """The history file's rows of this generation, checked to hold the same points."""
        if self.replay is None:
            return None
        rows = self.replay[self.replay["generation"] == self.generation]
        if rows.empty:
            self.replay = None                     # the file ends here: simulate from now on
            return None
        held = rows[self.space.names].to_numpy(dtype=float)
        if held.shape != x.shape or not np.allclose(held, x, rtol=1e-12, atol=0):
            raise ValueError(f"history_file {self.file}: generation {self.generation} holds "
                             "other points than this fit proposes; it was written by a fit "
                             "with other settings (method, seed, bounds, batch_size, "
                             "objective): use another file")
        return rows.to_dict("records")

    def penalty(self):
        """The optimiser's value of a diverged or unmeasurable run: worse than any score."""
        if np.isfinite(self.objective.worst):
            return float(self.objective.worst) + 1.0
        seen = [abs(r["score"]) for r in self.rows if np.isfinite(r["score"])]
        return 2.0 * max(seen, default=0.0) + 1.0

    def _log(self, rows, replayed):
        bad = sum(r["status"] != "completed" for r in self.rows[-len(rows):])
        best = min((r["score"] for r in self.rows), default=np.inf)
        rate = self.sim_count / self.sim_time if self.sim_time else float("nan")
        logger.info(f"fit ({self.method}) generation {self.generation}: {len(rows)} "
                    f"evaluations{' replayed from the history file' if replayed else ''}"
                    + (f", {bad} diverged or invalid" if bad else "")
                    + f"; best score {best:.6g} after {len(self.rows)}; {rate:.1f} evaluations/s")

    def table(self):
        import pandas as pd
        columns = ["generation", "member", *self.space.names, "score"]
        extra = [k for r in self.rows for k in r if k not in columns and k != "status"]
        return pd.DataFrame(self.rows, columns=columns + list(dict.fromkeys(extra)) +
                            ["status"])


def _read_history(fname, space):
    """A history file's table (empty when the file does not exist yet)."""
    import pandas as pd
    validate_type(fname, "path-like", "history_file")
    if not os.path.exists(fname):
        return None
    try:
        table = pd.read_csv(fname)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"history_file {fname}: not a fit history ({err})") from None
    missing = [c for c in ["generation", "member", *space.names, "score", "status"]
               if c not in table.columns]
    if missing:
        raise ValueError(f"history_file {fname}: no column(s) {missing}; it is not the history "
                         "of a fit of these parameters")
    return table


def _write(table, fname):
    """Write a history table at once (a partial file is never left; no fixed temporary
    name that could replace a file of the user's)."""
    from .adapters._files import commit
    commit({fname: table.to_csv(index=False)})


class FitResult:
    """What a fit found, and how.

    Attributes
    ----------
    best_params : dict
        The parameters of the best evaluation (None if none could be scored).
    best_score : float
        Its score (``inf`` if none could be scored).
    history : pandas.DataFrame
        One row per evaluation, in order: ``generation`` (one batched kernel call each),
        ``member``, the parameters, ``score`` (``inf`` for a run that diverged or could not be
        measured), each term's score of a weighted objective, and ``status``
        (``"completed"``, ``"diverged"``, ``"invalid"``).
    method : str
    parameters : dict
        The bounds fitted, ``{name: (low, high)}``.
    elapsed : float
        Wall time of the fit in s.
    evaluations_per_s : float
        Simulated (not replayed) evaluations per second of simulation time.
    """

    def __init__(self, history, parameters, method, elapsed=float("nan"),
                 evaluations_per_s=float("nan")):
        self.history, self.parameters, self.method = history, dict(parameters), method
        self.elapsed, self.evaluations_per_s = elapsed, evaluations_per_s
        scores = history["score"].to_numpy(dtype=float)
        if np.isfinite(scores).any():
            i = int(np.nanargmin(np.where(np.isfinite(scores), scores, np.nan)))
            self.best_score = float(scores[i])
            self.best_params = {n: float(history[n].iloc[i]) for n in self.parameters}
        else:
            self.best_score, self.best_params = float("inf"), None

    @property
    def n_evaluations(self):
        return len(self.history)

    def __repr__(self):
        best = ", ".join(f"{k}={v:.4g}" for k, v in (self.best_params or {}).items())
        return (f"<FitResult | {self.method}, {self.n_evaluations} evaluations, best score "
                f"{self.best_score:.4g} at {best or 'none'}>")

    def save(self, fname):
        """Write the history as CSV: ``fit(..., history_file=fname)`` resumes from it."""
        validate_type(fname, "path-like", "fname")
        _write(self.history, fname)

    def plot(self, show=False):
        """Convergence (every score and the best so far) and each parameter's trajectory.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        h, names = self.history, list(self.parameters)
        fig, axes = plt.subplots(1 + len(names), 1, sharex=True, squeeze=False,
                                 figsize=(7, 2.2 + 1.6 * len(names)))
        axes = axes[:, 0]
        ev = np.arange(len(h))
        score = np.where(np.isfinite(h["score"]), h["score"], np.nan)
        best = np.fmin.accumulate(np.where(np.isnan(score), np.inf, score))
        axes[0].plot(ev, score, ".", ms=3, alpha=0.5, label="evaluation")
        axes[0].plot(ev, np.where(np.isfinite(best), best, np.nan), "-", label="best so far")
        axes[0].set_ylabel("score")
        axes[0].legend(fontsize="small")
        at = np.maximum.accumulate(np.where(score == best, ev, 0))   # the best's row so far
        for ax, name in zip(axes[1:], names):
            ax.plot(ev, h[name], ".", ms=3, alpha=0.5)
            ax.plot(ev, h[name].to_numpy()[at], "-")
            ax.set_ylabel(name)
            ax.set_ylim(*self.parameters[name])
        axes[-1].set_xlabel("evaluation")
        axes[0].set_title(f"{self.method}: best score {self.best_score:.4g}")
        if show:
            plt.show()
        return fig


def _batch_size(method, batch_size, d, n):
    if batch_size is None:
        return {"cmaes": 4 + int(3 * math.log(d)), "differential_evolution": max(5, 10 * d),
                "optuna": 8}.get(method, min(n, 64))
    validate_type(batch_size, "int", "batch_size", "a positive int")
    low = 5 if method == "differential_evolution" else 2 if method == "cmaes" else 1
    if batch_size < low:
        raise ValueError(f"batch_size must be >= {low} for method={method!r}, got {batch_size}")
    return int(batch_size)


@verbose
def fit(net, target, parameters, *, objective="fc_corr", method="differential_evolution",
        duration, dt, n_evaluations=200, batch_size=None, seed=0, noise_seed=None,
        client=None, variable=None, start=0.0, forward=None, params=None, history_file=None,
        method_options=None, verbose=None, **simulate_kwargs):
    """Fit parameters of a network to data, one batched kernel call per generation.

    Parameters
    ----------
    net : Network
    target : ndarray | tuple | Result | mne.io.Raw | mne.Epochs | dict | None
        What to match: an FC matrix (``"fc_corr"``), an FCD matrix or distribution
        (``"fcd_ks"``), a ``(freqs, power)`` spectrum (``"psd"``), a simulated Result or MNE
        data (any of them: sensor space, through ``forward``), a dict ``{objective name:
        target}`` for a weighted objective, or None for a callable objective.
    parameters : dict
        ``{name: (low, high)}`` or ``(low, high, "log")``: circuit parameters (``"pc.u"``),
        ``"global_coupling"``, ``"speed"`` (m/s; a network built from a connectome) or a
        coupling parameter (``"coupling0.a"``); one value for every region.
    objective : str | Objective | callable | list | dict
        ``"fc_corr"``, ``"fcd_ks"``, ``"psd"``, an :class:`Objective` (:class:`FCCorrelation`,
        :class:`FCDDistance`, :class:`PSDDistance`: for their options), a weighted list
        ``[("fc_corr", 1.0), ("psd", 0.5)]`` (or a dict), or ``callable(result) -> float``
        (give it the ``monitors=``/``record=`` it reads). Lower is better.
    method : {"differential_evolution", "cmaes", "grid", "random", "optuna"}
        :func:`scipy.optimize.differential_evolution` (vectorised, deferred updating, no
        polishing; population ``batch_size`` from a Latin hypercube), CMA-ES (the ``cma``
        package), a regular grid (``floor(n_evaluations ** (1 / d))`` points per axis), uniform
        random points, or ``optuna`` (TPE by default; ``batch_size`` trials asked at a time).
        ``cma`` and ``optuna`` are optional: ``pip install rate_bridge[fit]``.
    duration, dt : float
        Simulated time and step of every evaluation, s.
    n_evaluations : int
        Budget of evaluations (an optimiser may stop earlier when it converges).
    batch_size : int | None
        Candidates per generation, each generation one kernel call: CMA-ES's and DE's
        population, optuna's trials per batch, grid/random points per call. None: cma's
        default population ``4 + 3 ln d``, ``10 d`` for DE, 8 for optuna, up to 64 otherwise.
    seed : int
        Seed of the optimiser (and of the random design).
    noise_seed : int | None
        Noise seed of **every** candidate's run (None: ``seed``): common random numbers make
        the score a function of the parameters.
    client : dask.distributed.Client | None
        Split each generation over the cluster's workers.
    variable : str | None
        The variable the named objectives observe (None: the circuits' declared signal).
    start : float
        Transient (s) the named objectives skip.
    forward : ForwardModel | None
        Projects the regions onto the channels of an MNE target (a Sensors monitor).
    params : dict | None
        Fixed values for every candidate (``{"pc.u": 150.0}``, a per-region array...).
    history_file : str | path-like | None
        CSV written after every generation; if it exists, the fit replays it first (resume).
    method_options : dict | None
        Passed on: to :func:`scipy.optimize.differential_evolution` (``tol``, ``mutation``,
        ...), as ``cma`` options (``x0`` and ``sigma0`` taken out, in the unit cube), to
        :func:`optuna.create_study` (``sampler``), or ``points`` (per axis) for the grid.
    %(verbose)s
    **simulate_kwargs
        Passed to :func:`~rate_bridge.simulate`: integrator, noise, inputs, extra
        ``monitors`` and ``record`` (nothing is recorded by default), ``sampling_rate``...

    Returns
    -------
    FitResult

    Notes
    -----
    A candidate that diverges, or whose measure is undefined (e.g. a constant signal's FC),
    scores ``inf`` in the history and, for the optimiser, a value worse than any score.
    """
    t0 = time.perf_counter()
    method = check_option("method", method, METHODS)
    duration, dt = finite_number(duration, "duration"), finite_number(dt, "dt")
    space = _Space(net, parameters, params)
    validate_type(n_evaluations, "int", "n_evaluations", "a positive int")
    if n_evaluations < 1:
        raise ValueError(f"n_evaluations must be >= 1, got {n_evaluations}")
    size = _batch_size(method, batch_size, space.d, n_evaluations)
    seed = int(validate_type(seed, "int", "seed"))
    noise_seed = seed if noise_seed is None else int(validate_type(noise_seed, "int",
                                                                   "noise_seed"))
    ctx = SimpleNamespace(duration=duration, dt=dt, start=finite_number(start, "start"),
                          variable=variable, forward=forward)
    obj = _objective(objective).bind(net, target, ctx)
    kwargs = _simulate_kwargs(simulate_kwargs, obj, "fit")
    engine = _Engine(net, space, obj, dict(kwargs, duration=duration, dt=dt), noise_seed,
                     client, history_file, method)
    logger.info(f"fit: {space.d} parameter(s) {space.names} by {method}, {n_evaluations} "
                f"evaluations in generations of {size}")
    try:
        _METHODS[method](engine, space.d, n_evaluations, size, seed,
                         dict(validate_type(method_options, (dict, None), "method_options")
                              or {}))
    except KeyboardInterrupt:
        partial = _result(engine, space, method, t0)
        where = f"; resume with history_file={history_file!r}" if history_file else ""
        raise SimulationInterrupted(f"fit interrupted after {partial.n_evaluations} "
                                    f"evaluations: what it found is in this exception's "
                                    f".result (a FitResult){where}", partial) from None
    result = _result(engine, space, method, t0)
    bad = (result.history["status"] != "completed").sum()
    if bad:
        logger.warning(f"fit: {bad} of {result.n_evaluations} evaluations diverged or could not"
                       " be measured (score inf; see the history's status column)")
    return result


def _result(engine, space, method, t0):
    rate = engine.sim_count / engine.sim_time if engine.sim_time else float("nan")
    return FitResult(engine.table(), dict(zip(space.names, zip(space.low, space.high))),
                     method, time.perf_counter() - t0, rate)


# -- the optimisers (each generation: engine(points) -> values) --------------------------------
def _grid(engine, d, n, size, seed, options):
    import itertools
    points = options.pop("points", None) or max(2, int(math.floor(n ** (1.0 / d) + 1e-9)))
    validate_type(points, "int", "method_options['points']", "an int >= 2")
    _no_options(options, "grid")
    axis = np.linspace(0.0, 1.0, points)
    u = np.array(list(itertools.product(*[axis] * d)))
    for a in range(0, len(u), size):
        engine(u[a:a + size])


def _random(engine, d, n, size, seed, options):
    _no_options(options, "random")
    u = np.random.default_rng(seed).random((n, d))
    for a in range(0, n, size):
        engine(u[a:a + size])


def _de(engine, d, n, size, seed, options):
    from scipy.optimize import differential_evolution
    from scipy.stats import qmc
    if n < 2 * size:
        raise ValueError(f"n_evaluations={n} allows no generation after the initial population"
                         f" of batch_size={size}: give n_evaluations >= {2 * size}")
    rng = "rng" if "rng" in inspect.signature(differential_evolution).parameters else "seed"
    init = qmc.LatinHypercube(d, **{rng: np.random.default_rng(seed)}).random(size)
    kw = dict(maxiter=n // size - 1, init=init, polish=False, vectorized=True,
              updating="deferred", **{rng: seed})
    fixed = sorted(set(options) & {"vectorized", "updating", "init", "maxiter", "rng", "seed",
                                   "workers", "polish"})
    if fixed:
        raise ValueError(f"method_options: {fixed} are set by fit (polish would evaluate one "
                         "point at a time): give n_evaluations, batch_size, seed instead")

    def func(u):
        try:
            return engine(u.T)
        except (TypeError, ValueError) as err:     # scipy would turn them into a RuntimeError
            raise _Abort(err) from err
    try:
        differential_evolution(func, [(0.0, 1.0)] * d, **kw, **options)
    except _Abort as stop:
        raise stop.args[0] from None


class _Abort(Exception):
    """Carries an error of the engine through scipy."""


def _cmaes(engine, d, n, size, seed, options):
    try:
        import cma
    except ImportError:
        raise ImportError("method='cmaes' needs the cma package: pip install cma (or "
                          "rate_bridge[fit])") from None
    if n < size:
        raise ValueError(f"n_evaluations={n} is smaller than one generation (batch_size="
                         f"{size})")
    x0, sigma0 = options.pop("x0", [0.5] * d), options.pop("sigma0", 0.25)
    opts = {"bounds": [0.0, 1.0], "seed": seed + 1, "popsize": size, "verbose": -9,
            "maxfevals": n, **options}
    state = np.random.get_state()       # cma draws from numpy's global generator
    try:
        es = cma.CMAEvolutionStrategy(list(x0), sigma0, opts)
        done = 0
        while not es.stop() and done + size <= n:
            u = np.array(es.ask())
            es.tell(list(u), list(engine(u)))
            done += size
    finally:
        np.random.set_state(state)


def _optuna(engine, d, n, size, seed, options):
    try:
        import optuna
    except ImportError:
        raise ImportError("method='optuna' needs the optuna package: pip install optuna (or "
                          "rate_bridge[fit])") from None
    sampler = options.pop("sampler", None) or optuna.samplers.TPESampler(seed=seed)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="minimize", sampler=sampler, **options)
        dist = {f"u{j}": optuna.distributions.FloatDistribution(0.0, 1.0) for j in range(d)}
        done = 0
        while done < n:
            trials = [study.ask(dist) for _ in range(min(size, n - done))]
            values = engine(np.array([[t.params[f"u{j}"] for j in range(d)] for t in trials]))
            for t, v, ok in zip(trials, values, engine.ok):
                study.tell(t, float(v) if ok else None,
                           state=None if ok else optuna.trial.TrialState.FAIL)
            done += len(trials)
    finally:
        optuna.logging.set_verbosity(level)


def _no_options(options, method):
    if options:
        raise ValueError(f"method_options {sorted(options)} do not apply to method={method!r}")


_METHODS = {"grid": _grid, "random": _random, "differential_evolution": _de, "cmaes": _cmaes,
            "optuna": _optuna}


# -- a simulator for inference libraries ---------------------------------------------------------
class _Features:
    """The features of a simulator: named measures, objectives' scores, callables."""

    def __init__(self, net, features, ctx, nperseg):
        features = [features] if isinstance(features, (str, Objective)) or callable(features) \
            else list(validate_type(features, (list, tuple), "features"))
        if not features:
            raise ValueError("features is empty: give 'fc', 'psd', an Objective or a callable")
        self.parts = [self._part(net, f, ctx, nperseg, f"sim{i}") for i, f in
                      enumerate(features)]
        objectives = [p for p in self.parts if isinstance(p, Objective)]
        self.monitors = [p for p in self.parts if isinstance(p, mon.Monitor)] + \
            [m for o in objectives for m in o.monitors]
        self.record = [v for o in objectives for v in o.record]
        rates = {o.sampling_rate for o in objectives} - {None}
        if len(rates) > 1:
            raise ValueError(f"the features record at different sampling rates {rates}")
        self.sampling_rate = rates.pop() if rates else None

    @staticmethod
    def _part(net, f, ctx, nperseg, tag):
        if isinstance(f, Objective):
            return f.bind(net, None, ctx, tag)
        if callable(f):
            return f
        check_option("features", f, ("fc", "psd"), extra=", an Objective or a callable")
        var = _variable(net, ctx.variable, ("bold", "eeg_meg") if f == "fc"
                        else ("eeg_meg", "bold"))
        if f == "fc":
            return mon.Covariance(var, sampling_rate=ctx.rate, start=ctx.start,
                                  name=f"{tag}_fc")
        return mon.Welch(var, sampling_rate=ctx.rate, nperseg=nperseg, start=ctx.start,
                         name=f"{tag}_psd")

    def __call__(self, res):
        out = []
        for p in self.parts:
            if isinstance(p, mon.Covariance):
                fc = res.monitors[p.name].fc
                value = fc[np.triu_indices(len(fc), k=1)]
            elif isinstance(p, mon.Welch):
                with np.errstate(divide="ignore"):
                    value = np.log10(res.monitors[p.name].data.mean(axis=1))
            elif isinstance(p, Objective):
                value = p.evaluate(res)[0]
            else:
                value = p(res)
            out.append(np.ravel(np.asarray(value, dtype=float)))
        return np.concatenate(out)


@verbose
def simulator(net, parameters, features, *, duration, dt, batch_size=64, seed=0, client=None,
              variable=None, start=0.0, sampling_rate=None, nperseg=256, params=None,
              verbose=None, **simulate_kwargs):
    """A plain numpy function ``theta (n, d) -> features (n, k)`` for inference libraries.

    ``sbi``, ``pyabc`` or ``optuna`` drive it without knowing rate_bridge; inside, the rows of
    ``theta`` run in batched kernel calls of ``batch_size`` (over a dask client's workers if
    given). Example with sbi (torch, not a dependency of rate_bridge)::

        sim = rb.fit.simulator(net, ["global_coupling", "pc.u"], ["fc", "psd"],
                               duration=20.0, dt=1e-4, start=2.0, noise={"pc.u": 22.0})
        prior = sbi.utils.BoxUniform(torch.tensor([0.0, 100.0]), torch.tensor([1.0, 300.0]))
        theta = prior.sample((2000,))
        x = torch.as_tensor(sim(theta.numpy()), dtype=torch.float32)
        posterior = sbi.inference.NPE(prior).append_simulations(theta, x).train()

    Parameters
    ----------
    net : Network
    parameters : list of str | dict
        The names of theta's columns, in order (as :func:`fit`'s ``parameters``; bounds, if
        given, are not enforced).
    features : str | Objective | callable | list
        ``"fc"``: the upper triangle of the FC of ``variable`` (a covariance monitor),
        ``n_regions (n_regions - 1) / 2`` values; ``"psd"``: log10 of the Welch spectrum
        averaged over regions (``nperseg / 2 + 1`` values at ``sampling_rate``); an
        :class:`Objective` with its own target (its score, 1 value); a ``callable(result) ->
        array`` (with the ``monitors=``/``record=`` it reads); or a list of them, concatenated.
    duration, dt : float
        s.
    batch_size : int
        Rows per kernel call.
    seed : int
        Noise seed: row ``i`` of the ``c``-th call runs with ``seed + (rows before this
        call) + i``, so a new simulator with the same seed returns the same sequence; a call
        ``sim(theta, seed=s)`` uses ``s + i`` instead.
    client : dask.distributed.Client | None
    variable : str | None
        Observed by ``"fc"`` and ``"psd"`` (None: the circuits' declared signal).
    start : float
        Transient skipped (s).
    sampling_rate : float | None
        Samples per second of the ``"fc"``/``"psd"`` monitors (None: 1000 Hz, or 1/dt if
        lower).
    nperseg : int
        Welch segment of ``"psd"`` (a power of two).
    params : dict | None
        Fixed parameters of every row.
    %(verbose)s
    **simulate_kwargs
        Passed to :func:`~rate_bridge.simulate`.

    Returns
    -------
    callable
        ``f(theta, seed=None) -> ndarray (n, k)`` of float64; a row whose run diverged (or
        could not be measured) is NaN.
    """
    space = _Space(net, parameters, params)
    validate_type(batch_size, "int", "batch_size", "a positive int")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dt = finite_number(dt, "dt")
    ctx = SimpleNamespace(duration=finite_number(duration, "duration"), dt=dt,
                          start=finite_number(start, "start"), variable=variable, forward=None,
                          rate=min(1000.0, 1.0 / dt) if sampling_rate is None else sampling_rate)
    feats = _Features(net, features, ctx, nperseg)
    kwargs = dict(_simulate_kwargs(simulate_kwargs, feats, "simulator"), duration=ctx.duration,
                  dt=ctx.dt)
    state = {"next": int(validate_type(seed, "int", "seed")), "k": None}

    def run(theta, seed=None):
        x = np.asarray(theta, dtype=float)
        x = x[None] if x.ndim == 1 and space.d > 1 else x.reshape(-1, 1) if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != space.d:
            raise ValueError(f"theta must have shape (n, {space.d}) (columns {space.names}), "
                             f"got {np.shape(theta)}")
        first = state["next"] if seed is None else int(validate_type(seed, "int", "seed"))
        state["next"] += len(x) if seed is None else 0
        rows = []
        for a in range(0, len(x), batch_size):
            rows += _run(net, space.members(x[a:a + batch_size]),
                         [first + a + i for i in range(len(x[a:a + batch_size]))], feats,
                         kwargs, client)
        return _stack(rows, state)
    run.parameters = list(space.names)
    return run


def _stack(rows, state):
    """(n, k) features, NaN rows for the runs that diverged or could not be measured."""
    sizes = {len(v) for _, v, _ in rows if v is not None}
    if len(sizes) > 1 or (state["k"] is not None and sizes - {state["k"]}):
        raise ValueError(f"the features have different lengths {sorted(sizes)} between runs: a "
                         "callable feature must return the same number of values every time")
    if sizes:
        state["k"] = sizes.pop()
    if state["k"] is None:
        errors = [e for _, _, e in rows if e]
        raise ValueError("no row of theta could be simulated and measured"
                         + (f": {errors[0]}" if errors else " (every run diverged)")
                         + "; the number of features is unknown")
    out = np.full((len(rows), state["k"]), np.nan)
    for i, (_, v, _) in enumerate(rows):
        if v is not None:
            out[i] = v
    return out
