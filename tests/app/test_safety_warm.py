"""redteam7 F2 over HTTP, on a real server: an int32/int64 leaf past its range is PyTorch's 422 on a cold
structure, on the same structure once it is warm (plan cache, lowered replay), and inside a batch (the text
parser's stacked columns, vectorized) - never a wrapped number. Expected answers: the cold path's, which the
engine tests hold against live torch (tests/engine/test_safety_warm.py)."""
from __future__ import annotations

import itertools

import pytest
import torch

from tests.app.conftest import Server

_names = itertools.count()
VALUES = [3_000_000_000, 2 ** 63 - 1, -2 ** 63, 2 ** 53 + 1, [2 ** 62, 1], [1e308, 1.0], 2 ** 31, -2 ** 31 - 1]


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0"})
    yield s
    s.stop()


def _doc(name, data, dtype):
    return {"leaves": {name: {"data": data, "dtype": dtype}}, "ops": [{"name": "y", "op": "add", "args": [name, 1]}],
            "outputs": ["y"]}


def _ok_like(data):
    return [1.0 if isinstance(v, float) else 5 for v in data] if isinstance(data, list) else 5


def _torch_raises(data, dtype):
    try:
        torch.tensor(data, dtype=getattr(torch, dtype))
        return False
    except (RuntimeError, OverflowError, ValueError, TypeError):
        return True


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("data", VALUES, ids=repr)
def test_past_range_is_422_cold_warm_and_batched(srv, data, dtype):
    name = f"x{next(_names)}"  # a fresh structure
    cold = srv.client.post("/v1/evaluate", json=_doc(name, data, dtype))
    assert (cold.status_code == 422) == _torch_raises(data, dtype), cold.text
    for _ in range(3):  # record, lower, replay
        assert srv.client.post("/v1/evaluate", json=_doc(name, _ok_like(data), dtype)).status_code == 200
    warm = srv.client.post("/v1/evaluate", json=_doc(name, data, dtype))
    assert (warm.status_code, warm.content) == (cold.status_code, cold.content)
    docs = [_doc(name, _ok_like(data), dtype) for _ in range(8)]
    docs[5] = _doc(name, data, dtype)
    got = srv.client.post("/v1/evaluate/batch", json={"requests": docs})
    assert got.status_code == 200
    results = got.json()["results"]
    assert results[5] == {"status": cold.status_code, "body": cold.json()}
    assert all(r["status"] == 200 for i, r in enumerate(results) if i != 5)
