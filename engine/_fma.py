"""A fused multiply-add for NumPy arrays, correctly rounded (NumPy has none): a * b + c with one rounding.

torch's CPU kernels fuse multiply-adds (Vectorized fmadd, and GCC contracts the scalar tails too), so
reproducing their bits needs one. float32 goes through float64 with round-to-odd (the float64 sum of the exact
product, nudged to odd where inexact, rounds to float32 as the fused operation would); float64 uses Dekker's
exact product and Boldo & Melquiond's emulated FMA (rounding to odd). float16 runs in float32 and is rounded
once at the end. Products that overflow or underflow past float64's range fall back to the plain a * b + c.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    p = a * b
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLIT * b
    bh = c - (c - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _xp(*arrays):
    """The array module of the operands: CuPy's where one is a CuPy array (engine._backend), else NumPy."""
    for a in arrays:
        if not isinstance(a, np.ndarray | np.generic | float | int):
            return B.xp
    return np


def _round_to_odd(s, e):
    """s + e is exact and s is s + e rounded to nearest: the same sum rounded to odd instead."""
    s = _xp(s).asarray(s, dtype=np.float64).reshape(-1).copy()
    e = _xp(e).asarray(e).reshape(-1) if np.ndim(e) else e
    e = np.broadcast_to(e, s.shape)
    fix = (e != 0) & ((s.view(np.int64) & 1) == 0) & np.isfinite(s)
    if fix.any():
        s[fix] = np.nextafter(s[fix], np.where(e[fix] > 0, np.inf, -np.inf))
    return s


def fma(a, b, c, dtype):
    """a * b + c rounded once, as arrays of `dtype` (float32 or float64; float16 through float32)."""
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return fma(a, b, c, np.float32).astype(np.float16)
    with np.errstate(all="ignore"):
        if dtype == np.float32:
            xp = _xp(a, b, c)
            a, b, c = (xp.asarray(x, np.float32).astype(np.float64) for x in (a, b, c))
            shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
            s, e = _two_sum(a * b, c)  # a * b is exact in float64
            return _round_to_odd(s, e).reshape(shape).astype(np.float32)
        xp = _xp(a, b, c)
        a, b, c = (xp.asarray(x, np.float64) for x in (a, b, c))
        return xp.asarray(_fma64(a, b, c, True), np.float64)


def _fma64(a, b, c, rescale):
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, ul)
    vh, vl = _two_sum(uh, th)
    w, we = _two_sum(tl, vl)
    r = vh + _round_to_odd(w, we).reshape(np.shape(w))
    if r.shape != shape:  # (a fresh array, never a view: the pool's chunks take only fresh results)
        r = r.reshape(shape)
    # overflow or non-finite operands leave the error terms meaningless: there the plain result is right;
    # so it is where the exact result is zero (a * b is then -c exactly: the plain sum keeps IEEE's sign of
    # zero, -0.0 + -0.0 = -0.0, which the split terms lose)
    bad = ~np.isfinite(uh) | ~np.isfinite(ul) | ~np.isfinite(r)
    zero = r == 0
    if np.any(zero):  # finite operands only (a NaN or inf would not sum to 0): fixed on those elements alone
        r = np.asarray(r)  # (a 0-d sum is a NumPy scalar)
        zero &= ~bad
        az, bz, cz = (np.broadcast_to(x, shape)[zero] for x in (a, b, c))
        r[zero] = az * bz + cz
    if not np.any(bad):
        return r
    # the whole arrays' plain formula where any element is not finite: NumPy's NaN payload order (operand first)
    # is that of its whole-array loops, the same in every chunk of the pool (a subset's loop need not be)
    plain = a * b + c
    fin = np.isfinite(a) & np.isfinite(b)
    # c infinite, a and b finite: the exact product is finite, so the exact sum is c (a * b may overflow)
    plain = np.where(fin & np.isinf(c), c, plain)
    over = fin & np.isfinite(c) & ~np.isfinite(uh)
    if rescale and np.any(over):  # the product overflows, the fused sum need not: a quarter of it, exactly
        big = np.abs(a) >= np.abs(b)
        a4, b4 = np.where(big, a * 0.25, a), np.where(big, b, b * 0.25)
        plain = np.where(over, _fma64(a4, b4, np.broadcast_to(c * 0.25, shape), False) * 4.0, plain)
    return np.where(bad, plain, r)


# torch's CPU add kernel (aten/src/ATen/native/ufunc/add.h) is `self + alpha * other` in its scalar loop and
# `vec::fmadd(other, alpha, self)` in its vectorized one, alpha read as the tensors' dtype (alpha.to<scalar_t>()).
# float32 / float64: GCC contracts the scalar loop into an fma too, so every element is one fused rounding
# (measured: sizes 1..70 and 1000, 0 differences). float16: the vectorized body computes in float32 (the product
# of two halves is exact there) and rounds once to float16; the scalar tail is c10::Half arithmetic, the product
# rounded to float16 first. The body runs in blocks of _BLOCK16 elements of each inner row (measured on this
# machine's AVX512 build: n // 32 * 32 fused, n % 32 not).
_BLOCK16 = 32


