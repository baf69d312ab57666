"""torch's CPU kernels that optimizers call, over arrays, to the bit: add(alpha), lerp, addcmul, addcdiv.

torch's CPU kernels fuse multiply-adds (vec::fmadd, and GCC contracts the scalar tails too): measured on torch
2.13, `add(x, y, alpha=a)` is fma(y, a, x), `addcmul(x, t1, t2, value=v)` is fma(v*t1, t2, x),
`lerp(x, end, w)` is fma(w, end-x, x) for |w| < 0.5 and fma(w-1, end-x, end) otherwise, while
`addcdiv(x, t1, t2, value=v)` is x + (v*t1)/t2 with no fusion. Python scalars are cast to the tensor's dtype
first (the kernels' opmath type for float32 and float64). NumPy has no fused multiply-add, so `fma` below
computes one, correctly rounded: float32 through float64 with round-to-odd (the float64 sum of an exact
product, nudged to odd where inexact, rounds to float32 as the fused operation would), float64 with Dekker's
exact product and Boldo & Melquiond's emulated FMA (rounding to odd). float16 runs in float32 (torch's
opmath) and is rounded once at the end.
"""
from __future__ import annotations

import numpy as np

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


def _round_to_odd(s, e):
    """s + e is exact and s is s + e rounded to nearest: the same sum rounded to odd instead."""
    s = np.array(s, dtype=np.float64, copy=True, ndmin=1)
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
            a, b, c = (np.asarray(x, np.float32).astype(np.float64) for x in (a, b, c))
            shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
            s, e = _two_sum(a * b, c)  # a * b is exact in float64
            return _round_to_odd(s, e).reshape(shape).astype(np.float32)
        a, b, c = (np.asarray(x, np.float64) for x in (a, b, c))
        shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
        uh, ul = _two_prod(a, b)
        th, tl = _two_sum(c, ul)
        vh, vl = _two_sum(uh, th)
        w, we = _two_sum(tl, vl)
        r = (vh + _round_to_odd(w, we).reshape(np.shape(w))).reshape(shape)
        # overflow or non-finite operands leave the error terms meaningless: there the plain result is right
        bad = ~np.isfinite(uh) | ~np.isfinite(ul) | ~np.isfinite(r)
        if np.any(bad):
            r = np.where(bad, a * b + c, r)
        return np.asarray(r, np.float64)


def _scalar(v, dtype):
    dt = np.dtype(dtype)
    return (np.float32 if dt == np.float16 else dt.type)(v)


def add(x, y, alpha=1.0):
    """torch.add(x, y, alpha=alpha)."""
    if alpha == 1:
        return x + y
    return fma(y, _scalar(alpha, x.dtype), x, x.dtype)


def mul(x, s):
    """x * a Python scalar (cast to x's dtype first, as torch's kernel does)."""
    return x * _scalar(s, x.dtype).astype(x.dtype)


def div(x, s):
    return x / _scalar(s, x.dtype).astype(x.dtype)


def add_scalar(x, s):
    return x + _scalar(s, x.dtype).astype(x.dtype)


def lerp(x, end, weight):
    """torch.lerp(x, end, weight) for a Python float weight."""
    w = _scalar(weight, x.dtype)
    if abs(w) < 0.5:
        return fma(w, end - x, x, x.dtype)
    return fma(w - w.dtype.type(1), end - x, end, x.dtype)


def addcmul(x, t1, t2, value=1.0):
    """torch.addcmul(x, t1, t2, value=value)."""
    v = _scalar(value, x.dtype)
    return fma(v * t1, t2, x, x.dtype)


def addcdiv(x, t1, t2, value=1.0):
    """torch.addcdiv(x, t1, t2, value=value)."""
    v = _scalar(value, x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x + (v * t1) / t2).astype(x.dtype)
