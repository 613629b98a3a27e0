"""Safe parsing of model equations.

Equations are parsed once with :mod:`ast` and checked against a whitelist of node types and
functions. Nothing from a model file is ever given to ``eval``/``exec``: code generation walks
the checked tree (:func:`to_source`) and so does the NumPy evaluator (:func:`evaluate`).

Allowed: numbers, names, ``+ - * / ** %``, unary ``-``/``+``/``not``, comparisons, ``and``/``or``,
conditional expressions ``a if cond else b`` and calls of the functions in :data:`FUNCTIONS`.
"""
import ast
import math
import re

import numpy as np

from ..utils import validate_type
from .errors import ModelError, UnknownModelNameError


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# name -> (number of arguments, NumPy implementation, description)
FUNCTIONS = {
    "exp": (1, np.exp, "exponential"),
    "log": (1, np.log, "natural logarithm"),
    "log10": (1, np.log10, "base-10 logarithm"),
    "sqrt": (1, np.sqrt, "square root"),
    "abs": (1, np.abs, "absolute value"),
    "tanh": (1, np.tanh, "hyperbolic tangent"),
    "sinh": (1, np.sinh, "hyperbolic sine"),
    "cosh": (1, np.cosh, "hyperbolic cosine"),
    "sin": (1, np.sin, "sine"),
    "cos": (1, np.cos, "cosine"),
    "tan": (1, np.tan, "tangent"),
    "arcsin": (1, np.arcsin, "inverse sine"),
    "arccos": (1, np.arccos, "inverse cosine"),
    "arctan": (1, np.arctan, "inverse tangent"),
    "arctan2": (2, np.arctan2, "two-argument inverse tangent arctan2(y, x)"),
    "floor": (1, np.floor, "floor"),
    "ceil": (1, np.ceil, "ceiling"),
    "sign": (1, np.sign, "sign (-1, 0, 1)"),
    "sigmoid": (1, _sigmoid, "logistic function 1 / (1 + exp(-x))"),
    "heaviside": (1, lambda x: np.where(np.asarray(x) > 0, 1.0, 0.0), "1 if x > 0 else 0"),
    "relu": (1, lambda x: np.maximum(x, 0.0), "max(x, 0)"),
    "min": (2, np.minimum, "smaller of two values"),
    "max": (2, np.maximum, "larger of two values"),
    "clip": (3, np.clip, "clip(x, lo, hi)"),
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
           ast.Mod: "%"}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not "}
_CMPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_NUMPY_BIN = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
              ast.Div: np.divide, ast.Pow: np.power, ast.Mod: np.mod}
_NUMPY_CMP = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
              ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}


class Expression:
    """A parsed, checked right-hand side.

    Attributes
    ----------
    text : str
        The source text as written (or, for a renamed copy, re-emitted from the tree).
    tree : ast.expr
        The checked syntax tree.
    symbols : set of str
        The variable names the expression reads (functions and constants excluded).
    """

    def __init__(self, text, tree):
        self.text = text
        self.tree = tree
        self.symbols = _collect_symbols(tree)

    def __repr__(self):
        return f"Expression({self.text!r})"

    # Trees are never changed in place, and copying or pickling one recursively would fail on
    # long expressions: a copy shares the tree, a pickle holds a flat post-order list.
    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return _expression_from_postorder, (self.text, _postorder(self.tree))

    def rename(self, mapping):
        """Return a copy whose symbols are renamed by ``mapping`` (others kept)."""
        def leaf(node):
            if isinstance(node, ast.Name) and node.id in mapping:
                return ast.Name(id=mapping[node.id], ctx=ast.Load())
            return None
        tree = _rebuild_tree(self.tree, leaf)
        return Expression(unparse(tree), tree)

    def substitute(self, mapping):
        """Return a copy where symbols are replaced by other expressions (``{name: Expression}``)."""
        def leaf(node):
            if isinstance(node, ast.Name) and node.id in mapping:
                return _rebuild_tree(mapping[node.id].tree)
            return None
        tree = _rebuild_tree(self.tree, leaf)
        return Expression(unparse(tree), tree)


#: longest expression text accepted (characters); real models stay far below
MAX_EXPRESSION_LENGTH = 100_000


