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
        return xp.asarray(r, np.float64)
