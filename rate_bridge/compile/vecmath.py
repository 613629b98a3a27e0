"""Branch-free math for the kernels' region loops, so that LLVM can vectorise them.

libm's ``exp`` is an opaque call: a loop that calls it runs one region at a time (numba from
PyPI has no SVML vector library). ``_fexp`` is written in plain arithmetic instead: range
reduction ``x = k ln2 + r`` (|r| <= ln2 / 2, Cody-Waite split of ln2), a degree-13 Taylor
polynomial of ``exp(r)`` (truncation < 4e-18) and the scale ``2**k`` built in the exponent
bits. Measured against ``math.exp``: relative error < 2.3e-16 (~1 ulp) over [-708, 709.78];
``inf`` above 709.78, ``nan`` for ``nan``; results below ~3e-308 are flushed to 0. A loop of
Jansen-Rit sigmoids runs about twice as fast with it.

``_n_nonfinite`` counts inf/nan entries with integer tests on the exponent bits, which
vectorise (``math.isfinite`` in an early-exit loop does not).
"""

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
    p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666666666666666 + r * (0.041666666666666664
        + r * (0.008333333333333333 + r * (0.001388888888888889 + r * (1.984126984126984e-04
        + r * (2.48015873015873e-05 + r * (2.7557319223985893e-06 + r * (2.755731922398589e-07
        + r * (2.505210838544172e-08 + r * (2.08767569878681e-09
        + r * 1.6059043836821613e-10))))))))))))
    # 2**k = 2 * 2**(k - 1) (k reaches 1024): k + 1022 into the exponent field (the shift
    # keeps k's low 12 bits)
    v = (2.0 * p) * _f64_from_bits((_bits_of(t) << 52) + 4602678819172646912)
    v = math.inf if x > 709.782712893384 else v
    v = 0.0 if x < -708.0 else v
    return x if x != x else v


@njit(inline="always", cache=True)
def _n_nonfinite(a, n):
    count = 0
    for j in range(n):
        count += (_bits_of(a[j]) & 0x7FF0000000000000) == 0x7FF0000000000000
    return count
'''

VECMATH_IMPORTS = '''from llvmlite import ir
from numba import types
from numba.extending import intrinsic
'''
