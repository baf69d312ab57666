"""A leaf's integers past int64 over real HTTP, against live torch: the body's exact parse (19-digit runs), the
text route of a warm structure and the batch route answer torch's error (ValueError "Overflow when unpacking
long long") or torch's values; [1, 2**63] was a float32 answer, [1, 2**63] as int64 a wrapped one."""
from __future__ import annotations

import json

import pytest
import torch

from tests.app.conftest import Server

BIG = 2**63
CASES = [([1, BIG], None), ([1, BIG], "int64"), ([-1, BIG], "int32"), ([1, BIG], "float32"), ([2, -BIG - 1], None),
         ([1.5, BIG], None), ([BIG - 1, -BIG], None)]


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _body(data, dtype) -> bytes:
    leaf = {"data": data} | ({"dtype": dtype} if dtype else {})
    return json.dumps({"leaves": {"a": leaf}, "ops": [{"name": "b", "op": "add", "args": ["a", 1]}],
                       "outputs": ["b"]}).encode()


def _torch(data, dtype):
    try:
        b = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None) + 1
    except Exception as e:  # noqa: BLE001
        return 422, type(e).__name__, str(e)
    return 200, str(b.dtype).removeprefix("torch."), b.tolist()


def _read(status, body):
    if status == 200:
        b = body["tensors"]["b"]
        return 200, b["dtype"], b["data"]
    d = body["detail"][0]
    return status, d["type"], d["msg"]


def _sevens(data):
    return [_sevens(x) for x in data] if isinstance(data, list) else (7.0 if isinstance(data, float) else 7)


@pytest.mark.parametrize("data,dtype", CASES, ids=repr)
def test_big_integers_answer_as_torch_on_every_route(srv, data, dtype):
    want = _torch(data, dtype)
    for _ in range(6):  # the structure warm: cached, lowered, its text template learned
        assert srv.client.post("/v1/evaluate", content=_body(_sevens(data), dtype),
                               headers={"content-type": "application/json"}).status_code == 200
    r = srv.client.post("/v1/evaluate", content=_body(data, dtype), headers={"content-type": "application/json"})
    assert _read(r.status_code, r.json()) == want
    docs = [json.loads(_body(_sevens(data), dtype))] * 3 + [json.loads(_body(data, dtype))]
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    last = r.json()["results"][-1]
    assert _read(last["status"], last["body"]) == want
