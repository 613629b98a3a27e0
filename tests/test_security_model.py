"""Model files are untrusted: safe YAML, references confined to allowed folders, bounded
nesting, and only validated names in a model. No test here compiles a kernel."""
import copy
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rate_bridge as rb
from rate_bridge.cli import _value
from rate_bridge.config import ConfigError, load_config
from rate_bridge.model import Circuit, Edge, ModelError, Node, Operator, Variable, yamlio
from rate_bridge.model.yamlio import loads_yaml, read_yaml

OP = """
op:
  kind: operator
  equations: ["d/dt * x = -x / tau + I"]
  variables: {x: state, I: input, tau: 0.01}
"""


def _op(**kw):
    return Operator("op", ["d/dt * x = -x"], {"x": Variable("state")}, **kw)


# -- YAML --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("1e-3", 1e-3), ("1E5", 1e5), (".5e3", 500.0),
                                         ("-2e-4", -2e-4), ("+3e2", 300.0), ("1.e2", 100.0),
                                         ("1.0e-4", 1e-4), ("12", 12), ("'1e-3'", "1e-3"),
                                         ("e5", "e5"), ("1e", "1e"), ("0x1e", 30)])
def test_scientific_notation_reads_as_a_float(text, value):
    got = loads_yaml(f"a: {text}")["a"]
    assert got == value and type(got) is type(value)


def test_scientific_notation_in_a_template_and_on_the_command_line(write_yaml):
    path = write_yaml(OP.replace("tau: 0.01", "tau: 1e-2"))
    assert rb.load_template(f"{path}:op").parameters["tau"] == 0.01
    assert _value("1e-4") == 1e-4 and _value("pc.v") == "pc.v" and _value("[a, b") == "[a, b"


def test_duplicate_keys_are_refused_with_file_line_and_key(write_yaml):
    path = write_yaml(OP + "  equations: []\n")
    with pytest.raises(ModelError, match=r"line 6.*duplicate key 'equations' \(first at line 4"
                       ) as err:
        rb.load_template(f"{path}:op")
    assert str(path) in str(err.value)
    # merge keys (<<) override on purpose: not duplicates
    assert loads_yaml("a: &a {x: 1}\nb: {<<: *a, x: 2}")["b"] == {"x": 2}


def test_alias_bomb_fails_fast(write_yaml):
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = write_yaml("\n".join(lines) + "\nop: {kind: *l9}\n")
    assert path.stat().st_size < 1100
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="expands to more than") as err:
        rb.load_template(f"{path}:op")
    assert time.perf_counter() - t0 < 1.0 and str(path) in str(err.value)


@pytest.mark.parametrize("text, match", [
    ("a: &a [*a]", "alias refers to a node that contains it"),
    ("a: &a {<<: *a}", "alias refers to a node that contains it"),
    ("a: " + "[" * 5000 + "]" * 5000, "nesting deeper than 64"),
    ("a: !!binary aGk=", "not allowed"),
    ("a: !!set {x}", "not allowed"),
    ("a: !!python/object/apply:os.system [id]", "could not determine a constructor"),
    ("a: \x07", "special characters are not allowed"),
    ("a: 1\n---\nb: 2", "single document"),
])
def test_yaml_that_is_not_plain_data_is_refused(text, match):
    with pytest.raises(ModelError, match=match):
        loads_yaml(text, name="x.yaml")


def test_yaml_builds_only_plain_types():
    data = loads_yaml("a: 2020-01-01\nb: [1, 2.5, yes, null]\nc: {d: text}")
    assert data == {"a": "2020-01-01", "b": [1, 2.5, True, None], "c": {"d": "text"}}


