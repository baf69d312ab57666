"""arange's count, values and errors against live torch 2.13 (review13a F-G): compute_arange_size checks the
bounds in double, then counts in double, ceil((end - start) / step), for every dtype but int64, and exactly
over int64 for int64 (C's wrapping arithmetic); the kernel takes start and step in its accumulate type (int64
for the integer dtypes: arange(1, 2.1, 0.1, dtype=int32) is eleven 1s, not NumPy's 1..2), each a checked
Scalar conversion. The engine had counted in Python's exact arithmetic (int64 [0, 2**60 + 1) by 2**57: 8 for 9)
and made integer values with np.arange over the unconverted numbers."""
from __future__ import annotations

import pytest
import torch

import engine
from engine import dtypes as D

B = 2**53
ARGS = [(0, 1, 0.1), (0, 0.3, 0.1), (1, 2.1, 0.1), (0, 10, 3), (0, 10, -3), (10, 0, -3), (0, 2**60 + 1, 2**57),
        (B, B + 3), (B, B + 3, 1.0), (-2**62, 2**62, 2**60), (0, 2**63 - 1, 2**61), (-2**63, 2**63 - 1, 2**62),
        (0, 1e30, 1e28), (0, float("inf")), (float("nan"), 3), (-float("nan"), 3), (0, 3, float("nan")), (0, 3, 0),
        (0, 3, 0.0), (0, 3, -1), (3, 0, 1), (0, 1e20, 1e-10), (1e308, -1e308, -1e306), (0, 5, 1e-320),
        (2**64 - 1,), (2**63,), (2**64,), (-2**63 - 1, 0), (0, 65505, 1000), (0, 1, 2**-12), (0.5, 3), (True, 5),
        (0, 7, True), (True,), (1.5, 2**24 + 1, 2**20), (2**24 + 1, 2**24 + 5, 1.0), (0, 1e39, 1e37),
        (-1e39, 0, 1e37), (1e39, 1e39, 1), (0, 5, 1e39), (0, 100, 0.5), (-1.5, 2), (1.5, 4), (0, 5, 1.5),
        (123456789.5, float("inf")), (-0.0, float("-inf")), (2**62, 2**63 - 1, 2**61), (0, 300, 100),
        (-1e30, 1e30, 1e-300), (2**60 + 2**36 + 1, 2**60 + 2**40, 2**38), (0.1, 0.7, 0.1), (1, 0.3, -0.1)]
DTYPES = [None, "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _run(lib, args, dt):
    try:
        t = lib.arange(*args, dtype=None if dt is None else getattr(torch, dt) if lib is torch else D.BY_NAME[dt])
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", str(t.dtype).removeprefix("torch."), t.tolist()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("args", ARGS, ids=repr)
def test_arange_as_torch(args, dt):
    assert repr(_run(engine, args, dt)) == repr(_run(torch, args, dt))


@pytest.mark.parametrize("dt", ["int64", "int32", "float32", "float64"])
def test_arange_past_the_budget_is_refused_before_it_allocates(dt):
    """A count torch would try to allocate (2**53: its allocator's error) is the request's 413 here, charged
    before anything is made."""
    from engine import budget

    with budget.active(budget.Budget(max_bytes=50 << 20)), pytest.raises(engine.errors.LimitExceeded):
        engine.arange(0.0, 2.0**53, dtype=D.BY_NAME[dt])
