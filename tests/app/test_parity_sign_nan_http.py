"""abs's gradient at NaN over real HTTP (redteam13 F9): torch's sign is 0 at NaN, so x.grad is 0 there; cold,
warm (cached, lowered, its text template learned) and in a batch. Against live torch."""
from __future__ import annotations

import json
import math

import pytest
import torch

from tests.app.conftest import Server

HDR = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _body(values, op, dtype):
    return json.dumps({"leaves": {"x": {"data": values, "dtype": dtype, "requires_grad": True}},
                       "ops": [{"name": "a", "op": op, "args": ["x"]}, {"name": "s", "op": "sum", "args": ["a"]}],
                       "backward": [{"tensor": "s"}], "grads": ["x"]}).encode()


def _floats(data):
    return [(float(v), math.copysign(1, float(v))) if float(v) == float(v) else "nan" for v in data]


def _torch(values, op, dtype):
    x = torch.tensor([float(v) for v in values], dtype=getattr(torch, dtype), requires_grad=True)
    getattr(torch, op)(x).sum().backward()
    return _floats(x.grad.tolist())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_abs_gradient_at_nan_is_torchs_on_every_route(srv, dtype):
    values = ["NaN", -0.0, 2.0, -3.0]
    want = _torch(values, "abs", dtype)
    assert want[0] == (0.0, 1.0)  # (torch's: the oracle is what the test says it is)
    warm = [1.0, -2.0, 2.0, -3.0]
    for _ in range(6):
        assert srv.client.post("/v1/evaluate", content=_body(warm, "abs", dtype), headers=HDR).status_code == 200
    for _ in range(2):
        r = srv.client.post("/v1/evaluate", content=_body(values, "abs", dtype), headers=HDR)
        assert r.status_code == 200
        assert _floats(r.json()["tensors"]["x"]["grad"]) == want
    docs = [json.loads(_body(warm, "abs", dtype))] * 3 + [json.loads(_body(values, "abs", dtype))] * 2
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=HDR)
    assert r.status_code == 200
    for entry in r.json()["results"][3:]:
        assert _floats(entry["body"]["tensors"]["x"]["grad"]) == want


@pytest.mark.parametrize("op", ["sign", "sgn"])
def test_sign_of_nan_over_http(srv, op):
    body = json.dumps({"leaves": {"x": {"data": ["NaN", -0.0, 5.0]}}, "ops": [{"name": "y", "op": op, "args": ["x"]}],
                       "outputs": ["y"]}).encode()
    r = srv.client.post("/v1/evaluate", content=body, headers=HDR)
    assert r.status_code == 200
    want = getattr(torch, op)(torch.tensor([math.nan, -0.0, 5.0])).tolist()
    assert _floats(r.json()["tensors"]["y"]["data"]) == _floats(want)
