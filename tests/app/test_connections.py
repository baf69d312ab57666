"""Connections cannot hold capacity (issue 14): against a real `gradserve serve`, over raw sockets, a request's
head and body must arrive within GRADSERVE_BODY_TIMEOUT_S (else 408 and the connection is closed), a slot
is taken only once the body is complete, buffered body bytes have a process-wide budget, headers a size
limit, connections a number; and POST bodies must be declared JSON (415)."""
from __future__ import annotations

import select
import socket
from pathlib import Path

import httpx
import orjson
import pytest

from .conftest import Server, cheap_program, wait_until

MiB = 1 << 20
TIMEOUT_S = 4  # the servers' GRADSERVE_BODY_TIMEOUT_S: long enough to open hundreds of connections within it
READ_S = 60  # how long a test waits for the server to answer or close a connection (never a time assertion)


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_BODY_TIMEOUT_S": str(TIMEOUT_S), "GRADSERVE_MAX_IN_FLIGHT": "4",
                "GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_MAX_BODY_BYTES": str(MiB),
                "GRADSERVE_MAX_BUFFERED_BODY_BYTES": str(8 * MiB), "GRADSERVE_MAX_HEADER_BYTES": "8192",
                "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def status_of(s: Server) -> dict:
    return {"GET": s.client.get("/healthz").status_code,
            "POST": s.client.post("/v1/evaluate", json=cheap_program()).status_code}


def connect(s: Server, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=READ_S)
    if data:
        sock.sendall(data)
    return sock


def head(content_length: int | None = None, content_type: bytes = b"application/json", path=b"/v1/evaluate",
         extra: bytes = b"") -> bytes:
    out = b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type + b"\r\n" + extra
    if content_length is not None:
        out += b"Content-Length: %d\r\n" % content_length
    return out + b"\r\n"


def answer(sock: socket.socket) -> tuple[int | None, dict | None, bool]:
    """(status, error body, closed): everything the server sends until it closes the connection."""
    data, closed = b"", True
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:  # READ_S passed and the server neither answered nor closed
        closed = False
    except OSError:  # reset after the answer: closed too
        pass
    finally:
        sock.close()
    if not data:
        return None, None, closed
    status = int(data.split(b" ", 2)[1])
    body = data.partition(b"\r\n\r\n")[2]
    return status, orjson.loads(body) if body.startswith(b"{") else None, closed


def readable(socks: list[socket.socket]) -> int:
    return len(select.select(socks, [], [], 0)[0])


def rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


# ----- 415 -----

@pytest.mark.parametrize("content_type", [b"text/plain", b"application/x-www-form-urlencoded",
                                          b"multipart/form-data; boundary=x", b"application/json; charset=latin-1",
                                          b"application/jsonx", None])
def test_a_post_that_is_not_declared_json_is_415(srv, content_type):
    body = orjson.dumps(cheap_program())
    headers = {} if content_type is None else {"content-type": content_type.decode()}
    r = srv.client.post("/v1/evaluate", content=body, headers=headers)
    assert r.status_code == 415, r.text
    (err,) = r.json()["detail"]
    assert err["type"] == "unsupported_media_type" and err["loc"] == ["header", "content-type"]
    assert "application/json" in err["msg"]


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON", "application/json; charset=utf-8",
                                          'application/json;charset="UTF-8"'])
def test_json_in_its_spellings_is_accepted(srv, content_type):
    r = srv.client.post("/v1/evaluate", content=orjson.dumps(cheap_program()), headers={"content-type": content_type})
    assert r.status_code == 200, r.text


def test_a_cross_site_text_plain_post_is_not_evaluated(srv):
    """What any web page can send to a server on localhost without a CORS preflight: refused, not run."""
    sock = connect(srv, head(len(b"{}"), b"text/plain;charset=UTF-8", extra=b"Origin: https://evil.example\r\n")
                   + b"{}")
    status, body, closed = answer(sock)
    assert status == 415 and closed and body["detail"][0]["type"] == "unsupported_media_type"


# ----- slow heads and bodies: 408, and no slot held -----

