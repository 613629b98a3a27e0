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
import keyword
import math
import reprlib

from ..utils import UnknownNameError, check_option, validate_type
from .errors import ModelError, UnknownModelNameError
from .coupling import COUPLING_FUNCTIONS, parse_coupling
from .expressions import CONSTANTS, FUNCTIONS, parse_equation, parse_expression
from .observables import parse_signal

KINDS = ("state", "parameter", "input", "output", "variable")
TIME_UNITS = {"s": 1.0, "ms": 1e-3}
#: Longest name (template, variable, label, edge) and longest free text (description, unit).
MAX_NAME_LENGTH = 128
MAX_TEXT_LENGTH = 10_000
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def check_name(name, what, **context):
    """Return ``name`` if it may name something of a model, else raise :class:`ModelError`.

    Names reach generated kernel source, so they must be plain ASCII identifiers: not a Python
    keyword, not starting with ``__``, at most :data:`MAX_NAME_LENGTH` characters.

    Parameters
    ----------
    name : object
        The name to check.
    what : str
        What it names, for the message (``"variable name"``, ``"node label"``...).
    **context
        ``file``, ``template``, ``field``... for the message.
    """
    if isinstance(name, str) and name.isascii() and name.isidentifier() and \
            not keyword.iskeyword(name) and not name.startswith("__") and \
            len(name) <= MAX_NAME_LENGTH:
        return name
    raise ModelError(f"{what} {_REPR.repr(name)} is not a valid name: use ASCII letters, digits "
                     "and '_' (not first a digit, not starting with '__', not a Python keyword, "
                     f"at most {MAX_NAME_LENGTH} characters)", **context)


def _check_variable_name(name, **context):
    check_name(name, "variable name", **context)
    if name in FUNCTIONS or name in CONSTANTS:
        what = "function" if name in FUNCTIONS else "constant"
        raise ModelError(f"variable name {name!r} is the name of the {what} {name!r} of the "
                         "equation language; rename the variable", **context)
    return name


def _check_path(name, what, **context):
    """Names composed by the library (``"col1/pc"``): every ``/``-separated part is a name."""
    if not isinstance(name, str) or "/" not in name:
        return check_name(name, what, **context)
    for part in name.split("/"):
        check_name(part, f"{what} {_REPR.repr(name)}: part", **context)
    return name


def _text(value, what, **context):
    """Free text (description, unit, reference): a string of bounded length (None: empty)."""
    if value is None:
        return ""
    validate_type(value, str, what, "text (a string)", error=ModelError, **context)
    if len(value) > MAX_TEXT_LENGTH:
        raise ModelError(f"{what} is {len(value)} characters long; at most {MAX_TEXT_LENGTH} "
                         "are allowed", **context)
    return value


