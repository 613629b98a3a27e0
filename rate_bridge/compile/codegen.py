"""Generate the readable numba source of a whole-simulation kernel.

The kernel depends only on the *structure* of a network (equations, state layout, couplings,
which variables are driven, noisy and recorded, the integrator). All values — parameters,
weights, delays, inputs, noise amplitudes, seeds — are arrays passed at call time.

Layout (per batch member ``b``)
-------------------------------
* ``x[S]``: states; group ``g``'s state ``k`` of its local region ``i`` at ``xoff_g + k*R_g + i``.
* ``par[P]``: parameters, same layout with ``poff_g``.
* ``hist[Q, R, L]``: ring buffers of delayed quantities (row ``q`` per coupling, then per
  circuit-internal edge source), indexed by step modulo ``L``.
* ``greg``: global region index of each group's local region.
"""
from ..model.expressions import FUNCTIONS, to_source
from .integrators import INTEGRATORS, integrator_code
from .rng import RNG_SOURCE

FUNC_PREFIX = "_f_"

_FUNC_DEFS = {
    "exp": "math.exp(a)", "log": "math.log(a)", "log10": "math.log10(a)",
    "sqrt": "math.sqrt(a)", "abs": "abs(a)", "tanh": "math.tanh(a)", "sinh": "math.sinh(a)",
    "cosh": "math.cosh(a)", "sin": "math.sin(a)", "cos": "math.cos(a)", "tan": "math.tan(a)",
    "arcsin": "math.asin(a)", "arccos": "math.acos(a)", "arctan": "math.atan(a)",
    "arctan2": "math.atan2(a, b)", "floor": "math.floor(a)", "ceil": "math.ceil(a)",
    "sign": "(1.0 if a > 0 else (-1.0 if a < 0 else 0.0))",
    "sigmoid": "1.0 / (1.0 + math.exp(-a))", "heaviside": "(1.0 if a > 0 else 0.0)",
    "relu": "(a if a > 0 else 0.0)", "min": "(a if a < b else b)", "max": "(a if a > b else b)",
    "clip": "(b if a < b else (c if a > c else a))",
}
assert set(_FUNC_DEFS) == set(FUNCTIONS)


class KernelSpec:
    """Everything that determines the generated code.

    Parameters
    ----------
    groups : list of (FlatCircuit, int)
        Circuit structure and number of regions of each group.
    couplings : list of Coupling
    integrator : str
    noise : list of (int, str)
        (group, qualified name) of each noisy state or input.
    driven : list of (int, str)
        (group, input name) of each input driven by an array.
    record : list of str
        Recorded variable names (one output slot each, shared by groups that have it).
    parallel : {"batch", "nodes"}
    """

    def __init__(self, groups, couplings, integrator, noise, driven, record, parallel):
        self.groups, self.couplings = groups, couplings
        self.integrator, self.noise, self.driven = integrator, noise, driven
        self.record, self.parallel = record, parallel
        self.n_regions = sum(r for _, r in groups)
        # offsets of each group's block in x, par, intra-edge delay arrays and greg
        self.xoff, self.poff, self.eoff, self.roff = [], [], [], []
        xo = po = eo = ro = 0
        for flat, R in groups:
            self.xoff.append(xo)
            self.poff.append(po)
            self.eoff.append(eo)
            self.roff.append(ro)
            xo += len(flat.states) * R
            po += len(flat.params) * R
            eo += len(flat.edges) * R
            ro += R
        self.n_state, self.n_par, self.n_intra = xo, po, eo
        # delayed quantities: one row per coupling, then one per (group, internal edge source)
        self.q_intra = []
        q = len(couplings)
        for gi, (flat, _) in enumerate(groups):
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

    def text(self):
        """Structure text: hashed to key the kernel cache."""
        parts = [f"integrator {self.integrator}", f"parallel {self.parallel}",
                 f"noise {self.noise}", f"driven {self.driven}", f"record {self.record}"]
        parts += [f"group {R}\n{flat.signature()}" for flat, R in self.groups]
        parts += [c.signature() for c in self.couplings]
        return "\n".join(parts)


def _local(qname):
    return "v_" + qname.replace(".", "__").replace("/", "_S_").replace("~", "_T_")


class _Writer:
    def __init__(self):
        self.lines = []
        self.level = 0

    def __call__(self, line=""):
        self.lines.append("    " * self.level + line if line else "")

    def block(self, text):
        for line in text.strip("\n").splitlines():
            self(line)

    def indent(self):
        self.level += 1

    def dedent(self):
        self.level -= 1