def test_large_and_special_files_are_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fid:          # sparse: 2 GiB that would take long to read
        fid.truncate(2 << 30)
    with pytest.raises(ModelError, match=r"file too large \(2147483648 bytes") as err:
        rb.load_template(f"{big}:x")
    assert str(big) in str(err.value)
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", 5)   # the limit is configurable
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\nb: 2\n")
    with pytest.raises(ModelError, match="too large"):
        read_yaml(small)
    assert read_yaml(small, max_bytes=100) == {"a": 1, "b": 2}
    if hasattr(os, "mkfifo"):             # opening a FIFO would block forever
        fifo = tmp_path / "fifo.yaml"
        os.mkfifo(fifo)
        with pytest.raises(ModelError, match="not a regular file"):
            read_yaml(fifo)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\xfe")
    with pytest.raises(ModelError, match="not UTF-8"):
        read_yaml(binary, max_bytes=100)


def test_configuration_files_use_the_safe_reader(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("simulation: {dt: 1e-4, duration: 2}\n")
    assert load_config(cfg)["simulation"]["dt"] == 1e-4
    cfg.write_text("speed: 1\nspeed: 2\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml: YAML error at line 2.*duplicate key"):
        load_config(cfg)


# -- references --------------------------------------------------------------------------------
@pytest.fixture
def folders(tmp_path):
    """models/ (the user's folder, with sub/ and a link out) and other/ (a foreign folder)."""
    models, other = tmp_path / "models", tmp_path / "other"
    (models / "sub").mkdir(parents=True)
    other.mkdir()
    secret = "SECRET-LINE-42"
    (other / "foreign.yaml").write_text(OP + f"# {secret}\n")
    (other / "broken.yaml").write_text(f"{secret}: [\n")
    (models / "sub" / "inner.yaml").write_text(OP)
    (models / "link.yaml").symlink_to(other / "foreign.yaml")
    return models, other, secret


@pytest.mark.parametrize("ref, match", [
    ("/etc/shadow:x", "neither a library file"),
    ("/etc/passwd", "unknown template"),
    ("../other/foreign.yaml:op", "outside the folders"),
    ("../other/broken.yaml:op", "outside the folders"),
    ("{other}/foreign.yaml:op", "outside the folders"),
    ("{other}/broken.yaml", "outside the folders"),
    ("link.yaml:op", "outside the folders"),
    ("sub/../../other/foreign.yaml:op", "outside the folders"),
    ("sub/inner.txt:op", "neither a library file"),
])
def test_references_cannot_leave_the_model_folder(folders, ref, match):
    models, other, secret = folders
    ref = ref.format(other=other)
    (models / "m.yaml").write_text(f"t: {{base: {ref!r}}}\n")
    with pytest.raises(ModelError, match=match) as err:
        rb.load_template(f"{models / 'm.yaml'}:t")
    assert secret not in str(err.value) and "field 'base'" in str(err.value)


def test_references_within_the_folder_library_and_search_path(folders):
    models, other, _ = folders
    (models / "m.yaml").write_text("a: {base: 'sub/inner.yaml:op'}\nb: {base: 'jansen_rit:jr_psp'}"
                                   "\nc: {base: 'foreign.yaml:op'}\n")
    path = models / "m.yaml"
    assert rb.load_template(f"{path}:a").parameters == {"tau": 0.01}
    assert "H" in rb.load_template(f"{path}:b").parameters
    with pytest.raises(ModelError, match="not found"):
        rb.load_template(f"{path}:c")
    assert rb.load_template(f"{path}:c", search_path=[other]).parameters == {"tau": 0.01}
    # the user's own call may name any YAML file
    assert rb.load_template(f"{other / 'foreign.yaml'}:op").parameters == {"tau": 0.01}
    with pytest.raises(ModelError, match="printable characters"):
        rb.load_template(f"{other / 'foreign'}\x00.yaml:op")


def test_configuration_model_reference_is_relative_to_its_folder(folders):
    models, other, secret = folders
    cfg = models / "run.yaml"
    cfg.write_text("model: sub/inner.yaml:op\n")
    assert load_config(cfg)["model"] == f"{models.resolve() / 'sub' / 'inner.yaml'}:op"
    cfg.write_text(f"model: {other}/foreign.yaml:op\n")
    with pytest.raises(ConfigError, match="run.yaml: model: .*outside the folders") as err:
        load_config(cfg)
    assert secret not in str(err.value)


# -- cycles and depth --------------------------------------------------------------------------
OPX = "op: {kind: operator, equations: ['d/dt * x = -x + I'], variables: {x: state, I: input}}\n"


@pytest.mark.parametrize("text, ref, match", [
    ("c: {kind: circuit, nodes: {n: c}}", "c", "circular reference: c -> c"),
    ("a: {kind: node, operators: {o: b}}\nb: {kind: node, operators: {o: a}}", "a",
     "circular reference: a -> b -> a"),
    ("a: {kind: circuit, nodes: {n: {template: b}}}\nb: {kind: circuit, nodes: {n: a}}", "a",
     "circular reference: a -> b -> a"),
    (OPX + "n: {kind: node, operators: [op]}\n"
     "c: {kind: circuit, nodes: {n: n}, edges: [{source: n.x, target: n.I, operator: c}]}", "c",
     "circular reference: c -> c"),
    ("a: {base: b}\nb: {base: c}\nc: {base: a}", "b", "circular inheritance: b -> c -> a -> b"),
])
def test_self_reference_is_a_clear_error(write_yaml, text, ref, match):
    path = write_yaml(text)
    with pytest.raises(ModelError, match=match):
        rb.load_template(f"{path}:{ref}")


def test_long_base_chains_and_deep_nesting_are_bounded(write_yaml):
    lines = [OPX.strip()] + ["t0: {base: op}"] + [f"t{i}: {{base: t{i - 1}}}"
                                                   for i in range(1, 5000)]
    path = write_yaml("\n".join(lines))
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="chain of 'base:' is longer than 64"):
        rb.load_template(f"{path}:t4999")
    assert time.perf_counter() - t0 < 5
    assert rb.load_template(f"{path}:t50").name == "t50"
    lines = [OPX.strip(), "n: {kind: node, operators: [op]}", "c0: {kind: circuit, nodes: {x: n}}"]
    lines += [f"c{i}: {{kind: circuit, nodes: {{x: c{i - 1}}}}}" for i in range(1, 300)]
    path = write_yaml("\n".join(lines), "nest.yaml")
    with pytest.raises(ModelError, match="nested more than 64 levels"):
        rb.load_template(f"{path}:c299")
    assert len(rb.load_template(f"{path}:c20").state_variables) == 1


