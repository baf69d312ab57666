"""The methods branch's ops under the plan cache: a document of the same structure with other leaf values
(replayed by its Program, or by its lowered function) answers exactly as the full path does, also where the
output's shape depends on the values (nonzero, unique, bincount: the replay must notice and fall back)."""
from __future__ import annotations

import copy

import pytest

import engine
from engine.program import PlanCache


def _doc(x, ops, dtype=None, requires_grad=False):
    leaf = {"data": x}
    if dtype:
        leaf["dtype"] = dtype
    if requires_grad:
        leaf["requires_grad"] = True
    return {"leaves": {"x": leaf}, "ops": ops}


def _outcome(doc, cache=None, as_json=False):
    try:
        if as_json:
            return ("ok", engine.evaluate_json(copy.deepcopy(doc), cache=cache))
        return ("ok", engine.evaluate(copy.deepcopy(doc), cache=cache))
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return ("raised", type(e).__name__, str(e))


PROGRAMS = {  # (ops, dtype, first values, second values: other output shapes where the op allows)
    "nonzero": ([{"name": "y", "op": "nonzero", "args": ["x"]}], None, [1.0, 0.0, 2.0], [0.0, 0.0, 3.0]),
    "nonzero_tuple": ([{"name": ["r", "c"], "op": "nonzero", "args": ["x"], "kwargs": {"as_tuple": True}}], None,
                      [[1.0, 0.0], [2.0, 3.0]], [[0.0, 0.0], [0.0, 3.0]]),
    "unique": ([{"name": ["u", "i", "c"], "op": "unique", "args": ["x"],
                 "kwargs": {"return_inverse": True, "return_counts": True}}], None, [1.0, 1.0, 2.0], [3.0, 1.0, 2.0]),
    "unique_consecutive": ([{"name": "u", "op": "unique_consecutive", "args": ["x"]}], "int64", [1, 1, 2], [1, 2, 1]),
    "bincount": ([{"name": "y", "op": "bincount", "args": ["x"]}], "int64", [1, 1, 3], [0, 7, 7]),
    "histc": ([{"name": "y", "op": "histc", "args": ["x"], "kwargs": {"bins": 5}}], None, [1.0, 2.0, 4.0],
              [0.0, 0.5, 9.0]),
    "all_any": ([{"name": "a", "op": "all", "args": ["x"], "kwargs": {"dim": 0}},
                 {"name": "b", "op": "any", "args": ["x"]}, {"name": "c", "op": "count_nonzero", "args": ["x"]}],
                None, [[1.0, 0.0], [2.0, 3.0]], [[1.0, 1.0], [0.0, 0.0]]),
    "searching": ([{"name": "s", "op": "sort", "args": ["x"]}, {"name": "k", "op": "searchsorted", "args": ["s", "x"]},
                   {"name": "b", "op": "bucketize", "args": ["x", "x"], "kwargs": {"right": True}},
                   {"name": "i", "op": "isin", "args": ["x", "x"]}], "float32", [3.0, 1.0, 2.0], [5.0, 5.0, -1.0]),
    "aliases_grad": ([{"name": "a", "op": "arctan", "args": ["x"]}, {"name": "n", "op": "negative", "args": ["a"]},
                      {"name": "f", "op": "fix", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["n"]},
                      {"name": "h", "op": "signbit", "args": ["n"]}], None, [0.5, -1.5], [2.5, 0.25]),
    "vander": ([{"name": "v", "op": "vander", "args": ["x"], "kwargs": {"N": 3}}], None, [1.0, 2.0], [3.0, -1.0]),
    "attributes": ([{"name": "t", "op": "type_as", "args": ["x", "x"]}, {"name": "z", "op": "is_nonzero",
                                                                          "args": ["x"]}], None, [1.5], [0.0]),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("as_json", [False, True], ids=["evaluate", "evaluate_json"])
def test_replay_answers_as_the_full_path(name, as_json):
    ops, dtype, first, second = PROGRAMS[name]
    rg = name == "aliases_grad"
    a, b = _doc(first, ops, dtype, rg), _doc(second, ops, dtype, rg)
    if rg:
        a["backward"] = b["backward"] = [{"tensor": "s"}]
    cache = PlanCache()
    assert _outcome(a, cache, as_json) == _outcome(a, None, as_json)
    for _ in range(2):  # the second time from whatever the first replay recorded
        assert _outcome(b, cache, as_json) == _outcome(b, None, as_json)
        assert _outcome(a, cache, as_json) == _outcome(a, None, as_json)
