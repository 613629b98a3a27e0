"""Model export (``Circuit.to_yaml``) and the listing of the shipped models.

A written template must load back to the same model: the same kernel structure (the
``KernelSpec`` text that keys the kernel cache, compared without compiling anything), the same
parameters and defaults, units, couplings and observables. No test here compiles a kernel."""
import os

import numpy as np
import pytest

import rate_bridge as rb
from rate_bridge.cli import main
from rate_bridge.model import Circuit, Edge, ModelError, Node, Operator, Variable
from rate_bridge.model.yamlio import FlowDict, dumps_yaml, loads_yaml, read_yaml


def _assert_same_model(original, loaded, coupling=None):
    """Same kernel (3-region network), parameters, variables, units and declarations."""
    def spec(circuit):
        net = rb.Network.from_arrays(np.ones((3, 3)), circuit, coupling=coupling)
        return net.kernel_spec("heun").text()
    assert spec(loaded) == spec(original)
    assert loaded.parameters == original.parameters
    assert list(loaded.parameters) == list(original.parameters)
    assert loaded.units == original.units
    assert {q: (v.kind, v.default, v.description, v.noise is None)
            for q, v in loaded.variables.items()} == \
        {q: (v.kind, v.default, v.description, v.noise is None)
         for q, v in original.variables.items()}
    assert loaded.couplings == original.couplings
    assert loaded.observables == original.observables
    assert (loaded.name, loaded.description, loaded.reference) == \
        (original.name, original.description, original.reference)
    assert [e.name for e in loaded.edges] == [e.name for e in original.edges]


@pytest.mark.parametrize("name", [e["name"] for e in rb.model.list_templates()])
def test_every_shipped_model_round_trips(tmp_path, name):
    circuit = rb.load_template(name)
    path = circuit.to_yaml(tmp_path / f"{name}.yaml")
    assert path == tmp_path / f"{name}.yaml"
    _assert_same_model(circuit, rb.load_template(path))
    # the written file is self-contained: loaded from elsewhere, it needs no library file
    assert all(isinstance(body, dict) and "base" not in body
               for body in read_yaml(path).values())


def test_every_library_circuit_is_listed():
    """list_templates names every circuit template of the library, and only those."""
    listed = rb.model.list_templates()
    names = [e["name"] for e in listed]
    circuits = sorted(n for stem, templates in rb.model.library_templates().items()
                      for n in templates
                      if isinstance(rb.load_template(f"{stem}:{n}"), Circuit))
    assert names == circuits and "jansen_rit" in names and "hopf" in names
    jr = next(e for e in listed if e["name"] == "jansen_rit")
    assert jr["reference"].startswith("Jansen BH, Rit VG (1995)")
    assert "Jansen-Rit" in jr["description"]
    for entry in listed:
        assert set(entry) == {"name", "description", "reference"}
        assert entry["description"] and entry["reference"]
        assert "\n" not in entry["description"] + entry["reference"]


