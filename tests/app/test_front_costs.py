"""The front door's per-request bookkeeping made cheap (svc8): the access log's handler without a lock or a
get_running_loop() a line, the metrics' series kept by their labels, request ids made ahead. Each keeps what it
wrote before: every line, the same /metrics text, ids of the same form."""
from __future__ import annotations

import asyncio
import io
import os
import re
import sys
import threading

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.core import front
from app.core.observability import _CPU_END, Metrics, _device, _LineHandler


def test_a_line_after_its_loop_stopped_goes_with_the_next_loops_flush():
    """A line held for a loop that stopped (its flush never ran), then a line on a new loop of the same thread:
    the handler's record of the scheduled flush names the old loop and this thread; the old loop is not
    running, so the new one schedules a flush of its own, which writes both."""
    h = _LineHandler()
    h.setStream(stream := io.StringIO())
    old = asyncio.new_event_loop()

    def line_then_stop():
        h.write_line("1")
        old.stop()

    old.call_soon(line_then_stop)
    old.run_forever()
    old.close()
    assert stream.getvalue() == ""

    async def on_a_new_loop():
        h.write_line("2")
        h.write_line("3")  # (the new flush scheduled: this one waits for it)
        assert stream.getvalue() == ""
        await asyncio.sleep(3 * h.delay)
        assert stream.getvalue() == "1\n2\n3\n"

    asyncio.run(on_a_new_loop())


def test_lines_of_a_loop_and_of_other_threads_are_all_written_once_in_order():
    """One thread writes on its event loop (its lines held for the scheduled flush, no lock), two others with no
    loop (each line written at once, with whatever is held): every line is written exactly once, each thread's
    in its order, whatever flush took it."""
    h = _LineHandler()
    h.setStream(stream := io.StringIO())
    n = 3000

    async def on_loop():
        for i in range(n):
            h.write_line(f"L{i}")
            if i % 50 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(3 * h.delay)

    def plain(tag):
        for i in range(n):
            h.write_line(f"{tag}{i}")

    threads = [threading.Thread(target=asyncio.run, args=(on_loop(),))]
    threads += [threading.Thread(target=plain, args=(t,)) for t in "AB"]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads switch between almost any two bytecodes
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    h.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 * n
    for tag in "LAB":
        assert [x for x in lines if x[0] == tag] == [f"{tag}{i}" for i in range(n)]


def test_a_line_with_no_loop_goes_out_at_once_while_a_loops_flush_is_scheduled():
    """A thread with no event loop writes at once (with what the loop's line left pending), even while another
    thread's loop holds a flush scheduled: the scheduled flush's record names that loop's thread, not this one."""
    h = _LineHandler()
    h.setStream(stream := io.StringIO())

    async def on_loop():
        h.write_line("held")
        assert stream.getvalue() == ""
        t = threading.Thread(target=h.write_line, args=("now",))
        t.start()
        t.join()
        assert stream.getvalue() == "held\nnow\n"
        h.write_line("later")
        assert stream.getvalue() == "held\nnow\n"
        await asyncio.sleep(3 * h.delay)
        assert stream.getvalue() == "held\nnow\nlater\n"

    asyncio.run(on_loop())


def _reference(observations):
    """What Metrics.observe counted before svc8, with prometheus_client's own Counter and Histogram: requests by
    (method, route, status), latency by (method, route), evaluations by the device of a 200 evaluate body."""
    r = CollectorRegistry()
    requests = Counter("gradserve_http_requests", "HTTP requests by method, route and status.",
                       ["method", "route", "status"], registry=r)
    latency = Histogram("gradserve_http_request_duration_seconds",
                        "HTTP request latency (until the response is sent).", ["method", "route"],
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                        registry=r)
    devices = Counter("gradserve_evaluations_by_device", "Successful evaluations by the device they ran on.",
                      ["device"], registry=r)
    for method, route, status, elapsed, kept, evaluate in observations:
        requests.labels(method, route, str(status)).inc()
        latency.labels(method, route).observe(elapsed)
        if status == 200 and evaluate and kept:
            device = _device(kept[-1] if len(kept) == 1 else kept[-2][-4096:] + kept[-1])
            if device is not None:
                devices.labels(device).inc()
    return r


