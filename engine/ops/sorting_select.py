"""torch's CPU selection step for step, so that tied values come back with torch's indices: aten's kthvalue
(Sedgewick's quickselect, SortingUtils' quick_select_template), topk (TopKImpl.h topk_impl_loop: libstdc++'s
std::nth_element then std::sort of the first k - 1, or std::partial_sort where k * 64 <= n) and mode's std::sort
(introsort). Every routine works on all rows at once: each row's values are replaced by int64 keys (their
ranks, NaN the largest, -0.0 equal to 0.0; negated where the comparator is `>`), so that every comparison is the
keys' `<`, and the positions (`idx`) travel with the keys as the (value, index) pairs do in aten.

The parts, one job each: engine/ops/sorting_steps.py (the loops' steps: deadline and charges),
sorting_partition.py (the keys and the whole-array Hoare partition), sorting_introsort.py (std::nth_element,
std::sort; mode's `last_of`), sorting_heap.py (libstdc++'s heap, a move at a time), sorting_insertion.py (mode's
short rows with NaN). This module keeps aten's own loops (kthvalue's quickselect, topk's) and the names the
callers import (sorting.py, the tests, bench/select_charges.py)."""
from __future__ import annotations

import numpy as np

from engine.ops.sorting_heap import (  # noqa: F401 - the names callers import from here
    HEAP_SORT_MAX,
    HEAP_STEPS,
    heap_select,
    make_heap,
    sort_heap,
    stable_rows,
)
from engine.ops.sorting_insertion import (  # noqa: F401
    INSERTION_BLOCK,
    INSERTION_BLOCK_BYTES,
    INSERTION_FLOPS,
    insertion_sort_rows,
    insertion_sorted,
)
from engine.ops.sorting_introsort import last_of, nth_element, sort  # noqa: F401
from engine.ops.sorting_partition import _BIG, _cswap, _hoare, _nth, _rnth, _swap, keys  # noqa: F401
from engine.ops.sorting_steps import HEAP_STEP, LEVEL_ELEMENT, LEVEL_STEP, STEP_ELEMENT, _Steps, heap_steps  # noqa: F401

# ----- aten's quick_select_template (kthvalue) -----


def quickselect(key, idx, k):
    """aten's kthvalue on every row of key / idx (2-D, rows along axis 1) in place, as far as position k (0-based)
    is concerned: a row whose k-th smallest key is there once has one answer, put there at once; the others go
    through _quickselect."""
    kth = np.take_along_axis(key, np.argpartition(key, k, axis=1)[:, k:k + 1], axis=1)
    eq = key == kth
    one = eq.sum(axis=1) == 1
    hit = np.nonzero(one)[0]
    if hit.size:
        at = np.argmax(eq[hit], axis=1)
        idx[hit, k], key[hit, k] = idx[hit, at], kth[hit, 0]
    del eq
    r = np.nonzero(~one)[0]
    if r.size:
        _rows_of(_quickselect, key, idx, r, k)


