"""parity17 over real HTTP, against live torch 2.13: a float16 leaf beside a JSON number (1 + 2**-11 + 2**-40,
just past a float16 tie: torch's double -> float -> half makes it 1.0, NumPy's one rounding 1.0009765625; 65520 -
2**-20: inf in torch, 65504 in NumPy) in add / rsub / sub's alpha / gt + where / remainder / hardtanh / clamp_min /
threshold / pow / nan_to_num / xlogy, values and float16 grads: each document cold, then warm (its structure
lowered by the sixth replay, other leaf values), then all in one /v1/evaluate/batch."""
from __future__ import annotations

import json
import math

import pytest
import torch

from tests.app.conftest import Server

V = 1 + 2**-11 + 2**-40
BIG = 65520 - 2**-20
F = torch.nn.functional
PROGRAMS = {  # name: (torch's r of x, the ops making r)
    "add": (lambda x: x + V, [{"name": "r", "op": "add", "args": ["x", V]}]),
    "rsub": (lambda x: torch.rsub(x, BIG), [{"name": "r", "op": "rsub", "args": ["x", BIG]}]),
    "sub_alpha": (lambda x: torch.sub(x, x * 2, alpha=-V),
                  [{"name": "y", "op": "mul", "args": ["x", 2]},
                   {"name": "r", "op": "sub", "args": ["x", "y"], "kwargs": {"alpha": -V}}]),
    "gt_where": (lambda x: torch.where(x > V, x, -V), [{"name": "m", "op": "gt", "args": ["x", V]},
                                                       {"name": "r", "op": "where", "args": ["m", "x", -V]}]),
    "remainder": (lambda x: torch.remainder(x, V), [{"name": "r", "op": "remainder", "args": ["x", V]}]),
    "hardtanh": (lambda x: F.hardtanh(x, -V, V), [{"name": "r", "op": "hardtanh", "args": ["x", -V, V]}]),
    "clamp_min": (lambda x: torch.clamp_min(x, V), [{"name": "r", "op": "clamp_min", "args": ["x", V]}]),
    "threshold": (lambda x: F.threshold(x, 0.75, V), [{"name": "r", "op": "threshold", "args": ["x", 0.75, V]}]),
    "rpow": (lambda x: torch.pow(V, x), [{"name": "r", "op": "pow", "args": [V, "x"]}]),
    "nan_to_num": (lambda x: torch.nan_to_num(x.log(), nan=V, neginf=-BIG),
                   [{"name": "y", "op": "log", "args": ["x"]},
                    {"name": "r", "op": "nan_to_num", "args": ["y"], "kwargs": {"nan": V, "neginf": -BIG}}]),
    "xlogy": (lambda x: torch.xlogy(x, V + 1), [{"name": "r", "op": "xlogy", "args": ["x", V + 1]}]),
}
VALUES = [[1.0, 1.0009765625, 2.0, 0.5, -1.0], [0.75, -0.5, 1.001953125, 3.0, 1.0],
          [-2.0, 1.0, 0.25, 1.0009765625, 0.0]]


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _doc(x, ops):
    return {"leaves": {"x": {"data": x, "dtype": "float16", "requires_grad": True}},
            "ops": [*ops, {"name": "s", "op": "sum", "args": ["r"]}], "backward": [{"tensor": "s"}],
            "outputs": ["r"], "grads": ["x"]}


def _want(f, x):
    t = torch.tensor(x, dtype=torch.float16, requires_grad=True)
    r = f(t)
    r.sum().backward()
    return json.dumps([_wire(r.tolist()), _wire(t.grad.tolist())])


def _wire(v):
    """Non-finite numbers as the wire writes them."""
    if isinstance(v, list):
        return [_wire(e) for e in v]
    return v if math.isfinite(v) else "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"


def _got(body):
    t = body["tensors"]
    return json.dumps([t["r"]["data"], t["x"]["grad"]])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cold_warm_and_batch_as_torch(srv, name):
    f, ops = PROGRAMS[name]
    h = {"content-type": "application/json"}
    for k in range(7):  # cold, then the structure warm (lowered by now), with each set of values in turn
        x = VALUES[k % 3]
        r = srv.client.post("/v1/evaluate", content=json.dumps(_doc(x, ops)).encode(), headers=h)
        assert r.status_code == 200, r.text
        assert _got(r.json()) == _want(f, x), (k, x)
    docs = [_doc(x, ops) for x in VALUES]
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=h)
    assert r.status_code == 200
    for x, res in zip(VALUES, r.json()["results"], strict=True):
        assert res["status"] == 200, res
        assert _got(res["body"]) == _want(f, x), x
