"""Fuzzing the model language: random expressions, names and YAML either load correctly or are
refused with a ModelError/ValueError carrying a message — never run code, never hang, never
crash the interpreter.
"""
import ast
import io
import keyword
import string
import tokenize

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rate_bridge as rb
from rate_bridge.compile import KernelSpec, generate
from rate_bridge.compile.cache import kernel_for
from rate_bridge.model import ModelError, load_template, parse_expression
from rate_bridge.model.expressions import CONSTANTS, FUNCTIONS, evaluate, to_source, unparse

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,  # no timing: CI is loaded
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# -- expressions ------------------------------------------------------------------------------
_NAMES = st.sampled_from(["x", "y", "tau", "a_1", "pi", "e", "exp", "__x", "ｘ", "open",
                          "lambda", "x.y", "__import__"])
_NUMBERS = st.one_of(st.integers(0, 10 ** 6).map(str),
                     st.floats(0, 1e300, allow_nan=False).map(repr),
                     st.sampled_from(["1e999", "0x1F", "1_000", "1j", "True", "'s'", "None"]))


def _expr_strategy():
    atom = st.one_of(_NAMES, _NUMBERS)

    def extend(inner):
        binop = st.tuples(inner, st.sampled_from(
            ["+", "-", "*", "/", "**", "%", "//", "<<", "&", "<", "<=", "==", "!=", " and ",
             " or ", " if x > 0 else ", "@"]), inner).map("".join)
        unary = st.tuples(st.sampled_from(["-", "+", "not ", "~"]), inner).map("".join)
        paren = inner.map(lambda s: f"({s})")
        call = st.tuples(st.sampled_from(sorted(FUNCTIONS) + ["eval", "getattr"]),
                         st.lists(inner, min_size=0, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})")
        return st.one_of(binop, unary, paren, call)

    grammar = st.recursive(atom, extend, max_leaves=25)
    noise = st.text(alphabet=string.printable + "ｘ\u2028\x00", max_size=40)
    return st.one_of(grammar, grammar, noise,
                     st.tuples(grammar, noise).map(lambda t: t[0] + " #" + t[1]))


@FUZZ
@given(_expr_strategy())
def test_fuzz_expressions(text):
    try:
        e = parse_expression(text)
    except ModelError as err:
        event("refused")
        assert str(err)
        return
    event("parsed")
    # what is kept re-emits to the same tree, and evaluates the same from either form
    again = parse_expression(unparse(e.tree))
    assert unparse(again.tree) == unparse(e.tree)
    ast.parse(to_source(e, lambda n: "v_" + n), mode="eval")
    assert text.isascii()
    assert all(s.isidentifier() and not s.startswith("__") and s not in FUNCTIONS
               for s in e.symbols)
    env = {s: 0.7 * (k + 1) for k, s in enumerate(sorted(e.symbols))}
    env["x"] = np.array([-1.5, 0.0, 2.0])
    with np.errstate(all="ignore"):
        try:
            first = np.asarray(evaluate(e, env), dtype=float)
        except (OverflowError, ZeroDivisionError, ValueError, TypeError):
            return                                     # a numeric domain error, not a crash
        np.testing.assert_array_equal(first, np.asarray(evaluate(again, env), dtype=float))


# -- names in model files -------------------------------------------------------------------
_WEIRD = st.sampled_from(["jr\nimport os", 'a"""b', "a'b", "a\\b", "ｐｃ", "x\u2028y", "class",
                          "__init__", "", " x", "a.b", "a/b", "a:b", "é", "x" * 300, "exp",
                          "a__b", "b__c", "_", "x1"])
_IDENT = st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z").filter(
    lambda s: not keyword.iskeyword(s) and s not in FUNCTIONS and s not in CONSTANTS)
_NAME = st.one_of(_IDENT, _IDENT, _WEIRD, st.text(max_size=10))


def _valid(name):
    return (isinstance(name, str) and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name) and not name.startswith("__")
            and len(name) <= 128)


def _model_file(names, free):
    op, node, circ, label, state, par, inp, edge = names
    return {
        op: {"kind": "operator", "description": free, "reference": free,
             "equations": [f"d/dt * {state} = -{state} / {par} + {inp}"],
             "variables": {state: {"kind": "state", "default": 0.1, "unit": free,
                                   "description": free},
                           par: {"kind": "parameter", "default": 0.5, "unit": free},
                           inp: {"kind": "input"}}},
        node: {"kind": "node", "operators": [op]},
        circ: {"kind": "circuit", "nodes": {label: node},
               "edges": [{"source": f"{label}.{state}", "target": f"{label}.{inp}",
                          "weight": 0.3, "name": edge}]},
    }


