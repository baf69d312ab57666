"""A base64 leaf whose shape NumPy cannot hold (more than 64 dimensions, or sizes whose product passes its index
type beside a zero) is the request's 422 at the shape, on every route that reads one; it was a 500 with a
traceback logged (redteam12 F7)."""
from __future__ import annotations

import base64
import json

import pytest

from tests.app.conftest import Server

FOUR = base64.b64encode(b"\0\0\x80?").decode()  # one float32 1.0
SHAPES = [([0, 10**20], ""), ([10**20, 0], ""), ([1] * 65, FOUR), ([0] * 70, ""), ([3, 0, 2**62, 2**62], "")]


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _doc(shape, b64, functional=False):
    leaf = {"data": {"dtype": "float32", "shape": shape, "b64": b64}} | ({"requires_grad": True} if functional else {})
    extra = {"transform": "vjp", "function": {"inputs": "a", "output": "y"}} if functional else {}
    return {"leaves": {"a": leaf}, "ops": [{"name": "y", "op": "mul", "args": ["a", 2.0]}], **extra}


@pytest.mark.parametrize("shape,b64", SHAPES, ids=lambda x: str(x)[:24])
def test_a_shape_numpy_cannot_hold_is_a_422_at_the_shape(srv, shape, b64):
    hdr = {"content-type": "application/json"}
    for path, functional in (("/v1/evaluate", False), ("/v1/functional", True)):
        r = srv.client.post(path, content=json.dumps(_doc(shape, b64, functional)).encode(), headers=hdr)
        assert r.status_code == 422, (path, r.text)
        d = r.json()["detail"][0]
        assert d["loc"] == ["body", "leaves", "a", "data", "shape"]
        assert "dimensions" in d["msg"] or "too large" in d["msg"]
    docs = [_doc(shape, b64), _doc([1], FOUR)]
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=hdr)
    assert r.status_code == 200
    first, second = r.json()["results"]
    assert first["status"] == 422 and second["status"] == 200


def test_sixty_four_dimensions_still_answer(srv):
    r = srv.client.post("/v1/evaluate", content=json.dumps(_doc([1] * 64, FOUR)).encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json()["tensors"]["y"]["shape"] == [1] * 64
