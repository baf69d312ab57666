"""libstdc++'s heap (std::make_heap, sort_heap, __heap_select) a move at a time, all heaps together, under the
deadline (each move a `tick`: engine/ops/sorting_steps.py), for introsort's depth limit and partial_sort
(engine/ops/sorting_select.py's parts); and `stable_rows`, the answer of a row whose heap is not followed."""
from __future__ import annotations

import numpy as np


def _adjust_heap(key, idx, r, base, hole, length, vk, vi, tick):
    """std::__adjust_heap(first = base, holeIndex = hole, len = length, value = (vk, vi)) on every heap."""
    top = hole.copy()
    second = hole.copy()
    a = np.nonzero(second < (length - 1) // 2)[0]
    while a.size:
        tick(a.size)
        s = 2 * (second[a] + 1)
        ra, ba = r[a], base[a]
        s -= key[ra, ba + s] < key[ra, ba + s - 1]
        key[ra, ba + hole[a]] = key[ra, ba + s]
        idx[ra, ba + hole[a]] = idx[ra, ba + s]
        hole[a] = s
        second[a] = s
        a = a[s < (length[a] - 1) // 2]
    ev = np.nonzero(((length & 1) == 0) & (second == (length - 2) // 2))[0]
    if ev.size:
        s = 2 * (second[ev] + 1) - 1
        re, be = r[ev], base[ev]
        key[re, be + hole[ev]] = key[re, be + s]
        idx[re, be + hole[ev]] = idx[re, be + s]
        hole[ev] = s
    # std::__push_heap(first, hole, top, value)
    a = np.arange(r.size)
    while True:
        parent = (hole[a] - 1) // 2
        go = hole[a] > top[a]
        go[go] = key[r[a[go]], base[a[go]] + parent[go]] < vk[a[go]]
        a, parent = a[go], parent[go]
        if not a.size:
            break
        tick(a.size)
        ra, ba = r[a], base[a]
        key[ra, ba + hole[a]] = key[ra, ba + parent]
        idx[ra, ba + hole[a]] = idx[ra, ba + parent]
        hole[a] = parent
    key[r, base + hole] = vk
    idx[r, base + hole] = vi


def _pop_heap(key, idx, r, f, last, res, tick):
    """std::__pop_heap(first, last, result): result's value sifted in from the top, the top put at result."""
    vk, vi = key[r, res], idx[r, res]
    key[r, res] = key[r, f]
    idx[r, res] = idx[r, f]
    _adjust_heap(key, idx, r, f, np.zeros(r.size, dtype=np.int64), last - f, vk, vi, tick)


def make_heap(key, idx, r, f, last, tick):
    length = last - f
    p = (length - 2) // 2  # each heap's first parent; parents go down to 0
    for parent in range(int(p.max(initial=-1)), -1, -1):
        a = np.nonzero(p >= parent)[0]
        tick(a.size)
        h = np.full(a.size, parent, dtype=np.int64)
        _adjust_heap(key, idx, r[a], f[a], h, length[a], key[r[a], f[a] + parent], idx[r[a], f[a] + parent], tick)


def sort_heap(key, idx, r, f, last, tick):
    last = last.copy()
    while True:
        a = np.nonzero(last - f > 1)[0]
        if not a.size:
            break
        tick(a.size)
        last[a] -= 1
        _pop_heap(key, idx, r[a], f[a], last[a], last[a], tick)


def heap_select(key, idx, r, f, middle, last, tick, window=256, cap=None):
    """std::__heap_select(first, middle, last): make_heap of [first, middle), then each later element below the
    top replaces it (pop_heap). The elements that do not enter are passed over a window at a time; a step takes
    one entering element of every heap, so a heap that more than `cap` elements enter (a long sorted run of
    ties) is left unfinished: returns those heaps (a mask over r)."""
    make_heap(key, idx, r, f, middle, tick)
    pos = middle.copy()
    a = np.nonzero(pos < last)[0]
    if a.size:  # no wider than the longest rest of a row: a window's temporaries are rows x window (review13b F5:
        window = int(min(window, (last[a] - pos[a]).max()))  # 256 over rows of 64 held 1.3x the charge)
    steps = 0
    while a.size:
        if cap is not None and steps >= cap:
            break
        steps += 1
        tick(a.size * window)
        w = pos[a, None] + np.arange(window)
        inside = w < last[a, None]
        w = np.minimum(w, key.shape[1] - 1)
        below = inside & (key[r[a, None], w] < key[r[a], f[a]][:, None])
        hit = below.any(axis=1)
        first = np.argmax(below, axis=1)
        e = a[hit]
        at = pos[e] + first[hit]
        if e.size:
            _pop_heap(key, idx, r[e], f[e], middle[e], at, tick)
        pos[a] = np.where(hit, pos[a] + first + 1, pos[a] + window)
        a = a[pos[a] < last[a]]
    left = np.zeros(r.size, dtype=bool)
    left[a] = True
    return left


# the heap steps one entering element of every row at a time: past this many, a row's heap is not followed (it
# answers the stable order: the engine's answer before parity15, torch's wherever the order is unique)
HEAP_STEPS = 4096
# a heap-sorted stretch (introsort's depth limit) longer than this is sorted stably: exact where its keys are
# distinct (the only order), the stable order's where ties meet there
HEAP_SORT_MAX = 4096


def stable_rows(key, idx, rows):
    """The rows given back their input order (idx says where each element came from), then stably sorted."""
    if not rows.size:
        return
    k, i = key[rows], idx[rows]
    back = np.argsort(i, axis=1)
    k, i = np.take_along_axis(k, back, axis=1), np.take_along_axis(i, back, axis=1)
    order = np.argsort(k, axis=1, kind="stable")
    key[rows] = np.take_along_axis(k, order, axis=1)
    idx[rows] = np.take_along_axis(i, order, axis=1)