def test_copying_a_model_never_walks_deep_expression_trees():
    # 400 nested additions: copy.deepcopy of the syntax tree would exceed the recursion limit
    op = Operator("big", ["d/dt * x = " + " + ".join(["x"] * 400)], {"x": Variable("state")})
    circuit = Circuit("c", {"a": Node("n", [op]), "b": Node("n", [op])})
    assert len(copy.deepcopy(circuit).nodes) == 2 and circuit.copy().nodes["a"] is not \
        circuit.nodes["a"]


# -- names and free text -----------------------------------------------------------------------
BAD_NAMES = ["jr\nimport os", "a b", "a'b", 'a"""b', "a\\b", "class", "None", "__x", "1a",
             "ｘ", "a\u200bb", "é", "", "a.b", "a/b", "x" * 129]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names_are_refused_from_python(bad):
    op = _op()
    for make in (lambda: Operator(bad, ["d/dt * x = -x"], {"x": Variable("state")}),
                 lambda: Operator("o", ["d/dt * x = -x"], {"x": Variable("state"),
                                                            bad: Variable("parameter")}),
                 lambda: op.renamed({"x": bad}),
                 lambda: Node(bad, [op]),
                 lambda: Node("n", {bad: op}),
                 lambda: Circuit(bad, {"n": Node("n", [op])}),
                 lambda: Circuit("c", {bad: Node("n", [op])}),
                 lambda: Edge("n.x", "n.I", name=bad),
                 lambda: Edge(f"n.{bad}", "n.I")):
        with pytest.raises(ModelError, match="not a valid name|must be 'node.variable'"):
            make()


