"""Writing a circuit as a template file that :func:`~rate_bridge.model.load_template` reads back
to the same model: users share models as files.

The file holds one template per distinct operator, node and sub-circuit, then the circuit:

- an operator's equations are re-emitted from their checked syntax trees (display form), with
  every variable's kind, default, unit, description and noise;
- operators (and nodes) that differ from an already written one only in their defaults share
  its template, and the differences are written as ``params`` where the template is used: per
  operator inside a node template, per node in the circuit (``nodes: {i: {template: pop,
  params: {tau: 0.02}}}``), per edge operator in the circuit's ``params``;
- nodes inlined from sub-circuits (``"col1/pc"``) become sub-circuit templates again, so that the
  loaded circuit has the same node labels, edge names and parameter names;
- edges keep their weights, delays, names and operators; the declared couplings (a mapping for
  one, a list for several) and observables, the description and the reference are written as
  they are.

Everything is dumped as data by :func:`~rate_bridge.model.yamlio.dumps_yaml`: no text of the
model is pasted into YAML syntax. Before the file is written, the text is loaded back and
compared with the circuit (structure, parameters, variables, declarations), so a file that
would not load back to the same model is never written.
"""
import copy
import tempfile
from pathlib import Path

from .errors import ModelError
from .expressions import parse_expression, unparse
from .templates import MAX_NAME_LENGTH, Circuit
from .yamlio import FlowDict, dumps_yaml


