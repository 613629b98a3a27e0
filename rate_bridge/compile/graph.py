"""Compute graph: a circuit flattened into qualified states, assignments, inputs and edges.

Every symbol becomes a qualified name ``"node.var"``. The result is what code generation walks:
it depends on the circuit's *structure* only; values (parameter defaults, initial states) are
carried alongside but never enter the generated code.
"""
import hashlib
from dataclasses import dataclass, field

from ..model.errors import ModelError
from ..model.templates import TIME_UNITS, Circuit


@dataclass
class FlatEdge:
    """An edge inside a circuit: ``target += weight * source(t - delay)``.

    ``weight``/``delay`` name parameters; ``None`` means a fixed weight of 1 and no delay
    (used to add an edge operator's output to its target).
    """
    source: str
    target: str
    weight: str = None
    delay: str = None


@dataclass
class FlatCircuit:
    """A circuit as a compute graph.

    Attributes
    ----------
    states : list of str
        State variables, in state-vector order.
    rhs : dict of str -> Expression
        Right-hand side of each state's ODE, over qualified names, in the template's time unit.
    time_scale : dict of str -> float
        Factor converting each ODE to per-second (1000 for a template in ms).
    diffusion : dict of str -> Expression
        Template-declared noise terms (multiplying dW) by state.
    assigns : list of (str, Expression)
        Assignments (outputs and variables), in dependency order.
    inputs : list of str
        Inputs fed by edges; value = baseline parameter (same name) + edges + drive + noise.
    params : list of str
        Parameter vector layout: parameters, then input baselines, then edge weights and delays.
    edges : list of FlatEdge
    """
    name: str
    states: list
    rhs: dict
    time_scale: dict
    diffusion: dict
    assigns: list
    inputs: list
    params: list
    edges: list
    defaults: dict
    initial: dict
    units: dict
    kinds: dict = field(default_factory=dict)

    @property
    def variables(self):
        return self.states + [n for n, _ in self.assigns] + self.inputs

    def signature(self):
        """Text that determines the generated code (structure only, no values)."""
        parts = [f"S {s} {self.time_scale[s]!r} {self.rhs[s].text} | "
                 f"{self.diffusion[s].text if s in self.diffusion else ''}" for s in self.states]
        parts += [f"A {n} {e.text}" for n, e in self.assigns]
        parts += [f"I {n}" for n in self.inputs] + [f"P {p}" for p in self.params]
        parts += [f"E {e.source} {e.target} {e.weight} {e.delay}" for e in self.edges]
        return "\n".join(parts)

    def source_dependencies(self, name):
        """Qualified names an assignment or state ultimately reads (transitively)."""
        return self.dependencies([name])

    def dependencies(self, names, stop=()):
        """Qualified names that ``names`` ultimately read (transitively, themselves included);
        the assignments in ``stop`` are taken as given and not expanded."""
        assigns = dict(self.assigns)
        seen, stack = set(), list(names)
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur in assigns and cur not in stop:
                stack.extend(assigns[cur].symbols)
        return seen


def flatten(circuit, extra_sources=()):
    """Flatten a :class:`~rate_bridge.model.Circuit` into a :class:`FlatCircuit`."""
    if not isinstance(circuit, Circuit):
        raise TypeError(f"expected a Circuit, got {type(circuit).__name__}")
    circuit.validate(extra_sources=extra_sources)
    states, rhs, scale, diffusion = [], {}, {}, {}
    assigns, inputs, params = {}, [], []
    defaults, initial, units, kinds = {}, {}, {}, {}
    edges = []

    def add_operator(prefix, op, rename_scope):
        q = {name: f"{prefix}.{name}" for name in rename_scope}
        for eq in op.equations:
            expr = eq.rhs.rename(q)
            target = q[eq.lhs]
            if eq.is_ode:
                states.append(target)
                rhs[target] = expr
                scale[target] = 1.0 / TIME_UNITS[op.time_unit]
            else:
                assigns[target] = expr
        for name, var in op.variables.items():
            if var.kind == "state" and var.noise is not None:
                from ..model.expressions import parse_expression
                expr = parse_expression(var.noise, template=op.name, field=f"{name}.noise")
                allowed = {k for k, v in op.variables.items() if v.kind in ("state", "parameter")}
                if expr.symbols - allowed:
                    raise ModelError(f"noise of {name!r} may read states and parameters only, "
                                     f"not {sorted(expr.symbols - allowed)}",
                                     template=op.name, file=op.file)
                diffusion[q[name]] = expr.rename(q)

    def declare(qn, var):
        units[qn], kinds[qn] = var.unit, var.kind
        if var.kind == "state":
            initial[qn] = var.default
        elif var.kind == "parameter":
            params.append(qn)
            defaults[qn] = var.default
        elif var.kind == "input":
            inputs.append(qn)
            defaults[qn] = var.default

    for label, node in circuit.nodes.items():
        ns = node.namespace()
        for op in node.operators.values():
            add_operator(label, op, ns)
        for name, (var, _) in ns.items():
            declare(f"{label}.{name}", var)

    for edge in circuit.edges:
        w, d = f"{edge.name}.weight", f"{edge.name}.delay"
        defaults[w], defaults[d] = edge.weight, edge.delay
        if edge.operator is None:
            edges.append(FlatEdge(edge.source, edge.target, w, d))
            continue
        op = edge.operator
        scope = {name: name for name in op.variables}
        add_operator(edge.name, op, scope)
        for name, var in op.variables.items():
            qn = f"{edge.name}.{name}"
            declare(qn, var)
            if var.kind == "input":          # receives weight * source(t - delay)
                edges.append(FlatEdge(edge.source, qn, w, d))
            elif var.kind == "output":       # adds to the edge's target
                edges.append(FlatEdge(qn, edge.target))
    params = params + inputs + [p for e in circuit.edges
                                for p in (f"{e.name}.weight", f"{e.name}.delay")]
    flat = FlatCircuit(circuit.name, states, rhs, scale, diffusion,
                       _order_assignments(assigns, set(inputs), edges, circuit),
                       inputs, params, edges, defaults, initial, units, kinds)
    for e in edges:
        _check_edge_source(flat, e.source, circuit)
    return flat


def _order_assignments(assigns, inputs, edges, circuit):
    """Topological order of assignments; a cycle is an algebraic loop and an error."""
    order, state = [], {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            cycle = path[path.index(name):] + [name]
            raise ModelError(f"algebraic loop: {' -> '.join(cycle)}; break it with a state "
                             "(a differential equation) or a delayed edge",
                             file=circuit.file, template=circuit.name)
        state[name] = "active"
        for dep in sorted(assigns[name].symbols):
            if dep in assigns:
                visit(dep, path + [name])
        state[name] = "done"
        order.append((name, assigns[name]))

    for name in assigns:
        visit(name, [])
    return order


def _check_edge_source(flat, source, circuit):
    deps = flat.source_dependencies(source)
    inputs = sorted(deps & set(flat.inputs))
    if inputs:
        raise ModelError(f"edge source {source!r} depends on input(s) {inputs}; an edge must "
                         "carry a quantity computed from states and parameters only (an input "
                         "on the way would make an algebraic loop)",
                         file=circuit.file, template=circuit.name)


def structure_hash(*parts):
    """A short stable hash of structure texts, used to key generated kernels."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]
