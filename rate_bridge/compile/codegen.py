"""Generate the readable numba source of a whole-simulation kernel.

The kernel depends only on the *structure* of a network (equations, state layout, couplings,
which variables are driven, noisy and recorded, the integrator). All values — parameters,
weights, delays, inputs, noise amplitudes, seeds — are arrays passed at call time.

Sizes are run-time values too: the array ``lay`` holds each group's number of regions and the
offset of every row of its blocks (:meth:`KernelSpec.layout`), so one compiled kernel serves
every network size of a structure. Which variables are recorded, noisy or driven is given by
index arrays ``rvar``/``nvar``/``dvar`` (slot -> variable index), so none of that recompiles
either: drives and input noise reach an input through ``ext[var, region]`` (filled once per
step); one recording loop per group stores the variables whose slot is set. The arguments of
the entry point ``run`` are defined once, in :mod:`rate_bridge.compile.abi`.

Layout (per batch member ``b``)
-------------------------------
* ``x[S]``: states; group ``g``'s state ``k`` of its local region ``i`` at ``X_g + k*R_g + i``.
* ``par[P]``: parameters, same layout from ``P_g``.
* ``hist[Q, R, 2L]``: ring buffers of delayed quantities (row ``q`` per coupling, then per
  circuit-internal edge source), indexed by step modulo ``L``; every sample is stored twice
  (at ``j`` and ``j + L``) so that a whole-step delayed read ``L + t - d`` needs no wrap-around.
* ``greg``: global region index of each group's local region (from ``G_g``); with a single
  group it is the identity and the loops index regions directly (contiguous, vectorisable).
* Coupling edges, per row (target): instantaneous edges (delay < 1 step) first, then the
  delayed ones from ``csplit``, the "far" ones (delay >= FAR_BLOCK - 1 steps) last from ``cfar``;
  ``coff`` holds each delayed edge's flat offset in ``hist``.
* ``far[C, R, FAR_BLOCK]``: sums of the far edges for the next FAR_BLOCK stage times, filled every
  FAR_BLOCK - 1 steps (their sources are already in ``hist``): one pass over an edge reads its
  FAR_BLOCK consecutive samples at once instead of one cache line per step.
"""
import ast
import keyword
import re

from ..model.errors import ModelError
from ..model.expressions import FUNCTIONS, to_source
from . import abi
from .abi import FAR_BLOCK
from .integrators import INTEGRATORS, integrator_code
from .monitor_code import CALLS as MONITOR_CALLS
from .monitor_code import DEFS as MONITOR_DEFS
from .monitor_code import KINDS as MONITOR_KINDS
from .monitor_code import monitor_source
from .rng import RNG_SOURCE
from .vecmath import NN_MASK, NONFINITE, VECMATH_IMPORTS, VECMATH_SOURCE



# Calls are rendered inline (no function-call overhead in the hot loops); arguments come
# parenthesised, so a template may use one twice. exp is the vectorisable _fexp (vecmath.py).
_FUNC_DEFS = {
    "exp": "_fexp({0})", "log": "math.log({0})", "log10": "math.log10({0})",
    "sqrt": "math.sqrt({0})", "abs": "abs({0})", "tanh": "math.tanh({0})",
    "sinh": "math.sinh({0})", "cosh": "math.cosh({0})", "sin": "math.sin({0})",
    "cos": "math.cos({0})", "tan": "math.tan({0})", "arcsin": "math.asin({0})",
    "arccos": "math.acos({0})", "arctan": "math.atan({0})", "arctan2": "math.atan2({0}, {1})",
    "floor": "math.floor({0})", "ceil": "math.ceil({0})",
    "sign": "1.0 if {0} > 0 else (-1.0 if {0} < 0 else 0.0)",
    "sigmoid": "1.0 / (1.0 + _fexp(-{0}))", "heaviside": "1.0 if {0} > 0 else 0.0",
    "relu": "{0} if {0} > 0 else 0.0", "min": "{0} if {0} < {1} else {1}",
    "max": "{0} if {0} > {1} else {1}", "clip": "{1} if {0} < {1} else ({2} if {0} > {2} else {0})",
}
assert set(_FUNC_DEFS) == set(FUNCTIONS)


