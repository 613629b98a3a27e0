"""Streaming monitors: observables computed inside the compiled kernel.

A monitor reads one variable of every region at each integration step and keeps only its own
output — a BOLD signal at the repetition time, sensor signals, a covariance (functional
connectivity) or a Welch spectrum — so a run, or a sweep of hundreds of runs, needs memory for
those outputs only, however long it is::

    res = rb.simulate(net, 600.0, 1e-4, record=[],
                      monitors=[rb.monitors.Bold("pc.v", tr=2.0),
                                rb.monitors.Covariance("pc.v", sampling_rate=100.0, start=10.0)])
    res["bold"]                       # (n_tr, n_regions); res.monitors["bold"].time in s
    res.monitors["fc"].fc             # (n_regions, n_regions) correlation matrix

Monitor values are run-time arrays of the kernel (TR, gain matrix, window, ...): changing them
never recompiles; the kinds a run uses are part of its kernel's structure.
"""
import math

import numpy as np

from .compile.monitor_code import KINDS, MON_COLS, MONF_COLS
from .utils import (UnknownNameError, check_option, finite_number, validate_type,
                    whole_steps)

#: Balloon-Windkessel constants (hemodynamics in 1/s and s). ``friston2000``: Friston, Mechelli,
#: Turner & Price 2000 (NeuroImage 12:466) with the classic output coefficients k1 = 7 E0,
#: k2 = 2, k3 = 2 E0 - 0.2 (Buxton et al. 1998). ``stephan2007``: the revised output of
#: Stephan et al. 2007 (NeuroImage 38:387) at 1.5 T, k1 = 4.3 theta0 E0 TE, k2 = epsilon r0 E0
#: TE, k3 = 1 - epsilon (theta0 = 40.3 Hz, r0 = 25 Hz, TE = 0.04 s, epsilon = 1), with SPM12's
#: hemodynamic priors (kappa 0.64, gamma 0.32, tau 2 s, alpha 0.32, E0 0.4, V0 4 %).
BOLD_CONSTANTS = {
    "friston2000": dict(kappa=0.65, gamma=0.41, tau=0.98, alpha=0.32, E0=0.34, V0=0.02,
                        k1=7 * 0.34, k2=2.0, k3=2 * 0.34 - 0.2),
    "stephan2007": dict(kappa=0.64, gamma=0.32, tau=2.0, alpha=0.32, E0=0.4, V0=0.04,
                        k1=4.3 * 40.3 * 0.4 * 0.04, k2=1.0 * 25.0 * 0.4 * 0.04, k3=0.0),
}


class Monitor:
    """Base of the monitors: one variable of every region, observed inside the kernel.

    Parameters
    ----------
    variable : str | None
        Qualified variable (``"pc.v"``); None: the signal the circuit declares for this kind
        of observable (``bold`` or ``eeg_meg``), when it is a single variable.
    name : str
        Key of the output in ``Result.monitors`` (and ``res[name]``).
    """
    kind = None
    declared = None            # the circuit observable giving the default variable

    def __init__(self, variable=None, name=None):
        self.variable = None if variable is None else validate_type(variable, str, "variable")
        self.name = validate_type(name or self.default_name, str, "name")

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} of {self.variable or 'declared signal'}>"

    def resolve(self, net):
        """The qualified variable this monitor reads in ``net``."""
        if self.variable is not None:
            if self.variable not in net.units:
                raise UnknownNameError(f"{type(self).__name__} monitor {self.name!r}: "
                                       f"{self.variable!r} is not a variable of the network")
            return self.variable
        signals = {g["circuit"].observables.get(self.declared, {}).get("signal")
                   for g in net.groups}
        (signal,) = signals if len(signals) == 1 else (None,)
        if not isinstance(signal, str) or signal not in net.units:
            raise ValueError(f"{type(self).__name__} monitor {self.name!r}: give the variable "
                             f"to observe (the circuits declare {self.declared} signal(s) "
                             f"{sorted(map(str, signals))}, not one variable)")
        return signal

    # subclasses: rows(dt, n_steps, R) -> dict(mon=..., monf=..., marr=..., out=n, work=n)
    # and decode(out, times...) -> MonitorResult


