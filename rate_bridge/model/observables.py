"""Signals over a circuit's variables: what a measurement (EEG/MEG, BOLD) sees of a region.

A signal is one qualified variable (``"pc.v"``), a linear combination ``{"pc.psp_e": 1.0,
"pc.psp_i": -1.0}``, or an expression over qualified variables (``"cos(osc.theta)"``) in the
equation language (:mod:`~rate_bridge.model.expressions`: parsed and checked, never given to
``eval``). Circuit templates declare theirs in ``observables`` (see
:class:`~rate_bridge.model.Circuit`); forward models read them from a result's provenance.
"""
import math
import numbers
import re

from .errors import ModelError, UnknownModelNameError
from .expressions import evaluate, parse_expression

# a qualified name "node.variable" (node labels of sub-circuits hold "/": "col1/pc.v")
_QUALIFIED = re.compile(r"(?<![\w.])[A-Za-z_][\w/]*\.[A-Za-z_]\w*(?![\w.])")


class SignalExpression:
    """A nonlinear signal: an expression over qualified variable names.

    Attributes
    ----------
    text : str
        The expression as written, e.g. ``"cos(osc.theta)"``.
    variables : list of str
        The qualified variables it reads.
    """

    def __init__(self, text, expression, names):
        self.text, self._expression, self._names = text, expression, names
        self.variables = list(dict.fromkeys(names.values()))

    def evaluate(self, values):
        """The signal from ``values[qualified name] -> array`` (NumPy, elementwise)."""
        return evaluate(self._expression, {ph: values[q] for ph, q in self._names.items()})

    def __repr__(self):
        return f"SignalExpression({self.text!r})"


def parse_signal(signal, variables, **context):
    """Check a signal against the variables that exist.

    Parameters
    ----------
    signal : str | dict
        A qualified variable, ``{variable: coefficient}`` or an expression over variables.
    variables : iterable of str
        The qualified names the signal may read.
    **context
        ``template``, ``file``, ``field`` for the messages.

    Returns
    -------
    dict of str -> float | SignalExpression
        The coefficients of a linear signal (``{"pc.v": 1.0}`` for one variable), or the
        parsed expression.
    """
    known = list(variables)
    if isinstance(signal, dict):
        if not signal:
            raise ModelError("a signal mapping is empty; expected {variable: coefficient}",
                             **context)
        _check_known([k for k in signal], known, signal, context)
        terms = {}
        for name, coef in signal.items():
            terms[name] = _coefficient(name, coef, context)
        return terms
    if not isinstance(signal, str) or not signal.strip():
        raise ModelError(f"a signal is a variable name, a mapping {{variable: coefficient}} or "
                         f"an expression over variables, got {signal!r:.80}", **context)
    text = signal.strip()
    if text in known:
        return {text: 1.0}
    return _parse_expression(text, known, context)


def _parse_expression(text, known, context):
    # qualified names are not Python identifiers: each becomes a placeholder before parsing
    prefix = "_q"
    while prefix in text:
        prefix += "q"
    names, replaced = {}, text
    for k, name in enumerate(sorted((n for n in known if n in text), key=len, reverse=True)):
        pattern = re.compile(r"(?<![\w.])" + re.escape(name) + r"(?![\w.])")
        replaced, hits = pattern.subn(f"{prefix}{k}", replaced)
        if hits:
            names[f"{prefix}{k}"] = name
    _check_known(_QUALIFIED.findall(replaced), known, text, context)
    expression = parse_expression(replaced, **dict(context, equation=text[:200]))
    stray = sorted(expression.symbols - set(names))
    if stray:
        raise UnknownModelNameError(
            f"the signal {text!r} reads {stray}, which are not qualified variables "
            f"'node.variable' of the circuit; variables: {known}", **context)
    if not names:
        raise ModelError(f"the signal {text!r} reads no variable", **context)
    return SignalExpression(text, expression, names)


def _coefficient(name, coef, context):
    try:
        value = float(coef) if isinstance(coef, numbers.Real) and \
            not isinstance(coef, bool) else None
    except OverflowError:
        value = None
    if value is None or not math.isfinite(value):
        raise ModelError(f"the coefficient of {name!r} in the signal must be a finite number, "
                         f"got {coef!r:.40}", **context)
    return value


def _check_known(names, known, signal, context):
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownModelNameError(f"signal {signal!r:.200} reads unknown variable(s) "
                                    f"{unknown}; variables: {known}", **context)
