"""Issue 6: API keys, CORS, request ids, JSON access logs and /metrics."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.security import key_matches
from app.main import create_app

from .conftest import cheap_program


@pytest.fixture(scope="module")
def keyed():
    s = Settings(compute_workers=0, api_keys="k1-secret, k2-secret", cors_origins="https://ui.example")
    with TestClient(create_app(s)) as c:
        yield c


def test_key_matches_constant_time_helper():
    keys = [b"abc", b"def"]
    assert key_matches("def", keys) and key_matches("abc", keys)
    assert not key_matches("abd", keys) and not key_matches("", keys) and not key_matches("é", keys)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"X-API-Key": "k1"},
                                     {"Authorization": "Basic k1-secret"}, {"Authorization": "Bearer "}])
def test_missing_or_bad_key_is_401(keyed, headers):
    r = keyed.post("/v1/evaluate", json=cheap_program(), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    [err] = r.json()["detail"]
    assert err["type"] == "unauthorized" and err["loc"] == ["header", "authorization"] and err["msg"]
    assert keyed.get("/v1/ops", headers=headers).status_code == 401


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer k1-secret"},
                                     {"authorization": "bearer k2-secret"}, {"X-API-Key": "k2-secret"}])
def test_valid_key_passes(keyed, headers):
    assert keyed.post("/v1/evaluate", json=cheap_program(), headers=headers).status_code == 200
    assert keyed.get("/v1/ops", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics"])
def test_open_paths_need_no_key(keyed, path):
    assert keyed.get(path).status_code == 200


def test_open_without_keys(client):
    assert client.post("/v1/evaluate", json=cheap_program()).status_code == 200


def test_cors(keyed, client):
    pre = keyed.options("/v1/evaluate", headers={"Origin": "https://ui.example",
                                                 "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://ui.example"
    r = keyed.post("/v1/evaluate", json=cheap_program(), headers={"Origin": "https://ui.example"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://ui.example"
    bad = keyed.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in bad.headers
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "https://x"}).headers


def test_request_id(client):
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123.X"})
    assert r.headers["x-request-id"] == "abc-123.X"
    for bad in ["has space", "x" * 200, "<script>", ""]:
        rid = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert rid != bad and len(rid) == 32 and int(rid, 16) >= 0
    a, b = client.get("/healthz").headers["x-request-id"], client.get("/healthz").headers["x-request-id"]
    assert a != b


def test_access_log_is_one_json_line(client, caplog):
    logger = logging.getLogger("gradserve.access")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="gradserve.access"):
            client.get("/healthz", headers={"X-Request-ID": "log-me"})
    finally:
        logger.removeHandler(caplog.handler)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gradserve.access"]
    [line] = [x for x in lines if x["request_id"] == "log-me"]
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["duration_ms"] >= 0 and line["client"]


def test_metrics(client):
    client.post("/v1/evaluate", json=cheap_program())
    client.post("/v1/evaluate", json={"ops": [{"name": "x", "op": "nope"}]})
    text = client.get("/metrics").text
    assert 'gradserve_http_requests_total{method="POST",route="/v1/evaluate",status="200"}' in text
    assert 'gradserve_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/v1/evaluate"}' \
        in text
    assert 'gradserve_http_errors_total{route="/v1/evaluate",status="422"' in text
    assert "gradserve_http_requests_in_flight 1.0" in text  # this scrape itself
    assert "gradserve_compute_worker_restarts_total 0.0" in text
    assert 'gradserve_evaluations_by_device_total{device="cpu"}' in text
    client.get("/no/such/path/12345")
    assert "/no/such/path" not in client.get("/metrics").text  # unmatched paths share one label


def _counter(text: str, name: str, label: str) -> float:
    line = next((ln for ln in text.splitlines() if ln.startswith(f"{name}{{{label}}}")), None)
    return float(line.split()[-1]) if line else 0.0


def test_placements_are_counted():
    """Where each evaluation ran: a tiny program on the event loop, a costly one in a compute worker, and with
    loop_max_body_bytes=0 a tiny one in a thread."""
    big = {"ops": [{"name": "a", "op": "randn", "args": [300, 300]}, {"name": "m", "op": "matmul", "args": ["a", "a"]},
                   {"name": "s", "op": "sum", "args": ["m"]}], "outputs": ["s"]}
    name = "gradserve_evaluations_by_placement_total"
    with TestClient(create_app(Settings(compute_workers=1))) as c:
        assert c.post("/v1/evaluate", json=cheap_program()).status_code == 200
        assert c.post("/v1/evaluate", json=big).status_code == 200
        text = c.get("/metrics").text
        assert _counter(text, name, 'placement="loop"') == 1.0
        assert _counter(text, name, 'placement="worker"') == 1.0
        assert _counter(text, name, 'placement="thread"') == 0.0
    with TestClient(create_app(Settings(compute_workers=0, loop_max_body_bytes=0))) as c:
        assert c.post("/v1/evaluate", json=cheap_program()).status_code == 200
        text = c.get("/metrics").text
        assert _counter(text, name, 'placement="thread"') == 1.0
        assert _counter(text, name, 'placement="loop"') == 0.0


def test_many_backward_passes_are_the_interpreters_work_and_go_to_a_worker():
    """Backward passes of a tiny graph: a few flops, but each pass is the interpreter's work. Past
    offload_min_steps in a compute worker (1.3 s of 20,000 passes in a server thread shared the GIL with the
    event loop: /healthz 205 ms in make redteam); past 256 steps never on the loop."""
    def passes(n):
        return {"leaves": {"a": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
                "ops": [{"name": "m", "op": "mul", "args": ["a", "a"]}, {"name": "s", "op": "sum", "args": ["m"]}],
                "backward": [{"tensor": "s", "retain_graph": True}] * n}
    name = "gradserve_evaluations_by_placement_total"
    with TestClient(create_app(Settings(compute_workers=1, offload_min_steps=300))) as c:
        r = c.post("/v1/evaluate", json=passes(100))  # 302 steps
        assert r.status_code == 200 and r.json()["tensors"]["a"]["grad"] == [200.0, 400.0, 600.0]
        assert _counter(c.get("/metrics").text, name, 'placement="worker"') == 1.0
        assert c.post("/v1/evaluate", json=passes(90)).status_code == 200  # 272 steps: a thread, not the loop
        text = c.get("/metrics").text
        assert _counter(text, name, 'placement="thread"') == 1.0 and _counter(text, name, 'placement="loop"') == 0


def test_a_structures_noted_route_is_its_own_apps():
    """A structure that ran on the loop is noted so (one check on later requests), in the process's plan cache;
    another app in the same process with other thresholds still decides for itself (here: a thread)."""
    name = "gradserve_evaluations_by_placement_total"
    program = cheap_program()
    program["leaves"]["noted_route"] = {"data": 1.0}  # a structure no other test ran
    with TestClient(create_app(Settings(compute_workers=0))) as a, \
            TestClient(create_app(Settings(compute_workers=0, loop_max_flops=0))) as b:
        for client in (a, a, a, b, b, a):
            r = client.post("/v1/evaluate", json=program)
            assert r.status_code == 200 and r.json()["tensors"]["a"]["grad"] == 3.0
        text_a, text_b = a.get("/metrics").text, b.get("/metrics").text
    assert _counter(text_a, name, 'placement="loop"') == 4.0 and _counter(text_a, name, 'placement="thread"') == 0.0
    assert _counter(text_b, name, 'placement="thread"') == 2.0 and _counter(text_b, name, 'placement="loop"') == 0.0


def test_metrics_disabled_still_serves():
    """GRADSERVE_METRICS=false: the lifespan ran into the missing metrics once (an AttributeError at start)."""
    with TestClient(create_app(Settings(compute_workers=0, metrics=False, access_log=False))) as c:
        r = c.post("/v1/evaluate", json=cheap_program())
        assert r.status_code == 200 and r.json()["tensors"]["a"]["grad"] == 3.0
        assert c.get("/metrics").status_code == 404


def _plain(text: str, name: str) -> float:
    line = next((ln for ln in text.splitlines() if ln.startswith(name + " ")), None)
    return float(line.split()[-1]) if line else -1.0


@pytest.mark.parametrize("entries", [256, 0])
def test_plan_cache_is_used_and_can_be_turned_off(entries):
    """The second request of a structure (other values) is a plan-cache hit, the first a miss; with
    GRADSERVE_PLAN_CACHE_ENTRIES=0 neither is counted and no program is kept. Same answer either way."""
    import uuid  # noqa: PLC0415

    leaf = "x" + uuid.uuid4().hex[:8]  # a structure no earlier test in this process has sent

    def doc(v):
        return {"leaves": {leaf: {"data": [v, 2.0], "requires_grad": True}},
                "ops": [{"name": "y", "op": "exp", "args": [leaf]}, {"name": "s", "op": "sum", "args": ["y"]}],
                "backward": [{"tensor": "s"}]}

    with TestClient(create_app(Settings(compute_workers=0, plan_cache_entries=entries))) as c:
        before = c.get("/metrics").text
        answers = [c.post("/v1/evaluate", json=doc(v)).json() for v in (1.0, 0.5)]
        after = c.get("/metrics").text
    hits = _plain(after, "gradserve_plan_cache_hits_total") - _plain(before, "gradserve_plan_cache_hits_total")
    misses = _plain(after, "gradserve_plan_cache_misses_total") - _plain(before, "gradserve_plan_cache_misses_total")
    assert (hits, misses) == ((1.0, 1.0) if entries else (0.0, 0.0))
    assert (_plain(after, "gradserve_plan_cache_programs") > 0) == bool(entries)
    assert answers[1]["tensors"][leaf]["grad"] == pytest.approx([1.6487213, 7.3890561])


def test_a_real_server_writes_one_json_access_line_per_request(tmp_path):
    """`gradserve serve` with the access log as configure_access_log sets it up: the lines go straight to
    its handler (observability._write_access), one JSON object per request on stderr, in order."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    from .conftest import ROOT, free_port, wait_until  # noqa: PLC0415

    port = free_port()
    err = open(tmp_path / "stderr.txt", "w")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADSERVE_")}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env={**env, "GRADSERVE_COMPUTE_WORKERS": "0"}, stdout=err, stderr=err)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            assert wait_until(lambda: _ready(c), 60)
            for k in range(3):
                r = c.post("/v1/evaluate", json=cheap_program(), headers={"X-Request-ID": f"line-{k}"})
                assert r.status_code == 200
            assert c.get("/nope", headers={"X-Request-ID": "line-404"}).status_code == 404
    finally:
        proc.terminate()
        proc.wait(30)
        err.close()
    lines = []
    for text in (tmp_path / "stderr.txt").read_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    mine = [x for x in lines if x.get("event") == "access" and str(x.get("request_id")).startswith("line-")]
    assert [x["request_id"] for x in mine] == ["line-0", "line-1", "line-2", "line-404"]
    assert [x["status"] for x in mine] == [200, 200, 200, 404]
    assert all(x["method"] in ("POST", "GET") and x["duration_ms"] >= 0 and x["client"] for x in mine)


