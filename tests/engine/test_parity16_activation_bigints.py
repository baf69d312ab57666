"""hardtanh / leaky_relu / hardshrink / softshrink with numbers past int64 or past the dtype's range, against
live torch 2.13 (review13a F-G): the parser's OverflowError past uint64 / below int64; hardtanh on an integer
self takes its limits toLong() (2**63: torch's overflow error) and then, as on floats, clamps with each limit's
checked `.to<scalar_t>()` (float16 refuses 70000, int8 300); leaky_relu and softshrink compute float16 in float
(a slope of 2**63 is finite there: 0 stays 0, not NaN); softshrink's middle is a * 0 (-0.0, NaN); hardshrink's
lambd is checked into the dtype. The engine had cast each number with NumPy (inf, wrapped ints) and answered."""
from __future__ import annotations

import pytest
import torch

import engine

BIG = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1, 2**60 + 2**36 + 1, 300, -129, 1e39, 3.5e38, 70000.0,
       65504.0, 1.5, -2]
DTYPES = ["float16", "float32", "float64", "int8", "uint8", "int32", "int64"]


def _t(L, dt):
    return L.tensor([-3, 0, 5, 100] if dt[0] in "iu" else [-3.0, -0.0, 0.0, 5.0, 1e30, float("nan")],
                    dtype=getattr(L, dt))


def _run(L, f):
    try:
        t = f(L)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", str(t.dtype), t.tolist()


OPS = {
    "hardtanh max": lambda L, x, v: L.nn.functional.hardtanh(x, -1, v),
    "hardtanh min": lambda L, x, v: L.nn.functional.hardtanh(x, v, 2**62),
    "hardtanh both": lambda L, x, v: L.nn.functional.hardtanh(x, v, v),
    "hardtanh_": lambda L, x, v: L.nn.functional.hardtanh(x, -1, v, inplace=True),
    "relu6-like": lambda L, x, v: L.nn.functional.hardtanh(x, min_val=v),
    "leaky_relu": lambda L, x, v: L.nn.functional.leaky_relu(x, v),
    "hardshrink": lambda L, x, v: L.nn.functional.hardshrink(x, v),
    "softshrink": lambda L, x, v: L.nn.functional.softshrink(x, v),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_big_numbers_as_torch(name, dt):
    for v in BIG:
        f = lambda L, v=v: OPS[name](L, _t(L, dt), v)  # noqa: E731
        assert repr(_run(engine, f)) == repr(_run(torch, f)), v
