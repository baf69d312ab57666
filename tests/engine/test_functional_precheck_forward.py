"""POST /v1/functional's response size checked from the blocks' shapes in forward mode too (safeJ, known gap 1;
reverse mode: test_functional_precheck.py, redteam11 F7). `hessian(outer_jacobian_strategy="forward-mode")` is
forward-over-reverse: all its work is in one batched call of the function, and its blocks are known from the
inputs (gradient i's tangent along input j: input i's shape then input j's, input i's dtype), so it is refused
before the function runs; `jacobian(strategy="forward-mode")`'s outputs are known only once the function has run
on the batched tangents, so it is refused then, before its blocks are copied out of the tangents. Before, forward
mode was checked only once the whole result was built (a Hessian's function ran to the memory limit or the
deadline first)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.errors import LimitExceeded
from engine.program import Limits, functional
from engine.program import transforms as T
from tests.engine.test_functional_precheck import _cases, _flat, b64_leaf
from tests.engine.test_transforms import op


def _forward(spec: dict) -> dict:
    key = "strategy" if spec["transform"] == "jacobian" else "outer_jacobian_strategy"
    return {**spec, key: "forward-mode"}


def _forward_cases():
    for name, spec in _cases():  # forward mode: vectorize=True, without create_graph (torch refuses both)
        if spec["vectorize"] and "create_graph" not in spec:
            yield name, _forward(spec)


def _recording(monkeypatch):
    """check_size's calls as (hold, blocks, calls of the function so far)."""
    calls, ran = [], [0]
    real_check, real_run = T.check_size, T.run_op_list

    def check(run, values, encode, hold=True):
        calls.append((hold, _flat(values), ran[0]))
        return real_check(run, values, encode, hold)

    def run_ops(*args, **kwargs):
        ran[0] += 1
        return real_run(*args, **kwargs)

    monkeypatch.setattr(T, "check_size", check)
    monkeypatch.setattr(T, "run_op_list", run_ops)
    return calls


@pytest.mark.parametrize("name,spec", list(_forward_cases()), ids=[n for n, _ in _forward_cases()])
def test_forward_mode_checks_the_computed_results_blocks_first(name, spec, monkeypatch):
    """The blocks checked first are the computed result's (shapes and dtypes, in order); a Hessian's are checked
    before its function has run, a Jacobian's once it has run (its one call)."""
    calls = _recording(monkeypatch)
    functional(spec)
    assert [c[0] for c in calls] == [False, True], name
    assert calls[0][1] == calls[1][1], name
    assert calls[0][2] == (0 if spec["transform"] == "hessian" else 1), name


def _hessian_of_sum_sin(n: int) -> dict:
    return {"leaves": {"x": b64_leaf(n, "float64")}, "ops": [op("s", "sin", "x"), op("y", "sum", "s")],
            "transform": "hessian", "function": {"inputs": "x", "output": "y"}, "vectorize": True,
            "outer_jacobian_strategy": "forward-mode"}


def _expanded(rows: int, n: int = 1000) -> dict:
    return {"leaves": {"x": b64_leaf(n)}, "ops": [op("y", "expand", "x", [rows, n])], "transform": "jacobian",
            "function": {"inputs": "x", "output": "y"}, "vectorize": True, "strategy": "forward-mode"}


def test_a_forward_mode_hessian_too_big_to_send_never_runs_its_function(monkeypatch):
    """sum(sin(x)), x [3000] float64: a 9M-element Hessian (a 225 MB answer). Before: its function ran on 3,000
    tangents until the memory limit ("sum.dim_IntList would bring the request's tensors to 360048008 bytes");
    with a smaller response limit it ran to the end and then was refused. Now the response's 413 at once."""
    calls = _recording(monkeypatch)
    with pytest.raises(LimitExceeded) as e:
        functional(_hessian_of_sum_sin(3000))
    assert str(e.value) == ("the response would take up to 225002132 bytes, over the limit of 33554432 bytes "
                            "(max_response_bytes)") and e.value.loc == ["body"]
    assert [c[2] for c in calls] == [0]
    with pytest.raises(LimitExceeded) as e:
        functional(_hessian_of_sum_sin(30), limits=Limits(max_response_bytes=10_000))
    assert str(e.value).startswith("the response would take up to ") and [c[2] for c in calls] == [0, 0]


def test_a_forward_mode_jacobian_too_big_to_send_is_refused_before_its_blocks_are_built():
    """x.expand(4, 1000), x [1000] float32: the function's tangent fits 24 MiB, the blocks copied out of it do
    not. Before: the memory's 413 at the copy ("split_with_sizes would bring the request's tensors to ..."); now
    the response's 413, its number the one the built result gives at a larger memory limit."""
    big = Limits(max_request_bytes=40 << 20)
    with pytest.raises(LimitExceeded) as e:
        functional(_expanded(4), limits=big)
    message = str(e.value)
    assert message.startswith("the response would take up to ")
    with pytest.raises(LimitExceeded) as e:
        functional(_expanded(4), limits=Limits(max_request_bytes=24 << 20))
    assert str(e.value) == message and e.value.loc == ["body"]


def test_forward_mode_answers_under_the_limit_are_unchanged():
    """Just under the limit, the answer is the Jacobian (no false refusal): x.expand(4, 30) by forward mode equals
    reverse mode's."""
    fwd = functional(_expanded(4, 30))
    rev = functional({**_expanded(4, 30), "strategy": "reverse-mode"})
    assert fwd["result"]["data"] == rev["result"]["data"]
    assert np.asarray(fwd["result"]["shape"]).tolist() == [4, 30, 30]