def _ready(c) -> bool:
    try:
        return c.get("/healthz").status_code == 200
    except Exception:  # noqa: BLE001 - not listening yet
        return False


@pytest.mark.parametrize("otel", [False, True])
def test_fastapi_native_telemetry_follows_the_otel_setting(otel):
    """GRADSERVE_OTEL: FastAPI's own OpenTelemetry is asked for its providers per request only where on."""
    config = create_app(Settings(compute_workers=0, otel=otel))._telemetry
    assert (config["tracing"], config["metrics"], config["logs"]) == (otel, otel, otel)


def test_access_lines_go_out_together_after_the_delay():
    """The access log's handler writes the lines of `delay` seconds together, in one write; with no loop
    running, at once; whatever is pending at shutdown, on flush."""
    import asyncio  # noqa: PLC0415

    from app.core.observability import _LineHandler  # noqa: PLC0415

    class Stream:
        def __init__(self):
            self.writes = []

        def write(self, s):
            self.writes.append(s)

        def flush(self):
            pass

    h = _LineHandler()
    h.setStream(stream := Stream())

    async def requests():
        h.write_line('{"n":0}')
        await asyncio.sleep(0)
        for i in (1, 2):
            h.write_line(f'{{"n":{i}}}')
        assert stream.writes == []  # not yet: within the delay of the first line
        await asyncio.sleep(2 * h.delay)
        assert stream.writes == ['{"n":0}\n{"n":1}\n{"n":2}\n']
        h.write_line('{"n":3}')
        h.flush()  # as logging.shutdown does
        assert stream.writes[-1] == '{"n":3}\n'
        await asyncio.sleep(2 * h.delay)  # the scheduled flush finds nothing left
        assert len(stream.writes) == 2

    asyncio.run(requests())
    h.write_line('{"n":4}')  # no loop: written at once
    assert stream.writes[-1] == '{"n":4}\n'


