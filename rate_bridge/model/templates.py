"""The objects of the model language: variables, operators, nodes, edges and circuits.

An :class:`Operator` holds equations over its declared variables. A :class:`Node` (a population)
groups operators in one namespace: an operator's ``input`` is wired to the ``state``/``output``
of the same name in another operator of the node. An :class:`Edge` carries a source variable of
one node onto an ``input`` of another, with a weight and a delay, optionally through its own
operator (a synaptic kernel). A :class:`Circuit` composes nodes, edges and sub-circuits.

All objects are plain, inspectable and changeable Python objects; YAML files
(:mod:`rate_bridge.model.loader`) produce exactly the same objects.
"""
import copy

from .errors import ModelError
from .expressions import parse_equation

KINDS = ("state", "parameter", "input", "output", "variable")
TIME_UNITS = {"s": 1.0, "ms": 1e-3}


class Variable:
    """A declared variable.

    Parameters
    ----------
    kind : {"state", "parameter", "input", "output", "variable"}
        ``state``: defined by a differential equation, ``default`` is its initial value.
        ``parameter``: a constant, ``default`` is its value (changeable at run time).
        ``input``: the sum of what edges deliver, plus ``default`` as a constant baseline.
        ``output``: defined by an assignment and meant to drive an edge or another operator.
        ``variable``: an intermediate or observable defined by an assignment.
    default : float
        Initial value (state), value (parameter) or baseline (input).
    unit : str
        Unit, for display and results (e.g. ``"mV"``, ``"Hz"``).
    description : str
        Free text.
    noise : str | None
        For a state: the diffusion term multiplying white noise (``"sigma"`` for additive noise
        of amplitude sigma, ``"sigma * x"`` for multiplicative noise). ``None``: only noise
        requested at simulation time applies (additive).
    """

    __slots__ = ("kind", "default", "unit", "description", "noise")

    def __init__(self, kind, default=0.0, unit="", description="", noise=None):
        if kind not in KINDS:
            raise ModelError(f"variable kind must be one of {KINDS}, got {kind!r}")
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise ModelError(f"default must be a number, got {default!r}")
        self.kind, self.default, self.unit = kind, float(default), str(unit)
        self.description, self.noise = str(description), noise

    def copy(self, **changes):
        new = Variable(self.kind, self.default, self.unit, self.description, self.noise)
        for key, value in changes.items():
            setattr(new, key, value)
        return new

    def __repr__(self):
        unit = f" {self.unit}" if self.unit else ""
        return f"Variable({self.kind}, {self.default:g}{unit})"


