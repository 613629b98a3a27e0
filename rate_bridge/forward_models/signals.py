"""Which model variable drives the sources, how it scales to A·m, and which region is which.

Default source signals and moment scales per template
-----------------------------------------------------
The primary current of a region is taken proportional to a model variable; ``moment_scale``
converts one unit of it into a current dipole moment in A·m. Templates (``provenance["model"]``
of a result) have defaults, listed in :data:`TEMPLATE_DEFAULTS`:

==============  ====================  ========  ============================================
template        signal                unit      moment_scale (A·m per unit)
==============  ====================  ========  ============================================
jansen_rit      ``pc.v`` (y1 - y2)    mV        1e-8  (10 nA·m per mV)
montbrio        ``p.v``               a.u.      1e-8
wilson_cowan    ``wc.E``              a.u.      1e-7  (10 nA·m per 0.1 of activity)
kuramoto        ``cos(osc.theta)``    1         1e-8
==============  ====================  ========  ============================================

These are order-of-magnitude choices, not fits. Jansen & Rit (1995, Biol Cybern 73:357) take
the pyramidal membrane potential y1 - y2 as the EEG-generating quantity; its evoked and alpha
deflections are a few mV to ~10 mV, which 10 nA·m/mV maps to 10-100 nA·m: the size of
equivalent current dipoles of evoked responses (Hämäläinen et al. 1993, Rev Mod Phys 65:413)
and well below the moment of a fully synchronous region of 10 cm² at 0.16-0.77 nA·m/mm²
(Murakami & Okada 2015, NeuroImage 111:49). The other templates have dimensionless outputs;
their scales map typical fluctuations (~0.1-1) to the same 10-100 nA·m range. Pass
``moment_scale`` explicitly whenever amplitudes matter.

By default the temporal mean of each region's signal is removed before projection (EEG/MEG
amplifiers are AC-coupled and a model's resting offset, e.g. JR's ~6 mV, would otherwise become
a large DC shift); pass ``demean=False`` to keep it.
"""
import numpy as np

from ..utils import logger


def _cos_theta(result):
    return np.cos(result["osc.theta"])


_cos_theta.description = "cos(osc.theta)"

#: Default source signal, unit and moment scale (A·m per unit) per template name.
TEMPLATE_DEFAULTS = {
    "jansen_rit": {"signal": "pc.v", "unit": "mV", "moment_scale": 1e-8,
                   "basis": "JR 1995: y1 - y2 is the EEG-like output; a few-mV deflection -> "
                            "10-100 nA·m (evoked ECDs, Hamalainen et al. 1993)"},
    "montbrio": {"signal": "p.v", "unit": "a.u.", "moment_scale": 1e-8,
                 "basis": "mean membrane potential of the QIF population as a current proxy; "
                          "order of magnitude only"},
    "wilson_cowan": {"signal": "wc.E", "unit": "a.u.", "moment_scale": 1e-7,
                     "basis": "excitatory activity as a synaptic-current proxy; 0.1 -> 10 nA·m"},
    "kuramoto": {"signal": _cos_theta, "unit": "1", "moment_scale": 1e-8,
                 "basis": "cos(phase) as a unit-amplitude oscillation; 10 nA·m amplitude"},
}


def _template_key(model):
    if isinstance(model, dict):
        model = model.get("name")
    if isinstance(model, (list, tuple)):
        names = {_template_key(m) for m in model}
        return names.pop() if len(names) == 1 else None
    if not isinstance(model, str):
        return None
    key = model.lower().replace("-", "_").replace(" ", "_")
    compact = key.replace("_", "")
    for name in TEMPLATE_DEFAULTS:
        if key == name or compact == name.replace("_", ""):
            return name
    return None


def template_defaults(result):
    """Defaults of the template that produced ``result`` (None if unknown)."""
    key = _template_key(result.provenance.get("model"))
    return None if key is None else dict(TEMPLATE_DEFAULTS[key], template=key)


def _model_name(result):
    return result.provenance.get("model", "unknown")