def _inner_row(shape, operands):
    """TensorIterator's inner loop for contiguous operands broadcast to `shape`: its length (the trailing dims
    coalesce while every operand is either present in all of them or broadcast over all of them) and, per
    operand, whether it is broadcast (a stride-0 scalar) along it."""
    shapes = [(1,) * (len(shape) - np.ndim(x)) + tuple(np.shape(x)) for x in operands]
    row, kind = 1, (False,) * len(operands)
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1:
            continue
        k = tuple(s[d] == 1 for s in shapes)
        if row > 1 and k != kind:
            break
        kind, row = k, row * shape[d]
    return row, kind


# Where `other` is a stride-0 scalar along the inner loop (a number, a 0-d tensor, a broadcast column) and self
# is not, the scalar loop of the tail is compiled differently: GCC hoists the invariant `alpha * other` out of it
# and vectorizes it by _GROUP elements without the fma. Measured (4000 rows x every tail length, float32 and
# float64): after the body of 2 * V-element blocks, V more fused elements where V or more are left; of the R left
# then, the first is fused, the next (R - 1) // G * G are `self + round(alpha * other)`, the rest fused.
_SCALAR_TAIL = {np.dtype(np.float32): (16, 4), np.dtype(np.float64): (8, 2)}  # dtype: (V, G)


def _unfused_columns(row, dt):
    v, g = _SCALAR_TAIL[dt]
    left = row % (2 * v)
    first = row - left + (v if left >= v else 0)  # the scalar loop's first element (fused)
    n = max(row - first - 1, 0) // g * g
    return slice(first + 1, first + 1 + n)


_TINY32 = 2.0**-125  # below it a float32 result may be subnormal: fewer bits, the quick path's check misses


def _fma32(b, al, a):
    """b * al + a rounded once to float32 (float32 operands; as parity12's pointwise_lerp._fma32): the float64
    product is exact and the float64 sum rounds once; rounding that to float32 again differs from one rounding
    only where it lands exactly halfway between two float32s (low 29 bits 1 then zeros) or near float32's
    subnormals: only those elements (rare, or about half for small integer alphas) are rounded to odd in
    float64 first, as fma does. Several times cheaper than fma."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    with np.errstate(all="ignore"):
        p = np.multiply(b, al, dtype=np.float64)
        s = np.add(p, a, dtype=np.float64)
        if s.ndim == 0:
            return fma(b, al, a, np.float32)
        m = ((s.view(np.int64) & 0x1FFFFFFF) == 0x10000000) | (np.abs(s) < _TINY32)
        r = s.astype(np.float32)
        if m.any():
            sm, e = _two_sum(np.broadcast_to(p, s.shape)[m], np.broadcast_to(a, s.shape)[m].astype(np.float64))
            r[m] = _round_to_odd(sm, e).astype(np.float32)
        return r


def add_scaled(a, b, alpha):
    """a + alpha * b with torch's roundings where the result is float16 / float32 / float64 (None otherwise:
    integer and bool results are exact in any order). a, b: arrays or numbers of one dtype (promoted)."""
    dt = np.result_type(a, b)
    if dt.kind != "f" or dt.itemsize > 8:
        return None
    if dt != np.float16:
        al = np.asarray(alpha, dt)
        m, k = np.frexp(al)
        if abs(m) == 0.5 and 1 <= k <= 64:  # alpha = +-2**n (n >= 0): alpha * b exact, unless it overflows
            with np.errstate(all="ignore"):
                r = np.asarray(a, dt) + np.asarray(b, dt) * al
            if np.isfinite(r).all():
                return r
        r = _fma32(b, al, a) if dt == np.float32 else fma(b, al, a, dt)
        a_nan = np.isnan(a)
        if np.any(a_nan):  # a NaN self is the answer, its payload and sign kept (the FMA's NaN order)
            r = np.where(a_nan, np.asarray(a, dt), r)
        if r.size > 1:
            row, (a_scalar, b_scalar) = _inner_row(r.shape, (a, b))
            cols = _unfused_columns(row, dt) if b_scalar and not a_scalar else slice(0, 0)
            if cols.stop > cols.start:
                with np.errstate(all="ignore"):
                    r2 = r.reshape(-1, row)
                    a2 = np.broadcast_to(np.asarray(a, dt), r.shape).reshape(-1, row)[:, cols]
                    b2 = np.broadcast_to(np.asarray(b, dt), r.shape).reshape(-1, row)[:, cols]
                    r2[:, cols] = a2 + b2 * al  # (r2 a view of r: r stays a fresh array)
        return r
    f32 = np.float32
    with np.errstate(all="ignore"):
        al = f32(np.float16(alpha))
        a32 = np.asarray(a, np.float16).astype(f32)
        p = np.asarray(b, np.float16).astype(f32) * al  # exact in float32
        r = np.asarray((a32 + p).astype(np.float16))  # (an array even for 0-d operands: written below)
        shape = r.shape
        row = _inner_row(shape, (a, b))[0] if r.size else 0
        if row % _BLOCK16:  # the scalar tail of each inner row: Half * Half rounded to Half, then Half + Half
            tail = slice(row - row % _BLOCK16, row)
            r2 = r.reshape(-1, row)
            a2 = np.broadcast_to(a32, shape).reshape(-1, row)[:, tail]
            p2 = np.broadcast_to(p, shape).reshape(-1, row)[:, tail]
            r2[:, tail] = (a2 + p2.astype(np.float16).astype(f32)).astype(np.float16)  # (a view of r)
    return r
