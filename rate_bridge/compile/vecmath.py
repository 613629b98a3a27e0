"""Branch-free math for the kernels' region loops, so that LLVM can vectorise them.

libm's ``exp`` is an opaque call: a loop that calls it runs one region at a time (numba from
PyPI has no SVML vector library). ``_fexp`` is written in plain arithmetic instead: range
reduction ``x = k ln2 + r`` (|r| <= ln2 / 2, Cody-Waite split of ln2), a degree-13 Taylor
polynomial of ``exp(r)`` (truncation < 4e-18, evaluated Estrin-like) and the scale ``2**k``
built in the exponent bits. Measured against ``math.exp``: relative error < 3e-16 (~1 ulp)
over [-708, 709.78]; ``inf`` above 709.78, ``nan`` for ``nan``; results below ~3e-308 are
flushed to 0. A loop of Jansen-Rit sigmoids runs about twice as fast with it.

``_flog`` (positive normal numbers) and ``_fcos2pi`` (cos of 2 pi u) serve the Box-Muller
normal deviates of the noise, so that a loop drawing one per region vectorises too: measured
relative error < 5e-16 (log; cancellation near 1/sqrt(2)) and absolute error < 2.5e-16 (cos).

``_nn`` masks an index that is never negative (an offset read from an array, a sum of a few) to
48 bits: LLVM then knows that it and small sums of it are not negative, and drops numba's
negative-index wraparound, a compare and select per access that also keeps loops from
vectorising.
"""

#: the mask of _nn (see the module docstring)
NN_MASK = 0xFFFFFFFFFFFF

#: 1 if the float64 ``{0}`` is NaN or infinite, else 0: an integer test on its exponent bits,
#: which vectorises (``math.isfinite`` in an early-exit loop does not). Written out where it is
#: used: numba's inlining of a call cost 2 % of a 76-region step (as for _nn)
NONFINITE = "((_bits_of({0}) & 0x7FF0000000000000) == 0x7FF0000000000000)"

VECMATH_SOURCE = '''
@intrinsic
def _f64_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_of(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@njit(inline="always", cache=True)
def _fexp(x):
    y = min(max(x, -708.0), 709.782712893384)     # ln of the largest double
    # adding 1.5 * 2**52 rounds y / ln2 to an integer k held in the low mantissa bits of t
    t = y * 1.4426950408889634 + 6755399441055744.0
    k = t - 6755399441055744.0
    r = (y - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    # the polynomial in ~7 dependent steps instead of Horner's 13: one circuit's step waits
    # for it (latency bounds that step; 10 % faster), a vectorised loop over regions hardly
    # notices the few extra operations. 1 is added last: the rounding stays within an ulp
    r2 = r * r
    r4 = r2 * r2
    hi = (((0.041666666666666664 + r * 0.008333333333333333)
           + r2 * (0.001388888888888889 + r * 1.984126984126984e-04))
          + r4 * (((2.48015873015873e-05 + r * 2.7557319223985893e-06)
                   + r2 * (2.755731922398589e-07 + r * 2.505210838544172e-08))
                  + r4 * (2.08767569878681e-09 + r * 1.6059043836821613e-10)))
    p = 1.0 + (r + r2 * ((0.5 + r * 0.16666666666666666) + r2 * hi))
    # 2**k = 2 * 2**(k - 1) (k reaches 1024): k + 1022 into the exponent field (the shift
    # keeps k's low 12 bits)
    v = (2.0 * p) * _f64_from_bits((_bits_of(t) << 52) + 4602678819172646912)
    v = math.inf if x > 709.782712893384 else v
    v = 0.0 if x < -708.0 else v
    return x if x != x else v


@njit(inline="always", cache=True)
def _nn(i):
    return i & NN_MASK


@njit(inline="always", cache=True)
def _flog(x):
    # log of a positive normal number: x = m 2**e with m in [sqrt(1/2), sqrt(2)),
    # log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172: series to s**21 (< 1e-17)
    bits = _bits_of(x)
    e = np.float64((bits >> 52) - 1023)
    m = _f64_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > 1.4142135623730951
    m = 0.5 * m if big else m
    e = e + 1.0 if big else e
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = 2.0 * s * (1.0 + z * (1.0 / 3.0 + z * (0.2 + z * (1.0 / 7.0 + z * (1.0 / 9.0 + z * (
        1.0 / 11.0 + z * (1.0 / 13.0 + z * (1.0 / 15.0 + z * (1.0 / 17.0 + z * (1.0 / 19.0
        + z * (1.0 / 21.0)))))))))))
    return e * 0.6931471803691238 + (p + e * 1.9082149292705877e-10)


@njit(inline="always", cache=True)
def _fcos2pi(u):
    # cos(2 pi u) by symmetry down to an angle in [0, pi/4], then Taylor series (< 1e-17)
    a = abs(u - math.floor(u + 0.5))             # [0, 1/2]
    neg = a > 0.25
    a = 0.5 - a if neg else a                    # [0, 1/4]
    use_sin = a > 0.125
    t = 6.283185307179586 * (0.25 - a if use_sin else a)
    z = t * t
    c = 1.0 - z * (0.5 - z * (1.0 / 24.0 - z * (1.0 / 720.0 - z * (1.0 / 40320.0 - z * (
        1.0 / 3628800.0 - z * (1.0 / 479001600.0 - z * (1.0 / 87178291200.0
        - z * (1.0 / 20922789888000.0))))))))
    s = t * (1.0 - z * (1.0 / 6.0 - z * (1.0 / 120.0 - z * (1.0 / 5040.0 - z * (
        1.0 / 362880.0 - z * (1.0 / 39916800.0 - z * (1.0 / 6227020800.0 - z * (
            1.0 / 1307674368000.0 - z * (1.0 / 355687428096000.0)))))))))
    v = s if use_sin else c
    return -v if neg else v
'''

VECMATH_SOURCE = VECMATH_SOURCE.replace("NN_MASK", hex(NN_MASK))

VECMATH_IMPORTS = '''from llvmlite import ir
from numba import types
from numba.extending import intrinsic
'''
