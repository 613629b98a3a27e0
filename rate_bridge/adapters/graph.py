"""NetworkX graphs <-> :class:`Connectome`, and GraphML files through NetworkX.

Direction convention: a directed edge ``u -> v`` is a connection **from source u onto target
v**, i.e. ``weights[v, u]`` (index of v, index of u). Undirected graphs give symmetric
matrices.

Edge attributes: ``weight`` (a.u.; 1 when absent, the NetworkX convention) and ``length``
(mm) or ``delay`` (ms, converted to mm with a conduction ``speed`` in m/s = mm/ms).
Node attributes: ``label`` (else the node itself, as str), centre as ``x``, ``y``, ``z`` (mm)
or a 3-sequence ``centre``/``center``/``pos``, and optionally ``hemisphere`` (True = right),
``cortical`` (bool), ``ox``, ``oy``, ``oz`` (orientation), ``area`` (mm²). Graph attributes
``name`` and ``coord_frame``. Node order gives the region order.
"""
import io

import numpy as np

from ..utils import logger, validate_type, verbose
from . import _common as C
from . import _files as F
from .connectome import build_connectome

_CENTRE_KEYS = ("centre", "center", "pos")


def to_networkx(conn):
    """Convert a connectome to a :class:`networkx.DiGraph` (inverse of :func:`from_networkx`).

    Nodes are the region labels in region order, with attributes ``x``, ``y``, ``z`` (mm),
    ``hemisphere``, ``cortical``, ``ox``, ``oy``, ``oz``, ``area`` when known (scalar
    attributes so the graph can be written to GraphML). There is an edge ``source -> target``
    for every pair with a non-zero weight or tract length, with attributes ``weight``
    (``weights[target, source]``) and ``length`` (mm). Graph attributes: ``name``,
    ``coord_frame``.

    Parameters
    ----------
    conn : Connectome
        The connectome.

    Returns
    -------
    graph : networkx.DiGraph
        The directed graph.
    """
    import networkx as nx
    g = nx.DiGraph(name=conn.name, coord_frame=conn.coord_frame)
    for k, lab in enumerate(conn.labels):
        attrs = {}
        if conn.centres is not None:
            attrs.update(x=float(conn.centres[k, 0]), y=float(conn.centres[k, 1]),
                         z=float(conn.centres[k, 2]))
        if conn.hemispheres is not None:
            attrs["hemisphere"] = bool(conn.hemispheres[k])
        if conn.cortical is not None:
            attrs["cortical"] = bool(conn.cortical[k])
        if conn.orientations is not None:
            attrs.update(ox=float(conn.orientations[k, 0]), oy=float(conn.orientations[k, 1]),
                         oz=float(conn.orientations[k, 2]))
        if conn.areas is not None:
            attrs["area"] = float(conn.areas[k])
        g.add_node(lab, **attrs)
    targets, sources = np.nonzero((conn.weights != 0) | (conn.tract_lengths != 0))
    labels = conn.labels
    g.add_edges_from((labels[s], labels[t], {"weight": float(conn.weights[t, s]),
                                             "length": float(conn.tract_lengths[t, s])})
                     for t, s in zip(targets, sources))
    return g


def _node_values(graph, nodes, keys, name, what):
    """Per-node values for attribute names ``keys``: all nodes or none must have them."""
    have = [all(k in graph.nodes[n] for k in keys) for n in nodes]
    if not any(have):
        return None
    if not all(have):
        missing = [str(n) for n, h in zip(nodes, have) if not h]
        raise ValueError(f"{name}: node attribute(s) {list(keys)} ({what}) given for some nodes "
                         f"but missing for {missing[:10]}")
    return [[graph.nodes[n][k] for k in keys] for n in nodes]


@verbose
def from_networkx(graph, *, weight="weight", length="length", delay="delay", speed=None,
                  coord_frame=None, name=None, verbose=None):
    """Build a :class:`Connectome` from a NetworkX graph.

    Parameters
    ----------
    graph : networkx.Graph | networkx.DiGraph
        Edge ``u -> v`` is the connection from source ``u`` onto target ``v``
        (``weights[v, u]``); an undirected edge counts both ways. Multigraphs are refused.
    weight : str
        Edge attribute with the strength (a.u.); 1.0 when an edge lacks it.
    length : str
        Edge attribute with the tract length in mm (0 when absent).
    delay : str
        Edge attribute with a conduction delay in ms, used for edges without ``length``;
        needs ``speed``.
    speed : float | None
        Conduction speed in m/s (= mm/ms) to turn delays into lengths: length = delay * speed.
    coord_frame : str | None
        Frame of node centres; default the graph attribute ``coord_frame`` or ``"unknown"``.
    name : str | None
        Name of the connectome; default the graph's ``name`` or ``"networkx graph"``.
    %(verbose)s

    Returns
    -------
    conn : Connectome
        Regions in node order.
    """
    import networkx as nx
    validate_type(graph, nx.Graph, "graph", "a networkx Graph or DiGraph")
    where = f"networkx graph {graph.graph.get('name') or ''!r}".replace(" ''", "")
    if graph.is_multigraph():
        raise ValueError(f"{where}: multigraphs are not supported (parallel edges are "
                         f"ambiguous); collapse them into a DiGraph first")
    nodes = list(graph.nodes)
    n = len(nodes)
    if n == 0:
        raise ValueError(f"{where}: the graph has no nodes")
    if all("label" in graph.nodes[u] for u in nodes):
        labels = [str(graph.nodes[u]["label"]) for u in nodes]
    else:
        labels = [str(u) for u in nodes]
    labels = C.check_labels(labels, n, where)
    if speed is not None:
        speed = float(speed)
        if not np.isfinite(speed) or speed <= 0:
            raise ValueError(f"speed must be a positive finite number in m/s, got {speed}")
    # weights, lengths and their checked copies are dense: a graph of many nodes (a few MB of
    # GraphML) could ask for terabytes
    F.check_alloc(4 * 8 * n * n, where, f"dense matrices for {n} nodes")
    w, tl = _edge_matrices(graph, nodes, weight, length, delay, speed, where)
    w = C.check_weights(w, where)
    tl = C.check_weights(tl, where, "tract_lengths (edge lengths)")
    fields = _node_fields(graph, nodes, where)
    if coord_frame is None:
        coord_frame = graph.graph.get("coord_frame", "unknown")
    conn = build_connectome(where, weights=w, tract_lengths=tl, labels=labels,
                              coord_frame=coord_frame,
                              name=name or graph.graph.get("name") or "networkx graph", **fields)
    logger.info(f"Converted {where} to {conn!r}")
    return conn


