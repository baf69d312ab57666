"""float16 tensor // a number, and div with rounding_mode floor / trunc, against live torch 2.13: aten's div_floor and
div_trunc kernels take a reduced-float tensor over a number in float32 with the number as float32, rounding once
(redteam10 F4: `floor_divide(float16 [1, 3, 7], 0.1)` had answered [10, 30, 70] for torch's [9, 29, 69], and
`[1., 0.] // 1e-30` [inf, nan] for torch's [inf, 0.]: the number made a float16 first)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

VALUES = [1.0, 0.0, -0.0, -3.0, 65504.0, -65504.0, 7.0, 0.0999, 2047.0, float("inf"), float("-inf"), float("nan"),
          6e-8, -1e-4, 3.0]
NUMBERS = [1e-30, 70000.0, -70000.0, 1e-8, 0.1, -0.1, 3.0, 2.5, 1e39, -0.0, 0.0, float("inf"), float("nan"),
           65504.0, 1e-5, 6.1e-5, 7.0]


def _same(t, e):
    a, b = t.numpy(), np.asarray(e.numpy())
    assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (a, b)
    assert np.array_equal(np.signbit(a), np.signbit(b)), (a, b)


@pytest.mark.parametrize("mode", ["floor", "trunc", "floor_divide", "inplace"])
@pytest.mark.parametrize("number", NUMBERS)
def test_float16_over_a_number_is_computed_in_float32(mode, number):
    t, e = torch.tensor(VALUES, dtype=torch.float16), engine.tensor(VALUES, dtype=engine.float16)
    if mode == "floor_divide":
        _same(torch.floor_divide(t, number), engine.floor_divide(e, number))
    elif mode == "inplace":
        _same(t.clone().div_(number, rounding_mode="floor"), e.clone().div_(number, rounding_mode="floor"))
    else:
        _same(torch.div(t, number, rounding_mode=mode), engine.div(e, number, rounding_mode=mode))


def test_other_dtypes_and_tensor_divisors_keep_their_paths():
    for dt in ("float32", "float64"):
        t, e = torch.tensor(VALUES, dtype=getattr(torch, dt)), engine.tensor(VALUES, dtype=getattr(engine, dt))
        for number in (0.1, 1e-30, 3.0):
            _same(torch.div(t, number, rounding_mode="floor"), engine.div(e, number, rounding_mode="floor"))
    t, e = torch.tensor(VALUES, dtype=torch.float16), engine.tensor(VALUES, dtype=engine.float16)
    d = [0.1, 3.0, -2.5] * 5
    _same(torch.div(t, torch.tensor(d, dtype=torch.float16), rounding_mode="floor"),
          engine.div(e, engine.tensor(d, dtype=engine.float16), rounding_mode="floor"))