def test_headers_that_never_end_get_408_and_the_connection_is_closed(srv):
    sock = connect(srv, b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n")
    status, body, closed = answer(sock)
    assert status == 408 and closed
    assert body["detail"][0]["type"] == "request_timeout" and body["detail"][0]["loc"] == ["header"]
    assert f"{TIMEOUT_S} s" in body["detail"][0]["msg"]


def test_a_connection_that_sends_nothing_is_closed(srv):
    status, _, closed = answer(connect(srv))
    assert status is None and closed


def test_header_only_connections_hold_no_slot(srv):
    """More connections than GRADSERVE_MAX_IN_FLIGHT send a complete head and no body: evaluations go on
    (before: every one took a slot, and every evaluation was 503 while they stayed), then each gets 408."""
    socks = [connect(srv, head(200)) for _ in range(16)]
    for _ in range(3):
        assert status_of(srv) == {"GET": 200, "POST": 200}
    for sock in socks:
        status, body, closed = answer(sock)
        assert status == 408 and closed, body
        assert body["detail"][0]["loc"] == ["body"]
    assert status_of(srv) == {"GET": 200, "POST": 200}
    # the front door counts what the connection answered in its place, and nothing is a 500
    metrics = srv.client.get("/metrics").text
    assert 'gradserve_http_requests_total{method="POST",route="/v1/evaluate",status="408"}' in metrics
    assert 'status="500"' not in metrics and 'status="499"' not in metrics


def test_a_body_that_trickles_after_the_answer_is_cut_off(srv):
    """A 415 is sent at once, before the body; a client that goes on sending is disconnected by the deadline
    rather than left to send for ever."""
    sock = connect(srv, head(10_000, b"text/plain") + b"x" * 100)
    status, _, closed = answer(sock)
    assert status == 415 and closed


def test_hundreds_of_slow_bodies_neither_block_evaluations_nor_grow_memory(srv):
    """300 connections each send a head and half of a 1 MB body, then stall: 150 MiB offered. The body budget
    (8 MiB) holds some and answers the rest 503 at once; evaluations and probes go on meanwhile; every slow
    one then gets 408; the server's peak RSS grows by far less than what was offered."""
    s = srv
    assert status_of(s) == {"GET": 200, "POST": 200}
    before = rss_peak(s.proc.pid)
    socks = []
    half = b"[" + b"0," * (256 * 1024)
    for _ in range(300):
        sock = connect(s, head(1_000_000))
        try:
            sock.sendall(half)
        except OSError:  # answered 503 and closed while we sent
            pass
        socks.append(sock)
    for _ in range(3):
        assert status_of(s) == {"GET": 200, "POST": 200}
    answers = [answer(sock) for sock in socks]
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {408, 503} and statuses.count(408) >= 4, statuses
    assert all(closed for *_, closed in answers)
    refused = [body for status, body, _ in answers if status == 503 and body is not None]
    assert refused and all(b["detail"][0]["type"] == "over_capacity" for b in refused)
    grew = rss_peak(s.proc.pid) - before
    assert grew < 64 * MiB, f"peak RSS grew by {grew / MiB:.0f} MiB"
    assert status_of(s) == {"GET": 200, "POST": 200}


def test_the_body_budget_refuses_with_retry_after_and_is_given_back(srv):
    """Stalled bodies fill the budget (8 MiB): a large body that does not fit then is 503 with Retry-After at
    once (by its Content-Length), while small ones still pass; once the stalled ones timed out, it fits."""
    stalled = b"[" + b"0," * 499_999  # 999,999 of 1,000,000 bytes: ~0.9 MB each counted
    socks = [connect(srv) for _ in range(12)]  # 8 fit, at least 4 are refused
    for sock in socks:
        try:
            sock.sendall(head(1_000_000) + stalled)
        except OSError:
            pass
    assert wait_until(lambda: readable(socks) >= 4, READ_S), "the budget refused no stalled body"
    big = b"[" + b"0," * 499_999 + b"0]"
    r = srv.client.post("/v1/evaluate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.headers["connection"] == "close"
    (err,) = r.json()["detail"]
    assert err["type"] == "over_capacity" and "max_buffered_body_bytes=8388608" in err["msg"]
    assert status_of(srv) == {"GET": 200, "POST": 200}  # small bodies are not counted against it
    statuses = [answer(sock)[0] for sock in socks]
    assert statuses.count(408) == 8 and statuses.count(503) == 4, statuses
    r = srv.client.post("/v1/evaluate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text  # it fits now (a list is not a program)


# ----- header size, connection count -----

@pytest.mark.parametrize("pieces", [1, 40])
def test_headers_over_the_limit_are_431(srv, pieces):
    line = b"X-Padding: " + b"a" * 20_000 + b"\r\n"
    sock = connect(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        for i in range(pieces):
            sock.sendall(line[i * len(line) // pieces:(i + 1) * len(line) // pieces])
        sock.sendall(b"\r\n")
    except OSError:
        pass
    status, body, closed = answer(sock)
    assert status == 431 and closed
    assert body["detail"][0]["type"] == "limit_exceeded" and "max_header_bytes=8192" in body["detail"][0]["msg"]


def test_headers_under_the_limit_pass(srv):
    r = srv.client.get("/healthz", headers={"x-padding": "a" * 6000})
    assert r.status_code == 200


def test_connections_past_the_limit_are_503():
    s = Server({"GRADSERVE_MAX_CONNECTIONS": "8", "GRADSERVE_COMPUTE_WORKERS": "0",
                "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_RETRY_AFTER_S": "3"})
    try:
        s.client.close()  # its keep-alive connection would count
        idle = [connect(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n") for _ in range(8)]
        status, body, closed = answer(connect(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
        assert status == 503 and closed and body["detail"][0]["type"] == "over_capacity"
        assert "max_connections=8" in body["detail"][0]["msg"]
        for sock in idle:
            sock.close()
        assert wait_until(lambda: httpx.get(f"{s.url}/healthz").status_code == 200, 30)
    finally:
        s.stop()
