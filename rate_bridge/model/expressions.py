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

from .errors import ModelError


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
        The source text.
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

    def rename(self, mapping):
        """Return a copy whose symbols are renamed by ``mapping`` (others kept)."""
        tree = _Renamer(mapping).visit(_copy_tree(self.tree))
        return Expression(ast.unparse(tree), tree)

    def substitute(self, mapping):
        """Return a copy where symbols are replaced by other expressions (``{name: Expression}``)."""
        tree = _Substituter(mapping).visit(_copy_tree(self.tree))
        return Expression(ast.unparse(tree), tree)


def parse_expression(text, **context):
    """Parse and check one expression.

    Parameters
    ----------
    text : str | int | float
        The expression, e.g. ``"2 * e0 / (1 + exp(r * (v0 - v)))"``.
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
    context.setdefault("equation", text)
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as err:
        raise ModelError(f"syntax error in expression: {err.msg}", **context) from None
    _check(tree, context)
    return Expression(text, tree)


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
    if not isinstance(text, str):
        raise ModelError(f"an equation must be a string, got {type(text).__name__}", **context)
    context.setdefault("equation", text)
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


# -- checking ----------------------------------------------------------------------------------
def _check(node, context):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ModelError(f"only numbers are allowed as constants, got {node.value!r}",
                             **context)
    elif isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise ModelError(f"the name {node.id!r} is not allowed", **context)
        if node.id in FUNCTIONS:
            raise ModelError(f"{node.id!r} is a function; call it as {node.id}(...)", **context)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ModelError(f"operator {type(node.op).__name__} is not allowed", **context)
        _check(node.left, context)
        _check(node.right, context)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ModelError(f"operator {type(node.op).__name__} is not allowed", **context)
        _check(node.operand, context)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMPS:
                raise ModelError(f"comparison {type(op).__name__} is not allowed", **context)
        for sub in [node.left, *node.comparators]:
            _check(sub, context)
    elif isinstance(node, ast.BoolOp):
        for sub in node.values:
            _check(sub, context)
    elif isinstance(node, ast.IfExp):
        for sub in (node.test, node.body, node.orelse):
            _check(sub, context)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ModelError("only plain function calls such as exp(x) are allowed "
                             "(no attribute access or calls of expressions)", **context)
        name = node.func.id
        if name not in FUNCTIONS:
            raise ModelError(f"unknown function {name!r}; allowed functions: "
                             f"{', '.join(sorted(FUNCTIONS))}", **context)
        if node.keywords:
            raise ModelError(f"{name}() takes no keyword arguments", **context)
        n_args = FUNCTIONS[name][0]
        if len(node.args) != n_args:
            raise ModelError(f"{name}() takes {n_args} argument(s), got {len(node.args)}",
                             **context)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise ModelError("starred arguments are not allowed", **context)
            _check(arg, context)
    elif isinstance(node, ast.Attribute):
        raise ModelError("attribute access (a.b) is not allowed in equations", **context)
    else:
        raise ModelError(f"{type(node).__name__} is not allowed in equations", **context)


def _collect_symbols(tree):
    func_nodes = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and id(n) not in func_nodes and n.id not in CONSTANTS}


def _copy_tree(tree):
    return ast.parse(ast.unparse(tree), mode="eval").body


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Call(self, node):
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_Name(self, node):
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=ast.Load()), node)
        return node


class _Substituter(_Renamer):
    def visit_Name(self, node):
        if node.id in self.mapping:
            return _copy_tree(self.mapping[node.id].tree)
        return node


# -- output ------------------------------------------------------------------------------------
def to_source(tree, name_map=None, func_prefix="", func_render=None):
    """Python source of a checked tree.

    Parameters
    ----------
    tree : ast.expr | Expression
    name_map : dict | callable | None
        Maps each symbol to the source text that replaces it (e.g. a local variable).
    func_prefix : str
        Prefix for function names (the generated module defines ``_f_exp`` etc.).
    func_render : dict | None
        ``{name: format string}`` rendering a call inline, e.g. ``{"exp": "math.exp({0})"}``
        (arguments are parenthesised); takes precedence over ``func_prefix``.
    """
    if isinstance(tree, Expression):
        tree = tree.tree
    lookup = name_map if callable(name_map) else (lambda n: (name_map or {}).get(n, n))

    def emit(node):
        if isinstance(node, ast.Constant):
            return repr(float(node.value))
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return repr(CONSTANTS[node.id])
            return lookup(node.id)
        if isinstance(node, ast.BinOp):
            right = node.right
            if isinstance(node.op, ast.Pow) and isinstance(right, ast.Constant) \
                    and float(right.value).is_integer():
                return f"({emit(node.left)} ** {int(right.value)})"  # integer power: no pow()
            return f"({emit(node.left)} {_BINOPS[type(node.op)]} {emit(right)})"
        if isinstance(node, ast.UnaryOp):
            return f"({_UNARY[type(node.op)]}{emit(node.operand)})"
        if isinstance(node, ast.Compare):
            parts = [emit(node.left)]
            for op, comp in zip(node.ops, node.comparators):
                parts += [_CMPS[type(op)], emit(comp)]
            return "(" + " ".join(parts) + ")"
        if isinstance(node, ast.BoolOp):
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + joiner.join(emit(v) for v in node.values) + ")"
        if isinstance(node, ast.IfExp):
            return f"({emit(node.body)} if {emit(node.test)} else {emit(node.orelse)})"
        if isinstance(node, ast.Call):
            args = [emit(a) for a in node.args]
            if func_render and node.func.id in func_render:
                return "(" + func_render[node.func.id].format(*args) + ")"
            return f"{func_prefix}{node.func.id}(" + ", ".join(args) + ")"
        raise TypeError(f"unexpected node {type(node).__name__}")  # _check rules this out

    return emit(tree)


def evaluate(expr, env):
    """Evaluate a checked expression with NumPy, by walking its tree (no ``eval``).

    Parameters
    ----------
    expr : Expression
    env : dict of str -> float | ndarray
        Values of the symbols.
    """
    def ev(node):
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
            return _NUMPY_BIN[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            val = ev(node.operand)
            return np.logical_not(val) if isinstance(node.op, ast.Not) else \
                (-val if isinstance(node.op, ast.USub) else +val)
        if isinstance(node, ast.Compare):
            left, result = ev(node.left), True
            for op, comp in zip(node.ops, node.comparators):
                right = ev(comp)
                result = np.logical_and(result, _NUMPY_CMP[type(op)](left, right))
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = vals[0]
            for v in vals[1:]:
                out = fn(out, v)
            return out
        if isinstance(node, ast.IfExp):
            return np.where(ev(node.test), ev(node.body), ev(node.orelse))
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id][1](*[ev(a) for a in node.args])
        raise TypeError(type(node).__name__)

    with np.errstate(all="ignore"):
        return ev(expr.tree)
