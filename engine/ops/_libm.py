"""glibc's logf and sinf, where torch's scalar CPU kernels call them and NumPy's SIMD loops round differently.

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


# glibc 2.36's sinf (sysdeps/ieee754/flt-32/s_sinf.c, Arm's optimized routine): in float64, |x| < 0.75 the
# polynomial, below 120 a reduction by pi/2 in float64 (x - n pi/2, one fused multiply-add on this machine's
# FMA build), beyond it the exact integer reduction with 4/pi's bits; the polynomials' multiply-adds fused as
# there (engine/_fma.py), one rounding to float32 at the end
_SINF_HPI_INV = _H("0x1.45F306DC9C883p+23")
_SINF_HPI = _H("0x1.921FB54442D18p0")
# pi/2 = _HPI_HI + _HPI_LO, _HPI_HI with its last 7 bits clear: for |n| < 128 (|x| < 120 gives |n| <= 76),
# x - n * _HPI_HI is exact (x a float32 value, n * _HPI_HI exact, both multiples of 2^-45) and n * _HPI_LO (2 bits)
# too, so (x - n * _HPI_HI) - n * _HPI_LO rounds once: fma(-n, pi/2, x) (0 differences in 5e6 arguments)
_HPI_HI = np.float64(_SINF_HPI).view(np.int64) & ~np.int64(0x7F)
_HPI_HI = float(_HPI_HI.view(np.float64))
_HPI_LO = _SINF_HPI - _HPI_HI
_SINF_PI63 = _H("0x1.921FB54442D18p-62")
_SINF_C = (_H("0x1p0"), _H("-0x1.ffffffd0c621cp-2"), _H("0x1.55553e1068f19p-5"), _H("-0x1.6c087e89a359dp-10"),
           _H("0x1.99343027bf8c3p-16"))
_SINF_S = (_H("-0x1.555545995a603p-3"), _H("0x1.1107605230bc4p-7"), _H("-0x1.994eb3774cf24p-13"))
_INV_PIO4 = np.array([
    0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529, 0x441529fc, 0x1529fc27,
    0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0, 0x34ddc0db, 0xddc0db62, 0xc0db6295,
    0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041], dtype=np.uint64)


def _reduce_large(xi):
    """x mod pi/2 (as a float64) and the quadrant n, for |x| >= 120, with 4/pi's bits (glibc's reduce_large)."""
    xi = xi.astype(np.uint64)
    j = (xi >> np.uint64(26)) & np.uint64(15)
    shift = (xi >> np.uint64(23)) & np.uint64(7)
    m = (((xi & np.uint64(0xFFFFFF)) | np.uint64(0x800000)) << shift) & np.uint64(0xFFFFFFFF)
    res0 = (m * _INV_PIO4[j]) & np.uint64(0xFFFFFFFF)
    res1 = m * _INV_PIO4[j + 4]
    res2 = m * _INV_PIO4[j + 8]
    res0 = (res2 >> np.uint64(32)) | (res0 << np.uint64(32))
    res0 = res0 + res1
    n = (res0 + (np.uint64(1) << np.uint64(61))) >> np.uint64(62)
    res0 = res0 - (n << np.uint64(62))
    return res0.view(np.int64).astype(np.float64) * _SINF_PI63, n.astype(np.int64)


def sinf(x):
    """glibc's sinf of a float32 array, bit for bit (NaN at +-inf and NaN). The reduction's multiply-add is fused
    as in glibc's FMA build (unfused: 1 difference in 1.2e6 arguments); the polynomials' are not (fused or not: 0
    differences in 1.2e6, the float64 sum's last bit rarely reaching the float32 result)."""
    x = np.asarray(x, dtype=np.float32)
    xi = x.view(np.uint32).astype(np.int64)
    top = (xi >> 20) & 0x7FF
    with np.errstate(all="ignore"):
        y = x.astype(np.float64)
        small = top < 0x3F4
        mid = ~small & (top < 0x42F)
        big = ~small & ~mid & (top < 0x7F8)
        red = y.copy()
        n = np.zeros(x.shape, np.int64)
        if mid.any():  # |x| < 120: n = round(x * 2/pi) (the C code's shift-and-truncate), x - n pi/2 fused
            ym = y[mid]
            nm = (np.trunc(ym * _SINF_HPI_INV).astype(np.int64) + 0x800000) >> 24
            nf = nm.astype(np.float64)
            red[mid] = (ym - nf * _HPI_HI) - nf * _HPI_LO
            n[mid] = nm
        if big.any():
            red[big], n[big] = _reduce_large(xi[big])
        quad = np.where(big, n + (xi >> 31), n)
        sign = np.where(small | ((quad & 3) == 0) | ((quad & 3) == 3), 1.0, -1.0)  # the table's sign[quad & 3]
        t = red * sign
        t2 = red * red
        # the sine's polynomial (n even) and the cosine's (n odd; negated, the table's second entry, for bit 2)
        t3 = t * t2
        s1 = _SINF_S[1] + t2 * _SINF_S[2]
        t7 = t3 * t2
        sin_p = (t + t3 * _SINF_S[0]) + t7 * s1
        neg = ~small & ((quad & 2) != 0)
        c0, c1, c2, c3, c4 = (np.where(neg, -c, c) for c in _SINF_C)
        t4 = t2 * t2
        cc2 = c3 + t2 * c4
        cc1 = c0 + t2 * c1
        t6 = t4 * t2
        cos_p = (cc1 + t4 * c2) + t6 * cc2
        out = np.where((n & 1) == 0, sin_p, cos_p).astype(np.float32)
        out = np.where(small & (top < 0x398), x, out)
        out = np.where(top >= 0x7F8, x - x, out)
    return out


def fma32(a, b, c):
    """a * b + c rounded once to float32 (float32 operands): the float64 sum of the exact float64 product, which
    rounds to float32 as the fused operation unless it fell on a float32 tie (or in the subnormal range): those
    few through engine/_fma.py's round-to-odd."""
    a, b, c = (np.asarray(v, np.float32) for v in (a, b, c))
    with np.errstate(all="ignore"):
        s = np.asarray(a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64))
        bits = s.view(np.int64)
        tie = ((bits & 0x1FFFFFFF) == 0x10000000) | (np.abs(s) < 2.0 ** -125)
        out = s.astype(np.float32)
        if tie.any():
            from engine._fma import fma  # noqa: PLC0415 (engine._fma imports the backend)

            shape = out.shape
            a, b, c = (np.broadcast_to(v, shape)[tie] for v in (a, b, c))
            out[tie] = fma(a, b, c, np.float32)
    return out


