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

A circuit may declare the coupling it is meant to be networked with and what measurements see
of it (checked by :class:`~rate_bridge.model.Circuit`)::

    my_column:
      kind: circuit
      nodes: {...}
      coupling: {source: pc.v, target: pc.m_in_e, function: sigmoidal,
                 params: {cmax: 5.0, midpoint: 6.0, r: 0.56}, reference: ...}
      observables:
        eeg_meg: {signal: pc.v, unit: mV, moment_scale: 1.0e-8, reference: ...}
        bold: {signal: pc.v, reference: ...}

``coupling`` may also be a list of such mappings, when regions couple through several variables
(one coupling per target input). Through ``base:``, ``coupling`` is replaced as a whole,
``observables`` kind by kind (``coupling: null`` removes the base's).

A reference is ``name`` (same file first, then the shipped library), ``file_stem:name`` for a
library file, or ``path/to/file.yaml:name``. Template files are untrusted: a reference inside a
file may only reach the shipped library and ``.yaml``/``.yml`` files in the referring file's
folder or below it (or in folders passed as ``search_path``); anything else is refused without
being read. Files are read by :mod:`rate_bridge.model.yamlio` (size, alias and duplicate-key
limits; nothing is evaluated).
"""
import os
from pathlib import Path

from ..utils import check_option, validate_type, verbose
from .errors import ModelError, UnknownModelNameError
from .templates import Circuit, Edge, Node, Operator, Variable, check_name
from .yamlio import is_yaml_path, read_yaml

LIBRARY_DIR = Path(__file__).parent / "library"
#: Deepest chain of ``base:`` and deepest nesting of templates within templates.
MAX_NESTING = 64
_MAX_REF_LENGTH = 4096

_FIELDS = {
    "operator": {"kind", "base", "description", "reference", "time_unit", "equations",
                 "variables", "params"},
    "node": {"kind", "base", "description", "reference", "operators", "params"},
    "circuit": {"kind", "base", "description", "reference", "nodes", "edges", "params",
                "coupling", "observables"},
}
_DICT_FIELDS = {"variables", "operators", "nodes", "params"}
#: merged one level deep through ``base:``: a template restating an observable replaces it
_ENTRY_FIELDS = {"observables"}


def library_templates():
    """Names of the shipped templates, by library file: ``{"jansen_rit": [...], ...}``."""
    return {path.stem: sorted(_read_file(path)) for path in sorted(LIBRARY_DIR.glob("*.yaml"))}


def list_templates():
    """The shipped models: every circuit template of the library, described in one line.

    Returns
    -------
    list of dict
        ``{"name", "description", "reference"}`` per circuit template, by name; ``name`` is
        what :func:`load_template` takes, the description is the template's on one line.
    """
    out = []
    for stem, names in library_templates().items():
        for name in names:
            if _Loader().raw(LIBRARY_DIR / f"{stem}.yaml", name).get("kind") != "circuit":
                continue
            circuit = load_template(f"{stem}:{name}")
            out.append({"name": name, "description": " ".join(circuit.description.split()),
                        "reference": " ".join(circuit.reference.split())})
    return sorted(out, key=lambda entry: entry["name"])


@verbose
def load_template(ref, search_path=None, verbose=None):
    """Load a template (and everything it references) into a model object.

    Parameters
    ----------
    ref : str | os.PathLike
        A library name (``"jansen_rit"``), ``"library_file:Template"``,
        ``"path/file.yaml:Template"``, or ``"path/file.yaml"`` when the file holds one circuit
        or a template named like the file.
    search_path : list of path-like | None
        More folders whose YAML files templates may reference (relative references are looked
        for in the referring file's folder first, then in these). By default a template file
        reaches only the shipped library and its own folder.
    %(verbose)s

    Returns
    -------
    Circuit | Node | Operator
        A fresh object: changing it never changes the template for later loads.
    """
    return _Loader(search_path).load(ref)


def resolve_reference(ref, folder, search_path=None):
    """Resolve a reference written in a file of ``folder`` (e.g. a run configuration).

    The reference obeys the rules of references inside template files. Returns a reference
    :func:`load_template` reads identically from any working directory: library references
    unchanged, file references with the file's absolute path.
    """
    file_part, name = _split_ref(ref)
    if file_part is None:
        return ref
    loader = _Loader(search_path)
    path = loader.find_file(file_part, Path(folder).resolve(), file=None, field=None)
    return f"{path}:{name}" if name is not None else str(path)


_LIBRARY_CACHE = {}


def _read_file(path, files=None):
    """The templates of a file, checked. Shipped library files are cached for the session;
    other files once per :func:`load_template` call (``files``), so an edited file is re-read
    (a modification time cannot tell two writes within the same clock tick apart)."""
    path = Path(path).resolve()
    library = path.parent == LIBRARY_DIR.resolve()
    cache = _LIBRARY_CACHE if library else files
    if cache is not None and path in cache:
        return cache[path]
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ModelError(f"a template file must map names to templates, got "
                         f"{type(data).__name__}", file=str(path))
    for name, body in data.items():
        if not isinstance(name, str):
            raise ModelError(f"template names must be strings, got {name!r}", file=str(path))
        validate_type(body, dict, "template", "a mapping of fields", error=ModelError,
                      file=str(path), template=name)
    if cache is not None:
        cache[path] = data
    return data


def _split_ref(ref):
    """``(file part or None, template name or None)`` of a reference string."""
    windows_drive = len(ref) > 2 and ref[1] == ":" and ref[2] in "\\/"
    if ":" in ref[2 if windows_drive else 0:]:
        file_part, name = ref.rsplit(":", 1)
        return file_part, name
    if is_yaml_path(ref):
        return ref, None
    return None, ref


def _chain(keys):
    return " -> ".join(name if name.isidentifier() else repr(name) for _, name in keys)


class _Loader:
    def __init__(self, search_path=None):
        if isinstance(search_path, (str, os.PathLike)):
            search_path = [search_path]
        self.search_path = []
        for folder in search_path or ():
            folder = Path(folder).resolve()
            if not folder.is_dir():
                raise ModelError(f"search_path entry {str(folder)!r} is not a folder")
            self.search_path.append(folder)
        self._loading = []   # (file, name) of the templates being built: detects cycles
        self._files = {}     # files read by this load

    # -- references ------------------------------------------------------------------------
    def locate(self, ref, context_file=None, field=None):
        """Return (file path, template name) for a reference.

        ``context_file`` is the file the reference is written in (None: the user's own call,
        which may name any YAML file).
        """
        if isinstance(ref, os.PathLike):
            ref = os.fspath(ref)
        where = dict(file=None if context_file is None else str(context_file), field=field)
        if not isinstance(ref, str) or not ref or len(ref) > _MAX_REF_LENGTH or \
                not ref.isprintable():
            raise ModelError(f"a template reference must be a non-empty string of at most "
                             f"{_MAX_REF_LENGTH} printable characters, got {ref!r:.200}",
                             **where)
        file_part, name = _split_ref(ref)
        if file_part is None:
            return self._locate_name(name, context_file, where)
        folder = None if context_file is None else Path(context_file).parent
        path = self.find_file(file_part, folder, **where)
        if name is not None:
            return path, name
        data = _read_file(path, self._files)
        circuits = [n for n, b in data.items() if b.get("kind") == "circuit"]
        if path.stem in data:
            return path, path.stem
        if len(data) == 1:
            return path, next(iter(data))
        if len(circuits) == 1:
            return path, circuits[0]
        raise ModelError(f"{path.name} holds several templates {sorted(data)}; name one as "
                         f"'{ref}:Template'", file=str(path), field=field)

    def _locate_name(self, name, context_file, where):
        if context_file is not None and name in _read_file(context_file, self._files):
            return Path(context_file), name
        hits = [path for path in sorted(LIBRARY_DIR.glob("*.yaml"))
                if name in _read_file(path, self._files)]
        if not hits:
            known = sorted({n for names in library_templates().values() for n in names})
            raise UnknownModelNameError(f"unknown template {name!r}; library templates: "
                                        f"{known}", **where)
        if len(hits) > 1:
            raise ModelError(f"template {name!r} is defined in several library files "
                             f"{[p.stem for p in hits]}; write 'file:{name}'", **where)
        return hits[0], name

    def find_file(self, file_part, folder, file=None, field=None):
        """The resolved template file ``file_part`` names, from a file in ``folder``.

        ``folder`` None: the user's own call (any YAML file). Otherwise the file must lie in
        the library, under ``folder`` or under a search-path folder, after following links;
        nothing outside is read (not even checked for existence).
        """
        where = dict(file=file, field=field)
        if not is_yaml_path(file_part):
            library = LIBRARY_DIR / f"{file_part}.yaml"
            if file_part.isidentifier() and library.is_file():
                return library.resolve()
            raise ModelError(f"template file {file_part!r} is neither a library file "
                             f"{sorted(p.stem for p in LIBRARY_DIR.glob('*.yaml'))} nor a "
                             ".yaml/.yml file", **where)
        path = Path(file_part)
        if folder is None:
            candidates = [path] + [d / path for d in self.search_path if not path.is_absolute()]
            roots = None
        else:
            candidates = [folder / path] + [d / path for d in self.search_path]
            roots = [LIBRARY_DIR.resolve(), folder.resolve(), *self.search_path]
        resolved = [c.resolve() for c in candidates]
        if roots is not None:
            resolved = [c for c in resolved if any(c.is_relative_to(r) for r in roots)]
            if not resolved:
                raise ModelError(
                    f"template file {file_part!r} lies outside the folders a template file may "
                    f"reference: the shipped library and its own folder {str(folder)!r} (and "
                    "below); pass search_path=[...] to load_template to allow another folder",
                    **where)
        for cand in resolved:
            if cand.is_file():
                return cand
        raise ModelError(f"template file {file_part!r} not found (looked at "
                         f"{[str(c) for c in resolved]})", **where)

    # -- inheritance -----------------------------------------------------------------------
    def raw(self, path, name):
        """The template's fields with its base chain merged in (iteratively, bounded)."""
        chain, key = [], (str(path), name)
        while True:
            data = _read_file(key[0], self._files)
            if key[1] not in data:
                raise ModelError(f"no template {key[1]!r} in this file; it has {sorted(data)}",
                                 file=key[0])
            if key in [k for k, _ in chain]:
                keys = [k for k, _ in chain][[k for k, _ in chain].index(key):] + [key]
                raise ModelError(f"circular inheritance: {_chain(keys)}", file=key[0],
                                 template=key[1], field="base")
            if len(chain) >= MAX_NESTING:
                raise ModelError(f"the chain of 'base:' is longer than {MAX_NESTING} templates "
                                 f"({_chain([k for k, _ in chain[:3]])} -> ...)",
                                 file=str(path), template=name, field="base")
            body = data[key[1]]
            chain.append((key, body))
            if "base" not in body:
                break
            try:
                base_path, base_name = self.locate(body["base"], key[0], field="base")
            except ModelError as err:
                raise err.within(template=key[1]) from None
            key = (str(base_path), base_name)
        merged = dict(chain[-1][1])
        for _, body in reversed(chain[:-1]):
            for field, value in body.items():
                if field in _DICT_FIELDS and isinstance(value, dict) and \
                        isinstance(merged.get(field), dict):
                    merged[field] = _merge(merged[field], value)
                elif field in _ENTRY_FIELDS and isinstance(value, dict) and \
                        isinstance(merged.get(field), dict):
                    merged[field] = {**merged[field], **value}
                else:
                    merged[field] = value
        merged.pop("base", None)
        return merged

    # -- building --------------------------------------------------------------------------
    def load(self, ref, context_file=None, field=None):
        path, name = self.locate(ref, context_file, field)
        key = (str(path), name)
        where = dict(file=None if context_file is None else str(context_file), field=field)
        if key in self._loading:
            keys = self._loading[self._loading.index(key):] + [key]
            raise ModelError(f"circular reference: {_chain(keys)} (a template cannot contain "
                             "itself)", **where)
        if len(self._loading) >= MAX_NESTING:
            raise ModelError(f"templates nested more than {MAX_NESTING} levels deep "
                             f"({_chain(self._loading[:3])} -> ...)", **where)
        self._loading.append(key)
        try:
            return self._build(path, name)
        finally:
            self._loading.pop()

    def _build(self, path, name):
        body = self.raw(path, name)
        kind = body.get("kind")
        ctx = dict(file=str(path), template=name)
        check_option("'kind'", kind, sorted(_FIELDS), extra=" (or inherited through 'base')",
                     error=ModelError, field="kind", **ctx)
        unknown = sorted(set(body) - _FIELDS[kind], key=str)
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
            check_name(label, "operator label", field=fld, **ctx)
            if isinstance(spec, str):
                spec = {"template": spec}
            if not isinstance(spec, dict) or "template" not in spec:
                raise ModelError("an operator entry is a template name or a mapping with "
                                 "'template' (and optional 'rename', 'params')", field=fld, **ctx)
            extra = sorted(set(spec) - {"template", "rename", "params"}, key=str)
            if extra:
                raise ModelError(f"unknown field(s) {extra}", field=fld, **ctx)
            op = self.load(spec["template"], path, field=fld)
            if not isinstance(op, Operator):
                raise ModelError(f"{spec['template']!r} is a {type(op).__name__}, not an "
                                 "operator", field=fld, **ctx)
            try:     # errors name this node's file and field, not the operator's template
                if spec.get("rename"):
                    op = op.renamed(_mapping(spec, "rename", ctx))
                if spec.get("params"):
                    op = op.with_defaults(_mapping(spec, "params", ctx))
            except ModelError as err:
                sub = "rename" if spec.get("rename") and err.field == "rename" else "params"
                raise ModelError(err.reason, field=f"{fld}.{sub}", **ctx) from None
            built[label] = op
        node = Node(name, built, description=body.get("description", ""), file=str(path))
        for key, value in _mapping(body, "params", ctx).items():
            try:
                node.set_default(key, value)
            except (KeyError, ModelError) as err:
                reason = err.reason if isinstance(err, ModelError) else str(err.args[0])
                raise ModelError(reason, field=f"params.{key}", **ctx) from None
        return node

    def _build_circuit(self, path, name, body, ctx):
        nodes_spec = body.get("nodes")
        if not isinstance(nodes_spec, dict) or not nodes_spec:
            raise ModelError("a circuit needs 'nodes': a mapping label -> template or "
                             "{template, params}", field="nodes", **ctx)
        nodes = {}
        for label, spec in nodes_spec.items():
            fld = f"nodes.{label}"
            check_name(label, "node label", field=fld, **ctx)
            if isinstance(spec, str):
                spec = {"template": spec}
            if not isinstance(spec, dict) or "template" not in spec:
                raise ModelError("a node entry is a template name or a mapping with 'template' "
                                 "(and optional 'params')", field=fld, **ctx)
            extra = sorted(set(spec) - {"template", "params"}, key=str)
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
                except (KeyError, TypeError, ValueError) as err:
                    raise ModelError(_reason(err), field=f"{fld}.params.{key}", **ctx) from None
            nodes[label] = obj
        edges_spec = body.get("edges") or []
        if not isinstance(edges_spec, list):
            raise ModelError(f"'edges' must be a list of mappings, got "
                             f"{type(edges_spec).__name__}", field="edges", **ctx)
        edges = []
        for i, spec in enumerate(edges_spec):
            fld = f"edges[{i}]"
            if not isinstance(spec, dict):
                raise ModelError("an edge is a mapping {source, target, weight, delay, name, "
                                 "operator}", field=fld, **ctx)
            extra = sorted(set(spec) - {"source", "target", "weight", "delay", "name",
                                        "operator"}, key=str)
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
                sub = f"{fld}.{err.field}" if err.field else fld
                raise ModelError(err.reason, field=sub, **ctx) from None
        circuit = Circuit(name, nodes, edges, description=body.get("description", ""),
                          reference=body.get("reference", ""), file=str(path),
                          coupling=body.get("coupling"), observables=body.get("observables"))
        for key, value in _mapping(body, "params", ctx).items():
            try:
                circuit.set_parameter(key, value)
            except (KeyError, TypeError, ValueError) as err:
                raise ModelError(_reason(err), field=f"params.{key}", **ctx) from None
        return circuit


def _reason(err):
    """The message of an error raised for a value set here (without another file's context)."""
    return err.reason if isinstance(err, ModelError) else str(err.args[0])


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
    validate_type(value, dict, f"'{field}'", "a mapping", error=ModelError, field=field, **ctx)
    return value


def _variable(spec, **ctx):
    if isinstance(spec, bool):
        raise ModelError(f"a variable declaration cannot be a boolean ({spec})", **ctx)
    if isinstance(spec, (int, float)):
        try:
            return Variable("parameter", spec)
        except ModelError as err:
            raise err.within(**ctx) from None
    if isinstance(spec, str):
        return Variable(spec) if spec in ("state", "input", "output", "variable", "parameter") \
            else _fail(f"a variable declared by a word must be a kind (state, parameter, input, "
                       f"output, variable), got {spec!r}", ctx)
    if not isinstance(spec, dict):
        _fail(f"a variable declaration is a number, a kind or a mapping, got "
              f"{type(spec).__name__}", ctx)
    extra = sorted(set(spec) - {"kind", "default", "unit", "description", "noise"},
                   key=str)
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