class KernelSpec:
    """Everything that determines the generated code: circuit structures, couplings, the
    integrator and the parallel mode. Sizes, values and which variables are recorded, noisy or
    driven are run-time arrays.

    Parameters
    ----------
    flats : list of FlatCircuit
        Circuit structure of each group.
    couplings : list of Coupling
    integrator : str
    parallel : {"batch", "regions"}
    """

    def __init__(self, flats, couplings, integrator, parallel, sizes, specialize=False,
                 monitors=()):
        self.flats, self.couplings = list(flats), list(couplings)
        # the kinds of streaming monitor a run uses (their code is emitted; their values,
        # like every size, are run-time tables): see monitor_code.py
        self.monitors = tuple(sorted(set(monitors)))
        # sizes lay out the run-time arrays (lay, totals), which the generated code reads;
        # ``specialize`` compiles them in instead (constant offsets and trip counts: region
        # loops ~15 % faster, one compile per network size)
        self.sizes = [int(r) for r in sizes]
        self.specialize = bool(specialize)
        self.lay_pos = self._lay_positions()
        self.lay, self.totals = self.layout(self.sizes)
        self.integrator, self.parallel = integrator, parallel
        # one index per variable name across groups (record / noise / drive maps)
        self.var_names = []
        for flat in self.flats:
            self.var_names += [v for v in flat.variables if v not in self.var_names]
        self.var_index = {v: k for k, v in enumerate(self.var_names)}
        self.locals = _local_names(self.flats)
        # delayed quantities: one row per coupling, then one per (group, internal edge source)
        self.q_intra = []
        q = len(couplings)
        for flat in self.flats:
            rows = {}
            for e in flat.edges:
                if e.source not in rows:
                    rows[e.source] = q
                    q += 1
            self.q_intra.append(rows)
        self.n_q = max(q, 1)
        # coupling parameter layout: G then the function's parameters (sorted)
        self.cpar_index = []
        k = 0
        for c in couplings:
            names = ["G"] + sorted(c.params)
            self.cpar_index.append({n: k + i for i, n in enumerate(names)})
            k += len(names)
        self.n_cpar = max(k, 1)

    def local(self, qname):
        """The generated local variable holding a qualified name's value."""
        return self.locals[qname]

    def layout(self, sizes):
        """``lay`` array and totals for groups of ``sizes`` regions.

        Returns
        -------
        lay : ndarray of uint64
            Per group: R (regions), G (offset in greg), then the flat offset of every row of its
            blocks: ``X + k R`` for each state k, ``P + j R`` for each parameter j, ``E + e R``
            for each internal edge e; then NR, S and max(E, 1) (totals), at the positions of
            ``lay_pos``. Unsigned, so that the kernel's indices are: numba then drops its
            negative-index wrap-around, and the region loops vectorise.
        totals : dict
            ``n_state``, ``n_par``, ``n_intra``, ``n_regions``, and per-group offsets.
        """
        import numpy as np
        pos = self.lay_pos
        lay = np.zeros(len(pos), dtype=np.uint64)
        xo, po, eo, ro = 0, 0, 0, 0
        offsets = []
        for g, (flat, R) in enumerate(zip(self.flats, sizes)):
            lay[pos[("R", g)]], lay[pos[("G", g)]] = R, ro
            for base, rows, start in (("X", flat.states, xo), ("P", flat.params, po),
                                      ("E", flat.edges, eo)):
                for k in range(len(rows)):
                    lay[pos[(base, g, k)]] = start + k * R
            offsets.append(dict(R=R, X=xo, P=po, E=eo, G=ro))
            xo += len(flat.states) * R
            po += len(flat.params) * R
            eo += len(flat.edges) * R
            ro += R
        lay[pos["NR"]], lay[pos["S"]], lay[pos["NE"]] = ro, xo, max(eo, 1)
        return lay, dict(n_state=xo, n_par=po, n_intra=eo, n_regions=ro, groups=offsets)

    def _lay_positions(self):
        """Where each size and row offset sits in ``lay`` (structure only)."""
        pos, n = {}, 0
        for g, flat in enumerate(self.flats):
            pos[("R", g)], pos[("G", g)] = n, n + 1
            n += 2
            for base, rows in (("X", flat.states), ("P", flat.params), ("E", flat.edges)):
                for k in range(len(rows)):
                    pos[(base, g, k)] = n
                    n += 1
        pos["NR"], pos["S"], pos["NE"] = n, n + 1, n + 2
        return pos

    def text(self):
        """Structure text: hashed to key the kernel cache."""
        parts = [f"integrator {self.integrator}", f"parallel {self.parallel}"]
        if self.specialize:
            parts.append(f"sizes {self.sizes}")
        if self.monitors:
            parts.append(f"monitors {list(self.monitors)}")
        parts += [f"group\n{flat.signature()}" for flat in self.flats]
        parts += [c.signature() for c in self.couplings]
        return "\n".join(parts)


def _local_names(flats):
    """The generated local variable of every qualified name of the circuits.

    Locals are readable ASCII identifiers (``pc.v`` -> ``v_pc__v``); any other character is
    replaced, and a suffix keeps two names apart that the mangling would merge (``a.b__c`` and
    ``a__b.c``): names from a model file never reach the source as they are.
    """
    table, used = {}, set()
    for flat in flats:
        for qname in flat.variables + flat.params:
            if qname in table:
                continue
            mangled = qname.replace(".", "__").replace("/", "_S_")
            base = "v_" + "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_"
                                  for ch in mangled)
            local, k = base, 1
            while local in used:
                k += 1
                local = f"{base}_{k}"
            used.add(local)
            table[qname] = _identifier(local)
    return table


def _identifier(name):
    """``name`` if it is a plain ASCII identifier, else an error (never emitted)."""
    if not (isinstance(name, str) and name.isascii() and name.isidentifier()
            and not keyword.iskeyword(name)):
        raise ValueError(f"internal error: {name!r} is not a safe identifier for generated code")
    return name


class _Writer:
    def __init__(self):
        self.lines = []
        self.level = 0

    @staticmethod
    def _checked(line):
        if "\n" in line or "\r" in line:    # one line per call: nothing can start a new one
            raise ValueError(f"internal error: line break in generated line {line!r}")
        return True

    def __call__(self, line=""):
        self._checked(line)
        self.lines.append("    " * self.level + line if line else "")

    def block(self, text):
        for line in text.strip("\n").splitlines():
            self(line)

    def indent(self):
        self.level += 1

    def mark(self):
        """Where lines can be inserted later (see :meth:`insert`)."""
        return len(self.lines), self.level

    def insert(self, mark, lines):
        """Insert ``lines`` at ``mark``, at its indentation."""
        at, level = mark
        self.lines[at:at] = ["    " * level + line for line in lines if self._checked(line)]

    def dedent(self):
        self.level -= 1


def generate(spec):
    """Return the source of the kernel module for a :class:`KernelSpec`."""
    w = _Writer()
    par = spec.parallel == "regions"
    rng = "prange" if par else "range"
    # error_model="numpy": a division by zero gives inf/nan (caught by the finite check after
    # each step) instead of a per-division test for ZeroDivisionError. fastmath "contract" only
    # lets LLVM fuse a * b + c into one FMA (one rounding instead of two; ~10 % faster), no
    # reassociation: results stay independent of threads and batch split.
    opts = 'cache=True, nogil=True, error_model="numpy", fastmath={"contract"}'
    # prange loops (parallel="regions") keep numba's runtime: its thread pool may need it
    deco = (f"@njit({_INTERNAL}{opts}, parallel=True)" if par
            else f"@njit({_INTERNAL}{_NO_NRT}{opts})")
    w.block(f'''
{_DOCSTRING}
import math

import numpy as np
{VECMATH_IMPORTS}from numba import njit, prange
''')
    w()
    _describe(w, spec)
    w()
    w.block(RNG_SOURCE)
    w()
    w.block(VECMATH_SOURCE)
    w()
    w.block('''
@njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, cache=True)
def _delayed(hist, q, r, di, df, c, n, tn, L, now):
    """Value of delayed quantity q of region r at time (n + c - di - df) * dt.

    History holds whole steps up to n; inside the current step (delay shorter than c * dt) the
    value is interpolated between step n and the stage value ``now`` at n + c.
    """
    a = c - df                      # in (-1, 1]
    fl = -1 if a < 0.0 else (1 if a >= 1.0 else 0)
    f = a - fl
    i0 = n - di + fl
    if i0 < n:
        j = tn - di + fl
        if j < 0:
            j += L
        v0 = hist[q, r, j]
        if f == 0.0:
            return v0
        j += 1
        if j >= L:
            j -= L
        return v0 + f * (hist[q, r, j] - v0)
    if i0 == n:
        v0 = hist[q, r, tn]
        if f == 0.0:
            return v0
        return v0 + (f / c) * (now - v0)
    return now
''')
    w()
    _gen_sources(w, spec, deco, rng)
    _gen_far_block(w, spec, deco, rng)
    w.block(_ROW_DOT)
    w()
    _gen_record(w, spec, deco, rng)
    _gen_monitors(w, spec, deco, rng)
    _gen_stage(w, spec, deco, rng)
    _gen_diffusion(w, spec, deco, rng)
    _gen_run(w, spec, deco, rng, par)
    return _verified(_drop_idle_parallel("\n".join(w.lines) + "\n"), spec)