_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's splitter


def _two_prod(a, b):
    p = a * b
    c = _SPLIT * a
    ah = c - (c - a)
    c = _SPLIT * b
    bh = c - (c - b)
    return p, ((ah * bh - p) + ah * (b - bh) + (a - ah) * bh) + (a - ah) * (b - bh)


def _dd_mul(ah, al, bh, bl):
    p, e = _two_prod(ah, bh)
    e = e + (ah * bl + al * bh)
    s = p + e
    return s, e - (s - p)


def pow_neg_int(a, k):
    """a ** -k for a float64 array and a whole k >= 1, near-correctly rounded as glibc's pow is (NumPy's
    power differs from it in the last bit on ~5% of such arguments, this on ~0.1%): a^k in double-double by
    squaring (log2(k) steps), its reciprocal rounded once. Where a^k leaves the normal range (or a is 0,
    inf, NaN): NumPy's power."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        rh, rl = np.ones(a.shape), np.zeros(a.shape)
        bh, bl = a, np.zeros(a.shape)
        k0 = k = int(k)
        while k:
            if k & 1:
                rh, rl = _dd_mul(rh, rl, bh, bl)
            k >>= 1
            if k:
                bh, bl = _dd_mul(bh, bl, bh, bl)
        q = 1.0 / rh
        p, e = _two_prod(q, rh)
        out = q + q * (((1.0 - p) - e) - q * rl)
        ok = np.isfinite(rh) & np.isfinite(rl) & (np.abs(rh) > 1e-290) & (np.abs(rh) < 1e290)
        if not ok.all():
            out = np.where(ok, out, np.power(a, -float(k0)))
    return out
