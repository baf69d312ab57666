"""Expressions through the service, on a real server: the service reads the ops an expression means before
its checks, its cost estimate and its placement, so a costly expression is offloaded to a compute worker (which
parses the raw body itself) and stopped at the time limit, never run on the event loop."""
from __future__ import annotations

import json

import pytest

from tests import torch_reference

from .conftest import SLOW_LIMITS, Server, cheap_program

LEAVES = {n: {"data": v, "requires_grad": True} for n, v in zip("abcde", (2.0, 4.0, 6.0, 8.0, 10.0))}


@pytest.fixture(scope="module")
def server():
    """One compute worker; a 5 s time limit: far past what the costly request needs even on a busy machine,
    far below what the slow one takes (~1 TFLOP)."""
    s = Server({"GRADSERVE_TIME_LIMIT_S": "5", "GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false",
                **SLOW_LIMITS})
    yield s
    s.stop()


def post(server, body):
    if isinstance(body, str):
        return server.client.post("/v1/evaluate", content=body, headers={"content-type": "application/json"})
    return server.client.post("/v1/evaluate", json=body)


def test_seed_expression(server):
    body = {"leaves": LEAVES, "expression": "a*b + c*d**2/e", "backward": [{"tensor": "out"}]}
    first, again = post(server, body), post(server, body)  # the second one is the plan cache's
    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    ops = [{"name": "ab", "op": "mul", "args": ["a", "b"]}, {"name": "d2", "op": "pow", "args": ["d", 2]},
           {"name": "cd2", "op": "mul", "args": ["c", "d2"]}, {"name": "q", "op": "div", "args": ["cd2", "e"]},
           {"name": "out", "op": "add", "args": ["ab", "q"]}]
    program = {"leaves": LEAVES, "ops": ops, "backward": [{"tensor": "out"}]}
    want = torch_reference.evaluate(program)
    got = first.json()["tensors"]
    for n in "abcde":
        assert got[n] == want["tensors"][n]
    assert got["out"]["repr"] == want["tensors"]["out"]["repr"]


def test_costly_expression_runs_in_a_worker(server):
    """1.3e8 estimated flops: past the offload threshold, so a compute worker runs it from the raw body."""
    before = placed(server, "worker")
    r = post(server, {"expression": "x = ones(400, 400)\ny = (x @ x).sum()", "outputs": ["y"]})
    assert r.status_code == 200, r.text
    assert r.json()["tensors"]["y"]["data"] == 400.0 ** 3
    assert placed(server, "worker") == before + 1


def placed(server, where: str) -> float:
    """The server's count of evaluations run at `where` (its /metrics)."""
    for line in server.client.get("/metrics").text.splitlines():
        if line.startswith(f'gradserve_evaluations_by_placement_total{{placement="{where}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_slow_expression_is_stopped_at_the_time_limit(server):
    """conftest.slow_program as an expression (~10 s of matmuls): 504 at the 5 s limit. Had the estimate not
    seen its ops, it would have been taken for a tiny request and run on the event loop to the end."""
    lines = ["x = ones(4000, 4000)"] + [f"y{i} = {'x' if i == 0 else f'y{i - 1}'} @ x" for i in range(8)]
    r = post(server, {"expression": "\n".join(lines) + "\ns = y7.sum()", "outputs": ["s"]})
    assert r.status_code == 504, r.text[:300]
    assert post(server, cheap_program()).status_code == 200


def test_refusals(server):
    r = post(server, {"leaves": {"a": {"data": 1.0}}, "expression": "(" * 20_000 + "a" + ")" * 20_000})
    assert r.status_code == 422, r.text[:300]
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "expression"] and err["msg"].startswith("line 1, column ")
    # past 10 names, numbers and symbols an op of max_ops: 413 before Python's parser (redteam16 F10)
    r = post(server, {"leaves": {"a": {"data": 1.0}}, "expression": "y = a[" + ":," * 150_000 + "]"})
    assert r.status_code == 413 and "names, numbers and symbols" in r.json()["detail"][0]["msg"], r.text[:300]
    r = post(server, {"leaves": {"a": {"data": 1.0}}, "expression": "__import__('os')"})
    assert r.status_code == 422 and "dunder" in r.json()["detail"][0]["msg"]
    r = post(server, {"leaves": {"a": {"data": 1.0}}, "expression": "a * 2", "ops": []})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "expression"]
    text = json.dumps({"leaves": {"a": {"data": 1.0}}, "expression": "a * 2"})
    r = post(server, text[:-1] + ', "expression": "a * 3"}')  # a key twice: refused, not the last one taken
    assert r.status_code == 422 and "more than once" in r.json()["detail"][0]["msg"]
    r = post(server, {"leaves": {"a": {"data": 1.0}}, "expression": "a * 2", "bogus": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bogus"]
