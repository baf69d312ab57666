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


# redteam12 F6, F8, F10: integers a double does not hold exactly. An integer dtype takes each int exactly even
# among floats ([1.5, 2**63 - 1] had wrapped to -2**63); a float32 leaf takes an int through a double, as
# torch.tensor's unpack does (2**60 + 2**36 + 1 is 2**60, not 2**60 + 2**37); the whole-number rule (API.md v1.1:
# requires_grad, no dtype -> float32) is for integers only ([true, 2] is torch's int64, which cannot require grad).
N = 2**60 + 2**36 + 1
LEAVES = [{"data": [1.5, BIG - 1], "dtype": "int64"}, {"data": [0.5, 2**53 + 1], "dtype": "int64"},
          {"data": [[0.5, 123456789012345678]], "dtype": "int64"}, {"data": [2.0, 2**53 + 1, 3], "dtype": "int64"},
          {"data": [-0.5, -(2**31)], "dtype": "int32"}, {"data": [N], "dtype": "float32"},
          {"data": [N, 3], "requires_grad": True}, {"data": N, "requires_grad": True},
          {"data": [[N + 2**40, 7]], "dtype": "float32"}, {"data": [2049, 4097, 65519], "dtype": "float16"},
          {"data": [True, 2], "requires_grad": True}, {"data": [[1, True], [2, 3]], "requires_grad": True}]


def _torch_leaf(leaf):
    data, rg = leaf["data"], leaf.get("requires_grad", False)
    dtype = leaf.get("dtype")
    if dtype is None and rg and _whole(data):
        dtype = "float32"  # API.md v1.1's whole-number rule (torch has none: what the client means)
    try:
        a = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None, requires_grad=rg)
        b = a + 1
    except Exception as e:  # noqa: BLE001
        return 422, type(e).__name__, str(e)
    return 200, str(b.dtype).removeprefix("torch."), b.tolist()


def _whole(data):
    return all(_whole(x) for x in data) if isinstance(data, list) else type(data) is int


def _leaf_body(leaf) -> bytes:
    return json.dumps({"leaves": {"a": leaf}, "ops": [{"name": "b", "op": "add", "args": ["a", 1]}],
                       "outputs": ["b"]}).encode()


@pytest.mark.parametrize("leaf", LEAVES, ids=repr)
def test_integers_a_double_cannot_hold_answer_as_torch_on_every_route(srv, leaf):
    want = _torch_leaf(leaf)
    warm = leaf | {"data": _sevens(leaf["data"])}  # the same structure (kinds, shapes) with small values
    hdr = {"content-type": "application/json"}
    for _ in range(6):  # cached, lowered, its text template learned (where one can be)
        assert srv.client.post("/v1/evaluate", content=_leaf_body(warm), headers=hdr).status_code == 200
    for _ in range(2):  # cold, then warm where it is cached
        r = srv.client.post("/v1/evaluate", content=_leaf_body(leaf), headers=hdr)
        assert _read(r.status_code, r.json()) == want
    docs = [json.loads(_leaf_body(warm))] * 3 + [json.loads(_leaf_body(leaf))] * 2
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=hdr)
    assert r.status_code == 200
    for entry in r.json()["results"][3:]:
        assert _read(entry["status"], entry["body"]) == want


# redteam12 F9 over HTTP: an int operand past 2**24 beside a float32 leaf, cold and warm (a cached or lowered
# structure must cast it as the full path does)
SCALAR_OPS = [("add", ["x", N], {}), ("sub", ["x", N], {}), ("mul", ["x", N], {}), ("div", ["x", N], {}),
              ("clamp", ["x"], {"min": N}), ("eq", ["x", N], {}), ("full", [[2], N], {"dtype": "float32"}),
              ("rsub", ["x", N], {}), ("add", ["x", "x"], {"alpha": N})]


