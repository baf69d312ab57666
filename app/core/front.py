"""The app's front door: one pure ASGI layer for what every HTTP request gets, and the direct dispatch of
the hot route.

Every request, in this order: a request id (echoed as X-Request-ID), the API key check (401), then for the
evaluate path a POST body declared JSON (415) and its whole body read, under max_body_bytes (413) and the
process's budget of buffered body bytes (503 with Retry-After), and only then its in-flight slot (503 with
Retry-After), so that a connection that is slow to send its body holds no slot (app/core/protocol.py
closes it, 408, at GRADSERVE_BODY_TIMEOUT_S); a last-resort catch-all (whatever escaped the exception
handlers becomes a logged, clean 500), then metrics and one access-log line once it is answered. The body
read here is handed on in the scope (body.READ, which read_body returns), and to the router as the request's
one `http.request` message; its bytes stay taken from the budget until the request is answered.

`direct` routes (POST /v1/evaluate) are answered from here: their function gives the 200 body, which the
front door writes itself (the headers the route's JSONBytes would send, then X-Request-ID), not through
Starlette's exception middleware, FastAPI's exit-stack middleware, the router and a route's
request/response wrapping. Their exceptions are mapped by the same `errors.to_response` the app's exception
handlers call, and `scope["route"]` is set to the app's own route of that path, as the router would, for
the metrics and the access log. Where the app is mounted under a root path, the router serves them instead
(the same function, behind the documented FastAPI route): the answers are the same either way
(tests/app/test_front.py, which compares status, headers in order, body, metrics and access lines).

One layer, not four middlewares: each ASGI layer costs a coroutine and a send wrapper per request, and the
framework's path to a route ~20-30 us more, against ~30 us for a small program's whole evaluation
(docs/PERFORMANCE.md, fifth session)."""
from __future__ import annotations

import logging
import os
import random
import re
import time
from types import SimpleNamespace

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.body import READ, BodyBudget, read_body
from app.core.errors import OverCapacity, to_response
from app.core.observability import _TAIL, Metrics, log_access
from app.core.protocol import RESPONSES
from app.core.security import refusal

log = logging.getLogger("gradserve")

_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class InFlight:
    """Counter of evaluations in progress in this process (one event loop: no lock needed). `strays`: the
    process's server threads still running after their request answered 504 (their stop grace passed,
    app.services.evaluate._in_thread): they keep their slots until they end."""

    strays = 0

    def __init__(self, limit: int, retry_after_s: int):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.count = 0


def _unsent_refusal(retry_after_s: int) -> OverCapacity:
    return OverCapacity(f"the server holds as many answers that their clients have not taken yet as it may "
                        f"(max_buffered_response_bytes={RESPONSES.limit}); retry later",
                        headers={"Retry-After": str(retry_after_s)})


def _content_length(headers) -> int:
    for k, v in headers:
        if k.lower() == b"content-length":
            return int(v) if v.isdigit() else 0
    return 0


def _with_request_id(send: Send, rid: str) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
            message = {**message, "headers": [*headers, (b"x-request-id", rid.encode())]}
        await send(message)
    return sender


def _request_id(scope: Scope) -> str:
    """A sane incoming X-Request-ID, else 128 random bits as 32 hex digits."""
    for k, v in scope.get("headers", ()):
        if k == b"x-request-id":
            try:
                s = v.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SANE_ID.fullmatch(s):
                return s
            break
    try:
        return _IDS.pop()
    except IndexError:
        return _new_ids()


_IDS: list[str] = []  # request ids made ahead, taken by pop (atomic: threads of several loops may take them)
_AHEAD = 64
os.register_at_fork(after_in_child=_IDS.clear)  # a forked child draws its own (random reseeds there too)