def _number(value, what, **context):
    """A finite-or-infinite real number as float; booleans, non-numbers and NaN refused."""
    validate_type(value, "numeric", what, error=ModelError, **context)
    try:
        value = float(value)
    except OverflowError:
        raise ModelError(f"{what} is too large for a float: {_REPR.repr(value)}",
                         **context) from None
    if math.isnan(value):
        raise ModelError(f"{what} must be a number, got NaN", **context)
    return value


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
        check_option("variable kind", kind, KINDS, error=ModelError)
        self.kind, self.default = kind, _number(default, "default")
        self.unit, self.description = _text(unit, "unit"), _text(description, "description")
        if noise is not None:
            # checked now (syntax, allowed functions); its symbols are checked when compiled
            parse_expression(noise, field="noise")
        self.noise = noise

    def copy(self, **changes):
        new = Variable.__new__(Variable)      # already checked: no second parse of the noise
        for key in self.__slots__:
            setattr(new, key, getattr(self, key))
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
        self.name = check_name(name, "operator name", file=file, template=name)
        self.file = file
        ctx = self._ctx()
        check_option("time_unit", time_unit, sorted(TIME_UNITS), error=ModelError,
                     field="time_unit", **ctx)
        self.time_unit = time_unit
        self.description = _text(description, "description", field="description", **ctx)
        self.reference = _text(reference, "reference", field="reference", **ctx)
        validate_type(variables, dict, "variables", "a dict name -> Variable",
                      error=ModelError, field="variables", **ctx)
        validate_type(equations, (list, tuple), "equations", "a list of strings",
                      error=ModelError, field="equations", **ctx)
        self.variables = {k: (v if isinstance(v, Variable) else Variable(**v))
                          for k, v in variables.items()}
        self.equations = [parse_equation(eq, **ctx) for eq in equations]
        self.validate()

    def _ctx(self, **extra):
        return dict(file=self.file, template=self.name, **extra)

    def validate(self):
        """Check names, that every symbol is declared and every state/output has one definition."""
        self._check_names()
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

    def _check_names(self):
        check_name(self.name, "operator name", **self._ctx())
        for name in self.variables:
            _check_variable_name(name, **self._ctx(field="variables"))

    # -- inspection and change -------------------------------------------------------------
    @property
    def parameters(self):
        return {k: v.default for k, v in self.variables.items() if v.kind == "parameter"}

    def copy(self):
        return copy.deepcopy(self)

    def renamed(self, mapping):
        """Return a copy with variables renamed (``{"old": "new"}``)."""
        if not isinstance(mapping, dict):
            raise ModelError(f"rename must be a mapping old -> new, got "
                             f"{type(mapping).__name__}", **self._ctx(field="rename"))
        for new_name in mapping.values():
            _check_variable_name(new_name, **self._ctx(field="rename"))
        unknown = sorted(set(mapping) - set(self.variables), key=str)
        if unknown:
            raise UnknownModelNameError(f"cannot rename {unknown}: not variables of this "
                                        f"operator (variables: {sorted(self.variables)})",
                                        **self._ctx(field="rename"))
        new = self.copy()
        new.variables = {mapping.get(k, k): v for k, v in self.variables.items()}
        if len(new.variables) < len(self.variables):
            names = [mapping.get(k, k) for k in self.variables]
            clash = sorted({n for n in names if names.count(n) > 1})
            raise ModelError(f"rename gives several variables the same name {clash}",
                             **self._ctx(field="rename"))
        new.equations = [eq.rename(mapping) for eq in self.equations]
        return new.validate()

    def with_defaults(self, values, field="params"):
        """Return a copy with new defaults (``{"name": value}``) for parameters, states, inputs."""
        new = self.copy()
        for key, value in values.items():
            if key not in new.variables:
                raise UnknownModelNameError(f"{key!r} is not a variable of operator "
                                            f"{self.name!r} (variables: "
                                            f"{sorted(new.variables)})",
                                            **self._ctx(field=f"{field}.{key}"))
            value = _number(value, f"value of {key!r}", **self._ctx(field=f"{field}.{key}"))
            new.variables[key] = new.variables[key].copy(default=value)
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
        self.name = check_name(name, "node name", file=file, template=name)
        self.file = file
        self.description = _text(description, "description", file=file, template=name,
                                 field="description")
        if not isinstance(operators, dict):
            operators = {op.name: op for op in operators}
        for label, op in operators.items():
            if not isinstance(op, Operator):
                raise ModelError(f"operator {_REPR.repr(label)} must be an Operator, got "
                                 f"{type(op).__name__}", file=file, template=name,
                                 field="operators")
        self.operators = dict(operators)
        self.validate()

    def validate(self):
        """Check names, and that no two operators define the same variable or disagree on a
        parameter."""
        self._check_names()
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

    def _check_names(self):
        check_name(self.name, "node name", file=self.file, template=self.name)
        for label, op in self.operators.items():
            check_name(label, "operator label", file=self.file, template=self.name,
                       field="operators")
            op._check_names()

    def set_default(self, name, value):
        """Set the default of a variable in every operator that declares it."""
        found = False
        for label, op in self.operators.items():
            if name in op.variables:
                self.operators[label] = op.with_defaults({name: value})
                found = True
        if not found:
            raise UnknownNameError(f"node {self.name!r} has no variable {name!r} "
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
                raise ModelError(f"edge {what} must be 'node.variable', got "
                                 f"{_REPR.repr(value)}", field=what)
            node, var = value.split(".")
            _check_path(node, f"edge {what} node", field=what)
            check_name(var, f"edge {what} variable", field=what)
        weight, delay = _number(weight, "edge weight", field="weight"), \
            _number(delay, "edge delay", field="delay")
        if not math.isfinite(weight):
            raise ModelError(f"edge weight must be finite, got {weight}", field="weight")
        if not 0 <= delay < math.inf:
            raise ModelError(f"edge delay must be a finite number >= 0 s, got {delay}",
                             field="delay")
        if name is not None:
            check_name(name, "edge name", field="name")
        if operator is not None and not isinstance(operator, Operator):
            raise ModelError(f"an edge operator must be an Operator, got "
                             f"{type(operator).__name__}", field="operator")
        self.source, self.target = source, target
        self.weight, self.delay = weight, delay
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
    coupling : dict | list of dict | None
        The coupling the circuit is meant to be networked with, used by
        :meth:`~rate_bridge.Network.from_connectome` when no coupling is given:
        ``{"source": "node.variable", "target": "node.input", "function": name or expression
        in x_j, x_i (default "linear"), "params": {...}, "reference": text}`` (see
        :mod:`~rate_bridge.model.coupling`), or a list of them when regions couple through
        several variables (e.g. both coordinates of an oscillator).
    observables : dict | None
        What measurements see of the circuit, by kind (:data:`OBSERVABLES`):
        ``{"eeg_meg": {"signal": ..., "unit": ..., "moment_scale": A·m per unit, "reference":
        ...}, "bold": {"signal": ..., "reference": ...}}``. A signal is a qualified variable, a
        mapping ``{variable: coefficient}`` or an expression over variables
        (:mod:`~rate_bridge.model.observables`). Results carry them in their provenance; forward
        models take their default signal and moment scale from ``eeg_meg``.

    Notes
    -----
    Qualified names are ``"node.variable"``: ``circuit.parameters["pc.u"]``. Couplings and
    observables are checked against the circuit's variables and stored as plain dicts: the
    list ``couplings`` (``coupling`` is its first entry, or None) and ``observables``; a
    sub-circuit's own declarations are not inherited.
    """

    def __init__(self, name, nodes, edges=(), *, description="", reference="", file=None,
                 coupling=None, observables=None):
        self.name = check_name(name, "circuit name", file=file, template=name)
        self.file = file
        self.description = _text(description, "description", **self._ctx(field="description"))
        self.reference = _text(reference, "reference", **self._ctx(field="reference"))
        if not isinstance(nodes, dict):
            raise ModelError(f"nodes must be a dict label -> Node | Circuit, got "
                             f"{type(nodes).__name__}", **self._ctx(field="nodes"))
        self.nodes, self.edges = {}, []
        for label, node in nodes.items():
            check_name(label, "node label", **self._ctx(field="nodes"))
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
        for i, edge in enumerate(edges):
            if not isinstance(edge, Edge):
                raise ModelError(f"an edge must be an Edge, got {type(edge).__name__}",
                                 **self._ctx(field=f"edges[{i}]"))
        self.edges.extend(copy.deepcopy(list(edges)))
        self._dedupe_edge_names()
        self.couplings = _check_couplings(self, coupling)
        self.observables = _check_observables(self, observables)
        self.validate()

    @property
    def coupling(self):
        """The first declared coupling (a dict), or None; all of them: :attr:`couplings`."""
        return self.couplings[0] if self.couplings else None

    @coupling.setter
    def coupling(self, spec):
        self.couplings = [] if spec is None else [spec]

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
            raise UnknownModelNameError(f"unknown node {label!r} in {qname!r}; nodes: "
                                        f"{list(self.nodes)}", **self._ctx(field=field))
        variables = self.nodes[label].variables
        if var not in variables:
            raise UnknownModelNameError(f"node {label!r} has no variable {var!r}; it has "
                                        f"{sorted(variables)}", **self._ctx(field=field))
        return label, var, variables[var]

    def _check_names(self):
        # again here (not only in the constructors): flatten() validates what reaches code,
        # even after attributes were changed by hand
        check_name(self.name, "circuit name", **self._ctx())
        for label, node in self.nodes.items():
            _check_path(label, "node label", **self._ctx(field="nodes"))
            node._check_names()
        for i, edge in enumerate(self.edges):
            _check_path(edge.name, "edge name", **self._ctx(field=f"edges[{i}].name"))
            if edge.operator is not None:
                edge.operator._check_names()

    def validate(self, extra_sources=()):
        """Check names, edges and wiring.

        Parameters
        ----------
        extra_sources : iterable of str
            Qualified names driven from outside the circuit (e.g. network coupling), which count
            as uses of an output.
        """
        self._check_names()
        # declarations changed by hand are checked again, as names are
        couplings = _check_couplings(self, self.couplings)
        _check_observables(self, self.observables)
        used = set(extra_sources) | {c["source"] for c in couplings}
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

        Keys are ``"node.parameter"``, ``"node.input"`` (the input's constant baseline),
        ``"<edge>.weight"`` / ``"<edge>.delay"`` (delay in s) and, for an edge with an operator,
        ``"<edge>.parameter"``.
        """
        out = {k: v.default for k, v in self._collect(("parameter", "input")).items()}
        for edge in self.edges:
            out[f"{edge.name}.weight"] = edge.weight
            out[f"{edge.name}.delay"] = edge.delay
            if edge.operator is not None:
                out.update({f"{edge.name}.{n}": v.default
                            for n, v in edge.operator.variables.items()
                            if v.kind in ("parameter", "input")})
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
        return "\n".join(lines + _describe_declarations(self))

    def __repr__(self):
        return (f"<Circuit {self.name!r} | nodes {list(self.nodes)}, {len(self.edges)} edges, "
                f"{len(self.state_variables)} states>")

    def to_yaml(self, path, overwrite=False):
        """Write the circuit as a template file that :func:`~rate_bridge.load_template` reads
        back to the same model (same kernel, parameters, units, couplings and observables).

        Parameters
        ----------
        path : path-like
            A ``.yaml``/``.yml`` file; it is replaced all at once (written beside it first).
        overwrite : bool
            Replace an existing file; otherwise an existing file raises ``FileExistsError``.

        Returns
        -------
        pathlib.Path
            The file written; ``load_template(path)`` loads the circuit (write
            ``f"{path}:{circuit.name}"`` when it has sub-circuits and the file is named
            otherwise).

        Notes
        -----
        Equations are re-emitted from their checked syntax trees; operators and nodes that
        differ only in values share a template, with the differences as ``params`` (see
        :mod:`rate_bridge.model.export`).
        """
        from .export import write_template
        return write_template(self, path, overwrite=overwrite)

    # -- change ----------------------------------------------------------------------------
    def copy(self):
        return copy.deepcopy(self)

    def set_parameter(self, name, value, nodes=None):
        """Set a parameter, initial state or input baseline.

        Parameters
        ----------
        name : str
            ``"node.var"``, ``"<edge>.weight"``/``"<edge>.delay"`` or ``"<edge>.var"`` (a variable
            of an edge's operator); or a bare variable name to set it in every node that has it
            (restricted to ``nodes`` if given).
        value : float
        nodes : list of str | None
            With a bare name, the nodes to change.
        """
        validate_type(name, str, "a parameter name")
        validate_type(value, "numeric", f"value of {name!r}")
        value = _number(value, f"value of {name!r}")     # NaN named here, not in an operator
        if "." in name:
            head, tail = name.rsplit(".", 1)
            edge = next((e for e in self.edges if e.name == head), None)
            if edge is not None and tail in ("weight", "delay"):
                if not math.isfinite(value) or (tail == "delay" and value < 0):
                    raise ValueError(f"{name} must be a finite number"
                                     f"{' >= 0 s' if tail == 'delay' else ''}, got {value}")
                setattr(edge, tail, value)
                return self
            if edge is not None and edge.operator is not None and \
                    tail in edge.operator.variables:       # an edge operator's own variable
                edge.operator = edge.operator.with_defaults({tail: value})
                return self
            label, var, _ = self.resolve(name)
            self.nodes[label].set_default(var, value)
            return self
        targets = nodes or [lab for lab, n in self.nodes.items() if name in n.variables]
        if not targets:
            raise UnknownNameError(f"no node has a variable {name!r}")
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
            raise UnknownNameError(f"unknown node {node!r}; nodes: {list(self.nodes)}")
        target = self.nodes[node]
        if label not in target.operators:
            raise UnknownNameError(f"node {node!r} has no operator {label!r}; "
                                   f"operators: {list(target.operators)}")
        validate_type(operator, Operator, "operator")
        old = target.operators[label]
        target.operators[label] = operator.copy()
        try:
            target.validate()
            self.validate()
        except ModelError:
            target.operators[label] = old
            raise
        return self


#: Observables a circuit may declare: kind -> (required fields, optional fields).
OBSERVABLES = {
    # the primary current of a region, which EEG and MEG both see
    "eeg_meg": (("signal", "unit", "moment_scale"), ("reference", "description")),
    # the activity driving a hemodynamic (BOLD) model
    "bold": (("signal",), ("unit", "reference", "description")),
}


def _check_couplings(circuit, spec):
    """The natural couplings ``circuit`` declares (a declaration or a list of them), checked,
    as a list of plain dicts (empty if none)."""
    if spec is None:
        return []
    if not isinstance(spec, (list, tuple)):
        return [_check_coupling(circuit, spec, "coupling")]
    out = [_check_coupling(circuit, s, f"coupling[{i}]") for i, s in enumerate(spec)]
    targets = [c["target"] for c in out]
    for i, t in enumerate(targets):
        if t in targets[:i]:
            raise ModelError(f"two declared couplings drive the input {t!r}; one coupling per "
                             "input (a function may combine several terms)",
                             **circuit._ctx(field=f"coupling[{i}].target"))
    return out


def _check_coupling(circuit, spec, field):
    """One declared coupling, checked, as a plain dict."""
    fields = ("source", "target", "function", "params", "reference")
    spec = _declaration(circuit, spec, field, ("source", "target"), fields[2:])
    for end in ("source", "target"):
        _, _, var = circuit.resolve(spec[end], field=f"{field}.{end}")
        wrong = var.kind == "parameter" if end == "source" else var.kind != "input"
        if wrong:
            raise ModelError(f"coupling {end} {spec[end]!r} is a {var.kind}; a coupling carries a "
                             f"state, output or variable of the source region into an input of "
                             f"the target region", **circuit._ctx(field=f"{field}.{end}"))
    function = spec.get("function", "linear")
    _, expression, params = parse_coupling(function, spec.get("params"),
                                           **circuit._ctx(field=f"{field}.function"))
    return {"source": spec["source"], "target": spec["target"],
            "function": function if function in COUPLING_FUNCTIONS else expression.text,
            "params": params, "reference": _text(spec.get("reference"), "coupling reference",
                                                 **circuit._ctx(field=f"{field}.reference"))}


def _check_observables(circuit, spec):
    """The observables ``circuit`` declares, checked, as plain dicts (``{}`` if none)."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ModelError(f"'observables' must be a mapping kind -> declaration (kinds: "
                         f"{sorted(OBSERVABLES)}), got {type(spec).__name__}",
                         **circuit._ctx(field="observables"))
    out = {}
    for kind, entry in spec.items():
        if kind not in OBSERVABLES:
            raise UnknownModelNameError(f"unknown observable {_REPR.repr(kind)}; a circuit "
                                        f"declares {sorted(OBSERVABLES)}",
                                        **circuit._ctx(field=f"observables.{kind}"))
        required, optional = OBSERVABLES[kind]
        entry = _declaration(circuit, entry, f"observables.{kind}", required, optional)
        out[kind] = _observable(circuit, kind, entry)
    return out


def _observable(circuit, kind, entry):
    fld = f"observables.{kind}"
    recordable = [q for q, v in circuit.variables.items() if v.kind != "parameter"]
    signal = entry["signal"]
    parse_signal(signal, recordable, **circuit._ctx(field=f"{fld}.signal"))
    out = {"signal": signal.strip() if isinstance(signal, str) else
           {k: float(v) for k, v in signal.items()}}
    for key in ("unit", "moment_scale", "reference", "description"):
        if key not in entry:
            continue
        ctx = circuit._ctx(field=f"{fld}.{key}")
        if key != "moment_scale":
            out[key] = _text(entry[key], f"{kind} {key}", **ctx)
            continue
        out[key] = _number(entry[key], f"{kind} moment_scale", **ctx)
        if not 0 < out[key] < math.inf:
            raise ModelError(f"{kind} moment_scale must be a positive finite number of A·m per "
                             f"unit of the signal, got {out[key]}", **ctx)
    return out


def _declaration(circuit, entry, field, required, optional):
    """A mapping with the ``required`` fields and no other than ``optional`` ones."""
    if not isinstance(entry, dict):
        raise ModelError(f"'{field}' must be a mapping with fields {list(required)} (and "
                         f"optional {list(optional)}), got {type(entry).__name__}",
                         **circuit._ctx(field=field))
    extra = sorted(set(entry) - set(required) - set(optional), key=str)
    if extra:
        raise ModelError(f"unknown field(s) {extra}; allowed: {list(required) + list(optional)}",
                         **circuit._ctx(field=f"{field}.{extra[0]}"))
    missing = [key for key in required if key not in entry]
    if missing:
        raise ModelError(f"missing field(s) {missing}",
                         **circuit._ctx(field=f"{field}.{missing[0]}"))
    return entry


def _describe_declarations(circuit):
    """Lines of :meth:`Circuit.describe` for the declared coupling and observables."""
    lines = []
    for c in circuit.couplings:
        params = ", ".join(f"{k}={v:g}" for k, v in c["params"].items())
        lines.append(f"  coupling {c['source']} -> {c['target']}: {c['function']}"
                     + (f" ({params})" if params else ""))
        lines += [f"      reference: {c['reference']}"] if c.get("reference") else []
    for kind, obs in circuit.observables.items():
        unit = f" [{obs['unit']}]" if obs.get("unit") else ""
        scale = (f", moment_scale {obs['moment_scale']:g} A·m per {obs.get('unit') or 'unit'}"
                 if "moment_scale" in obs else "")
        lines.append(f"  observable {kind}: {obs['signal']}{unit}{scale}")
        lines += [f"      reference: {obs['reference']}"] if obs.get("reference") else []
    return lines
