"""redteam16 F9 over real HTTP (one real server, compute workers 0): a bound that is a product of a client's sizes
(300 sizes of 2**62; getitem with thousands of index tensors, einsum with an equation the rule cannot read and
thousands of operands) was a bigint of thousands of digits: the 413's text then passed Python's int-to-str limit
and the server answered 500 internal_error (a traceback logged each time), after a product quadratic in the
digits. Now the bounds are held at 2**63 (shapes.sat_prod) and a budget message's count too: a 413 naming
max_tensor_elements, a short body."""
from __future__ import annotations

import json

import pytest

from tests.app.conftest import Server

JSON = {"content-type": "application/json"}
M62 = 2**62
SAT = str(2**63)


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _z():
    return {"name": "z", "op": "zeros", "args": [1000], "kwargs": {"dtype": "int64"}}


CASES = {
    "zeros": {"ops": [{"name": "y", "op": "zeros", "args": [[M62] * 300]}]},
    "full": {"ops": [{"name": "y", "op": "full", "args": [[M62] * 300, 1.0]}]},
    "rand": {"ops": [{"name": "y", "op": "rand", "args": [[M62] * 300]}]},
    "randint": {"ops": [{"name": "y", "op": "randint", "args": [5, [M62] * 300]}]},
    "expand": {"leaves": {"x": {"data": [1.0]}}, "ops": [{"name": "y", "op": "expand", "args": ["x", [M62] * 300]}]},
    "broadcast_to": {"leaves": {"x": {"data": [1.0]}},
                     "ops": [{"name": "y", "op": "broadcast_to", "args": ["x", [M62] * 300]}]},
    "repeat": {"leaves": {"x": {"data": [1.0]}}, "ops": [{"name": "y", "op": "repeat", "args": ["x", [M62] * 300]}]},
    "getitem 3000 index tensors": {"ops": [_z(), {"name": "y", "op": "getitem", "args": ["z", ["z"] * 3000]}]},
    "einsum 3000 operands": {"ops": [_z(), {"name": "y", "op": "einsum", "args": ["?", *(["z"] * 3000)]}]},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bigint_bound_is_a_short_413(srv, case):
    doc = {**CASES[case], "outputs": []}
    r = srv.client.post("/v1/evaluate", content=json.dumps(doc).encode(), headers=JSON)
    assert r.status_code == 413, r.text[:300]
    assert "max_tensor_elements" in r.text and SAT in r.text and len(r.content) < 1024, r.text[:300]
