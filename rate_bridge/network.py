"""A built network: circuits placed on regions, coupled through a sparse connectome.

Connectivity is stored target-major (CSR rows are targets), as TVB's ``weights[target, source]``.
Parameters are per-region arrays; weights, delays and parameters are values handed to the
compiled kernel at run time, so changing them never recompiles.
"""
import copy

import numpy as np
import scipy.sparse as sp

from .compile.graph import flatten
from .model.coupling import COUPLING_FUNCTIONS, parse_coupling  # noqa: F401 (re-exported)
from .model.errors import ModelError, UnknownModelNameError
from .model.templates import Circuit
from .utils import (UnknownNameError, finite_number, logger, region_indices, validate_type,
                    verbose)


class Coupling:
    """How one variable of every region drives an input of the regions it projects to.

    Parameters
    ----------
    source : str
        Qualified variable of the source region's circuit (``"pc.v"``).
    target : str
        Qualified input of the target region's circuit (``"pc.m_in_e"``).
    function : str
        A name from :data:`COUPLING_FUNCTIONS` or an expression in ``x_j`` (the source's delayed
        value), ``x_i`` (the target's own current value of ``source``) and parameters.
    params : dict
        Values of the function's parameters (defaults of named functions are filled in).
    global_coupling : float
        Scales the summed input (``G``).
    """

    def __init__(self, source, target, function="linear", params=None, global_coupling=1.0):
        self.source, self.target = str(source), str(target)
        self.name, self.expression, self.params = parse_coupling(
            function, params, template="coupling", field="function")
        self.global_coupling = finite_number(global_coupling, "global_coupling")

    @property
    def pre_transformed(self):
        """True when f depends on x_j only: f is then applied once per region when the value
        enters the delay buffer, instead of once per edge."""
        return "x_i" not in self.expression.symbols

    def signature(self):
        return f"C {self.source} {self.target} {self.expression.text} {sorted(self.params)}"

    def __repr__(self):
        return (f"Coupling({self.source} -> {self.target}, {self.expression.text!r}, "
                f"G={self.global_coupling:g})")


