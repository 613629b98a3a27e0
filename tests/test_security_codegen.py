"""No text of a model file ever runs: generated kernels hold only what the generator writes.

Hostile strings (newlines, quotes, triple quotes, backslashes, Unicode look-alikes, code) are
put into every user-controlled string that could reach a kernel: names, labels, descriptions,
units, references, coupling expressions, region labels. Each is either refused with a
ModelError or leaves the generated module's syntax tree with exactly the statements, names and
strings of a kernel built from harmless names; importing it runs nothing.
"""
import ast
import copy
import io
import tokenize

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.compile import KernelSpec, generate
from rate_bridge.compile.cache import kernel_for
from rate_bridge.model import ModelError


def _payloads(canary):
    """Strings that would run code (touch ``canary``) if pasted into generated source."""
    touch = f"__import__('pathlib').Path({str(canary)!r}).touch()"
    return [
        f"jr\n{touch}\ndef _absorb():",
        f'x"""\n{touch}\n"""',
        f"x'''\n{touch}\n'''",
        f"x\\\n{touch}",
        f"x\r{touch}",
        f"x\u2028{touch}",
        f"x # \"\"\" {touch}",
        "ｐｃ",                       # fullwidth: NFKC-equal to "pc"
        "pc\u0301",
        "",
        "__class__",
        "import",
    ]


def _network(circuit, labels=("A", "B"), function="linear"):
    return rb.Network.from_arrays(np.array([[0.0, 1.0], [1.0, 0.0]]), circuit,
                                  delays=np.array([[0.0, 0.01], [0.01, 0.0]]),
                                  labels=list(labels), coupling=("pc.m_out", "pc.m_in_e"),
                                  coupling_function=function,
                                  coupling_params=None if function == "linear" else {"a": 1.0})


def _source(net):
    return generate(KernelSpec([g["flat"] for g in net.groups], net.couplings, "heun", "batch",
                               [len(g["regions"]) for g in net.groups]))


