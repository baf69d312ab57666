"""linspace and arange values as torch's CPU kernels compute them (RangeFactoriesKernel.cpp), to the bit.

linspace: step = (end - start) / (steps - 1) in the dtype; element i is start + step * i for the first half
and end - step * (steps - 1 - i) for the rest (the two-sided step, exact at both ends), each a fused
multiply-add (torch's vectorized and scalar paths agree on this: measured on torch 2.13). float16 rounds every
operation to half (c10::Half's operators), unfused. Integer dtypes take start and end as integers and the
step and the products in double, truncated.

arange: in double (float32/float64; float for float16), in 32-byte vectors as torch's kernel runs them: each
vector's base is start + step * i0, rounded to the dtype, and its lanes are base + j * step (fused, in double,
then rounded); elements past the last pair of vectors are start + step * i. Past GRAIN_SIZE elements torch
splits the range among its threads, each starting its own vectors: the split follows engine.ops._torch_sum's
model of torch's thread count.
"""
from __future__ import annotations

import numpy as np

from engine._fma import fma
from engine.ops._torch_sum import GRAIN_SIZE, VECTOR_BYTES, torch_threads


def linspace_values(start, end, steps, dt):
    """`steps` values from start to end as a NumPy array of dtype dt."""
    dt = np.dtype(dt)
    if steps == 0:
        return np.zeros(0, dt)
    i = np.arange(steps)
    half = steps // 2
    if dt == np.float16:  # c10::Half arithmetic: every operation rounds to half, no fusion
        h = np.float16
        s, e = h(start), h(end)
        if steps == 1:
            return np.array([s], dt)
        step = h(h(e - s) / h(steps - 1))
        lo = s + step * i[:half].astype(h)
        hi = e - step * (steps - 1 - i[half:]).astype(h)
        return np.concatenate([lo, hi]).astype(dt)
    if dt.kind == "f":
        s, e = dt.type(start), dt.type(end)
        if steps == 1:
            return np.array([s], dt)
        step = (e - s) / dt.type(steps - 1)  # step_t is the dtype itself
        lo = fma(step, i[:half].astype(dt), s, dt)
        hi = fma(-step, (steps - 1 - i[half:]).astype(dt), e, dt)
        return np.concatenate([lo, hi]).astype(dt)
    s, e = int(start), int(end)  # scalar_start.to<int>: truncation toward zero
    if steps == 1:
        return np.array([s], dt)
    step = (float(e) - float(s)) / (steps - 1)
    lo = fma(step, i[:half].astype(np.float64), float(s), np.float64)
    hi = fma(-step, (steps - 1 - i[half:]).astype(np.float64), float(e), np.float64)
    return np.trunc(np.concatenate([lo, hi])).astype(dt)


def _arange_range(start, step, lo, hi, dt, acc):
    """Elements lo..hi-1 of one thread's range, as torch's serial kernel makes them from index lo."""
    w = VECTOR_BYTES // dt.itemsize
    nvec = ((hi - lo) // (2 * w)) * 2 * w
    out = []
    if nvec:
        bases = fma(acc(step), np.arange(lo, lo + nvec, w, dtype=acc), acc(start), acc).astype(dt).astype(acc)
        lanes = np.arange(w, dtype=acc)
        out.append(fma(lanes[None, :], acc(step), bases[:, None], acc).astype(dt).reshape(-1))
    k = np.arange(lo + nvec, hi, dtype=acc)
    out.append(fma(acc(step), k, acc(start), acc).astype(dt))
    return np.concatenate(out)


def arange_values(start, step, n, dt):
    """n values start, start + step, ... as a NumPy array of a float dtype dt."""
    dt = np.dtype(dt)
    acc = np.float32 if dt == np.float16 else np.float64
    threads = torch_threads()
    if n < GRAIN_SIZE or threads == 1:
        return _arange_range(start, step, 0, n, dt, acc)
    used = min(threads, -(-n // GRAIN_SIZE))
    chunk = -(-n // used)
    return np.concatenate([_arange_range(start, step, lo, min(n, lo + chunk), dt, acc)
                           for lo in range(0, n, chunk)])
