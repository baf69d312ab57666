"""The front door (app/core/front.py) serves POST /v1/evaluate itself, not through the router: its answers,
metrics and access-log lines must be the ones the framework's route of that path gives."""
from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.front import Front
from app.main import create_app
from app.routers import evaluate as ev
from tests.app.conftest import cheap_program

SEED = cheap_program()


def _through_router(app):
    """The same app with nothing served directly: every request goes through the router."""
    (front,) = [m for m in app.user_middleware if m.cls is Front]
    front.kwargs["direct"] = {}
    return app


def _cases():
    unknown_op = {**SEED, "ops": [{"name": "c", "op": "no_such_op", "args": ["a"]}]}
    torch_error = {"leaves": {"a": {"data": [1.0, 2.0], "requires_grad": True}},
                   "ops": [{"name": "c", "op": "mm", "args": ["a", "a"]}]}
    many_ops = {"leaves": {"a": {"data": 1.0}},
                "ops": [{"name": f"c{i}", "op": "neg", "args": ["a"]} for i in range(5)]}
    big = {"leaves": {"a": {"data": [0.0] * 400}}}
    return [
        ("seed, first", json.dumps(SEED).encode(), {}),
        ("seed, replayed", json.dumps(SEED).encode(), {}),
        ("seed, other values", json.dumps({**SEED, "leaves": {"a": {"data": 5.0, "requires_grad": True},
                                                              "b": {"data": -1.5}}}).encode(), {}),
        ("invalid JSON", b"{", {}),
        ("empty body", b"", {}),
        ("not an object", b"[1, 2]", {}),
        ("duplicate key", b'{"leaves": {}, "leaves": {}}', {}),
        ("unknown op", json.dumps(unknown_op).encode(), {}),
        ("PyTorch's error", json.dumps(torch_error).encode(), {}),
        ("over max_ops", json.dumps(many_ops).encode(), {}),
        ("over max_body_bytes", json.dumps(big).encode(), {}),
        ("cuda without a GPU", json.dumps({**SEED, "device": "cuda"}).encode(), {}),
        ("no key", json.dumps(SEED).encode(), {"x-api-key": None}),
        ("wrong key", json.dumps(SEED).encode(), {"x-api-key": "nope"}),
        ("trailing slash", json.dumps(SEED).encode(), {"path": "/v1/evaluate/"}),
    ]


def _exchange(app, caplog) -> list:
    settings = app.state.settings
    out = []
    with TestClient(app) as c:
        for name, body, how in _cases():
            headers = {"content-type": "application/json", "x-request-id": f"case-{len(out)}"}
            key = how.get("x-api-key", "k1")
            if key is not None:
                headers["x-api-key"] = key
            caplog.clear()
            r = c.post(how.get("path", "/v1/evaluate"), content=body, headers=headers, follow_redirects=False)
            lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "gradserve.access"]
            for line in lines:
                del line["ts"], line["duration_ms"]
            out.append((name, r.status_code, list(r.headers.raw), r.content, lines))
        metrics = c.get("/metrics").text
    assert settings.max_ops == 3
    series = sorted(ln for ln in metrics.splitlines()
                    if re.match(r"gradserve_(http_requests_total|http_errors_total|evaluations_by_\w+_total)\{", ln))
    return out, series


def test_direct_answers_are_the_routers(caplog):
    caplog.set_level(logging.INFO, logger="gradserve.access")

    def make():
        return create_app(Settings(compute_workers=0, api_keys="k1", max_ops=3, max_body_bytes=1000))

    direct, direct_series = _exchange(make(), caplog)
    routed, routed_series = _exchange(_through_router(make()), caplog)
    assert [c[0] for c in direct] == [c[0] for c in _cases()]
    for d, r in zip(direct, routed, strict=True):
        assert d == r, d[0]
    statuses = {name: status for name, status, *_ in direct}
    assert statuses["seed, replayed"] == 200 and statuses["invalid JSON"] == 422
    assert statuses["over max_body_bytes"] == 413 and statuses["no key"] == 401
    assert statuses["cuda without a GPU"] == 503 and statuses["trailing slash"] == 307
    assert all(len(lines) == 1 for *_, lines in direct)
    assert direct_series == routed_series
    assert any('route="/v1/evaluate",status="200"' in s for s in direct_series)


def test_direct_route_is_the_routers_and_documented_once():
    """Served from the front door, a request carries the route the router would have matched (the metrics
    and access log read its path); OpenAPI documents the path once."""
    app = create_app(Settings(compute_workers=0, access_log=False))
    seen = []

    async def outer(scope, receive, send):
        await app(scope, receive, send)
        if scope["type"] == "http":
            seen.append(scope.get("route"))

    with TestClient(outer) as c:
        assert c.post("/v1/evaluate", json=SEED).json()["tensors"]["a"]["grad"] == 3.0
        assert c.post("/v1/evaluate", content=b"{", headers={"content-type": "application/json"}).status_code == 422
        assert c.get("/v1/evaluate").status_code == 405
        paths = c.get("/openapi.json").json()["paths"]
    (route,) = [r for r in ev.router.routes if r.path == "/v1/evaluate"]
    # the first two served directly; the GET by the router, whose partial match (405) names the same route
    assert seen[0] is route and seen[1] is route and seen[2] is route
    assert list(paths["/v1/evaluate"]) == ["post"] and paths["/v1/evaluate"]["post"]["requestBody"]


