"""The model language: YAML templates, inheritance, references, inspection, precise errors.

Simulations run conftest.py's oscillator with rk4, the Jansen-Rit circuit with heun, and one
composite circuit (sub-circuits joined by an edge operator) with rk4."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import rate_bridge as rb
from rate_bridge.model import Circuit, Edge, ModelError, Node, Operator, Variable

DECAY = """
decay_op:
  kind: operator
  equations: ["d/dt * x = -x / tau + I"]
  variables:
    x: {kind: state, default: 1.0, unit: mV}
    I: {kind: input, default: 0.0}
    tau: {kind: parameter, default: 0.01, unit: s}
decay_node:
  kind: node
  operators: [decay_op]
decay:
  kind: circuit
  nodes: {n: decay_node}
"""

# conftest.py's oscillator (the same structure, hence the same kernel), and an undamped one
OSC = """
osc_op:
  kind: operator
  equations: ["d/dt * x = v", "d/dt * v = -w**2 * x - 2 * z * w * v"]
  variables:
    x: {kind: state, default: 1.0, unit: mm}
    v: {kind: state, default: 0.0, unit: mm/s}
    w: {kind: parameter, default: 20.0, unit: rad/s}
    z: {kind: parameter, default: 0.1}
spring_op:
  kind: operator
  equations: ["d/dt * x = v", "d/dt * v = -w**2 * x"]
  variables: {x: {kind: state, default: 1.0}, v: state, w: {kind: parameter, default: 20.0}}
osc_node: {kind: node, operators: [osc_op]}
spring_node: {kind: node, operators: [spring_op]}
osc: {kind: circuit, nodes: {n: osc_node}}
spring: {kind: circuit, nodes: {n: spring_node}}
"""


def test_library_templates_load_and_are_inspectable():
    jr = rb.load_template("jansen_rit")
    assert isinstance(jr, Circuit)
    assert jr.parameters["pc.u"] == 220.0
    assert jr.parameters["pc_to_ein.weight"] == 135.0
    assert jr.variables["pc.v"].unit == "mV"
    assert set(jr.nodes) == {"pc", "ein", "iin"}
    assert len(jr.state_variables) == 8
    assert "pc/sigmoid" in jr.operators
    assert any("exp" in eq for eq in jr.equations["pc"])
    assert "node pc" in jr.describe()
    for name in rb.model.library_templates():
        assert isinstance(rb.load_template(name), Circuit)


def test_generated_code_can_be_printed():
    code = rb.Network.from_circuit("jansen_rit").show_code("rk4")
    assert "def _stage(" in code and "_fexp(" in code and "rk4" in code
    compile(code, "<kernel>", "exec")            # valid Python


def test_loaded_templates_are_fresh_copies():
    a = rb.load_template("jansen_rit")
    a.set_parameter("pc.u", 100.0)
    assert rb.load_template("jansen_rit").parameters["pc.u"] == 220.0


def test_set_parameter_one_node_or_all_and_edges():
    jr = rb.load_template("jansen_rit")
    jr.set_parameter("e0", 3.0)                      # every node that has e0
    assert all(jr.parameters[f"{n}.e0"] == 3.0 for n in ("pc", "ein", "iin"))
    jr.set_parameter("e0", 2.0, nodes=["ein"])
    assert jr.parameters["ein.e0"] == 2.0 and jr.parameters["pc.e0"] == 3.0
    jr.set_parameter("pc_to_ein.weight", 100.0)
    assert jr.edges[0].weight == 100.0
    with pytest.raises(ModelError, match="no variable 'nope'"):
        jr.set_parameter("pc.nope", 1.0)
    with pytest.raises(TypeError, match="must be a number"):
        jr.set_parameter("pc.u", "high")


def test_inheritance_overrides_and_references_across_files(write_yaml):
    write_yaml(DECAY, "base.yaml")
    child = write_yaml("""
fast_op:
  base: base.yaml:decay_op
  params: {tau: 0.001}
fast_node:
  kind: node
  operators: {decay: fast_op}
fast:
  base: base.yaml:decay
  nodes: {n: fast_node}
  params: {n.x: 2.0}
