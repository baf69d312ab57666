"""libstdc++'s std::nth_element (__introselect) and std::sort (introsort, then its final insertion sort) with
comp = the keys' `<`, on every row at once (engine/ops/sorting_select.py's parts): the partition levels are
whole-array Hoare partitions (engine/ops/sorting_partition.py), O(log n) levels for most inputs, at most n, each
checking the request's deadline; the depth limit's heap fallbacks are stepped a heap move at a time
(engine/ops/sorting_heap.py). `last_of` follows only where std::sort leaves the last of one key (mode)."""
from __future__ import annotations

import numpy as np

from engine.ops.sorting_heap import HEAP_SORT_MAX, HEAP_STEPS, heap_select, sort_heap, stable_rows
from engine.ops.sorting_partition import _BIG, _hoare, _nth, _ranges, _rnth, _swap, _top
from engine.ops.sorting_steps import _Steps, heap_steps


def _lg(n):
    return int(n).bit_length() - 1


def _partition_pivot(key, idx, r, f, last):
    """__unguarded_partition_pivot on the segments [f, last) of rows r: the median of f + 1, the middle and
    last - 1 moved to f, then the Hoare partition of [f + 1, last) about it; returns the cut."""
    a, b, c = f + 1, f + (last - f) // 2, last - 1
    ka, kb, kc = key[r, a], key[r, b], key[r, c]
    ab, bc, ac = ka < kb, kb < kc, ka < kc
    pick = np.where(ab, np.where(bc, b, np.where(ac, c, a)), np.where(ac, a, np.where(bc, c, b)))
    del ka, kb, kc, ab, bc, ac
    _swap(key, idx, r, f, pick)
    (lp, ls, lc), (rp, rs, rc), sw = _hoare(key, idx, r, key[r, f], f + 1, last, f + 1, last, False)
    # the left scan stops at its next stop, or at the last position the right scan swapped (a stop now)
    return np.minimum(_nth(lp, ls, lc, sw + 1, _BIG), _rnth(rp, rs, rc, sw, _BIG))


def _small_sort(key, idx, r, f, last, width):
    """__insertion_sort of the segments [f, last) (at most `width` long): with a strict weak order it is the
    stable sort of each segment."""
    pos = f[:, None] + np.arange(width)
    inside = pos < last[:, None]
    pos = np.minimum(pos, key.shape[1] - 1)
    rr = r[:, None]
    k = np.where(inside, key[rr, pos], _top(key))
    order = np.argsort(k, axis=1, kind="stable")
    pos = np.take_along_axis(pos, order, axis=1)  # padding sorts last: inside stays the segment's positions
    kv, iv = key[rr, pos], idx[rr, pos]
    dest = f[:, None] + np.arange(width)
    key[np.broadcast_to(rr, dest.shape)[inside], dest[inside]] = kv[inside]
    idx[np.broadcast_to(rr, dest.shape)[inside], dest[inside]] = iv[inside]


def nth_element(key, idx, nth, tick=None):
    """std::nth_element(row, row + nth, row + n) on every row (libstdc++'s __introselect)."""
    rows, n = key.shape
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, n, dtype=np.int64)
    depth = 2 * _lg(n)
    live = np.ones(rows, dtype=bool)
    tick = tick or _Steps(rows * n)
    while True:
        act = np.nonzero(live & (last - f > 3))[0]
        if not act.size:
            break
        tick(int((last[act] - f[act]).sum()), level=True)
        if depth == 0:  # heap_select(first, nth + 1, last), then iter_swap(first, nth)
            tick.ahead((nth + 1) // 2)  # make_heap's parents
            left = heap_select(key, idx, act, f[act], np.full(act.size, nth + 1), last[act], tick, cap=HEAP_STEPS)
            _swap(key, idx, act, f[act], np.full(act.size, nth))
            live[act] = False
            stable_rows(key, idx, act[left])
            break
        depth -= 1
        cut = _partition_pivot(key, idx, act, f[act], last[act])
        left = cut <= nth
        f[act] = np.where(left, cut, f[act])
        last[act] = np.where(left, last[act], cut)
    act = np.nonzero(live & (last - f > 1))[0]
    if act.size:
        _small_sort(key, idx, act, f[act], last[act], 3)


def sort(key, idx, m, tick=None):
    """std::sort(row, row + m) on every row (libstdc++'s introsort, then its final insertion sort)."""
    rows = key.shape[0]
    if m <= 1:
        return
    r = np.arange(rows)
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, m, dtype=np.int64)
    depth = 2 * _lg(m)
    tick = tick or _Steps(rows * m)
    while True:
        big = last - f > 16
        r, f, last = r[big], f[big], last[big]
        if not r.size:
            break
        tick(int((last - f).sum()), level=True)
        if depth == 0:  # std::__partial_sort(first, last, last): make_heap, sort_heap
            h = last - f <= HEAP_SORT_MAX
            tick.ahead(heap_steps(int((last[h] - f[h]).max(initial=0))))
            heap_select(key, idx, r[h], f[h], last[h], last[h], tick)
            sort_heap(key, idx, r[h], f[h], last[h], tick)
            for row, lo, hi in zip(r[~h].tolist(), f[~h].tolist(), last[~h].tolist()):  # few: each over 4096 long
                tick(hi - lo)
                order = np.argsort(key[row, lo:hi], kind="stable")
                key[row, lo:hi], idx[row, lo:hi] = key[row, lo:hi][order], idx[row, lo:hi][order]
            break
        depth -= 1
        cut = _partition_pivot(key, idx, r, f, last)
        r, f, last = np.concatenate((r, r)), np.concatenate((f, cut)), np.concatenate((cut, last))
    # the final insertion sort: every element already lies in its block of at most 16, each block's keys at or
    # above the blocks before it (partitions, heap-sorted stretches), so it is the stable sort of the row
    k = key[:, :m]
    order = np.argsort(k, axis=1, kind="stable")
    key[:, :m] = np.take_along_axis(k, order, axis=1)
    idx[:, :m] = np.take_along_axis(idx[:, :m], order, axis=1)


def last_of(key, idx, focus):
    """std::sort(row) on every row followed only where the last element of key `focus` (per row) ends up: the
    idx that std::sort leaves last among that row's elements of that key. A partition's right part keeps it if
    it holds any; the final insertion sort leaves equal keys in the order they are in."""
    rows, m = key.shape
    r = np.arange(rows)
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, m, dtype=np.int64)
    depth = 2 * _lg(m)
    tick = _Steps(rows * m)
    while True:
        act = np.nonzero(last - f > 16)[0]
        if not act.size:
            break
        tick(int((last[act] - f[act]).sum()), level=True)
        if depth == 0:  # the stretch heap-sorted as sort() does
            h = act[last[act] - f[act] <= HEAP_SORT_MAX]
            tick.ahead(heap_steps(int((last[h] - f[h]).max(initial=0))))
            heap_select(key, idx, h, f[h], last[h], last[h], tick)
            sort_heap(key, idx, h, f[h], last[h], tick)
            break
        depth -= 1
        cut = _partition_pivot(key, idx, act, f[act], last[act])
        seg, p = _ranges(cut, last[act])
        has = np.bincount(seg[key[act[seg], p] == focus[act[seg]]], minlength=act.size) > 0
        f[act] = np.where(has, cut, f[act])
        last[act] = np.where(has, last[act], cut)
    seg, p = _ranges(f, last)
    hit = key[seg, p] == focus[seg]
    at = np.zeros(rows, dtype=np.int64)
    np.maximum.at(at, seg[hit], p[hit])  # the segments are at most 16 long here (or a heap-sorted stretch)
    return idx[r, at]
