"""Templates declare their natural coupling and their observables; generic code reads them."""
import ast
import copy
import re
from pathlib import Path

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge import Result
from rate_bridge.forward_models import declared_observable, from_gain
from rate_bridge.model import Circuit, ModelError, Node, Operator, UnknownModelNameError, Variable
from rate_bridge.model.observables import SignalExpression, parse_signal

PACKAGE = Path(rb.__file__).parent

# what the generic code held before templates declared it (forward_models/signals.py's table
# and network.py's pc.v rule): the shipped templates must keep exactly these numbers
BEFORE = {
    "jansen_rit": ("pc.v", "mV", 1e-8),
    "montbrio": ("p.v", "a.u.", 1e-8),
    "wilson_cowan": ("wc.E", "a.u.", 1e-7),
    "kuramoto": ("cos(osc.theta)", "1", 1e-8),
}

LEAKY = """
leaky_op:
  kind: operator
  equations: ["d/dt * x = (-x + I) / tau", "y = 2 * x"]
  variables:
    x: {kind: state, unit: mV}
    y: {kind: variable, unit: mV}
    I: input
    tau: 0.01
leaky_node:
  kind: node
  operators: [leaky_op]
leaky:
  kind: circuit
  nodes: {n: leaky_node}
  coupling: {source: n.x, target: n.I, function: "tanh(x_j) * k", params: {k: 2.0},
             reference: a test}
  observables:
    eeg_meg: {signal: {n.x: 1.0, n.y: -0.25}, unit: mV, moment_scale: 2.0e-9, reference: me}
    bold: {signal: n.y}
"""


def _leaky(**declared):
    op = Operator("leaky_op", ["d/dt * x = (-x + I) / tau", "y = 2 * x"],
                  {"x": Variable("state", unit="mV"), "y": Variable("variable", unit="mV"),
                   "I": Variable("input"), "tau": Variable("parameter", 0.01)})
    return Circuit("leaky", {"n": Node("leaky_node", [op])}, **declared)


def _load(write_yaml, text, name="leaky"):
    return rb.load_template(f"{write_yaml(LEAKY + text)}:{name}")


# -- the shipped templates -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BEFORE))
def test_shipped_templates_declare_the_numbers_generic_code_held(name):
    circuit = rb.load_template(name)
    signal, unit, scale = BEFORE[name]
    eeg = circuit.observables["eeg_meg"]
    assert (eeg["signal"], eeg["unit"], eeg["moment_scale"]) == (signal, unit, scale)
    assert eeg["reference"] and circuit.coupling["reference"]
    assert circuit.observables["bold"]["signal"]
    for qname in (circuit.coupling["source"], circuit.coupling["target"]):
        assert qname in circuit.variables
    text = circuit.describe()
    assert f"coupling {circuit.coupling['source']} -> {circuit.coupling['target']}" in text
    assert f"observable eeg_meg: {signal} [{unit}], moment_scale {scale:g} A·m" in text


def test_jansen_rit_declares_the_sigmoid_the_network_used_for_its_potential():
    jr = rb.load_template("jansen_rit")
    assert jr.coupling["source"] == "pc.v" and jr.coupling["target"] == "pc.m_in_e"
    assert jr.coupling["function"] == "sigmoidal"
    assert jr.coupling["params"] == {"cmax": 5.0, "midpoint": 6.0, "r": 0.56}
    # the declared constants are the column's own sigmoid (2 e0, v0, r)
    sig = jr.parameters
    assert jr.coupling["params"] == {"cmax": 2 * sig["pc.e0"], "midpoint": sig["pc.v0"],
                                     "r": sig["pc.r"]}


# -- declarations in YAML and Python -------------------------------------------------------------
def test_yaml_and_python_declarations_are_the_same_plain_data(write_yaml):
    yml = _load(write_yaml, "")
    py = _leaky(coupling={"source": "n.x", "target": "n.I", "function": "tanh(x_j) * k",
                          "params": {"k": 2}, "reference": "a test"},
                observables={"eeg_meg": {"signal": {"n.x": 1, "n.y": -0.25}, "unit": "mV",
                                         "moment_scale": 2e-9, "reference": "me"},
                             "bold": {"signal": "n.y"}})
    assert py.coupling == yml.coupling == {"source": "n.x", "target": "n.I",
                                           "function": "tanh(x_j) * k", "params": {"k": 2.0},
                                           "reference": "a test"}
    assert py.observables == yml.observables
    assert yml.observables["eeg_meg"]["signal"] == {"n.x": 1.0, "n.y": -0.25}
    assert yml.copy().observables == yml.observables
    assert _leaky().coupling is None and _leaky().observables == {}


