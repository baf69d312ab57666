"""redteam13 F11 over a real server (safeM): topk's partial_sort heap on a tie-heavy row (arange(n) % 64,
k = n / 64: a ~250-byte body) took ~20-30 s of a compute worker's CPU charged as ~1e8 flops (~60x under), so no
flop limit could stop it. Its make_heap and sort_heap steps (known from k alone) are now charged before they run
at their measured cost (sorting_select.HEAP_STEP a step): 1.6e10 flops for k = 39062, which a server whose
max_flops is below that refuses at once (413) instead of running it to the time limit (504). (max_op_flops does
not apply in a compute worker, which the time limit can kill; at the default max_flops, 1e12, the request runs
there, charged about its CPU.) An ordinary topk / kthvalue on random rows still answers torch's values and
indices."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.app.conftest import Server

F11 = (b'{"leaves":{},"ops":[{"name":"a","op":"arange","args":[2500000],"kwargs":{"dtype":"float64"}},'
       b'{"name":"x","op":"remainder","args":["a",64]},{"name":["v","i"],"op":"topk","args":["x",39062]},'
       b'{"name":"s","op":"sum","args":["v"]}],"outputs":["s"]}')


@pytest.fixture(scope="module")
def srv():
    # max_flops 1e10 (default 1e12): the F11 heap's 1.6e10 flops (~16-20 s of CPU here) past it; the time limit
    # lowered so that the old code (charged ~1e8: it ran on) fails this test in 10 s rather than 30
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_FLOPS": "1e10", "GRADSERVE_TIME_LIMIT_S": "10"})
    yield s
    s.stop()


def _post(srv, body: bytes):
    return srv.client.post("/v1/evaluate", content=body, headers={"content-type": "application/json"}, timeout=60)


def test_the_f11_request_is_refused_before_its_heap_runs(srv):
    r = _post(srv, F11)
    assert r.status_code == 413, (r.status_code, r.text[:300])  # old code: 504 at the time limit
    assert "(max_flops)" in r.text, r.text[:300]


@pytest.mark.parametrize("k", [1, 7, 100, 1000])
def test_topk_and_kthvalue_of_random_rows_still_answer(srv, k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((3, 64_000))
    y = x.round(2)  # ties, as ordinary data has (topk's heap past HEAP_STEPS is ENGINE.md's known difference)
    doc = {"leaves": {"x": {"data": x.tolist(), "dtype": "float64"}, "y": {"data": y.tolist(), "dtype": "float64"}},
           "ops": [{"name": ["v", "i"], "op": "topk", "args": ["x", k]},
                   {"name": ["kv", "ki"], "op": "kthvalue", "args": ["y", k]}],
           "outputs": ["v", "i", "kv", "ki"]}
    r = _post(srv, json.dumps(doc).encode())
    assert r.status_code == 200, r.text[:300]
    got = r.json()["tensors"]
    t = torch.from_numpy(x)
    tv, ti = torch.topk(t, k)
    kv, ki = torch.kthvalue(torch.from_numpy(y), k)
    assert got["v"]["data"] == tv.tolist() and got["i"]["data"] == ti.tolist()
    assert got["kv"]["data"] == kv.tolist() and got["ki"]["data"] == ki.tolist()