class Network:
    """Circuits on regions coupled through a connectome.

    Build with :meth:`from_connectome`, :meth:`from_arrays` or :meth:`from_circuit`.

    Attributes
    ----------
    labels : list of str
        Region labels.
    circuits : list of Circuit
        The circuit of each region (regions sharing a structure are simulated as one group).
    weights : scipy.sparse.csr_matrix, shape (n_regions, n_regions)
        ``weights[target, source]``; explicit zeros are not stored.
    delays : scipy.sparse.csr_matrix
        Per-edge delays in seconds, same sparsity as ``weights``.
    couplings : list of Coupling
    """

    def __init__(self, circuits, labels, weights=None, delays=None, couplings=(),
                 name="network"):
        self.name = name
        self.labels = [str(lab) for lab in labels]
        n = len(self.labels)
        if len(set(self.labels)) != n:
            raise ValueError("region labels must be unique")
        if isinstance(circuits, Circuit):
            circuits = [circuits] * n
        circuits = list(circuits)
        if len(circuits) != n:
            raise ValueError(f"got {len(circuits)} circuits for {n} regions")
        for i, c in enumerate(circuits):
            validate_type(c, Circuit, f"circuit of region {self.labels[i]!r}")
        self.couplings = list(couplings)
        self.weights, self.delays = _sparse_pair(weights, delays, n)
        self._build_groups(circuits)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_circuit(cls, circuit, label=None):
        """A one-region network running ``circuit``."""
        circuit = _as_circuit(circuit)
        return cls([circuit], [label or circuit.name], name=circuit.name)

    @classmethod
    @verbose
    def from_arrays(cls, weights, node, *, delays=None, labels=None, coupling=None,
                    coupling_function=None, coupling_params=None, global_coupling=1.0,
                    allow_negative=False, self_connections=True, name="network", verbose=None):
        """Build a network from a weight matrix and optional delays.

        Parameters
        ----------
        weights : array-like | scipy.sparse matrix, shape (n_regions, n_regions)
            **Target-major**: ``weights[target, source]`` (TVB's convention).
        node : Circuit | str | list of (Circuit | str)
            The circuit (or template name) of every region, or one per region.
        delays : array-like, shape (n_regions, n_regions) | None
            Conduction delays in seconds, ``[target, source]``; None for no delays.
        labels : list of str | None
            Region labels (``"r0"...`` by default).
        coupling : (str, str) | list of (str, str) | list of Coupling | None
            ``(source variable, target input)`` pairs, e.g. ``("pc.v", "pc.m_in_e")``. None:
            the coupling the circuits declare (:attr:`Circuit.coupling
            <rate_bridge.model.Circuit>`), where the weights hold edges; without edges, none.
        coupling_function : str | None
            Named function of :data:`COUPLING_FUNCTIONS` or an expression in ``x_j``, ``x_i``.
            None: for a pair leaving the source the circuits declare, their declared function
            and parameters (e.g. a sigmoid turning a potential into a rate); ``"linear"`` for
            any other pair.
        coupling_params : dict | None
            Parameters of the coupling function (over the declared ones, if any).
        global_coupling : float
            Global scaling ``G`` of the coupling.
        allow_negative : bool
            Accept negative weights (e.g. inhibitory projections); refused by default.
        self_connections : bool
            Keep the diagonal of ``weights`` (True, as TVB) or drop it.
        %(verbose)s
        """
        W = _check_matrix(weights, "weights", allow_negative=allow_negative)
        n = W.shape[0]
        D = None
        if delays is not None:
            D = _check_matrix(delays, "delays", allow_negative=False)
            if D.shape != W.shape:
                raise ValueError(f"delays have shape {D.shape} but weights have shape {W.shape}")
        if not self_connections:
            W = W.tolil()
            W.setdiag(0)
            W = W.tocsr()
        elif W.diagonal().any():
            logger.info(f"{int(np.count_nonzero(W.diagonal()))} regions have self-connections "
                        "(kept; pass self_connections=False to drop them)")
        labels = labels if labels is not None else [f"r{i}" for i in range(n)]
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for a {n}x{n} weight matrix")
        circuits = _circuits_for(node, n)
        couplings = _couplings(coupling, coupling_function, coupling_params, global_coupling,
                               circuits, has_edges=bool(W.nnz))
        if couplings == [] and W.nnz:
            raise ValueError("weights were given but no coupling, and the circuit declares "
                             "none: say which variable drives which input, "
                             "coupling=('node.variable', 'node.input')")
        return cls(circuits, labels, W, D, couplings, name=name)

    @classmethod
    @verbose
    def from_connectome(cls, connectome, node, *, coupling=None, coupling_function=None,
                        coupling_params=None, global_coupling=1.0, speed=None,
                        allow_negative=False, self_connections=True, verbose=None):
        """Place one circuit on every region of a connectome.

        Parameters
        ----------
        connectome : Connectome
            Its ``weights[target, source]`` (TVB's convention) and ``tract_lengths`` in mm.
        node : Circuit | str | list
            Circuit (or template name) for every region, or one per region.
        coupling : (str, str) | list | None
            ``(source variable, target input)``, e.g. ``("pc.v", "pc.m_in_e")``; None: the
            coupling the circuit declares (e.g. the Jansen-Rit template's sigmoid of ``pc.v``
            into ``pc.m_in_e``).
        coupling_function : str | None
            See :data:`COUPLING_FUNCTIONS`; None: the circuit's declared function for a pair
            leaving its declared source, ``"linear"`` otherwise (see :meth:`from_arrays`).
        coupling_params : dict | None
            Parameters of the coupling function.
        global_coupling : float
            ``G``.
        speed : float | None
            Conduction speed in m/s (= mm/ms), positive; per-edge delay = tract length / speed.
            None or ``inf`` means no delays (NaN is refused).
        %(verbose)s
        """
        from .adapters import Connectome
        validate_type(connectome, Connectome, "connectome",
                      "a Connectome (see rate_bridge.adapters.read_connectome)")
        delays = None
        if speed is not None and not _infinite_speed(speed):
            delays = connectome.delays(speed)
            delays = np.where(connectome.weights != 0, delays, 0.0)
        net = cls.from_arrays(connectome.weights, node, delays=delays, labels=connectome.labels,
                              coupling=coupling, coupling_function=coupling_function,
                              coupling_params=coupling_params, global_coupling=global_coupling,
                              allow_negative=allow_negative, self_connections=self_connections,
                              name=connectome.name)
        net.connectome = connectome
        return net

    def _build_groups(self, circuits):
        """Group regions by circuit structure and check the couplings against each group."""
        sources = {c.source for c in self.couplings}
        by_sig, self.groups, flat_of = {}, [], {}
        for r, circuit in enumerate(circuits):
            if id(circuit) not in flat_of:     # regions usually share one circuit object
                flat = flatten(circuit, extra_sources=sources & set(circuit.variables))
                flat_of[id(circuit)] = (flat, flat.signature())
            flat, sig = flat_of[id(circuit)]
            if sig not in by_sig:
                by_sig[sig] = len(self.groups)
                self.groups.append({"circuit": circuit, "flat": flat, "regions": []})
            self.groups[by_sig[sig]]["regions"].append(r)
        for g in self.groups:
            g["regions"] = np.asarray(g["regions"], dtype=np.int64)
            flat = g["flat"]
            g["values"] = {p: np.full(len(g["regions"]), flat.defaults[p]) for p in flat.params}
            g["initial"] = {s: np.full(len(g["regions"]), flat.initial[s]) for s in flat.states}
        self.region_group = np.empty(len(self.labels), dtype=np.int64)
        self.region_index = np.empty(len(self.labels), dtype=np.int64)
        for gi, g in enumerate(self.groups):
            self.region_group[g["regions"]] = gi
            self.region_index[g["regions"]] = np.arange(len(g["regions"]))
        W = self.weights.tocoo()
        for c in self.couplings:
            src_groups = set(self.region_group[W.col]) if W.nnz else set()
            tgt_groups = set(self.region_group[W.row]) if W.nnz else set()
            for gi in src_groups:
                flat = self.groups[gi]["flat"]
                if c.source not in flat.variables:
                    raise UnknownModelNameError(
                        f"coupling source {c.source!r} is not a variable of circuit "
                        f"{flat.name!r} (variables: {flat.variables})")
                deps = flat.source_dependencies(c.source) & set(flat.inputs)
                if deps:
                    raise ModelError(f"coupling source {c.source!r} depends on input(s) "
                                     f"{sorted(deps)}; couple from a quantity computed from "
                                     "states only")
            for gi in tgt_groups:
                flat = self.groups[gi]["flat"]
                if c.target not in flat.inputs:
                    raise ModelError(f"coupling target {c.target!r} is not an input of circuit "
                                     f"{flat.name!r} (inputs: {flat.inputs})")

    # -- inspection ------------------------------------------------------------------------
    @property
    def n_regions(self):
        return len(self.labels)

    @property
    def circuits(self):
        out = [None] * self.n_regions
        for g in self.groups:
            for r in g["regions"]:
                out[r] = g["circuit"]
        return out

    def _over_regions(self, where):
        out = {}
        for g in self.groups:
            for name, values in g[where].items():
                arr = out.setdefault(name, np.full(self.n_regions, np.nan))
                arr[g["regions"]] = values
        return out

    @property
    def parameters(self):
        """``{"pc.u": array over regions, ...}`` (NaN where a region's circuit lacks it)."""
        return self._over_regions("values")

    @property
    def initial_state(self):
        """``{"pc.psp_e": array over regions, ...}``: the initial value of every state."""
        return self._over_regions("initial")

    @property
    def observables(self):
        """What measurements see of the regions (:attr:`Circuit.observables
        <rate_bridge.model.Circuit>`), a fresh copy: one dict, or a list with one per circuit
        type when regions run different circuits (in the order of ``groups``)."""
        found = [copy.deepcopy(g["circuit"].observables) for g in self.groups]
        return found[0] if len(found) == 1 else found

    @property
    def units(self):
        out = {}
        for g in self.groups:
            out.update(g["flat"].units)
        return out

    @property
    def variables(self):
        names = []
        for g in self.groups:
            names += [v for v in g["flat"].variables if v not in names]
        return names

    def __repr__(self):
        return (f"<Network {self.name!r} | {self.n_regions} regions, {self.weights.nnz} edges, "
                f"{len(self.groups)} circuit type(s), couplings {self.couplings}>")

    def kernel_spec(self, integrator="heun", parallel="batch", specialize=False, monitors=()):
        """The :class:`~rate_bridge.compile.KernelSpec` of this network: what its kernel is
        generated from (structure) and the layout of its arrays (sizes); ``specialize``
        compiles this network's sizes in, ``monitors`` the kinds of streaming monitor used
        (see :func:`~rate_bridge.simulate`)."""
        from .compile import KernelSpec
        return KernelSpec([g["flat"] for g in self.groups], self.couplings, integrator,
                          parallel, [len(g["regions"]) for g in self.groups], specialize,
                          monitors)

    def show_code(self, integrator="heun", parallel="batch"):
        """The generated kernel source for this network (readable Python compiled by numba)."""
        from .compile import generate
        return generate(self.kernel_spec(integrator, parallel))

    # -- change ----------------------------------------------------------------------------
    def _region_indices(self, regions):
        if regions is None:
            return np.arange(self.n_regions)
        return region_indices(regions, self.labels)

    def set_parameter(self, name, value, regions=None):
        """Set a parameter (or input baseline, edge weight/delay) for all or some regions.

        Parameters
        ----------
        name : str
            Qualified name, e.g. ``"pc.u"``.
        value : float | array-like
            One value, or one per selected region (heterogeneous networks).
        regions : list of str | list of int | None
            Region labels or indices; all regions by default.
        """
        self._set(name, value, regions, "values")
        return self

    def set_initial_state(self, name, value, regions=None):
        """Set the initial value of a state variable for all or some regions."""
        self._set(name, value, regions, "initial")
        return self

    def _set(self, name, value, regions, where):
        idx = self._region_indices(regions)
        value = np.broadcast_to(np.asarray(value, dtype=float), idx.shape)
        if not np.isfinite(value).all():
            raise ValueError(f"{name}: values must be finite")
        hit = False
        for g in self.groups:
            store = g[where]
            mask = np.isin(g["regions"], idx)
            if name in store and mask.any():
                local = self.region_index[g["regions"][mask]]
                order = {r: i for i, r in enumerate(idx)}
                store[name][local] = value[[order[r] for r in g["regions"][mask]]]
                hit = True
        if not hit:
            raise UnknownNameError(
                f"{name!r} is not a {'parameter' if where == 'values' else 'state'} of the "
                f"selected regions; known: {sorted({k for g in self.groups for k in g[where]})}")

    def set_weights(self, weights, delays=None):
        """Replace weights (and delays) — same sparsity pattern or not; no recompilation."""
        self.weights, self.delays = _sparse_pair(weights, delays if delays is not None
                                                 else None, self.n_regions)