def test_plain_metrics_write_what_prometheus_clients_own_write():
    """PlainCounter and PlainHistogram (what every request changes, without prometheus_client's lock per
    call) give the exposition text prometheus_client's Counter and Histogram give for the same
    observations; only the _created timestamps differ (each object's own creation time)."""
    import re  # noqa: PLC0415

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest  # noqa: PLC0415

    from app.core.observability import PlainCounter, PlainHistogram  # noqa: PLC0415

    buckets = (0.001, 0.01, 0.1, 1, 10)
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    oc = PlainCounter("t_requests", "Requests.", ["method", "status"], ours)
    oh = PlainHistogram("t_seconds", "Latency.", ["method"], buckets, ours)
    tc = Counter("t_requests", "Requests.", ["method", "status"], registry=theirs)
    th = Histogram("t_seconds", "Latency.", ["method"], buckets=buckets, registry=theirs)
    rng = np.random.default_rng(0)
    for _ in range(500):
        method, status = rng.choice(["GET", "POST"]), int(rng.choice([200, 404, 422]))
        value = float(rng.choice([0.001, 0.01, 1, 60, 0.0]) if rng.random() < 0.2 else rng.exponential(0.05))
        oc.inc(method, status)
        tc.labels(method, str(status)).inc()
        oh.observe(value, method)
        th.labels(method).observe(value)

    def text(registry):
        return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", generate_latest(registry).decode())

    assert text(ours) == text(theirs)
    assert 't_requests_total{method="POST",status="404"}' in text(ours) and 't_seconds_sum{method="GET"}' in text(ours)


