"""redteam10's F7: Python numbers into int64 / bool as torch 2.13 takes them, compared with the live torch call
(values and dtype, or the exception's class and words). c10 compares a double with (double)INT64_MAX = 2**63, so
2.0**63 fits int64 and wraps to INT64_MIN (full, fill_, masked_fill, index_fill, scatter); alpha on bool tensors
is alpha.to<bool>(); a bool tensor with an int past int64 is the Bool/UInt64 promotion refusal."""
from __future__ import annotations

import pytest
import torch

import engine

assert torch.__version__.startswith("2.13"), torch.__version__


def _answer(lib, fn):
    try:
        r = fn(lib)
        return "ok", str(r.dtype).split(".")[-1], r.tolist()
    except Exception as e:  # noqa: BLE001 - both libraries must raise the same
        return type(e).__name__, str(e)


CASES = {}
for _v in (2.0**63, -(2.0**63), 2.0**64, 9.3e18, 2.0**63 * (1 - 2**-53), 2.0**31):
    CASES[f"full int64 {_v}"] = lambda lib, v=_v: lib.full([2], v, dtype=lib.int64)
    CASES[f"full int32 {_v}"] = lambda lib, v=_v: lib.full([2], v, dtype=lib.int32)
    CASES[f"fill_ {_v}"] = lambda lib, v=_v: lib.zeros(2, dtype=lib.int64).fill_(v)
    CASES[f"masked_fill {_v}"] = lambda lib, v=_v: lib.zeros(2, dtype=lib.int64).masked_fill(
        lib.tensor([True, False]), v)
    CASES[f"index_fill {_v}"] = lambda lib, v=_v: lib.zeros(2, dtype=lib.int64).index_fill(0, lib.tensor([1]), v)
    CASES[f"scatter {_v}"] = lambda lib, v=_v: lib.zeros(2, dtype=lib.int64).scatter(0, lib.tensor([1]), v)
for _al in (-255, 2**31, -(2**63), 2**63, 2**64 - 1, 2**64, 0, 2, 0.5):
    CASES[f"add(bool, bool, alpha={_al})"] = lambda lib, al=_al: lib.add(
        lib.tensor([True, False, False]), lib.tensor([True, True, False]), alpha=al)
    CASES[f"sub(bool, bool, alpha={_al})"] = lambda lib, al=_al: lib.sub(
        lib.tensor([True, False, False]), lib.tensor([True, True, False]), alpha=al)
for _n in (2**63, 2**64 - 1, 2**64, -(2**63) - 1):
    CASES[f"add(bool, {_n})"] = lambda lib, n=_n: lib.add(lib.tensor([True, False]), n)
    CASES[f"mul(bool, {_n})"] = lambda lib, n=_n: lib.mul(lib.tensor([True, False]), n)


@pytest.mark.parametrize("case", CASES)
def test_like_torch(case):
    fn = CASES[case]
    assert _answer(engine, fn) == _answer(torch, fn)