def _shape(source):
    """What a module does: top-level statements, names, attributes and string constants.

    Generated locals (``v_...``) are reduced to their prefix: they are the only names that
    depend on the model's names.
    """
    tree = ast.parse(source)
    top = [(type(n).__name__, getattr(n, "name", None)) for n in tree.body]
    names = {("v_*" if n.id.startswith("v_") else n.id) for n in ast.walk(tree)
             if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    strings = sorted(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                     and isinstance(n.value, str))
    return top, names, attrs, strings


def _assert_harmless(source, reference):
    top, names, attrs, strings = _shape(source)
    ref_top, ref_names, ref_attrs, ref_strings = _shape(reference)
    assert top == ref_top
    assert names <= ref_names, names - ref_names
    assert attrs <= ref_attrs
    assert strings == ref_strings               # docstrings and numba options only
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            assert tok.string.isascii() and tok.string.isprintable()


@pytest.fixture(scope="module")
def jr():
    return rb.load_template("jansen_rit")


@pytest.fixture(scope="module")
def reference(jr):
    return _source(_network(jr))


def _hostile_variants(jr, payload):
    """(what, thunk building a network) with ``payload`` in one user string each."""
    def circuit_name():
        c = jr.copy()
        c.name = payload            # past the constructor's check: the generator must cope
        return _network(c)

    def node_label():
        c = jr.copy()
        c.nodes = {payload if k == "ein" else k: v for k, v in c.nodes.items()}
        for e in c.edges:
            e.source = e.source.replace("ein.", f"{payload}.")
            e.target = e.target.replace("ein.", f"{payload}.")
        return _network(c)

    def variable_name():
        c = jr.copy()
        op = c.nodes["ein"].operators["rpo"] if "rpo" in c.nodes["ein"].operators else \
            next(iter(c.nodes["ein"].operators.values()))
        op.variables[payload] = op.variables.pop(next(n for n, v in op.variables.items()
                                                      if v.kind == "parameter"))
        return _network(c)

    def free_text():
        c = jr.copy()
        c.description = c.reference = payload
        for node in c.nodes.values():
            node.description = payload
            for op in node.operators.values():
                op.description = op.reference = payload
                for var in op.variables.values():
                    var.unit = var.description = payload
        return _network(c)

    def region_labels():
        return _network(jr, labels=(payload, payload + "2"))

    def coupling_comment():
        return _network(jr, function=f"a * x_j  # {payload}")

    return [("circuit name", circuit_name), ("node label", node_label),
            ("variable name", variable_name), ("free text", free_text),
            ("region labels", region_labels), ("coupling comment", coupling_comment)]


@pytest.mark.parametrize("k", range(12))
def test_hostile_strings_never_reach_generated_code(jr, reference, tmp_path, monkeypatch, k):
    monkeypatch.setenv("RATE_BRIDGE_CACHE", str(tmp_path / "cache"))
    canary = tmp_path / "owned"
    payload = _payloads(canary)[k]
    for what, build in _hostile_variants(jr, payload):
        try:
            net = build()
            source = _source(net)
        except (ModelError, ValueError, KeyError):
            continue                                    # refused: fine
        _assert_harmless(source, reference)
        if what in ("circuit name", "free text", "region labels"):   # never in the source
            assert source == reference
        spec = KernelSpec([g["flat"] for g in net.groups], net.couplings, "heun", "batch",
                          [len(g["regions"]) for g in net.groups])
        kernel_for(spec)                                # imports the module (compiles nothing)
        assert not canary.exists(), f"code ran from a hostile {what}"


def test_coupling_text_is_re_emitted_not_pasted(jr):
    plain = _source(_network(jr, function="a * x_j"))
    commented = _source(_network(jr, function='(a *  # """ quote\n x_j)'))
    assert plain == commented


def test_evil_template_file_does_not_run(tmp_path, monkeypatch):
    """The reproduction of the issue: a circuit name carrying code."""
    monkeypatch.setenv("RATE_BRIDGE_CACHE", str(tmp_path / "cache"))
    canary = tmp_path / "owned"
    evil = tmp_path / "evil.yaml"
    name = f"jr\\nimport pathlib; pathlib.Path({str(canary)!r}).touch()\\ndef _absorb():"
    evil.write_text(f'"{name}":\n  {{kind: circuit, base: jansen_rit}}\n')
    with pytest.raises(ModelError, match="not a valid name"):
        rb.simulate(str(evil), 0.01, 1e-4)
    assert not canary.exists()


def test_mangled_names_stay_distinct():
    """Node a with state b__c and node a__b with state c once mapped to one local."""
    from rate_bridge.model.templates import Circuit, Node, Operator, Variable
    op1 = Operator("op1", ["d/dt * b__c = -b__c"], {"b__c": Variable("state", 1.0)})
    op2 = Operator("op2", ["d/dt * c = -2 * c"], {"c": Variable("state", 1.0)})
    circ = Circuit("collide", {"a": Node("n1", {"o": op1}), "a__b": Node("n2", {"o": op2})})
    spec = KernelSpec([g["flat"] for g in rb.Network.from_circuit(circ).groups], [], "euler",
                      "batch", [1])
    assert spec.local("a.b__c") != spec.local("a__b.c")
    assert len(set(spec.locals.values())) == len(spec.locals)


@pytest.mark.parametrize("text", ["ｘ + 1", "x\u00a0+ 1", "ﬁ * 2"])
def test_unicode_look_alikes_in_expressions_are_refused(text):
    with pytest.raises(ModelError, match="non-ASCII"):
        rb.model.parse_expression(text)


def test_long_expressions_work_without_recursion_limits():
    """Hundreds of terms: checked, re-emitted flat and evaluated without recursion."""
    from rate_bridge.model.expressions import evaluate, parse_expression, to_source
    n = 1500
    e = parse_expression(" + ".join(f"x{i % 5} * {i}" for i in range(n)) + " - sigmoid(x0)")
    src = to_source(e)
    assert src.count("(") < 5                           # a flat chain, not 1500 nested parens
    ast.parse(src, mode="eval")
    env = {f"x{i}": float(i) for i in range(5)}
    want = sum((i % 5) * i for i in range(n)) - 0.5
    assert evaluate(e, env) == pytest.approx(want, rel=1e-12)
    renamed = e.rename({"x1": "y1"}).substitute({"y1": parse_expression("2 + x2")})
    env["x2"] = 2.0
    assert evaluate(renamed, env) == pytest.approx(want + sum(
        3 * i for i in range(n) if i % 5 == 1), rel=1e-12)
    with pytest.raises(ModelError, match="nested"):
        parse_expression("+".join(["x"] * 20000))
    with pytest.raises(ModelError, match="too large"):
        parse_expression("1e999 * x")


def test_deep_expression_in_a_model_is_refused_clearly():
    """Beyond Python's parser (or 200 nested parentheses in the kernel): a ModelError."""
    from rate_bridge.model.templates import Circuit, Node, Operator, Variable
    deep = "x" + "".join(" * (1 + x" for _ in range(196)) + ")" * 196
    with pytest.raises(ModelError):
        op = Operator("deep", [f"d/dt * x = -x + 1e-9 * sigmoid(sigmoid({deep}))"],
                      {"x": Variable("state", 0.0)})
        net = rb.Network.from_circuit(Circuit("deep", {"n": Node("n", {"o": op})}))
        copy.deepcopy(net)
        _source(net)


def test_model_with_hundreds_of_terms_runs():
    """A 400-term rate constant: loads, copies, pickles, compiles and matches exp(-k t)."""
    import pickle

    from rate_bridge.model.templates import Circuit, Node, Operator, Variable
    terms = " + ".join(f"k{i % 3} * {1 + i % 4}" for i in range(400))
    ks = {f"k{j}": Variable("parameter", 0.002 * (j + 1)) for j in range(3)}
    op = Operator("decay", [f"d/dt * x = -({terms}) * x"], {"x": Variable("state", 1.0), **ks})
    circuit = pickle.loads(pickle.dumps(Circuit("decay", {"n": Node("n", {"o": op})}))).copy()
    res = rb.simulate(circuit, 0.5, 1e-3, integrator="rk4", record=["n.x"], sampling_rate=10)
    rate = sum(0.002 * (i % 3 + 1) * (1 + i % 4) for i in range(400))
    np.testing.assert_allclose(res["n.x"][:, 0], np.exp(-rate * res.time), rtol=1e-9)