def test_declarations_are_inherited_through_base(write_yaml):
    text = """
child:
  base: leaky
  observables: {bold: {signal: "n.x"}}
bare:
  base: leaky
  coupling: null
"""
    child = _load(write_yaml, text, "child")
    parent = _load(write_yaml, text, "leaky")
    assert child.coupling == parent.coupling
    assert child.observables["eeg_meg"] == parent.observables["eeg_meg"]   # kept
    assert child.observables["bold"] == {"signal": "n.x"}                   # replaced
    assert _load(write_yaml, text, "bare").coupling is None


@pytest.mark.parametrize("text, field, match", [
    ("  coupling: {source: n.x, target: n.I, speed: 3}", "coupling.speed", "unknown field"),
    ("  coupling: {source: n.x}", "coupling.target", "missing field"),
    ("  coupling: {source: n.nope, target: n.I}", "coupling.source", "no variable 'nope'"),
    ("  coupling: {source: n.tau, target: n.I}", "coupling.source", "is a parameter"),
    ("  coupling: {source: n.x, target: n.y}", "coupling.target", "is a variable"),
    ("  coupling: {source: n.x, target: n.I, function: sigmoidl}", "coupling.function",
     "unknown coupling function 'sigmoidl'"),
    ("  coupling: {source: n.x, target: n.I, function: sigmoidal, params: {r: .nan}}",
     "coupling.params", "'r' must be a finite number"),
    ("  coupling: {source: n.x, target: n.I, function: 'a * x_j'}", "coupling.params",
     r"needs values for \['a'\]"),
    ("  coupling: [n.x, n.I]", "coupling[0]", "must be a mapping"),
    ("  coupling: [{source: n.x, target: n.I}, {source: n.x, target: n.I}]",
     "coupling[1].target", "two declared couplings drive the input 'n.I'"),
    ("  observables: {eeg: {signal: n.x}}", "observables.eeg", "unknown observable 'eeg'"),
    ("  observables: {eeg_meg: {signal: n.x, unit: mV}}", "observables.eeg_meg.moment_scale",
     "missing field"),
    ("  observables: {eeg_meg: {signal: n.v, unit: mV, moment_scale: 1.0e-8}}",
     "observables.eeg_meg.signal", r"unknown variable\(s\) \['n.v'\]"),
    ("  observables: {bold: {signal: n.tau}}", "observables.bold.signal",
     r"unknown variable\(s\) \['n.tau'\]"),
    ("  observables: {bold: {signal: 'exp(n.x) + q'}}", "observables.bold.signal",
     r"reads \['q'\]"),
    ("  observables: {bold: {signal: 'n.x.__class__'}}", "observables.bold.signal",
     "not allowed|unknown variable"),
    ("  observables: {bold: {signal: {n.x: one}}}", "observables.bold.signal",
     "coefficient of 'n.x'"),
    ("  observables: {eeg_meg: {signal: n.x, unit: mV, moment_scale: -1.0e-8}}",
     "observables.eeg_meg.moment_scale", "positive finite"),
    ("  observables: {eeg_meg: {signal: n.x, unit: mV, moment_scale: big}}",
     "observables.eeg_meg.moment_scale", "must be a number"),
    ("  observables: {bold: {signal: n.x, colour: red}}", "observables.bold.colour",
     "unknown field"),
])
def test_bad_declarations_name_file_template_and_field(write_yaml, text, field, match):
    path = write_yaml(LEAKY + "bad:\n  base: leaky\n" + text + "\n")
    with pytest.raises(ModelError, match=match) as err:
        rb.load_template(f"{path}:bad")
    assert err.value.field == field and err.value.template == "bad"
    assert str(path) in str(err.value)


def test_unknown_names_are_the_unknown_name_error():
    with pytest.raises(UnknownModelNameError):
        _leaky(coupling={"source": "n.nope", "target": "n.I"})
    with pytest.raises(UnknownModelNameError):
        _leaky(observables={"eeg": {"signal": "n.x"}})
    with pytest.raises(KeyError):                  # an unknown name is also a KeyError
        _leaky(observables={"bold": {"signal": "n.nope"}})


