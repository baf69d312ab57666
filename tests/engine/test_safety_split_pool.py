"""Red team 8 F2: adaptive pools built region tables of (outputs x region) elements, ~100-150 bytes an output
element, that their rules did not charge (sixteen 209-byte requests took a server to 2.4 GB). They now walk
the tables in chunks (values bit for bit those of one pass) and their rules charge a chunk's peak: the traced
peak of a request, forward and backward, stays within what its budget charged. Values against live torch."""
from __future__ import annotations

import time
import tracemalloc

import pytest
import torch

import engine
from engine import budget as _budget
from engine.program import Limits
from tests.engine import both
from tests.engine.counting_budget import CountingBudget


def _doc(op, shape, out, backward):
    doc = {"leaves": {}, "ops": [
        {"name": "x", "op": "ones", "args": [shape], "kwargs": {"requires_grad": True}},
        {"name": "y", "op": op, "args": ["x", out]}, {"name": "s", "op": "sum", "args": ["y"]}], "outputs": ["s"]}
    if backward:
        doc["backward"] = [{"tensor": "s"}]
    return doc


CASES = [  # the red team's shapes, scaled to a test's size (M=60: 216,000 outputs from 8 inputs)
    ("adaptive_max_pool3d", [1, 1, 2, 2, 2], [60, 60, 60]),
    ("adaptive_avg_pool3d", [1, 1, 2, 2, 2], [60, 60, 60]),
    ("adaptive_max_pool2d", [1, 2, 3], [400, 400]),
    ("adaptive_avg_pool2d", [1, 2, 3], [400, 400]),
    ("adaptive_max_pool1d", [1, 1, 4], 200_000),
    ("adaptive_avg_pool1d", [1, 1, 4], 200_000),
    ("adaptive_avg_pool2d", [8, 3, 60, 60], [7, 7]),  # wide regions (K = 81), many leading rows
]


def _traced(doc):
    """(tracemalloc's peak while the request ran, the peak its budget charged), after one warm run (the
    entries' one-time objects)."""
    engine.evaluate(doc, budget=Limits().budget(deadline=time.monotonic() + 60))
    b = Limits().budget(deadline=time.monotonic() + 60)
    tracemalloc.start()
    try:
        engine.evaluate(doc, budget=b)
        return tracemalloc.get_traced_memory()[1], b.peak
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("op, shape, out", CASES, ids=lambda v: str(v).replace(" ", ""))
def test_adaptive_pools_peak_within_their_charge(op, shape, out, backward):
    """Before: the tables were held whole, ~5-10x the charge (max3d M=60: 50 MiB traced for 4.6 MiB charged)."""
    traced, charged = _traced(_doc(op, shape, out, backward))
    assert traced <= charged + (512 << 10), f"{traced} bytes traced, {charged} charged"


def test_adaptive_pool_charge_goes_past_a_small_budget_before_it_runs():
    """The charge is made before the forward: a request whose tables' chunk and outputs pass max_request_bytes
    is refused with nothing of that size allocated."""
    doc = _doc("adaptive_max_pool3d", [1, 1, 2, 2, 2], [100, 100, 100], False)
    tracemalloc.start()
    try:
        with pytest.raises(engine.errors.LimitExceeded, match="max_request_bytes") as e:
            engine.evaluate(doc, limits=Limits(max_request_bytes=8 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.loc == ["body", "ops", 1] and peak < 2 << 20, peak


@pytest.mark.parametrize("call", [
    lambda: engine.nn.functional.adaptive_avg_pool2d(engine.ones(1, 1, 4, 4), [600, 600]),
    lambda: engine.nn.functional.adaptive_max_pool1d(engine.ones(1, 1, 4), 400_000),
], ids=["avg2d", "max1d"])
def test_adaptive_pools_check_the_deadline_between_chunks(call):
    counting = CountingBudget()
    with _budget.active(counting):
        call()
    assert counting.checks >= 20, counting.checks


def _pool_and_grad(op, shape, out, variant):
    """fn(m): the pool of an exactly representable input (distinct values, or many ties, or a NaN), its indices,
    the input's gradient through a weighted sum, and the grad_fn name."""
    def run(m):
        n = 1
        for d in shape:
            n *= d
        dt = m.float64 if variant == "float64" else m.float32
        mod = 13 if variant == "ties" else 1_000_003  # ties: the first maximum wins
        x = ((m.arange(n, dtype=m.float64) * 7919) % mod - mod // 2).reshape(shape)
        if variant == "nan":
            x[(0,) * (len(shape) - 1) + (1,)] = float("nan")
        x = x.to(dt).requires_grad_()
        res = getattr(m.nn.functional, op)(x, out, **({"return_indices": True} if "max" in op else {}))
        y, idx = res if isinstance(res, tuple) else (res, None)
        w = m.arange(y.numel(), dtype=y.dtype).reshape(y.shape) % 7
        (y * w).sum().backward()
        return y.detach(), idx, x.grad, type(y.grad_fn).__name__
    return run


@pytest.mark.parametrize("case", [
    ("adaptive_avg_pool2d", (2, 3, 50, 50), (300, 300)),  # 33 chunks of 2,730 rows
    ("adaptive_max_pool2d", (2, 3, 50, 50), (300, 300)),
    ("adaptive_avg_pool2d", (2, 3, 50, 50), (7, 9)),
    ("adaptive_max_pool2d", (2, 3, 50, 50), (7, 9)),
    ("adaptive_avg_pool3d", (1, 2, 5, 6, 7), (40, 30, 20)),  # 6 chunks
    ("adaptive_max_pool3d", (1, 2, 5, 6, 7), (40, 30, 20)),
    ("adaptive_max_pool3d", (2, 9, 10, 11), (4, 3, 5)),
    ("adaptive_avg_pool1d", (2, 3, 7), 50_000),
    ("adaptive_max_pool1d", (2, 3, 7), 50_000),
    ("adaptive_max_pool1d", (3, 1000), 13),
], ids=lambda c: f"{c[0]}{list(c[1])}->{c[2]}")
@pytest.mark.parametrize("variant", ["float32", "float64", "nan", "ties"])
def test_adaptive_pools_values_and_grads_are_torchs(case, variant):
    op, shape, out = case
    if variant in ("nan", "ties") and "avg" in op:
        pytest.skip("NaN and ties matter to the max pools")
    both.same(_pool_and_grad(op, shape, out, variant), rtol=1e-6 if variant != "float64" else 1e-12, atol=1e-6)


def test_torch_is_the_oracle():
    assert torch.__version__.startswith("2.13")
