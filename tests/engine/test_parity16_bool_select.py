"""topk / kthvalue / median / nanmedian of a bool tensor against live torch 2.13: torch refuses them (topk's CPU
check "topk does not support bool dtypes on CPU" after its k check, even 0-d or empty; kthvalue's and the
medians' dispatch, NotImplementedError, after their size checks and, for kthvalue, its 0-d shortcut); the engine
had answered. nanmedian's empty-dim IndexError names median(), as torch's."""
from __future__ import annotations

import pytest
import torch

import engine


def _run(lib, f):
    try:
        r = f(lib)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", [(str(t.dtype), t.tolist()) for t in (r if isinstance(r, tuple) else (r,))]


def _b(L, v):
    return L.tensor(v, dtype=L.bool)


CASES = {
    "topk": lambda L: L.topk(_b(L, [True, False, True]), 2),
    "topk k=0 empty": lambda L: L.topk(_b(L, []), 0),
    "topk 0-d": lambda L: L.topk(_b(L, True), 1),
    "topk k too big": lambda L: L.topk(_b(L, [True]), 5),
    "topk bad dim": lambda L: L.topk(_b(L, [True]), 1, dim=3),
    "topk empty rows": lambda L: L.topk(L.zeros(0, 3, dtype=L.bool), 0, dim=0),
    "topk long row": lambda L: L.topk(_b(L, [True, False] * 40), 3, largest=False),
    "kthvalue": lambda L: L.kthvalue(_b(L, [True, False, True]), 2),
    "kthvalue one": lambda L: L.kthvalue(_b(L, [True]), 1),
    "kthvalue 0-d": lambda L: L.kthvalue(_b(L, True), 1),
    "kthvalue k too big": lambda L: L.kthvalue(_b(L, [True]), 5),
    "kthvalue empty dim": lambda L: L.kthvalue(L.zeros(2, 0, dtype=L.bool), 1, dim=1),
    "kthvalue empty other": lambda L: L.kthvalue(L.zeros(2, 0, dtype=L.bool), 1, dim=0),
    "median": lambda L: L.median(_b(L, [True, False, True])),
    "median 0-d": lambda L: L.median(_b(L, True)),
    "median empty": lambda L: L.median(_b(L, [])),
    "median dim": lambda L: L.median(_b(L, [True, False, True]), 0),
    "median dim 0-d": lambda L: L.median(_b(L, True), 0),
    "median dim empty other": lambda L: L.median(L.zeros(0, 2, dtype=L.bool), 1),
    "median dim empty dim": lambda L: L.median(L.zeros(2, 0, dtype=L.bool), 1),
    "nanmedian": lambda L: L.nanmedian(_b(L, [True, False, True])),
    "nanmedian dim": lambda L: L.nanmedian(_b(L, [[True], [False]]), 1, keepdim=True),
    "nanmedian dim empty other": lambda L: L.nanmedian(L.zeros(0, 2, dtype=L.bool), 1),
    "nanmedian float empty dim": lambda L: L.nanmedian(L.zeros(2, 0), 1),
    "median float empty dim": lambda L: L.median(L.zeros(2, 0), -1),
    "mode stays": lambda L: L.mode(_b(L, [True, False, True])),
    "sort stays": lambda L: L.sort(_b(L, [True, False, True])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bool_selection_as_torch(name):
    assert _run(engine, CASES[name]) == _run(torch, CASES[name])