def test_declarations_changed_by_hand_are_checked_again():
    circuit = _leaky(observables={"bold": {"signal": "n.x"}})
    circuit.observables["bold"]["signal"] = "n.gone"
    with pytest.raises(ModelError, match=r"unknown variable\(s\) \['n.gone'\]"):
        circuit.validate()
    circuit = _leaky(coupling={"source": "n.x", "target": "n.I"})
    circuit.coupling = {"source": "n.x", "target": "n.x"}
    with pytest.raises(ModelError, match="coupling target 'n.x' is a state"):
        rb.Network.from_circuit(circuit)


def test_declared_coupling_source_counts_as_a_use_of_an_output():
    op = Operator("emit", ["d/dt * x = -x + I", "out = 2 * x"],
                  {"x": Variable("state"), "I": Variable("input"), "out": Variable("output")})
    with pytest.raises(ModelError, match="wired to nothing"):
        Circuit("c", {"n": Node("n", [op])})
    c = Circuit("c", {"n": Node("n", [op])}, coupling={"source": "n.out", "target": "n.I"})
    assert c.coupling["function"] == "linear" and c.coupling["params"] == {}


# -- signals over qualified names ----------------------------------------------------------------
def test_signal_expressions_read_qualified_names_including_sub_circuits():
    known = ["col1/pc.v", "pc.v", "osc.theta"]
    assert parse_signal("pc.v", known) == {"pc.v": 1.0}
    assert parse_signal({"pc.v": 2, "osc.theta": -1}, known) == {"pc.v": 2.0, "osc.theta": -1.0}
    expr = parse_signal("col1/pc.v - pc.v / pi + cos(osc.theta)", known)
    assert isinstance(expr, SignalExpression)
    assert sorted(expr.variables) == ["col1/pc.v", "osc.theta", "pc.v"]
    v1, v2, th = np.array([3.0, 1.0]), np.array([2.0, 4.0]), np.array([0.0, np.pi])
    np.testing.assert_allclose(expr.evaluate({"col1/pc.v": v1, "pc.v": v2, "osc.theta": th}),
                               v1 - v2 / np.pi + np.cos(th))
    for bad, match in [("pc.vv * 2", r"unknown variable\(s\) \['pc.vv'\]"),
                       ("__import__('os')", "not allowed|unknown function"),
                       ("3.0", "reads no variable"), ("", "a signal is"),
                       ({}, "empty"), ({"pc.v": float("inf")}, "finite number"),
                       ({"pc.v": 10 ** 400}, "finite number")]:
        with pytest.raises(ModelError, match=match):
            parse_signal(bad, known)


# -- networks use the declared coupling ----------------------------------------------------------
def test_network_coupling_defaults_come_from_the_template():
    jr, two = rb.load_template("jansen_rit"), np.ones((2, 2)) - np.eye(2)
    (c,) = rb.Network.from_arrays(two, jr).couplings
    assert (c.source, c.target, c.name) == ("pc.v", "pc.m_in_e", "sigmoidal")
    assert c.params == {"cmax": 5.0, "midpoint": 6.0, "r": 0.56}
    # the same source, named explicitly: the declared function, params over the declared ones
    (c,) = rb.Network.from_arrays(two, jr, coupling=("pc.v", "pc.m_in_e"),
                                  coupling_params={"cmax": 3.0}).couplings
    assert c.name == "sigmoidal" and c.params == {"cmax": 3.0, "midpoint": 6.0, "r": 0.56}
    # another source is linear; an explicit function wins over the declaration
    (c,) = rb.Network.from_arrays(two, jr, coupling=("pc.m_out", "pc.m_in_e")).couplings
    assert c.name == "linear"
    (c,) = rb.Network.from_arrays(two, jr, coupling=("pc.v", "pc.m_in_e"),
                                  coupling_function="linear").couplings
    assert c.name == "linear"
    # a custom expression declared by a circuit
    (c,) = rb.Network.from_arrays(two, _leaky(coupling={
        "source": "n.x", "target": "n.I", "function": "tanh(x_j) * k",
        "params": {"k": 2.0}})).couplings
    assert (c.name, c.expression.text, c.params) == ("custom", "tanh(x_j) * k", {"k": 2.0})


