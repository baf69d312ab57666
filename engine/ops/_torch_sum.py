"""Float sums in the order torch's CPU kernel adds (aten/src/ATen/native/cpu/SumKernel.cpp, cascade_sum), so
that float32 and float64 sums of contiguous arrays agree with torch's to the last bit.

torch's sum kernel reads 32-byte vectors (8 float32 / 4 float64 lanes: measured on torch 2.13; the kernel
runs at that width even where torch's CPU capability is AVX512), keeps 4 interleaved accumulators (row_sum's
ilp) and folds them in a cascade of levels of 2**p rows (multi_row_sum), so that only partial sums of one
order of magnitude meet. Each step below is one NumPy reduction over a non-contiguous axis, which NumPy adds
sequentially (pairwise summation applies only along the contiguous axis, so `_seq` never reduces along it),
and every level is vectorized over the lanes and rows that torch runs side by side: a sum costs a handful of
NumPy calls and one pass over the data.

Past at::internal::GRAIN_SIZE (32768 elements) torch splits a reduction among its threads. A full sum is then
a two-pass reduction: each thread sums its own contiguous range, and the per-thread sums are summed; the split
depends on torch's thread count, assumed to be one thread per CPU this process may run on (OMP_NUM_THREADS
where set), torch's default. A reduction over trailing dims splits whole rows among the threads, which leaves
each row's order as it is; one over leading dims keeps the single-thread order (measured: 2 threads, up to
33000 x 3 and 40 x 1001). A reduction over middle dims past that size is left to NumPy (the caller's
fallback).
"""
from __future__ import annotations

import math
import os

import numpy as np

from engine import parallel

VECTOR_BYTES = 32
GRAIN_SIZE = 32768
# Sums of more elements than this go to np.sum (last-bit differences from torch's). None: no limit. The order
# costs a few NumPy calls a level (~5-10x np.sum on small arrays, 4-7x on large ones): docs/ENGINE.md.
MAX_ELEMENTS = None


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_THREADS = _default_threads()


def torch_threads() -> int:
    """torch's at::get_num_threads() by default: OMP_NUM_THREADS, else the CPUs this process may use (read once,
    at import, as torch reads it at its start)."""
    return _THREADS


def _ceil_log2(x):
    """utils::CeilLog2: 1 for x <= 2."""
    return 1 if x <= 2 else int(x - 1).bit_length()


def _seq(a, axis=0):
    """Sum along `axis`, adding in index order (one rounding a step); the sign of a zero result may differ
    from torch's +0 start, which the callers restore with a final + 0.0."""
    k = a.shape[axis]
    rest = a.shape[:axis] + a.shape[axis + 1:]
    if k <= 1:
        return a.reshape(rest).copy() if k else np.zeros(rest, a.dtype)
    if math.prod(a.shape[axis + 1:]) > 1:
        # NumPy keeps the contiguous trailing axes as its inner loop, so `axis` is added in order (a reduction
        # along the innermost axis would be pairwise)
        return np.add.reduce(a, axis=axis)
    return np.cumsum(a, axis=axis).take(-1, axis=axis)  # cumsum adds in order along any axis


