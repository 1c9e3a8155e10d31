"""Elementwise math of the cells' kernels: exp, tanh and sigmoid in plain arithmetic.

Written out so that the gate loops vectorize: PyPI's llvmlite has no vector math
library, and libm's tanh costs 16-30 ns a call. float32: tanh is Eigen's rational
approximation on [-9, 9] (no exp at all), exp is Cephes' expf (Cody-Waite reduction,
a degree-7 polynomial), all within 5 ulp. float64: Cody-Waite reduction and a
degree-13 polynomial for exp (within 3e-14 relative, the bound if fast-math folds
the two parts of ln 2 into one), Cephes' rational tanh below 0.625. 2**k is made by
bit casts. ``tanh`` and ``sigmoid`` dispatch on the type when compiled. NaN stays
NaN; exp saturates outside its range ([-87, 88] in float32), as sigmoid and tanh do
anyway.

Shared by the three cells' kernels: ``_config`` makes Numba's cache of every
kernel depend on this file too, so a change here recompiles them.
"""

import contextlib
import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from .._config import HELPER_OPTIONS, JIT_OPTIONS

_F32 = np.float32
_ONE32 = _F32(1.0)
_EXP_HI, _EXP_LO = _F32(88.0), _F32(-87.0)
# x log2(e) + 2**23 + 127, rounded to float32, is an integer k + 127 + 2**23 (its ulp
# is 1), so its bits are 0x4B000000 + (k + 127): shifted left by 23, the exponent
# bits of 2**k, the 0x4B000000 shifted out. One fma rounds x log2(e) to the nearest
# integer and makes 2**k, with no floor and no float-to-int conversion (for NaN,
# 2**k is 0 and y is NaN). |k| <= 127 in the clamped range.
_EXP_SHIFT = _F32(2**23 + 127)
_LOG2E = _F32(1.44269504088896341)
# ln 2 in two parts: k * _LN2_A32 is exact for |k| < 2**15
_LN2_A32, _LN2_B32 = _F32(0.693359375), _F32(-2.12194440e-4)
_EXP_P = tuple(_F32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))  # fmt: skip
# tanh(x) = x P(x^2) / Q(x^2) on [-9, 9], where float32 tanh is +-1 beyond.
_TANH_P = tuple(_F32(c) for c in (-2.76076847742355e-16, 2.00018790482477e-13,
                                  -8.60467152213735e-11, 5.12229709037114e-08,
                                  1.48572235717979e-05, 6.37261928875436e-04,
                                  4.89352455891786e-03))  # fmt: skip
_TANH_Q = tuple(_F32(c) for c in (1.19825839466702e-06, 1.18534705686654e-04,
                                  2.26843463243900e-03, 4.89352518554385e-03))  # fmt: skip
_TANH_HI, _TANH_LO = _F32(9.0), _F32(-9.0)

_EXP64_HI, _EXP64_LO = 709.0, -708.0
_LOG2E_64 = 1.4426950408889634
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_EXP64_P = tuple(1.0 / math.factorial(n) for n in range(13, 1, -1))  # 1/13!, ..., 1/2!
# as _EXP_SHIFT: x log2(e) + 2**52 + 1023 rounds to k + 1023 + 2**52, whose bits
# shifted left by 52 are those of 2**k
_EXP64_SHIFT = 4503599627371519.0
_TANH64_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TANH64_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)

_MATH_OPTIONS = {k: JIT_OPTIONS[k] for k in ("fastmath", "error_model")}


