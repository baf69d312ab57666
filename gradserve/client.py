"""gradserve's Python client: `Client` (sync) and `AsyncClient`, over httpx.

    from gradserve import Client
    with Client("http://127.0.0.1:8000") as c:
        r = c.evaluate({"leaves": {"a": {"data": 2.0, "requires_grad": True}},
                        "ops": [{"name": "f", "op": "mul", "args": ["a", "a"]}], "backward": [{"tensor": "f"}]})
        r.grad("a")  # 4.0

Retries (`Retry`): a 503 or 429 that carries `Retry-After` (the server refused before running anything), a
connection that could not be made, and (every gradserve endpoint is a pure function, so idempotent) a
connection that broke before the answer or a balancer's 502 are tried again after a backoff with jitter,
never sooner than `Retry-After`. A timeout or any other error answer is not retried: it would only cost the
same again. Error answers raise `gradserve.errors.APIError` subclasses (PyTorch's own errors as
`TorchRuntimeError` & co., which are also the built-ins).

`batch()` splits a list of documents into chunks sent concurrently (at most `concurrency` at once, over one
connection pool) to POST /v1/evaluate/batch, so behind a load balancer the chunks spread over the replicas;
results come back in order, a failing document as its exception in its place.
"""
from __future__ import annotations

import asyncio
import email.utils
import math
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from gradserve.errors import APIError, LimitExceeded, TransportError, error_for
from gradserve.results import EvaluateResult, FunctionalResult, GradcheckResult, to_wire

DEFAULT_URL = "http://127.0.0.1:8000"
_UNSET: Any = object()


@dataclass(frozen=True)
class Retry:
    """How often and how patiently to try again (see the module). `attempts` counts the first try."""

    attempts: int = 5
    backoff: float = 0.25  # the first wait; doubled each time, with jitter
    max_delay: float = 30.0
    broken_connections: bool = True  # retry a connection that broke after the request was sent

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 0)."""
        base = min(self.max_delay, self.backoff * 2 ** attempt)
        wait = random.uniform(base / 2, base)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


def retry_after(headers: httpx.Headers) -> float | None:
    """A `Retry-After` header in seconds (delta-seconds or an HTTP date), None where absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_of(program: Any) -> dict:
    """A request document from a dict or a builder Program."""
    if hasattr(program, "build"):
        return program.build()
    if not isinstance(program, dict):
        raise TypeError(f"a program is a dict (a POST /v1/evaluate body) or a gradserve Program, "
                        f"not {type(program).__name__}")
    return program


def _names(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_names(v) for v in x]
    return x if isinstance(x, str) else getattr(x, "name", x)


def functional_body(program: Any, transform: str, inputs: Any, output: Any, v: Any = _UNSET, **options) -> dict:
    body = {**_body_of(program), "transform": transform, "function": {"inputs": _names(inputs),
                                                                       "output": _names(output)}}
    if v is not _UNSET:
        body["v"] = None if v is None else to_wire(v)
    body.update({k: val for k, val in options.items() if val is not None})
    return body


def gradcheck_body(program: Any, inputs: Any, output: Any, **options) -> dict:
    body = {**_body_of(program), "function": {"inputs": _names(inputs), "output": _names(output)}}
    body.update({k: val for k, val in options.items() if val is not None})
    return body


def chunk_size_for(n: int, concurrency: int) -> int:
    """Documents per chunk: two chunks per concurrent slot (so a slow chunk does not leave the others idle),
    at most 256 (a chunk runs one document after another on one replica)."""
    return max(1, min(256, math.ceil(n / (2 * max(1, concurrency)))))


def _item(entry: dict) -> EvaluateResult | APIError:
    status, body = entry["status"], entry["body"]
    return EvaluateResult.from_json(body) if status == 200 else error_for(status, body)


