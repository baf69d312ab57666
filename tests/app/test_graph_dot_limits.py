"""Graphviz's dot bounded per server process (redteam10 F3: a 1 KB nested create_graph program of 960 nodes, under
graph_max_nodes and graph_max_edges, ran dot 30 s, one process per request): on a real server with real dot,
the program is stopped at the drawing budget (graph_dot_time_s: 504 naming it, the dot child gone), runs under
RLIMIT_CPU, and a drawing past graph_dot_max_concurrent waits graph_dot_wait_s, then gets 503; the DOT text
(format "dot") needs no slot. No timed assertion: statuses, messages, processes."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from .conftest import Server, cheap_program, children, in_thread, wait_until

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def nested_create_graph(chain: int = 10, levels: int = 4) -> dict:
    """redteam10's program (~1 KB): y = x*x, `chain` ops of mul-by-x / sin, then `levels` nested
    autograd.grad(create_graph=True); its backward graph has 960 nodes and 1,648 edges, which dot lays out for
    well over 30 s."""
    ops = [{"name": "y0", "op": "mul", "args": ["x", "x"]}]
    for i in range(chain):
        ops.append({"name": f"y{i + 1}", "op": "sin" if i % 2 else "mul",
                    "args": [f"y{i}"] if i % 2 else [f"y{i}", "x"]})
    prev = f"y{chain}"
    for k in range(levels):
        ops.append({"name": [f"g{k}"], "op": "autograd.grad", "args": [prev, "x"], "kwargs": {"create_graph": True}})
        prev = f"g{k}"
    return {"leaves": {"x": {"data": 0.7, "requires_grad": True}}, "ops": ops, "outputs": [prev]}


def dots(pid: int) -> list[int]:
    out = []
    for p in children(pid):
        try:
            if Path(f"/proc/{p}/comm").read_text().strip() == "dot":
                out.append(p)
        except OSError:
            pass
    return out


def cpu_limit(pid: int) -> str:
    """The `Max cpu time` line of /proc/pid/limits (soft, hard, units)."""
    line = next(ln for ln in Path(f"/proc/{pid}/limits").read_text().splitlines() if ln.startswith("Max cpu time"))
    return " ".join(line.split()[3:])


@needs_dot
def test_dot_budget_slots_and_cpu_limit():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_GRAPH_DOT_TIME_S": "3.5",
                "GRADSERVE_GRAPH_DOT_MAX_CONCURRENT": "1", "GRADSERVE_GRAPH_DOT_WAIT_S": "0.2"})
    try:
        body = nested_create_graph()
        text = s.client.post("/v1/graph", json={**body, "format": "dot"})
        assert text.status_code == 200 and text.content.count(b'[id="node') == 960, text.text[:300]

        t, box = in_thread(lambda: s.client.post("/v1/graph", json=body))
        [pid] = wait_until(lambda: dots(s.proc.pid), 20) or [None]
        assert pid is not None, "no dot process started"
        assert cpu_limit(pid) == "5 5 seconds"  # RLIMIT_CPU: ceil(3.5) + 1, soft and hard

        busy = s.client.post("/v1/graph", json=cheap_program())  # the one slot is taken
        assert busy.status_code == 503 and busy.headers.get("Retry-After") == "1", busy.text[:300]
        [err] = busy.json()["detail"]
        assert err["type"] == "over_capacity" and "graph_dot_max_concurrent" in err["msg"]
        assert "graph_dot_wait_s" in err["msg"]
        assert s.client.post("/v1/graph", json={**cheap_program(), "format": "dot"}).status_code == 200
        assert len(dots(s.proc.pid)) == 1

        t.join(60)
        [slow] = box
        assert slow.status_code == 504, slow.text[:300]
        [err] = slow.json()["detail"]
        assert err["type"] == "timeout"
        assert "drawing time budget of 3.5 s (graph_dot_time_s)" in err["msg"] and '"format": "dot"' in err["msg"]
        assert wait_until(lambda: not dots(s.proc.pid), 10), "dot still runs"
        assert s.client.post("/v1/graph", json=cheap_program()).status_code == 200  # the slot is free again
    finally:
        s.stop()


def test_builtin_layout_takes_a_slot():
    """Where dot is not used, the built-in layout (Python in a server thread, seconds for this graph) holds one of
    the same slots until it ends: a drawing past them is 503; the slot is free again after it."""
    # the cheap drawings come 0.1 s apart and hold the slot for ms: the program's drawing (which polls every 50 ms
    # for 0.3 s) gets it; the program's layout takes about a second on a quiet machine, several under load
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_GRAPH_LAYOUT": "builtin",
                "GRADSERVE_GRAPH_DOT_MAX_CONCURRENT": "1", "GRADSERVE_GRAPH_DOT_WAIT_S": "0.3"})
    try:
        t, box = in_thread(lambda: s.client.post("/v1/graph", json=nested_create_graph()))
        busy = None
        for _ in range(600):  # bounded: until one cheap drawing finds the slot taken, or the big one is done
            r = s.client.post("/v1/graph", json=cheap_program())
            if r.status_code == 503 or not t.is_alive():
                busy = r
                break
            time.sleep(0.1)
        assert busy is not None and busy.status_code == 503, busy and busy.text[:300]
        [err] = busy.json()["detail"]
        assert err["type"] == "over_capacity" and err["msg"].startswith("the built-in layout is drawing 1 graph")
        t.join(60)
        [big] = box
        assert big.status_code == 200 and big.content.count(b'class="node"') == 960, big.text[:300]
        assert s.client.post("/v1/graph", json=cheap_program()).status_code == 200
    finally:
        s.stop()


def test_a_layout_call_skipped_before_it_starts_gives_its_slot_back():
    """anyio skips a thread call cancelled before it starts: its request gives the slot back, once; a call that
    started keeps it until the layout ends (then the thread gives it back, once)."""
    import threading

    from app.services.graph import Drawing, _ThreadSlot

    slots = threading.Semaphore(1)
    assert slots.acquire(blocking=False)
    skipped = _ThreadSlot(slots)
    skipped.leave()  # the request's 504 or disconnect, before the thread ran
    assert skipped.run(Drawing()) == b""  # (had it run after all: nothing drawn, nothing released twice)
    skipped.leave()
    assert slots.acquire(blocking=False) and not slots.acquire(blocking=False)  # exactly one slot back

    ran = _ThreadSlot(slots)
    assert ran.run(Drawing()).startswith(b"<?xml")  # the empty graph's drawing; the thread released the slot
    ran.leave()
    assert slots.acquire(blocking=False) and not slots.acquire(blocking=False)