def test_under_a_root_path_the_router_serves_it():
    """Mounted under a root path, the router decides what a path means: /v1/evaluate under root path /v1 is
    the app's /evaluate (404), which the front door must not answer as its own /v1/evaluate; the app's
    /v1/evaluate there is /v1/v1/evaluate, answered as without a root path."""
    with TestClient(create_app(Settings(compute_workers=0, access_log=False)), root_path="/v1") as c:
        shadowed = c.post("/v1/evaluate", json=SEED)
        mounted = c.post("/v1/v1/evaluate", json=SEED)
    with TestClient(create_app(Settings(compute_workers=0, access_log=False))) as c:
        plain = c.post("/v1/evaluate", json=SEED)
    assert shadowed.status_code == 404
    assert mounted.status_code == 200 and mounted.content == plain.content


@pytest.mark.parametrize("through_router", [False, True])
def test_an_unexpected_error_is_a_clean_logged_500(through_router, caplog):
    app = create_app(Settings(compute_workers=0, access_log=False))
    if through_router:
        _through_router(app)
    with TestClient(app) as c:
        async def broken(body):
            raise ValueError("boom")
        app.state.evaluator.evaluate = broken  # a fault injected into the service, not the front door
        r = c.post("/v1/evaluate", json=SEED)
    assert r.status_code == 500
    assert r.json()["detail"][0]["type"] == "internal_error" and "ValueError" in r.json()["detail"][0]["msg"]
    assert "x-request-id" in r.headers
    assert any("unexpected error" in rec.getMessage() for rec in caplog.records)


def test_in_flight_limit_answers_503_before_reading():
    app = create_app(Settings(compute_workers=0, access_log=False, max_in_flight=1))
    with TestClient(app) as c:
        app.state.in_flight.count = 1  # one evaluation in progress
        r = c.post("/v1/evaluate", json=SEED)
        assert r.status_code == 503 and r.headers["retry-after"]
        assert r.json()["detail"][0]["type"] == "over_capacity"
        app.state.in_flight.count = 0
        assert c.post("/v1/evaluate", json=SEED).status_code == 200
        assert app.state.in_flight.count == 0


@pytest.mark.parametrize("settings", [{"cors_origins": "https://a.example"}, {"otel": True}, {}])
def test_cors_and_otel_keep_the_whole_stack(settings):
    """The front door takes its routes before the framework's outer layers only where those have nothing
    to do: with CORS on, a browser's POST still gets its CORS headers; with OpenTelemetry on, FastAPI sees
    every request."""
    app = create_app(Settings(compute_workers=0, access_log=False, **settings))
    with TestClient(app) as c:
        r = c.post("/v1/evaluate", json=SEED, headers={"origin": "https://a.example"})
        assert r.status_code == 200 and r.json()["tensors"]["a"]["grad"] == 3.0 and "x-request-id" in r.headers
        if "cors_origins" in settings:
            assert r.headers["access-control-allow-origin"] == "https://a.example"
        assert (app._front is None) == bool(settings)  # white-box: whether the outer layers were skipped


async def _post(app, body: bytes) -> list:
    """POST /v1/evaluate as ASGI (the app's own event loop is the caller's): the messages sent back."""
    sent: list = []
    done = False

    async def receive():
        nonlocal done
        if done:
            await asyncio.sleep(3600)  # (a disconnect is never asked for here)
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/evaluate", "raw_path": b"/v1/evaluate", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    await app(scope, receive, send)
    return sent


def test_a_direct_evaluation_holds_its_in_flight_slot():
    """POST /v1/evaluate served by the front door itself (Front.serve_direct) takes its in-flight slot while it
    runs: with max_in_flight 1, another evaluation meanwhile is answered 503 (Retry-After), and once the first
    is answered the slot is free again."""
    app = create_app(Settings(compute_workers=0, access_log=False, max_in_flight=1))
    body = json.dumps(SEED).encode()
    with TestClient(app) as c:
        assert c.post("/v1/evaluate", content=body, headers={"content-type": "application/json"}).status_code == 200
        assert "/v1/evaluate" in app._front.fast  # white-box: the route serve_direct serves
        service = app.state.evaluator
        real = service.evaluate

        async def scenario():
            gate, entered = asyncio.Event(), asyncio.Event()

            async def held(b):  # a fault injected into the service, not the front door: it waits for the gate
                entered.set()
                await gate.wait()
                return await real(b)

            service.evaluate = held
            first = asyncio.ensure_future(_post(app, body))
            await entered.wait()
            during = app.state.in_flight.count
            service.evaluate = real
            second = await _post(app, body)
            gate.set()
            return await first, second, during

        first, second, during = asyncio.run(scenario())
        assert during == 1
        assert first[0]["status"] == 200 and json.loads(first[-1]["body"])["tensors"]["a"]["grad"] == 3.0
        assert second[0]["status"] == 503 and any(k.lower() == b"retry-after" for k, _ in second[0]["headers"])
        assert json.loads(second[-1]["body"])["detail"][0]["type"] == "over_capacity"
        assert app.state.in_flight.count == 0
        assert c.post("/v1/evaluate", content=body, headers={"content-type": "application/json"}).status_code == 200