class Operator:
    """Equations over declared variables.

    Parameters
    ----------
    name : str
        Template name.
    equations : list of str
        ``"d/dt * x = ..."`` (also ``"dx/dt = ..."``, ``"x' = ..."``) or ``"y = ..."``.
    variables : dict of str -> Variable
        Every symbol an equation reads or defines.
    time_unit : {"s", "ms"}
        Unit of time of the differential equations (converted to seconds at compile time).
    description, reference, file : str
        Documentation and provenance.
    """

    def __init__(self, name, equations, variables, *, time_unit="s", description="",
                 reference="", file=None):
        self.name = str(name)
        self.file = file
        if time_unit not in TIME_UNITS:
            raise ModelError(f"time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}",
                             file=file, template=name, field="time_unit")
        self.time_unit = time_unit
        self.description, self.reference = description, reference
        self.variables = {k: (v if isinstance(v, Variable) else Variable(**v))
                          for k, v in variables.items()}
        self.equations = [parse_equation(eq, file=file, template=self.name) for eq in equations]
        self.validate()

    def _ctx(self, **extra):
        return dict(file=self.file, template=self.name, **extra)

    def validate(self):
        """Check that every symbol is declared and every state/output has one definition."""
        defined = {}
        for eq in self.equations:
            ctx = self._ctx(equation=eq.text)
            var = self.variables.get(eq.lhs)
            if var is None:
                raise ModelError(f"{eq.lhs!r} is defined here but not declared in 'variables'",
                                 **ctx)
            want = "state" if eq.is_ode else ("output", "variable")
            if (eq.is_ode and var.kind != "state") or (not eq.is_ode and var.kind not in want):
                form = "a differential equation" if eq.is_ode else "an assignment"
                raise ModelError(f"{eq.lhs!r} is declared as {var.kind} but defined by {form}; "
                                 f"{form} defines a {'state' if eq.is_ode else 'output/variable'}",
                                 **ctx)
            if eq.lhs in defined:
                raise ModelError(f"{eq.lhs!r} is defined twice: {defined[eq.lhs]!r} and "
                                 f"{eq.text!r}", **ctx)
            defined[eq.lhs] = eq.text
            unknown = sorted(eq.rhs.symbols - set(self.variables))
            if unknown:
                raise ModelError(f"undeclared symbol(s) {unknown}; declare them in 'variables' "
                                 f"(known: {sorted(self.variables)})", **ctx)
        for name, var in self.variables.items():
            if var.kind in ("state", "output", "variable") and name not in defined:
                raise ModelError(f"{var.kind} {name!r} has no equation defining it",
                                 **self._ctx(field=f"variables.{name}"))
        return self

    # -- inspection and change -------------------------------------------------------------
    @property
    def parameters(self):
        return {k: v.default for k, v in self.variables.items() if v.kind == "parameter"}

    def copy(self):
        return copy.deepcopy(self)

    def renamed(self, mapping):
        """Return a copy with variables renamed (``{"old": "new"}``)."""
        unknown = sorted(set(mapping) - set(self.variables))
        if unknown:
            raise ModelError(f"cannot rename {unknown}: not variables of this operator "
                             f"(variables: {sorted(self.variables)})", **self._ctx(field="rename"))
        new = self.copy()
        new.variables = {mapping.get(k, k): v for k, v in self.variables.items()}
        new.equations = [eq.rename(mapping) for eq in self.equations]
        return new.validate()

    def with_defaults(self, values, field="params"):
        """Return a copy with new defaults (``{"name": value}``) for parameters, states, inputs."""
        new = self.copy()
        for key, value in values.items():
            if key not in new.variables:
                raise ModelError(f"{key!r} is not a variable of operator {self.name!r} "
                                 f"(variables: {sorted(new.variables)})",
                                 **self._ctx(field=f"{field}.{key}"))
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ModelError(f"value of {key!r} must be a number, got {value!r}",
                                 **self._ctx(field=f"{field}.{key}"))
            new.variables[key] = new.variables[key].copy(default=float(value))
        return new

    def __repr__(self):
        return f"<Operator {self.name!r} | {len(self.equations)} equations>"


class Node:
    """A population: operators sharing one namespace.

    Parameters
    ----------
    name : str
        Template name.
    operators : dict of str -> Operator
        Operators by label (an operator's label names it inside the node).
    """

    def __init__(self, name, operators, *, description="", file=None):
        self.name, self.description, self.file = str(name), description, file
        if not isinstance(operators, dict):
            operators = {op.name: op for op in operators}
        self.operators = dict(operators)
        self.validate()

    def validate(self):
        """Check that no two operators define the same variable or disagree on a parameter."""
        self.namespace()
        return self

    def namespace(self):
        """Variables of the node: ``{name: (Variable, operator label)}``.

        A name defined (state/output/variable) by one operator and read as ``input`` by another
        is one variable, defined by the first.
        """
        merged = {}
        for label, op in self.operators.items():
            for name, var in op.variables.items():
                if name not in merged:
                    merged[name] = (var, label)
                    continue
                other, other_label = merged[name]
                defines = var.kind in ("state", "output", "variable")
                other_defines = other.kind in ("state", "output", "variable")
                if defines and other_defines:
                    raise ModelError(f"{name!r} is defined by both operators {other_label!r} and "
                                     f"{label!r}; rename one of them", file=self.file,
                                     template=self.name, operator=label)
                if defines:
                    merged[name] = (var, label)
                elif var.kind != other.kind and not other_defines:
                    raise ModelError(f"{name!r} is a {other.kind} in operator {other_label!r} "
                                     f"but a {var.kind} in {label!r}", file=self.file,
                                     template=self.name, operator=label)
                elif var.kind == "parameter" and other.kind == "parameter" and \
                        var.default != other.default:
                    raise ModelError(f"parameter {name!r} has default {other.default} in "
                                     f"{other_label!r} but {var.default} in {label!r}; rename "
                                     "one of them or give both the same value",
                                     file=self.file, template=self.name, operator=label)
        return merged

    @property
    def variables(self):
        return {k: v for k, (v, _) in self.namespace().items()}

    @property
    def parameters(self):
        return {k: v.default for k, v in self.variables.items() if v.kind == "parameter"}

    @property
    def inputs(self):
        """Inputs not defined inside the node: they receive edges (and their baseline)."""
        return {k: v for k, v in self.variables.items() if v.kind == "input"}

    def set_default(self, name, value):
        """Set the default of a variable in every operator that declares it."""
        found = False
        for label, op in self.operators.items():
            if name in op.variables:
                self.operators[label] = op.with_defaults({name: value})
                found = True
        if not found:
            raise KeyError(f"node {self.name!r} has no variable {name!r} "
                           f"(variables: {sorted(self.variables)})")

    def copy(self):
        return copy.deepcopy(self)

    def __repr__(self):
        return f"<Node {self.name!r} | operators {list(self.operators)}>"


