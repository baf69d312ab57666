"""The methods branch's ops through a real server on a port: programs that use them answer as torch 2.13 does
(values, dtypes, grad_fn names, grads), GET /v1/ops lists them with their signatures, and the requests that
would allocate gigabytes from a value or an argument (bincount of [10**12], histc with 10**10 bins,
tril_indices(10**6, 10**6), ...) are 413s that leave the server answering."""
from __future__ import annotations

import pytest
import torch

from .conftest import Server, cheap_program


@pytest.fixture(scope="module")
def server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def test_catalog_lists_the_new_ops(server):
    ops = {d["name"]: d for d in server.client.get("/v1/ops").json()}
    assert ops["unique"]["signature"].startswith("unique(input, sorted=True, return_inverse=False")
    assert ops["arccos"]["grad_fn"] == ["AcosBackward0"]
    for name in ("all", "any", "nonzero", "argwhere", "bincount", "histc", "isin", "searchsorted", "bucketize",
                 "tril_indices", "logspace", "vander", "heaviside", "gcd", "type_as", "fill_diagonal_", "H"):
        assert name in ops, name


def test_a_program_of_the_new_ops_answers_as_torch(server):
    x = [[0.5, -0.25, 0.0], [0.5, 0.75, -0.0]]
    # float64: acos's own float32 kernel is an ulp from torch's SLEEF at some values (docs/ENGINE.md), not arccos's
    doc = {"leaves": {"x": {"data": x, "dtype": "float64", "requires_grad": True},
                      "b": {"data": [0.0, 0.5], "dtype": "float32"}},
           "ops": [{"name": "a", "op": "arccos", "args": ["x"]},
                   {"name": "s", "op": "sum", "args": ["a"]},
                   {"name": ["u", "inv", "cnt"], "op": "unique", "args": ["x"],
                    "kwargs": {"return_inverse": True, "return_counts": True}},
                   {"name": ["r", "c"], "op": "nonzero", "args": ["x"], "kwargs": {"as_tuple": True}},
                   {"name": "al", "op": "all", "args": ["x"], "kwargs": {"dim": 1}},
                   {"name": "k", "op": "bucketize", "args": ["x", "b"]},
                   {"name": "h", "op": "histc", "args": ["x"], "kwargs": {"bins": 4, "min": -1, "max": 1}}],
           "backward": [{"tensor": "s"}]}
    r = server.client.post("/v1/evaluate", json=doc)
    assert r.status_code == 200, r.text
    got = r.json()["tensors"]
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    a = torch.arccos(t)
    a.sum().backward()
    u, inv, cnt = torch.unique(t, return_inverse=True, return_counts=True)
    rr, cc = torch.nonzero(t, as_tuple=True)
    want = {"a": a, "u": u, "inv": inv, "cnt": cnt, "r": rr, "c": cc, "al": torch.all(t, 1),
            "k": torch.bucketize(t, torch.tensor([0.0, 0.5])), "h": torch.histc(t.detach(), 4, -1, 1)}
    for name, w in want.items():
        assert got[name]["data"] == w.tolist(), name
        assert got[name]["dtype"] == str(w.dtype)[6:], name
        assert got[name]["grad_fn"] == (w.grad_fn.name() if w.grad_fn else None), name
        assert got[name]["repr"] == repr(w), name
    assert got["x"]["grad"] == t.grad.tolist()


@pytest.mark.parametrize("op, args, kwargs, leaves", [
    ("bincount", ["x"], {}, {"x": {"data": [10**12], "dtype": "int64"}}),
    ("histc", ["x"], {"bins": 10**10}, {"x": {"data": [1.0, 2.0]}}),
    ("tril_indices", [10**6, 10**6], {}, {}),
    ("triu_indices", [10**6, 10**6], {}, {}),
    ("logspace", [0, 1, 10**10], {}, {}),
    ("vander", ["x"], {"N": 10**9}, {"x": {"data": [1.0, 2.0]}}),
], ids=["bincount", "histc", "tril_indices", "triu_indices", "logspace", "vander"])
def test_gigabyte_requests_are_413s_and_the_server_keeps_answering(server, op, args, kwargs, leaves):
    doc = {"leaves": leaves, "ops": [{"name": "y", "op": op, "args": args, "kwargs": kwargs}], "outputs": ["y"]}
    r = server.client.post("/v1/evaluate", json=doc, timeout=60)
    assert r.status_code == 413, r.text
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "ops", 0] and "(max_" in err["msg"], err
    assert server.client.get("/healthz").status_code == 200
    assert server.client.post("/v1/evaluate", json=cheap_program()).status_code == 200


def test_torchs_errors_are_422s(server):
    doc = {"leaves": {"x": {"data": [-1], "dtype": "int64"}}, "ops": [{"name": "y", "op": "bincount", "args": ["x"]}]}
    r = server.client.post("/v1/evaluate", json=doc)
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "RuntimeError", "loc": ["body", "ops", 0],
                                   "msg": "bincount only supports 1-d non-negative integral inputs."}]
