"""The value-by-value reading of a leaf list (the lists wire.fast_leaf declines: "NaN" strings, ragged or deep
nesting, floats or ints past int64 for an integer dtype) charged before it runs (safeL, brief B2: safeK's F1
leftover; redteam13 F6): wire.decode_numbers' walk and torch.tensor's (engine.tensor_data.check_rectangular) each
charge their values and lists first, so that a long walk spills off the event loop and out of the server's threads
to a compute worker before it starts, and decode_numbers / _whole_numbers check the deadline as they go (they had
walked a million rows ~1 s past it). No clock: the charges are compared with the CPU time measured on the
development machine (docs/runs/safeL.md, /tmp/safeL/walk2.py), calls counted, budgets cancelled."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.budget import Budget, DeadlinePassed, Spill, active
from engine.errors import EngineError
from engine.program.wire import _whole_numbers, decode_numbers, make_tensor, read_leaf
from tests.engine.empty_dims_sweep import Calls

N = 20_000
# case -> (data, dtype, the most CPU ns a value measured for decode_numbers + _whole_numbers + make_tensor over 10^6
# values at load 11-14; rows: a value and its list)
CASES = {
    "float32, NaN last": ([1.5] * N + ["NaN"], "float32", 700),
    "no dtype, NaN first": (["NaN"] + [1.5] * N, None, 570),
    "int64, floats and a NaN": ([1.5] * N + ["NaN"], "int64", 1610),
    "ints and 2**64": ([1] * N + [2**64], None, 2720),
    "int64, 0.5 and 2**53 + 1": ([0.5] * N + [2**53 + 1], "int64", 1570),
    "int32, ints and a NaN": ([1] * N + ["NaN"], "int32", 1850),
    "rows of one, NaN": ([[1.5]] * N + [["NaN"]], None, 3470),
    "int64 rows of one, NaN": ([[1.5]] * N + [["NaN"]], "int64", 5880),
    "deep, ragged last": ([[[1.5]]] * N + [[[1.5, 2.5]]], None, 5670),
}


def _read(data, dtype, budget):
    spec = {"data": data} if dtype is None else {"data": data, "dtype": dtype}
    with active(budget):
        arr, dt, _ = read_leaf("a", spec, ["body", "leaves", "a"])
        return make_tensor(arr, dt, ["body", "leaves", "a"], numbers=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_walk_is_charged_what_it_costs(case):
    data, dtype, ns = CASES[case]
    b = Budget()
    try:
        _read(data, dtype, b)
    except EngineError:  # torch's error for some of them: charged before it all the same
        pass
    assert b.used_flops >= len(data) * ns, (case, b.used_flops / len(data), ns)  # before: 0


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_walk_past_the_spill_cap_spills_before_it_runs(case):
    """Under a thread's caps (spill_flops: offload_min_flops, here 1e6) the request leaves for a worker before
    reading its values: a handful of calls, where the walk made several a value (before: the walk ran to its end,
    then the leaf's n flops passed under the cap)."""
    data, dtype, _ = CASES[case]
    b = Budget(spill_flops=1e6)
    with Calls() as calls, pytest.raises(Spill):
        _read(data, dtype, b)
    assert calls.n < 200, calls.n


def test_decode_numbers_stops_at_the_deadline():
    """A cancelled request's walk stops at once (redteam13 F6: it had walked to its end)."""
    b = Budget()
    b.cancel()
    data = [[1.5, 2.5]] * 200_000 + [[1.5]]
    with Calls() as calls, active(b), pytest.raises(DeadlinePassed):
        decode_numbers(data, ["x"])
    assert calls.n < 100, calls.n


def test_whole_numbers_checks_the_deadline():
    data = [[1]] * 200_000
    b = Budget()
    b.cancel()
    with active(b), pytest.raises(DeadlinePassed):
        _whole_numbers(data)
    assert _whole_numbers(data) is True  # (no budget: its answer)


@pytest.mark.parametrize("case", sorted(CASES))
def test_answers_are_torchs(case):
    """The charges change nothing of the answers: torch.tensor's values or its error (type)."""
    data, dtype, _ = CASES[case]
    small = data[:3] + data[-1:]
    conv = [[[math.nan if v == "NaN" else v for v in r] for r in row] if isinstance(row, list) and row and
            isinstance(row[0], list) else [math.nan if v == "NaN" else v for v in row] if isinstance(row, list)
            else math.nan if row == "NaN" else row for row in small]
    try:
        ref = torch.tensor(conv, dtype=getattr(torch, dtype) if dtype else None)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(Exception) as got:  # noqa: PT011
            _read(small, dtype, Budget())
        assert str(got.value).split("\n")[0] == str(e).split("\n")[0]
        return
    got = _read(small, dtype, Budget())
    assert str(got.dtype).replace("torch.", "") == str(ref.dtype).replace("torch.", "")
    assert np.array_equal(np.asarray(got._data), ref.numpy(), equal_nan=got._data.dtype.kind == "f")
