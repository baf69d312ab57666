"""fill_diagonal_'s value against its dtype, as torch 2.13 (redteam9 F6): c10's checked conversion (an overflow is
torch's RuntimeError "value cannot be converted to type uint8_t without overflow", on any shape, empty ones too),
an unsigned dtype wrapping a negative integer down to -max, a double truncated toward zero, infinities into
float16 and anything into bool. Every case compared with live torch: the filled values and dtype, or the exception
class and message."""
from __future__ import annotations

import math

import pytest
import torch

import engine
from tests.engine.test_parity10_scalar_fill import answer as _answer

assert torch.__version__.startswith("2.13"), torch.__version__

DTYPES = ["uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool"]
VALUES = [300, -1, -255, -256, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769, 2**31, -2**31 - 1, 2**63 - 1,
          -2**63, 65504, 65505, 70000, 2.7, -2.7, -0.5, -1.0, 255.9, 256.0, 1e40, -1e40, 3.4028235e38, 65519.0,
          math.inf, -math.inf, math.nan, True, False]




@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((7, 2), True), ((0, 3), False), ((2, 2, 2), False)])
def test_fill_diagonal_value_conversion_is_torchs(dtype, shape, wrap):
    for value in VALUES:
        def fn(lib, value=value):
            return lib.zeros(shape, dtype=getattr(lib, dtype)).fill_diagonal_(value, wrap=wrap)
        t, e = _answer(torch, fn), _answer(engine, fn)
        assert e == t, f"fill_diagonal_({dtype} {shape}, {value!r}, wrap={wrap})\nengine: {e}\ntorch:  {t}"


def test_fill_diagonal_of_a_1d_tensor_reports_its_dims_first():
    def fn(lib):
        return lib.zeros(3, dtype=lib.uint8).fill_diagonal_(300)
    assert _answer(engine, fn) == _answer(torch, fn)
