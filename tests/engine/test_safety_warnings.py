"""Red team 7, F3: a request's warnings are inside the response bound. Every warning PyTorch raises is still
carried (API.md), but their text counts toward max_response_bytes as the list grows: past it, 413 at the op
that passed it, not an answer past the cap built from an unbounded list."""
from __future__ import annotations

import pytest

import engine
from engine.errors import LimitExceeded
from engine.program import Limits
from tests.engine.test_random_programs import check_against_torch


def grad_reads(n: int) -> dict:
    """n reads of a non-leaf's .grad: PyTorch's ~400-byte UserWarning each time."""
    ops = [{"name": "b", "op": "mul", "args": ["a", 2.0]}]
    ops += [{"name": f"g{i}", "op": "grad", "args": ["b"]} for i in range(n)]
    return {"leaves": {"a": {"data": 1.0, "requires_grad": True}}, "ops": ops, "outputs": ["b"]}


def grad_fanout(depth: int) -> dict:
    """The red team's p13: F0 reads .grad of its non-leaf input; F_k applies F_{k-1} twice: 2^depth warnings."""
    def fn(ops):
        return {"forward": {"inputs": ["x"], "ops": ops, "output": "y"},
                "backward": {"inputs": ["g"], "ops": [], "output": "g"}}
    fns = {"F0": fn([{"name": "g", "op": "grad", "args": ["x"]}, {"name": "y", "op": "detach", "args": ["x"]}])}
    for k in range(1, depth + 1):
        fns[f"F{k}"] = fn([{"name": "u", "op": f"F{k - 1}", "args": ["x"]},
                           {"name": "y", "op": f"F{k - 1}", "args": ["x"]}])
    return {"leaves": {"a": {"data": 1.0, "requires_grad": True}}, "functions": fns,
            "ops": [{"name": "b", "op": "mul", "args": ["a", 2.0]}, {"name": "c", "op": f"F{depth}", "args": ["b"]}],
            "outputs": ["c"]}


def test_repeated_warnings_are_each_carried_as_torch_raises_them():
    check_against_torch(grad_reads(3), engine.evaluate)


def test_warnings_under_the_cap_fit_the_response():
    one = len(engine.evaluate_json(grad_reads(1)))
    limits = Limits(max_response_bytes=100_000)
    n = 100_000 // 1000  # ~440 bytes each: half the cap
    body = engine.evaluate_json(grad_reads(n), limits=limits)
    assert one < len(body) <= limits.max_response_bytes
    assert len(engine.evaluate(grad_reads(n), limits=limits)["warnings"]) == n


def test_warnings_past_the_cap_are_refused_at_the_op():
    limits = Limits(max_response_bytes=100_000)
    with pytest.raises(LimitExceeded) as e:  # ~440 KB of warnings against a 100 KB cap
        engine.evaluate_json(grad_reads(1000), limits=limits)
    assert "max_response_bytes" in e.value.msg and e.value.loc[:2] == ["body", "ops"]
    assert e.value.loc[2] < 1000  # stopped as the list passed the cap, not after the last op


def test_a_fan_out_of_warnings_is_bounded_by_the_response_cap():
    limits = Limits(max_ops=1 << 20, max_response_bytes=1 << 20)  # 2^12 warnings: ~1.8 MB
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate_json(grad_fanout(12), limits=limits)
    assert "max_response_bytes" in e.value.msg
