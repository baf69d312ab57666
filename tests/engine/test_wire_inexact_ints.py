"""redteam12 F6, the JSON parse's side (engine/program/wire.py fast_array): a list mixing floats with a Python int
of magnitude 2**53 or more is not read as one float64 array (its double may not hold the int: 2**53 + 1 read as
2**53, 2**63 - 1 as 2**63, which the int64 cast wrapped to -2**63); it takes torch.tensor's value-by-value path.
Values against torch.tensor, for int64, float64 and inferred dtypes, flat and nested, short and long lists (the
two branches of the check). The service's routes: tests/app/test_wire_inexact_ints_http.py."""
from __future__ import annotations

import pytest
import torch

import engine
from engine.program.wire import fast_array, fast_leaf

CASES = [[1.5, 9223372036854775807], [0.5, 9007199254740993], [[0.5, 123456789012345678]],
         [2.0, 9007199254740993, 3], [0.5] * 20 + [-(2**53) - 1], [[0.25] * 30, [2**60 + 1] * 30],
         [1.5, 2**53 - 1], [0.5, 2**53], [1.0, -(2**53)]]


def _torch(data, dtype):
    try:
        return torch.tensor(data, dtype=dtype).tolist()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__


def _engine(data, dtype):
    doc = {"leaves": {"a": {"data": data, **({"dtype": dtype} if dtype else {})}}, "ops": [], "outputs": ["a"]}
    try:
        return engine.evaluate(doc)["tensors"]["a"]["data"]
    except Exception as e:  # noqa: BLE001
        return type(e).__name__


@pytest.mark.parametrize("dtype", ["int64", "float64", None])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_mixed_lists_read_as_torch_tensor(i, dtype):
    data = CASES[i]
    ref = _torch(data, getattr(torch, dtype) if dtype else None)
    got = _engine(data, dtype)
    if dtype is None and isinstance(ref, list):  # (no dtype: torch's default float, float32, printed as such)
        ref = torch.tensor(data).tolist()
    assert got == ref, (data, dtype)


def test_only_inexact_ints_of_an_integer_leaf_leave_the_fast_path():
    """(the lead's merge: wire.fast_leaf declines where the leaf's dtype is an integer one; a float dtype, or none,
    reads each int as a double, as NumPy does)"""
    i64 = {"dtype": "int64"}
    assert fast_leaf([0.5, 9007199254740993], i64) is None and fast_leaf([[0.5] * 20, [2**60] * 20], i64) is None
    assert fast_leaf([0.5, 2**53 - 1], i64) is not None and fast_leaf([0.5, 1e300, -1e300], {}) is not None
    assert fast_leaf([0.5, 9007199254740993], {"dtype": "float64"}) is not None
    assert fast_leaf([2**60, 3], i64) is not None  # all integers: an int64 array, exact
    assert fast_array([0.5, 2**63]) is None  # past int64: torch's error, the element-by-element path


# redteam12 F8: whole numbers into a float32 (or float16) leaf convert as torch.tensor's do: each Python int to a
# double, then to float32 (2**60 + 2**36 + 1: its double is a float32 midpoint, 2**60 in torch, 2**60 + 2**37 when
# the int64 array was cast at once)
N = 2**60 + 2**36 + 1
F8_LEAVES = [{"data": [N], "dtype": "float32"}, {"data": [N, 3], "requires_grad": True},
             {"data": N, "requires_grad": True}, {"data": [[N + 2**40, 7]], "dtype": "float32"},
             {"data": [2049, 4097, 65519], "dtype": "float16"}, {"data": [N, -N], "dtype": "float64"}]


@pytest.mark.parametrize("i", range(len(F8_LEAVES)))
def test_whole_numbers_into_a_narrow_float_leaf_round_as_torch(i):
    leaf = F8_LEAVES[i]
    ref = torch.tensor(leaf["data"], dtype=getattr(torch, leaf.get("dtype", "float32")))
    doc = {"leaves": {"a": leaf}, "ops": [{"name": "m", "op": "mul", "args": ["a", 1.0]}], "outputs": ["a", "m"]}
    for _ in range(3):  # the first run, then its plan's replays (engine/program/plans.py)
        out = engine.evaluate(doc)["tensors"]
        assert out["a"]["data"] == ref.tolist() and out["m"]["data"] == (ref * 1.0).tolist(), leaf
