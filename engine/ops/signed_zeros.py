"""Which zero torch 2.13's CPU kernels answer where a binary max / min meets +0.0 and -0.0 (redteam14 F3).

maximum / minimum and clamp_min / clamp_max / clamp with tensor bounds: aten's vectorized loop (cpu_kernel_vec)
runs its vector body over whole pairs of vectors of the inner loop, 2 V elements at a time (V = 8 float32, 4
float64, 16 float16 on this build: measured, every length 1-100), and its scalar op on the tail. The vector
max / min answers its second operand where the two compare equal (+0.0 == -0.0), the scalar std::max / min its
first. fmax / fmin (std::fmax, their first operand) answer the first operand at every place.

The inner loop is TensorIterator's: the output's trailing dims coalesced while every operand is either contiguous
across them or broadcast across them as a whole (here: C-contiguous operands only; others, and outputs past
aten's grain size of 32768 elements, which it splits among threads, keep NumPy's answer). Only the zeros that
compare equal to the other operand's are looked at: one comparison and an any() when there are none."""
from __future__ import annotations

import numpy as np

_PAIR = {np.dtype(np.float32): 16, np.dtype(np.float64): 8, np.dtype(np.float16): 32}
_GRAIN = 32768


def _inner(shape, *operands):
    """(the length of TensorIterator's inner loop over a C-ordered output of `shape`: the trailing dims an operand
    holds in full, or broadcasts in full, merged while every operand does the same for all of them; how many
    operands it broadcasts: cpu_kernel_vec vectorizes only where at most one does)."""
    n = 1
    kinds = None
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1:
            continue
        here = tuple(op.ndim + d - len(shape) >= 0 and op.shape[op.ndim + d - len(shape)] != 1 for op in operands)
        if kinds is not None and here != kinds:
            break
        kinds = here
        n *= shape[d]
    return n, 0 if kinds is None else kinds.count(False)


def by_place(out, first, second, operands=None):
    """out (a fresh max / min of first and second) with aten's zero at each place where both are zeros: second in
    the vector body, first in the scalar tail. operands: all the kernel's inputs where there are more (clamp's
    self, min and max), which decide its inner loop."""
    pair = _PAIR.get(out.dtype)
    if pair is None or out.size > _GRAIN:
        return out
    if isinstance(out, np.generic):  # a 0-d answer (NumPy's scalar): one element, the scalar op's (first)
        return _first_zero(out, first)
    if not isinstance(out, np.ndarray):  # (CuPy's arrays: its kernels' zeros)
        return out
    if not (getattr(first, "flags", None) is None or first.flags.c_contiguous) or not (
            getattr(second, "flags", None) is None or second.flags.c_contiguous):
        return out
    zero = out == 0
    if not zero.any():
        return out
    a, b = np.asarray(first), np.asarray(second)
    n, broadcast = _inner(out.shape, *[np.asarray(o) for o in (operands or (a, b))])
    idx = np.flatnonzero(zero)
    body = idx % n < (n - n % pair if broadcast <= 1 else 0)
    fa = np.broadcast_to(a, out.shape).reshape(-1)[idx]
    fb = np.broadcast_to(b, out.shape).reshape(-1)[idx]
    flat = out.reshape(-1)
    flat[idx] = np.where(body & (fb == 0), fb, np.where(fa == 0, fa, flat[idx]))
    return out


def _first_zero(out, first):
    if out == 0:
        f = np.asarray(first)
        if f.size == 1 and f.reshape(()) == 0:
            return out.dtype.type(f.reshape(()))
    return out


def first_where_equal(out, first):
    """fmax / fmin: std::fmax's first operand where both are zeros (NumPy's loops answer either)."""
    if out.dtype.kind != "f":
        return out
    if isinstance(out, np.generic):
        return _first_zero(out, first)
    if not isinstance(out, np.ndarray):  # (CuPy's arrays: its kernels' zeros)
        return out
    zero = out == 0
    if zero.any():
        a = np.broadcast_to(np.asarray(first), out.shape)
        np.copyto(out, a, where=zero & (a == 0))
    return out


def placed(fn):
    """fn (np.maximum / np.minimum) with aten's zeros by place."""
    def f(a, b):
        return by_place(fn(a, b), a, b)
    f.__name__ = fn.__name__
    return f


def first_kept(fn):
    def f(a, b):
        return first_where_equal(fn(a, b), a)
    f.__name__ = fn.__name__
    return f