def test_network_without_edges_or_with_disagreeing_circuits():
    wc, kur = rb.load_template("wilson_cowan"), rb.load_template("kuramoto")
    assert rb.Network.from_arrays(np.zeros((3, 3)), [wc, kur, wc]).couplings == []
    with pytest.raises(ValueError, match="declare different couplings .*wilson_cowan: wc.E -> "
                                         "wc.E_in linear; kuramoto: osc.theta -> osc.c"):
        rb.Network.from_arrays(np.ones((3, 3)), [wc, kur, wc])
    with pytest.raises(ValueError, match="declare different couplings .*leaky: none"):
        rb.Network.from_arrays(np.ones((2, 2)), [wc, _leaky()], allow_negative=False)
    other = copy.deepcopy(wc)
    other.coupling["params"] = {"k": 1.0}
    other.coupling["function"] = "k * x_j"
    with pytest.raises(ValueError, match="couple 'wc.E' through different functions"):
        rb.Network.from_arrays(np.ones((2, 2)), [wc, other], coupling=("wc.E", "wc.E_in"))


def test_from_connectome_uses_the_template_coupling(tvb_connectivity_76):
    W, L, labels = tvb_connectivity_76
    conn = rb.adapters.Connectome(W[:4, :4] + 1.0 - np.eye(4), L[:4, :4], labels[:4])
    net = rb.Network.from_connectome(conn, "kuramoto", global_coupling=0.5, speed=3.0)
    (c,) = net.couplings
    assert (c.source, c.target, c.name, c.global_coupling) == ("osc.theta", "osc.c",
                                                               "kuramoto", 0.5)


# -- results carry the declarations; forward models read them -------------------------------------
def test_simulate_copies_the_observables_and_projections_use_them():
    jr = rb.load_template("jansen_rit")
    # the single-circuit Heun kernel test_network.py also runs
    res = rb.simulate(jr, 0.2, 1e-4, integrator="heun", record=["pc.v"])
    assert res.provenance["observables"] == jr.observables
    res.provenance["observables"]["eeg_meg"]["moment_scale"] = 1.0    # a copy, not the circuit
    assert jr.observables["eeg_meg"]["moment_scale"] == 1e-8
    res.provenance["observables"] = jr.observables
    gain = np.array([[2e3], [-1e3]])                                  # V per A·m, 2 channels
    fm = from_gain(gain, {"a": (0.0, 0.0, 90.0), "b": (60.0, 0.0, 60.0)}, res.labels)
    raw = fm.to_raw(res, reference=None)
    v = res["pc.v"][:, 0]
    np.testing.assert_allclose(raw.get_data(), gain @ (1e-8 * (v - v.mean()))[None], rtol=1e-12)
    res.provenance["observables"] = {"eeg_meg": dict(jr.observables["eeg_meg"], signal="2 * "
                                                     "pc.v", moment_scale=3e-9)}
    raw = fm.to_raw(res, reference=None)
    np.testing.assert_allclose(raw.get_data(), gain @ (6e-9 * (v - v.mean()))[None], rtol=1e-12)


def test_mixed_networks_carry_one_declaration_per_circuit():
    wc, kur = rb.load_template("wilson_cowan"), rb.load_template("kuramoto")
    net = rb.Network.from_arrays(np.zeros((3, 3)), [wc, kur, wc])
    assert net.observables == [wc.observables, kur.observables]
    t = np.arange(10) / 100.0
    mixed = Result(t, {"wc.E": np.ones((10, 3))}, ["a", "b", "c"],
                   provenance={"model": ["wilson_cowan", "kuramoto"],
                               "observables": net.observables})
    assert declared_observable(mixed) is None
    assert declared_observable(mixed, "bold") is None
    same = Result(t, {"wc.E": np.ones((10, 2))}, ["a", "b"],
                  provenance={"model": ["x", "y"], "observables": [wc.observables] * 2})
    assert declared_observable(same) == wc.observables["eeg_meg"]
    fm = from_gain(np.ones((1, 3)), {"e1": (0.0, 0.0, 90.0)}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="different \\(or no\\) 'eeg_meg' observables"):
        fm.to_raw(mixed)


# -- no template knowledge in generic code, no import cycles ----------------------------------
def _shipped_names():
    """Every template name of the library and every qualified variable of its circuits."""
    files = rb.model.library_templates()
    names = set(files) | {n for templates in files.values() for n in templates}
    for name in files:
        names |= set(rb.load_template(name).variables)
    return names


