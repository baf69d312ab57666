"""Forwarding CUDA work to a CUDA worker: this program, started elsewhere with GRADSERVE_BACKEND=cupy.

A CPU-only server sends `device: "cuda"` requests (and `auto` ones worth a GPU) to the worker at
GRADSERVE_CUDA_WORKER_URL over HTTP, with one shared httpx.AsyncClient (keep-alive). The request body is
forwarded as the client sent it, bytes spliced only to force `"device": "cuda"`; the worker's response
bytes come back as they are. A worker that cannot be reached, or answers 5xx (other than 504), raises
`CudaWorkerUnavailable`; the caller turns that into a 503 (`cuda`) or a CPU fallback (`auto`).

A worker that accepts the request and then says nothing (frozen: stopped, swapping, a hung driver) is down
too, found within about twice GRADSERVE_CUDA_WORKER_TIMEOUT_S rather than at the time limit: while a
request waits longer than that, the worker's /healthz is asked (one probe at a time for all waiting
requests), and a worker that does not answer it within that time fails the request. A slow computation on
a live worker is not cut short: its /healthz answers while it computes.
"""
from __future__ import annotations

import asyncio
import re
import time

import httpx
import orjson

from app.core.errors import ServiceError


class CudaWorkerUnavailable(Exception):
    """The worker could not be reached or failed; the message says how."""


class ForwardedError(ServiceError):
    """An error answer of the worker (422, 413, 504...), passed on with its status and first error."""

    def __init__(self, status_code: int, error: dict, headers: dict[str, str] | None = None):
        super().__init__(str(error.get("msg", "")), error.get("loc", []), headers)
        self.status_code = status_code
        self.type = str(error.get("type", "upstream_error"))


_DEVICE_AUTO = re.compile(rb'"device"\s*:\s*"auto"')


def force_cuda(body: bytes, doc: dict) -> bytes:
    """The request body with `"device": "cuda"`, as a byte splice (the rest is not re-serialised).
    `doc` is the parsed body (an object)."""
    device = doc.get("device", "auto")
    if device == "cuda":
        return body
    if "device" not in doc:
        start = body.index(b"{") + 1
        sep = b"," if doc else b""
        return body[:start] + b'"device":"cuda"' + sep + body[start:]
    matches = list(_DEVICE_AUTO.finditer(body))
    if len(matches) == 1:  # the top-level one is among them, so it is this one
        m = matches[0]
        return body[:m.start()] + b'"device":"cuda"' + body[m.end():]
    # Escaped key or an identical pair nested elsewhere (rare): re-serialise rather than guess.
    return orjson.dumps({**doc, "device": "cuda"})