def _cascade(rows):
    """multi_row_sum: rows (S, ...) summed over axis 0 in torch's cascade (levels of G = 2**p rows)."""
    s = rows.shape[0]
    g = 1 << max(4, _ceil_log2(s) // 4)
    tail = rows.shape[1:]
    n0 = s // g
    if n0 == 0:
        return _seq(rows)
    chunks = _seq(rows[: n0 * g].reshape((n0, g) + tail), 1)
    n1 = n0 // g
    acc1 = _seq(chunks[n1 * g:])
    if n1 == 0:  # the upper levels hold zeros: adding them changes nothing but a -0 (restored by the caller)
        return acc1 if n0 * g == s else _seq(rows[n0 * g:]) + acc1
    acc0 = _seq(rows[n0 * g:])
    l1 = _seq(chunks[: n1 * g].reshape((n1, g) + tail), 1)
    n2 = n1 // g
    acc2 = _seq(l1[n2 * g:])
    l2 = _seq(l1[: n2 * g].reshape((n2, g) + tail), 1) if n2 else l1[:0]
    acc3 = _seq(l2)
    return ((acc0 + acc1) + acc2) + acc3


def _row_sum(items):
    """row_sum: items (n, ...) summed over axis 0 with 4 interleaved accumulators (ilp) and the cascade."""
    n = items.shape[0]
    s = n // 4
    tail = items.shape[1:]
    if not s:
        return _seq(items)  # partial sums of zeros: 0 + items in order (+ 0 + 0 + 0)
    partial = _cascade(items[: s * 4].reshape((s, 4) + tail))
    # partial[0], then the leftover items, then partial[1..3], added in that order
    return _seq(np.concatenate([partial[:1], items[s * 4:], partial[1:]]))


def _fold(q, lanes):
    """final_acc = 0, then the items along q's last axis one at a time (the scalar tail, then the last `lanes`
    items, the vector's lanes): for a 2-d q, each row's sum in index order, with _lane_nan's NaN."""
    r = np.cumsum(q, axis=1)[:, -1]
    bad = r != r
    if bad.any():
        for i in np.flatnonzero(bad):
            r[i] = _lane_nan(q[i], lanes, r[i])
    return r


def _lane_nan(q, lanes, r):
    """The NaN of a NaN fold of the 1-d q (the callers check r != r: one comparison where the sum is a number).
    Where both operands are NaN, torch's compiled tail loop keeps the running sum's NaN (as NumPy's accumulate
    does), but its loop over the lanes keeps the lane's: so where a lane is NaN, the result is the last NaN
    lane's, quieted; else NumPy's (a NaN made by inf - inf is the same default NaN in both)."""
    tail = q[q.shape[0] - lanes:]
    nans = tail[tail != tail]
    return nans[-1] + q.dtype.type(0) if nans.size else r


def _inner_sum(x):
    """x (R, n) summed over its contiguous last axis: vectorized_inner_sum (n >= lanes) or scalar_inner_sum."""
    r, n = x.shape
    w = VECTOR_BYTES // x.dtype.itemsize
    if n < w:
        return _row_sum(np.ascontiguousarray(x.T))
    v = n // w
    vacc = _row_sum(np.ascontiguousarray(x[:, : v * w].reshape(r, v, w).transpose(1, 0, 2)))  # (R, lanes)
    # final_acc = 0, then the scalar tail, then the lanes, one at a time (0 + t is t: the sign of a zero sum is
    # restored by the caller)
    return _fold(np.concatenate([x[:, v * w:], vacc], axis=1), w)


def _outer_sum(x):
    """x (B, size0, size1) summed over axis 1, the kept axis 2 contiguous: vectorized / scalar_outer_sum."""
    b, n, m = x.shape
    w = VECTOR_BYTES // x.dtype.itemsize
    j1 = (m // (4 * w)) * 4 * w if m >= w else (m // 4) * 4
    if b == 1:  # a leading axis (a bias's gradient): the same steps on the 2-D rows, no transposed view
        rows = x.reshape(n, m)
        if j1 == m:
            return _cascade(rows).reshape(1, m)
        if j1 == 0:
            return _row_sum(rows).reshape(1, m)
    rows = x.transpose(1, 0, 2)  # (size0, B, size1)
    out = np.empty((b, m), x.dtype)
    if j1:
        out[:, :j1] = _cascade(rows[:, :, :j1])
    if j1 < m:
        out[:, j1:] = _row_sum(rows[:, :, j1:])
    return out


_accumulate = np.add.accumulate  # the ufunc's own methods: np.cumsum's wrapper costs 1.5 us a call more
_reduce = np.add.reduce


def _small_sum(flat, w):
    """_inner_sum(flat.reshape(1, n))[0] where row_sum's cascade has one level (fewer than 16 groups of 4 vectors,
    or of 4 scalars below one vector): the same additions in the same order (but the sign of a zero sum, which
    the callers restore), in 2 to 5 NumPy calls instead of a dozen: a 16-element sum, every broadcast gradient
    of a 0-d tensor, cost ~10 us the general way."""
    n = flat.shape[0]
    v = n // w
    if v == 0:  # scalar_inner_sum: row_sum over the n scalars, then 0 + that
        s = n >> 2
        if s == 0:
            return _accumulate(flat)[-1]
        if s == 1:  # each accumulator holds one value: acc0, the leftovers, acc1..3 (no reduction, no copy at 4)
            return _accumulate(flat if n == 4 else np.concatenate((flat[:1], flat[4:], flat[1:4])))[-1]
        acc = _reduce(flat[: 4 * s].reshape(s, 4), axis=0)  # 4 accumulators, each in index order
        return _accumulate(np.concatenate((acc[:1], flat[4 * s:], acc[1:])))[-1]
    vec = flat[: v * w].reshape(v, w)
    s = v >> 2
    if v == 1:  # one vector: its lanes are its values (a reduction over one row would copy them)
        lanes = flat[:w]
    elif s == 0:
        lanes = _reduce(vec, axis=0)
    elif s == 1:  # each of the 4 accumulators holds one vector: acc0, the leftover vectors, acc1..3
        lanes = _reduce(vec if v == 4 else np.concatenate((vec[:1], vec[4:], vec[1:4])), axis=0)
    else:
        acc = _reduce(vec[: 4 * s].reshape(s, 4, w), axis=0)  # (4, lanes)
        lanes = _reduce(np.concatenate((acc[:1], vec[4 * s:], acc[1:])), axis=0)
    # final_acc = 0, then the scalar tail, then the lanes, one at a time
    if v * w != n:
        lanes = np.concatenate((flat[v * w:], lanes))
    r = _accumulate(lanes)[-1]
    return r if r == r else _lane_nan(lanes, w, r)


def full_sum(a):
    """torch_sum of `a` over every axis, as a 0-d array; None where torch_sum would give None."""
    if type(a) is not np.ndarray:
        return None
    zero = _ZERO.get(a.dtype.char)
    if zero is None or not a.size or not a.flags.c_contiguous:
        return None
    if MAX_ELEMENTS is not None and a.size > MAX_ELEMENTS:
        return None
    return np.asarray(_full_sum(a.reshape(-1)) + zero)


_ZERO = {"f": np.float32(0), "d": np.float64(0)}  # torch's +0 start, per dtype (float32 and float64 only)


_LANES_OF = {np.dtype(np.float32): VECTOR_BYTES // 4, np.dtype(np.float64): VECTOR_BYTES // 8}  # (native order)


def vector_sum(a):
    """full_sum of a 1-d array of one or two vectors' elements (8 or 16 float32, 4 or 8 float64: every gradient
    of a 0-d operand broadcast over a small vector), in two NumPy calls; None for any other array. _small_sum's
    order there: two vectors are one row_sum accumulator's two rows, added lane by lane (v[0] + v[1]), then
    final_acc = 0 plus the lanes one at a time; one vector's lanes are its values. Bit-identical to full_sum
    (tests/engine/test_torch_bits.py, against live torch as well); ~4x cheaper than its general dispatch.
    The result is the running sum's last item as a 0-d view (`acc[-1, ...]`: no scalar made and converted back),
    its value read once as a Python float for the NaN and zero cases."""
    w = _LANES_OF.get(a.dtype)
    if w is None or not a.flags.c_contiguous or (MAX_ELEMENTS is not None and a.shape[0] > MAX_ELEMENTS):
        return None
    n = a.shape[0]
    if n == w + w:
        a = a[:w] + a[w:]
    elif n != w:
        return None
    acc = _accumulate(a)
    r = acc.item(-1)
    if r != r:
        acc[-1] = _lane_nan(a, w, acc[-1])  # (quieted: + 0 would give the same NaN)
    elif not r:  # the +0 start: a zero sum is +0 (r + 0, without a NumPy scalar addition)
        acc[-1] = 0.0
    return acc[-1, ...]


def _full_sum(flat):
    """A full reduction of n contiguous elements: serial below GRAIN_SIZE, else torch's two-pass reduction
    over its threads' ranges (at::parallel_for's split)."""
    n = flat.shape[0]
    w = VECTOR_BYTES // flat.dtype.itemsize
    if n < 64 * w:  # fewer than 16 groups of 4 vectors: the cascade's first level is all of it
        return _small_sum(flat, w)
    threads = torch_threads()
    if n < GRAIN_SIZE or threads == 1:
        return _inner_sum(flat.reshape(1, n))[0]
    used = min(threads, -(-n // GRAIN_SIZE))
    chunk = -(-n // used)
    partials = np.zeros(threads, flat.dtype)

    def part(t):  # one of torch's threads' ranges; the ranges run on the engine's pool (engine.parallel)
        lo = t * chunk
        if lo < n:
            partials[t] = _inner_sum(flat[lo: min(n, lo + chunk)].reshape(1, -1))[0] + 0.0

    parallel.run_chunks(part, used)
    return _inner_sum(partials.reshape(1, threads))[0]



def torch_sum(a, axes):
    """The float32 / float64 sum of a C-contiguous NumPy array over `axes` (a sorted tuple) in the order torch's
    CPU kernel adds, or None where that order is not modelled (the caller falls back to NumPy)."""
    if type(a) is not np.ndarray or a.dtype.char not in "fd" or a.size == 0 or not a.flags.c_contiguous:
        return None
    if MAX_ELEMENTS is not None and a.size > MAX_ELEMENTS:
        return None
    shape = a.shape
    if axes == (0,) and len(shape) == 2 and shape[0] > 1 and shape[1] > 1:
        # a matrix's columns (a bias's gradient): what the general route below takes, without its analysis
        return (_outer_sum(a.reshape(1, shape[0], shape[1])) + 0.0).reshape(1, shape[1])
    if len(axes) == len(shape):
        return (_full_sum(a.reshape(-1)) + a.dtype.type(0)).reshape((1,) * len(shape))
    out_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
    if all([i in axes or s == 1 for i, s in enumerate(shape)]):
        return (_full_sum(a.reshape(-1)) + a.dtype.type(0)).reshape(out_shape)
    keep = [(i, s) for i, s in enumerate(shape) if s != 1]
    red = [k for k, (i, s) in enumerate(keep) if i in axes]
    sizes = [s for _, s in keep]
    if not red:
        return (a + 0.0).reshape(out_shape)
    lo, hi = red[0], red[-1]
    if hi - lo + 1 != len(red):
        return None
    pre, mid, post = math.prod(sizes[:lo]), math.prod(sizes[lo: hi + 1]), math.prod(sizes[hi + 1:])
    if post == 1:
        res = _inner_sum(a.reshape(pre, mid))
    elif a.size < GRAIN_SIZE or torch_threads() == 1 or pre == 1:
        res = _outer_sum(a.reshape(pre, mid, post))
    else:
        return None  # past GRAIN_SIZE torch splits the biggest kept dim among its threads: not modelled
    return (res + 0.0).reshape(out_shape)
