"""Streaming monitors inside the kernel: fixed numba source, emitted for the kinds a run uses.

A monitor reads one variable of every region at each step (``mv[m]``, the state at t_n with its
stage-0 inputs, computed like a recording) and keeps only its own output, so its memory does not
grow with the duration. Its description is one row of run-time tables, so that one kernel
serves any TR, window, gain matrix or segment length:

``mon[m]`` (int64): kind, steps per sample, first step, average (1) or decimate (0), offset of
its output in ``mout``, offset of its work space in ``mw``, number of output rows, then
per kind: BOLD - ; sensors: channels; Welch: segment length P, hop, offset in ``marr``,
frequencies. ``monf[m]`` (float64): the constants of a BOLD monitor. ``marr``: shared arrays
(gain matrices; Welch windows, twiddle factors and bit-reversal tables).

Outputs per member in ``mout`` (Python reads and scales them, :mod:`rate_bridge.monitors`):
BOLD (n_tr, R); sensors (n_samples, C); covariance: count, mean (R), co-moments (R, R),
upper triangle (Welford); Welch: segments, then summed |FFT|^2 (F, R).
"""

#: monitor kind -> id in mon[m, 0]
KINDS = {"bold": 1, "sensors": 2, "covariance": 3, "welch": 4}
#: columns of the mon table
MON_COLS = 11
MONF_COLS = 10

# Offsets and sizes (from the mon table, mv's shape, and their sums) go through _nn (see
# vecmath): numba's negative-index wraparound then drops out, and the rows vectorise. No
# reference counting: run owns the arrays.
_DECO = ('@njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, _nrt=False, cache=True, '
         'nogil=True, error_model="numpy", fastmath={"contract"})')

_SAMPLE = _DECO.replace("@njit(", '@njit(inline="always", ') + '''
def _msample(n, m, mv, mon, mw):
    """Add row m of mv to monitor m's current sample (the mean over its steps, or its first
    step): the sample's index once complete (values in mw[a:a+R]), else -1. Inlined: it runs
    every step."""
    k = n - mon[m, 2]
    if k < 0:
        return -1
    a, every, R = _nn(mon[m, 5]), _nn(mon[m, 1]), _nn(mv.shape[1])
    ph = k % every
    if ph == 0:
        for r in RANGE(R):
            mw[a + r] = mv[m, r]
    elif mon[m, 3]:
        for r in RANGE(R):
            mw[a + r] += mv[m, r]
    if ph != every - 1:
        return -1
    if mon[m, 3] and every > 1:
        scale = 1.0 / every          # as the recordings' averages: the same numbers
        for r in RANGE(R):
            mw[a + r] *= scale
    return k // every
'''

