"""max_process_bytes below what one request or one batch's answers need (redteam12 F5): the server answered 503
with Retry-After on an idle server, every time (a retry could never pass). Now 413 naming max_process_bytes, and
the settings are warned about at start. A real server (100 MiB for the process, the other limits at their
defaults), real HTTP."""
from __future__ import annotations

import json

import pytest

from .conftest import Server
from .conftest import post_raw as _post

MiB = 1 << 20
FULL = {"leaves": {}, "ops": [{"name": "z", "op": "full", "args": [[200000], 0.123456789]}], "outputs": ["z"]}
# two 56 MB tensors (112 MB: past the process's 100 MiB, within max_request_bytes' 256 MiB)
BIG = {"leaves": {}, "ops": [{"name": "a", "op": "full", "args": [[7000000], 1.0]},
                             {"name": "b", "op": "full", "args": [[7000000], 2.0]},
                             {"name": "c", "op": "dot", "args": ["a", "b"]}], "outputs": ["c"]}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    log = tmp_path_factory.mktemp("f5") / "server.log"
    s = Server({"GRADSERVE_MAX_PROCESS_BYTES": str(100 * MiB), "GRADSERVE_ACCESS_LOG": "false"}, log_path=log)
    yield s, log
    s.stop()


def _limit(status: int, headers: dict, body: bytes) -> str:
    assert status == 413, (status, body[:300])
    assert "retry-after" not in {k.lower() for k in headers}
    (err,) = json.loads(body)["detail"]
    assert err["type"] == "limit_exceeded"
    assert f"({100 * MiB} bytes, max_process_bytes)" in err["msg"]
    return err["msg"]


def test_a_request_past_the_process_budget_alone_is_413_every_time(small):
    s, _ = small
    for _ in range(2):  # an idle server: the same answer every time, no Retry-After
        st, h, body = _post(s.port, "/v1/evaluate", json.dumps(BIG).encode())
        msg = _limit(st, h, body)
        assert msg.startswith("dot would bring the request's memory in this server process to 112000008 bytes")
    st, _, body = _post(s.port, "/v1/evaluate", json.dumps(FULL).encode())  # a request that fits: 200
    assert st == 200, body[:300]


def test_a_batch_whose_answers_cannot_be_held_and_joined_is_413(small):
    s, _ = small
    for _ in range(2):
        st, h, body = _post(s.port, "/v1/evaluate/batch", json.dumps({"requests": [FULL] * 16}).encode())
        assert _limit(st, h, body).startswith("the batch's answer joined would bring")
    st, _, body = _post(s.port, "/v1/evaluate/batch", json.dumps({"requests": [FULL] * 4}).encode())
    assert st == 200 and [r["status"] for r in json.loads(body)["results"]] == [200] * 4
    # inside a batch, a document past the process's budget alone: its entry 413
    st, _, body = _post(s.port, "/v1/evaluate/batch", json.dumps({"requests": [FULL, BIG]}).encode())
    assert st == 200, body[:300]
    ok, big = json.loads(body)["results"]
    assert ok["status"] == 200 and big["status"] == 413
    assert "max_process_bytes" in big["body"]["detail"][0]["msg"]


def test_the_settings_are_warned_about_at_start(small):
    _, log = small
    text = log.read_text()
    assert f"max_process_bytes ({100 * MiB}) is below max_request_bytes ({256 * MiB})" in text
    assert "is below twice max_batch_response_bytes" in text