class _Base:
    """What the sync and async clients share: configuration, the request documents, answer decoding."""

    def __init__(self, url: str | None, api_key: str | None, timeout: float | httpx.Timeout,
                 retry: Retry | int | None, concurrency: int, headers: dict | None):
        self.url = (url or os.environ.get("GRADSERVE_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("GRADSERVE_API_KEY")
        self.retry = retry if isinstance(retry, Retry) else Retry(attempts=1 + retry) if isinstance(retry, int) \
            else Retry()
        self.concurrency = max(1, concurrency)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout,
                                                                                          connect=min(10.0, timeout))
        self.headers = {"User-Agent": "gradserve-client", **(headers or {})}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.limits = httpx.Limits(max_connections=self.concurrency + 2,
                                   max_keepalive_connections=self.concurrency + 2)
        self.attempts_made = 0  # tries of the last request (a retry count, for the curious and the tests)

    def _decide(self, response: httpx.Response, attempt: int) -> float | None:
        """None: the answer stands; else the seconds to wait before trying again."""
        status = response.status_code
        if attempt + 1 >= self.retry.attempts:
            return None
        after = retry_after(response.headers)
        if status in (429, 503) and after is not None:
            return self.retry.delay(attempt, after)
        if status == 502 and self.retry.broken_connections:  # a balancer whose replica went away
            return self.retry.delay(attempt, after)
        return None

    def _retryable(self, exc: httpx.HTTPError, attempt: int) -> float | None:
        if attempt + 1 >= self.retry.attempts:
            return None
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return self.retry.delay(attempt, None)
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)) and \
                self.retry.broken_connections:
            return self.retry.delay(attempt, None)
        return None

    def _outcome(self, path: str, attempt: int, raw: bool, response: httpx.Response | None,
                 exc: httpx.HTTPError | None) -> tuple[float | None, Any]:
        """One attempt's response (or transport error) judged by the retry policy: (None, the answer), or
        (the seconds to wait before the next attempt, None); the error raised where it stands."""
        if exc is not None:
            wait = self._retryable(exc, attempt)
            if wait is None:
                raise self._transport_error(exc, self.url + path, attempt + 1) from exc
            return wait, None
        wait = self._decide(response, attempt)
        if wait is None:
            self.attempts_made = attempt + 1
            return None, self._answer(response, raw)
        return wait, None

    @staticmethod
    def _request_kw(doc: Any, timeout: float | None) -> dict:
        kw: dict = {"json": doc} if doc is not None else {}
        if timeout is not None:
            kw["timeout"] = timeout
        return kw

    def _batch_plan(self, programs: list, chunk_size: int | None, concurrency: int | None
                    ) -> tuple[list, int, int]:
        """batch()'s documents, how many chunks run at once, and the documents per chunk."""
        docs = [_body_of(p) for p in programs]
        conc = min(concurrency or self.concurrency, self.concurrency)
        return docs, conc, chunk_size or chunk_size_for(len(docs), conc)

    @staticmethod
    def _answer(response: httpx.Response, raw: bool) -> Any:
        if response.status_code == 200:
            return response.content if raw else response.json()
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_for(response.status_code, body, response.headers.get("x-request-id"),
                        retry_after(response.headers))

    @staticmethod
    def _transport_error(exc: httpx.HTTPError, url: str, attempts: int) -> TransportError:
        what = "no answer within the timeout" if isinstance(exc, httpx.TimeoutException) else \
            type(exc).__name__
        return TransportError(f"{url}: {what} ({exc}) after {attempts} attempt(s)")