def _infinite_speed(speed):
    """True for speed = +inf (no delays); errors naming ``speed`` for anything but a positive
    number (NaN included, which would otherwise also mean "no delays")."""
    validate_type(speed, "numeric", "speed", "a number in m/s (or None)")
    if not speed > 0:           # NaN, 0 and negative speeds
        raise ValueError(f"speed must be a positive number of m/s (or None / inf for no "
                         f"delays), got {speed}")
    return speed == np.inf


def _as_circuit(node):
    if isinstance(node, Circuit):
        return node
    if isinstance(node, str):
        from .model import load_template
        obj = load_template(node)
        if not isinstance(obj, Circuit):
            raise TypeError(f"template {node!r} is a {type(obj).__name__}; a region needs a "
                            "circuit")
        return obj
    raise TypeError(f"expected a Circuit or a template name, got {type(node).__name__}")


def _circuits_for(node, n):
    if isinstance(node, (list, tuple)):
        if len(node) != n:
            raise ValueError(f"{len(node)} circuits given for {n} regions")
        cache = {}
        return [cache.setdefault(id(x), _as_circuit(x)) if not isinstance(x, str)
                else cache.setdefault(x, _as_circuit(x)) for x in node]
    return [_as_circuit(node)] * n


def _couplings(coupling, function, params, G, circuits, has_edges):
    """The couplings as given, else the one the circuits declare (only where edges exist: a
    network without edges has nothing to couple)."""
    if coupling is None:
        declared = _declared_couplings(circuits) if has_edges else []
        if not declared:
            return []
        coupling = [(d["source"], d["target"]) for d in declared]
    if isinstance(coupling, (Coupling, tuple)):
        coupling = [coupling]
    out = []
    for c in coupling:
        if isinstance(c, Coupling):
            out.append(c)
        elif isinstance(c, (tuple, list)) and len(c) == 2:
            fn, values = (function, params) if function is not None else \
                _declared_function(circuits, c[0], params)
            out.append(Coupling(c[0], c[1], fn, values, G))
        else:
            raise TypeError(f"a coupling is (source, target) or a Coupling, got {c!r}")
    return out


