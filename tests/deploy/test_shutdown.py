"""What a rolling update relies on (deploy/k8s preStop + grace period, compose stop_grace_period): on SIGTERM a
real `gradserve serve` stops accepting, finishes the request it has, closes its idle keep-alive connections,
and exits."""
from __future__ import annotations

import http.client
import json
import re
import signal
import socket

import pytest

from tests.app.conftest import Server, wait_until

SEED = {
    "leaves": {k: {"data": v, "requires_grad": True} for k, v in
               {"a": 2.0, "b": 4.0, "c": 6.0, "d": 8.0, "e": 10.0}.items()},
    "ops": [{"name": "g", "op": "mul", "args": ["a", "b"]}, {"name": "d2", "op": "pow", "args": ["d", 2]},
            {"name": "cd2", "op": "mul", "args": ["c", "d2"]}, {"name": "h", "op": "div", "args": ["cd2", "e"]},
            {"name": "f", "op": "add", "args": ["g", "h"]}],
    "backward": [{"tensor": "f"}],
}


def in_flight(server: Server) -> float:
    text = server.client.get("/metrics").text
    return float(re.search(r"^gradserve_http_requests_in_flight (\S+)$", text, re.M)[1])


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def request_head(body: bytes) -> bytes:
    return (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones():
    torch_reference = pytest.importorskip("tests.torch_reference", reason="torch (the oracle) is not installed")
    want = torch_reference.evaluate(SEED)["tensors"]
    server = Server({"GRADSERVE_COMPUTE_WORKERS": "1"})
    try:
        body = json.dumps(SEED).encode()
        # an idle keep-alive connection, one request answered on it
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        idle.sendall(request_head(body) + body)
        first = http.client.HTTPResponse(idle)
        first.begin()
        assert first.status == 200 and first.read()
        # a request in flight: its headers and part of its body are in; the app is serving it
        busy = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        busy.sendall(request_head(body) + body[:20])
        assert wait_until(lambda: in_flight(server) >= 2, 10), "the app never saw the request"  # it + the scrape

        server.proc.send_signal(signal.SIGTERM)
        assert wait_until(lambda: refused(server.port), 10), "still accepting connections after SIGTERM"
        assert idle.recv(1) == b"", "the idle keep-alive connection was left open"

        busy.sendall(body[20:])  # the rest arrives after SIGTERM: the request is still served
        answer = http.client.HTTPResponse(busy)
        answer.begin()
        assert answer.status == 200
        assert answer.getheader("connection") == "close", "keep-alive ends with the server"
        got = json.loads(answer.read())["tensors"]
        for name in "abcde":
            assert got[name]["grad"] == pytest.approx(want[name]["grad"], rel=1e-6), name
        assert server.proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        server.stop()