def generate(spec):
    """Return the source of the kernel module for a :class:`KernelSpec`."""
    w = _Writer()
    par = spec.parallel == "nodes"
    rng = "prange" if par else "range"
    # error_model="numpy": a division by zero gives inf/nan (caught by the finite check after
    # each step) instead of a per-division test for ZeroDivisionError
    opts = 'cache=True, nogil=True, error_model="numpy"'
    deco = f"@njit({opts}" + (", parallel=True)" if par else ")")
    w.block(f'''
"""Generated by rate_bridge: whole-simulation kernel. Do not edit; regenerated on demand.

{_describe(spec)}
"""
import math

import numpy as np
from numba import njit, prange
''')
    w()
    for name, body in _FUNC_DEFS.items():
        args = "a" if FUNCTIONS[name][0] == 1 else ("a, b" if FUNCTIONS[name][0] == 2 else "a, b, c")
        w("@njit(cache=True, inline='always')")
        w(f"def {FUNC_PREFIX}{name}({args}):")
        w(f"    return {body}")
        w()
    w.block(RNG_SOURCE)
    w()
    w.block('''
@njit(cache=True, inline="always")
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
    _gen_stage(w, spec, deco, rng)
    _gen_diffusion(w, spec, deco, rng)
    _gen_run(w, spec, deco, rng, par)
    return _drop_idle_parallel("\n".join(w.lines) + "\n")


def _drop_idle_parallel(source):
    """Remove ``parallel=True`` from functions without a prange loop (numba warns on them)."""
    blocks = source.split("\n@njit(")
    for i, block in enumerate(blocks[1:], 1):
        if "parallel=True" in block.split("\n", 1)[0] and "prange(" not in block:
            blocks[i] = block.replace(", parallel=True)", ")", 1)
    return "\n@njit(".join(blocks)


def _describe(spec):
    lines = []
    for gi, (flat, R) in enumerate(spec.groups):
        lines.append(f"group {gi}: circuit {flat.name!r} on {R} region(s)")
        lines += [f"  d/dt {s} = {flat.time_scale[s]:g} * ({flat.rhs[s].text})"
                  for s in flat.states]
        lines += [f"  {n} = {e.text}" for n, e in flat.assigns]
    for ci, c in enumerate(spec.couplings):
        lines.append(f"coupling {ci}: {c.target} += G * sum_j w_ij * "
                     f"[{c.expression.text}] with x_j = {c.source}(t - d_ij)")
    lines.append(f"integrator: {spec.integrator} ({INTEGRATORS[spec.integrator][0]})")
    return "\n".join(lines)


def _loads(w, spec, gi, needed):
    """Emit loads of the states and parameters in ``needed`` for local region i of group gi."""
    flat, R = spec.groups[gi]
    for k, s in enumerate(flat.states):
        if s in needed:
            w(f"{_local(s)} = x[{spec.xoff[gi] + k * R} + i]")
    for j, p in enumerate(flat.params):
        if p in needed and p not in flat.inputs:
            w(f"{_local(p)} = par[{spec.poff[gi] + j * R} + i]")


def _closure(flat, names):
    """Assignments needed (in order) to compute ``names``, and all symbols read."""
    assigns = dict(flat.assigns)
    need, stack = set(), list(names)
    while stack:
        cur = stack.pop()
        if cur in need:
            continue
        need.add(cur)
        if cur in assigns:
            stack.extend(assigns[cur].symbols)
    return [(n, e) for n, e in flat.assigns if n in need], need


def _expr(e):
    return to_source(e, _local, FUNC_PREFIX)


def _gen_sources(w, spec, deco, rng):
    """_sources: values entering the delay buffers, from a state vector (no inputs involved)."""
    w(deco)
    w("def _sources(x, par, cpar, greg, sv):")
    w.indent()
    body = False
    for gi, (flat, R) in enumerate(spec.groups):
        wanted = {}
        for ci, c in enumerate(spec.couplings):
            if c.source in flat.variables:
                wanted[ci] = c.source
        for src, q in spec.q_intra[gi].items():
            wanted[q] = src
        if not wanted:
            continue
        body = True
        assigns, need = _closure(flat, set(wanted.values()))
        w(f"for i in {rng}({R}):")
        w.indent()
        w(f"rg = greg[{spec.roff[gi]} + i]")
        _loads(w, spec, gi, need)
        for n, e in assigns:
            w(f"{_local(n)} = {_expr(e)}")
        for q, src in wanted.items():
            if q < len(spec.couplings) and spec.couplings[q].pre_transformed:
                c = spec.couplings[q]
                names = {"x_j": _local(src)}
                names.update({p: f"cpar[{spec.cpar_index[q][p]}]" for p in c.params})
                w(f"sv[{q}, rg] = {to_source(c.expression, names.get, FUNC_PREFIX)}")
            else:
                w(f"sv[{q}, rg] = {_local(src)}")
        w.dedent()
    if not body:
        w("pass")
    w.dedent()
    w()


def _gen_stage(w, spec, deco, rng):
    """_stage: the vector field at stage time t_n + c*dt (coupling, inputs, derivatives)."""
    w(deco)
    w("def _stage(x, c, n, tn, L, par, cpar, idi, idf, cptr, cidx, cw, cdi, cdf, cinst, hist, sv,"
      " cin, cdel, cpos, drv, nin, greg, dx, rec_on, acc):")
    w.indent()
    w("if c > 0.0:  # at c == 0, sv already holds the sources of x (computed after the last step)")
    w("    _sources(x, par, cpar, greg, sv)")
    if spec.couplings:
        # Edges delayed by >= 1 step read history only, and the read at stage time n + c is the
        # same whichever stage asks (Heun's c = 1 of step n is c = 0 of step n + 1): their sums
        # are cached by stage time. Shorter delays read the stage value and are summed anew.
        w("fresh = cpos[0] != n + c")
        w("ic = int(c)")
        w("whole = c == ic")
    for ci, c in enumerate(spec.couplings):
        w(f"# coupling {ci}: {c.target} += G * sum_j w_ij * {c.expression.text}")
        w(f"G{ci} = cpar[{spec.cpar_index[ci]['G']}]")
        if c.pre_transformed:
            term = "val"
        else:
            names = {"x_j": "val", "x_i": f"sv[{ci}, r]"}
            names.update({p: f"cpar[{spec.cpar_index[ci][p]}]" for p in c.params})
            term = to_source(c.expression, names.get, FUNC_PREFIX)
        w(f"for r in {rng}({spec.n_regions}):")
        w.indent()
        w("if fresh or %s:" % ("False" if c.pre_transformed else "True"))
        w("    acc_d = 0.0")
        w(f"    for e in range(cptr[{ci}, r], cptr[{ci}, r + 1]):")
        w("        d = cdi[e]")
        w("        if d > 0:")
        w("            if whole and cdf[e] == 0.0:  # fast path: a stored sample")
        w("                j = tn + ic - d")
        w("                if j < 0:")
        w("                    j += L")
        w(f"                val = hist[{ci}, cidx[e], j]")
        w("            else:")
        w(f"                val = _delayed(hist, {ci}, cidx[e], d, cdf[e], c, n, tn, L, 0.0)")
        w(f"            acc_d += cw[e] * {term}")
        w(f"    cdel[{ci}, r] = acc_d")
        w("acc_i = 0.0")
        w(f"if cinst[{ci}] > 0:")
        w(f"    for e in range(cptr[{ci}, r], cptr[{ci}, r + 1]):")
        w("        if cdi[e] == 0:")
        w("            s = cidx[e]")
        w(f"            val = _delayed(hist, {ci}, s, 0, cdf[e], c, n, tn, L, sv[{ci}, s])")
        w(f"            acc_i += cw[e] * {term}")
        w(f"cin[{ci}, r] = G{ci} * (cdel[{ci}, r] + acc_i)")
        w.dedent()
    if spec.couplings:
        w("cpos[0] = n + c")
    noise_slot = {key: z for z, key in enumerate(spec.noise)}
    drive_slot = {key: d for d, key in enumerate(spec.driven)}
    for gi, (flat, R) in enumerate(spec.groups):
        w(f"# group {gi}: {flat.name}")
        w(f"for i in {rng}({R}):")
        w.indent()
        w(f"rg = greg[{spec.roff[gi]} + i]")
        rec_here = [(k, v) for k, v in enumerate(spec.record) if v in flat.variables]
        wanted = set(flat.states) | {v for _, v in rec_here}
        wanted |= {sym for s in flat.states for sym in flat.rhs[s].symbols}
        assigns, need = _closure(flat, wanted)
        _loads(w, spec, gi, need | set(flat.params))
        # inputs: baseline + internal edges + coupling + drive + noise
        for inp in flat.inputs:
            if inp not in need:
                continue
            j = flat.params.index(inp)
            terms = [f"par[{spec.poff[gi] + j * R} + i]"]
            for ei, e in enumerate(flat.edges):
                if e.target != inp:
                    continue
                q = spec.q_intra[gi][e.source]
                di = f"{spec.eoff[gi] + ei * R} + i"
                # undelayed internal edges (the usual case) read the stage value directly
                val = (f"(sv[{q}, rg] if idi[{di}] == 0 and idf[{di}] == 0.0 else "
                       f"_delayed(hist, {q}, rg, idi[{di}], idf[{di}], c, n, tn, L, sv[{q}, rg]))")
                if e.weight is None:
                    terms.append(val)
                else:
                    terms.append(f"{_local(e.weight)} * {val}")
            for ci, cpl in enumerate(spec.couplings):
                if cpl.target == inp:
                    terms.append(f"cin[{ci}, rg]")
            if (gi, inp) in drive_slot:
                terms.append(f"drv[{drive_slot[(gi, inp)]}, n, rg]")
            if (gi, inp) in noise_slot:
                terms.append(f"nin[{noise_slot[(gi, inp)]}, rg]")
            w(f"{_local(inp)} = " + " + ".join(terms))
        for n_, e in assigns:
            w(f"{_local(n_)} = {_expr(e)}")
        for k, s in enumerate(flat.states):
            scale = flat.time_scale[s]
            rhs = _expr(flat.rhs[s])
            w(f"dx[{spec.xoff[gi] + k * R} + i] = " + (rhs if scale == 1.0 else f"{scale!r} * {rhs}"))
        if rec_here:
            w("if rec_on and c == 0.0:  # record the state at t_n (first stage only)")
            for k, v in rec_here:
                w(f"    acc[{k}, rg] += {_local(v)}")
        w.dedent()
    w.dedent()
    w()


def _gen_diffusion(w, spec, deco, rng):
    """_diffusion: noise increment of every noisy state (diffusion term * dW)."""
    w(deco)
    w("def _diffusion(x, par, greg, dw, gdw):")
    w.indent()
    w("for j in range(gdw.shape[0]):")
    w("    gdw[j] = 0.0")
    body = False
    for z, (gi, name) in enumerate(spec.noise):
        flat, R = spec.groups[gi]
        if name not in flat.states:
            continue
        body = True
        k = flat.states.index(name)
        w(f"for i in {rng}({R}):")
        w.indent()
        w(f"rg = greg[{spec.roff[gi]} + i]")
        if name in flat.diffusion:
            expr = flat.diffusion[name]
            _, need = _closure(flat, set(expr.symbols))
            _loads(w, spec, gi, need | set(expr.symbols))
            w(f"gdw[{spec.xoff[gi] + k * R} + i] = ({_expr(expr)}) * dw[{z}, rg]")
        else:
            w(f"gdw[{spec.xoff[gi] + k * R} + i] = dw[{z}, rg]")
        w.dedent()
    if not body:
        w("pass")
    w.dedent()
    w()


def _gen_run(w, spec, deco, rng, par):
    n_state_noise = [z for z, (gi, nm) in enumerate(spec.noise)
                     if nm in spec.groups[gi][0].states]
    n_input_noise = [z for z, (gi, nm) in enumerate(spec.noise)
                     if nm not in spec.groups[gi][0].states]
    step = integrator_code(spec.integrator, par)
    step = step.replace("STAGE(", "_stage(").replace("DIFF(", "_diffusion(")
    stage_args = ("n, tn, L, par, cpar, idi, idf, cptr, cidx, cw, cdi, cdf, cinst, hist, sv, "
                  "cin, cdel, cpos, drv, nin, greg, {out}, rec_on, acc")
    lines = []
    for line in step.strip("\n").splitlines():
        if "_stage(" in line:
            head, rest = line.split("_stage(", 1)
            xs, c, out = [a.strip() for a in rest.rstrip(")").split(",")]
            line = f"{head}_stage({xs}, {c}, " + stage_args.format(out=out) + ")"
        elif "_diffusion(" in line:
            head, rest = line.split("_diffusion(", 1)
            xs, out = [a.strip() for a in rest.rstrip(")").split(",")]
            line = f"{head}_diffusion({xs}, par, greg, dw, {out})"
        lines.append(line)
    R, S, Q = spec.n_regions, spec.n_state, spec.n_q
    w(deco)
    w("def _run_one(x, par, cpar, idi, idf, cptr, cidx, cw, cdi, cdf, cinst, L, hinit, drv, nsig, seed,"
      " greg, n_steps, dt, rec_every, rec_avg, out, status):")
    w.indent()
    w.block(f'''
S = {S}
sv = np.zeros(({Q}, {R}))
hist = np.empty(({Q}, {R}, L))
cin = np.zeros(({max(len(spec.couplings), 1)}, {R}))
cdel = np.zeros(({max(len(spec.couplings), 1)}, {R}))
cpos = np.full(1, -1.0)
nin = np.zeros(({max(len(spec.noise), 1)}, {R}))
dw = np.zeros(({max(len(spec.noise), 1)}, {R}))
acc = np.zeros(({max(len(spec.record), 1)}, {R}))
k1 = np.empty(S)
k2 = np.empty(S)
k3 = np.empty(S)
k4 = np.empty(S)
xt = np.empty(S)
g1 = np.zeros(S)
g2 = np.zeros(S)
sqdt = math.sqrt(dt)
keys = np.empty(({max(len(spec.noise), 1)}, {R}), dtype=np.uint64)
for z in range(keys.shape[0]):
    for r in range({R}):
        keys[z, r] = _stream_key(seed, z, r)
_sources(x, par, cpar, greg, sv)
LH = hinit.shape[2]
for q in range({Q}):
    for r in range({R}):
        for m in range(L):
            j = (L - m) % L
            if LH > 0 and q < {len(spec.couplings)}:
                hist[q, r, j] = hinit[q, r, max(LH - 1 - m, 0)]
            else:
                hist[q, r, j] = sv[q, r]
n_samples = out.shape[1]
for n in range(n_steps):
    tn = n % L
''')
    w.indent()
    if n_input_noise or n_state_noise:
        w(f"for r in {rng}({R}):")
        for z in n_input_noise:
            w(f"    nin[{z}, r] = nsig[{z}, r] * _gauss(keys[{z}, r], n)")
        for z in n_state_noise:
            w(f"    dw[{z}, r] = nsig[{z}, r] * sqdt * _gauss(keys[{z}, r], n)")
    w("sample = n // rec_every")
    w("rec_on = sample < n_samples and (rec_avg or n % rec_every == 0)")
    w.block("\n".join(lines))
    w.block(f'''
if rec_on and (not rec_avg or (n + 1) % rec_every == 0):
    scale = 1.0 / rec_every if rec_avg else 1.0
    for k in range(acc.shape[0]):
        for r in range({R}):
            out[k, sample, r] = acc[k, r] * scale
            acc[k, r] = 0.0
for j in range(S):
    if not math.isfinite(x[j]):
        status[0] = n + 1
        status[1] = j
        return
_sources(x, par, cpar, greg, sv)
tn1 = (n + 1) % L
for q in range({Q}):
    for r in range({R}):
        hist[q, r, tn1] = sv[q, r]
''')
    w.dedent()
    w("status[0] = -1")
    w.dedent()
    w()
    serial = deco.replace(", parallel=True)", ")")
    # run: batch members in parallel (prange); run_serial: one after the other, for a single
    # member or one thread (numba compiles each lazily, and the serial one compiles faster)
    for name, decorator, loop in (("run", serial if par else
                                   deco.replace(")", ", parallel=True)"), "range" if par
                                   else "prange"), ("run_serial", serial, "range")):
        w(decorator)
        w(f"def {name}(x0, par, cpar, idi, idf, cptr, cidx, cw, cdi, cdf, cinst, L, hinit, drv,"
          " nsig, seeds, greg, n_steps, dt, rec_every, rec_avg, out, status):")
        w('    """Simulate every batch member b (states x0[b], parameters par[b], ...) into'
          ' out[b]."""')
        w(f"    for b in {loop}(x0.shape[0]):")
        w("        x = x0[b].copy()")
        w("        _run_one(x, par[b], cpar[b], idi[b], idf[b], cptr, cidx, cw[b], cdi[b], cdf[b],"
          " cinst[b], L, hinit[b], drv, nsig[b], seeds[b], greg, n_steps, dt, rec_every, rec_avg,"
          " out[b], status[b])")
        w("    return status")
        w()