def _declarations(circuits):
    """``[(circuit name, declared couplings)]`` over the distinct circuits."""
    unique = {id(c): c for c in circuits}.values()
    return [(c.name, c.couplings) for c in unique]


def _declared_couplings(circuits):
    """The couplings every circuit declares (empty if none does); refused if they differ."""
    found = _declarations(circuits)
    if len({repr(d) for _, d in found}) > 1:
        raise ValueError(f"coupling=None, but the regions' circuits declare different couplings "
                         f"({_listing(found)}); pass coupling=(source, target)")
    return found[0][1]


def _declared_function(circuits, source, params):
    """(function, params) for a pair leaving ``source``: the declared ones, else linear."""
    found = [(name, d) for name, ds in _declarations(circuits) for d in ds
             if d["source"] == source]
    if not found:
        return "linear", params
    if len({repr((d["function"], d["params"])) for _, d in found}) > 1:
        raise ValueError(f"the circuits couple {source!r} through different functions "
                         f"({_listing(found)}); pass coupling_function=")
    declared = found[0][1]
    if params is not None and not isinstance(params, dict):
        return declared["function"], params          # refused, by name, by the Coupling
    return declared["function"], {**declared["params"], **(params or {})}


def _listing(declarations):
    def one(ds):
        ds = ds if isinstance(ds, list) else [ds]
        return ", ".join(f"{d['source']} -> {d['target']} {d['function']}" for d in ds) or "none"
    return "; ".join(f"{name}: {one(ds)}" for name, ds in declarations)