""", "child.yaml")
    c = rb.load_template(f"{child}:fast")
    assert c.parameters["n.tau"] == 0.001
    assert c.state_variables["n.x"].default == 2.0
    # library templates are reachable from a user file by name
    lib = write_yaml("""
my_jr:
  base: jansen_rit
  params: {pc.u: 150.0}
""", "lib.yaml")
    assert rb.load_template(f"{lib}:my_jr").parameters["pc.u"] == 150.0
    assert rb.load_template(str(lib)).parameters["pc.u"] == 150.0   # one template in the file


def test_python_objects_equal_yaml_templates(write_yaml, oscillator_exact):
    op = Operator("osc_op", ["d/dt * x = v", "d/dt * v = -w**2 * x - 2 * z * w * v"],
                  {"x": Variable("state", 1.0, "mm"), "v": Variable("state", 0.0, "mm/s"),
                   "w": Variable("parameter", 20.0, "rad/s"), "z": Variable("parameter", 0.1)})
    py = Circuit("osc", {"n": Node("osc_node", [op])})
    yml = rb.load_template(f"{write_yaml(OSC)}:osc")
    assert py.parameters == yml.parameters == {"n.w": 20.0, "n.z": 0.1}
    assert py.equations == yml.equations
    assert [v.unit for v in py.variables.values()] == [v.unit for v in yml.variables.values()]
    assert yml.variables["n.w"].unit == "rad/s"
    r1 = rb.simulate(py, 0.5, 1e-4, integrator="rk4", record=["n.x"])
    r2 = rb.simulate(yml, 0.5, 1e-4, integrator="rk4", record=["n.x"])
    np.testing.assert_array_equal(r1["n.x"], r2["n.x"])
    np.testing.assert_allclose(r1["n.x"][:, 0], oscillator_exact(r1.time), atol=1e-9)


def test_replace_operator_changes_the_model(write_yaml, oscillator_exact):
    c = rb.load_template(f"{write_yaml(OSC)}:spring")                # undamped
    damped = Operator("osc_op", ["d/dt * x = v", "d/dt * v = -w**2 * x - 2 * z * w * v"],
                      {"x": Variable("state", 1.0), "v": Variable("state", 0.0),
                       "w": Variable("parameter", 20.0), "z": Variable("parameter", 0.1)})
    c.replace_operator("n", "spring_op", damped)
    assert c.parameters == {"n.w": 20.0, "n.z": 0.1}
    res = rb.simulate(c, 0.5, 1e-4, integrator="rk4", record=["n.x"])
    np.testing.assert_allclose(res["n.x"][:, 0], oscillator_exact(res.time), atol=1e-9)
    bad = Operator("bad", ["d/dt * y = 1"], {"y": Variable("state")})
    with pytest.raises(KeyError, match="no operator"):
        c.replace_operator("n", "missing", bad)


@pytest.fixture(scope="module")
def composite():
    """Two sub-circuits ``a`` and ``b``, each a leaky node ``dx/dt = (-x + I) / tau``, joined
    by an edge through its own operator, a first-order synapse ``ds/dt = (inp - s) / tau_s``
    with inp = weight * a's x and b's I = s: one structure (and kernel) for the tests of
    sub-circuits and of edge operators."""
    unit = Circuit("unit", {"n": Node("n", [Operator(
        "leak", ["d/dt * x = (-x + I) / tau"], {"x": Variable("state", 1.0),
                                                 "I": Variable("input"),
                                                 "tau": Variable("parameter", 0.01)})])})
    syn = Operator("syn", ["d/dt * s = (inp - s) / tau_s", "out = s"],
                   {"s": Variable("state"), "inp": Variable("input"), "out": Variable("output"),
                    "tau_s": Variable("parameter", 0.01)})
    return Circuit("composite", {"a": unit, "b": unit},
                   [Edge("a/n.x", "b/n.I", weight=2.0, operator=syn, name="ab")])


def _composite_exact(t, tau_a=0.01, tau_b=0.01, tau_s=0.01, w=2.0, x0=(1.0, 1.0)):
    """(a's x, s, b's x) of the composite circuit: a linear system, exp(A t) y0."""
    A = np.array([[-1 / tau_a, 0, 0], [w / tau_s, -1 / tau_s, 0], [0, 1 / tau_b, -1 / tau_b]])
    y0 = np.array([x0[0], 0.0, x0[1]])
    return np.array([expm(A * tk) @ y0 for tk in t])


def test_a_circuits_internal_delay_matches_solve_ivp(composite):
    """The edge inside the composite circuit, delayed by d: the synapse sees a's x d earlier
    (a's initial value before t = 0), against solve_ivp. A batch member without the delay
    buffers only the couplings' rows of a carry sized for the batch: the exact solution."""
    runs = rb.simulate(composite, 0.03, 1e-5, integrator="rk4", record=["b/n.x"],
                       params=[{"ab.delay": 0.004}, {}], sampling_rate=1e4)

    def rhs(t, y):                          # s and b's x, driven by a's delayed x
        xa = 1.0 if t < 0.004 else np.exp(-(t - 0.004) / 0.01)
        return [(2.0 * xa - y[0]) / 0.01, (y[0] - y[1]) / 0.01]
    t = runs[0].time
    delayed = solve_ivp(rhs, (0, t[-1]), [0.0, 1.0], t_eval=t, rtol=1e-10, atol=1e-12,
                        max_step=1e-4).y[1]
    np.testing.assert_allclose(runs[0]["b/n.x"][:, 0], delayed, atol=2e-5)
    np.testing.assert_allclose(runs[1]["b/n.x"][:, 0], _composite_exact(t)[:, 2], rtol=1e-9,
                               atol=1e-12)
    assert np.abs(runs[0]["b/n.x"] - runs[1]["b/n.x"]).max() > 0.1


def test_edge_operator_synaptic_kernel(composite):
    """An edge through its own operator (first-order synapse) delivers the filtered source."""
    net = rb.Network.from_circuit(composite)
    assert net.parameters["ab.tau_s"] == 0.01 and net.parameters["ab.weight"] == 2.0
    assert "ab.s" in net.initial_state                   # the synapse's own state
    res = rb.simulate(net, 0.05, 1e-5, integrator="rk4", record=["a/n.x", "ab.s", "b/n.x"],
                      params={"ab.tau_s": 0.004}, sampling_rate=1e4)
    exact = _composite_exact(res.time, tau_s=0.004)
    for k, name in enumerate(["a/n.x", "ab.s", "b/n.x"]):
        np.testing.assert_allclose(res[name][:, 0], exact[:, k], rtol=1e-9, atol=1e-12)
    # the circuit itself lists and sets the edge operator's parameters
    assert composite.parameters["ab.tau_s"] == 0.01
    changed = composite.copy().set_parameter("ab.tau_s", 0.004)
    assert changed.parameters["ab.tau_s"] == 0.004 and composite.parameters["ab.tau_s"] == 0.01
    again = rb.simulate(changed, 0.05, 1e-5, integrator="rk4", record=["ab.s"],
                        sampling_rate=1e4)
    np.testing.assert_array_equal(again["ab.s"], res["ab.s"])


# -- errors a user can act on ------------------------------------------------------------------
def test_unknown_template():
    with pytest.raises(ModelError, match="unknown template 'jansen_ritt'"):
        rb.load_template("jansen_ritt")


def test_yaml_syntax_error_names_file_and_line(write_yaml):
    path = write_yaml("a:\n  kind: operator\n  equations: [\n    - broken\n")
    with pytest.raises(ModelError, match=r"YAML syntax error at line \d+") as err:
        rb.load_template(f"{path}:a")
    assert str(path) in str(err.value)


def test_undeclared_symbol_names_file_template_and_equation(write_yaml):
    path = write_yaml("""
op:
  kind: operator
  equations: ["d/dt * x = -x / tau + foo"]
  variables: {x: state, tau: 1.0}
""")
    with pytest.raises(ModelError, match=r"undeclared symbol\(s\) \['foo'\]") as err:
        rb.load_template(f"{path}:op")
    msg = str(err.value)
    assert str(path) in msg and "'op'" in msg and "d/dt * x = -x / tau + foo" in msg


def test_forbidden_code_in_a_model_file_is_refused(write_yaml):
    path = write_yaml("""
op:
  kind: operator
  equations: ["d/dt * x = __import__('os').getpid()"]
  variables: {x: state}
""")
    with pytest.raises(ModelError, match="__import__"):
        rb.load_template(f"{path}:op")


def test_circular_inheritance(write_yaml):
    path = write_yaml("a: {base: b}\nb: {base: a}\n")
    with pytest.raises(ModelError, match="circular inheritance: a -> b -> a"):
        rb.load_template(f"{path}:a")


def test_wrong_type_and_unknown_field(write_yaml):
    path = write_yaml("""
op:
  kind: operator
  equations: ["d/dt * x = -x / tau"]
  variables: {x: state, tau: {kind: parameter, default: fast}}
op2:
  kind: operator
  equation: ["d/dt * x = -x"]
""")
    with pytest.raises(ModelError, match="default must be a number") as err:
        rb.load_template(f"{path}:op")
    assert "variables.tau" in str(err.value)
    with pytest.raises(ModelError, match=r"unknown field\(s\) \['equation'\]"):
        rb.load_template(f"{path}:op2")


def test_missing_parameter_in_override(write_yaml):
    path = write_yaml(DECAY + """
bad:
  base: decay
  params: {n.gain: 2.0}
""")
    with pytest.raises(ModelError, match="no variable 'gain'") as err:
        rb.load_template(f"{path}:bad")
    assert "params.n.gain" in str(err.value)


def test_output_wired_to_nothing(write_yaml):
    path = write_yaml("""
op:
  kind: operator
  equations: ["d/dt * x = -x", "y = 2 * x"]
  variables: {x: state, y: output}
nd: {kind: node, operators: [op]}
c: {kind: circuit, nodes: {n: nd}}
""")
    with pytest.raises(ModelError, match="output n.y is wired to nothing"):
        rb.load_template(f"{path}:c")


def test_state_without_equation_and_edge_into_a_state(write_yaml):
    path = write_yaml("""
op:
  kind: operator
  equations: ["d/dt * x = -x"]
  variables: {x: state, z: state}
""")
    with pytest.raises(ModelError, match="state 'z' has no equation"):
        rb.load_template(f"{path}:op")
    with pytest.raises(ModelError, match="can only drive an input"):
        jr = rb.load_template("jansen_rit")
        Circuit("x", jr.nodes, [Edge("pc.m_out", "ein.psp")])


def test_algebraic_loop_is_refused():
    op = Operator("loop", ["a = b + 1", "b = a * 2", "d/dt * x = a"],
                  {"a": Variable("variable"), "b": Variable("variable"), "x": Variable("state")})
    with pytest.raises(ModelError, match="algebraic loop"):
        rb.simulate(Circuit("c", {"n": Node("n", [op])}), 0.01, 1e-3)


def test_sub_circuits_compose_with_prefixed_names(composite):
    jr = rb.load_template("jansen_rit")
    two = Circuit("two_columns", {"a": jr, "b": jr},
                  [Edge("a/pc.m_out", "b/pc.m_in_e", weight=0.0, delay=0.01, name="a_to_b")])
    assert "a/pc.u" in two.parameters and "a/pc_to_ein.weight" in two.parameters
    assert two.parameters["a_to_b.delay"] == 0.01
    two.set_parameter("b/pc.u", 150.0)
    assert two.parameters["b/pc.u"] == 150.0 and two.parameters["a/pc.u"] == 220.0
    # each prefixed name reaches its own sub-circuit: b's own time constant and initial state
    c = composite.copy()
    c.set_parameter("b/n.tau", 0.02)
    assert c.parameters["a/n.tau"] == 0.01 and composite.parameters["b/n.tau"] == 0.01
    res = rb.simulate(c, 0.05, 1e-5, integrator="rk4", record=["a/n.x", "b/n.x"],
                      initial_state={"b/n.x": -0.5}, sampling_rate=1e4)
    exact = _composite_exact(res.time, tau_b=0.02, x0=(1.0, -0.5))
    np.testing.assert_allclose(res["a/n.x"][:, 0], exact[:, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res["b/n.x"][:, 0], exact[:, 2], rtol=1e-9, atol=1e-12)
    with pytest.raises(ModelError, match="node label 'a.b' is not a valid name"):
        Circuit("bad", {"a.b": jr})