def test_access_lines_held_for_a_loop_that_stopped_are_written_by_the_next_line():
    """A line written on a loop that stops before its next turn (whose flush then never runs) is not held for
    good: the next line, with no loop running, writes both at once; on another loop, after its delay."""
    import asyncio  # noqa: PLC0415
    import io  # noqa: PLC0415

    from app.core.observability import _LineHandler  # noqa: PLC0415

    h = _LineHandler()
    h.setStream(stream := io.StringIO())
    loop = asyncio.new_event_loop()

    def request_then_stop():
        h.write_line("1")
        loop.stop()

    loop.call_soon(request_then_stop)
    loop.run_forever()
    loop.close()
    assert stream.getvalue() == ""  # its scheduled flush never ran
    h.write_line("2")  # no loop running
    assert stream.getvalue() == "1\n2\n"

    async def on_a_new_loop():
        h.write_line("3")
        await asyncio.sleep(2 * h.delay)
        assert stream.getvalue() == "1\n2\n3\n"

    asyncio.run(on_a_new_loop())


def test_shutdown_writes_the_access_lines_still_held():
    """The app's lifespan calls flush_access_log at shutdown (uvicorn ends on SIGTERM by the signal again:
    no atexit there): lines held for the delay are written by it."""
    import asyncio  # noqa: PLC0415
    import io  # noqa: PLC0415

    from app.core import observability as obs  # noqa: PLC0415

    h = obs._LineHandler()
    h.setStream(stream := io.StringIO())
    obs.access_log.addHandler(h)

    async def last_request_then_shutdown():
        h.write_line('{"last":true}')
        assert stream.getvalue() == ""  # held for the delay
        obs.flush_access_log()
        assert stream.getvalue() == '{"last":true}\n'

    try:
        asyncio.run(last_request_then_shutdown())
    finally:
        obs.access_log.removeHandler(h)