@intrinsic
def _bitcast(typingctx, value):
    """Reinterpret the bits of a float32 as an int32, of a float64 as an int64 and back."""
    target = {types.float32: types.int32, types.int32: types.float32,
              types.float64: types.int64, types.int64: types.float64}.get(value)  # fmt: skip
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(value), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (LLVM's fma): the same fused instruction in
    freshly compiled and in cached code, which the ``contract`` fast-math flag does
    not guarantee (see ``_config.FASTMATH_FLAGS``)."""
    if not (a == b == c and a in (types.float32, types.float64)):
        return None

    def codegen(context, builder, signature, args):
        t = args[0].type
        return builder.call(builder.module.declare_intrinsic("llvm.fma", [t, t, t]), args)

    return a(a, b, c), codegen


@intrinsic
def wide_vectors(typingctx):
    """Let LLVM vectorize the calling function's loops with the CPU's widest vectors.

    On Intel's AVX-512 CPUs LLVM prefers 256-bit vectors (older ones lowered their
    clock for 512-bit instructions). Loops of exp and tanh are bound by arithmetic,
    and 512-bit vectors do twice the work per instruction: the float32 tanh loop
    took 0.74 of its time, the LSTM's forward gate math 0.85 (one thread). This is
    the function attribute ``"prefer-vector-width"="512"``, which llvmlite's IR
    builder does not list; a CPU without AVX-512 keeps its widest vectors (LLVM
    takes the smaller). Called first in the forward gate helpers only: the
    backward's gate loops are bound by memory, and the LSTM's took 1.35 times as
    long with 512-bit vectors for H = 128.

    Results change by rounding only, and only the LSTM's float32 h: LLVM rounds its
    ``o * tanh(c)`` differently in the vector loop and in the scalar remainder (the
    fast-math flags let it reorder the operations), and which units of a row fall
    in the remainder depends on the vector's width.
    """

    def codegen(context, builder, signature, args):
        # past llvmlite's list of known attributes; if that moved, the default width
        with contextlib.suppress(TypeError):
            set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.void(), codegen


@njit(**HELPER_OPTIONS)
def _exp32(x):
    x = _EXP_HI if x > _EXP_HI else x  # written so that NaN passes through
    x = _EXP_LO if x < _EXP_LO else x
    t = fma(x, _LOG2E, _EXP_SHIFT)  # k = x log2(e) rounded to the nearest integer
    k = t - _EXP_SHIFT
    r = fma(-k, _LN2_A32, x)
    r = fma(-k, _LN2_B32, r)
    p0, p1, p2, p3, p4, p5 = _EXP_P
    y = fma(fma(fma(fma(fma(p0, r, p1), r, p2), r, p3), r, p4), r, p5)
    y = fma(y, r * r, r) + _ONE32
    return y * _bitcast(np.int32(_bitcast(t) << 23))  # y * 2**k


@njit(**HELPER_OPTIONS)
def _tanh32(x):
    x = _TANH_HI if x > _TANH_HI else x  # written so that NaN passes through
    x = _TANH_LO if x < _TANH_LO else x
    z = x * x
    a13, a11, a9, a7, a5, a3, a1 = _TANH_P
    p = fma(fma(fma(fma(fma(fma(a13, z, a11), z, a9), z, a7), z, a5), z, a3), z, a1) * x
    b6, b4, b2, b0 = _TANH_Q
    return p / fma(fma(fma(b6, z, b4), z, b2), z, b0)


@njit(**HELPER_OPTIONS)
def _exp64(x):
    x = _EXP64_HI if x > _EXP64_HI else x  # written so that NaN passes through
    x = _EXP64_LO if x < _EXP64_LO else x
    t = fma(x, _LOG2E_64, _EXP64_SHIFT)  # k = x log2(e) rounded to the nearest integer
    k = t - _EXP64_SHIFT
    r = fma(-k, _LN2_LO, fma(-k, _LN2_HI, x))
    c13, c12, c11, c10, c9, c8, c7, c6, c5, c4, c3, c2 = _EXP64_P
    p = fma(c13, r, c12)
    p = fma(fma(fma(fma(fma(p, r, c11), r, c10), r, c9), r, c8), r, c7)
    p = fma(fma(fma(fma(fma(p, r, c6), r, c5), r, c4), r, c3), r, c2)
    p = fma(p, r * r, r) + 1.0
    return p * _bitcast(_bitcast(t) << 52)  # p * 2**k


@njit(**HELPER_OPTIONS)
def _tanh64(x):
    a = abs(x)
    big = 1.0 - 2.0 / (_exp64(a + a) + 1.0)
    big = big if x >= 0 else -big
    z = x * x
    p0, p1, p2 = _TANH64_P
    q0, q1, q2 = _TANH64_Q
    small = fma(x * z, fma(fma(p0, z, p1), z, p2) / fma(fma(z + q0, z, q1), z, q2), x)
    return big if a >= 0.625 else small


def tanh(a):
    """tanh in the type of a (the approximations above)."""
    return np.tanh(a)


@overload(tanh, jit_options=_MATH_OPTIONS)
def _tanh_impl(a):
    if a == types.float32:
        return lambda a: _tanh32(a)
    return lambda a: _tanh64(a)


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), in the type of a."""
    return 1.0 / (1.0 + np.exp(-a))


@overload(sigmoid, jit_options=_MATH_OPTIONS)
def _sigmoid_impl(a):
    if a == types.float32:
        return lambda a: _ONE32 / (_ONE32 + _exp32(-a))
    return lambda a: 1.0 / (1.0 + _exp64(-a))
