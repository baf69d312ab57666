"""A Program's replay that gives up (a value-sized op whose outputs differ from the recording's, an op's error
at other values) leaves the request's budget as it found it: the full path then answers exactly as for a cold
request, limits included (before: the replay's flops stayed charged and the full path charged them again)."""
from __future__ import annotations

import copy

import pytest

import engine.program as E
from engine.errors import EngineError
from engine.program import Limits
from engine.program.run import VALUE_SIZED

N = 120
MM = 2 * N ** 3


def _doc(op, leaves, extra_args=()):
    return {"leaves": leaves,
            "ops": [{"name": "a", "op": "ones", "args": [[N, N]]}, {"name": "m", "op": "mm", "args": ["a", "a"]},
                    {"name": "s", "op": "sum", "args": ["m"]}, {"name": "b", "op": op, "args": ["r", *extra_args]}],
            "outputs": ["s", "b"]}


def _outcome(doc, limits, cache=None):
    try:
        return E.evaluate(copy.deepcopy(doc), limits=limits, cache=cache)
    except EngineError as e:
        return ("raised", type(e).__name__, e.msg, e.loc)


F, I, B = [1.0, 0.0, 3.0], [1, 2, 1], [True, False, True]
CASES = [  # (op, leaf r's data recorded, other data of the same structure whose outputs differ, extra args)
    ("bincount", I, [1, 2, 700], ()), ("unique", I, [1, 2, 3], ()), ("unique_consecutive", I, [1, 1, 3], ()),
    ("nonzero", F, [1.0, 2.0, 3.0], ()), ("argwhere", F, [0.0, 0.0, 3.0], ()),
    ("masked_select", F, [1.0, 2.0, 3.0], ()),
    ("histc", F, [1.0, 0.0, 9.0], ()),  # (its 100 bins at any values: replayed, the control)
    ("repeat_interleave", I, [1, 2, 700], ()),
    ("index_select", I, [1, 500, 1], ()),  # not value-sized: an error at the other values
]


@pytest.mark.parametrize("op, first, other, extra", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("limit", ["max_flops", "max_total_elements"])
def test_a_replay_that_gives_up_answers_as_cold(op, first, other, extra, limit):
    """The limit holds one run of the document, not two (max_flops), or the recorded outputs but not the other
    values' bigger ones of bincount and repeat_interleave (max_total_elements): the other values' answer
    through the cache is the cold one, value for value."""
    if op == "masked_select":
        leaves = lambda d: {"r": {"data": d}, "k": {"data": [v != 0.0 for v in d]}}  # noqa: E731
        extra = ("k",)
        # masked_select(r, mask): the mask's values size it (its leaf moves with r's)
    else:
        leaves = lambda d: {"r": {"data": d}}  # noqa: E731
    if op == "index_select":
        doc = lambda d: {**_doc("index_select", leaves(d)),  # noqa: E731
                         "ops": [*_doc("index_select", leaves(d))["ops"][:3],
                                 {"name": "b", "op": "index_select", "args": ["m", 0, "r"]}]}
    else:
        doc = lambda d: _doc(op, leaves(d), extra)  # noqa: E731
    room = 8 * N * N if op == "index_select" else 3 * N * N + 400  # (index_select: its bound and the others)
    lim = Limits(max_flops=1.5 * MM) if limit == "max_flops" else Limits(max_total_elements=room)
    cold = _outcome(doc(other), lim)
    cache = E.PlanCache()
    assert isinstance(_outcome(doc(first), lim, cache), dict)
    key = cache.key(doc(other), lim)
    assert cache.get(key[0]) is not None  # recorded: the other values meet its replay
    assert _outcome(doc(other), lim, cache) == cold
    assert _outcome(doc(other), lim, cache) == cold  # (and again: the recorded program is the first one)


def test_the_cases_cover_the_value_sized_ops_with_one_input():
    assert {c[0] for c in CASES} - {"index_select"} <= VALUE_SIZED