class Edge:
    """A connection from ``source`` (``"node.variable"``) onto the input ``target``.

    Parameters
    ----------
    source, target : str
        Qualified names ``"node.variable"``; ``target`` must be an ``input``.
    weight : float
        Multiplies what the edge carries.
    delay : float
        Transmission delay in seconds.
    name : str | None
        Name of the edge; its parameters are ``"<name>.weight"`` and ``"<name>.delay"``.
    operator : Operator | None
        A synaptic kernel with exactly one ``input`` (receives ``weight * source``) and one
        ``output`` (added to ``target``); its states are kept per edge.
    """

    def __init__(self, source, target, weight=1.0, delay=0.0, name=None, operator=None):
        for what, value in (("source", source), ("target", target)):
            if not isinstance(value, str) or value.count(".") != 1:
                raise ModelError(f"edge {what} must be 'node.variable', got {value!r}",
                                 field=what)
        for what, value in (("weight", weight), ("delay", delay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ModelError(f"edge {what} must be a number, got {value!r}", field=what)
        if delay < 0:
            raise ModelError(f"edge delay must be >= 0 s, got {delay}", field="delay")
        self.source, self.target = source, target
        self.weight, self.delay = float(weight), float(delay)
        self.name = name or f"{source.split('.')[0]}_to_{target.split('.')[0]}"
        self.operator = operator
        if operator is not None:
            kinds = [v.kind for v in operator.variables.values()]
            if kinds.count("input") != 1 or kinds.count("output") != 1:
                raise ModelError("an edge operator needs exactly one input and one output "
                                 f"variable, {operator.name!r} has {kinds.count('input')} and "
                                 f"{kinds.count('output')}", template=operator.name)

    def __repr__(self):
        extra = f", delay={self.delay:g} s" if self.delay else ""
        via = f" via {self.operator.name}" if self.operator else ""
        return f"Edge({self.source} -> {self.target}, weight={self.weight:g}{extra}{via})"


class Circuit:
    """Nodes and edges, possibly composed of sub-circuits.

    Parameters
    ----------
    name : str
    nodes : dict of str -> Node | Circuit
        Nodes by label. A sub-circuit's nodes are inlined as ``"<label>/<node>"``.
    edges : list of Edge
    description, reference, file : str

    Notes
    -----
    Qualified names are ``"node.variable"``: ``circuit.parameters["pc.u"]``.
    """

    def __init__(self, name, nodes, edges=(), *, description="", reference="", file=None):
        self.name, self.description, self.reference, self.file = (
            str(name), description, reference, file)
        self.nodes, self.edges = {}, []
        for label, node in nodes.items():
            if "." in label or "/" in label:
                raise ModelError(f"node label {label!r} must not contain '.' or '/'",
                                 file=file, template=name, field=f"nodes.{label}")
            if isinstance(node, Circuit):
                for sub_label, sub_node in node.nodes.items():
                    self.nodes[f"{label}/{sub_label}"] = sub_node.copy()
                for edge in node.edges:
                    new = copy.deepcopy(edge)
                    new.source, new.target = f"{label}/{edge.source}", f"{label}/{edge.target}"
                    new.name = f"{label}/{edge.name}"
                    self.edges.append(new)
            elif isinstance(node, Node):
                self.nodes[label] = node.copy()
            else:
                raise ModelError(f"node {label!r} must be a Node or Circuit, got "
                                 f"{type(node).__name__}", file=file, template=name)
        self.edges.extend(copy.deepcopy(list(edges)))
        self._dedupe_edge_names()
        self.validate()

    def _dedupe_edge_names(self):
        seen = {}
        for edge in self.edges:
            base = edge.name
            if base in seen:
                seen[base] += 1
                edge.name = f"{base}_{seen[base]}"
            else:
                seen[base] = 0
            if edge.name in self.nodes:
                edge.name = f"{edge.name}_edge"

    def _ctx(self, **extra):
        return dict(file=self.file, template=self.name, **extra)

    # -- validation ------------------------------------------------------------------------
    def resolve(self, qname, field=None):
        """Return ``(node_label, var_name, Variable)`` of a qualified name, or raise."""
        if not isinstance(qname, str) or "." not in qname:
            raise ModelError(f"expected 'node.variable', got {qname!r}", **self._ctx(field=field))
        label, var = qname.rsplit(".", 1)
        if label not in self.nodes:
            raise ModelError(f"unknown node {label!r} in {qname!r}; nodes: {list(self.nodes)}",
                             **self._ctx(field=field))
        variables = self.nodes[label].variables
        if var not in variables:
            raise ModelError(f"node {label!r} has no variable {var!r}; it has "
                             f"{sorted(variables)}", **self._ctx(field=field))
        return label, var, variables[var]

    def validate(self, extra_sources=()):
        """Check edges and wiring.

        Parameters
        ----------
        extra_sources : iterable of str
            Qualified names driven from outside the circuit (e.g. network coupling), which count
            as uses of an output.
        """
        used = set(extra_sources)
        for i, edge in enumerate(self.edges):
            _, _, src = self.resolve(edge.source, field=f"edges[{i}].source")
            _, _, tgt = self.resolve(edge.target, field=f"edges[{i}].target")
            if src.kind in ("parameter",):
                raise ModelError(f"edge source {edge.source!r} is a parameter; an edge carries a "
                                 "state, output, variable or input", **self._ctx(field=f"edges[{i}]"))
            if tgt.kind != "input":
                raise ModelError(f"edge target {edge.target!r} is a {tgt.kind}; an edge can "
                                 "only drive an input", **self._ctx(field=f"edges[{i}].target"))
            used.add(edge.source)
        for label, node in self.nodes.items():
            ns = node.namespace()
            consumed = {name for op in node.operators.values()
                        for name, v in op.variables.items() if v.kind == "input"}
            for name, (var, op_label) in ns.items():
                if var.kind == "output" and name not in consumed and f"{label}.{name}" not in used:
                    raise ModelError(f"output {label}.{name} is wired to nothing: no edge "
                                     "leaves it and no operator of the node reads it; wire it, "
                                     "or declare it as kind 'variable' if it is only observed",
                                     **self._ctx(operator=op_label))
        return self

    # -- inspection ------------------------------------------------------------------------
    def _collect(self, kinds):
        out = {}
        for label, node in self.nodes.items():
            for name, var in node.variables.items():
                if var.kind in kinds:
                    out[f"{label}.{name}"] = var
        return out

    @property
    def variables(self):
        """All variables by qualified name: ``{"pc.v": Variable(...), ...}``."""
        return self._collect(KINDS)

    @property
    def parameters(self):
        """Parameter values by qualified name, including input baselines and edge weights/delays.

        Keys are ``"node.parameter"``, ``"node.input"`` (the input's constant baseline) and
        ``"<edge>.weight"`` / ``"<edge>.delay"`` (delay in s).
        """
        out = {k: v.default for k, v in self._collect(("parameter", "input")).items()}
        for edge in self.edges:
            out[f"{edge.name}.weight"] = edge.weight
            out[f"{edge.name}.delay"] = edge.delay
        return out

    @property
    def units(self):
        return {k: v.unit for k, v in self.variables.items()}

    @property
    def state_variables(self):
        """State variables by qualified name with their initial values and units."""
        return self._collect(("state",))

    @property
    def operators(self):
        """``{"node/operator_label": Operator}`` for every operator of every node."""
        return {f"{label}/{op_label}": op for label, node in self.nodes.items()
                for op_label, op in node.operators.items()}

    @property
    def equations(self):
        """``{"node": [equation text, ...]}``."""
        return {label: [eq.text for op in node.operators.values() for eq in op.equations]
                for label, node in self.nodes.items()}

    def describe(self):
        """A readable summary: nodes, operators, equations, variables with units, edges."""
        lines = [f"Circuit {self.name!r}" + (f" — {self.reference}" if self.reference else "")]
        for label, node in self.nodes.items():
            lines.append(f"  node {label} ({node.name})")
            for op_label, op in node.operators.items():
                lines.append(f"    operator {op_label} ({op.name}, time in {op.time_unit})")
                lines.extend(f"      {eq.text}" for eq in op.equations)
            for name, var in node.variables.items():
                lines.append(f"      {var.kind:9s} {label}.{name} = {var.default:g} {var.unit}")
        for edge in self.edges:
            lines.append(f"  edge {edge.name}: {edge!r}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"<Circuit {self.name!r} | nodes {list(self.nodes)}, {len(self.edges)} edges, "
                f"{len(self.state_variables)} states>")

    # -- change ----------------------------------------------------------------------------
    def copy(self):
        return copy.deepcopy(self)

    def set_parameter(self, name, value, nodes=None):
        """Set a parameter, initial state or input baseline.

        Parameters
        ----------
        name : str
            ``"node.var"`` or ``"<edge>.weight"``/``"<edge>.delay"``; or a bare variable name to
            set it in every node that has it (restricted to ``nodes`` if given).
        value : float
        nodes : list of str | None
            With a bare name, the nodes to change.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"value of {name!r} must be a number, got {value!r}")
        if "." in name:
            head, tail = name.rsplit(".", 1)
            edge = next((e for e in self.edges if e.name == head), None)
            if edge is not None and tail in ("weight", "delay"):
                if tail == "delay" and value < 0:
                    raise ValueError(f"{name} must be >= 0 s, got {value}")
                setattr(edge, tail, float(value))
                return self
            label, var, _ = self.resolve(name)
            self.nodes[label].set_default(var, value)
            return self
        targets = nodes or [lab for lab, n in self.nodes.items() if name in n.variables]
        if not targets:
            raise KeyError(f"no node has a variable {name!r}")
        for label in targets:
            self.nodes[label].set_default(name, value)
        return self

    def set_parameters(self, values):
        """Set several parameters: ``{"pc.u": 150.0, ...}``."""
        for key, value in values.items():
            self.set_parameter(key, value)
        return self

    def replace_operator(self, node, label, operator):
        """Swap the operator ``label`` of ``node`` for another :class:`Operator`."""
        if node not in self.nodes:
            raise KeyError(f"unknown node {node!r}; nodes: {list(self.nodes)}")
        target = self.nodes[node]
        if label not in target.operators:
            raise KeyError(f"node {node!r} has no operator {label!r}; "
                           f"operators: {list(target.operators)}")
        old = target.operators[label]
        target.operators[label] = operator.copy()
        try:
            target.validate()
            self.validate()
        except ModelError:
            target.operators[label] = old
            raise
        return self

    def show_code(self, integrator="heun"):
        """The generated kernel source of this circuit run as one region."""
        return self.to_network().show_code(integrator)

    def to_network(self):
        """This circuit as a one-region :class:`~rate_bridge.Network`."""
        from ..network import Network
        return Network.from_circuit(self)
