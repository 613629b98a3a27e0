"""Which model variable drives the sources, how it scales to A·m, and which region is which.

Source signals and moment scales declared by templates
------------------------------------------------------
The primary current of a region is taken proportional to a signal of its circuit; ``moment_scale``
converts one unit of it into a current dipole moment in A·m. A circuit template declares its
own (``observables: eeg_meg: {signal, unit, moment_scale, reference}``, see
:class:`~rate_bridge.model.Circuit`); :func:`~rate_bridge.simulate` copies the declaration into
``result.provenance["observables"]``, and the projections take their defaults from there. The
shipped templates state the reasoning behind their numbers in ``reference``
(``print(rb.load_template(name).describe())``): they are orders of magnitude, not fits — pass
``moment_scale`` explicitly whenever amplitudes matter.

By default the temporal mean of each region's signal is removed before projection (EEG/MEG
amplifiers are AC-coupled and a model's resting offset, e.g. a few mV of a membrane potential,
would otherwise become a large DC shift); pass ``demean=False`` to keep it.
"""
import re

import numpy as np

from ..model.observables import SignalExpression, parse_signal
from ..utils import UnknownNameError, logger, validate_type

_ONE_NAME = re.compile(r"[A-Za-z_][\w/]*\.[A-Za-z_]\w*")


def _model_name(result):
    return result.provenance.get("model", "unknown")


def declared_observable(result, kind="eeg_meg"):
    """The observable ``kind`` the circuit of ``result`` declared (None if it declared none).

    Read from ``result.provenance["observables"]``; where regions ran different circuits, only
    a declaration they all share counts.
    """
    found = result.provenance.get("observables")
    if isinstance(found, (list, tuple)):
        entries = [o.get(kind) if isinstance(o, dict) else None for o in found]
        return entries[0] if entries and all(e == entries[0] for e in entries) else None
    return found.get(kind) if isinstance(found, dict) else None


def _no_default(result, what):
    mixed = isinstance(result.provenance.get("observables"), (list, tuple))
    why = ("its regions run circuits that declare different (or no) 'eeg_meg' observables"
           if mixed else "its circuit declares no 'eeg_meg' observable (Circuit.observables)")
    return f"{what}=None but the result's model {_model_name(result)!r} has no default: {why}"


def _canonical(signal):
    """A signal in a form where equal signals compare equal."""
    if isinstance(signal, str):
        return {signal.strip(): 1.0}
    if isinstance(signal, dict):
        return {str(k): float(v) for k, v in signal.items()}
    return signal


class SourceSignal:
    """A region signal read from a result block by block.

    Parameters
    ----------
    result : Result
    signal : str | dict | callable | None
        A recorded variable (``"pc.v"``), a linear combination ``{"pc.psp_e": 1,
        "pc.psp_i": -1}``, an expression over recorded variables (``"cos(osc.theta)"``), or a
        callable ``f(result) -> array (n_times, n_regions)``; None takes the signal the
        circuit declares (``observables: eeg_meg``).
    """

    def __init__(self, result, signal=None):
        self.result = result
        if signal is None:
            declared = declared_observable(result)
            if declared is None:
                raise ValueError(f"{_no_default(result, 'signal')}; pass signal= one of the "
                                 f"recorded variables {result.variables}, a dict of "
                                 f"coefficients, an expression or a callable")
            signal = declared["signal"]
        self.array = None
        if isinstance(signal, str) and signal.strip() not in result and \
                not _ONE_NAME.fullmatch(signal.strip()):
            signal = parse_signal(signal, result.variables)
        if isinstance(signal, SignalExpression) or \
                (callable(signal) and not isinstance(signal, (str, dict))):
            self._set_array(signal)
        else:
            if isinstance(signal, str):
                terms = {signal.strip(): 1.0}
            elif isinstance(signal, dict):
                if not signal:
                    raise ValueError("signal dict is empty; expected {variable: coefficient}")
                terms = {str(k): float(v) for k, v in signal.items()}
            else:
                raise TypeError(f"signal must be a variable name, a dict of coefficients or a "
                                f"callable, got {type(signal).__name__}")
            missing = [k for k in terms if k not in result]
            if missing:
                raise UnknownNameError(
                    f"signal variable(s) {missing} not in the result of model "
                    f"{_model_name(result)!r}; recorded variables: {result.variables} (pass "
                    f"record=[...] to simulate())")
            self.terms = terms
            self.description = " + ".join(f"{c:g}*{k}" if c != 1 else k
                                          for k, c in terms.items())
        units = {result.units.get(k, "") for k in (self.terms or {})}
        self.unit = units.pop() if len(units) == 1 else ""
        if not np.isfinite(self.mean()).all():
            raise ValueError(f"the source signal {self.description!r} contains NaN or inf")

    def _set_array(self, signal):
        """A nonlinear signal, computed once: an expression or a callable."""
        result = self.result
        if isinstance(signal, SignalExpression):
            arr, self.description = signal.evaluate(result), signal.text
        else:
            arr = signal(result)
            self.description = getattr(signal, "description",
                                       getattr(signal, "__name__", "callable"))
        arr = np.asarray(arr, dtype=float)
        shape = (len(result.time), result.n_regions)
        if arr.shape != shape:
            raise ValueError(f"the signal {self.description!r} has shape {arr.shape}, expected "
                             f"(n_times, n_regions) = {shape}")
        self.array, self.terms = arr, None

    def block(self, start, stop):
        """Signal samples [start, stop) as an array (n, n_regions)."""
        if self.array is not None:
            return self.array[start:stop]
        out = None
        for name, coef in self.terms.items():
            part = np.asarray(self.result[name][start:stop], dtype=float)
            out = part * coef if out is None else out + part * coef
        return out

    def mean(self):
        """Temporal mean per region."""
        if self.array is not None:
            return self.array.mean(0)
        return sum(coef * np.asarray(self.result[name], float).mean(0)
                   for name, coef in self.terms.items())