def _assert_clean_module(source):
    tree = ast.parse(source)
    static = {n.id for n in ast.walk(ast.parse(_REFERENCE[0])) if isinstance(n, ast.Name)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            assert n.id in static or (n.id.startswith("v_") and n.id.isascii()), n.id
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            assert n.value in _REFERENCE[1]
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            assert tok.string.isascii() and tok.string.isprintable()


_REFERENCE = []


@pytest.fixture(scope="module", autouse=True)
def reference_module():
    """A harmless kernel of the fuzzed file's structure: its names and strings are the only
    ones a fuzzed kernel may hold (besides generated v_ locals)."""
    names = ["op", "nd", "circ", "n", "s", "p", "i", "e1"]
    circ = _load(_model_file(names, "free text"), "circ")
    source = _generate(circ)
    _REFERENCE[:] = [source, {n.value for n in ast.walk(ast.parse(source))
                              if isinstance(n, ast.Constant) and isinstance(n.value, str)}]


def _load(data, name, tmp=None):
    import tempfile
    from pathlib import Path
    folder = Path(tmp or tempfile.mkdtemp())
    path = folder / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_template(f"{path}:{name}")


def _generate(circ):
    net = rb.Network.from_circuit(circ)
    return generate(KernelSpec([g["flat"] for g in net.groups], [], "euler", "batch", [1]))


def _one_bad(args):
    names, k, bad = args
    return names if k == 8 else names[:k] + [bad] + names[k + 1:]   # k == 8: all eight valid


@FUZZ
@given(st.tuples(st.lists(_IDENT, min_size=8, max_size=8, unique=True), st.integers(0, 8),
                 _NAME).map(_one_bad), st.text(max_size=30))
def test_fuzz_names_in_model_files(tmp_path, monkeypatch, names, free):
    monkeypatch.setenv("RATE_BRIDGE_CACHE", str(tmp_path / "cache"))
    canary = tmp_path / "owned"
    data_ok = len({names[0], names[1], names[2]}) == 3 and \
        len({names[4], names[5], names[6]}) == 3
    try:
        circ = _load(_model_file(names, free), names[2], tmp_path)
    except (ModelError, ValueError) as err:
        event("refused")
        assert str(err)
        assert not (data_ok and all(_valid(n) and "__" not in n for n in names)
                    and not set(names[4:7]) & (set(FUNCTIONS) | set(CONSTANTS))
                    and names[7] != names[3]), f"valid names refused: {err}"
        return
    event("loaded")
    assert all(_valid(n) for n in names), "an invalid name was accepted"
    source = _generate(circ)
    _assert_clean_module(source)
    net = rb.Network.from_circuit(circ)
    kernel_for(KernelSpec([g["flat"] for g in net.groups], [], "euler", "batch", [1]))
    assert not canary.exists()


# -- random YAML ----------------------------------------------------------------------------
_FIELDS = ["kind", "base", "equations", "variables", "nodes", "edges", "operators", "params",
           "time_unit", "description", "source", "target", "template", "default"]
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 10 ** 20), st.floats(),
                    st.text(max_size=12), st.sampled_from(
                        ["operator", "node", "circuit", "state", "input", "parameter",
                         "jansen_rit", "d/dt * x = -x", "x = 1", "/etc/passwd:x",
                         "../../x.yaml:T", "ms", "a.b"]))
_YAML_TREE = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(_FIELDS), st.text(max_size=6)), inner,
                    max_size=5)), max_leaves=30)


@FUZZ
@given(st.dictionaries(st.sampled_from(["T", "U", "jansen_rit", "x"]), _YAML_TREE,
                       min_size=1, max_size=3), st.text(max_size=200))
def test_fuzz_yaml_files(tmp_path, data, raw):
    path = tmp_path / "fuzz.yaml"
    for text in (yaml.safe_dump(data, allow_unicode=True), raw):
        path.write_text(text)
        for ref in (f"{path}:T", str(path)):
            try:
                load_template(ref)
            except (ModelError, ValueError) as err:
                assert str(err)
