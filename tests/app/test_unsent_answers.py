"""Answers must be taken (app/core/protocol.py): clients that ask for large answers and never read them hold at
most GRADSERVE_MAX_BUFFERED_RESPONSE_BYTES of the server (503 past it, with Retry-After), and an answer nobody
takes for GRADSERVE_BODY_TIMEOUT_S is dropped with its connection. Real servers, raw sockets."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import orjson

from .conftest import Server, cheap_program, wait_until

MiB = 1 << 20
TIMEOUT_S = 3
# an 8 MB answer ("1.0," two million times) to a 100-byte request
BIG = orjson.dumps({"ops": [{"name": "a", "op": "ones", "args": [1]},
                            {"name": "e", "op": "expand", "args": ["a", 2_000_000]}], "outputs": ["e"]})
REQUEST = (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(BIG) + BIG)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _non_reader(port: int) -> socket.socket:
    """A client that asks for the big answer and does not read it (a tiny receive window: the kernel takes
    almost nothing of it off the server's hands)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(REQUEST)
    return sock


def _status(sock: socket.socket) -> int:
    data = b""
    try:
        while len(data) < 12 and (chunk := sock.recv(12 - len(data))):
            data += chunk
    except OSError:
        pass
    return int(data[9:12]) if data[9:12].isdigit() else 0


def _server(budget_mib: int) -> Server:
    # MALLOC_MMAP_THRESHOLD_: glibc's allocator then gives large blocks back to the system when they are freed
    # (by default its threshold rises to the largest block freed, and freed blocks stay in the process), so the
    # server's RSS shows what it holds, not the most it ever held
    return Server({"MALLOC_MMAP_THRESHOLD_": "131072",
                   "GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false",
                   "GRADSERVE_BODY_TIMEOUT_S": str(TIMEOUT_S), "GRADSERVE_MAX_RESPONSE_BYTES": str(32 * MiB),
                   "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(32 * MiB),
                   "GRADSERVE_MAX_BUFFERED_RESPONSE_BYTES": str(budget_mib * MiB)})


def test_answers_nobody_takes_are_held_to_the_budget():
    s = _server(32)
    try:
        s.client.post("/v1/evaluate", content=BIG, headers={"content-type": "application/json"})  # warm
        base = _rss(s.proc.pid)
        socks = []
        for _ in range(30):  # 240 MB of answers asked, one after the other
            socks.append(_non_reader(s.port))
            time.sleep(0.05)
        statuses = [_status(k) for k in socks]
        assert statuses.count(503) >= 10 and statuses.count(200) >= 3, statuses
        # every answer begun, so every computation over: what the server holds now is the answers nobody took
        # (computing them took more for a while, bounded by max_process_bytes, and given back): 32 MiB of budget,
        # the 64 KiB each connection may hold, and what the allocator keeps (+100 MiB measured); without the
        # budget (set to 1 GiB), ~8 MiB more for every answer taken (+230 MiB measured)
        time.sleep(0.5)
        grew = (_rss(s.proc.pid) - base) / MiB
        assert grew < 160, f"the server's RSS grew {grew:.0f} MiB while 30 answers went untaken"
        # meanwhile small answers go on
        assert s.client.post("/v1/evaluate", json=cheap_program()).status_code == 200
        for k in socks:
            k.close()
        # and once those clients are gone, big ones again
        assert wait_until(lambda: s.client.post("/v1/evaluate", content=BIG,
                                                headers={"content-type": "application/json"}).status_code == 200, 10)
    finally:
        s.stop()


def test_an_answer_nobody_takes_is_dropped_with_its_connection():
    s = _server(64)
    try:
        sock = _non_reader(s.port)
        assert _status(sock) == 200
        time.sleep(TIMEOUT_S + 1.5)  # past the deadline of an answer that did not move (the sweep: 0.25 s)
        got, closed = 12, False
        try:
            while chunk := sock.recv(1 << 20):
                got += len(chunk)
            closed = True
        except OSError:  # reset: the server dropped what it held
            closed = True
        assert closed and got < len(b"1.0,") * 2_000_000, got  # not the whole answer: the rest was dropped
    finally:
        s.stop()


def test_answers_that_are_taken_do_not_count_against_the_budget():
    # ~640 KB answers (batches of 850 small documents) taken one after the other by one client: each is gone
    # from the server before the next is asked for, so none may be refused, however many go out between two
    # sweeps (0.25 s). With the budget at 1 MiB two such answers counted until the next sweep passed it: the
    # second, fourth, ... were 503s (the batch endpoint at ~90,000 documents a second hit this at the default).
    doc = cheap_program()
    body = orjson.dumps({"requests": [{**doc, "leaves": {**doc["leaves"], "a": {"data": 1.0 + i / 7,
                                                                                 "requires_grad": True}}}
                                      for i in range(850)]})
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_RESPONSE_BYTES": str(MiB), "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(MiB),
                "GRADSERVE_MAX_BUFFERED_RESPONSE_BYTES": str(MiB)})
    try:
        statuses = []
        for _ in range(40):
            r = s.client.post("/v1/evaluate/batch", content=body, headers={"content-type": "application/json"})
            assert r.status_code != 200 or len(r.content) > 600_000, len(r.content)
            statuses.append(r.status_code)
        assert statuses == [200] * 40, statuses
        # (that answers nobody takes are still held to the budget, measured again before a refusal as well:
        # test_answers_nobody_takes_are_held_to_the_budget, whose 8 MB answers the kernel's buffers cannot hide)
    finally:
        s.stop()
