import numpy as np
import pytest

from rate_bridge.model import ModelError, parse_equation, parse_expression
from rate_bridge.model.expressions import evaluate, to_source


@pytest.mark.parametrize("text, reason", [
    ("__import__('os').system('true')", "only plain function calls"),
    ("__import__('os')", "unknown function '__import__'"),
    ("x.real", "attribute access"),
    ("(lambda: 1)()", "only plain function calls"),
    ("x[0]", "Subscript"),
    ("'text'", "only numbers"),
    ("exp(x, y)", "takes 1 argument"),
    ("exp(x=1)", "keyword"),
    ("open('f')", "unknown function 'open'"),
    ("[x for x in y]", "ListComp"),
    ("__class__", "not allowed"),
    ("x +", "syntax error"),
    ("exp", "is a function"),
])
def test_unsafe_or_invalid_expressions_are_refused(text, reason):
    with pytest.raises(ModelError, match=reason) as err:
        parse_expression(text, file="m.yaml", template="T", operator="op")
    msg = str(err.value)
    assert "m.yaml" in msg and "'T'" in msg and "'op'" in msg


def test_expression_symbols_and_evaluation():
    e = parse_expression("2 * e0 / (1 + exp(r * (v0 - v))) if v > -100 else 0")
    assert e.symbols == {"e0", "r", "v0", "v"}
    val = evaluate(e, {"e0": 2.5, "r": 0.56, "v0": 6.0, "v": np.array([6.0, 1e3])})
    np.testing.assert_allclose(val, [2.5, 5.0])
    # integer powers are emitted as integer powers (no pow call in the kernel)
    assert to_source(parse_expression("x**2")) == "x ** 2"


@pytest.mark.parametrize("text, lhs, ode", [
    ("d/dt * x = -x / tau", "x", True),
    ("dx/dt = -x", "x", True),
    ("x' = 1 - x", "x", True),
    ("y = 2 * x", "y", False),
    ("y = 1.0 if x >= 0 else 0.0", "y", False),
])
def test_equation_forms(text, lhs, ode):
    eq = parse_equation(text)
    assert (eq.lhs, eq.is_ode) == (lhs, ode)


def test_equation_without_assignment_is_refused():
    with pytest.raises(ModelError, match="needs '='"):
        parse_equation("x == y")
    with pytest.raises(ModelError, match="left-hand side"):
        parse_equation("2 * x = y")