class Bold(Monitor):
    """BOLD signal of every region, sampled every ``tr`` seconds.

    The Balloon-Windkessel hemodynamic model (Friston et al. 2000; Buxton et al. 1998) driven
    by the variable ``z``::

        ds/dt = z - kappa s - gamma (f - 1)        df/dt = s
        tau dv/dt = f - v^(1/alpha)                tau dq/dt = f E(f) / E0 - v^(1/alpha) q / v
        E(f) = 1 - (1 - E0)^(1/f)
        BOLD = V0 (k1 (1 - q) + k2 (1 - q / v) + k3 (1 - v))

    integrated inside the kernel with the neural step dt (Heun, z held over each step), from
    rest (s = 0, f = v = q = 1). Sample j is the signal at (j + 1) * tr.

    Parameters
    ----------
    variable : str | None
        The neural drive z (None: the circuit's declared ``bold`` signal).
    tr : float
        Repetition time in s (a whole multiple of dt).
    constants : str | dict
        ``"stephan2007"`` (default: an impulse response peaking 4.5 s after the impulse, with a
        post-stimulus undershoot) or ``"friston2000"`` (peak after 3.1 s), see
        :data:`BOLD_CONSTANTS`; or a dict overriding some of the default set's constants
        (kappa, gamma, tau, alpha, E0, V0, k1, k2, k3).
    name : str
    """
    kind, declared, default_name = "bold", "bold", "bold"

    def __init__(self, variable=None, tr=2.0, constants="stephan2007", name=None):
        super().__init__(variable, name)
        self.tr = _positive(tr, "tr")
        if isinstance(constants, str):
            check_option("constants", constants, tuple(BOLD_CONSTANTS))
            constants = BOLD_CONSTANTS[constants]
        validate_type(constants, dict, "constants")
        unknown = sorted(set(constants) - set(BOLD_CONSTANTS["friston2000"]))
        if unknown:
            raise UnknownNameError(f"Bold constants: unknown name(s) {unknown}; known: "
                                   f"{sorted(BOLD_CONSTANTS['friston2000'])}")
        self.constants = {**BOLD_CONSTANTS["stephan2007"],
                          **{k: finite_number(v, f"constants[{k!r}]") for k, v in constants.items()}}
        c = self.constants
        if not (0 < c["E0"] < 1 and c["tau"] > 0 and c["alpha"] > 0):
            raise ValueError(f"Bold constants: need 0 < E0 < 1, tau > 0, alpha > 0; got {c}")

    def rows(self, dt, n_steps, R):
        every = whole_steps(self.tr, dt, "tr")
        n_out = n_steps // every
        if n_out < 1:
            raise ValueError(f"Bold monitor {self.name!r}: tr = {self.tr} s is longer than "
                             f"the run ({n_steps * dt:g} s)")
        c = self.constants
        monf = [c["kappa"], c["gamma"], 1.0 / c["tau"], 1.0 / c["alpha"], c["E0"], c["V0"],
                c["k1"], c["k2"], c["k3"], math.log(1.0 - c["E0"])]
        return dict(mon=dict(every=every, start=0, avg=0, n_out=n_out), monf=monf,
                    out=n_out * R, work=4 * R)

    def decode(self, out, dt, n_steps, labels, unit):
        n_out = out.size // len(labels)
        time = (np.arange(n_out) + 1) * self.tr
        return MonitorResult(self, out.reshape(n_out, len(labels)), labels, "1",
                             time=time)