class Client(_Base):
    """Synchronous client. Thread-safe: `batch()` uses it from several threads over one connection pool."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = 60.0,
                 retry: Retry | int | None = None, concurrency: int = 8, headers: dict | None = None,
                 transport: httpx.BaseTransport | None = None):
        super().__init__(url, api_key, timeout, retry, concurrency, headers)
        self._http = httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout,
                                  limits=self.limits, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, doc: Any = None, *, raw: bool = False,
                timeout: float | None = None) -> Any:
        """One call with the retry policy: the parsed JSON answer (bytes with `raw`), or the error raised."""
        kw = self._request_kw(doc, timeout)
        attempt = 0
        while True:
            try:
                response, exc = self._http.request(method, path, **kw), None
            except httpx.HTTPError as e:
                response, exc = None, e
            wait, answer = self._outcome(path, attempt, raw, response, exc)
            if wait is None:
                return answer
            time.sleep(wait)
            attempt += 1

    def evaluate(self, program: Any, *, timeout: float | None = None, **fields) -> EvaluateResult:
        """POST /v1/evaluate. `program`: a dict or a `Program`; `fields` set top-level fields (`outputs`, ...)."""
        return EvaluateResult.from_json(self.request("POST", "/v1/evaluate", {**_body_of(program), **fields},
                                                     timeout=timeout))

    def functional(self, program: Any, transform: str, inputs: Any, output: Any, v: Any = _UNSET, *,
                   timeout: float | None = None, **options) -> FunctionalResult:
        """POST /v1/functional: `torch.autograd.functional.<transform>` of the program seen as a function of
        the leaves `inputs` returning `output` (names or handles; a list means a tuple)."""
        body = functional_body(program, transform, inputs, output, v, **options)
        return FunctionalResult.from_json(self.request("POST", "/v1/functional", body, timeout=timeout))

    def gradcheck(self, program: Any, inputs: Any, output: Any, *, timeout: float | None = None,
                  **options) -> GradcheckResult:
        """POST /v1/gradcheck (`eps`, `atol`, `rtol`, `fast_mode`, `gradgrad=True` for gradgradcheck)."""
        body = gradcheck_body(program, inputs, output, **options)
        return GradcheckResult.from_json(self.request("POST", "/v1/gradcheck", body, timeout=timeout))

    def graph(self, program: Any, format: str = "svg", *, timeout: float | None = None) -> str:
        """POST /v1/graph: the backward graph as SVG or Graphviz DOT text."""
        out = self.request("POST", "/v1/graph", {**_body_of(program), "format": format}, raw=True, timeout=timeout)
        return out.decode("utf-8")

    def batch(self, programs: list, *, chunk_size: int | None = None, concurrency: int | None = None,
              raise_errors: bool = False) -> list[EvaluateResult | APIError]:
        """Many programs at once, in order: an EvaluateResult per document, or its error in its place
        (`raise_errors`: raise the first instead)."""
        docs, conc, size = self._batch_plan(programs, chunk_size, concurrency)
        if not docs:
            return []
        chunks = [(i, docs[i:i + size]) for i in range(0, len(docs), size)]
        with ThreadPoolExecutor(max_workers=min(conc, len(chunks))) as pool:
            return _finish(len(docs), pool.map(lambda c: self._chunk(*c), chunks), raise_errors)

    def _chunk(self, start: int, docs: list) -> list[tuple[int, Any]]:
        try:
            answer = self.request("POST", "/v1/evaluate/batch", {"requests": docs})
        except LimitExceeded as e:  # the batch as a whole (its body, its document count) is over a limit
            if len(docs) == 1:
                return [(start, e)]
            mid = len(docs) // 2
            return self._chunk(start, docs[:mid]) + self._chunk(start + mid, docs[mid:])
        except APIError as e:
            if e.status != 404:
                raise
            return [(start + k, self._one(d)) for k, d in enumerate(docs)]  # a server older than the batch route
        return [(start + k, _item(entry)) for k, entry in enumerate(answer["results"])]

    def _one(self, doc: dict) -> EvaluateResult | APIError:
        try:
            return self.evaluate(doc)
        except APIError as e:
            return e

    def ops(self) -> list[dict]:
        """GET /v1/ops: the catalog."""
        return self.request("GET", "/v1/ops")

    def health(self) -> dict:
        return self.request("GET", "/healthz")

    def ready(self) -> dict:
        return self.request("GET", "/readyz")

    def program(self):
        """A builder that records PyTorch-like code into a program for this client (gradserve.builder)."""
        from gradserve.builder import Program  # noqa: PLC0415 - the builder imports this module

        return Program(self)


def _finish(n: int, parts, raise_errors: bool) -> list:
    """The n results in document order from the chunks' (index, result) pairs (raise_errors: the first error
    raised instead)."""
    out: list = [None] * n
    for part in parts:
        for i, r in part:
            out[i] = r
    if raise_errors:
        for r in out:
            if isinstance(r, APIError):
                raise r
    return out


class AsyncClient(_Base):
    """The same client for asyncio: every call is a coroutine."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = 60.0,
                 retry: Retry | int | None = None, concurrency: int = 8, headers: dict | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(url, api_key, timeout, retry, concurrency, headers)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=self.timeout,
                                       limits=self.limits, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, doc: Any = None, *, raw: bool = False,
                      timeout: float | None = None) -> Any:
        kw = self._request_kw(doc, timeout)
        attempt = 0
        while True:
            try:
                response, exc = await self._http.request(method, path, **kw), None
            except httpx.HTTPError as e:
                response, exc = None, e
            wait, answer = self._outcome(path, attempt, raw, response, exc)
            if wait is None:
                return answer
            await asyncio.sleep(wait)
            attempt += 1

    async def evaluate(self, program: Any, *, timeout: float | None = None, **fields) -> EvaluateResult:
        return EvaluateResult.from_json(await self.request("POST", "/v1/evaluate", {**_body_of(program), **fields},
                                                           timeout=timeout))

    async def functional(self, program: Any, transform: str, inputs: Any, output: Any, v: Any = _UNSET, *,
                         timeout: float | None = None, **options) -> FunctionalResult:
        body = functional_body(program, transform, inputs, output, v, **options)
        return FunctionalResult.from_json(await self.request("POST", "/v1/functional", body, timeout=timeout))

    async def gradcheck(self, program: Any, inputs: Any, output: Any, *, timeout: float | None = None,
                        **options) -> GradcheckResult:
        body = gradcheck_body(program, inputs, output, **options)
        return GradcheckResult.from_json(await self.request("POST", "/v1/gradcheck", body, timeout=timeout))

    async def graph(self, program: Any, format: str = "svg", *, timeout: float | None = None) -> str:
        out = await self.request("POST", "/v1/graph", {**_body_of(program), "format": format}, raw=True,
                                 timeout=timeout)
        return out.decode("utf-8")

    async def batch(self, programs: list, *, chunk_size: int | None = None, concurrency: int | None = None,
                    raise_errors: bool = False) -> list[EvaluateResult | APIError]:
        docs, conc, size = self._batch_plan(programs, chunk_size, concurrency)
        if not docs:
            return []
        gate = asyncio.Semaphore(conc)

        async def run(start: int, part: list) -> list[tuple[int, Any]]:
            async with gate:
                return await self._chunk(start, part)

        parts = await asyncio.gather(*(run(i, docs[i:i + size]) for i in range(0, len(docs), size)))
        return _finish(len(docs), parts, raise_errors)

    async def _chunk(self, start: int, docs: list) -> list[tuple[int, Any]]:
        try:
            answer = await self.request("POST", "/v1/evaluate/batch", {"requests": docs})
        except LimitExceeded as e:
            if len(docs) == 1:
                return [(start, e)]
            mid = len(docs) // 2
            return await self._chunk(start, docs[:mid]) + await self._chunk(start + mid, docs[mid:])
        except APIError as e:
            if e.status != 404:
                raise
            out = []
            for k, d in enumerate(docs):
                try:
                    out.append((start + k, await self.evaluate(d)))
                except APIError as err:
                    out.append((start + k, err))
            return out
        return [(start + k, _item(entry)) for k, entry in enumerate(answer["results"])]

    async def ops(self) -> list[dict]:
        return await self.request("GET", "/v1/ops")

    async def health(self) -> dict:
        return await self.request("GET", "/healthz")

    async def ready(self) -> dict:
        return await self.request("GET", "/readyz")

    def program(self):
        """A builder; `await p.run()` evaluates it with this client."""
        from gradserve.builder import Program  # noqa: PLC0415

        return Program(self)