def _check_matrix(mat, what, allow_negative):
    if sp.issparse(mat):
        M = sp.csr_matrix(mat, dtype=float)
        data = M.data
    else:
        try:
            arr = np.asarray(mat, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{what} must be a numeric matrix: {err}") from None
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"{what} must be a square (n_regions, n_regions) matrix "
                             f"[target, source], got shape {arr.shape}")
        data = arr
        M = None
    if M is not None and M.shape[0] != M.shape[1]:
        raise ValueError(f"{what} must be square, got shape {M.shape}")
    bad = ~np.isfinite(data)
    if bad.any():
        raise ValueError(f"{what} contains {int(bad.sum())} NaN/inf value(s)")
    if not allow_negative and (data < 0).any():
        raise ValueError(f"{what} contains {int((data < 0).sum())} negative value(s)"
                         + ("" if what == "delays" else "; pass allow_negative=True for "
                            "signed connectivity"))
    return M if M is not None else sp.csr_matrix(data)


def _sparse_pair(weights, delays, n):
    """CSR weights (zeros dropped) and delays on exactly the same pattern."""
    if weights is None:
        W = sp.csr_matrix((n, n))
    else:
        W = sp.csr_matrix(weights, dtype=float)
    if W.shape != (n, n):
        raise ValueError(f"weights have shape {W.shape} for {n} regions")
    W.eliminate_zeros()
    W.sort_indices()
    rows = np.repeat(np.arange(n), np.diff(W.indptr))
    if delays is None:
        dvals = np.zeros(W.nnz)
    else:
        D = delays.tocsr() if sp.issparse(delays) else np.asarray(delays, dtype=float)
        if D.shape != (n, n):
            raise ValueError(f"delays have shape {D.shape} for {n} regions")
        dvals = np.asarray(D[rows, W.indices]).ravel() if W.nnz else np.zeros(0)
        if (dvals < 0).any() or not np.isfinite(dvals).all():
            raise ValueError("delays must be finite and >= 0 s")
    Dm = sp.csr_matrix((dvals, W.indices.copy(), W.indptr.copy()), shape=(n, n))
    return W, Dm
