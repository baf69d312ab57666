"""lerp's checks and kernel as torch 2.13's (aten/src/ATen/native/Lerp.cpp, cpu/LerpKernel.cpp).

The meta checks come first (the parser's OverflowError for a number weight, `end` and a weight with dims of
self's dtype, in C++ type names), then the shapes, then the kernel's dtype dispatch ("lerp_kernel_scalar" /
"lerp_kernel_tensor" not implemented for integer and bool dtypes), then the weight's checked conversion. The
values are torch's fused multiply-adds, bit for bit; float16 computes in float32 (opmath)."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D
from engine._fma import fma
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops.promotion import _check_broadcast
from engine.ops.scalar_fit import fill_value, scalar_arg
from engine.tensor import Tensor


def lerp_check(self, end, weight):
    """lerp's meta checks, before the shapes: the parser's OverflowError for a number weight, then `end` and a
    weight with dims of self's dtype (torch names the C++ types: "expected dtype float for `end` but got dtype
    double"); a 0-d weight takes part in the type promotion instead."""
    if not isinstance(weight, Tensor):
        scalar_arg(weight)
    ds = getattr(self, "_data", None)
    if ds is None:
        return
    for name, t in (("end", end), ("weight", weight)):
        d = getattr(t, "_data", None)
        if d is not None and d.dtype != ds.dtype and (name == "end" or d.ndim):
            raise TorchRuntimeError(f"expected dtype {D.cpp_type_name(ds.dtype)} for `{name}` but got dtype "
                                    f"{D.cpp_type_name(d.dtype)}")


_TINY32 = 2.0 ** -125  # below it float32 is subnormal (fewer bits: the midpoint test below does not hold)


def _fma32(w, d, c):
    """w * d + c rounded once to float32 (w, d, c float32): in float64 the product is exact and the sum rounds
    once; rounding that sum to float32 again differs from one rounding only where it lands exactly halfway
    between two float32s (its low 29 bits 1 followed by zeros), or in float32's subnormal range: there (rare)
    engine/_fma.py's fma decides. Several times cheaper than fma for small arrays."""
    s = np.multiply(w, d, dtype=np.float64)
    s += c
    if s.ndim == 0:
        return fma(w, d, c, np.float32)
    t = s.view(np.int64) & 0x1FFFFFFF
    if (t == 0x10000000).any() or (np.abs(s) < _TINY32).any():
        return fma(w, d, c, np.float32)
    return s.astype(np.float32)


def _lerp_fma(a, b, w):
    """lerp_kernel: fma(w, end - self, self) where |w| < 0.5, else fma(w - 1, end - self, end), rounded once
    (torch's CPU kernels fuse the multiply-add; engine/_fma.py); float16 computes in float32 (opmath)."""
    dt = a.dtype
    if dt == np.float16:
        f32 = np.float32
        a, b = a.astype(f32), b.astype(f32)
        w = w.astype(f32) if isinstance(w, np.ndarray) else f32(w)
    elif not isinstance(w, np.ndarray):
        w = dt.type(w)
    f = fma if dt == np.float64 else lambda x, y, z, dt: _fma32(x, y, z).astype(dt, copy=False)
    with np.errstate(all="ignore"):
        d = b - a
        if w.ndim == 0:
            return f(w, d, a, dt) if abs(w) < 0.5 else f(w - w.dtype.type(1), d, b, dt)
        small = np.abs(w) < 0.5
        return np.where(small, f(w, d, a, dt), f(w - w.dtype.type(1), d, b, dt))


def lerp_kernel(name, a, b, w):
    if a.dtype.kind != "f" or type(w) is not float or not -65504 <= w <= 65504:
        _check_broadcast((a, b, w))  # the shapes (TensorIterator's build) before the kernel's refusals
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f'"{name}" not implemented for \'{D.scalar_type_name(a.dtype)}\'')
    if not isinstance(w, np.ndarray):  # weight.to<opmath_t>(): c10's checked conversion (float16: into float)
        w = fill_value(w, np.dtype(np.float32) if a.dtype == np.float16 else a.dtype)
    elif w.dtype != a.dtype:  # a 0-d weight of another dtype, cast (torch's promotion casts it)
        w = w.astype(a.dtype)
    return _lerp_fma(a, b, w)
