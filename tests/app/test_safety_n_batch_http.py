"""A batch's held answers are its own share of the process's budget (redteam13 F5's remainder; safeN, brief item
2). Real server, every document in the server process, max_process_bytes (80 MiB) between max_request_bytes (64
MiB) and twice it, no start-up warning: two documents' ~10 MB answers are held (with a step: ~25 MB) while the next
one's 62 MB tensor is charged. Alone each fits; together they pass max_process_bytes on an idle server: that
document was answered 503 "in use by other requests" (Retry-After), every retry; now 413 naming the limit."""
from __future__ import annotations

import json

import pytest

from tests.app.conftest import Server

JSON = {"content-type": "application/json"}
MiB = 1 << 20


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_REQUEST_BYTES": str(64 * MiB), "GRADSERVE_MAX_PROCESS_BYTES": str(80 * MiB),
                "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(32 * MiB)})
    yield s
    s.stop()


# ~10 MB of answer (500,000 doubles of ~19 digits; ~47 MB while it is written, under max_request_bytes)
BIG_ANSWER = {"ops": [{"name": "a", "op": "randn", "args": [[500_000]], "kwargs": {"dtype": "float64"}}],
              "outputs": ["a"], "seed": 1}
BIG_TENSOR = {"ops": [{"name": "f", "op": "full", "args": [[7_800_000], 1.0], "kwargs": {"dtype": "float64"}},
                      {"name": "s", "op": "select", "args": ["f", 0, 0]}], "outputs": ["s"]}


def _batch(srv, docs):
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": docs}).encode(), headers=JSON)
    assert r.status_code == 200, r.text[:500]
    return r.json()["results"]


def test_each_alone_fits(srv):
    assert [x["status"] for x in _batch(srv, [BIG_TENSOR])] == [200]
    assert [x["status"] for x in _batch(srv, [BIG_ANSWER])] == [200]


def test_a_document_past_the_process_budget_with_the_batchs_answers_is_413(srv):
    for _ in range(2):  # the same each time: a retry cannot pass
        first, again, second = _batch(srv, [BIG_ANSWER, BIG_ANSWER, BIG_TENSOR])
        assert first["status"] == again["status"] == 200
        assert second["status"] == 413, second  # before: 503 "... in use by other requests; retry later"
        msg = second["body"]["detail"][0]["msg"]
        assert "max_process_bytes" in msg and "other requests" not in msg, msg
