"""torch's CPU kernels that optimizers call, over arrays, to the bit: add(alpha), lerp, addcmul, addcdiv.

torch's CPU kernels fuse multiply-adds (vec::fmadd, and GCC contracts the scalar tails too): measured on torch
2.13, `add(x, y, alpha=a)` is fma(y, a, x), `addcmul(x, t1, t2, value=v)` is fma(v*t1, t2, x),
`lerp(x, end, w)` is fma(w, end-x, x) for |w| < 0.5 and fma(w-1, end-x, end) otherwise, while
`addcdiv(x, t1, t2, value=v)` is x + (v*t1)/t2 with no fusion. Python scalars are cast to the tensor's dtype
first (the kernels' opmath type for float32 and float64). NumPy has no fused multiply-add, so `fma` below
computes one (engine/_fma.py, correctly rounded).
"""
from __future__ import annotations

import numpy as np

from engine._fma import fma


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