class _Sampled(Monitor):
    """A monitor taking samples at ``sampling_rate`` (mean or first value of the steps of
    each sample) from ``start`` seconds on."""

    def __init__(self, variable=None, sampling_rate=None, start=0.0, mode="average",
                 name=None):
        super().__init__(variable, name)
        self.sampling_rate = None if sampling_rate is None else _positive(sampling_rate,
                                                                          "sampling_rate")
        self.start = finite_number(start, "start")
        if self.start < 0:
            raise ValueError(f"start must be >= 0 s, got {self.start}")
        self.mode = check_option("mode", mode, ("average", "decimate"))

    def sampling(self, dt, n_steps):
        """(steps per sample, first step, number of samples)."""
        rate = self.sampling_rate or 1.0 / dt
        every = whole_steps(1.0 / rate, dt, "1 / sampling_rate")
        start = int(round(self.start / dt))
        n = (n_steps - start) // every
        if n < 1:
            raise ValueError(f"{type(self).__name__} monitor {self.name!r}: no sample between "
                             f"start = {self.start} s and the end of the run "
                             f"({n_steps * dt:g} s)")
        return every, start, n

    def _mon(self, dt, n_steps, n_out=0, **extra):
        every, start, _ = self.sampling(dt, n_steps)
        return dict(every=every, start=start, avg=int(self.mode == "average"),
                    n_out=n_out, **extra)


class Sensors(_Sampled):
    """Sensor signals: a gain matrix times the regions' variable, per sample, without storing
    the regions.

    Parameters
    ----------
    variable : str | None
        None: the circuit's declared ``eeg_meg`` signal, scaled by its ``moment_scale``
        (A·m per unit) when ``gain`` is a ForwardModel, so channels come in V or T.
    gain : ForwardModel | array-like, shape (n_channels, n_regions)
        ``weights[channel, region]``; a :class:`~rate_bridge.forward_models.ForwardModel`'s
        ``gain`` (and channel names) otherwise.
    sampling_rate, start, mode, name
        See :class:`Covariance`.
    """
    kind, declared, default_name = "sensors", "eeg_meg", "sensors"

    def __init__(self, variable=None, gain=None, sampling_rate=None, start=0.0,
                 mode="average", name=None):
        super().__init__(variable, sampling_rate, start, mode, name)
        self.forward = gain if hasattr(gain, "gain") and hasattr(gain, "info") else None
        matrix = self.forward.gain if self.forward is not None else gain
        try:
            self.gain = np.array(matrix, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"gain must be a ForwardModel or an (n_channels, n_regions) array, "
                            f"got {type(gain).__name__}") from None
        if self.gain.ndim != 2 or not np.isfinite(self.gain).all():
            raise ValueError(f"gain must be a finite (n_channels, n_regions) matrix, got shape "
                             f"{self.gain.shape}")
        self.channels = (list(self.forward.info.ch_names) if self.forward is not None else
                         [f"ch{c}" for c in range(self.gain.shape[0])])

    def matrix(self, net):
        """The gain the kernel applies (moment scale folded in for a forward model)."""
        if self.gain.shape[1] != net.n_regions:
            raise ValueError(f"Sensors monitor {self.name!r}: the gain has "
                             f"{self.gain.shape[1]} region columns, the network "
                             f"{net.n_regions} regions")
        if self.forward is None:
            return self.gain
        scales = {g["circuit"].observables.get("eeg_meg", {}).get("moment_scale", 1.0)
                  for g in net.groups}
        return self.gain * (scales.pop() if len(scales) == 1 else 1.0)

    def rows(self, dt, n_steps, R, gain):
        _, _, n = self.sampling(dt, n_steps)
        C = gain.shape[0]
        return dict(mon=self._mon(dt, n_steps, n, channels=C), marr=gain.ravel(),
                    out=n * C, work=R)

    def decode(self, out, dt, n_steps, labels, unit):
        every, start, n = self.sampling(dt, n_steps)
        time = (start + np.arange(n) * every) * dt
        return MonitorResult(self, out.reshape(n, len(self.channels)), self.channels,
                             "V or T" if self.forward is not None else unit, time=time)


