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

_DECO = ('@njit(no_cpython_wrapper=True, no_cfunc_wrapper=True, cache=True, nogil=True, '
         'error_model="numpy", fastmath={"contract"})')

_SAMPLE = _DECO + '''
def _msample(n, z, mi, mw):
    """Add z to monitor mi's current sample (the mean over its steps, or its first step): the
    sample's index once complete (values in mw[a:a+R]), else -1."""
    k = n - mi[2]
    if k < 0:
        return -1
    a, every, R = mi[5], mi[1], z.shape[0]
    ph = k % every
    if ph == 0:
        for r in range(R):
            mw[a + r] = z[r]
    elif mi[3]:
        for r in range(R):
            mw[a + r] += z[r]
    if ph != every - 1:
        return -1
    if mi[3] and every > 1:
        scale = 1.0 / every          # as the recordings' averages: the same numbers
        for r in range(R):
            mw[a + r] *= scale
    return k // every
'''

SOURCES = {
    "bold": _DECO + '''
def _mbold(n, z, mi, mf, mout, mw, dt):
    """One Heun step of the Balloon-Windkessel model of every region driven by z (held over
    the step); the BOLD signal stored every mi[1] steps. mw[a:a+4R]: s, f, v, q."""
    R, a = z.shape[0], mi[5]
    kap, gam, itau, ialpha, E0, V0, k1, k2, k3, lnE = (mf[0], mf[1], mf[2], mf[3], mf[4],
                                                        mf[5], mf[6], mf[7], mf[8], mf[9])
    if n == 0:                        # at rest: no signal, flow, volume and dHb at 1
        for r in range(R):
            mw[a + r] = 0.0
            mw[a + R + r] = 1.0
            mw[a + 2 * R + r] = 1.0
            mw[a + 3 * R + r] = 1.0
    for r in range(R):
        s, f, v, q = mw[a + r], mw[a + R + r], mw[a + 2 * R + r], mw[a + 3 * R + r]
        zr = z[r]
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
    if k % mi[1] == 0 and k // mi[1] <= mi[6]:
        o = mi[4] + (k // mi[1] - 1) * R
        for r in range(R):
            v, q = mw[a + 2 * R + r], mw[a + 3 * R + r]
            mout[o + r] = V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v))
''',
    "sensors": _DECO + '''
def _msensors(n, z, mi, marr, mout, mw):
    """Sample j of the channels: gain (C, R) @ the regions' sample."""
    j = _msample(n, z, mi, mw)
    if j < 0 or j >= mi[6]:
        return
    R, C, a, g = z.shape[0], mi[7], mi[5], mi[9]
    o = mi[4] + j * C
    for c in range(C):
        acc = 0.0
        row = g + c * R
        for r in range(R):
            acc += marr[row + r] * mw[a + r]
        mout[o + c] = acc
''',
    "covariance": _DECO + '''
def _mcov(n, z, mi, mout, mw):
    """Welford's update of the count, mean and co-moments with each sample."""
    j = _msample(n, z, mi, mw)
    if j < 0:
        return
    R, a, o = z.shape[0], mi[5], mi[4]
    cnt = mout[o] + 1.0
    mout[o] = cnt
    for r in range(R):
        d = mw[a + r] - mout[o + 1 + r]
        mw[a + R + r] = d
        mout[o + 1 + r] += d / cnt
    for i in range(R):                # the upper triangle (Python mirrors it)
        di = mw[a + R + i]
        base = o + 1 + R + i * R
        for k in range(i, R):
            mout[base + k] += di * (mw[a + k] - mout[o + 1 + k])
''',
    "welch": _DECO + '''
def _mwelch(n, z, mi, marr, mout, mw):
    """Each sample into a ring of the last P; every hop samples once P are there: the
    segment less its mean, windowed, radix-2 FFT, |X|^2 added per frequency and region."""
    j = _msample(n, z, mi, mw)
    if j < 0:
        return
    R, P, hop, g, F, a, o = z.shape[0], mi[7], mi[8], mi[9], mi[10], mi[5], mi[4]
    ring = a + R
    pos = j % P
    for r in range(R):
        mw[ring + r * P + pos] = mw[a + r]
    cnt = j + 1
    if cnt < P or (cnt - P) % hop != 0:
        return
    re, im = ring + R * P, ring + R * P + P
    half = P // 2
    cs, sn, rev = g + P, g + P + half, g + P + 2 * half
    first = cnt % P                   # the oldest sample of the segment
    mout[o] += 1.0
    for r in range(R):
        seg = ring + r * P
        mean = 0.0
        for i in range(P):
            mean += mw[seg + (first + i) % P]
        mean /= P
        for i in range(P):
            t = int(marr[rev + i])
            mw[re + t] = (mw[seg + (first + i) % P] - mean) * marr[g + i]
            mw[im + t] = 0.0
        h = 1
        while h < P:
            stride = P // (2 * h)
            for s0 in range(0, P, 2 * h):
                for k in range(h):
                    wr, wi = marr[cs + k * stride], -marr[sn + k * stride]
                    i1, i2 = re + s0 + k, re + s0 + k + h
                    tr = wr * mw[i2] - wi * mw[i2 + P]
                    ti = wr * mw[i2 + P] + wi * mw[i2]
                    mw[i2] = mw[i1] - tr
                    mw[i2 + P] = mw[i1 + P] - ti
                    mw[i1] += tr
                    mw[i1 + P] += ti
            h *= 2
        for f in range(F):
            x, y = mw[re + f], mw[im + f]
            mout[o + 1 + f * R + r] += x * x + y * y
''',
}

#: each kind's call in the generated _monitors (one row m of the tables)
CALLS = {
    "bold": "_mbold(n, mv[m], mon[m], monf[m], mout, mw, dt)",
    "sensors": "_msensors(n, mv[m], mon[m], marr, mout, mw)",
    "covariance": "_mcov(n, mv[m], mon[m], mout, mw)",
    "welch": "_mwelch(n, mv[m], mon[m], marr, mout, mw)",
}
DEFS = {"bold": "_mbold", "sensors": "_msensors", "covariance": "_mcov", "welch": "_mwelch"}


def monitor_source(kinds):
    """Source of the monitor functions of ``kinds`` (with the sampler they share)."""
    parts = [SOURCES[k] for k in kinds]
    if set(kinds) - {"bold"}:
        parts.insert(0, _SAMPLE)
    return "\n\n".join(parts)
