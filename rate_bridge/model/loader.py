"""Templates from YAML files: inheritance (``base:``), references across files, precise errors.

A template file maps template names to templates::

    my_rpo:
      kind: operator            # operator | node | circuit (or inherit it through base)
      description: second-order synaptic kernel
      time_unit: s
      equations:
        - "d/dt * psp = x"
        - "d/dt * x = H * a * m_in - 2 * a * x - a**2 * psp"
      variables:
        psp: {kind: state, default: 0.0, unit: mV}
        x: {kind: state, unit: mV/s}
        m_in: {kind: input, unit: Hz}
        H: {kind: parameter, default: 3.25, unit: mV}
        a: 100.0                # a bare number is a parameter
    my_fast_rpo:
      base: my_rpo              # inherits everything, overrides what it names
      params: {a: 200.0}

A reference is ``name`` (same file first, then the shipped library), ``file_stem:name`` for a
library file, or ``path/to/file.yaml:name`` (relative paths from the referring file).
Files are read with ``yaml.safe_load``; nothing is evaluated.
"""
import os
from pathlib import Path

import yaml

from .errors import ModelError
from .templates import Circuit, Edge, Node, Operator, Variable

LIBRARY_DIR = Path(__file__).parent / "library"

_FIELDS = {
    "operator": {"kind", "base", "description", "reference", "time_unit", "equations",
                 "variables", "params"},
    "node": {"kind", "base", "description", "reference", "operators", "params"},
    "circuit": {"kind", "base", "description", "reference", "nodes", "edges", "params"},
}
_DICT_FIELDS = {"variables", "operators", "nodes", "params"}


def library_templates():
    """Names of the shipped templates, by library file: ``{"jansen_rit": [...], ...}``."""
    return {path.stem: sorted(_read_file(path)) for path in sorted(LIBRARY_DIR.glob("*.yaml"))}


def load_template(ref, verbose=None):
    """Load a template (and everything it references) into a model object.

    Parameters
    ----------
    ref : str | os.PathLike
        A library name (``"jansen_rit"``), ``"library_file:Template"``,
        ``"path/file.yaml:Template"``, or ``"path/file.yaml"`` when the file holds one circuit
        or a template named like the file.

    Returns
    -------
    Circuit | Node | Operator
        A fresh object: changing it never changes the template for later loads.
    """
    return _Loader().load(ref)


_FILE_CACHE = {}


