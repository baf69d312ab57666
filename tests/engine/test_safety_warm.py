"""redteam7 F2: a warm structure (a plan cache's lowered replay, a batch's vectorized run) converts leaf values to
their dtype with the cold path's range check: a value past an integer dtype is PyTorch's error there too, never a
wrapped number. Differential: cold (no cache) vs warm (a recorded and lowered plan) vs a batch, against live torch."""
from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.program import DEFAULT_LIMITS, PlanCache, batch
from tests.lowering import sight_until_lowered

DTYPES = ["int32", "int64", "bool", "float16"]  # the wire's integer dtypes, and two that convert without a check
# the report's values, and each integer dtype's edges and one past them
EDGES = [2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 3_000_000_000, 2 ** 31, 2 ** 31 - 1, -2 ** 31, -2 ** 31 - 1, 2 ** 15,
         -2 ** 15 - 1, 256, -1, 2 ** 62, 1e308, 1.0, 3e9, -3e9, 2147483647.0, 2147483648.0, 255.0, 256.5]


def _doc(data, dtype, op="add"):
    return {"leaves": {"x": {"data": data, "dtype": dtype}}, "ops": [{"name": "y", "op": op, "args": ["x", 1]}],
            "outputs": ["y"]}


def _torch_raises(data, dtype):
    try:
        torch.tensor(data, dtype=getattr(torch, dtype)) + 1
        return False
    except (RuntimeError, OverflowError, TypeError, ValueError):
        return True


def _warm_cache(data, dtype):
    """A cache whose plan for the structure of (data, dtype) is recorded and lowered: values of that shape and
    kind (int/float) that fit every dtype."""
    cache = PlanCache()
    like = [1.0 if isinstance(v, float) else 1 for v in data] if isinstance(data, list) else (
        1.0 if isinstance(data, float) else 1)
    sight_until_lowered(lambda: engine.evaluate_json(_doc(copy.deepcopy(like), dtype), cache=cache), cache,
                        after=1)
    return cache


def _answer(doc, cache=None):
    try:
        return 200, engine.evaluate_json(copy.deepcopy(doc), cache=cache)
    except Exception as e:  # noqa: BLE001 - compared as (type, text)
        return type(e).__name__, str(e)


def _batch(docs, cache):
    keys = batch.keys(docs, cache, DEFAULT_LIMITS)
    if not all(k is not None and k[0] == keys[0][0] for k in keys):
        return None  # not one structure (2**64 - 1 is no int64): each document alone, as checked above
    program = cache.get(keys[0][0])
    assert program is not None and program.lowered
    return batch.run(program, [k[1] for k in keys])


def _check(data, dtype):
    doc = _doc(data, dtype)
    cold = _answer(doc)
    assert (cold[0] != 200) == _torch_raises(data, dtype), (data, dtype, cold)
    cache = _warm_cache(data, dtype)
    assert _answer(doc, cache) == cold, (data, dtype)  # the lowered replay
    docs = [_doc(copy.deepcopy(data), dtype) for _ in range(6)]
    ones = [1.0 if isinstance(v, float) else 1 for v in data] if isinstance(data, list) else (
        1.0 if isinstance(data, float) else 1)
    for i in (0, 2, 3, 5):
        docs[i] = _doc(copy.deepcopy(ones), dtype)
    outs = _batch(docs, cache)
    alone = [_answer(d) for d in docs]
    if outs is not None:  # vectorized: only where every document is answered alone, each answer its own
        assert [out for out in outs] == [a[1] for a in alone], (data, dtype, alone)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_report_values_warm_cold_batch(value, dtype):
    _check(value, dtype)
    _check([value, 1] if isinstance(value, int) else [value, 1.0], dtype)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DTYPES), st.lists(st.one_of(st.integers(-2 ** 63, 2 ** 64 - 1), st.sampled_from(EDGES)),
                                         min_size=1, max_size=3))
def test_random_ints_warm_vs_cold(dtype, values):
    if any(isinstance(v, float) for v in values):
        values = [float(v) for v in values]
    _check(values, dtype)