def write_template(circuit, path, overwrite=False):
    """Write ``circuit`` as a YAML template file (see :meth:`Circuit.to_yaml`).

    Parameters
    ----------
    circuit : Circuit
    path : path-like
        A ``.yaml``/``.yml`` file, replaced all at once.
    overwrite : bool
        Replace an existing file (otherwise ``FileExistsError``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from ..adapters._common import writable_target
    from ..adapters._files import commit
    if not isinstance(circuit, Circuit):
        raise TypeError(f"expected a Circuit to write, got {type(circuit).__name__}")
    path = writable_target(path, overwrite)
    if not path.name.lower().endswith((".yaml", ".yml")):
        raise ValueError(f"{path}: a template file name ends with .yaml or .yml")
    data = circuit_templates(circuit, reserved=(path.stem,))
    # load_template(path) picks the template named like the file, else the only circuit
    circuits = [b for b in data.values() if b["kind"] == "circuit"]
    ref = "path" if circuit.name == path.stem or len(circuits) == 1 else \
        f"f'{{path}}:{circuit.name}'"
    header = (f"Model templates written by rate_bridge (Circuit.to_yaml) from the circuit "
              f"{circuit.name}.\nLoad with rate_bridge.load_template({ref}).")
    text = dumps_yaml(data, header=header)
    _check_round_trip(circuit, text)
    commit({path: text})
    return path


def circuit_templates(circuit, reserved=()):
    """The templates of a file that loads back to ``circuit``, as plain data.

    Parameters
    ----------
    circuit : Circuit
    reserved : iterable of str
        Names no template other than the circuit's own may take (the file's stem, which
        ``load_template(path)`` would otherwise pick).

    Returns
    -------
    dict
        ``{template name: template}``: operators, nodes, sub-circuits, then the circuit (under
        its own name).
    """
    writer = _Writer({circuit.name, *reserved})
    body = writer.circuit(circuit.nodes, circuit.edges, circuit.name)
    couplings = [_drop_empty({**c, "params": FlowDict(c["params"])}) for c in circuit.couplings]
    body = _drop_empty({
        "kind": "circuit", "description": circuit.description, "reference": circuit.reference,
        **body, "coupling": couplings[0] if len(couplings) == 1 else couplings,
        "observables": copy.deepcopy(circuit.observables)})
    return {**writer.templates, circuit.name: body}


class _Writer:
    """Collects the templates of one file, sharing a template among objects that differ only
    in their defaults."""

    def __init__(self, reserved):
        self.templates = {}
        self._taken = set(reserved)
        self._operators = {}    # structure -> template name
        self._nodes = {}        # (node name, operator templates) -> [template names]
        self._circuits = {}     # body -> template name
        self._defaults = {}     # operator or node template name -> its defaults

    def name(self, wanted):
        """A template name not yet taken, ``wanted`` if possible."""
        wanted = wanted[:MAX_NAME_LENGTH]
        name, k = wanted, 1
        while name in self._taken:
            k += 1
            name = f"{wanted[:MAX_NAME_LENGTH - 8]}_{k}"
        self._taken.add(name)
        return name

    def operator(self, op):
        """``(template name, {variable: default} differing from the template's)``."""
        body = _operator_body(op)
        key = repr({**body, "name": op.name, "variables": {
            k: {f: v for f, v in spec.items() if f != "default"}
            for k, spec in body["variables"].items()}})
        if key not in self._operators:
            name = self._operators[key] = self.name(op.name)
            self.templates[name] = body
            self._defaults[name] = _defaults(op)
        name = self._operators[key]
        ref = self._defaults[name]
        return name, {k: v for k, v in _defaults(op).items() if v != ref[k]}

    def node(self, node):
        """``(template name, per-node params)`` of a node."""
        entries = {label: self.operator(op) for label, op in node.operators.items()}
        actual = {label: _defaults(op) for label, op in node.operators.items()}
        key = (node.name, node.description, tuple((k, v[0]) for k, v in entries.items()))
        for name in self._nodes.get(key, ()):
            params = _node_params(self._defaults[name], actual)
            if params is not None:
                return name, params
        name = self.name(node.name)
        self._nodes.setdefault(key, []).append(name)
        self._defaults[name] = actual
        ops = {label: FlowDict(template=template, params=FlowDict(params)) if params else
               template for label, (template, params) in entries.items()}
        if all(label == value for label, value in ops.items()):
            ops = list(ops)      # the short form: labels are the template names
        self.templates[name] = _drop_empty({"kind": "node", "description": node.description,
                                            "operators": ops})
        return name, {}

    def circuit(self, nodes, edges, name):
        """The body of a circuit template; sub-circuits (``"a/n"`` labels) become templates."""
        groups, entries = _groups(nodes, name)
        inner, top = _split_edges(edges, groups)
        body_nodes, params = {}, {}
        for label, entry in entries.items():
            if label in groups:
                sub_name = f"{name}_{label}"
                body = self.circuit(groups[label], inner[label], sub_name)
                key = repr(body)
                if key not in self._circuits:
                    self._circuits[key] = self.name(sub_name)
                    self.templates[self._circuits[key]] = body
                body_nodes[label] = self._circuits[key]
                continue
            template, node_params = self.node(entry)
            body_nodes[label] = FlowDict(template=template, params=FlowDict(node_params)) \
                if node_params else template
        body_edges = []
        for edge in top:
            spec = FlowDict(source=edge.source, target=edge.target, weight=edge.weight)
            if edge.delay:
                spec["delay"] = edge.delay
            if "/" not in edge.name:     # names with "/" are composed, not written
                spec["name"] = edge.name
            if edge.operator is not None:
                spec["operator"], op_params = self.operator(edge.operator)
                params.update({f"{edge.name}.{k}": v for k, v in op_params.items()})
            body_edges.append(spec)
        return _drop_empty({"kind": "circuit", "nodes": body_nodes, "edges": body_edges,
                            "params": params})


def _operator_body(op):
    variables = {}
    for name, var in op.variables.items():
        spec = {"kind": var.kind, "default": var.default, "unit": var.unit,
                "description": var.description,
                "noise": None if var.noise is None else unparse(parse_expression(var.noise))}
        if var.kind in ("output", "variable") and var.default == 0:
            del spec["default"]              # never read: defined by an equation
        variables[name] = FlowDict(_drop_empty(spec))
    equations = [f"d/dt * {eq.lhs} = {unparse(eq.rhs)}" if eq.is_ode else
                 f"{eq.lhs} = {unparse(eq.rhs)}" for eq in op.equations]
    return _drop_empty({"kind": "operator", "description": op.description,
                        "reference": op.reference, "time_unit": op.time_unit,
                        "equations": equations, "variables": variables})


def _defaults(op):
    return {name: var.default for name, var in op.variables.items()}


def _node_params(template, actual):
    """The per-node ``params`` turning a node template's operator defaults (``{label:
    {variable: default}}``) into ``actual``, or None if per-node params cannot (a node's
    ``params`` set a variable in every operator that declares it)."""
    params = {}
    for label, values in actual.items():
        for var, value in values.items():
            if value != template[label][var]:
                if params.get(var, value) != value:
                    return None
                params[var] = value
    for var, value in params.items():
        if any(var in values and values[var] != value for values in actual.values()):
            return None
    return params


def _groups(nodes, circuit_name):
    """``({sub-circuit label: {inner label: node}}, {label: node or None, in order})``."""
    groups, entries, last = {}, {}, None
    for label, node in nodes.items():
        head, sep, rest = label.partition("/")
        if not sep:
            entries[label] = node
        elif head not in groups or last == head:
            groups.setdefault(head, {})[rest] = node
            entries.setdefault(head, None)
        else:
            raise ModelError(f"the nodes of sub-circuit {head!r} are not listed together "
                             f"({label!r} follows other nodes), so no template file composes "
                             "them in this order", template=circuit_name, field="nodes")
        last = head if sep else None
    return groups, entries


def _split_edges(edges, groups):
    """``({sub-circuit label: [its edges, names relative to it]}, [the circuit's edges])``.

    A circuit lists its sub-circuits' edges first, sub-circuit by sub-circuit, then its own:
    the leading edges named and connected inside one sub-circuit belong to it.
    """
    inner = {head: [] for head in groups}
    heads, k = list(groups), 0
    for count, edge in enumerate(edges):
        owner = next((h for h in heads[k:] if _inside(edge, h)), None)
        if owner is None:
            return inner, list(edges[count:])
        k = heads.index(owner)
        local = copy.copy(edge)
        local.source, local.target, local.name = (
            s[len(owner) + 1:] for s in (edge.source, edge.target, edge.name))
        inner[owner].append(local)
    return inner, []


def _inside(edge, head):
    prefix = f"{head}/"
    return all(s.startswith(prefix) for s in (edge.source, edge.target, edge.name))


def _drop_empty(spec):
    """``spec`` without the fields that are empty (the loader's defaults)."""
    return {k: v for k, v in spec.items() if v not in (None, "", {}, [])}


# -- the written text loads back to the same model ---------------------------------------------
def _check_round_trip(circuit, text):
    from .loader import load_template
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "model.yaml"
        tmp.write_text(text, encoding="utf-8")
        try:
            loaded = load_template(f"{tmp}:{circuit.name}")
        except ModelError as err:
            raise ModelError(f"the circuit cannot be written as a template file: the file "
                             f"would not load ({err.reason})", template=circuit.name) from None
    checks = {
        "node labels": (list(circuit.nodes), list(loaded.nodes)),
        "edge names": ([e.name for e in circuit.edges], [e.name for e in loaded.edges]),
        "parameters": (circuit.parameters, loaded.parameters),
        "variables": (_variables(circuit), _variables(loaded)),
        "couplings": (circuit.couplings, loaded.couplings),
        "observables": (circuit.observables, loaded.observables),
        "description and reference": ((circuit.description, circuit.reference),
                                      (loaded.description, loaded.reference)),
        "equations and edges": (_structure(circuit), _structure(loaded)),
    }
    for what, (mine, back) in checks.items():
        if mine != back:
            raise ModelError(f"the circuit cannot be written as a template file that loads "
                             f"back to the same model: its {what} would differ",
                             template=circuit.name)


def _structure(circuit):
    """Every operator as written (equations, variables, defaults, noise) by node, and every
    edge with its operator: what the kernel is generated from, and more."""
    def body(op):
        return None if op is None else repr(_operator_body(op))
    return ([(label, [body(op) for op in node.operators.values()])
             for label, node in circuit.nodes.items()],
            [(e.source, e.target, e.name, e.weight, e.delay, body(e.operator))
             for e in circuit.edges])


def _variables(circuit):
    return {q: (v.kind, v.default, v.unit, v.description) for q, v in
            circuit.variables.items()}


__all__ = ["write_template", "circuit_templates"]
