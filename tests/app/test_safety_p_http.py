"""safeP over real HTTP (one real server, every request in the server process, max_flops 1e8):
- redteam14 F1's remainder: kthvalue over [2048, 188] tied rows (a 188-value leaf expanded) was charged 7.3e6
  flops for ~0.3 s of CPU (its 47 partition levels all free, their elements uncharged): now its levels' elements
  are charged, past max_flops: 413, where one row of it still answers.
- redteam15 F5: a batch of documents of 42 kthvalue ops of that row each: every document had its own request-wide
  free steps (2,048 levels, ~0.5 s of CPU charged ~6e4 flops), 40 of them held a server thread 32 s. Now a level's
  fixed cost is free only within the op's own rule charge (n log2 n): each document is charged its ~2,000 levels
  (~4e8 flops), past max_flops: 413 each."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.select_charges import killer_tied
from tests.app.conftest import Server

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_MAX_FLOPS": "1e8"})
    yield s
    s.stop()


def _post(srv, path, doc):
    return srv.client.post(path, content=json.dumps(doc, separators=(",", ":")).encode(), headers=JSON)


def _kth_doc(rows):
    return {"leaves": {"x": {"data": killer_tied(188).tolist(), "dtype": "float64"}},
            "ops": [{"name": "e", "op": "expand", "args": ["x", [rows, 188]]},
                    {"name": ["v", "i"], "op": "kthvalue", "args": ["e", 95]},
                    {"name": "s", "op": "sum", "args": ["i"]}],
            "outputs": ["s"]}


def test_kthvalue_over_many_tied_rows_passes_max_flops(srv):
    r = _post(srv, "/v1/evaluate", _kth_doc(2048))
    assert r.status_code == 413, r.text
    assert "max_flops" in r.json()["detail"][0]["msg"]


def test_kthvalue_of_a_few_tied_rows_answers(srv):
    r = _post(srv, "/v1/evaluate", _kth_doc(4))
    assert r.status_code == 200, r.text
    ref = torch.kthvalue(torch.tensor(killer_tied(188)), 95).indices.item() * 4
    assert r.json()["tensors"]["s"]["data"] == ref


def _many_kth_doc(ops):
    return {"leaves": {"x": {"data": killer_tied(188).tolist(), "dtype": "float64"}},
            "ops": [{"name": [f"v{j}", f"i{j}"], "op": "kthvalue", "args": ["x", 95]} for j in range(ops)],
            "outputs": ["v0"]}


def test_a_batch_of_small_tied_selections_is_charged_its_levels(srv):
    r = _post(srv, "/v1/evaluate/batch", {"requests": [_many_kth_doc(42)] * 3})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [413] * 3, results
    assert all("max_flops" in x["body"]["detail"][0]["msg"] for x in results)


def test_one_tied_selection_answers(srv):
    r = _post(srv, "/v1/evaluate", _many_kth_doc(1))
    assert r.status_code == 200, r.text
    assert r.json()["tensors"]["v0"]["data"] == torch.kthvalue(torch.tensor(killer_tied(188)), 95).values.item()


# ----- redteam15 F3: valid programs whose backward raised a Python error in the engine (500 internal_error) -----

X = [[0.5, -1.0], [2.0, -3.0]]


def _bwd_doc(op, args, kwargs=None, extra=None):
    leaves = {"x": {"data": X, "dtype": "float64", "requires_grad": True}, **(extra or {})}
    return {"leaves": leaves, "ops": [{"name": "y", "op": op, "args": args, "kwargs": kwargs or {}},
                                      {"name": "s", "op": "sum", "args": ["y"]}],
            "backward": [{"tensor": "s"}], "outputs": ["x"]}


def _grad(r):
    g = r.json()["tensors"]["x"]["grad"]
    return [[float(v) for v in row] for row in g]


@pytest.mark.parametrize("op,args,kwargs,fn", [
    ("polygamma", [170, "x"], {}, lambda x: torch.polygamma(170, x)),
    ("celu", ["x"], {"alpha": 1e-320}, lambda x: torch.nn.functional.celu(x, alpha=1e-320)),
], ids=["polygamma-170", "celu-alpha-1e-320"])
def test_a_backward_that_overflows_answers_as_torch(srv, op, args, kwargs, fn):
    r = _post(srv, "/v1/evaluate", _bwd_doc(op, args, kwargs))
    assert r.status_code == 200, r.text
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    fn(x).sum().backward()
    got, want = _grad(r), x.grad.tolist()
    assert str(got) == str(want), (got, want)  # inf and nan where torch has them


def test_soft_margin_loss_backward_of_a_bool_target_is_torchs_error(srv):
    r = _post(srv, "/v1/evaluate", _bwd_doc("soft_margin_loss", ["x", "b"],
                                            extra={"b": {"data": [[True, False], [False, True]]}}))
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        torch.nn.functional.soft_margin_loss(x, torch.tensor([[True, False], [False, True]])).backward()
    assert r.status_code == 422, r.text
    d = r.json()["detail"][0]
    assert d["type"] == "RuntimeError" and d["msg"] == str(e.value)


def test_polygamma_past_170_answers_inf(srv):
    doc = {"leaves": {"x": {"data": [1.5, 2.5], "dtype": "float64"}},
           "ops": [{"name": "y", "op": "polygamma", "args": [171, "x"]}], "outputs": ["y"]}
    r = _post(srv, "/v1/evaluate", doc)
    assert r.status_code == 200, r.text
    want = torch.polygamma(171, torch.tensor([1.5, 2.5], dtype=torch.float64)).tolist()
    assert [float(v) for v in r.json()["tensors"]["y"]["data"]] == want


# ----- redteam15 F11 (high): advanced indexing's pre-op bound numel(input) x numel(index): valid programs 413 -----

V = [(-1 + 2 * k / 3999) for k in range(4000)]


@pytest.mark.parametrize("name,doc,want", [
    ("mask", {"leaves": {"x": {"data": V}}, "ops": [{"name": "m", "op": "gt", "args": ["x", 0]},
                                                    {"name": "y", "op": "getitem", "args": ["x", "m"]}]},
     lambda: torch.tensor(V)[torch.tensor(V) > 0]),
    ("index_select", {"leaves": {"x": {"data": [[1.0, 2.0, 3.0]] * 4000}, "i": {"data": list(range(3000))}},
                      "ops": [{"name": "y", "op": "index_select", "args": ["x", 0, "i"]}]},
     lambda: torch.tensor([[1.0, 2.0, 3.0]] * 4000).index_select(0, torch.arange(3000))),
    ("gather", {"leaves": {"x": {"data": [[1.0, 2.0, 3.0]] * 2000}, "i": {"data": [[2, 0, 1]] * 2000}},
                "ops": [{"name": "y", "op": "gather", "args": ["x", 1, "i"]}]},
     lambda: torch.tensor([[1.0, 2.0, 3.0]] * 2000).gather(1, torch.tensor([[2, 0, 1]] * 2000))),
], ids=["mask", "index_select", "gather"])
def test_advanced_indexing_of_a_few_thousand_answers(srv, name, doc, want):
    r = _post(srv, "/v1/evaluate", {**doc, "outputs": ["y"]})
    assert r.status_code == 200, r.text
    y = r.json()["tensors"]["y"]
    w = want()
    assert y["shape"] == list(w.shape)
    assert [float(v) for v in np.ravel(y["data"])] == w.ravel().tolist()


# ----- redteam14 F7: tensor data nested past torch's 128 dimensions: torch's message, not NumPy's -----


def _nest(depth):
    v = 1.0
    for _ in range(depth):
        v = [v]
    return v


def test_data_past_128_levels_is_torchs_value_error(srv):
    with pytest.raises(ValueError) as e:
        torch.tensor(_nest(200))
    r = _post(srv, "/v1/evaluate", {"leaves": {"x": {"data": _nest(200)}},
                                    "ops": [{"name": "s", "op": "sum", "args": ["x"]}], "outputs": ["s"]})
    assert r.status_code == 422, r.text
    d = r.json()["detail"][0]
    assert d["msg"] == str(e.value) == "too many dimensions 'list'" and d["loc"] == ["body", "leaves", "x"]
