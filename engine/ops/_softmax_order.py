"""The order torch's CPU softmax / log_softmax backward kernels add in (aten/src/ATen/native/cpu/SoftMaxKernel.cpp),
so that float32 / float64 gradients agree with torch's to the last bit.

The kernels are registered for AVX-512 (ALSO_REGISTER_AVX512_DISPATCH): 16 float32 / 8 float64 lanes.

- dim is the last dim (`_vec_host_softmax_backward_lastdim`): each row's sum is vec::map2_reduce_all (softmax:
  sum of grad * output) or vec::reduce_all (log_softmax: sum of grad). Below one vector the row's values are
  added in order; else the first vector is the accumulator, each further whole vector is added lane by lane,
  the tail's values into the first lanes (Vec::set), and the lanes are folded: float32 by halves (16 -> 8 -> 4
  -> 2 -> 1, vec_reduce_all's shuffles), float64 in lane order. Then softmax's `(grad - sum) * output` (the
  engine's product, the same value) and log_softmax's `grad - exp(output) * sum`, which GCC fuses into one
  multiply-add (the vector arithmetic is plain vector-type arithmetic, contracted).
- another dim (`_vec_softmax_backward` / `_vec_log_softmax_backward`): each (outer, inner) position's sum runs
  over the dim in order from 0: softmax's `sum += grad * output` fused (one multiply-add a step), log_softmax's
  a plain sum; then softmax's `output * (grad - sum)`, log_softmax's fused `grad - exp(output) * sum`.

Measured against torch 2.13 (tests/engine/test_grad18_softmax.py): softmax's float32 gradients bit for bit,
float64's along the last dim (along another, each step's fma would need engine._fma's emulated float64 fma:
~500 us a call); log_softmax's sums, but not its fused multiply-add or SLEEF's exp (see log_softmax_backward).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.ops._libm import fma32

_LANES = {np.dtype(np.float32): 16, np.dtype(np.float64): 8}
# The modelled orders step through a dim (or its vectors) in Python, each step a few NumPy calls: bounded here, so
# that a long dim costs what the op's rule charges (review15 R11: softmax over dim 0 of an expanded (3e5, 1) ran
# 6 s past a 1 s deadline). Longer: NumPy's own reduction, the last bits as before grad18.
MAX_STEPS = 1024


def modelled(a) -> bool:
    """Whether the kernels' order is modelled for this array (a float32 / float64 NumPy array)."""
    return type(a) is np.ndarray and a.dtype in _LANES


def _in_order(y):
    """y (m, R) summed over its first axis adding in index order: NumPy reduces the first axis of a C-contiguous
    array row after row (its inner loop runs along the kept axis); with R == 1 that axis would be the inner one,
    summed pairwise, so one column goes by a running sum."""
    if y.shape[1] == 1:
        return np.cumsum(y[:, 0])[-1:]
    return np.add.reduce(y, axis=0)


def row_sums(x):
    """vec::reduce_all(+) along the last axis of a 2-D float32 / float64 array (R, n), n >= 1. The whole vectors
    are added one (R, lanes) slice at a time, or for a few long rows by a reduction over the middle axis of an
    (R, vectors, lanes) view (NumPy adds it in order; over many rows of a fresh array it can cost 50-100x a plain
    sum on this machine, as can a transposed copy: docs/runs/grad18.md)."""
    r, n = x.shape
    w = _LANES[x.dtype]
    if n < w:  # one partial vector: lane 0 adds the row's values in order
        return _in_order(np.ascontiguousarray(x.T)) if n > 1 else x[:, 0].copy()
    k = n // w
    if k > 16 and r < 32 or k > MAX_STEPS:  # whole vectors added lane by lane, in order
        acc = np.add.reduce(as_strided(x, (r, k, w), (x.strides[0], w * x.itemsize, x.itemsize)), axis=1)
    else:
        acc = x[:, :w].copy()
        for j in range(1, k):
            acc += x[:, j * w: (j + 1) * w]
    t = n - k * w
    if t:
        acc[:, :t] += x[:, k * w:]
    if w == 16:  # float32's shuffles
        return _fold16(acc)
    return _in_order(np.ascontiguousarray(acc.T))  # float64: lane by lane


def _rounds_as_fused(t):
    """Whether the float64 sums t (each of two float32 values' exact product and a float32; a C-contiguous array)
    round to float32 as the fused operation would: not on a float32 tie, not in float32's subnormal range (under
    the caller's errstate: NaN compared)."""
    return not (((t.view(np.int64) & 0x1FFFFFFF) == 0x10000000) | (np.abs(t) < 2.0 ** -125)).any()


