"""parity16's fixes over real HTTP, against live torch 2.13: each document cold, then warm (its structure cached
and lowered by the sixth replay, other leaf values), and in a batch (/v1/evaluate/batch): isin / searchsorted /
bucketize compare in torch's promoted dtype (an int64 leaf's 2**24 + 1 beside float32 is 2**24), ldexp keeps a
float32 self's dtype beside an int64 exponent, elu of float16 with alpha 1e5 computes in float, arange counts in
double."""
from __future__ import annotations

import json

import pytest
import torch

from tests.app.conftest import Server

N = 2**24 + 1


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _h(f32):
    return [-x / 1e9 for x in f32]


def _doc(f32, ints, op):
    leaves = {"a": {"data": f32, "dtype": "float32"}, "i": {"data": ints, "dtype": "int64"},
              "h": {"data": _h(f32), "dtype": "float16"}}
    return {"leaves": leaves, "ops": op, "outputs": ["r"]}


CASES = {
    "isin": (lambda f, i: torch.isin(torch.tensor(f), torch.tensor(i)),
             [{"name": "r", "op": "isin", "args": ["a", "i"]}]),
    "searchsorted": (lambda f, i: torch.searchsorted(torch.tensor(f), torch.tensor(i)),
                     [{"name": "r", "op": "searchsorted", "args": ["a", "i"]}]),
    "bucketize": (lambda f, i: torch.bucketize(torch.tensor(i), torch.tensor(f), right=True),
                  [{"name": "r", "op": "bucketize", "args": ["i", "a"], "kwargs": {"right": True}}]),
    "ldexp": (lambda f, i: torch.ldexp(torch.tensor(f), torch.tensor(i).sum() % 7),
              [{"name": "s", "op": "sum", "args": ["i"]}, {"name": "e", "op": "remainder", "args": ["s", 7]},
               {"name": "r", "op": "ldexp", "args": ["a", "e"]}]),
    "elu16": (lambda f, i: torch.nn.functional.elu(torch.tensor(_h(f), dtype=torch.float16), alpha=1e5),
              [{"name": "r", "op": "elu", "args": ["h"], "kwargs": {"alpha": 1e5}}]),
}
VALUES = [([1.0, 2.0, float(2**24)], [N, 5]), ([0.5, 7.0, 9.0], [7, N - 2]), ([-1.0, float(N + 1), 3e7], [N + 2, 0])]


def _read(r):
    assert r.status_code == 200, r.text
    t = r.json()["tensors"]["r"]
    return t["dtype"], t["data"]


def _want(f, fv, iv):
    t = f(sorted(fv), iv)
    return str(t.dtype).removeprefix("torch."), t.tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_cold_warm_and_batch_as_torch(srv, name):
    f, ops = CASES[name]
    h = {"content-type": "application/json"}
    for k in range(7):  # cold, then the structure warm (lowered by now), with each set of values in turn
        fv, iv = VALUES[k % 3]
        r = srv.client.post("/v1/evaluate", content=json.dumps(_doc(sorted(fv), iv, ops)).encode(), headers=h)
        assert _read(r) == _want(f, fv, iv), (k, fv, iv)
    docs = [_doc(sorted(fv), iv, ops) for fv, iv in VALUES]
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=h)
    assert r.status_code == 200
    for (fv, iv), res in zip(VALUES, r.json()["results"], strict=True):
        assert res["status"] == 200, res
        t = res["body"]["tensors"]["r"]
        assert (t["dtype"], t["data"]) == _want(f, fv, iv)


def test_arange_counts_in_double(srv):
    """arange(1, 2.1, 0.1, dtype=int32): torch's eleven 1s (NumPy's arange would give 1..2)."""
    doc = {"ops": [{"name": "r", "op": "arange", "args": [1, 2.1, 0.1], "kwargs": {"dtype": "int32"}}],
           "outputs": ["r"]}
    r = srv.client.post("/v1/evaluate", content=json.dumps(doc).encode(), headers={"content-type": "application/json"})
    t = torch.arange(1, 2.1, 0.1, dtype=torch.int32)
    assert _read(r) == ("int32", t.tolist())