#: the only top-level definitions a generated module may hold
_GENERATED_DEFS = {"_delayed", "_sources", "_far_block", "_row_dot", "_record", "_stage",
                   "_diffusion", "run", "_monitors", "_msample", *MONITOR_DEFS.values()}
# Functions called only from the kernel get no Python or C entry wrapper: numba would otherwise
# generate (and optimise) code unboxing each of their ~25 arguments, ~10 % of the compile.
_INTERNAL = "no_cpython_wrapper=True, no_cfunc_wrapper=True, "
# ... and no reference counting: they allocate nothing, and their arrays belong to ``run`` for
# the whole call. With it, each call took and dropped a reference to every array argument (two
# atomic operations each: ~120 per Heun step, ~10 % of a 76-region step)
_NO_NRT = "_nrt=False, "
_IMPORTS = {"math", "numpy", "llvmlite", "numba", "numba.extending"}
# ... and what the fixed sources (RNG, branch-free math) define
_STATIC_DEFS = {n.name for n in ast.parse(RNG_SOURCE + VECMATH_SOURCE).body
                if isinstance(n, ast.FunctionDef)}
_STATIC_CONSTS = {t.id for n in ast.parse(RNG_SOURCE).body if isinstance(n, ast.Assign)
                  for t in n.targets}


