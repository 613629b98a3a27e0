"""Counter-based normal random numbers for the kernels.

A normal deviate is a pure function of (key, counter): ``key`` mixes the simulation's seed with
the noise slot and region, ``counter`` is the time step. Results therefore do not depend on the
number of threads, on the order in which regions or batch members are computed, nor on how a
batch is split. The mixer is SplitMix64's finaliser; two 53-bit uniforms feed Box-Muller,
through vecmath's branch-free log and cosine so that a loop over regions vectorises.
"""

RNG_SOURCE = '''
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


@njit(inline="always", cache=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _stream_key(seed, slot, region):
    return _mix(_mix(seed + _GOLD) ^ (np.uint64(slot) * np.uint64(0x100000001B3)
                                       + np.uint64(region) * _GOLD + np.uint64(1)))


@njit(inline="always", cache=True)
def _gauss(key, counter):
    z1 = _mix(key + (np.uint64(counter) + np.uint64(1)) * _GOLD)
    z2 = _mix(z1 ^ _GOLD)
    u1 = (np.float64(z1 >> _S11) + 1.0) * 1.1102230246251565e-16   # (0, 1]
    u2 = np.float64(z2 >> _S11) * 1.1102230246251565e-16           # [0, 1)
    return math.sqrt(-2.0 * _flog(u1)) * _fcos2pi(u2)
'''
