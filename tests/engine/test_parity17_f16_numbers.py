"""A float16 tensor meeting a Python number, against live torch 2.13 (parity17): torch stores a double into
float16 through float32 (c10::Half's constructor takes a float), two roundings, where NumPy rounds once; so
1 + 2**-11 + 2**-40 beside float16 is 1.0 in torch (the tie's even neighbour), 1.0009765625 in NumPy, and 65520 -
2**-20 is inf. Every op of tests/engine/parity17_f16_ops.py (wrapped numbers of add / sub / rsub / comparisons /
fmod / remainder / pow / where / xlogy, alpha, Scalar arguments of clamp_min / clamp_max / hardtanh / threshold /
hardshrink / nan_to_num / logit / pad, their in-place and method forms) on every number there, as torch answers.
Also found on the way: div's floor / trunc modes read an int past float16's range in float32 (2049 is 2049, not
2048), eval rrelu is leaky_relu at the mean slope (0.0 * a negative slope is -0.0), pad's value is fill_'s
(checked: int8 refuses 300), nextafter(-0.0, 0.0) is 0.0 in float16 as in C."""
from __future__ import annotations

import pytest
import torch

import engine
from tests.engine.parity17_f16_ops import NUMBERS, OPS, run


@pytest.mark.parametrize("name", sorted(OPS))
def test_float16_with_numbers_as_torch(name):
    ops = {name: OPS[name]}
    assert run(engine, ops) == run(torch, ops)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["rrelu.eval", "pad.constant"])
def test_other_dtypes_of_the_side_fixes(name, dtype):
    ops = {name: OPS[name]}
    assert run(engine, ops, dtype=dtype) == run(torch, ops, dtype=dtype)


@pytest.mark.parametrize("fn", ["pad", "constant_pad_nd"])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "bool", "float16", "float32"])
def test_pad_value_is_checked_as_fill(dtype, fn):
    """constant_pad_nd fills its output with fill_(value): c10's checked conversion into the dtype (a padded
    one-element output unchecked, as fill_'s one-element path); F.pad's value is a double (uint8 refuses -1)."""
    for v in [300, -129, -1, 2**63, 2**64 - 1, 1.5, 70000, 1e39, 65519.0, float("inf"), float("nan"), True]:
        for pad, n in (((1, 1), 2), ((1, 0), 0), ((-1, 0), 2), ((0, 0), 2)):
            def f(L, v=v, pad=pad, n=n):
                x = L.ones(n, dtype=getattr(L, dtype))
                if fn == "pad":
                    return L.nn.functional.pad(x, pad, value=v)
                return L.constant_pad_nd(x, pad, v)
            got, want = _answer(engine, f), _answer(torch, f)
            assert got == want, (v, pad, n)


def _answer(L, f):
    try:
        r = f(L)
        return str(r.dtype), str(r.tolist())
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e).splitlines()[0]


def test_numbers_hold_both_rounding_directions():
    """The table's numbers are the cases: float16 of the float32 value differs from float16 of the double."""
    import numpy as np  # noqa: PLC0415

    with np.errstate(over="ignore"):
        split = [v for v in NUMBERS if type(v) is float and np.float16(np.float32(v)) != np.float16(v)]
    assert len(split) >= 8