@pytest.mark.parametrize("where", ["template", "variable", "label", "node", "edge", "rename"])
def test_bad_names_are_refused_from_yaml_naming_file_and_field(write_yaml, where):
    bad = "x\nimport os"
    names = dict(template="c", variable="I", label="o", node="n", edge="e", rename="xx")
    names[where] = bad
    text = f"""
op:
  kind: operator
  equations: ["d/dt * x = -x + I"]
  variables: {{x: state, {names['variable']!r}: input}}
nd:
  kind: node
  operators: {{{names['label']!r}: {{template: op, rename: {{x: {names['rename']!r}}}}}}}
{names['template']!r}:
  kind: circuit
  nodes: {{{names['node']!r}: nd}}
  edges: [{{source: n.xx, target: n.I, name: {names['edge']!r}}}]
"""
    path = write_yaml(text.replace("'", '"'))   # double quotes: YAML reads the escapes
    with pytest.raises(ModelError, match=r"not a valid name") as err:
        rb.load_template(f"{path}:{names['template']}" if where != "template" else str(path))
    assert str(path) in str(err.value) and repr(bad).strip("'") in str(err.value)


@pytest.mark.parametrize("name", ["exp", "sigmoid", "pi", "e"])
def test_variables_cannot_shadow_functions_or_constants(name):
    with pytest.raises(ModelError, match=f"variable name '{name}' is the name of the"):
        Operator("o", [f"d/dt * {name} = -1"], {name: Variable("state")})


def test_free_text_must_be_bounded_strings(write_yaml):
    with pytest.raises(ModelError, match="unit must be text"):
        Variable("state", unit=3)
    with pytest.raises(ModelError, match="at most 10000"):
        _op(description="x" * 10_001)
    with pytest.raises(ModelError, match="reference must be text"):
        Circuit("c", {"n": Node("n", [_op()])}, reference=["a"])
    path = write_yaml(OP.replace("kind: operator", "kind: operator\n  description: [1, 2]"))
    with pytest.raises(ModelError, match="description must be text") as err:
        rb.load_template(f"{path}:op")
    assert str(path) in str(err.value)
    # any text is fine: it never reaches code
    assert _op(description='"""\nimport os  # \\ é').description.startswith('"""')


def test_bad_values_are_named(write_yaml):
    with pytest.raises(ModelError, match="too large for a float"):
        Variable("parameter", 10 ** 400)
    two = Operator("o", ["d/dt * x = -y", "d/dt * y = x"],
                   {"x": Variable("state"), "y": Variable("state")})
    with pytest.raises(ModelError, match=r"rename gives several variables the same name \['y'\]"):
        two.renamed({"x": "y"})           # would silently drop a variable
    with pytest.raises(ModelError, match="edge delay must be a finite"):
        Edge("a.x", "b.y", delay=float("inf"))
    jr = rb.load_template("jansen_rit")
    with pytest.raises(ValueError, match="value of 'pc.u' must be a number, got NaN"):
        jr.set_parameter("pc.u", float("nan"))
    path = write_yaml(OP + "  params: {tau: .nan}\n")
    with pytest.raises(ModelError, match="got NaN") as err:
        rb.load_template(f"{path}:op")
    assert "params.tau" in str(err.value)


def test_names_changed_by_hand_are_checked_again_before_compiling():
    circuit = Circuit("c", {"n": Node("n", [_op()])})
    circuit.nodes["n\nimport os"] = circuit.nodes.pop("n")
    with pytest.raises(ModelError, match="node label .* is not a valid name"):
        circuit.validate()
    circuit = Circuit("c", {"n": Node("n", [_op()])})
    circuit.name = "c; import os"
    with pytest.raises(ModelError, match="circuit name"):
        rb.Network.from_circuit(circuit)


# -- fuzz --------------------------------------------------------------------------------------
# names in model files are fuzzed, down to the generated kernel, in test_fuzz_models.py
@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_yaml_text_gives_data_or_model_error(text):
    try:
        loads_yaml(text, name="fuzz")
    except ModelError as err:
        assert "fuzz" in str(err)