class SourceSignal:
    """A region signal read from a result block by block.

    Parameters
    ----------
    result : Result
    signal : str | dict | callable | None
        A recorded variable (``"pc.v"``), a linear combination ``{"pc.psp_e": 1,
        "pc.psp_i": -1}``, or a callable ``f(result) -> array (n_times, n_nodes)``; None takes
        the template's default.
    """

    def __init__(self, result, signal=None):
        self.result = result
        defaults = template_defaults(result)
        if signal is None:
            if defaults is None:
                raise ValueError(f"signal=None but the result's model "
                                 f"{_model_name(result)!r} has no default source signal; pass "
                                 f"signal= one of the recorded variables {result.variables}, a "
                                 f"dict of coefficients or a callable")
            signal = defaults["signal"]
        self.array = None
        if callable(signal) and not isinstance(signal, (str, dict)):
            arr = np.asarray(signal(result), dtype=float)
            shape = (len(result.time), result.n_nodes)
            if arr.shape != shape:
                raise ValueError(f"the signal callable returned shape {arr.shape}, expected "
                                 f"(n_times, n_nodes) = {shape}")
            self.array = arr
            self.terms = None
            self.description = getattr(signal, "description",
                                       getattr(signal, "__name__", "callable"))
        else:
            if isinstance(signal, str):
                terms = {signal: 1.0}
            elif isinstance(signal, dict):
                if not signal:
                    raise ValueError("signal dict is empty; expected {variable: coefficient}")
                terms = {str(k): float(v) for k, v in signal.items()}
            else:
                raise TypeError(f"signal must be a variable name, a dict of coefficients or a "
                                f"callable, got {type(signal).__name__}")
            missing = [k for k in terms if k not in result]
            if missing:
                raise ValueError(f"signal variable(s) {missing} not in the result of model "
                                 f"{_model_name(result)!r}; recorded variables: "
                                 f"{result.variables} (pass record=[...] to simulate())")
            self.terms = terms
            self.description = " + ".join(f"{c:g}*{k}" if c != 1 else k
                                          for k, c in terms.items())
        units = {result.units.get(k, "") for k in (self.terms or {})}
        self.unit = units.pop() if len(units) == 1 else ""
        if not np.isfinite(self.mean()).all():
            raise ValueError(f"the source signal {self.description!r} contains NaN or inf")

    def block(self, start, stop):
        """Signal samples [start, stop) as an array (n, n_nodes)."""
        if self.array is not None:
            return self.array[start:stop]
        out = None
        for name, coef in self.terms.items():
            part = np.asarray(self.result[name][start:stop], dtype=float)
            out = part * coef if out is None else out + part * coef
        return out

    def mean(self):
        """Temporal mean per node."""
        if self.array is not None:
            return self.array.mean(0)
        return sum(coef * np.asarray(self.result[name], float).mean(0)
                   for name, coef in self.terms.items())


def resolve_moment_scale(result, signal, moment_scale):
    """The moment scale (A·m per signal unit): explicit, else the template's default."""
    if moment_scale is not None:
        if isinstance(moment_scale, (bool, np.bool_)) or not isinstance(
                moment_scale, (int, float, np.number)):
            raise TypeError(f"moment_scale must be a number (A·m per unit of the signal) or "
                            f"None, got {type(moment_scale).__name__} {moment_scale!r:.40}")
        scale = float(moment_scale)
        # one sign convention only: a positive signal is a current along the source normals
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"moment_scale must be a positive finite number (A·m per unit of "
                             f"the signal, e.g. 1e-8), got {moment_scale!r}; to flip the "
                             "dipoles, give the signal a negative coefficient (signal={name: "
                             "-1.0})")
        return scale, "given"
    defaults = template_defaults(result)
    if defaults is None:
        raise ValueError(f"moment_scale=None but the result's model {_model_name(result)!r} has "
                         f"no default; pass moment_scale= in A·m per unit of the signal (e.g. "
                         f"1e-8 for 10 nA·m per mV)")
    default_signal = defaults["signal"]
    same = (signal is None or signal == default_signal)
    if not same:
        raise ValueError(f"moment_scale=None: the {defaults['template']} default "
                         f"({defaults['moment_scale']:g} A·m per {defaults['unit']}) is for "
                         f"signal {getattr(default_signal, 'description', default_signal)!r}; "
                         f"for signal {signal!r} pass moment_scale= explicitly")
    logger.info(f"moment_scale: {defaults['template']} default {defaults['moment_scale']:g} "
                f"A·m per {defaults['unit']} ({defaults['basis']})")
    return float(defaults["moment_scale"]), f"{defaults['template']} default"


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
        raise ValueError("the result has duplicated node labels; regions cannot be matched")
    missing = [lab for lab in model_labels if lab not in pos]
    extra = sorted(set(result_labels) - set(model_labels))
    if missing or extra:
        raise ValueError(
            f"the result's {len(result_labels)} nodes do not match the {what}'s "
            f"{len(model_labels)} regions: {len(missing)} region(s) of the {what} are not in the "
            f"result (e.g. {missing[:5]}) and {len(extra)} node(s) of the result are not in the "
            f"{what} (e.g. {extra[:5]}). Build the forward model from the same connectome as "
            f"the simulation.")
    index = np.array([pos[lab] for lab in model_labels], dtype=int)
    if not np.array_equal(index, np.arange(len(index))):
        logger.info(f"regions matched by label (the result orders them differently from the "
                    f"{what})")
    return index
