"""torch.tensor's value-by-value walks (engine/tensor_data.py check_rectangular, _as_integers; engine/dtypes.py
_walk_category) check the request's deadline every 65,536 values (redteam12 F1: 1-3 us a value with no check, a
1 MB leaf list held the server ~1 s). A cancelled budget stops each walk; without one (library use) and within the
deadline the answers and torch's errors are what they were (tests/engine/test_parity_tensor_ints.py: the order)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine
from engine import budget
from engine.budget import DeadlinePassed
from engine.tensor_data import CHECK_EVERY, _as_integers

N = 3 * CHECK_EVERY
CASES = [  # (data, dtype): each walks every value before torch's error at the end
    ([1.5] * N + [math.nan], "int64"),  # the integer fit's walk
    ([1.5] * N + [[1.0]], "float32"),  # the float path's shape walk
    ([1] * N + [2**64], None),  # the inference walk, then the integer walk
    ([[1.5, 2.5]] * N + [[1.5]], "float64"),  # nested: a shape error last
]


def _torch_error(data, dtype):
    with pytest.raises(Exception) as e:  # noqa: PT011 - the oracle's own error, whatever its type
        torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    return e.value


@pytest.mark.parametrize("data, dtype", CASES)
def test_a_walk_stops_at_the_deadline(data, dtype):
    b = budget.Budget(time_limit_s=1.0)
    b.cancel()
    with budget.active(b), pytest.raises(DeadlinePassed):
        engine.tensor(data, dtype=getattr(engine, dtype) if dtype else None)


@pytest.mark.parametrize("data, dtype", CASES)
def test_within_the_deadline_torch_error_is_unchanged(data, dtype):
    want = _torch_error(data, dtype)
    for b in (None, budget.Budget(time_limit_s=60.0, deadline=None)):
        with budget.active(b), pytest.raises(Exception) as got:  # noqa: PT011
            engine.tensor(data, dtype=getattr(engine, dtype) if dtype else None)
        assert type(got.value).__name__ == type(want).__name__ and str(got.value) == str(want)


def test_as_integers_checks_the_deadline():
    data = [2.0**63] * N  # what NumPy refuses and torch converts (to int64's minimum)
    want = torch.tensor(data, dtype=torch.int64).numpy()
    np.testing.assert_array_equal(_as_integers(data, engine.int64), want)
    b = budget.Budget(time_limit_s=1.0)
    b.cancel()
    with budget.active(b), pytest.raises(DeadlinePassed):
        _as_integers(data, engine.int64)