def test_cli_lists_one_line_per_model(capsys):
    assert main(["templates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = rb.model.list_templates()
    assert len(lines) == len(listed)
    for line, entry in zip(lines, listed):
        assert line.split()[0] == entry["name"]
        assert entry["description"] in line and f"[{entry['reference']}]" in line


def test_changed_loaded_template_round_trips(tmp_path):
    """Values changed after loading (set_parameter, an operator's with_defaults) are written;
    two nodes sharing a node template differ by per-node params."""
    jr = rb.load_template("jansen_rit")
    jr.set_parameter("pc.u", 150.0)
    jr.set_parameter("iin.H", 4.0)                     # one of the two interneuron nodes
    jr.set_parameter("pc_to_ein.weight", 100.0)
    jr.set_parameter("iin_to_pc.delay", 0.002)
    sigmoid = jr.nodes["pc"].operators["sigmoid"]
    jr.replace_operator("pc", "sigmoid", sigmoid.with_defaults({"r": 0.6}))
    path = jr.to_yaml(tmp_path / "jr.yaml")
    loaded = rb.load_template(path)
    _assert_same_model(jr, loaded)
    assert loaded.parameters["pc.u"] == 150.0 and loaded.parameters["iin.H"] == 4.0
    assert loaded.parameters["ein.H"] == 3.25 and loaded.parameters["pc.r"] == 0.6
    assert loaded.parameters["iin_to_pc.delay"] == 0.002
    data = read_yaml(path)
    # the interneurons share one node template; iin's value is a per-node override
    nodes = data["jansen_rit"]["nodes"]
    assert nodes["ein"] == "jr_interneurons"
    assert nodes["iin"] == {"template": "jr_interneurons", "params": {"H": 4.0}}


def _composite():
    """test_templates.py's composite circuit (two sub-circuits joined through an edge
    operator), with per-node and per-edge overrides, noise, a second edge through the same
    operator, several couplings (one a custom expression) and observables."""
    unit = Circuit("unit", {"n": Node("n", [Operator(
        "leak", ["d/dt * x = (-x + I) / tau"],
        {"x": Variable("state", 1.0, "mV", noise="sigma * x"), "I": Variable("input"),
         "tau": Variable("parameter", 0.01, "s"), "sigma": Variable("parameter", 0.1)})])})
    syn = Operator("syn", ["d/dt * s = (inp - s) / tau_s", "out = s"],
                   {"s": Variable("state"), "inp": Variable("input"), "out": Variable("output"),
                    "tau_s": Variable("parameter", 0.01)})
    c = Circuit("composite", {"a": unit, "b": unit},
                [Edge("a/n.x", "b/n.I", weight=2.0, operator=syn, name="ab"),
                 Edge("b/n.x", "a/n.I", weight=-1.0, delay=0.003, operator=syn)],
                description="two leaky units", reference="test_templates.py",
                coupling=[{"source": "a/n.x", "target": "a/n.I"},
                          {"source": "b/n.x", "target": "b/n.I", "function": "k*(x_j-x_i)",
                           "params": {"k": 2}}],
                observables={"eeg_meg": {"signal": {"a/n.x": 1.0, "b/n.x": -1.0}, "unit": "mV",
                                         "moment_scale": 1e-9},
                             "bold": {"signal": "a/n.x ** 2 + b/n.x"}})
    c.set_parameter("b/n.tau", 0.02)
    c.set_parameter("ab.tau_s", 0.004)
    return c


def test_python_circuit_with_sub_circuits_and_edge_operator_round_trips(tmp_path):
    c = _composite()
    path = c.to_yaml(tmp_path / "shared.yaml")
    loaded = rb.load_template(f"{path}:composite")
    _assert_same_model(c, loaded)
    assert list(loaded.nodes) == ["a/n", "b/n"]
    assert loaded.parameters["b/n.tau"] == 0.02 and loaded.parameters["a/n.tau"] == 0.01
    assert loaded.parameters["ab.tau_s"] == 0.004
    assert loaded.parameters["b/n_to_a/n.tau_s"] == 0.01
    data = read_yaml(path)
    assert data["composite"]["nodes"] == {"a": "composite_a", "b": "composite_b"}
    assert data["composite_b"]["nodes"]["n"] == {"template": "n", "params": {"tau": 0.02}}
    assert data["composite"]["params"] == {"b/n_to_a/n.tau_s": 0.01}   # over syn's 0.004
    assert "# Load with rate_bridge.load_template(f'{path}:composite')" in path.read_text()
    # named like the circuit, the file loads without naming the template
    again = c.to_yaml(tmp_path / "composite.yaml")
    _assert_same_model(c, rb.load_template(again))


def test_text_is_written_as_data(tmp_path):
    """Descriptions, units and references that look like YAML numbers, booleans, comments or
    syntax come back as the same text; extreme defaults come back as the same numbers;
    template names that clash (and the file's own name) are kept apart."""
    tricky = ["1e-3", "on", "null", "a: b # c", "- [x]", "line\nbreak", "Á · ²", "'q\"",
              "2001-12-14", "&anchor *alias", "!!python/object:os.system"]
    op = Operator("m", ["d/dt * x = -x / tau + I", "y = x * 2"],
                  {"x": Variable("state", -0.0, unit=tricky[0], description=tricky[1]),
                   "I": Variable("input", 1e-300, unit=tricky[2]),
                   "y": Variable("variable", 0.0, description=tricky[3]),
                   "tau": Variable("parameter", 1e300, description=tricky[4]),
                   "big": Variable("parameter", float("inf"), description=tricky[5])},
                  description=tricky[6], reference=tricky[7])
    node = Node("m", [op], description=tricky[8])
    c = Circuit("m", {"p": node, "q": node.copy()}, [Edge("p.x", "q.I")],
                description=tricky[9], reference=tricky[10])
    path = c.to_yaml(tmp_path / "m.yaml")     # the stem names the circuit
    loaded = rb.load_template(path)
    _assert_same_model(c, loaded, coupling=("p.x", "p.I"))
    assert loaded.parameters["p.big"] == float("inf") and loaded.parameters["q.I"] == 1e-300
    assert loaded.variables["p.x"].unit == "1e-3" and loaded.description == tricky[9]
    ops = loaded.nodes["p"].operators
    assert next(iter(ops.values())).description == tricky[6]
    assert set(read_yaml(path)) == {"m", "m_2", "m_3"}
    # a file named like another template still loads the circuit
    other = c.to_yaml(tmp_path / "m_2.yaml")
    assert isinstance(rb.load_template(other), Circuit)


def test_equations_are_re_emitted_from_their_trees(tmp_path):
    op = Operator("e", ["dx/dt = -x/tau+I*( 2.0)"],
                  {"x": Variable("state"), "I": Variable("input"),
                   "tau": Variable("parameter", 1.0)})
    c = Circuit("e", {"n": Node("e", [op])})
    path = c.to_yaml(tmp_path / "e.yaml")
    assert read_yaml(path)["e_2"]["equations"] == ["d/dt * x = -x / tau + I * 2.0"]
    _assert_same_model(c, rb.load_template(path), coupling=("n.x", "n.I"))


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    jr = rb.load_template("jansen_rit")
    path = tmp_path / "jr.yaml"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="jr.yaml"):
        jr.to_yaml(path)
    assert path.read_text() == "keep me"
    jr.set_parameter("pc.u", 123.0)
    assert jr.to_yaml(str(path), overwrite=True) == path
    assert rb.load_template(path).parameters["pc.u"] == 123.0
    assert os.listdir(tmp_path) == ["jr.yaml"]          # no temporary file left behind
    with pytest.raises(ValueError, match="ends with .yaml or .yml"):
        jr.to_yaml(tmp_path / "jr.txt")
    with pytest.raises(IsADirectoryError):
        jr.to_yaml(tmp_path)
    with pytest.raises(TypeError, match="expected a Circuit"):
        rb.model.export.write_template(jr.nodes["pc"], tmp_path / "n.yaml")


def test_circuit_that_cannot_load_back_is_not_written(tmp_path):
    """Nodes of a sub-circuit moved apart by hand cannot be composed by a file: refused with
    the reason, and nothing is written."""
    c = _composite()
    c.nodes["a/m"] = c.nodes["a/n"].copy()         # after b's nodes
    with pytest.raises(ModelError, match="nodes of sub-circuit 'a' are not listed together") \
            as err:
        c.to_yaml(tmp_path / "bad.yaml")
    assert "'composite'" in str(err.value)
    # a composed edge name ("a/...") set by hand: a file cannot give it back
    c = _composite()
    c.edges[0].name = "a/ab"
    with pytest.raises(ModelError, match="loads back to the same model: its edge names"):
        c.to_yaml(tmp_path / "bad.yaml")
    assert not (tmp_path / "bad.yaml").exists() and os.listdir(tmp_path) == []


def test_yaml_writer_quotes_what_the_reader_would_change():
    """Scalars (keys too) that the reader would take for numbers, booleans, null, dates or
    syntax are quoted; the text reads back as equal data, without anchors."""
    shared = {"x": 1}
    data = {"1e-3": "1e-3", "on": ["-2e-4", ".5e3", "1_0e5", "yes", "~", "2001-12-14"],
            "s": "a: b # c\n- d", "n": [1e-300, -0.0, float("inf"), 3, True, None],
            "flow": FlowDict(u="1", v="{x}"), "a": shared, "b": shared}
    text = dumps_yaml(data, header="first\nsecond")
    assert text.startswith("# first\n# second\n\n")
    assert "&" not in text and "*" not in text
    assert loads_yaml(text) == data
