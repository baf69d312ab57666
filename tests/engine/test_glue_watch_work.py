"""redteam16 F11: the lowering run's trace (glue.watch) looked at every item of its glue frames' lists at every
line: an einsum of K operands or an index list of K ints cost O(K^2) there (K = 600 froze a server's event loop
19 s on its structure's fifth request). Now the watches of one run share WATCH_WORK; past it the trace stops and the
program is not lowered (its Program's replay answers, as before lowering). Checked by what the plan cache keeps:
the program declined for that reason, its answers unchanged; a small program of the same ops still lowers."""
from __future__ import annotations

import copy

import orjson
import pytest
import torch

import engine.program as E
from engine.program import glue


def _program(doc, times=6):
    cache = E.PlanCache()
    outs = [orjson.loads(E.evaluate_json(copy.deepcopy(doc), cache=cache)) for _ in range(times)]
    key = cache.key(doc, E.DEFAULT_LIMITS)
    return cache.get(key[0]), outs


def _einsum(k):
    return {"leaves": {"v": {"data": [1.0, 1.0]}},
            "ops": [{"name": "y", "op": "einsum", "args": [",".join(["a"] * k) + "->a", *(["v"] * k)]}]}


def _getitem(k):
    return {"leaves": {"v": {"data": [1.0, 2.0]}}, "ops": [{"name": "y", "op": "getitem", "args": ["v", [[0] * k]]}]}


def _cat(k):
    return {"leaves": {"v": {"data": [1.0, 1.0]}}, "ops": [{"name": "y", "op": "cat", "args": [["v"] * k]}]}


def test_a_long_list_is_not_lowered_past_the_work():
    """cat of 3,000 tensors: its lowering run stops at WATCH_WORK and the program keeps its replay (answers
    unchanged); cat of 100 is within it and lowers."""
    program, outs = _program(_cat(3000))
    assert not program.lowered
    assert "WATCH_WORK" in program.notes["declined"], program.notes.get("declined")
    ref = torch.cat([torch.ones(2)] * 3000).tolist()
    for out in outs:
        assert out["tensors"]["y"]["data"] == ref
    program, outs = _program(_cat(100))
    assert program.lowered, program.notes.get("declined")
    assert outs[-1] == outs[0]


@pytest.mark.parametrize("doc", [_einsum(600), _getitem(4000)])
def test_the_watch_stops_at_its_work(doc):
    """The lowering run's watch over one op: past WATCH_WORK an OVERFLOW entry and no more tracing; with room for
    the whole O(K^2) walk, none."""
    with glue.watch([glue.WATCH_WORK]) as lines:
        E.evaluate_json(copy.deepcopy(doc))
    assert any(len(e) == 3 and e[2] is glue.OVERFLOW for e in lines)
    assert glue.first_value_read(lines) is not None
    work = [10**12]
    with glue.watch(work) as lines:
        E.evaluate_json(copy.deepcopy(_einsum(60) if "einsum" in str(doc) else _getitem(400)))
    assert not any(len(e) == 3 and e[2] is glue.OVERFLOW for e in lines)
    assert 10**12 - work[0] > 10_000  # the K^2 walk: K = 60 or 400 already costs this much
