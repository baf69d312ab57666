"""Red team 7, F5: nested autograd.grad(create_graph=True) doubles the graph at each level. The graph a
create_graph backward records is charged to the request's budget near its real size (0-d arrays were charged
4 bytes for ~1 KB of nodes and objects each), and the response's graph counts toward max_response_bytes."""
from __future__ import annotations

import time
import tracemalloc

import pytest

import engine
from engine.budget import Budget
from engine.errors import LimitExceeded
from engine.program import Limits
from tests.engine.test_random_programs import check_against_torch


def nested(k: int) -> dict:
    """The red team's p22: y = x*x, z = sin(y), then k nested autograd.grad(create_graph=True) of x (0-d)."""
    ops = [{"name": "y0", "op": "mul", "args": ["x", "x"]}, {"name": "z0", "op": "sin", "args": ["y0"]}]
    prev = "z0"
    for i in range(1, k + 1):
        ops.append({"name": [f"g{i}"], "op": "autograd.grad", "args": [prev, "x"], "kwargs": {"create_graph": True}})
        prev = f"g{i}"
    return {"leaves": {"x": {"data": 0.5, "requires_grad": True}}, "ops": ops, "outputs": [prev]}


def test_nested_grads_answer_as_torch():
    check_against_torch(nested(3), engine.evaluate)


def test_the_graph_a_create_graph_backward_records_is_charged_near_its_real_size():
    budget = Budget(deadline=time.monotonic() + 600)
    tracemalloc.start()
    try:
        engine.evaluate(nested(9), budget=budget)
        _, real = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert budget.peak * 4 >= real, (budget.peak, real)  # was 11 KB charged for ~2 MB


def test_nested_grads_stop_at_max_request_bytes():
    with pytest.raises(LimitExceeded) as e:  # ~16 MB of graph at k=12
        engine.evaluate(nested(12), limits=Limits(max_request_bytes=4 << 20))
    assert "max_request_bytes" in e.value.msg and e.value.loc[:2] == ["body", "ops"]


@pytest.mark.parametrize("k", [6, 8, 10])
def test_the_graph_counts_toward_the_response_cap(k):
    """Either the answer fits the cap or it is refused (413) before it is written; at k=10 (~3,900 nodes,
    ~390 KB of graph) against a 200 KB cap it was a 200 past the cap."""
    limits = Limits(max_response_bytes=200_000)
    try:
        body = engine.evaluate_json(nested(k), limits=limits)
    except LimitExceeded as e:
        assert k == 10 and "graph" in e.msg and "max_response_bytes" in e.msg
    else:
        assert k < 10 and len(body) <= limits.max_response_bytes
