"""The one reader (and writer) of YAML in rate_bridge: model templates, run configurations,
command-line values.

Every YAML file is treated as untrusted. On top of ``yaml.safe_load`` this reader

- refuses files larger than :data:`MAX_FILE_BYTES` before reading them, and anything that is
  not a regular file (a FIFO would block, ``/dev/zero`` never ends);
- refuses documents nested deeper than :data:`MAX_DEPTH` or whose aliases expand to more than
  :data:`MAX_NODES` nodes ("billion laughs"), and self-referencing aliases, before constructing
  anything;
- refuses duplicate keys (YAML would silently keep the last one);
- reads ``1e-3``, ``1E5``, ``.5e3``, ``-2e-4`` as floats (YAML 1.1 reads them as strings, which no
  user means);
- constructs only plain scalars, lists and dicts: timestamps stay text, and the ``!!binary``,
  ``!!set``, ``!!omap`` and ``!!pairs`` tags are refused.

Errors are :class:`~rate_bridge.model.ModelError` naming the file (and line); they never quote
the file's content beyond the offending key.
"""
import os
import re
import stat
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ..utils import validate_type
from .errors import ModelError

#: Largest YAML file read (bytes); templates and configurations are a few kB.
MAX_FILE_BYTES = 1 << 20
#: Deepest nesting of lists/mappings in a document.
MAX_DEPTH = 64
#: Most nodes a document may hold once its aliases are expanded.
MAX_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
# floats without a dot or with an unsigned exponent, which YAML 1.1 leaves as strings
_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with a nesting bound, scientific floats and plain types only."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # the composer recurses once per level: bound it before Python's recursion limit does
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _refuse_tag(self, node):
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag!r} is not allowed (only numbers, strings, booleans, "
            "null, lists and mappings)", node.start_mark)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader._refuse_tag)


def read_yaml(path, max_bytes=None):
    """Read one YAML file safely.

    Parameters
    ----------
    path : path-like
        The file; it must be a regular file of at most ``max_bytes`` bytes, UTF-8 encoded.
    max_bytes : int | None
        Size limit; None for :data:`MAX_FILE_BYTES`.

    Returns
    -------
    object
        Plain data: dict, list, str, int, float, bool or None.
    """
    path = Path(path)
    limit = MAX_FILE_BYTES if max_bytes is None else int(max_bytes)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ModelError("not a regular file", file=str(path))
        if info.st_size > limit:
            raise ModelError(f"file too large ({info.st_size} bytes; the limit is {limit} "
                             "bytes, rate_bridge.model.yamlio.MAX_FILE_BYTES)", file=str(path))
        with open(path, "rb") as fid:
            data = fid.read(limit + 1)    # the file may have grown since stat()
    except OSError as err:
        raise ModelError(f"cannot read the file: {err.strerror or err}", file=str(path)) from None
    if len(data) > limit:
        raise ModelError(f"file too large (more than {limit} bytes)", file=str(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelError(f"not UTF-8 text (invalid byte at offset {err.start})",
                         file=str(path)) from None
    return loads_yaml(text, name=str(path), max_bytes=limit)


def loads_yaml(text, name=None, max_bytes=None):
    """Parse YAML text with the rules of :func:`read_yaml`.

    Parameters
    ----------
    text : str
        The document.
    name : str | None
        What the text is (a file name), for error messages.
    max_bytes : int | None
        Longest text (characters); None for :data:`MAX_FILE_BYTES`.
    """
    validate_type(text, str, "YAML text")
    limit = MAX_FILE_BYTES if max_bytes is None else int(max_bytes)
    if len(text) > limit:
        raise ModelError(f"YAML text too long ({len(text)} characters; the limit is {limit})",
                         file=name)
    loader = None
    try:
        loader = _Loader(text)    # checks for control characters first
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(p for p in (err.context, err.problem) if p) or "invalid YAML"
        kind = "syntax error" if isinstance(err, (yaml.scanner.ScannerError,
                                                   yaml.parser.ParserError)) else "error"
        raise ModelError(f"YAML {kind}{where}: {problem}", file=name) from None
    except yaml.reader.ReaderError as err:
        raise ModelError(f"YAML error at character {err.position}: {err.reason} "
                         f"(#x{err.character:04x})", file=name) from None
    except yaml.YAMLError as err:
        raise ModelError(f"YAML error: {err}", file=name) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_graph(root):
    """Refuse alias cycles, documents that expand past MAX_NODES and duplicate keys.

    Aliases make the composed document a graph; its expanded size is computed once per node
    (memoised, iteratively), so a small "billion laughs" file is refused in microseconds.
    """
    size, active = {}, set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            if size[key] > MAX_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"the document expands to more than {MAX_NODES} values "
                    "(aliases of aliases?)", node.start_mark)
            continue
        if key in size:
            continue
        if key in active:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a node that "
                                              "contains it", node.start_mark)
        active.add(key)
        if isinstance(node, MappingNode):
            _check_duplicates(node)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _children(node):
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return ()


def _check_duplicates(node):
    seen = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key_node.value!r} (first at line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line


class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes whatever :class:`_Loader` would not read back as the same
    value (``"1e-3"`` stays a string) and writes no anchors or aliases."""

    def ignore_aliases(self, data):
        return True


class FlowDict(dict):
    """A mapping that :func:`dumps_yaml` writes in flow style, ``{a: 1, b: text}``."""


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_Dumper.add_representer(FlowDict, lambda dumper, data: dumper.represent_mapping(
    "tag:yaml.org,2002:map", data, flow_style=True))


def dumps_yaml(data, header=None):
    """YAML text of plain data that :func:`loads_yaml` reads back as equal data.

    Parameters
    ----------
    data : dict | list
        Plain data (str, int, float, bool, None, lists, dicts); mappings keep their order,
        :class:`FlowDict` mappings are written on one line.
        Text is always written as a YAML scalar (quoted where needed), never as YAML syntax.
    header : str | None
        Comment lines put first (each line prefixed with ``# ``).

    Returns
    -------
    str
    """
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + "\n" + text
    return text


def is_yaml_path(path):
    """Whether ``path`` names a YAML file by its suffix (``.yaml`` or ``.yml``)."""
    return os.fspath(path).lower().endswith((".yaml", ".yml"))