def resolve_moment_scale(result, signal, moment_scale):
    """The moment scale (A·m per signal unit): explicit, else the template's default."""
    if moment_scale is not None:
        validate_type(moment_scale, "numeric", "moment_scale",
                      "a number (A·m per unit of the signal) or None")
        scale = float(moment_scale)
        # one sign convention only: a positive signal is a current along the source normals
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"moment_scale must be a positive finite number (A·m per unit of "
                             f"the signal, e.g. 1e-8), got {moment_scale!r}; to flip the "
                             "dipoles, give the signal a negative coefficient (signal={name: "
                             "-1.0})")
        return scale, "given"
    declared = declared_observable(result)
    if declared is None or "moment_scale" not in declared:
        raise ValueError(f"{_no_default(result, 'moment_scale')}; pass moment_scale= in A·m per "
                         f"unit of the signal (e.g. 1e-8 for 10 nA·m per mV)")
    model, scale, unit = _model_name(result), declared["moment_scale"], declared.get("unit", "")
    if signal is not None and _canonical(signal) != _canonical(declared["signal"]):
        raise ValueError(f"moment_scale=None: the default of {model!r} ({scale:g} A·m per "
                         f"{unit or 'unit'}) is for its signal {declared['signal']!r}; for "
                         f"signal {signal!r} pass moment_scale= explicitly")
    logger.info(f"moment_scale: {model!r} declares {scale:g} A·m per {unit or 'unit'} of "
                f"{declared['signal']!r} ({declared.get('reference') or 'no reference'})")
    return float(scale), f"{model} default"


def region_order(result_labels, model_labels, *, what="lead field"):
    """Index into the result's nodes for every region of the forward model.

    Regions are matched by label; the order may differ. Raises a ValueError naming the
    regions that only one side has.

    Returns
    -------
    index : ndarray of int, shape (n_regions,)
        ``result[:, index[k]]`` is the activity of region ``model_labels[k]``.
    """
    result_labels = [str(x) for x in result_labels]
    model_labels = [str(x) for x in model_labels]
    pos = {lab: k for k, lab in enumerate(result_labels)}
    if len(pos) != len(result_labels):
        raise ValueError("the result has duplicated region labels; regions cannot be matched")
    missing = [lab for lab in model_labels if lab not in pos]
    extra = sorted(set(result_labels) - set(model_labels))
    if missing or extra:
        raise ValueError(
            f"the result's {len(result_labels)} regions do not match the {what}'s "
            f"{len(model_labels)} regions: {len(missing)} region(s) of the {what} are not in the "
            f"result (e.g. {missing[:5]}) and {len(extra)} region(s) of the result are not in the "
            f"{what} (e.g. {extra[:5]}). Build the forward model from the same connectome as "
            f"the simulation.")
    index = np.array([pos[lab] for lab in model_labels], dtype=int)
    if not np.array_equal(index, np.arange(len(index))):
        logger.info(f"regions matched by label (the result orders them differently from the "
                    f"{what})")
    return index
