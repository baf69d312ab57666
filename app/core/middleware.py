"""Pure ASGI middleware: the in-flight limit (503) and the last-resort error catcher (clean 500)."""
from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import OverCapacity, to_response

log = logging.getLogger("gradserve")


class InFlight:
    """Counter of evaluations in progress in this process (one event loop: no lock needed)."""

    def __init__(self, limit: int, retry_after_s: int):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.count = 0


class InFlightLimitMiddleware:
    """Answers 503 with Retry-After, before reading the body, when `limited` paths are at capacity."""

    def __init__(self, app: ASGIApp, in_flight: InFlight, limited: tuple[str, ...]):
        self.app = app
        self.in_flight = in_flight
        self.limited = limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].rstrip("/").endswith(self.limited):
            await self.app(scope, receive, send)
            return
        f = self.in_flight
        if f.count >= f.limit:
            exc = OverCapacity(f"the server is at capacity ({f.limit} evaluations in flight); retry later",
                               headers={"Retry-After": str(f.retry_after_s)})
            await to_response(exc)(scope, receive, send)
            return
        f.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            f.count -= 1


class CatchAllMiddleware:
    """Innermost: whatever escaped the exception handlers becomes a logged, clean 500 (not re-raised)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:  # too late for a clean body: log, and let the connection close
                log.error("error after the response started", exc_info=exc)
                return
            await to_response(exc)(scope, receive, send)
