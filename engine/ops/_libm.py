"""glibc's libm functions where torch's scalar CPU kernels call them and NumPy's SIMD loops round differently.

torch's calc_digamma (aten/src/ATen/native/Math.h) calls ::logf / ::log per element; NumPy's float32 log is
its own AVX-512 polynomial (it differs from glibc's logf in the last bit for ~5% of inputs, and so does float32
log through float64: ~0.1%). Here glibc 2.36's logf (sysdeps/ieee754/flt-32/e_logf.c, Arm's optimized routine:
a 16-entry table of 1/c and log(c), a cubic in float64, one rounding to float32) in whole-array NumPy steps:
float64 arithmetic throughout, whose result rounds to the same float32 whether or not the multiply-adds fuse
(0 differences from the C library's logf over every float32 in [0.5, 2) and 2e6 random finite positive ones).
"""
from __future__ import annotations

import numpy as np

_H = float.fromhex
# (1/c, log(c)) for the 16 subintervals of [0x3f330000, 2 * 0x3f330000) (glibc's __logf_data.tab)
_LOGF_TAB = (
    ("0x1.661ec79f8f3bep+0", "-0x1.57bf7808caadep-2"), ("0x1.571ed4aaf883dp+0", "-0x1.2bef0a7c06ddbp-2"),
    ("0x1.49539f0f010bp+0", "-0x1.01eae7f513a67p-2"), ("0x1.3c995b0b80385p+0", "-0x1.b31d8a68224e9p-3"),
    ("0x1.30d190c8864a5p+0", "-0x1.6574f0ac07758p-3"), ("0x1.25e227b0b8eap+0", "-0x1.1aa2bc79c81p-3"),
    ("0x1.1bb4a4a1a343fp+0", "-0x1.a4e76ce8c0e5ep-4"), ("0x1.12358f08ae5bap+0", "-0x1.1973c5a611cccp-4"),
    ("0x1.0953f419900a7p+0", "-0x1.252f438e10c1ep-5"), ("0x1p+0", "0x0p+0"),
    ("0x1.e608cfd9a47acp-1", "0x1.aa5aa5df25984p-5"), ("0x1.ca4b31f026aap-1", "0x1.c5e53aa362eb4p-4"),
    ("0x1.b2036576afce6p-1", "0x1.526e57720db08p-3"), ("0x1.9c2d163a1aa2dp-1", "0x1.bc2860d22477p-3"),
    ("0x1.886e6037841edp-1", "0x1.1058bc8a07ee1p-2"), ("0x1.767dcf5534862p-1", "0x1.4043057b6ee09p-2"))
_LOGF_INVC = np.array([_H(a) for a, _ in _LOGF_TAB])
_LOGF_LOGC = np.array([_H(b) for _, b in _LOGF_TAB])
_LOGF_LN2 = _H("0x1.62e42fefa39efp-1")
_LOGF_A = (_H("-0x1.00ea348b88334p-2"), _H("0x1.5575b0be00b6ap-2"), _H("-0x1.ffffef20a4123p-2"))
_LOGF_OFF = 0x3F330000


def logf(x):
    """glibc's logf of a float32 array, bit for bit: -inf at +-0, NaN below 0 and for NaN, inf at inf."""
    x = np.asarray(x, dtype=np.float32)
    ix = x.view(np.uint32).astype(np.int64)
    special = (ix == 0) | (ix >= 0x7F800000)  # +0, the sign bit (-0, negatives), inf, NaN: NumPy's log
    with np.errstate(all="ignore"):
        # subnormals: scaled by 2^23 into the normal range, the exponent taken back (ix may go below 0 here, as
        # the C code's uint32 wraps: the same bits below)
        sub = (ix > 0) & (ix < 0x00800000)
        if sub.any():
            ix = np.where(sub, (x * np.float32(2.0 ** 23)).view(np.uint32).astype(np.int64) - (23 << 23), ix)
        tmp = ix - _LOGF_OFF
        i = (tmp >> 19) & 15
        k = (tmp >> 23).astype(np.float64)  # arithmetic shift: the exponent relative to the table's interval
        z = (ix - (tmp & 0xFF800000)).astype(np.uint32).view(np.float32).astype(np.float64)
        r = z * _LOGF_INVC[i] - 1.0
        y0 = _LOGF_LOGC[i] + k * _LOGF_LN2
        r2 = r * r
        y = _LOGF_A[1] * r + _LOGF_A[2]
        y = _LOGF_A[0] * r2 + y
        y = y * r2 + (y0 + r)
        out = y.astype(np.float32)
        if special.any():
            out = np.where(special, np.log(x), out)
        out = np.where(x == 1, np.float32(0.0), out)
    return out