def parse_expression(text, **context):
    """Parse and check one expression.

    Parameters
    ----------
    text : str | int | float
        The expression, e.g. ``"2 * e0 / (1 + exp(r * (v0 - v)))"``. ASCII only: Python would
        silently merge look-alike Unicode names (NFKC), so they are refused.
    **context
        ``file``, ``template``, ``operator``, ``equation`` for error messages.

    Returns
    -------
    Expression
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ModelError(f"an expression must be a string or a number, got "
                         f"{type(text).__name__}", **context)
    text = str(text).strip()
    context.setdefault("equation", text[:200])
    _check_text(text, context)
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise ModelError(f"syntax error in expression: {err.msg}", **context) from None
    except (RecursionError, MemoryError, ValueError):
        # Python's own parser gives up beyond a few thousand nested terms
        raise ModelError("expression too deeply nested for Python's parser (thousands of "
                         "chained terms): split it into intermediate variables",
                         **context) from None
    _check(tree, context)
    return Expression(text, tree)


def _check_text(text, context):
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ModelError(f"expression of {len(text)} characters; at most "
                         f"{MAX_EXPRESSION_LENGTH} are accepted", **context)
    if not text.isascii():
        bad = next(ch for ch in text if not ch.isascii())
        raise ModelError(f"non-ASCII character {bad!r} in expression: names and operators must "
                         "be ASCII (look-alike Unicode letters would silently merge names)",
                         **context)


# -- equations ---------------------------------------------------------------------------------
_ODE_PATTERNS = (
    re.compile(r"^d\s*/\s*dt\s*\*\s*([A-Za-z_]\w*)$"),   # d/dt * x
    re.compile(r"^d([A-Za-z_]\w*)\s*/\s*dt$"),           # dx/dt
    re.compile(r"^([A-Za-z_]\w*)\s*'$"),                 # x'
)
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)$")


class Equation:
    """One equation of an operator: an ODE ``d/dt * x = rhs`` or an assignment ``x = rhs``."""

    def __init__(self, text, lhs, rhs, is_ode):
        self.text, self.lhs, self.rhs, self.is_ode = text, lhs, rhs, is_ode

    def __repr__(self):
        return f"Equation({self.text!r})"

    def rename(self, mapping):
        lhs = mapping.get(self.lhs, self.lhs)
        rhs = self.rhs.rename(mapping)
        text = f"d/dt * {lhs} = {rhs.text}" if self.is_ode else f"{lhs} = {rhs.text}"
        return Equation(text, lhs, rhs, self.is_ode)


def parse_equation(text, **context):
    """Parse ``"d/dt * x = rhs"``, ``"dx/dt = rhs"``, ``"x' = rhs"`` or ``"x = rhs"``."""
    validate_type(text, str, "an equation", error=ModelError, **context)
    context.setdefault("equation", text[:200])
    _check_text(text, context)
    if text.count("=") - sum(text.count(op) for op in ("==", "<=", ">=", "!=")) * 1 < 1:
        raise ModelError("an equation needs '=' (e.g. 'd/dt * x = -x / tau' or 'y = 2 * x')",
                         **context)
    lhs_text, rhs_text = _split_equation(text, context)
    for pattern in _ODE_PATTERNS:
        match = pattern.match(lhs_text)
        if match:
            return Equation(text, match.group(1), parse_expression(rhs_text, **context), True)
    match = _ASSIGN.match(lhs_text)
    if match:
        return Equation(text, match.group(1), parse_expression(rhs_text, **context), False)
    raise ModelError(f"cannot read the left-hand side {lhs_text!r}: write 'd/dt * x', 'dx/dt', "
                     "\"x'\" for a differential equation or a plain name for an assignment",
                     **context)


def _split_equation(text, context):
    # the first '=' that is not part of ==, <=, >=, !=
    for i, ch in enumerate(text):
        if ch == "=" and (i + 1 >= len(text) or text[i + 1] != "=") and \
                (i == 0 or text[i - 1] not in "=<>!"):
            return text[:i].strip(), text[i + 1:].strip()
    raise ModelError("an equation needs '='", **context)


# -- walking: every walk is iterative, so that long expressions (hundreds of chained terms)
# need no recursion and no recursion limit ---------------------------------------------------
def _children(node):
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _fold(tree, leave):
    """Post-order walk: ``leave(node, results of its children)`` for every node, bottom-up."""
    results, stack = [], [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
            continue
        n = len(_children(node))
        args = results[len(results) - n:]
        del results[len(results) - n:]
        results.append(leave(node, args))
    return results[0]


def _rebuild(node, kids):
    """A new node like ``node`` with children ``kids``."""
    if isinstance(node, ast.BinOp):
        return ast.BinOp(left=kids[0], op=node.op, right=kids[1])
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(op=node.op, operand=kids[0])
    if isinstance(node, ast.Compare):
        return ast.Compare(left=kids[0], ops=list(node.ops), comparators=kids[1:])
    if isinstance(node, ast.BoolOp):
        return ast.BoolOp(op=node.op, values=kids)
    if isinstance(node, ast.IfExp):
        return ast.IfExp(test=kids[0], body=kids[1], orelse=kids[2])
    if isinstance(node, ast.Call):
        return ast.Call(func=ast.Name(id=node.func.id, ctx=ast.Load()), args=kids, keywords=[])
    if isinstance(node, ast.Name):
        return ast.Name(id=node.id, ctx=ast.Load())
    return ast.Constant(value=node.value)


def _rebuild_tree(tree, leaf=None):
    """A copy of a checked tree; ``leaf(node)`` may return a replacement for a leaf."""
    def leave(node, kids):
        new = leaf(node) if leaf is not None and not kids else None
        return new if new is not None else _rebuild(node, kids)
    return _fold(tree, leave)


def _postorder(tree):
    """The tree as a flat list of ``(node without children, number of children)``."""
    out = []                 # _fold leaves nodes in post-order
    _fold(tree, lambda node, kids: out.append((_rebuild(node, [None] * len(kids)), len(kids))))
    return out


def _expression_from_postorder(text, items):
    stack = []
    for node, n in items:
        kids = stack[len(stack) - n:]
        del stack[len(stack) - n:]
        stack.append(_rebuild(node, kids))
    return Expression(text, stack[0])


# -- checking ----------------------------------------------------------------------------------
def _check(tree, context):
    stack = [tree]           # parents before children: the outermost problem is reported
    while stack:
        node = stack.pop()
        _check_node(node, context)
        stack.extend(reversed(_children(node)))


def _check_node(node, context):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ModelError(f"only numbers are allowed as constants, got {node.value!r}",
                             **context)
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:
            finite = False
        if not finite:
            raise ModelError(f"the number {str(node.value)[:40]} is too large for a float",
                             **context)
    elif isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise ModelError(f"the name {node.id!r} is not allowed", **context)
        if node.id in FUNCTIONS:
            raise ModelError(f"{node.id!r} is a function; call it as {node.id}(...)", **context)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ModelError(f"operator {type(node.op).__name__} is not allowed", **context)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ModelError(f"operator {type(node.op).__name__} is not allowed", **context)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMPS:
                raise ModelError(f"comparison {type(op).__name__} is not allowed", **context)
    elif isinstance(node, (ast.BoolOp, ast.IfExp)):
        pass
    elif isinstance(node, ast.Call):
        _check_call(node, context)
    elif isinstance(node, ast.Attribute):
        raise ModelError("attribute access (a.b) is not allowed in equations", **context)
    else:
        raise ModelError(f"{type(node).__name__} is not allowed in equations", **context)


def _check_call(node, context):
    if not isinstance(node.func, ast.Name):
        raise ModelError("only plain function calls such as exp(x) are allowed "
                         "(no attribute access or calls of expressions)", **context)
    name = node.func.id
    if name not in FUNCTIONS:
        raise UnknownModelNameError(f"unknown function {name!r}; allowed functions: "
                                    f"{', '.join(sorted(FUNCTIONS))}", **context)
    if node.keywords:
        raise ModelError(f"{name}() takes no keyword arguments", **context)
    n_args = FUNCTIONS[name][0]
    if len(node.args) != n_args:
        raise ModelError(f"{name}() takes {n_args} argument(s), got {len(node.args)}",
                         **context)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ModelError("starred arguments are not allowed", **context)


def _collect_symbols(tree):
    func_nodes = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and id(n) not in func_nodes and n.id not in CONSTANTS}


# -- output ------------------------------------------------------------------------------------
# Python's precedence levels, lowest first: a child is parenthesised only where Python would
# read it otherwise, so a chain of hundreds of terms is emitted flat (Python's parser refuses
# more than 200 nested parentheses). The emitted text parses back to the same tree.
_ATOM = 10
_PLAIN_CALL = re.compile(r"^[A-Za-z_][\w.]*\((\{\d\}(, )?)*\)$")
_PREC_BIN = {ast.Add: 6, ast.Sub: 6, ast.Mult: 7, ast.Div: 7, ast.Mod: 7, ast.Pow: 9}


def _emit_node(node, kids, lookup, func_render, func_prefix, display):
    """``(text, precedence)`` of one node from its children's ``(text, precedence)``."""
    def wrap(kid, least):
        return kid[0] if kid[1] >= least else f"({kid[0]})"

    if isinstance(node, ast.Constant):
        return repr(node.value if display else float(node.value)), _ATOM
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS and not display:
            return repr(CONSTANTS[node.id]), _ATOM
        return lookup(node.id), _ATOM
    if isinstance(node, ast.BinOp):
        p = _PREC_BIN[type(node.op)]
        op = _BINOPS[type(node.op)]
        if isinstance(node.op, ast.Pow):      # right-associative; the exponent may be unary
            right = node.right
            if not display and isinstance(right, ast.Constant) and \
                    float(right.value).is_integer() and abs(right.value) < 2 ** 31:
                return f"{wrap(kids[0], p + 1)} ** {int(right.value)}", p  # no pow() call
            return f"{wrap(kids[0], p + 1)} ** {wrap(kids[1], 8)}", p
        return f"{wrap(kids[0], p)} {op} {wrap(kids[1], p + 1)}", p
    if isinstance(node, ast.UnaryOp):
        p = 4 if isinstance(node.op, ast.Not) else 8
        return _UNARY[type(node.op)] + wrap(kids[0], p), p
    if isinstance(node, ast.Compare):
        parts = [wrap(kids[0], 6)]
        for op, kid in zip(node.ops, kids[1:]):
            parts += [_CMPS[type(op)], wrap(kid, 6)]
        return " ".join(parts), 5
    if isinstance(node, ast.BoolOp):
        p = 3 if isinstance(node.op, ast.And) else 2
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return joiner.join(wrap(k, p + 1) for k in kids), p
    if isinstance(node, ast.IfExp):
        return f"{wrap(kids[1], 2)} if {wrap(kids[0], 2)} else {wrap(kids[2], 1)}", 1
    if isinstance(node, ast.Call):
        name = node.func.id
        if func_render and name in func_render:
            template = func_render[name]
            if _PLAIN_CALL.match(template):       # "f({0}, {1})": arguments as they are
                return template.format(*(k[0] for k in kids)), _ATOM
            # an inline expression: arguments as atoms, the whole in parentheses
            return "(" + template.format(*(wrap(k, _ATOM) for k in kids)) + ")", _ATOM
        return f"{func_prefix}{name}(" + ", ".join(k[0] for k in kids) + ")", _ATOM
    raise TypeError(f"unexpected node {type(node).__name__}")  # _check rules this out


