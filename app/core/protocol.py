"""The HTTP connection `gradserve serve` runs (uvicorn's httptools protocol, guarded): no connection may hold
the server by sending slowly, sending huge headers, or by its number.

uvicorn alone gives none of that: a connection that never completes its headers never reaches the app and
is never timed out; httptools keeps a header line growing without a limit (h11 has one,
h11_max_incomplete_event_size, which `gradserve serve` sets too, should h11 ever run); a body may trickle
in for ever; `limit_concurrency` answers text/plain 503s only once a request's headers are complete, and
counts tasks as well as connections. So, per server process:

- A request's line, headers and body must arrive within GRADSERVE_BODY_TIMEOUT_S of its first byte. Past
  it, where nothing was answered yet: 408 in the service's error shape, and the connection is closed (the
  app, if it was reading the body, sees the client leave; the front door counts the 408). Where the app
  has answered already (a 413, 415 or 401 sent before the body ended), the connection is closed.
- A connection that sends nothing at all is closed after uvicorn's keep-alive timeout (5 s), as an idle
  keep-alive connection is.
- A request's line and headers may not pass GRADSERVE_MAX_HEADER_BYTES: 431, connection closed.
- One connection past GRADSERVE_MAX_CONNECTIONS is answered 503 (Retry-After) and closed at once.
- An answer must be taken: a connection whose written response has not moved for GRADSERVE_BODY_TIMEOUT_S
  (a client that does not read) is aborted, its buffered bytes dropped. And the bytes of responses written
  but not yet taken, past each connection's first 64 KiB, are held to GRADSERVE_MAX_BUFFERED_RESPONSE_BYTES
  (`RESPONSES`, asked by the front door before it computes and before it writes an answer: 503 past it).
  uvicorn's last `send` of a body returns once the body is in the transport's buffer, so the request's
  in-flight slot was free again while its answer waited there: a hundred 98-byte requests for an 8 MB
  answer each, from clients that never read, held 800 MiB of the server (`make redteam`).

Deadlines are checked by one sweep per process every quarter second (a timer per request cost ~1.8 us on
uvloop; a deadline written per request costs ~0.1 us), so a 408 comes up to 0.25 s after its deadline; the
same sweep measures each connection's unsent bytes (the transport's write buffer, one C call).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.core.config import get_settings
from app.core.errors import error_body

log = logging.getLogger("gradserve")
SWEEP_S = 0.25
_Base = HttpToolsProtocol  # called by name on the per-request paths: zero-argument super() costs ~0.1 us


class ResponseBudget:
    """Bytes of written responses that their clients have not taken yet, past each connection's first `free`
    bytes, in this process (one event loop: no lock). The sweep measures them; an answer admitted between
    two sweeps is added at once, so `unsent` never counts less than is there. limit 0: no limit (a server
    not run by `gradserve serve`, whose protocol measures nothing)."""

    free = 64 * 1024

    def __init__(self):
        self.limit = 0
        self.unsent = 0
        self.measure = None  # the sweep's measurement, set where a sweep runs: what is unsent now

    def full(self) -> bool:
        return bool(self.limit) and self.unsent >= self.limit

    def admit(self, size: int) -> bool:
        """Whether an answer of `size` bytes may be written now (and then it counts). Answers admitted since
        the last sweep count whole until the next; where that would refuse one, what the connections still
        hold is measured again first (an answer its client has taken no longer counts): without that, a client
        taking every answer was refused once ~limit bytes of answers had gone out within one sweep interval."""
        need = size - self.free
        if need <= 0:
            return True
        if self.limit and self.unsent + need > self.limit:
            if self.measure is None:
                return False
            self.unsent = self.measure()
            if self.unsent + need > self.limit:
                return False
        self.unsent += need
        return True



RESPONSES = ResponseBudget()


def _response(status: int, error: dict, default_headers, extra: tuple = ()) -> bytes:
    body = error_body([error])
    head = [STATUS_LINE[status]]
    for name, value in (*default_headers, *extra):
        head += [name, b": ", value, b"\r\n"]
    head += [b"content-type: application/json\r\ncontent-length: ", b"%d" % len(body),
             b"\r\nconnection: close\r\n\r\n"]
    return b"".join(head) + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """See the module. uvicorn builds one per connection (`http=` this class's import path)."""

    def __init__(self, config, server_state, app_state: dict[str, Any], _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        s = get_settings()
        self.request_timeout = s.body_timeout_s
        self.max_head = s.max_header_bytes
        self.max_connections = s.max_connections
        self.retry_after = str(s.retry_after_s).encode()
        self.deadline: float | None = None  # when the current phase must have ended (loop time)
        self.in_head = False  # a request's line and headers have begun, not ended
        self.head_began = False  # ... in the read being parsed now
        self.head_bytes = 0  # bytes read, after the read the head began in, while it was incomplete
        self.read_len = 0  # bytes of the read being parsed
        self.refused = False
        self.unsent = 0  # the transport's write buffer at the last sweep
        self.unsent_since: float | None = None  # since when it has not shrunk
        RESPONSES.limit = s.response_budget_bytes()

    # ----- connection -----

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(503, {"type": "over_capacity", "loc": [], "msg":
                               f"the server has as many connections as it may (max_connections="
                               f"{self.max_connections}); retry later"}, ((b"retry-after", self.retry_after),))
            return
        # Until its first byte, a new connection is an idle one (uvicorn times those out only after a response).
        self.deadline = self.loop.time() + self.timeout_keep_alive
        _sweeper(self.server_state, self.loop)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        self.head_began = False
        self.read_len = len(data)
        _Base.data_received(self, data)
        # An incomplete head counts the reads after the one it began in (that one, at most one read, may
        # hold the end of an earlier request's body); a complete one is measured (on_headers_complete).
        if self.in_head and not self.head_began and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head:
                self._head_too_large()

    # ----- parser callbacks -----

    def on_message_begin(self) -> None:
        _Base.on_message_begin(self)
        self.in_head = self.head_began = True
        self.head_bytes = 0
        self.deadline = self.loop.time() + self.request_timeout

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_bytes + self.read_len > self.max_head and self._head_size() > self.max_head:
            self._head_too_large()
            return
        _Base.on_headers_complete(self)
        if self.pipeline and self.pipeline[0][0] is self.cycle:
            # Queued behind the request before it, with reading paused: its clock starts when it does.
            self.deadline = None

    def on_body(self, body: bytes) -> None:
        if not self.refused:  # the rest of a read parsed after a refusal
            _Base.on_body(self, body)

    def on_message_complete(self) -> None:
        if not self.refused:
            _Base.on_message_complete(self)
            self.deadline = None

    def _head_size(self) -> int:
        return len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers) + 16

    def _head_too_large(self) -> None:
        self._refuse(431, {"type": "limit_exceeded", "loc": ["header"], "msg":
                           f"the request line and headers are over the limit max_header_bytes={self.max_head}"})

    def _start_asgi_task(self, cycle, app) -> None:
        if cycle.more_body and self.deadline is None:  # a pipelined request whose body is still to come
            self.deadline = self.loop.time() + self.request_timeout
        _Base._start_asgi_task(self, cycle, app)

    # ----- deadlines -----

    def expire(self) -> None:
        """The deadline passed: a connection idle from its start is closed; a request still arriving gets 408
        where nothing was answered yet, and its connection is closed."""
        self.deadline = None
        if self.refused or self.transport.is_closing():
            return
        cycle = self.cycle
        if self.in_head:  # its head never completed (the cycle, if any, is an earlier request's)
            where, what = ["header"], "the request's headers"
        elif cycle is None:  # connected, sent nothing
            self.transport.close()
            return
        elif cycle.response_started:  # answered before the body ended; the client is still sending
            if cycle.response_complete:
                self.transport.close()
            else:
                cycle.keep_alive = False  # closed once the answer is out
            return
        else:
            where, what = ["body"], "the request's body"
            # The app may be waiting for the body: it now sees the client leave, and sends nothing more.
            cycle.disconnected = True
            cycle.message_event.set()
            cycle.scope.setdefault("extensions", {})["gradserve.answered"] = 408
        self._refuse(408, {"type": "request_timeout", "loc": where, "msg":
                           f"{what} did not arrive within {self.request_timeout:g} s (body_timeout_s); "
                           "the connection is closed"})

    def _refuse(self, status: int, error: dict, extra: tuple = ()) -> None:
        self.refused = True
        self.deadline = None
        self.transport.write(_response(status, error, self.server_state.default_headers, extra))
        self.transport.close()


def _sweeper(state, loop: asyncio.AbstractEventLoop) -> None:
    """Starts this server's deadline sweep where none runs: every SWEEP_S while it has connections."""
    if getattr(state, "gradserve_sweeping", False):
        return
    state.gradserve_sweeping = True

    def measure() -> int:
        """Bytes the connections' transports still hold past each one's first `free` (no deadline acted on)."""
        free = RESPONSES.free
        unsent = 0
        for conn in state.connections:
            transport = conn.transport if isinstance(conn, GuardedHttpToolsProtocol) else None
            if transport is not None and (buffered := transport.get_write_buffer_size()) > free:
                unsent += buffered - free
        return unsent

    RESPONSES.measure = measure

    def sweep() -> None:
        if not state.connections:
            state.gradserve_sweeping = False
            RESPONSES.unsent = 0
            return
        now = loop.time()
        unsent = 0
        free = RESPONSES.free
        for conn in list(state.connections):
            deadline = getattr(conn, "deadline", None)
            if deadline is not None and now >= deadline:
                conn.expire()
            if not isinstance(conn, GuardedHttpToolsProtocol):
                continue
            transport = conn.transport
            buffered = transport.get_write_buffer_size() if transport is not None else 0
            if not buffered:
                conn.unsent, conn.unsent_since = 0, None
                continue
            if conn.unsent_since is None or buffered < conn.unsent:
                conn.unsent_since = now  # it moved
            elif now - conn.unsent_since >= conn.request_timeout:  # an answer nobody takes: dropped
                log.warning("dropped %d bytes of an answer its client did not take within %g s (body_timeout_s)",
                            buffered, conn.request_timeout)
                conn.unsent, conn.unsent_since = 0, None
                transport.abort()
                continue
            conn.unsent = buffered
            if buffered > free:
                unsent += buffered - free
        RESPONSES.unsent = unsent
        loop.call_later(SWEEP_S, sweep)

    loop.call_later(SWEEP_S, sweep)
