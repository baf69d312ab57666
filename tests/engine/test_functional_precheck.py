"""POST /v1/functional's response size checked from a Jacobian's or Hessian's shape before its first backward
pass (redteam11 F7): the jacobian of x.repeat(4), x a [1000] float32 leaf, vectorize=False, was refused 413
("the response would take up to 64,001,808 bytes") after 13.6 s of backward passes. The check is the one made
once the result is computed (engine/program/transforms.py check_size), on the blocks' shapes and dtypes: its
message and number are the same (the tests below compare the blocks with the computed result's tensors)."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from engine.errors import LimitExceeded
from engine.program import Limits, functional
from engine.program import transforms as T
from tests.engine.test_transforms import SEED, leaf, mlp, op, two_in_two_out, vector


def b64_leaf(n: int, dtype: str = "float32", v: float = 0.5) -> dict:
    data = np.full(n, v, dtype=dtype)
    return {"data": {"dtype": dtype, "shape": [n], "b64": base64.b64encode(data.tobytes()).decode()},
            "requires_grad": True}


def repeat(r: int, n: int = 1000, **options) -> dict:
    return {"leaves": {"x": b64_leaf(n)}, "ops": [op("y", "repeat", "x", [r])], "transform": "jacobian",
            "function": {"inputs": "x", "output": "y"}, **options}


_MESSAGE = "the response would take up to 64001808 bytes, over the limit of 33554432 bytes (max_response_bytes)"


@pytest.mark.parametrize("vectorize", [False, True])
def test_the_red_teams_jacobian_is_refused_before_its_backward_passes(vectorize):
    """max_flops lets the function run but not its 4,000 backward passes (nor the batched one): the answer is the
    response's 413 (before: the flops limit's, reached in the passes; at the default, the same 413 after them)."""
    with pytest.raises(LimitExceeded) as e:
        functional(repeat(4, vectorize=vectorize), limits=Limits(max_flops=2e6))
    assert str(e.value) == _MESSAGE and e.value.loc == ["body"]
    with pytest.raises(LimitExceeded) as e:
        functional(repeat(4, vectorize=vectorize))
    assert str(e.value) == _MESSAGE and e.value.loc == ["body"]


def test_a_jacobian_whose_rows_cannot_be_held_is_refused_before_its_passes():
    """The rows and their stack from the shape: past max_tensor_elements, the stack's own message (before: after
    every pass); past max_request_bytes, refused before the passes."""
    with pytest.raises(LimitExceeded) as e:
        functional(repeat(2), limits=Limits(max_tensor_elements=1_999_999, max_flops=2e6))
    assert str(e.value).startswith("tensor of 2000000 elements exceeds the limit of 1999999 elements per tensor")
    with pytest.raises(LimitExceeded) as e:
        functional(repeat(2), limits=Limits(max_request_bytes=12 << 20, max_flops=2e6))
    assert str(e.value).startswith("the Jacobian's rows would bring the request's tensors to ")


def _hessian(spec: dict) -> dict:
    ops = [*spec["ops"], op("s_all", "sum", spec["function"]["output"][0]
                            if isinstance(spec["function"]["output"], list) else spec["function"]["output"])]
    return {**spec, "ops": ops, "transform": "hessian", "function": {**spec["function"], "output": "s_all"}}


def _cases():
    mixed = {"leaves": {"x": leaf([1.0, 2.0, 3.0], True, "float64"), "y": leaf([[0.5, 2.0]], True, "float32"),
                        "h": leaf(1.0, False, "float16")},
             "ops": [op("a", "mul", "x", 2.0), op("b", "type_as", "a", "y"), op("c", "sum", "y"),
                     op("d", "mul", "b", "c"), op("e", "type_as", "d", "h")],
             "function": {"inputs": ["x", "y"], "output": ["d", "e"]}}
    for name, spec in (("seed", SEED), ("mlp", mlp()), ("mlp32", mlp("float32")), ("vector", vector()),
                       ("two", two_in_two_out()), ("mixed", mixed)):
        for transform in ("jacobian", "hessian"):
            doc = {**spec, "transform": "jacobian"} if transform == "jacobian" else _hessian(spec)
            for vectorize in (False, True):
                for extra in ({}, {"create_graph": True}, {"encoding": "base64"}):
                    yield f"{name}-{transform}-{vectorize}-{sorted(extra)}", {**doc, "vectorize": vectorize, **extra}


@pytest.mark.parametrize("name,spec", list(_cases()), ids=[n for n, _ in _cases()])
def test_the_check_before_the_passes_sees_the_computed_results_shapes(name, spec, monkeypatch):
    """The blocks checked before the passes are the computed result's tensors, shape and dtype in order (all
    check_size reads of them: grads are None), so the bound and the 413's number are the same."""
    calls = []
    real = T.check_size

    def recording(run, values, encode, hold=True):
        calls.append((hold, _flat(values), len(run.warnings)))
        return real(run, values, encode, hold)

    monkeypatch.setattr(T, "check_size", recording)
    functional(spec)
    assert len(calls) == 2 and calls[0][0] is False and calls[1][0] is True, name
    assert calls[0][1] == calls[1][1] and calls[0][2] == calls[1][2], name


def _flat(values) -> list:
    out, stack = [], list(values)
    while stack:
        x = stack.pop(0)
        if isinstance(x, tuple | list):
            stack[:0] = list(x)
        elif x is not None:
            assert x._grad is None
            out.append((tuple(x._data.shape), x._data.dtype.name))
    return out