def _fused_sum32(g3, o3):
    """float32 (P, n, Q): for each (p, q), s = 0 then s = fma(g, o, s) along n, rounded once a step. The exact
    float64 product plus s rounds to float64 and then to float32, which is the fused rounding unless the float64
    sum falls on a float32 tie or in float32's subnormal range (checked over the steps a quarter of them at a time,
    so that the float64 work stays within about one float32 copy of the input: softmax_backward_data's charged
    temporaries; where one fails, every step again by _libm.fma32's exact route)."""
    p_, n, q_ = g3.shape
    s = np.zeros((p_, q_))  # the float32 sum so far, widened (exactly) to float64
    batch, exact = max(1, n // 4), True
    with np.errstate(invalid="ignore"):  # (the check compares NaN sums)
        for lo in range(0, n, batch):
            # a batch's products at once, step-major and contiguous (NumPy's in-place arithmetic on strided
            # float64 views cost ~8x), exact in float64; then each step's t = product + s in place and s = t
            # rounded to float32: the same values as one step at a time
            t = np.ascontiguousarray(g3[:, lo: lo + batch].transpose(1, 0, 2), np.float64)
            o = np.ascontiguousarray(o3[:, lo: lo + batch].transpose(1, 0, 2), np.float64)
            t *= o
            del o
            for tj in t:
                tj += s
                s = tj.astype(np.float32).astype(np.float64)
            exact = exact and _rounds_as_fused(t)
            del t, tj
    if exact:
        return s.astype(np.float32)
    s32 = np.zeros((p_, q_), np.float32)
    for i in range(n):
        s32 = fma32(g3[:, i], o3[:, i], s32)
    return s32


def _fold16(acc):
    """float32's vec_reduce_all over 16 lanes: by halves (lane i + lane i ^ 8, then ^ 4, ^ 2, ^ 1)."""
    for h in (8, 4, 2, 1):
        acc = acc[:, :h] + acc[:, h: 2 * h]
    return acc[:, 0]


def half_row_sums(p):
    """The reduced-float vec::map2_reduce_all (functional_bfloat16.h) on float16 rows, over their float32 products
    p (R, n): 32 halves a load, converted to two float32 vectors of 16 lanes. Below 32 values: the second
    vector's values added into the first's lanes, then its 16 lanes (or the n values) in order; else two
    accumulators over the 32-value blocks, the tail into the first lanes of each, summed lane by lane and folded
    by halves."""
    r, n = p.shape
    if n < 32:
        if n <= 16:
            return _in_order(np.ascontiguousarray(p.T)) if n > 1 else p[:, 0].copy()
        v = np.zeros((r, 16), np.float32)  # the partial load's missing lanes are 0 (0 * 0 after the map)
        v[:, :] = p[:, :16]
        v[:, : n - 16] += p[:, 16:]
        return _in_order(np.ascontiguousarray(v.T))
    k = n // 32
    if k > MAX_STEPS:  # (the same order, added by NumPy over the middle axis of a strided view)
        acc = np.add.reduce(as_strided(p, (r, k, 32), (p.strides[0], 32 * p.itemsize, p.itemsize)), axis=1)
    else:
        acc = p[:, :32].copy()
        for j in range(1, k):
            acc += p[:, 32 * j: 32 * j + 32]
    t = n - 32 * k
    if t:
        acc[:, :t] += p[:, 32 * k:]
    return _fold16(acc[:, :16] + acc[:, 16:])


def softmax_backward_half(g, out, d):
    """_softmax_backward_data for float16 (the reduced-float kernels compute in float32 and round once): the
    products of two halves are exact in float32, so the non-last-dim kernel's fused `sum += g * o` is the plain
    sum; then `(g - sum) * o` in float32, rounded to float16."""
    n = g.shape[d]
    if d == g.ndim - 1:
        p = g.astype(np.float32)  # (in place after: one float32 copy at a time, within the charged temporaries)
        p *= out
        s = half_row_sums(p.reshape(-1, n)).reshape(g.shape[:-1] + (1,))
        del p
    else:
        g3 = np.ascontiguousarray(g).reshape(int(np.prod(g.shape[:d])), n, -1)
        o3 = np.ascontiguousarray(out).reshape(g3.shape)
        if n > MAX_STEPS:
            s = np.add.reduce(g3.astype(np.float32) * o3, axis=1)
        else:
            s = np.zeros((g3.shape[0], g3.shape[2]), np.float32)
            for i in range(n):
                s = s + g3[:, i].astype(np.float32) * o3[:, i]
        s = s.reshape(g.shape[:d] + (1,) + g.shape[d + 1:])
    r = g.astype(np.float32)
    r -= s
    r *= out
    return r.astype(np.float16)


def softmax_backward(g, out, d):
    """_softmax_backward_data's value for float32 / float64 g, out of one shape (ndim >= 1) and dim d, or None
    where the order is not modelled (float64 along another dim than the last: an emulated float64 fma a step
    would cost ~100x)."""
    n = g.shape[d]
    if d == g.ndim - 1:
        s = row_sums(np.ascontiguousarray(g * out).reshape(-1, n)).reshape(g.shape[:-1] + (1,))
        return out * (g - s)
    if g.dtype != np.float32 or n > MAX_STEPS:
        return None
    g3 = np.ascontiguousarray(g).reshape(int(np.prod(g.shape[:d])), n, -1)
    o3 = np.ascontiguousarray(out).reshape(g3.shape)
    return (o3 * (g3 - _fused_sum32(g3, o3)[:, None])).reshape(g.shape)


def log_softmax_backward(g, out, d):
    """_log_softmax_backward_data's value for float32 / float64 g, out of one shape (ndim >= 1) along the last dim
    d, but for the fused `grad - exp(output) * sum` and torch's vector exp (SLEEF's): the engine rounds the
    product, and NumPy's exp differs from SLEEF's in the last bit for ~1% of float64 / ~5% of float32 values.
    None for another dim (the engine's sum is already the kernel's order there)."""
    n = g.shape[d]
    if d != g.ndim - 1:
        return None
    s = row_sums(np.ascontiguousarray(g).reshape(-1, n)).reshape(g.shape[:-1] + (1,))
    return g - np.exp(out) * s