class Covariance(_Sampled):
    """Covariance and correlation (functional connectivity) of the regions' variable over
    the run from ``start`` on, updated sample by sample (Welford's algorithm).

    Parameters
    ----------
    variable : str
    sampling_rate : float | None
        Samples per second fed to the monitor (None: every step).
    start : float
        Seconds to skip first (a transient).
    mode : {"average", "decimate"}
        A sample is the mean of its steps, or its first step (as ``record_mode``).
    name : str
        Default ``"fc"``.
    """
    kind, default_name = "covariance", "fc"

    def rows(self, dt, n_steps, R):
        return dict(mon=self._mon(dt, n_steps), out=1 + R + R * R, work=3 * R)

    def decode(self, out, dt, n_steps, labels, unit):
        R = len(labels)
        n = int(out[0])
        mean, m2 = out[1:1 + R], np.triu(out[1 + R:].reshape(R, R))
        m2 = m2 + np.triu(m2, 1).T           # the kernel updates the upper triangle only
        return MonitorResult(self, m2 / max(n - 1, 1), labels, unit, count=n, mean=mean)


class Welch(_Sampled):
    """Welch power spectral density of every region, accumulated segment by segment.

    Equals :func:`scipy.signal.welch` (``detrend="constant"``, ``scaling="density"``,
    one-sided) on the monitor's samples from ``start`` on.

    Parameters
    ----------
    variable : str
    sampling_rate : float | None
        Samples per second (None: every step): the spectrum reaches sampling_rate / 2.
    nperseg : int
        Segment length in samples, a power of two (the kernel's FFT).
    noverlap : int | None
        Overlap in samples (None: nperseg // 2).
    window : str
        A :func:`scipy.signal.get_window` name (``"hann"``).
    start, mode, name
        See :class:`Covariance`; name defaults to ``"psd"``.
    """
    kind, default_name = "welch", "psd"

    def __init__(self, variable=None, sampling_rate=None, nperseg=256, noverlap=None,
                 window="hann", start=0.0, mode="average", name=None):
        super().__init__(variable, sampling_rate, start, mode, name)
        self.nperseg = validate_type(nperseg, "int", "nperseg")
        if self.nperseg < 2 or self.nperseg & (self.nperseg - 1):
            raise ValueError(f"nperseg must be a power of two >= 2 (the kernel's FFT), got "
                             f"{nperseg}; rb.measures.psd takes any length on recorded data")
        self.noverlap = self.nperseg // 2 if noverlap is None else validate_type(
            noverlap, "int", "noverlap")
        if not 0 <= self.noverlap < self.nperseg:
            raise ValueError(f"noverlap must be in [0, nperseg), got {noverlap}")
        from scipy.signal import get_window
        self.window = np.asarray(get_window(window, self.nperseg), dtype=float)
        self.window_name = window

    def rows(self, dt, n_steps, R):
        _, _, n = self.sampling(dt, n_steps)
        P = self.nperseg
        if n < P:
            raise ValueError(f"Welch monitor {self.name!r}: nperseg = {P} samples is longer "
                             f"than the {n} samples of the run after start")
        half, F = P // 2, P // 2 + 1
        k = np.arange(half)
        rev = np.array([int(format(i, f"0{P.bit_length() - 1}b")[::-1], 2) for i in range(P)])
        marr = np.concatenate([self.window, np.cos(2 * np.pi * k / P),
                               np.sin(2 * np.pi * k / P), rev.astype(float)])
        return dict(mon=self._mon(dt, n_steps, 0, nperseg=P, hop=P - self.noverlap, freqs=F),
                    marr=marr, out=1 + F * R, work=R + 3 * R * P + R)

    def decode(self, out, dt, n_steps, labels, unit):
        R, P = len(labels), self.nperseg
        fs = 1.0 / (self.sampling(dt, n_steps)[0] * dt)
        nseg = int(out[0])
        power = out[1:].reshape(-1, R) / (max(nseg, 1) * fs * np.sum(self.window ** 2))
        power[1:-1] *= 2.0                       # one-sided: all but DC and Nyquist twice
        freqs = np.arange(P // 2 + 1) * fs / P
        return MonitorResult(self, power, labels, f"({unit})**2/Hz" if unit else "1/Hz",
                             freqs=freqs, segments=nseg)


class MonitorResult:
    """What a monitor kept: ``data`` with its axis (``time`` in s or ``freqs`` in Hz) and
    labels (regions or channels).

    Attributes
    ----------
    data : ndarray
        BOLD (n_tr, n_regions); sensors (n_samples, n_channels); covariance (n_regions,
        n_regions); Welch PSD (n_freqs, n_regions).
    fc : ndarray
        (covariance monitors) the correlation matrix.
    """

    def __init__(self, monitor, data, labels, unit, time=None, freqs=None, **extra):
        self.monitor, self.kind, self.name = monitor, monitor.kind, monitor.name
        self.data, self.labels, self.unit = data, list(labels), unit
        self.time, self.freqs = time, freqs
        for key, value in extra.items():
            setattr(self, key, value)

    @property
    def cov(self):
        """(covariance monitors) the covariance matrix, ``data``."""
        if self.kind != "covariance":
            raise AttributeError(f"a {self.kind} monitor has no cov (use Covariance)")
        return self.data

    @property
    def fc(self):
        """(covariance monitors) the correlation matrix."""
        sd = np.sqrt(np.diag(self.cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.data / np.outer(sd, sd)

    def __repr__(self):
        return f"<MonitorResult {self.name!r} ({self.kind}) {self.data.shape}>"


# -- packing (simulate -> the kernel's monitor tables) ----------------------------------------
def pack(monitors, net, var_index, dt, n_steps, B):
    """The kernel's monitor arguments: ``mvar, mon, monf, marr, nmw, mout`` (per member), the
    kinds used, and each monitor's variable."""
    monitors = list(monitors or [])
    names = [validate_type(m, Monitor, f"monitors[{i}]").name for i, m in enumerate(monitors)]
    if len(set(names)) != len(names):
        raise ValueError(f"two monitors share a name in {names}: give each its own name=")
    R = net.n_regions
    mon = np.zeros((len(monitors), MON_COLS), dtype=np.int64)
    monf = np.zeros((len(monitors), MONF_COLS))
    marr, out_at, work_at, variables = [], 0, 0, []
    for m, mo in enumerate(monitors):
        variables.append(mo.resolve(net))
        if isinstance(mo, Sensors):
            rows = mo.rows(dt, n_steps, R, mo.matrix(net))
        else:
            rows = mo.rows(dt, n_steps, R)
        t = rows["mon"]
        extra = [t.get("channels", t.get("nperseg", 0)), t.get("hop", 0),
                 sum(a.size for a in marr), t.get("freqs", 0)]
        mon[m] = [KINDS[mo.kind], t["every"], t["start"], t["avg"], out_at, work_at,
                  t["n_out"]] + extra
        monf[m, :len(rows.get("monf", []))] = rows.get("monf", [])
        if "marr" in rows:
            marr.append(np.asarray(rows["marr"], dtype=float))
        out_at += rows["out"]
        work_at += rows["work"]
    kinds = tuple(sorted({mo.kind for mo in monitors}))
    return dict(mvar=np.array([var_index[v] for v in variables], dtype=np.int64), mon=mon,
                monf=monf, marr=np.concatenate(marr) if marr else np.zeros(0), nmw=work_at,
                mout=np.zeros((B, out_at))), kinds, variables


def decode(monitors, mon, mout, dt, n_steps, labels, units, variables):
    """``{name: MonitorResult}`` of one member from its ``mout`` row."""
    out = {}
    for m, mo in enumerate(monitors or []):
        end = mon[m + 1, 4] if m + 1 < len(mon) else mout.size
        out[mo.name] = mo.decode(mout[mon[m, 4]:end].copy(), dt, n_steps, labels,
                                 units.get(variables[m], ""))
    return out


def _positive(value, what):
    value = finite_number(value, what)
    if not value > 0:
        raise ValueError(f"{what} must be > 0, got {value}")
    return value