def _verified(source, spec):
    """``source`` once its syntax tree is known to hold only what the generator writes.

    A second line of defence behind the validated names and re-emitted expressions: imports,
    definitions and constants are checked by kind and name.
    """
    try:
        body = ast.parse(source).body
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise ModelError(f"the generated kernel does not compile ({type(err).__name__}: "
                         f"{getattr(err, 'msg', err)}); an expression is probably nested too "
                         "deeply: split it into intermediate variables",
                         template=spec.flats[0].name) from None
    for i, node in enumerate(body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            ok = node.value.value == ast.literal_eval(_DOCSTRING)
        elif isinstance(node, ast.Import):
            ok = {a.name for a in node.names} <= _IMPORTS
        elif isinstance(node, ast.ImportFrom):
            ok = node.module in _IMPORTS
        elif isinstance(node, ast.FunctionDef):
            ok = node.name in _STATIC_DEFS | _GENERATED_DEFS
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            ok = getattr(node.targets[0], "id", None) in _STATIC_CONSTS
        else:
            ok = False
        if not ok:
            raise ValueError(f"internal error: unexpected statement at line {node.lineno} of a "
                             "generated kernel")
    return source


def _drop_idle_parallel(source):
    """Remove ``parallel=True`` from functions without a prange loop (numba warns on them)."""
    blocks = source.split("\n@njit(")
    for i, block in enumerate(blocks[1:], 1):
        if "parallel=True" in block.split("\n", 1)[0] and "prange(" not in block:
            blocks[i] = block.replace(", parallel=True)", ")", 1)
    return "\n@njit(".join(blocks)


_DOCSTRING = '''"""Generated by rate_bridge: whole-simulation kernel. Do not edit; regenerated on demand.

No text of a model file appears here: names are generated identifiers and equations are
re-emitted from their checked syntax trees. Circuit names are left out, so that circuits of the
same structure share one kernel.
"""'''


def _describe(w, spec):
    """The equations as comments, from the generated names and re-emitted trees."""
    for gi, flat in enumerate(spec.flats):
        w(f"# group {gi}")
        for s in flat.states:
            w(f"#   d/dt {spec.local(s)} = {flat.time_scale[s]!r} * ({_expr(spec, flat.rhs[s])})")
        for n, e in flat.assigns:
            w(f"#   {spec.local(n)} = {_expr(spec, e)}")
    for ci, c in enumerate(spec.couplings):
        w(f"# coupling {ci}: {_coupling_text(spec, ci)}")
    w(f"# integrator: {spec.integrator} ({INTEGRATORS[spec.integrator][0]})")


def _coupling_text(spec, ci):
    """``target += G * sum_j w_ij * f(x_j)``, with f re-emitted from its tree."""
    c = spec.couplings[ci]
    return (f"{spec.local(c.target)} += G * sum_j w_ij * {_coupling_term(spec, ci, 'x_j')}, "
            f"x_j = {spec.local(c.source)}(t - d_ij)")


def _coupling_term(spec, ci, x_j, x_i="x_i"):
    """Coupling ci's function of ``x_j`` (and ``x_i``), its parameters read from ``cpar``;
    parenthesised, since it is multiplied by the edge weight (``w * (x_j - x_i)``)."""
    c = spec.couplings[ci]
    names = {"x_j": x_j, "x_i": x_i}
    names.update({p: f"cpar[{spec.cpar_index[ci][p]}]" for p in c.params})
    return f"({to_source(c.expression, names.get, func_render=_FUNC_DEFS)})"


def _unpack(w, spec, mark):
    """Insert at ``mark`` (see :meth:`_Writer.mark`) the sizes and row offsets that the lines
    written since use, read from ``lay`` (run-time values, so one compiled kernel serves every
    network size): R<g> and G<g> per group, NR, and ``x<g>_<k>`` / ``p<g>_<j>`` / ``e<g>_<e>``,
    the offset of row k of group g's states / parameters / internal edges. A specialised spec
    writes the same names as constants. Unused ones are left out: each read is typed and lowered
    by numba (~10 ms of compile each)."""
    pos = spec.lay_pos
    value = (lambda p: repr(int(spec.lay[p]))) if spec.specialize else (lambda p: f"lay[{p}]")
    used = set(re.findall(r"\b[A-Za-z_]\w*\b", "\n".join(w.lines[mark[0]:])))
    names = {"NR": pos["NR"]}
    for g, flat in enumerate(spec.flats):
        names.update({f"R{g}": pos[("R", g)], f"G{g}": pos[("G", g)]})
        for base, rows in (("X", flat.states), ("P", flat.params), ("E", flat.edges)):
            names.update({f"{base.lower()}{g}_{k}": pos[(base, g, k)] for k in range(len(rows))})
    wanted = [n for n in names if n in used]
    lines = []
    for k0 in range(0, len(wanted), 6):         # six to a line
        part = wanted[k0:k0 + 6]
        lines.append(", ".join(part) + " = " + ", ".join(value(names[n]) for n in part))
    w.insert(mark, lines)


def _region(spec, g):
    """Global region index of local region i of group g (the identity for a single group)."""
    return "i" if len(spec.flats) == 1 else f"greg[G{g} + i]"


def _at(array, base, g, row):
    """``array`` at row ``row`` of group g's block ``base`` (X, P or E), local region i: an
    unsigned offset from ``lay`` plus the unsigned loop index (see :meth:`KernelSpec.layout`)."""
    return f"{array}[{base.lower()}{g}_{row} + i]"


def _state(g, k):
    return _at("x", "X", g, k)


def _param(g, j):
    return _at("par", "P", g, j)


def _loads(w, spec, gi, needed):
    """Emit loads of the states and parameters in ``needed`` for local region i of group gi."""
    flat = spec.flats[gi]
    for k, s in enumerate(flat.states):
        if s in needed:
            w(f"{spec.local(s)} = {_state(gi, k)}")
    for j, p in enumerate(flat.params):
        if p in needed and p not in flat.inputs:
            w(f"{spec.local(p)} = {_param(gi, j)}")


def _region_values(w, spec, gi, names, buffered=False):
    """Emit what ``names`` need at region i of group gi: loads of states and parameters, then
    inputs and assignments in order (``buffered``: the sources of x already in sv are read
    from there, as at t_n)."""
    flat = spec.flats[gi]
    stop = spec.q_intra[gi] if buffered else {}
    assigns, need = _closure(flat, names, stop=stop)
    need |= {e.weight for e in flat.edges if e.target in need and e.weight}
    _loads(w, spec, gi, need)
    for inp in flat.inputs:
        if inp in need:
            w(f"{spec.local(inp)} = {_input_terms(spec, gi, inp)}")
    for n_, e in assigns:
        w(f"{spec.local(n_)} = " + (f"sv[{stop[n_]}, rg]" if n_ in stop else _expr(spec, e)))


def _closure(flat, names, stop=()):
    """Assignments needed (in order) to compute ``names``, and all symbols read (``stop``:
    assignments taken as given)."""
    need = flat.dependencies(names, stop)
    return [(n, e) for n, e in flat.assigns if n in need], need


def _expr(spec, e):
    return to_source(e, spec.local, func_render=_FUNC_DEFS)


def _gen_sources(w, spec, deco, rng):
    """_sources: values entering the delay buffers, from a state vector (no inputs involved).

    Inlined for a lone circuit (one region, sizes compiled in): a call per step is then a
    sizeable part of the step, and the copy is small."""
    w(deco.replace("@njit(", '@njit(forceinline=True, ') if spec.specialize
      and sum(spec.sizes) == 1 else deco)
    w("def _sources(x, lay, par, cpar, greg, sv):")
    w.indent()
    mark = w.mark()
    for gi, flat in enumerate(spec.flats):
        wanted = {ci: c.source for ci, c in enumerate(spec.couplings)
                  if c.source in flat.variables}
        wanted.update({q: src for src, q in spec.q_intra[gi].items()})
        if not wanted:
            continue
        assigns, need = _closure(flat, set(wanted.values()))
        w(f"for i in {rng}(R{gi}):")
        w.indent()
        w(f"rg = {_region(spec, gi)}")
        _loads(w, spec, gi, need)
        for n, e in assigns:
            w(f"{spec.local(n)} = {_expr(spec, e)}")
        for q, src in wanted.items():
            if q < len(spec.couplings) and spec.couplings[q].pre_transformed:
                w(f"sv[{q}, rg] = {_coupling_term(spec, q, spec.local(src))}")
            else:
                w(f"sv[{q}, rg] = {spec.local(src)}")
        w.dedent()
    if len(w.lines) == mark[0]:
        w("pass    # nothing is buffered")
    _unpack(w, spec, mark)
    w.dedent()
    w()


def _linear_couplings(spec):
    """Couplings whose edge sums are linear in the buffered values (far blocks apply)."""
    return [ci for ci, c in enumerate(spec.couplings) if c.pre_transformed]


_ROW_DOT = '''
@njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, cache=True, nogil=True,
      fastmath={"reassoc", "contract"})
def _row_dot(w, v):
    # reassociation lets LLVM vectorise the sum (several partial sums): same order whatever
    # the threads or batch split, not the order of a plain loop
    acc = 0.0
    for j in range(w.shape[0]):
        acc += w[j] * v[j]
    return acc
'''


def _nn(index):
    """``index`` (an int64 expression, never negative) masked as the kernel's _nn does (see
    vecmath), written out: numba's inlining of the call cost 2 % of a 76-region step."""
    return f"(({index}) & {NN_MASK:#x})"


def _gen_far_block(w, spec, deco, rng):
    """_far_block: far-edge sums of each linear coupling for stage times tn .. tn + FAR_BLOCK - 1."""
    if not _linear_couplings(spec):
        return
    w(deco)
    w("def _far_block(tn, hf, cptr, cfar, coff, cw, cwhole, far):")
    w.indent()
    w("NR = cptr.shape[1] - 1")
    for ci in _linear_couplings(spec):
        w(f"if cwhole[{ci}]:")
        w.indent()
        w(f"for r in {rng}(NR):")
        w.indent()
        for j in range(FAR_BLOCK):
            w(f"a{j} = 0.0")
        w(f"for e in range({_nn(f'cfar[{ci}, r]')}, {_nn(f'cptr[{ci}, r + 1]')}):")
        w("    we = cw[e]")
        w(f"    o = {_nn('coff[e] + tn')}")
        for j in range(FAR_BLOCK):
            w(f"    a{j} += we * hf[o + {j}]")
        for j in range(FAR_BLOCK):
            w(f"far[{ci}, r, {j}] = a{j}")
        w.dedent()
        w.dedent()
    w.dedent()
    w()


def _input_terms(spec, gi, inp):
    """Source text of an input's value: baseline + internal edges + coupling + drive + noise."""
    flat = spec.flats[gi]
    k = spec.var_index[inp]
    terms = [_param(gi, flat.params.index(inp))]
    for ei, e in enumerate(flat.edges):
        if e.target != inp:
            continue
        val = _at("iv", "E", gi, ei)      # filled by _internal_edges
        terms.append(val if e.weight is None else f"{spec.local(e.weight)} * {val}")
    terms += [f"cin[{ci}, rg]" for ci, cpl in enumerate(spec.couplings) if cpl.target == inp]
    terms.append(f"ext[{k}, rg]")
    return " + ".join(terms)


# The coupling arrays travel as one tuple: CPython compiles a call with more than 30 arguments
# to a star-args call, which numba runs ~140 ns slower (measured per stage call).
_COUPLING_ARRAYS = "cptr, csplit, cfar, cidx, coff, cw, cdi, cdf, cwhole, cdense_on, cdense, far"
_STAGE_ARGS = ("x, c, n, tn, L, lay, par, cpar, idi, idf, idel, cs, hist, hf, sv, iv, cin, cdel, "
               "cpos, ext, greg, dx")


#: schemes calling the stage at most this often get it inlined into the time loop (by LLVM:
#: numba's own inlining copies the array arguments, a reference count each per step): a call
#: passes ~25 arrays (one JR circuit, Euler: 15.5 -> 9.5 ms per 10 s), but every copy is
#: compiled anew (JR76 Heun: a second copy costs 1.3 s of compile for ~5 % of run time)
INLINE_STAGE_CALLS = 1


def _gen_stage(w, spec, deco, rng):
    """_stage: the vector field at stage time t_n + c*dt (coupling, inputs, derivatives)."""
    calls = integrator_code(spec.integrator, False).count("STAGE(")
    w(deco.replace("@njit(", '@njit(forceinline=True, ') if calls <= INLINE_STAGE_CALLS
      else deco)
    w(f"def _stage({_STAGE_ARGS}):")
    w.indent()
    w(f"{_COUPLING_ARRAYS} = cs")
    mark = w.mark()
    w("if c > 0.0:  # at c == 0, sv already holds the sources of x (computed after the last step)")
    w("    _sources(x, lay, par, cpar, greg, sv)")
    _gen_coupling(w, spec, rng)
    _gen_internal_edges(w, spec, rng)
    for gi, flat in enumerate(spec.flats):
        for part in _derivative_parts(flat):
            w(f"# group {gi}: " + ", ".join(spec.local(s) for s in part))
            w(f"for i in {rng}(R{gi}):")
            w.indent()
            w(f"rg = {_region(spec, gi)}")
            _region_values(w, spec, gi, set(part) | {sym for s in part
                                                      for sym in flat.rhs[s].symbols})
            for s in part:
                scale = flat.time_scale[s]
                rhs = _expr(spec, flat.rhs[s])
                w(f"{_at('dx', 'X', gi, flat.states.index(s))} = "
                  + (rhs if scale == 1.0 else f"{scale!r} * ({rhs})"))
            w.dedent()
    _unpack(w, spec, mark)
    w.dedent()
    w()


def _derivative_parts(flat):
    """The states of ``flat`` in groups that share no assignment, each computed in a loop of
    its own.

    One loop over regions writing every derivative stores to as many rows of ``dx`` as there
    are states: LLVM cannot rule out that they overlap the rows read (run-time offsets) and
    leaves the loop scalar. A loop per group of states has few enough streams to vectorise
    (4x faster for a Jansen-Rit network); states sharing an assignment stay together, so no
    equation is evaluated twice (inputs, sums of a few loads, may be).
    """
    parts = []     # [states, assignments they read]
    for s in flat.states:
        mine = {n for n, _ in _closure(flat, flat.rhs[s].symbols)[0]}
        joined = [p for p in parts if p[1] & mine]
        merged = [[s], mine]
        for p in joined:
            merged = [p[0] + merged[0], p[1] | merged[1]]
            parts.remove(p)
        parts.append(merged)
    order = {s: k for k, s in enumerate(flat.states)}
    return sorted((sorted(p[0], key=order.get) for p in parts), key=lambda p: order[p[0]])


def _gen_record(w, spec, deco, rng):
    """_record: add the recorded variables at t_n to ``acc`` (called after the first stage).

    Row k of ``acc`` takes the variable ``rvar[k]``, one loop over regions per variable, which
    computes only what that variable needs: states and buffered sources share a loop (their
    row is looked up), every other variable has its own. (A loop computing all of them into
    a tuple, then picking one, stayed scalar: a tenth of a 76-region step when averaging.)
    A function of its own, called once per step: inlined into each stage copy it cost a third
    of the compile.
    """
    w(deco)
    w("def _record(x, lay, par, greg, iv, cin, ext, sv, acc, rvar):")
    w.indent()
    mark = w.mark()
    w("for k in range(rvar.shape[0]):")
    w("    v = rvar[k]")
    w.indent()
    for gi, flat in enumerate(spec.flats):
        rows = [flat.states.index(v) if v in flat.states else -1 for v in spec.var_names]
        qs = [spec.q_intra[gi].get(v, -1) if v in flat.variables else -1
              for v in spec.var_names]
        w(f"xk, q = {tuple(rows)!r}[v], {tuple(qs)!r}[v]   # group {gi}: state row, buffer row")
        w("if xk >= 0:")
        w(f"    xo = lay[{spec.lay_pos[('X', gi, 0)] if flat.states else 0} + xk]")
        w(f"    for i in {rng}(R{gi}):")
        w(f"        acc[k, {_region(spec, gi)}] += x[xo + i]")
        w("elif q >= 0:")
        w(f"    for i in {rng}(R{gi}):")
        w(f"        rg = {_region(spec, gi)}")
        w("        acc[k, rg] += sv[q, rg]")
        for var in flat.variables:
            if var in flat.states or var in spec.q_intra[gi] or var in flat.inputs:
                continue
            w(f"elif v == {spec.var_names.index(var)}:  # {spec.local(var)}")
            w.indent()
            _record_loop(w, spec, gi, rng, [var])
            w.dedent()
        if flat.inputs:    # rarely recorded: one loop computes them all, and picks one
            w(f"elif v in {tuple(spec.var_names.index(v) for v in flat.inputs)!r}:")
            w.indent()
            _record_loop(w, spec, gi, rng, flat.inputs)
            w.dedent()
    w.dedent()
    _unpack(w, spec, mark)
    w.dedent()
    w()


def _record_loop(w, spec, gi, rng, names):
    """A loop adding variable v (one of ``names``, all when it is a sum of several) of group
    gi at each region to row k of ``acc``."""
    flat = spec.flats[gi]
    w(f"for i in {rng}(R{gi}):")
    w.indent()
    w(f"rg = {_region(spec, gi)}")
    _region_values(w, spec, gi, set(names), buffered=True)
    # an equation may give a bool or int: parameters (inputs) are floats already
    value = [spec.local(v) + ("" if v in flat.params else " + 0.0") for v in names]
    if len(names) == 1:
        w(f"acc[k, rg] += {value[0]}")
    else:
        index = tuple(spec.var_names.index(v) for v in names)
        w(f"acc[k, rg] += ({', '.join(value)},)[{index!r}.index(v)]")
    w.dedent()


def _int(value):
    """An int64 argument of a kernel function. numba compiles a function once more for each
    literal (``0``) or integer type (uint64 region indices) it is called with: one kernel
    compiled _stage twice and _delayed six times before its calls passed int64 only."""
    return f"np.int64({value})"


def _gen_monitors(w, spec, deco, rng):
    """_monitors: every streaming monitor of the run, one step (kinds used only)."""
    if not spec.monitors:
        return
    w.block(monitor_source(spec.monitors, rng))
    w()
    w(deco.replace(", parallel=True)", ")"))
    w("def _monitors(n, mv, mon, monf, marr, mout, mw, dt):")
    w("    for m in range(mon.shape[0]):")
    w("        kind = mon[m, 0]")
    for kind in spec.monitors:
        w(f"        if kind == {MONITOR_KINDS[kind]}:")
        w(f"            {MONITOR_CALLS[kind]}")
    w()


def _gen_coupling(w, spec, rng):
    """Coupling inputs cin[k, r] = G * sum over the row's edges of w * f(delayed source)."""
    if not spec.couplings:
        return
    # Edges delayed by >= 1 step read history only, and the read at stage time n + c is the
    # same whichever stage asks (Heun's c = 1 of step n is c = 0 of step n + 1): their sums
    # are cached by stage time. Shorter delays read the stage value and are summed anew.
    w("fresh = cpos[0] != n + c")
    w("ic = int(c)")
    w("whole = c == ic        # a whole-step stage reads stored samples only")
    w("base = tn + ic")
    w(f"jb = n % {FAR_BLOCK - 1} + ic      # this stage time in the far-edge block")
    for ci, c in enumerate(spec.couplings):
        w(f"# coupling {ci}: {_coupling_text(spec, ci)}")
        w(f"Gc{ci} = cpar[{spec.cpar_index[ci]['G']}]")
        if c.pre_transformed:
            term = "val"
        else:
            term = _coupling_term(spec, ci, "val", f"sv[{ci}, r]")
        w(f"for r in {rng}(NR):")
        w.indent()
        w("if fresh or %s:" % ("False" if c.pre_transformed else "True"))
        w("    acc_d = 0.0")
        w(f"    if whole and cwhole[{ci}]:  # whole-step delays: one load per edge")
        if c.pre_transformed:      # far edges: summed by _far_block
            w(f"        acc_d = far[{ci}, r, jb]")
        end = f"cfar[{ci}, r]" if c.pre_transformed else f"cptr[{ci}, r + 1]"
        w(f"        for e in range({_nn(f'csplit[{ci}, r]')}, {_nn(end)}):")
        w(f"            val = hf[{_nn('coff[e] + base')}]")
        w(f"            acc_d += cw[e] * {term}")
        w("    else:")
        w(f"        for e in range(csplit[{ci}, r], cptr[{ci}, r + 1]):")
        w(f"            val = _delayed(hist, {_int(ci)}, cidx[e], cdi[e], cdf[e], c, n, tn, L, 0.0)")
        w(f"            acc_d += cw[e] * {term}")
        w(f"    cdel[{ci}, r] = acc_d")
        w("acc_i = 0.0")
        if c.pre_transformed:
            w(f"if cdense_on[{ci}]:  # dense undelayed edges: a contiguous row dot product")
            w(f"    acc_i = _row_dot(cdense[{ci}, r], sv[{ci}])")
            w(f"elif cwhole[{ci}]:  # no delay at all: the sources' stage values")
        else:
            w(f"if cwhole[{ci}]:  # no delay at all: the sources' stage values")
        w(f"    for e in range({_nn(f'cptr[{ci}, r]')}, {_nn(f'csplit[{ci}, r]')}):")
        w(f"        val = sv[{ci}, {_nn('cidx[e]')}]")
        w(f"        acc_i += cw[e] * {term}")
        w("else:  # shorter than a step: interpolated towards the stage value")
        w(f"    for e in range(cptr[{ci}, r], csplit[{ci}, r]):")
        w("        s = cidx[e]")
        w(f"        val = _delayed(hist, {_int(ci)}, s, {_int(0)}, cdf[e], c, n, tn, L, "
          f"sv[{ci}, s])")
        w(f"        acc_i += cw[e] * {term}")
        w(f"cin[{ci}, r] = Gc{ci} * (cdel[{ci}, r] + acc_i)")
        w.dedent()
    w("cpos[0] = n + c")


def _gen_internal_edges(w, spec, rng):
    """iv: value of every circuit-internal edge's source (delayed if its delay is set)."""
    edges = [(gi, ei, spec.q_intra[gi][e.source])
             for gi, flat in enumerate(spec.flats) for ei, e in enumerate(flat.edges)]
    if not edges:
        return
    # delayed internal edges are rare: one loop over each group's edges (its sources' buffer
    # rows in a constant tuple) keeps the compiled code small; the usual copies stay unrolled
    w("if idel:  # some internal delay is set: read the buffers")
    for gi, flat in enumerate(spec.flats):
        if not flat.edges:
            continue
        rows = tuple(spec.q_intra[gi][e.source] for e in flat.edges)
        w(f"    for ei in range({len(rows)}):")
        w(f"        q = {rows!r}[ei]")
        w(f"        for i in {rng}(R{gi}):")
        w(f"            rg = {_region(spec, gi)}")
        w(f"            d = e{gi}_0 + ei * R{gi} + i")
        w("            iv[d] = sv[q, rg] if idi[d] == 0 and idf[d] == 0.0 else "
          f"_delayed(hist, q, {_int('rg')}, idi[d], idf[d], c, n, tn, L, sv[q, rg])")
    w("else:  # the usual case: the source's stage value (a vectorised copy)")
    for gi, ei, q in edges:
        w(f"    for i in {rng}(R{gi}):")
        w(f"        {_at('iv', 'E', gi, ei)} = sv[{q}, {_region(spec, gi)}]")


def _gen_diffusion(w, spec, deco, rng):
    """_diffusion: noise increment of every noisy state (diffusion term * dW)."""
    w(deco)
    w("def _diffusion(x, lay, par, greg, nvar, dw, gdw):")
    w.indent()
    mark = w.mark()
    w(f"for j in {rng}(gdw.shape[0]):")
    w("    gdw[j] = 0.0")
    w("for z in range(nvar.shape[0]):")
    w.indent()
    w("var = nvar[z]")
    for gi, flat in enumerate(spec.flats):
        for k, name in enumerate(flat.states):
            w(f"if var == {spec.var_index[name]}:  # {spec.local(name)}")
            w.indent()
            w(f"for i in {rng}(R{gi}):")
            w.indent()
            w(f"rg = {_region(spec, gi)}")
            if name in flat.diffusion:
                expr = flat.diffusion[name]
                _loads(w, spec, gi, set(expr.symbols))
                w(f"{_at('gdw', 'X', gi, k)} = ({_expr(spec, expr)}) * dw[z, rg]")
            else:
                w(f"{_at('gdw', 'X', gi, k)} = dw[z, rg]")
            w.dedent()
            w.dedent()
    w("pass")
    w.dedent()
    _unpack(w, spec, mark)
    w.dedent()
    w()


def _size(spec, name):
    """Total ``name`` (S, NR or NE) in run: read from ``lay``, or a constant in a specialised
    kernel (its state loops then have a known length: one JR circuit's step 30 % faster)."""
    pos = spec.lay_pos[name]
    return repr(int(spec.lay[pos])) if spec.specialize else f"int(lay[{pos}])"


def _counting_nonfinite(step):
    """``step`` with its last update of x also counting, in ``n_bad``, the states it makes
    NaN or inf (vecmath's NONFINITE). Counted as they are
    written: reading x back in a loop of its own waited on the stores just made (a tenth of a
    lone circuit's step)."""
    lines = step.rstrip("\n").split("\n")
    head, expr = lines[-1].split("x[j] += ")
    assert lines[-2].lstrip().startswith("for j in") and not head.strip(), step
    lines[-2:] = ["n_bad = 0", lines[-2],
                  f"{head}v = x[j] + ({expr})",
                  f"{head}x[j] = v",
                  f"{head}n_bad += {NONFINITE.format('v')}"]
    return "\n".join(lines) + "\n"


def _sampling(spec, indent, rng):
    """Recording and monitor sampling of the state at t_n, right after the first stage (which
    leaves its inputs in iv, cin and ext). Called from run: from inside the inlined stage, each
    call took and dropped a reference to its ten arrays (a fifth of a lone circuit's step)."""
    lines = ["if rec_on:", "    _record(x, lay, par, greg, iv, cin, ext, sv, acc, rvar)"]
    if spec.monitors:
        lines += ["for k in range(mvar.shape[0]):",
                  f"    for r in {rng}(mv.shape[1]):",
                  "        mv[k, r] = 0.0",
                  "_record(x, lay, par, greg, iv, cin, ext, sv, mv, mvar)"]
    return "\n".join(indent + line for line in lines)


def _gen_run(w, spec, deco, rng, par):
    """The entry point ``run``: the time loop of each batch member b0 <= b < b1.

    ``status[b]`` says how member b ended: ``status[b, 0]`` is -1 (completed), the step at which
    a state became NaN/inf (> 0; ``status[b, 1]`` its index in x) or -2 (stopped because
    ``ctl[0]`` was set, e.g. by Ctrl-C); ``status[b, 2]`` the number of steps done.

    Long on purpose: most of it is the template of the generated time loop, kept whole so that
    it reads as the code it writes.
    """
    step = _counting_nonfinite(integrator_code(spec.integrator, par))
    stage_args = re.sub(r"\bdx\b", "{out}", _STAGE_ARGS.split(", ", 2)[2])
    lines = []
    for line in step.strip("\n").splitlines():
        if "STAGE(" in line:
            head, rest = line.split("STAGE(", 1)
            xs, c, out = [a.strip() for a in rest.rstrip(")").split(",")]
            line = f"{head}_stage({xs}, {c}, " + stage_args.format(out=out) + ")"
            if float(c) == 0.0:     # the state at t_n, with its stage-0 inputs
                line += "\n" + _sampling(spec, head, rng)
        elif "DIFF(" in line:
            head, rest = line.split("DIFF(", 1)
            xs, out = [a.strip() for a in rest.rstrip(")").split(",")]
            line = f"{head}_diffusion({xs}, lay, par, greg, nvar, dw, {out})"
        lines.append(line)
    Q, NC, C = spec.n_q, len(spec.couplings), max(len(spec.couplings), 1)
    # the scheme's stage outputs and intermediate state (k1.., xt, g1..), and nothing else
    used = set(re.findall(r"\b(k\d|xt|g\d)\b", step))
    scratch = "".join(f"{a} = np.empty(S)\n" for a in sorted(used))
    far_call = (f"    if n % {FAR_BLOCK - 1} == 0:  # far-edge sums for the next block\n"
                "        _far_block(tn, hf, cptr, cfar, coff, cw, cwhole, far)\n"
                if _linear_couplings(spec) else "")
    # one entry point: batch members b0 .. b1 - 1, one after the other. simulate() spreads
    # blocks of members over Python threads (the kernel releases the GIL), so a member's result
    # never depends on the split. The member loop is run's own (a separate per-member function
    # would be optimised and compiled to machine code twice: alone, then inside run)
    # called from Python only, and allocates its work arrays
    w(deco.replace(_INTERNAL, "no_cfunc_wrapper=True, ").replace(_NO_NRT, ""))
    w(f"def run({abi.run_signature()}):")
    w('    """Steps n0 <= n < n1 of batch members b0 <= b < b1 (states x0[b], parameters '
      'par_all[b], ...) into out_all[b]; what a later call continues from is in carry[b - b0] '
      '(a member\'s state, delay buffers, partial samples, monitors and counters)."""')
    w("    for b in range(b0, b1):")
    w.indent()
    w.indent()
    for line in abi.member_views():
        if not line.startswith("x = "):
            w(line)
    w.block(f'''
if status[0] > 0 or status[0] == -2:
    continue      # diverged or stopped in an earlier call
S = {_size(spec, "S")}
NR = {_size(spec, "NR")}
NZ = nsig.shape[0]
sv = np.zeros(({Q}, NR))
# what carries over between calls: views into the member's row of carry
st, nr, K = carry[b - b0], np.int64(NR), out.shape[0]
n_idel = 0
for e in range(idi.shape[0]):
    n_idel += idi[e] > 0 or idf[e] > 0.0
idel = n_idel > 0     # any circuit-internal delay set (then buffered too); not a literal
QH = {Q} if idel else {max(NC, 1)}   # buffered rows: internal sources only when delayed
o = np.int64(3)                   # st[0:3]: tn, phase, sample
hf = st[o:o + QH * nr * 2 * L]    # flat view: delayed edges read at offsets coff[e] + t
hist = hf.reshape((QH, nr, 2 * L))
o += QH * nr * 2 * L
far = st[o:o + {C} * nr * {FAR_BLOCK}].reshape(({C}, nr, {FAR_BLOCK}))
o += {C} * nr * {FAR_BLOCK}
cdel = st[o:o + {C} * nr].reshape(({C}, nr))
o += {C} * nr
acc = st[o:o + K * nr].reshape((K, nr))
o += K * nr
mw = st[o:o + nmw]                # the monitors' work space
cpos = st[o + nmw:o + nmw + 1]
x = st[o + nmw + 1:o + nmw + 1 + np.int64(S)]
if n0 == 0:
    for j in {rng}(st.shape[0]):
        st[j] = 0.0
    for j in {rng}(x.shape[0]):
        x[j] = x0[b, j]
    cpos[0] = -1.0
iv = np.empty({_size(spec, "NE")})
cin = np.zeros(({C}, NR))
ND = dvar.shape[0]
ext = np.zeros(({len(spec.var_names)}, NR))
dw = np.zeros((max(NZ, 1), NR))
mv = np.zeros((max(mvar.shape[0], 1), NR))      # monitored variables at t_n
{scratch}sqdt = math.sqrt(dt)
keys = np.empty((max(NZ, 1), NR), dtype=np.uint64)
for z in range(NZ):
    for r in {rng}(NR):
        keys[z, r] = _stream_key(seed, nvar[z], r)   # keyed by variable: stable streams
_sources(x, lay, par, cpar, greg, sv)
# tn, phase, sample: n % L, n % rec_every, n // rec_every (counters, no divisions)
tn, phase, sample = np.int64(st[0]), np.int64(st[1]), np.int64(st[2])
if n0 == 0:
    LH = hinit.shape[2]
    for q in range(QH):
        for r in {rng}(NR):
            for m in range(L):
                j = (L - m) % L
                if LH > 0 and q < {NC}:
                    hist[q, r, j] = hinit[q, r, max(LH - 1 - m, 0)]
                else:
                    hist[q, r, j] = sv[q, r]
                hist[q, r, j + L] = hist[q, r, j]
n_samples = out.shape[1]
cs = ({_COUPLING_ARRAYS})
status[0], status[2] = -1, n1     # unless stopped or diverged below
for n in range(n0, n1):
    if ctl[0] != 0:    # asked to stop (Ctrl-C): one load per step, no measurable cost
        status[0], status[2] = -2, n
        break
{far_call}    # drives and input noise reach inputs through ext, held over the step
    for z in range(NZ):
        for r in {rng}(NR):
            ext[nvar[z], r] = 0.0
    for d in range(ND):
        for r in {rng}(NR):
            ext[dvar[d], r] = 0.0
    for d in range(ND):
        for r in {rng}(NR):
            ext[dvar[d], r] += drv[d, n, r]
    for z in range(NZ):
        # row views: plain 1-d loops, which vectorise (2-d indexing with a row read from
        # nvar did not, and cost 2.5x); one per line: a prange loop lost its writes through
        # views bound by one tuple assignment (numba 0.68)
        ez = ext[nvar[z]]
        kz = keys[z]
        sz = nsig[z]
        wz = dw[z]
        for r in {rng}(NR):
            g = sz[r] * _gauss(kz[r], n)
            ez[r] += g
            wz[r] = g * sqdt
    rec_on = K > 0 and sample < n_samples and (rec_avg or phase == 0)   # K: variables recorded
''')
    w.indent()
    w.block("\n".join(lines))
    if spec.monitors:
        w("_monitors(n, mv, mon, monf, marr, mout, mw, dt)")
    w.block(f'''
if rec_on and (not rec_avg or phase == rec_every - 1):
    scale = 1.0 / rec_every if rec_avg else 1.0
    for k in range(acc.shape[0]):
        for r in {rng}(NR):
            out[k, sample, r] = acc[k, r] * scale
            acc[k, r] = 0.0
if n_bad > 0:
    j = 0
    while math.isfinite(x[j]):
        j += 1
    status[0], status[1], status[2] = n + 1, j, n + 1
    break
_sources(x, lay, par, cpar, greg, sv)
tn1 = tn + 1 if tn + 1 < L else 0
for q in range(QH):
    for r in {rng}(NR):
        hist[q, r, tn1] = sv[q, r]
        hist[q, r, tn1 + L] = sv[q, r]
tn = tn1
phase += 1
if phase == rec_every:
    phase = 0
    sample += 1
''')
    w.dedent()
    w("st[0], st[1], st[2] = tn, phase, sample     # for the next call")
    w.dedent()
    w.dedent()
    w()
