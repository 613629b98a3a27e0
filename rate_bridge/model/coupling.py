"""Coupling functions between regions, and the natural coupling a circuit template declares.

A network adds ``global_coupling * sum_j w_ij * f(x_j, x_i)`` to an input of every region, where
``x_j`` is the delayed value of a source variable in region ``j`` and ``x_i`` the target
region's own current value of it. ``f`` is a name of :data:`COUPLING_FUNCTIONS` or an
expression. A circuit template may declare the coupling it is meant to be used with::

    coupling:
      source: pc.v              # a variable of the circuit
      target: pc.m_in_e         # an input of the circuit
      function: sigmoidal       # a name of COUPLING_FUNCTIONS or an expression in x_j, x_i
      params: {cmax: 5.0, midpoint: 6.0, r: 0.56}
      reference: where the coupling comes from

:meth:`rate_bridge.Network.from_connectome` uses it when no coupling is given
(:class:`~rate_bridge.model.Circuit` checks the declaration against its variables).
"""
import math
import numbers

from .errors import ModelError, UnknownModelNameError
from .expressions import parse_expression

#: Named coupling functions: (expression over x_j = delayed source, x_i = target's own value,
#: default parameters). The network adds ``global_coupling * sum_j w_ij * f(x_j, x_i)``.
COUPLING_FUNCTIONS = {
    "linear": ("x_j", {}),
    "difference": ("x_j - x_i", {}),
    "kuramoto": ("sin(x_j - x_i)", {}),
    # a potential turned into a rate by a logistic sigmoid (maximum cmax, half-activation at
    # midpoint, slope r); the defaults are Jansen & Rit's (1995) constants
    "sigmoidal": ("cmax / (1 + exp(r * (midpoint - x_j)))",
                  {"cmax": 5.0, "midpoint": 6.0, "r": 0.56}),
}
_RESERVED = {"G", "x_j", "x_i"}


def parse_coupling(function, params=None, **context):
    """Check a coupling function and its parameters.

    Parameters
    ----------
    function : str
        A name of :data:`COUPLING_FUNCTIONS` or an expression in ``x_j``, ``x_i`` and
        parameters.
    params : dict | None
        Parameter values (the defaults of a named function are filled in).
    **context
        ``template``, ``file``, ``field`` for the messages; ``field`` is the field of the
        function (its parameters are named ``<field prefix>params``).

    Returns
    -------
    name : str
        The function's name, or ``"custom"`` for an expression.
    expression : Expression
    params : dict of str -> float
    """
    prefix = context.pop("field", None) or ""
    prefix = prefix[:-len("function")] if prefix.endswith("function") else prefix
    where = dict(context, field=f"{prefix}params")
    if isinstance(function, str) and function in COUPLING_FUNCTIONS:
        text, defaults = COUPLING_FUNCTIONS[function]
        name = function
    elif isinstance(function, str) and function.strip().isidentifier() and \
            function.strip() not in _RESERVED:
        raise UnknownModelNameError(f"unknown coupling function {function!r:.80}; named "
                                    f"functions: {sorted(COUPLING_FUNCTIONS)} (or an "
                                    "expression in x_j, x_i and parameters)",
                                    field=f"{prefix}function", **context)
    else:
        text, defaults, name = function, {}, "custom"
    expression = parse_expression(text, field=f"{prefix}function", **context)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ModelError(f"coupling params must be a mapping name -> number, got "
                         f"{type(params).__name__}", **where)
    params = {**defaults, **params}
    reserved = sorted(set(params) & _RESERVED, key=str)
    if reserved:
        raise ModelError(f"coupling parameter name(s) {reserved} are reserved (G scales the "
                         "sum, x_j / x_i are the source values)", **where)
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ModelError(f"coupling parameter {key!r} must be a number, got {value!r:.40}",
                             **where)
        if not math.isfinite(value):
            raise ModelError(f"coupling parameter {key!r} must be a finite number, got {value}",
                             **where)
    missing = sorted(expression.symbols - {"x_j", "x_i"} - set(params))
    if missing:
        raise ModelError(f"coupling function {text!r} needs values for {missing} "
                         "(pass params={...})", **where)
    return name, expression, {str(k): float(v) for k, v in params.items()}