class CudaForwarder:
    """`answer_s`: GRADSERVE_CUDA_WORKER_TIMEOUT_S (from the environment where not given)."""

    def __init__(self, url: str, timeout_s: float, retry_s: float, answer_s: float | None = None):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        if answer_s is None:
            from app.core.config import get_settings  # noqa: PLC0415

            answer_s = get_settings().cuda_worker_timeout_s
        self.answer_s = answer_s
        self._liveness: asyncio.Future | None = None  # the probe in flight, shared by waiting requests
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_ok_at: float | None = None
        self.forwarded = 0
        self.failures = 0
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_client(self) -> httpx.AsyncClient:
        # One client per event loop (a TestClient may run several loops, one after the other).
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, self.answer_s)),
                limits=httpx.Limits(max_keepalive_connections=16, keepalive_expiry=30.0),
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            try:
                await self._client.aclose()
            except RuntimeError:  # its loop is gone
                pass
            self._client = None

    def _failed(self, why: str) -> CudaWorkerUnavailable:
        self.failures += 1
        self.last_error, self.last_error_at = why, time.monotonic()
        return CudaWorkerUnavailable(why)

    def recently_failed(self) -> bool:
        """Whether `auto` should skip the worker for now (it failed within cuda_worker_retry_s, and has
        not answered since)."""
        if self.last_error_at is None:
            return False
        if self.last_ok_at is not None and self.last_ok_at > self.last_error_at:
            return False
        return time.monotonic() - self.last_error_at < self.retry_s

    async def forward(self, body: bytes, doc: dict | None, timeout: float) -> bytes:
        """The worker's 200 response bytes; ForwardedError for its 4xx/504 answers; CudaWorkerUnavailable
        when it is unreachable or failing. `doc`: the parsed body (None: the body says `"device": "cuda"`
        already). `timeout`: what is left of the time limit (TimeoutError past it)."""
        client = self._get_client()
        content = body if doc is None else force_cuda(body, doc)
        post = asyncio.ensure_future(client.post("/v1/evaluate", content=content,
                                                 headers={"content-type": "application/json"}))
        try:
            r = await self._answer(post, timeout)
        except httpx.TimeoutException as e:
            raise self._failed(f"{self.url} timed out ({type(e).__name__})") from None
        except httpx.HTTPError as e:
            raise self._failed(f"{self.url}: {type(e).__name__}: {e}") from None
        if r.status_code == 200:
            self.forwarded += 1
            self.last_ok_at = time.monotonic()
            return r.content
        error = _first_error(r)
        if r.status_code in (500, 502, 503) or r.status_code == 404:
            raise self._failed(f"{self.url} answered {r.status_code}: {error.get('msg', r.reason_phrase)}")
        # The request's own fault (422, 413) or its time limit (504): the worker is fine; pass it on.
        self.last_ok_at = time.monotonic()
        headers = {"retry-after": r.headers["retry-after"]} if "retry-after" in r.headers else None
        raise ForwardedError(r.status_code, error, headers)

    async def _answer(self, post: asyncio.Future, timeout: float) -> httpx.Response:
        """The worker's response to `post`, within `timeout` (TimeoutError past it); CudaWorkerUnavailable
        as soon as the worker, asked while the request waits, is found not to answer at all."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        try:
            while not post.done():
                left = end - loop.time()
                if left <= 0:
                    raise TimeoutError
                await asyncio.wait((post,), timeout=min(self.answer_s, left))
                if not post.done() and not await self._alive():
                    raise self._failed(f"{self.url} did not answer within {self.answer_s:g} s "
                                       "(cuda_worker_timeout_s)")
            return post.result()
        finally:
            if not post.done():
                post.cancel()

    async def _alive(self) -> bool:
        """Whether the worker's /healthz answers within answer_s; one probe at a time, shared."""
        if self._liveness is None or self._liveness.done():
            self._liveness = asyncio.ensure_future(self._healthz())
        return await asyncio.shield(self._liveness)

    async def _healthz(self) -> bool:
        try:
            r = await asyncio.wait_for(self._get_client().get("/healthz", timeout=self.answer_s), self.answer_s)
            return r.status_code == 200
        except (httpx.HTTPError, TimeoutError):
            return False

    async def probe(self, timeout: float | None = None) -> dict:
        """The worker's state for /readyz: asks its /readyz (briefly)."""
        out: dict = {"url": self.url}
        timeout = self.answer_s if timeout is None else timeout
        try:
            r = await asyncio.wait_for(self._get_client().get("/readyz", timeout=timeout), timeout + 0.5)
            out["reachable"] = True
            out["ready"] = r.status_code == 200
            try:
                info = r.json()
                if r.status_code == 200:
                    b = info.get("backends", {})
                    cuda = b.get("cuda") or {}
                    out["worker_cuda"] = bool(b.get("cupy") or cuda.get("accept_cuda_on_cpu"))
                else:
                    out["detail"] = _first_error(r).get("msg")
            except ValueError:
                pass
            if out["ready"]:
                self.last_ok_at = time.monotonic()
            else:
                self._failed(f"{self.url}/readyz answered {r.status_code}")
        except (httpx.HTTPError, TimeoutError) as e:
            out["reachable"] = False
            out["ready"] = False
            self._failed(f"{self.url}: {type(e).__name__}: {e}")
        now = time.monotonic()

        def age(t):
            return round(now - t, 3) if t is not None else None

        out |= {
            "last_error": self.last_error,
            "last_error_age_s": age(self.last_error_at),
            "last_ok_age_s": age(self.last_ok_at),
            "forwarded": self.forwarded,
            "failures": self.failures,
        }
        return out


def _first_error(r: httpx.Response) -> dict:
    try:
        detail = r.json().get("detail")
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            return detail[0]
        if isinstance(detail, str):
            return {"msg": detail}
    except (ValueError, AttributeError):
        pass
    return {"msg": f"HTTP {r.status_code} {r.reason_phrase}"}
