"""A leaf list holding a string, null or an object (safeN, brief item 1): wire.fast_array's first try,
np.array(raw), made NumPy's unicode array of the whole list before it was declined, each value as wide as the
longest string (floats: 128 bytes a value), charged nowhere: ~30 MB from a 1 MB body of floats and one "NaN",
and from a 53 KB body of 2,500 floats and one 40,000-character string ~380 MB, filled (quadratic in the body).
Now the list's values are looked at first (wire._numbers_only) and such a list goes to the element-by-element
path with no array made: the request's 422 for a value that is not a number, torch's answer for the protocol's
"NaN" strings. Memory by tracemalloc peak, in-process."""
from __future__ import annotations

import tracemalloc

import numpy as np
import orjson
import pytest
import torch

from engine.errors import RequestError
from engine.program import wire
from engine.program.evaluate import evaluate_json
from engine.program.plans import PlanCache

N = 50_000
BAD_X = 'invalid number \'x\': only "NaN", "Infinity" and "-Infinity" may stand for numbers'
BAD_TYPE = "Input should be a number or a nested list of numbers"
LONG = "a" * 20_000


def _peak(fn):
    """fn() and the traced peak (bytes) of the allocations while it ran."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# (data, the error the request answers): each list once made a unicode or object array by np.array
BAD = [
    ([1.5] * N + ["x"], BAD_X),
    (["x"] + [1.5] * N, BAD_X),
    ([2] * N + [None], BAD_TYPE),
    ([[1.5, 2.5]] * (N // 2) + [["x", 1.0]], BAD_X),
    ([[[0.5]]] * N + [[[{"a": 1}]]], BAD_TYPE),
    ([True] * N + ["x"], BAD_X),
    ([1.5] * 1000 + [LONG], f"invalid number {LONG!r}: only \"NaN\", \"Infinity\" and \"-Infinity\" may stand for "
     "numbers"),
]


@pytest.mark.parametrize("data,msg", BAD, ids=range(len(BAD)))
def test_fast_array_makes_no_array_of_a_list_holding_a_non_number(data, msg):
    data = orjson.loads(orjson.dumps(data))  # as the parse gives it
    got, peak = _peak(lambda: wire.fast_leaf(data, {}))
    assert got is None
    # before: np.array's unicode array (1000 floats and a 20,000-character string: 80 MB; 50,000 floats and an
    # "x": 6.4 MB) or object array (0.4 MB)
    assert peak < 64 << 10, peak


@pytest.mark.parametrize("data,msg", BAD, ids=range(len(BAD)))
def test_the_request_answers_its_error_with_no_array_made(data, msg):
    spec = orjson.loads(orjson.dumps({"leaves": {"a": {"data": data}},
                                      "ops": [{"name": "s", "op": "sum", "args": ["a"]}], "outputs": ["s"]}))

    def run():
        with pytest.raises(RequestError) as e:
            evaluate_json(spec, cache=PlanCache())
        return e.value

    err, peak = _peak(run)
    assert str(err) == msg and err.loc == ["body", "leaves", "a", "data"]
    # the element-by-element walk's copy of the lists up to the bad value (8 bytes a value, ~130 a short
    # list) is all; before: the unicode array twice over (the plan key's fast_leaf and the leaf's)
    assert peak < (1 << 20) + 160 * _lists(data), peak


def _lists(x) -> int:
    return 1 + sum(_lists(v) for v in x) if isinstance(x, list) else 0


def _torch_value(x):
    return [_torch_value(v) for v in x] if isinstance(x, list) else wire.SPECIAL.get(x, x) if type(x) is str else x


@pytest.mark.parametrize("data", [[1.5] * N + ["NaN"], ["NaN", "Infinity"] + [2] * N, [["NaN", 0.25]] * N],
                         ids=["floats", "ints", "rows"])
def test_the_protocols_strings_answer_torchs_values_with_no_unicode_array(data, monkeypatch):
    spec = orjson.loads(orjson.dumps({"leaves": {"a": {"data": data}},
                                      "ops": [{"name": "s", "op": "nansum", "args": ["a"]}], "outputs": ["s"]}))
    made = []
    real = np.array

    def watch(obj, *a, **k):  # every array np.array makes while the request runs
        out = real(obj, *a, **k)
        made.append(out.dtype.kind)
        return out

    monkeypatch.setattr(wire.np, "array", watch)
    got = orjson.loads(evaluate_json(spec, cache=PlanCache()))
    assert "U" not in made and "O" not in made  # before: "U" (fast_array's first try)
    ref = torch.nansum(torch.tensor(_torch_value(data)))
    assert got["tensors"]["s"]["data"] == wire.wire_number(ref.item()) and got["tensors"]["s"]["dtype"] == "float32"


NUMERIC = [[1.5, 2.0, 3], [1, 2, 3], [True, False], [True, 2], [[1.0, 2.0], [3.0, 4.0]], [[[1, 2]] * 3] * 2,
           [], [[]], [[], []], [0.5] * 40, [[0.5] * 20] * 3, [2**63 - 1, 1], [-(2**63), 1.5], [[1e308, -1e308]],
           ["NaN"], [1, [2]], [[1, 2], [3]], [[1], 2], [[1], ""], [[1], {}], [1, 2**64], [1.5, 10**400],
           [[1.5]] * 20 + [[10**400]], [[[[[[0.5]]]]]]]


@pytest.mark.parametrize("data", NUMERIC, ids=range(len(NUMERIC)))
def test_lists_of_numbers_read_as_before(data):
    """The look first changes no answer: where np.array gave a number array the same one, elsewhere None."""
    try:
        old = np.array(data)
    except (ValueError, TypeError, OverflowError):
        old = None
    if old is not None and old.dtype.kind not in "bif":
        old = None
    new = wire.fast_array(data)
    if old is None or (old.dtype.kind == "f" and old.size and wire._has_int_past(old, data, 2**63, 2.0**63)):
        assert new is None
    else:
        assert new is not None and new.dtype == old.dtype and new.shape == old.shape
        assert np.array_equal(new, old, equal_nan=True)


def test_a_nest_deeper_than_numpy_holds_is_declined_without_a_chain_that_deep():
    x = 1.0
    for _ in range(200):
        x = [x]
    assert wire.fast_array(x) is None