def _code_strings(path):
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def _generic_modules():
    files = list(PACKAGE.glob("*.py"))
    for sub in ("forward_models", "compile", "adapters", "model"):
        files += list((PACKAGE / sub).glob("*.py"))
    return files


def test_generic_code_names_no_shipped_template_or_variable():
    from rate_bridge.model.coupling import COUPLING_FUNCTIONS
    shipped = _shipped_names() - set(COUPLING_FUNCTIONS)     # function names are vocabulary
    # documentation may use a shipped model as its example (docstrings, "e.g." in help texts)
    hits = [(path.name, text) for path in _generic_modules() for text in _code_strings(path)
            if "e.g." not in text and shipped & set(re.findall(r"[A-Za-z_][\w./]*\w", text))]
    assert hits == []


def _import_nodes(tree, lazy):
    """Import statements of a module: all of them, or (``lazy=False``) those run when the
    module is imported, i.e. not inside a function."""
    if lazy:
        return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    out, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(module, lazy=True):
    """Modules of rate_bridge that ``module`` imports anywhere in its code (lazily too, unless
    ``lazy=False``)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    out = set()
    for node in _import_nodes(ast.parse(path.read_text()), lazy):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join(base + ([node.module] if node.module else []))
            # "from . import _files" imports the module, "from .x import name" the module x
            out |= {f"{base}.{a.name}" if _module_exists(f"{base}.{a.name}") else base
                    for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m.startswith("rate_bridge")}


def _reaches(start, goal):
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for dep in _imports(module) - seen:
            if dep == goal:
                return True
            seen.add(dep)
            todo.append(dep)
    return False


def _module_exists(module):
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_model_language_and_the_file_helpers_import_nothing_above_them():
    for module in ("rate_bridge.model.templates", "rate_bridge.model.loader",
                   "rate_bridge.model.coupling", "rate_bridge.model.observables",
                   "rate_bridge.model.export"):
        assert not _reaches(module, "rate_bridge.network"), module
        assert not _reaches(module, "rate_bridge.compile.graph"), module
    assert not _reaches("rate_bridge.adapters._common", "rate_bridge.adapters.connectome")
    assert _reaches("rate_bridge.network", "rate_bridge.model.templates")   # the check works


def _package_modules():
    """Every module of the rate_bridge package, by dotted name."""
    names = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def _cycles(graph):
    """Import cycles of ``{module: imported modules}``, each as the path that closes it."""
    cycles, done, path = [], set(), []

    def visit(module):
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                visit(dep)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module)
    return cycles


def test_no_module_of_the_package_imports_itself_back_at_import_time():
    graph = {module: _imports(module, lazy=False) for module in _package_modules()}
    assert len(graph) > 40 and all(m.startswith("rate_bridge") for m in graph)
    assert _cycles(graph) == []
    # readers and operations build Connectomes, so they import connectome at module level;
    # Connectome's convenience methods (to_networkx, normalise, ...) import them lazily
    for upper in ("rate_bridge.adapters.graph", "rate_bridge.adapters.operations"):
        assert "rate_bridge.adapters.connectome" in graph[upper]
        assert upper not in graph["rate_bridge.adapters.connectome"]
        assert upper in _imports("rate_bridge.adapters.connectome")
    # the search finds a cycle where there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_a_template_may_declare_several_couplings(write_yaml):
    """Regions coupled through two variables (e.g. both coordinates of an oscillator): a
    network built with coupling=None gets both, each with its declared function."""
    text = LEAKY.replace('"d/dt * x = (-x + I) / tau"',
                         '"d/dt * x = (-x + I) / tau", "d/dt * z = (-z + J) / tau"')
    text = text.replace("    I: input\n", "    I: input\n    J: input\n    z: {kind: state}\n")
    text += ("two:\n  base: leaky\n  coupling:\n"
             "    - {source: n.x, target: n.I, function: difference}\n"
             "    - {source: n.z, target: n.J}\n")
    circuit = rb.load_template(f"{write_yaml(text)}:two")
    assert [c["target"] for c in circuit.couplings] == ["n.I", "n.J"]
    assert circuit.coupling is circuit.couplings[0]
    assert "coupling n.z -> n.J: linear" in circuit.describe()
    net = rb.Network.from_arrays(np.ones((2, 2)), circuit)
    assert [(c.source, c.target, c.name) for c in net.couplings] == [
        ("n.x", "n.I", "difference"), ("n.z", "n.J", "linear")]