def to_source(tree, name_map=None, func_prefix="", func_render=None):
    """Python source of a checked tree, re-emitted from the tree (never the original text).

    Parameters
    ----------
    tree : ast.expr | Expression
    name_map : dict | callable | None
        Maps each symbol to the source text that replaces it (an identifier or another atom
        such as ``par[3]``).
    func_prefix : str
        Prefix for function names (the generated module defines ``_f_exp`` etc.).
    func_render : dict | None
        ``{name: format string}`` rendering a call inline, e.g. ``{"exp": "math.exp({0})"}``
        (arguments are parenthesised); takes precedence over ``func_prefix``.
    """
    return _emit(tree, name_map, func_prefix, func_render, display=False)


def unparse(tree):
    """Readable text of a checked tree: numbers and names as written, minimal parentheses."""
    return _emit(tree, None, "", None, display=True)


def _emit(tree, name_map, func_prefix, func_render, display):
    if isinstance(tree, Expression):
        tree = tree.tree
    lookup = name_map if callable(name_map) else (lambda n: (name_map or {}).get(n, n))
    return _fold(tree, lambda node, kids: _emit_node(node, kids, lookup, func_render,
                                                     func_prefix, display))[0]


def evaluate(expr, env):
    """Evaluate a checked expression with NumPy, by walking its tree (no ``eval``).

    Parameters
    ----------
    expr : Expression
    env : dict of str -> float | ndarray
        Values of the symbols.
    """
    def leave(node, kids):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            try:
                return env[node.id]
            except KeyError:
                raise ModelError(f"no value for {node.id!r}", equation=expr.text) from None
        if isinstance(node, ast.BinOp):
            return _NUMPY_BIN[type(node.op)](kids[0], kids[1])
        if isinstance(node, ast.UnaryOp):
            val = kids[0]
            return np.logical_not(val) if isinstance(node.op, ast.Not) else \
                (-val if isinstance(node.op, ast.USub) else +val)
        if isinstance(node, ast.Compare):
            result = True
            for op, left, right in zip(node.ops, kids, kids[1:]):
                result = np.logical_and(result, _NUMPY_CMP[type(op)](left, right))
            return result
        if isinstance(node, ast.BoolOp):
            fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = kids[0]
            for v in kids[1:]:
                out = fn(out, v)
            return out
        if isinstance(node, ast.IfExp):
            return np.where(kids[0], kids[1], kids[2])
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id][1](*kids)
        raise TypeError(type(node).__name__)

    with np.errstate(all="ignore"):
        return _fold(expr.tree, leave)