def _quickselect(key, idx, k):
    """Sedgewick's quickselect with gt_or_nan (the keys' `>`) on every row until position k holds the k-th
    smallest: aten's quick_select_template step for step."""
    rows, n = key.shape
    L = np.zeros(rows, dtype=np.int64)
    R = np.full(rows, n - 1, dtype=np.int64)
    act = np.nonzero(R > L)[0]
    tick = _Steps(rows * n)
    while act.size:
        r, lo, hi = act, L[act], R[act]
        tick(int((hi - lo).sum()), level=True)
        two = hi == lo + 1
        if two.any():  # two elements only: ordered, done
            _cswap(key, idx, r[two], lo[two], hi[two], key[r[two], lo[two]] > key[r[two], hi[two]])
            R[r[two]] = L[r[two]]
            r, lo, hi = r[~two], lo[~two], hi[~two]
            if not r.size:
                break
        lo1 = lo + 1
        _swap(key, idx, r, (lo + hi) >> 1, lo1)  # median of three
        _cswap(key, idx, r, lo1, hi, key[r, lo1] > key[r, hi])
        _cswap(key, idx, r, lo, hi, key[r, lo] > key[r, hi])
        _cswap(key, idx, r, lo1, lo, key[r, lo1] > key[r, lo])
        piv = key[r, lo]
        (lp, ls, lc), (rp, rs, rc), sw = _hoare(key, idx, r, piv, lo + 2, hi + 1, lo1, hi, True)
        # where the scans crossed: the next stop of each, or the last swapped position of the other scan (a
        # scan that met the other at one position goes past it: the pair before is the bound)
        eq = (sw >= 1) & (_nth(lp, ls, lc, sw, -1) == _rnth(rp, rs, rc, sw, -2))
        t = sw - eq
        i = np.minimum(_nth(lp, ls, lc, sw + 1, _BIG), _rnth(rp, rs, rc, t, _BIG))
        j = np.maximum(_rnth(rp, rs, rc, sw + 1, -_BIG), _nth(lp, ls, lc, t, -_BIG))
        _swap(key, idx, r, lo, j)
        L[r] = np.where(j <= k, i, lo)
        R[r] = np.where(j >= k, j - 1, hi)
        act = r[R[r] > L[r]]


# ----- aten's topk_impl_loop: std::partial_sort, or std::nth_element then std::sort -----


def _unique_smallest(key, idx, k):
    """The rows whose k smallest keys are distinct and below every other key have one sorted answer: those rows'
    first k positions set to it (all that topk reads); returns the other rows."""
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    pk = np.take_along_axis(key, part, axis=1)
    order = np.argsort(pk, axis=1, kind="stable")
    part, pk = np.take_along_axis(part, order, axis=1), np.take_along_axis(pk, order, axis=1)
    del order
    one = (pk[:, 1:] != pk[:, :-1]).all(axis=1)
    one &= (key <= pk[:, -1:]).sum(axis=1) == k
    if one.any():
        key[one, :k], idx[one, :k] = pk[one], np.take_along_axis(idx[one], part[one], axis=1)
    return np.nonzero(~one)[0]


def partial_sort(key, idx, k):
    """std::partial_sort(row, row + k, row + n) on every row: heap_select, then sort_heap of the first k. Rows of
    one possible answer (_unique_smallest) are not stepped through the heap."""
    rows, n = key.shape
    r = _unique_smallest(key, idx, k)
    if r.size:
        tick = _Steps(r.size * n)
        tick.ahead(heap_steps(k))  # make_heap and sort_heap of k, before any of it runs
        f = np.zeros(r.size, dtype=np.int64)
        middle = np.full(r.size, k, dtype=np.int64)
        left = heap_select(key, idx, r, f, middle, np.full(r.size, n, dtype=np.int64), tick, cap=HEAP_STEPS)
        sort_heap(key, idx, r, f, middle, tick)
        stable_rows(key, idx, r[left])


def _rows_of(fn, key, idx, r, *args):
    """fn on the rows r of key / idx only, written back."""
    sub_k, sub_i = key[r], idx[r]
    fn(sub_k, sub_i, *args)
    key[r], idx[r] = sub_k, sub_i


def topk(key, idx, k, sorted_):
    """aten's topk_impl_loop on every row (key: negated where largest): partial_sort where k * 64 <= n, else
    nth_element at k - 1 and, if sorted, std::sort of the first k - 1. Sorted, a row of one possible answer
    (_unique_smallest) is answered at once; unsorted, nth_element's order is the answer, ties or none."""
    n = key.shape[1]
    if k == 0:
        return
    if k * 64 <= n:
        partial_sort(key, idx, k)
        return
    if sorted_:
        r = _unique_smallest(key, idx, k)
        if r.size < key.shape[0]:
            if r.size:
                _rows_of(_nth_then_sort, key, idx, r, k)
            return
    nth_element(key, idx, k - 1)
    if sorted_:
        sort(key, idx, k - 1)


def _nth_then_sort(key, idx, k):
    nth_element(key, idx, k - 1)
    sort(key, idx, k - 1)