def _edge_matrices(graph, nodes, weight, length, delay, speed, where):
    """Dense ``[target, source]`` weights and tract lengths (mm) of the graph's edges."""
    n = len(nodes)
    index = {u: k for k, u in enumerate(nodes)}
    w = np.zeros((n, n))
    tl = np.zeros((n, n))
    for u, v, data in graph.edges(data=True):
        src, tgt = index[u], index[v]
        val = data.get(weight, 1.0)
        lval = data.get(length)
        if lval is None and delay in data:
            if speed is None:
                raise ValueError(f"{where}: edge {u!r} -> {v!r} has a {delay!r} (ms) but no "
                                 f"{length!r}; pass speed (m/s) to convert delays to lengths")
            lval = float(data[delay]) * speed
        try:
            val = float(val)
            lval = 0.0 if lval is None else float(lval)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: edge {u!r} -> {v!r} has non-numeric {weight!r} or "
                             f"{length!r}: {data}") from None
        for (i, j) in ((tgt, src),) if graph.is_directed() else ((tgt, src), (src, tgt)):
            w[i, j] = val
            tl[i, j] = lval
    return w, tl


def _node_fields(graph, nodes, where):
    """Optional :class:`Connectome` fields (centres, orientations, hemispheres, cortical,
    areas) from node attributes."""
    n = len(nodes)
    fields = {}
    xyz = _node_values(graph, nodes, ("x", "y", "z"), where, "centre in mm")
    if xyz is None:
        for key in _CENTRE_KEYS:
            vals = _node_values(graph, nodes, (key,), where, "centre in mm")
            if vals is not None:
                xyz = [v[0] for v in vals]
                break
    if xyz is not None:
        try:
            fields["centres"] = C.check_centres(xyz, n, where)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: node centres must be 3 numbers (x, y, z in mm) per "
                             f"node ({err})") from None
    ori = _node_values(graph, nodes, ("ox", "oy", "oz"), where, "orientation")
    if ori is not None:
        fields["orientations"] = C.check_centres(ori, n, where, "orientations")
    for key, field in (("hemisphere", "hemispheres"), ("cortical", "cortical")):
        vals = _node_values(graph, nodes, (key,), where, field)
        if vals is not None:
            fields[field] = [_as_bool(v[0], where, key) for v in vals]
    area = _node_values(graph, nodes, ("area",), where, "area in mm²")
    if area is not None:
        fields["areas"] = [v[0] for v in area]
    return fields


def _as_bool(value, where, key):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "0", "1"):
        return value.lower() in ("true", "1")
    raise ValueError(f"{where}: node attribute {key!r} must be a bool, got {value!r}")


@verbose
@F.reader
def read_graphml(path, *, speed=None, coord_frame=None, verbose=None):
    """Read a GraphML file (via :func:`networkx.read_graphml`) into a :class:`Connectome`.

    Parameters
    ----------
    path : str | path-like
        The ``.graphml`` file. Node ids are the labels unless nodes have a ``label``
        attribute; see :func:`from_networkx` for the attributes used (edge ``u -> v`` is
        the connection from source u onto target v).
    speed : float | None
        Conduction speed in m/s to turn edge ``delay`` attributes (ms) into lengths (mm).
    coord_frame : str | None
        Frame of the node centres (default the graph's ``coord_frame`` or ``"unknown"``).
    %(verbose)s

    Returns
    -------
    conn : Connectome
        Regions in the file's node order; name from the graph or the file stem.
    """
    import networkx as nx
    path = C.check_exists(C.as_path(path))
    F.Budget(path, text=True).check(path.stat().st_size, str(path), "holds")
    try:
        g = nx.read_graphml(path)
    except Exception as err:  # ElementTree.ParseError, NetworkXError, KeyError...
        raise ValueError(f"{path}: not a readable GraphML file ({type(err).__name__}: "
                         f"{err})") from None
    if not g.graph.get("name"):
        g.graph["name"] = C.stem(path)
    try:
        return from_networkx(g, speed=speed, coord_frame=coord_frame)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


@verbose
def write_graphml(conn, path, *, overwrite=False, verbose=None):
    """Write a connectome to GraphML: the graph of :func:`to_networkx`.

    Floats are written with Python's shortest exact representation, so :func:`read_graphml`
    gives back identical values.

    Parameters
    ----------
    conn : Connectome
        The connectome.
    path : str | path-like
        Output ``.graphml`` file.
    overwrite : bool
        Replace an existing file.
    %(verbose)s

    Returns
    -------
    path : pathlib.Path
        The written file.
    """
    import networkx as nx
    path = C.writable_target(path, overwrite, conn, "GraphML")
    buf = io.BytesIO()
    nx.write_graphml(to_networkx(conn), buf)
    F.commit({path: buf.getvalue()})
    logger.info(f"Wrote {conn!r} to {path}")
    return path