def _read_file(path):
    path = Path(path).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as err:
        raise ModelError(f"cannot read template file: {err.strerror}", file=str(path)) from None
    cached = _FILE_CACHE.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        with open(path, encoding="utf-8") as fid:
            data = yaml.safe_load(fid)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ModelError(f"YAML syntax error{where}: {err.problem or err}",
                         file=str(path)) from None
    except yaml.YAMLError as err:
        raise ModelError(f"YAML error: {err}", file=str(path)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ModelError(f"a template file must map names to templates, got "
                         f"{type(data).__name__}", file=str(path))
    for name, body in data.items():
        if not isinstance(body, dict):
            raise ModelError(f"template must be a mapping of fields, got {type(body).__name__}",
                             file=str(path), template=str(name))
    _FILE_CACHE[path] = (mtime, data)
    return data


class _Loader:
    def __init__(self):
        self._stack = []     # (file, name) being merged: detects circular inheritance

    # -- references ------------------------------------------------------------------------
    def locate(self, ref, context_file=None, field=None):
        """Return (file path, template name) for a reference."""
        if isinstance(ref, os.PathLike):
            ref = os.fspath(ref)
        if not isinstance(ref, str) or not ref:
            raise ModelError(f"a template reference must be a non-empty string, got {ref!r}",
                             file=context_file, field=field)
        if ":" in ref and not (len(ref) > 1 and ref[1] == ":" and ref[2:3] in ("\\", "/")):
            file_part, name = ref.rsplit(":", 1)
            return self._file_for(file_part, context_file, field), name
        if ref.endswith((".yaml", ".yml")):
            path = self._file_for(ref, context_file, field)
            data = _read_file(path)
            circuits = [n for n, b in data.items() if b.get("kind") == "circuit"]
            if path.stem in data:
                return path, path.stem
            if len(data) == 1:
                return path, next(iter(data))
            if len(circuits) == 1:
                return path, circuits[0]
            raise ModelError(f"{path.name} holds several templates {sorted(data)}; name one as "
                             f"'{ref}:Template'", file=str(path), field=field)
        if context_file is not None and ref in _read_file(context_file):
            return Path(context_file), ref
        hits = [path for path in sorted(LIBRARY_DIR.glob("*.yaml")) if ref in _read_file(path)]
        if not hits:
            known = sorted({n for names in library_templates().values() for n in names})
            raise ModelError(f"unknown template {ref!r}; library templates: {known}",
                             file=context_file, field=field)
        if len(hits) > 1:
            raise ModelError(f"template {ref!r} is defined in several library files "
                             f"{[p.stem for p in hits]}; write 'file:{ref}'",
                             file=context_file, field=field)
        return hits[0], ref

    def _file_for(self, file_part, context_file, field):
        candidates = []
        path = Path(file_part)
        if not path.suffix:
            candidates.append(LIBRARY_DIR / f"{file_part}.yaml")
        if context_file is not None and not path.is_absolute():
            candidates.append(Path(context_file).parent / path)
        candidates.append(path)
        for cand in candidates:
            if cand.is_file():
                return cand.resolve()
        raise ModelError(f"template file {file_part!r} not found (looked at "
                         f"{[str(c) for c in candidates]})", file=context_file, field=field)

    # -- inheritance -----------------------------------------------------------------------
    def raw(self, path, name):
        """The template's fields with its base chain merged in."""
        data = _read_file(path)
        if name not in data:
            raise ModelError(f"no template {name!r} in this file; it has {sorted(data)}",
                             file=str(path))
        key = (str(path), name)
        if key in self._stack:
            chain = " -> ".join(n for _, n in self._stack[self._stack.index(key):]) + f" -> {name}"
            raise ModelError(f"circular inheritance: {chain}", file=str(path), template=name,
                             field="base")
        body = dict(data[name])
        self._stack.append(key)
        try:
            if "base" in body:
                base_path, base_name = self.locate(body["base"], path, field="base")
                merged = self.raw(base_path, base_name)
                for field, value in body.items():
                    if field in _DICT_FIELDS and isinstance(value, dict) and \
                            isinstance(merged.get(field), dict):
                        merged[field] = _merge(merged[field], value)
                    else:
                        merged[field] = value
                body = merged
                body.pop("base", None)
        finally:
            self._stack.pop()
        return body

    # -- building --------------------------------------------------------------------------
    def load(self, ref, context_file=None, field=None):
        path, name = self.locate(ref, context_file, field)
        body = self.raw(path, name)
        kind = body.get("kind")
        ctx = dict(file=str(path), template=name)
        if kind not in _FIELDS:
            raise ModelError(f"'kind' must be one of {sorted(_FIELDS)} (or inherited through "
                             f"'base'), got {kind!r}", field="kind", **ctx)
        unknown = sorted(set(body) - _FIELDS[kind])
        if unknown:
            raise ModelError(f"unknown field(s) {unknown} for a {kind}; allowed: "
                             f"{sorted(_FIELDS[kind])}", field=unknown[0], **ctx)
        try:
            return getattr(self, f"_build_{kind}")(path, name, body, ctx)
        except ModelError as err:
            raise err.within(**ctx) from None

    def _build_operator(self, path, name, body, ctx):
        equations = body.get("equations")
        if not isinstance(equations, list) or not equations:
            raise ModelError("an operator needs a non-empty list 'equations'",
                             field="equations", **ctx)
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            raise ModelError("'variables' must be a mapping name -> declaration",
                             field="variables", **ctx)
        declared = {vname: _variable(spec, field=f"variables.{vname}", **ctx)
                    for vname, spec in variables.items()}
        op = Operator(name, equations, declared, time_unit=body.get("time_unit", "s"),
                      description=body.get("description", ""),
                      reference=body.get("reference", ""), file=str(path))
        params = _mapping(body, "params", ctx)
        return op.with_defaults(params) if params else op

    def _build_node(self, path, name, body, ctx):
        ops = body.get("operators")
        if isinstance(ops, list):
            ops = {(o if isinstance(o, str) else f"op{i}").split(":")[-1]: o
                   for i, o in enumerate(ops)}
        if not isinstance(ops, dict) or not ops:
            raise ModelError("a node needs 'operators': a list of template names or a mapping "
                             "label -> template / {template, rename, params}",
                             field="operators", **ctx)
        built = {}
        for label, spec in ops.items():
            fld = f"operators.{label}"
            if isinstance(spec, str):
                spec = {"template": spec}
            if not isinstance(spec, dict) or "template" not in spec:
                raise ModelError("an operator entry is a template name or a mapping with "
                                 "'template' (and optional 'rename', 'params')", field=fld, **ctx)
            extra = sorted(set(spec) - {"template", "rename", "params"})
            if extra:
                raise ModelError(f"unknown field(s) {extra}", field=fld, **ctx)
            op = self.load(spec["template"], path, field=fld)
            if not isinstance(op, Operator):
                raise ModelError(f"{spec['template']!r} is a {type(op).__name__}, not an "
                                 "operator", field=fld, **ctx)
            if spec.get("rename"):
                op = op.renamed(_mapping(spec, "rename", ctx))
            if spec.get("params"):
                op = op.with_defaults(_mapping(spec, "params", ctx), field=f"{fld}.params")
            built[label] = op
        node = Node(name, built, description=body.get("description", ""), file=str(path))
        for key, value in _mapping(body, "params", ctx).items():
            try:
                node.set_default(key, value)
            except KeyError as err:
                raise ModelError(str(err.args[0]), field=f"params.{key}", **ctx) from None
        return node

    def _build_circuit(self, path, name, body, ctx):
        nodes_spec = body.get("nodes")
        if not isinstance(nodes_spec, dict) or not nodes_spec:
            raise ModelError("a circuit needs 'nodes': a mapping label -> template or "
                             "{template, params}", field="nodes", **ctx)
        nodes = {}
        for label, spec in nodes_spec.items():
            fld = f"nodes.{label}"
            if isinstance(spec, str):
                spec = {"template": spec}
            if not isinstance(spec, dict) or "template" not in spec:
                raise ModelError("a node entry is a template name or a mapping with 'template' "
                                 "(and optional 'params')", field=fld, **ctx)
            extra = sorted(set(spec) - {"template", "params"})
            if extra:
                raise ModelError(f"unknown field(s) {extra}", field=fld, **ctx)
            obj = self.load(spec["template"], path, field=fld)
            if isinstance(obj, Operator):
                raise ModelError(f"{spec['template']!r} is an operator; a circuit's nodes are "
                                 "nodes or circuits", field=fld, **ctx)
            for key, value in _mapping(spec, "params", ctx).items():
                try:
                    if isinstance(obj, Node):
                        obj.set_default(key, value)
                    else:
                        obj.set_parameter(key, value)
                except (KeyError, TypeError) as err:
                    raise ModelError(str(err.args[0]), field=f"{fld}.params.{key}",
                                     **ctx) from None
            nodes[str(label)] = obj
        edges = []
        for i, spec in enumerate(body.get("edges") or []):
            fld = f"edges[{i}]"
            if not isinstance(spec, dict):
                raise ModelError("an edge is a mapping {source, target, weight, delay, name, "
                                 "operator}", field=fld, **ctx)
            extra = sorted(set(spec) - {"source", "target", "weight", "delay", "name", "operator"})
            missing = sorted({"source", "target"} - set(spec))
            if extra or missing:
                raise ModelError(f"unknown field(s) {extra}" if extra else
                                 f"missing field(s) {missing}", field=fld, **ctx)
            op = None
            if spec.get("operator"):
                op = self.load(spec["operator"], path, field=f"{fld}.operator")
            try:
                edges.append(Edge(spec["source"], spec["target"], spec.get("weight", 1.0),
                                  spec.get("delay", 0.0), spec.get("name"), op))
            except ModelError as err:
                raise err.within(field=fld, **ctx) from None
        circuit = Circuit(name, nodes, edges, description=body.get("description", ""),
                          reference=body.get("reference", ""), file=str(path))
        for key, value in _mapping(body, "params", ctx).items():
            try:
                circuit.set_parameter(key, value)
            except (KeyError, TypeError, ValueError) as err:
                raise ModelError(str(err.args[0]), field=f"params.{key}", **ctx) from None
        return circuit


def _merge(base, over):
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _mapping(body, field, ctx):
    value = body.get(field) or {}
    if not isinstance(value, dict):
        raise ModelError(f"'{field}' must be a mapping, got {type(value).__name__}",
                         field=field, **ctx)
    return value


def _variable(spec, **ctx):
    if isinstance(spec, bool):
        raise ModelError(f"a variable declaration cannot be a boolean ({spec})", **ctx)
    if isinstance(spec, (int, float)):
        return Variable("parameter", spec)
    if isinstance(spec, str):
        return Variable(spec) if spec in ("state", "input", "output", "variable", "parameter") \
            else _fail(f"a variable declared by a word must be a kind (state, parameter, input, "
                       f"output, variable), got {spec!r}", ctx)
    if not isinstance(spec, dict):
        _fail(f"a variable declaration is a number, a kind or a mapping, got "
              f"{type(spec).__name__}", ctx)
    extra = sorted(set(spec) - {"kind", "default", "unit", "description", "noise"})
    if extra:
        _fail(f"unknown field(s) {extra} in a variable declaration (allowed: kind, default, "
              "unit, description, noise)", ctx)
    if "kind" not in spec:
        _fail("a variable declaration needs 'kind' (state, parameter, input, output, variable)",
              ctx)
    try:
        return Variable(spec["kind"], spec.get("default", 0.0), spec.get("unit", ""),
                        spec.get("description", ""), spec.get("noise"))
    except ModelError as err:
        raise err.within(**ctx) from None


def _fail(message, ctx):
    raise ModelError(message, **ctx)
