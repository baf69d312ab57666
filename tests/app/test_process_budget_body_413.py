"""A request whose own parsed body and tensors pass max_process_bytes together (each under it) on an idle server
(redteam13 F5, safeK's F5 edge): the body's reservation (app.core.body.parsed_memory) was not counted as the
request's own, so the process check read it as other requests' memory and answered 503 with Retry-After, every
time. Now 413 naming max_process_bytes, whether the body is parsed in the server process (no compute workers) or
in a compute worker (a body past worker_parse_min_bytes). Real servers, real HTTP."""
from __future__ import annotations

import json

import pytest

from .conftest import Server
from .conftest import post_raw as _post

MiB = 1 << 20
PROCESS = 80 * MiB
LIMITS = {"GRADSERVE_MAX_REQUEST_BYTES": str(64 * MiB), "GRADSERVE_MAX_PROCESS_BYTES": str(PROCESS),
          "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(16 * MiB), "GRADSERVE_ACCESS_LOG": "false"}


def _doc(rows: int) -> bytes:
    """A leaf of `rows` one-element rows (300,000: a 1.8 MB body whose parse is held as ~32 MB) and a 56 MB
    tensor: together past the process's 80 MiB, each well under it and under max_request_bytes."""
    return json.dumps({"leaves": {"a": {"data": [[0.5]] * rows}},
                       "ops": [{"name": "f", "op": "full", "args": [[7_000_000], 1.0], "kwargs": {"dtype": "float64"}},
                               {"name": "s", "op": "select", "args": ["f", 0, 0]}], "outputs": ["s"]},
                      separators=(",", ":")).encode()


@pytest.fixture(scope="module", params=["0", "1"], ids=["in-process", "compute-worker"])
def srv(request):
    s = Server({**LIMITS, "GRADSERVE_COMPUTE_WORKERS": request.param})
    yield s
    s.stop()


def test_body_and_tensors_past_the_process_budget_is_413_every_time(srv):
    for _ in range(2):  # an idle server: the same answer every time, no Retry-After
        st, h, body = _post(srv.port, "/v1/evaluate", _doc(300_000))
        assert st == 413, (st, body[:300])  # before: 503 "in use by other requests; retry later"
        assert "retry-after" not in {k.lower() for k in h}
        (err,) = json.loads(body)["detail"]
        assert err["type"] == "limit_exceeded"
        assert "the request's memory in this server process" in err["msg"]
        assert f"({PROCESS} bytes, max_process_bytes)" in err["msg"]
    st, _, body = _post(srv.port, "/v1/evaluate", _doc(1))  # the same tensors with a small body: 200
    assert st == 200 and json.loads(body)["tensors"]["s"]["data"] == 1.0, body[:300]
