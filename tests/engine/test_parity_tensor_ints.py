"""torch.tensor's integer conversion, value by value (tensor_new.cpp's store_scalar, c10::checked_convert),
against live torch: an int past int64 is ValueError "Overflow when unpacking long long" whatever the dtype
(float dtypes aside); a value past an integer dtype is RuntimeError "value cannot be converted to type ...";
an unsigned dtype takes negative ints down to -max; a float must lie in [lowest, max] compared in double; the
first failing value in depth-first order decides. And the wire: [1, 2**63] was a float64 array to NumPy, so
the program answered float32 [1.0, 9.2e18] (dtype left out) or a wrapped int64 where torch raises."""
from __future__ import annotations

import copy
import json

import pytest
import torch

import engine
from engine.program import DEFAULT_LIMITS, PlanCache
from tests.lowering import sight_until_lowered

BIG = 2**63
LIB_CASES = [
    ([1, BIG], None), ([1, BIG], "int64"), ([BIG], "int32"), ([2**40], "int32"), ([1.5e10], "int32"),
    ([1e30], "int64"), ([float("nan")], "int64"), ([float("inf")], "int32"), (BIG, None), (BIG, "int32"),
    ([True, BIG], None), (-BIG, "int64"), (-BIG - 1, "int64"), ([300], "int8"), ([9.223372036854775808e18], "int64"),
    ([-9.223372036854775808e18], "int64"), ([2147483647.5], "int32"), ([2147483648.0], "int32"),
    ([-2147483648.9], "int32"), ([-1], "uint8"), ([-255], "uint8"), ([-256], "uint8"), ([-1.0], "uint8"),
    ([-0.5], "uint8"), ([255.9], "uint8"), ([256], "uint8"), ([-129], "int8"), ([300, BIG], "int8"),
    ([BIG, 300], "int8"), ([1e30, BIG], "int64"), ([True, 2], "int8"), ([[BIG], [1, 2]], "int64"),
    ([[1], [1, 2]], "int64"), ([2.7, -2.7], "int32"), (-2.7, "int64"), ([-1, 2.5, 9.223372036854775808e18], "int64"),
    ([-3, 1.5], "uint8"), (BIG, "float32"), ([1, BIG], "float64"), ([2**64, 1], "bool"), ([[1, 2], [3, BIG]], None),
    ([1.5, 10**400], None), ([10**400], "float32"), ([10**400], "int64"), ([1, 2**70], None), ([], "int32"),
    ([[]], "uint8"), ([True, False], "int16"), ([-128, 127], "int8"), ([-(2**15) - 1], "int16"),
]


def _outcome(lib, data, dtype):
    try:
        return repr(lib.tensor(data, dtype=getattr(lib, dtype) if dtype else None))
    except Exception as e:  # noqa: BLE001 - compared as (type, text)
        return type(e).__name__, str(e)


@pytest.mark.parametrize("data,dtype", LIB_CASES, ids=repr)
def test_library_tensor_converts_as_torch(data, dtype):
    assert _outcome(engine, data, dtype) == _outcome(torch, data, dtype)


WIRE_CASES = [
    ([1.5, 10**400], None), ([1, BIG], None), ([1, BIG], "int64"), ([-1, BIG], "int32"), ([[1], [BIG]], None),
    ([1, BIG], "float32"),
    ([-1, BIG], "bool"), ([1.5, BIG], None), ([2**64 - 1, 0], "float64"), ([-BIG - 1, 5], "int64"),
    ([1] * 20 + [BIG], None), ([[1, 2], [3, -BIG - 1]], "int64"), ([1e19, 1.0], "int64"), ([BIG - 1, -BIG], None),
]


def _doc(data, dtype):
    leaf = {"data": copy.deepcopy(data)} | ({"dtype": dtype} if dtype else {})
    return {"leaves": {"a": leaf}, "ops": [{"name": "b", "op": "add", "args": ["a", 1]}], "outputs": ["b"]}


def _torch_answer(data, dtype):
    try:
        b = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None) + 1
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return str(b.dtype).removeprefix("torch."), b.tolist()


def _engine_answer(doc, cache=None):
    try:
        out = engine.evaluate_json(copy.deepcopy(doc), cache=cache)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    b = json.loads(out)["tensors"]["b"] if isinstance(out, str | bytes) else out["tensors"]["b"]
    return b["dtype"], b["data"]


def _sevens(data):
    """The same nesting with every int 7 and every float 7.0 (values that fit every dtype)."""
    if isinstance(data, list):
        return [_sevens(x) for x in data]
    return 7.0 if isinstance(data, float) else 7


@pytest.mark.parametrize("data,dtype", WIRE_CASES, ids=repr)
def test_program_leaves_convert_as_torch_cold_and_warm(data, dtype):
    want = _torch_answer(data, dtype)
    assert _engine_answer(_doc(data, dtype)) == want
    # a cache whose plan for a structure of the same shape is recorded and lowered (ints that fit)
    cache = PlanCache()
    like = _sevens(data)
    sight_until_lowered(lambda: engine.evaluate_json(_doc(like, dtype), cache=cache), cache, after=1)
    assert _engine_answer(_doc(data, dtype), cache) == want


@pytest.mark.parametrize("data", [[1e20, 2.0], [3e19] * 40, [[1e19, -1e19]] * 20, [1e17] * 30], ids=str)
def test_float_leaves_of_large_magnitude_are_still_cached(data):
    """review12 F1: only a Python int past int64 sends a leaf down the exact path; large floats keep the plan
    cache (its key) and the batch's vectorized run."""
    doc = _doc(data, None)
    assert PlanCache().key(doc, DEFAULT_LIMITS) is not None
    assert _engine_answer(doc) == _torch_answer(data, None)
