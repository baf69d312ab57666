"""Review B1 over the wire: fill_diagonal_ of a transposed view in a program through a real server answers as
torch 2.13 does (the base's values, its grad_fn, the leaf's grad)."""
from __future__ import annotations

import pytest
import torch

from .conftest import Server


@pytest.fixture(scope="module")
def server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def test_fill_diagonal_of_a_transposed_view_over_the_wire(server):
    x = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    doc = {"leaves": {"x": {"data": x, "dtype": "float64", "requires_grad": True}},
           "ops": [{"name": "h", "op": "mul", "args": ["x", 2.0]},
                   {"name": "v", "op": "t", "args": ["h"]},
                   {"name": "f", "op": "fill_diagonal_", "args": ["v", 0.0]},
                   {"name": "s", "op": "sum", "args": ["h"]}],
           "outputs": ["h", "x"], "backward": [{"tensor": "s"}]}
    r = server.client.post("/v1/evaluate", json=doc)
    assert r.status_code == 200, r.text
    body = r.json()
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    th = tx * 2
    th.t().fill_diagonal_(0.0)
    th.sum().backward()
    assert body["tensors"]["h"]["data"] == th.tolist()
    assert body["tensors"]["h"]["grad_fn"] == th.grad_fn.name().removeprefix("torch::autograd::")
    assert body["tensors"]["x"]["grad"] == tx.grad.tolist()