@pytest.mark.parametrize("name,args,kwargs", SCALAR_OPS, ids=lambda x: str(x)[:12])
def test_an_int_operand_beside_float32_is_cast_once_warm_or_cold(srv, name, args, kwargs):
    for val in ([1.0, 2.0], [2.0**60 + 2**37, 5.0]):
        doc = {"leaves": {"x": {"data": val, "dtype": "float32"}},
               "ops": [{"name": "y", "op": name, "args": args, "kwargs": kwargs}], "outputs": ["y"]}
        tx = torch.tensor(val, dtype=torch.float32)
        targs = [tx if a == "x" else a for a in args]
        want = getattr(torch, name)(*targs, **{k: getattr(torch, v) if k == "dtype" else v
                                               for k, v in kwargs.items()}).tolist()
        for _ in range(5):
            r = srv.client.post("/v1/evaluate", content=json.dumps(doc).encode(),
                                headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json()["tensors"]["y"]["data"] == want


# review13a: a dtype that is not a string is the leaf's 422 (F-A: fast_leaf's test of it had raised a 500, and
# a batch holding such a document failed whole); base64 integers into a float32 leaf or gradient are cast as a
# tensor cast, once (F-B); a vjp's `v` is read in its output's dtype (F-C: float64 outputs got float32 values)
@pytest.mark.parametrize("dtype", [["int64"], {"a": 1}])
def test_a_dtype_that_is_not_a_string_is_the_documents_422(srv, dtype):
    doc = {"leaves": {"a": {"data": [1.5, 2.5], "dtype": dtype}}, "ops": [{"name": "s", "op": "sum", "args": ["a"]}]}
    hdr = {"content-type": "application/json"}
    r = srv.client.post("/v1/evaluate", content=json.dumps(doc).encode(), headers=hdr)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "leaves", "a", "dtype"]
    ok = {"leaves": {"a": {"data": [1.5, 2.5]}}, "ops": [{"name": "s", "op": "sum", "args": ["a"]}]}
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": [ok, doc, ok]}).encode(), headers=hdr)
    assert r.status_code == 200 and [e["status"] for e in r.json()["results"]] == [200, 422, 200]


def test_base64_integers_into_float32_are_cast_once(srv):
    import base64

    import numpy as np
    raw = np.array([-N, 3], "<i8")
    b64 = {"dtype": "int64", "shape": [2], "b64": base64.b64encode(raw.tobytes()).decode()}
    want = torch.from_numpy(raw).to(torch.float32)
    doc = {"leaves": {"a": {"data": b64, "dtype": "float32", "requires_grad": True}},
           "ops": [{"name": "b", "op": "mul", "args": ["a", 1.0]}], "outputs": ["a"],
           "backward": [{"tensor": "b", "gradient": b64}]}
    r = srv.client.post("/v1/evaluate", content=json.dumps(doc).encode(), headers={"content-type": "application/json"})
    assert r.status_code == 200
    a = r.json()["tensors"]["a"]
    assert a["data"] == want.tolist() and a["grad"] == want.tolist()


def test_a_vjp_v_is_read_in_its_outputs_dtype(srv):
    doc = {"leaves": {"x": {"data": [1.0, 2.0], "dtype": "float64", "requires_grad": True}},
           "ops": [{"name": "f", "op": "mul", "args": ["x", 1.0]}], "transform": "vjp",
           "function": {"inputs": "x", "output": "f"}, "v": [0.1, 0.2]}
    r = srv.client.post("/v1/functional", content=json.dumps(doc).encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    _, want = torch.autograd.functional.vjp(lambda x: x * 1.0, x, torch.tensor([0.1, 0.2], dtype=torch.float64))
    body = r.json()
    assert body["result"]["data"] == want.tolist(), body


def test_a_float16_leafs_doubles_round_as_torchs_cold_warm_and_batched(srv):
    """review13a F-D: a double into float16 through a float, as c10 (1 + 2**-11 + 2**-40 is 1.0)."""
    xs = [1 + 2**-11 + 2**-40, 0.5, -(2049 + 2**-30), 3.25]
    want = (torch.tensor(xs, dtype=torch.float16) * 1.0).tolist()
    doc = {"leaves": {"a": {"data": xs, "dtype": "float16"}}, "ops": [{"name": "b", "op": "mul", "args": ["a", 1.0]}],
           "outputs": ["b"]}
    warm = {**doc, "leaves": {"a": {"data": [0.25, 0.5, 1.5, 3.25], "dtype": "float16"}}}
    hdr = {"content-type": "application/json"}
    for d in [warm] * 5 + [doc] * 2:
        r = srv.client.post("/v1/evaluate", content=json.dumps(d).encode(), headers=hdr)
        assert r.status_code == 200
    assert r.json()["tensors"]["b"]["data"] == want
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": [warm, warm, doc, doc]}).encode(),
                        headers=hdr)
    assert [e["body"]["tensors"]["b"]["data"] for e in r.json()["results"][2:]] == [want, want]