SOURCES = {
    "bold": _DECO + '''
def _mbold(n, m, mv, mon, monf, mout, mw, dt):
    """One Heun step of the Balloon-Windkessel model of every region driven by row m of mv
    (held over the step); the BOLD signal stored every mon[m, 1] steps. mw[a:a+4R]: s, f, v,
    q."""
    R, a = _nn(mv.shape[1]), _nn(mon[m, 5])
    kap, gam, itau, ialpha, E0 = monf[m, 0], monf[m, 1], monf[m, 2], monf[m, 3], monf[m, 4]
    V0, k1, k2, k3, lnE = monf[m, 5], monf[m, 6], monf[m, 7], monf[m, 8], monf[m, 9]
    if n == 0:                        # at rest: no signal, flow, volume and dHb at 1
        for r in RANGE(R):
            mw[a + r] = 0.0
            mw[a + R + r] = 1.0
            mw[a + 2 * R + r] = 1.0
            mw[a + 3 * R + r] = 1.0
    for r in RANGE(R):
        s, f, v, q = mw[a + r], mw[a + R + r], mw[a + 2 * R + r], mw[a + 3 * R + r]
        zr = mv[m, r]
        fo = _fexp(_flog(v) * ialpha)                  # outflow v ** (1 / alpha)
        ex = 1.0 - _fexp(lnE / f)                      # extraction 1 - (1 - E0) ** (1 / f)
        ds1 = zr - kap * s - gam * (f - 1.0)
        dv1 = (f - fo) * itau
        dq1 = (f * ex / E0 - fo * q / v) * itau
        s2, f2, v2, q2 = s + dt * ds1, f + dt * s, v + dt * dv1, q + dt * dq1
        fo2 = _fexp(_flog(v2) * ialpha)
        ex2 = 1.0 - _fexp(lnE / f2)
        ds2 = zr - kap * s2 - gam * (f2 - 1.0)
        dv2 = (f2 - fo2) * itau
        dq2 = (f2 * ex2 / E0 - fo2 * q2 / v2) * itau
        mw[a + r] = s + 0.5 * dt * (ds1 + ds2)
        mw[a + R + r] = f + 0.5 * dt * (s + s2)
        mw[a + 2 * R + r] = v + 0.5 * dt * (dv1 + dv2)
        mw[a + 3 * R + r] = q + 0.5 * dt * (dq1 + dq2)
    k = n + 1
    if k % _nn(mon[m, 1]) == 0 and k // _nn(mon[m, 1]) <= mon[m, 6]:
        o = _nn(mon[m, 4]) + (k // _nn(mon[m, 1]) - 1) * R
        for r in RANGE(R):
            v, q = mw[a + 2 * R + r], mw[a + 3 * R + r]
            mout[o + r] = V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))
''',
    "sensors": _DECO + '''
def _msensors(n, m, mv, mon, marr, mout, mw):
    """Sample j of the channels: gain (C, R) @ the regions' sample."""
    j = _msample(n, m, mv, mon, mw)
    if j < 0 or j >= mon[m, 6]:
        return
    R, C, a, g = _nn(mv.shape[1]), _nn(mon[m, 7]), _nn(mon[m, 5]), _nn(mon[m, 9])
    o = _nn(mon[m, 4]) + j * C
    for c in RANGE(C):
        acc = 0.0
        row = g + c * R
        for r in range(R):
            acc += marr[row + r] * mw[a + r]
        mout[o + c] = acc
''',
    "covariance": _DECO + '''
def _mcov(n, m, mv, mon, mout, mw):
    """Welford's update of the count, mean and co-moments with each sample (the upper
    triangle; the deviations from the new mean in work space, so the rows vectorise)."""
    j = _msample(n, m, mv, mon, mw)
    if j < 0:
        return
    R, a, o = _nn(mv.shape[1]), _nn(mon[m, 5]), _nn(mon[m, 4])
    cnt = mout[o] + 1.0
    for r in RANGE(R):
        d = mw[a + r] - mout[o + 1 + r]
        mw[a + R + r] = d
        mout[o + 1 + r] += d / cnt
    mout[o] = cnt                     # after a loop: a GPU block's threads have all read it
    e = _nn(a + 2 * R)
    for r in RANGE(R):
        mw[e + r] = mw[a + r] - mout[o + 1 + r]
    for i in RANGE(R):
        di = mw[a + R + i]
        base = _nn(o + 1 + R + i * R)
        for k in range(i, R):
            mout[base + k] += di * mw[e + k]
''',
    "welch": _DECO + '''
def _mwelch(n, m, mv, mon, marr, mout, mw):
    """Each sample into a ring of the last P (time-major: sample i of region r at i R + r);
    every hop samples once P are there: the segment less its mean, windowed, radix-2 FFT
    with regions innermost (so the butterflies vectorise), |X|^2 added per frequency."""
    j = _msample(n, m, mv, mon, mw)
    if j < 0:
        return
    R, P, hop = _nn(mv.shape[1]), _nn(mon[m, 7]), _nn(mon[m, 8])
    g, F = _nn(mon[m, 9]), _nn(mon[m, 10])
    a, o = _nn(mon[m, 5]), _nn(mon[m, 4])
    ring = _nn(a + R)
    at = _nn(ring + (j % P) * R)
    for r in RANGE(R):
        mw[at + r] = mw[a + r]
    cnt = j + 1
    if cnt < P or (cnt - P) % hop != 0:
        return
    re = _nn(ring + P * R)
    im = _nn(re + P * R)
    mean = _nn(im + P * R)
    half = P // 2
    cs, sn, rev = g + P, g + P + half, g + P + 2 * half
    first = cnt % P                   # the oldest sample of the segment
    segments = mout[o] + 1.0
    for r in RANGE(R):
        mw[mean + r] = 0.0
    mout[o] = segments                # after a loop: a GPU block's threads have all read it
    for i in range(P):
        src = _nn(ring + ((first + i) % P) * R)
        for r in RANGE(R):
            mw[mean + r] += mw[src + r]
    for r in RANGE(R):
        mw[mean + r] /= P
    for i in range(P):
        src = _nn(ring + ((first + i) % P) * R)
        t = _nn(int(marr[rev + i]) * R)
        win = marr[g + i]
        for r in RANGE(R):
            mw[re + t + r] = (mw[src + r] - mw[mean + r]) * win
            mw[im + t + r] = 0.0
    h = 1
    while h < P:
        stride = P // (2 * h)
        for s0 in range(0, P, 2 * h):
            for k in range(h):
                wr, wi = marr[cs + k * stride], -marr[sn + k * stride]
                i1, i2 = _nn((s0 + k) * R), _nn((s0 + k + h) * R)
                for r in RANGE(R):
                    xr, xi = mw[re + i2 + r], mw[im + i2 + r]
                    tr = wr * xr - wi * xi
                    ti = wr * xi + wi * xr
                    mw[re + i2 + r] = mw[re + i1 + r] - tr
                    mw[im + i2 + r] = mw[im + i1 + r] - ti
                    mw[re + i1 + r] += tr
                    mw[im + i1 + r] += ti
        h *= 2
    for f in range(F):
        for r in RANGE(R):
            x, y = mw[re + f * R + r], mw[im + f * R + r]
            mout[_nn(o + 1 + f * R) + r] += x * x + y * y
''',
}

#: each kind's call in the generated _monitors (one row m of the tables)
CALLS = {
    "bold": "_mbold(n, m, mv, mon, monf, mout, mw, dt)",
    "sensors": "_msensors(n, m, mv, mon, marr, mout, mw)",
    "covariance": "_mcov(n, m, mv, mon, mout, mw)",
    "welch": "_mwelch(n, m, mv, mon, marr, mout, mw)",
}
DEFS = {"bold": "_mbold", "sensors": "_msensors", "covariance": "_mcov", "welch": "_mwelch"}


def monitor_source(kinds, rng="range"):
    """Source of the monitor functions of ``kinds`` (with the sampler they share); their
    element-wise loops over regions (or channels) in ``rng``. "prange" marks them for a GPU
    block to spread over its threads (on the CPU they stay serial: no ``parallel=True``).
    Every thread of the block runs the rest, so a scalar of mout is written only after a
    loop, once every thread has read it."""
    parts = [SOURCES[k] for k in kinds]
    if set(kinds) - {"bold"}:
        parts.insert(0, _SAMPLE)
    return "\n\n".join(parts).replace("RANGE(", f"{rng}(")