def _new_ids() -> str:
    """_AHEAD ids from one getrandbits call, each 128 of its random bits as 32 hex digits (uuid4().hex's form;
    an id, not a secret: no syscall for it): one of them, the others kept. One 4,096-bit number written out and
    sliced costs ~1.1k instructions an id less than a 128-bit number drawn and formatted for each."""
    text = f"{random.getrandbits(128 * _AHEAD):0{32 * _AHEAD}x}"
    _IDS.extend([text[i:i + 32] for i in range(32, 32 * _AHEAD, 32)])
    return text[:32]


class Front:
    """See the module. `keys`: the API keys (none: open); `limited`: path endings under the in-flight limit;
    `direct`: {path: (answer, the app's route of that path)} for POST requests served from here, where
    `await answer(scope, receive)` gives the 200 body (JSON) or raises what errors.to_response maps;
    `max_body_bytes` and `bodies` (the process's BodyBudget): how a limited path's body is read."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None, log_access: bool, keys: list[str],
                 in_flight: InFlight, limited: tuple[str, ...], direct: dict, max_body_bytes: int,
                 bodies: BodyBudget):
        self.app = app
        self.metrics = metrics
        self.log_access = log_access
        self.keys = [k.encode("utf-8") for k in keys]
        self.in_flight = in_flight
        self.limited = limited
        self.direct = direct
        self.max_body_bytes = max_body_bytes
        self.bodies = bodies
        # the direct routes whose path is limited (all of them in app.main): FrontedAPI hands these requests
        # to serve_direct, the same steps as __call__'s with _answer and _dispatch written out
        self.fast = {p: entry for p, entry in direct.items() if p.rstrip("/").endswith(limited)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        m = self.metrics
        evaluate = scope["path"].rstrip("/") == "/v1/evaluate"
        status = 0  # nothing sent yet
        kept: list[bytes] = []  # for the metrics: an error body's head; a 200 evaluate body's last two chunks
        size = 0
        dropped = False  # an answer past the budget of unsent answers: a 503 was written in its place

        async def send_wrapped(message: Message) -> None:
            nonlocal status, size, dropped
            if dropped:  # the rest of the answer the 503 replaced
                return
            if message["type"] == "http.response.start":
                if not RESPONSES.admit(_content_length(message.get("headers", ()))):
                    dropped = True
                    status = 503
                    refusal = to_response(_unsent_refusal(self.in_flight.retry_after_s))
                    kept.append(refusal.body[:_TAIL])
                    # (not through send_wrapped: a closure that names itself is a reference cycle, and every
                    # request's cells, its body chunks among them, would wait for the cyclic GC)
                    await refusal(scope, receive, _with_request_id(send, rid))
                    return
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and m is not None:
                chunk = message.get("body", b"")
                if status >= 400 and size < _TAIL:
                    kept.append(chunk[:_TAIL - size])
                    size += len(kept[-1])
                elif status == 200 and evaluate and chunk:
                    kept.append(chunk)  # the body itself, not a copy: only the last two are kept
                    if len(kept) > 2:
                        del kept[0]
            await send(message)

        if m is not None:
            m.serving += 1
        t0 = time.perf_counter()
        try:
            body = await self._answer(scope, receive, send_wrapped)
            if body is not None:  # a direct route's answer: written here, as its route's JSONBytes would be
                if not RESPONSES.admit(len(body)):
                    raise _unsent_refusal(self.in_flight.retry_after_s)
                status = 200
                kept.append(body)
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-length", b"%d" % len(body)), (b"content-type", b"application/json"),
                    (b"x-request-id", rid.encode())]})
                await send({"type": "http.response.body", "body": body})
        except Exception as exc:  # noqa: BLE001 - the catch-all: the mapped error, or a clean, logged 500
            if status:  # too late for a clean body: log, and let the connection close
                log.error("error after the response started", exc_info=exc)
            else:
                if "route" not in scope:  # refused before it was routed (413, 408, 503 of a limited path)
                    scope["route"] = self._limited_route(scope["path"])
                await to_response(exc)(scope, receive, send_wrapped)
        finally:
            self._record(scope, m, status, t0, kept, evaluate, rid)

    def _record(self, scope: Scope, m, status: int, t0: float, kept: list, evaluate: bool, rid: str) -> None:
        """A request's end, on every path: the metrics (serving, the observation) and the access line. The status
        is the connection's own answer (app/core/protocol.py: 408) where it answered in the app's place, 500 where
        nothing was sent."""
        elapsed = time.perf_counter() - t0
        status = scope.get("extensions", {}).get("gradserve.answered", status) or 500
        route = _route(scope)
        if m is not None:
            m.serving -= 1
            m.observe(scope["method"], route, status, elapsed, kept, evaluate)
        if self.log_access:
            log_access(scope, route, status, elapsed, rid)

    async def serve_direct(self, scope: Scope, receive: Receive, send: Send, entry: tuple) -> None:
        """__call__ for a POST to a limited direct route (`entry`, self.fast's): the same steps, answers,
        metrics and access line, with _answer and _dispatch written out (two coroutines less a request) and the
        send wrapper made only where something is sent through it (a refusal, an error's answer). Under a root
        path the router serves it, as _dispatch decides."""
        if scope.get("root_path"):
            await self(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        m = self.metrics
        evaluate = scope["path"].rstrip("/") == "/v1/evaluate"
        status = 0
        kept: list[bytes] = []  # as __call__'s
        if m is not None:
            m.serving += 1
        t0 = time.perf_counter()
        try:
            refused = refusal(scope, self.keys)
            if refused is not None:
                box = [status]
                try:
                    await self._through(refused, scope, receive, send, rid, kept, evaluate, box)
                finally:
                    status = box[0]
            else:
                budget = self.bodies
                body = await read_body(scope, receive, self.max_body_bytes, budget, json_only=True)
                try:
                    f = self.in_flight
                    if f.count + InFlight.strays >= f.limit:
                        raise OverCapacity(f"the server is at capacity ({f.limit} evaluations in flight); retry "
                                           "later", headers={"Retry-After": str(f.retry_after_s)})
                    if RESPONSES.full():
                        raise _unsent_refusal(f.retry_after_s)
                    f.count += 1
                    scope[READ] = body
                    try:
                        scope["route"] = entry[1]
                        out = await entry[0](scope, receive)
                    finally:
                        f.count -= 1
                finally:
                    if len(body) > budget.free:
                        budget.give(budget.charge(len(body)))
                if not RESPONSES.admit(len(out)):
                    raise _unsent_refusal(self.in_flight.retry_after_s)
                status = 200
                kept.append(out)
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-length", b"%d" % len(out)), (b"content-type", b"application/json"),
                    (b"x-request-id", rid.encode())]})
                await send({"type": "http.response.body", "body": out})
        except Exception as exc:  # noqa: BLE001 - the catch-all, as __call__'s
            if status:
                log.error("error after the response started", exc_info=exc)
            else:
                if "route" not in scope:
                    scope["route"] = self._limited_route(scope["path"])
                box = [status]
                try:
                    await self._through(to_response(exc), scope, receive, send, rid, kept, evaluate, box)
                finally:
                    status = box[0]
        finally:
            self._record(scope, m, status, t0, kept, evaluate, rid)

    async def _through(self, response, scope: Scope, receive: Receive, send: Send, rid: str, kept: list,
                       evaluate: bool, box: list) -> None:
        """serve_direct's answer that is not its route's 200 (a refusal, an error's response), sent as __call__'s
        send_wrapped sends it: the budget of unsent answers asked, the request id set, the metrics' chunks kept;
        box[0] is the status sent (as send_wrapped's `status`)."""
        m = self.metrics
        size = 0
        dropped = False

        async def send_wrapped(message: Message) -> None:
            nonlocal size, dropped
            if dropped:
                return
            if message["type"] == "http.response.start":
                if not RESPONSES.admit(_content_length(message.get("headers", ()))):
                    dropped = True
                    box[0] = 503
                    refusal = to_response(_unsent_refusal(self.in_flight.retry_after_s))
                    kept.append(refusal.body[:_TAIL])
                    await refusal(scope, receive, _with_request_id(send, rid))
                    return
                box[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and m is not None:
                chunk = message.get("body", b"")
                status = box[0]
                if status >= 400 and size < _TAIL:
                    kept.append(chunk[:_TAIL - size])
                    size += len(kept[-1])
                elif status == 200 and evaluate and chunk:
                    kept.append(chunk)
                    if len(kept) > 2:
                        del kept[0]
            await send(message)

        await response(scope, receive, send_wrapped)

    def _limited_route(self, path: str) -> SimpleNamespace | None:
        """For the metrics and the access log, the route of a limited path refused before its route ran: the
        path ending it matched, the template the router's route has."""
        path = path.rstrip("/")
        return next((SimpleNamespace(path=end) for end in self.limited if path.endswith(end)), None)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The request answered through `send`; or, for a direct route, its 200 body, for the caller to write."""
        refused = refusal(scope, self.keys)
        if refused is not None:
            await refused(scope, receive, send)
            return None
        post = scope["method"] == "POST"
        path = scope["path"]
        if not path.rstrip("/").endswith(self.limited):
            return await self._dispatch(scope, receive, send, post)
        # The whole body first: a slot is taken only by a request that is complete.
        budget = self.bodies
        body = await read_body(scope, receive, self.max_body_bytes, budget, json_only=post)
        try:
            f = self.in_flight
            if f.count + InFlight.strays >= f.limit:
                raise OverCapacity(f"the server is at capacity ({f.limit} evaluations in flight); retry later",
                                   headers={"Retry-After": str(f.retry_after_s)})
            if RESPONSES.full():  # clients that do not take their answers: compute no more for now
                raise _unsent_refusal(f.retry_after_s)
            f.count += 1
            scope[READ] = body  # for read_body, the direct route's and the router's
            try:
                return await self._dispatch(scope, receive, send, post)
            finally:
                f.count -= 1
        finally:
            if len(body) > budget.free:
                budget.give(budget.charge(len(body)))

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, post: bool) -> bytes | None:
        direct = self.direct.get(scope["path"]) if post and not scope.get("root_path") else None
        if direct is None:
            await self.app(scope, _replay(scope.get(READ), receive) if READ in scope else receive, send)
            return None
        scope["route"] = direct[1]
        return await direct[0](scope, receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the router's path of a request whose body the front door has read (a route other than
    read_body may read it): the body, in one message; then the connection's own messages (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _route(scope: Scope) -> str:
    """The matched route's template, never the raw path (bounded cardinality for the metrics)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class FrontedAPI(FastAPI):
    """FastAPI whose front door takes its direct routes first, before the framework's outer layers: Starlette's
    ServerErrorMiddleware (the front door catches everything itself), FastAPI's exception telemetry and app
    body limit (which have nothing to do while its OpenTelemetry is off and it has no body limit). Where
    CORS or OpenTelemetry is on, every request goes through the whole stack."""

    _front: Front | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        layer = stack
        while layer is not None and not isinstance(layer, Front | CORSMiddleware):
            layer = getattr(layer, "app", None)
        telemetry = any(self._telemetry[k] for k in ("tracing", "metrics", "logs"))
        self._front = layer if isinstance(layer, Front) and not telemetry else None
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self._front
        if front is not None and scope["type"] == "http" and scope["method"] == "POST":
            entry = front.fast.get(scope["path"])
            if entry is not None:
                scope["app"] = self
                await front.serve_direct(scope, receive, send, entry)
                return
            if scope["path"] in front.direct:
                scope["app"] = self
                await front(scope, receive, send)
                return
        await super().__call__(scope, receive, send)