def _text(registry, names):
    """The exposition text of these metric families only, each _created timestamp written T."""
    keep = []
    for ln in generate_latest(registry).decode().splitlines():
        name = ln.split(" ")[2] if ln.startswith("#") else re.split(r"[{ ]", ln)[0]
        family = re.sub(r"_(total|created|bucket|count|sum)$", "", name)
        if family in names:
            keep.append(re.sub(r"(_created(\{[^}]*\})?) \S+$", r"\1 T", ln))
    return "\n".join(keep)


def test_metrics_observe_counts_what_prometheus_clients_own_counters_count():
    """Metrics.observe (its series kept by (method, route, status), the cpu device's by itself) against
    prometheus_client's Counter and Histogram fed the same requests: the same exposition text for the
    requests, the latency and the devices (all but the _created timestamps)."""
    rng = np.random.default_rng(1)
    cpu = b'{"tensors":{}' + _CPU_END
    bodies = [[cpu], [b'{"tensors":{},"device":"cuda"}'], [b'{"tensors":{},"device":"cpu","device_note":"x"}'],
              [b'{"tensors":{"a":', b'1},"device":"cpu"}'], [b'{"x":1}'], [], [cpu[:10], cpu[10:]]]
    observations = []
    for _ in range(2000):
        status = int(rng.choice([200, 200, 200, 404, 422, 503]))
        elapsed = float(rng.choice([0.001, 0.0025, 60.0, 0.0]) if rng.random() < 0.1 else rng.exponential(0.01))
        observations.append((str(rng.choice(["GET", "POST"])), str(rng.choice(["/v1/evaluate", "/healthz"])),
                             status, elapsed, bodies[rng.integers(len(bodies))] if status == 200 else [b"{}"],
                             bool(rng.random() < 0.8)))
    m = Metrics()
    for method, route, status, elapsed, kept, evaluate in observations:
        m.observe(method, route, status, elapsed, kept, evaluate)
    names = {"gradserve_http_requests", "gradserve_http_request_duration_seconds",
             "gradserve_evaluations_by_device"}
    ours, theirs = _text(m.registry, names), _text(_reference(observations), names)
    assert ours == theirs
    assert 'gradserve_evaluations_by_device_total{device="cuda"}' in ours
    assert 'gradserve_evaluations_by_device_total{device="cpu"}' in ours


def test_placed_counts_as_placements_inc():
    m, ref = Metrics(), Metrics()
    for p in ["loop", "loop", "thread", "worker", "loop"]:
        m.placed(p)
        ref.placements.inc(p)
    assert _text(m.registry, {"gradserve_evaluations_by_placement"}) == \
        _text(ref.registry, {"gradserve_evaluations_by_placement"})


def test_request_ids_made_ahead_are_fresh_128_bit_hex():
    """Ids made 64 at a time from one getrandbits call: each 32 lowercase hex digits, none repeated (over
    threads too), spread over the whole range; a sane incoming X-Request-ID is still the client's."""
    scope = {"headers": [(b"host", b"x")]}
    ids = []

    def take():
        ids.extend(front._request_id(scope) for _ in range(5000))

    threads = [threading.Thread(target=take) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 15000 and len(set(ids)) == 15000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    leading = np.array([int(i[0], 16) for i in ids])
    assert np.bincount(leading, minlength=16).min() > 15000 / 16 * 0.8  # every first digit, about as often
    assert front._request_id({"headers": [(b"x-request-id", b"abc-1.2")]}) == "abc-1.2"
    assert orjson.loads(orjson.dumps(ids[:3])) == ids[:3]


def test_a_forked_child_does_not_take_its_parents_ids_made_ahead():
    front._request_id({})  # the parent holds ids made ahead
    assert front._IDS
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, "".join(front._request_id({}) for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = "".join(front._request_id({}) for _ in range(3))
    assert len(child) == 96 and child != mine
