"""Prometheus metrics and structured JSON access logs (written by app/core/front.py, per request).

Metrics are per server process: `gradserve serve --workers N` runs N uvicorn processes, and each one
serves its own /metrics (a scrape reaches whichever process accepted the connection). Run one process
per pod/container (the default) and scrape every one, or sum the series by instance in Prometheus.
Each app instance has its own CollectorRegistry, so several apps in one process (tests) do not clash.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
import math
import re
import time
from threading import get_ident

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from starlette.types import Scope

from app.services.engine import PLANS

access_log = logging.getLogger("gradserve.access")

_DEVICE = re.compile(rb'"device":"([a-z]{1,16})"')
_DEVICE_KEY = b'"device":"'
_CPU_END = b',"device":"cpu"}'
_TAIL = 4096  # bytes of an error body kept for its type


class _LineHandler(logging.StreamHandler):
    """The access log's own handler: the message as it is, one line each, on stderr. Lines written on an
    event loop go out together, in one write `delay` seconds after the first of them (a flush scheduled with
    call_later), or at once when _MAX_PENDING are held: not one write and flush each. A write is a system
    call; at the end of every loop turn it cost uvicorn/uvloop a few points of throughput (a turn ends a
    request or two), where one every 10 ms costs nothing measurable. A line written with no loop running
    goes out at once, with any still held; the app's shutdown (lifespan) and logging.shutdown flush what is
    left, so only a SIGKILL loses lines: those of its last 10 ms."""

    delay = 0.01  # seconds a line may wait for the write that takes it

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))
        self._pending: list[str] = []
        self._scheduled = None  # (loop, thread id) of the scheduled flush that writes the pending lines

    def write_line(self, line: str) -> None:
        """What handle(record) would do for this handler alone, without building the LogRecord (~12 us a
        request less than Logger.handle, measured in-process). A line written on the loop whose flush is
        scheduled (the thread that scheduled it, that loop still running: a thread runs one loop at a time)
        is appended and left to that flush: no lock, no get_running_loop() (whose fork check is a getpid
        system call on CPython 3.11). The pending list is appended to (atomic) and drained by flush under the
        lock, never replaced, so a line appended by another thread while a flush runs is written by it or
        by the next one."""
        pending = self._pending
        pending.append(line)
        s = self._scheduled
        if s is not None and s[1] == get_ident() and len(pending) < _MAX_PENDING and s[0].is_running():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop in this thread: now
            loop = None
        if loop is None or len(pending) >= _MAX_PENDING:
            self.flush()
        elif s is None or s[0] is not loop:  # also where a loop stopped before its flush wrote them
            self._scheduled = (loop, get_ident())
            loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        with self.lock:
            self._scheduled = None  # before the lines are taken: a line appended after this schedules anew
            pending = self._pending
            if pending:
                n = len(pending)
                lines = pending[:n]
                del pending[:n]
                try:
                    self.stream.write("\n".join(lines) + "\n")
                except Exception:  # noqa: BLE001 - as logging does: a log write never fails a request
                    self.handleError(logging.makeLogRecord({"msg": lines[0]}))
            super().flush()


_MAX_PENDING = 256  # lines held before they are written anyway


def configure_access_log() -> None:
    """JSON lines as they are (no prefix), on stderr, unless someone configured the logger already."""
    if not access_log.handlers:
        access_log.addHandler(_LineHandler())
        access_log.propagate = False
    # Its level is inherited from the `gradserve` logger (GRADSERVE_LOG_LEVEL): `warning` silences it.


def flush_access_log() -> None:
    """Writes the access lines still held (the app's lifespan calls it at shutdown: uvicorn ends on SIGTERM
    by the signal again, so neither atexit nor logging.shutdown runs there)."""
    for handler in access_log.handlers:
        handler.flush()


def _write_access(line: str) -> None:
    """One access line. Where the logger is as configure_access_log left it (its one handler ours, no
    filters, not propagating), the line goes straight to that handler; any other setup (a handler or a
    filter added, tests' capture) gets a LogRecord through Logger.handle, as always."""
    handlers = access_log.handlers
    if (len(handlers) == 1 and type(handlers[0]) is _LineHandler and not access_log.filters
            and not handlers[0].filters and not access_log.propagate
            and handlers[0].level <= logging.INFO):
        handlers[0].write_line(line)
        return
    # handle() a record made here: Logger.info would walk the stack for the caller's file and line, which
    # an access line does not carry
    access_log.handle(access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, line, None, None))


class _WorkerRestarts:
    """Reads the compute pool's restart count at scrape time (the pool owns the number)."""

    def __init__(self, app_state):
        self.state = app_state

    def collect(self):
        evaluator = getattr(self.state, "evaluator", None)
        pool = getattr(evaluator, "pool", None)
        c = CounterMetricFamily("gradserve_compute_worker_restarts",
                                "Compute worker processes replaced (killed past the time limit, or died).")
        c.add_metric([], float(getattr(pool, "restarts", 0) if pool is not None else 0))
        yield c


class _PlanCache:
    """Reads this process's plan cache (app.services.engine.PLANS) at scrape time."""

    def collect(self):
        for name, doc, value in (
                ("gradserve_plan_cache_hits", "Requests whose structure had a recorded program.", PLANS.hits),
                ("gradserve_plan_cache_misses", "Cacheable requests whose structure had none yet.", PLANS.misses)):
            c = CounterMetricFamily(name, doc)
            c.add_metric([], float(value))
            yield c
        g = GaugeMetricFamily("gradserve_plan_cache_programs", "Programs held by this process's plan cache.")
        g.add_metric([], float(len(PLANS)))
        yield g


class PlainCounter:
    """A labelled counter kept as plain numbers, for what every request counts: no lock, no label checks
    per call (one event loop writes it; a scrape, served on that loop, reads it). A Collector that writes it
    out as prometheus_client's Counter writes its own, sample for sample: name_total and name_created per
    child (tests/app/test_access_observability.py holds the two texts together)."""

    def __init__(self, name: str, doc: str, labelnames: list[str], registry: CollectorRegistry):
        self.name, self.doc, self.labelnames = name, doc, tuple(labelnames)
        self.counts: dict[tuple, list[float]] = {}  # label values -> [count, created]
        registry.register(self)

    def inc(self, *labels, by: float = 1.0) -> None:
        c = self.counts.get(labels)
        if c is None:
            c = self.counts[labels] = [0.0, time.time()]
        c[0] += by

    def series(self, labels: tuple) -> list[float]:
        """The [count, created] of these label values (made at its first use, as inc makes it), for a caller
        that keeps it and adds to its count itself."""
        c = self.counts.get(labels)
        if c is None:
            c = self.counts[labels] = [0.0, time.time()]
        return c

    def collect(self):
        m = Metric(self.name, self.doc, "counter")
        for labels, (n, created) in list(self.counts.items()):
            ls = dict(zip(self.labelnames, map(str, labels)))
            m.add_sample(self.name + "_total", ls, n)
            m.add_sample(self.name + "_created", ls, created)
        yield m


class PlainHistogram:
    """A labelled histogram kept as plain numbers, as PlainCounter is; written out as prometheus_client's
    Histogram writes its own (cumulative buckets, count, sum, created per child)."""

    def __init__(self, name: str, doc: str, labelnames: list[str], buckets, registry: CollectorRegistry):
        self.name, self.doc, self.labelnames = name, doc, tuple(labelnames)
        self.bounds = [float(b) for b in buckets] + [math.inf]
        self.series: dict[tuple, list[float]] = {}  # label values -> [per bucket..., sum, created]
        registry.register(self)

    def observe(self, value: float, *labels) -> None:
        s = self.of(labels)
        s[bisect.bisect_left(self.bounds, value)] += 1.0  # the first bucket whose bound is >= value
        s[-2] += value

    def of(self, labels: tuple) -> list[float]:
        """The [per bucket..., sum, created] of these label values (made at its first use)."""
        s = self.series.get(labels)
        if s is None:
            s = self.series[labels] = [0.0] * len(self.bounds) + [0.0, time.time()]
        return s

    def collect(self):
        m = Metric(self.name, self.doc, "histogram")
        for labels, s in list(self.series.items()):
            ls = dict(zip(self.labelnames, map(str, labels)))
            total = 0.0
            for bound, n in zip(self.bounds, s):
                total += n
                m.add_sample(self.name + "_bucket", {**ls, "le": floatToGoString(bound)}, total)
            m.add_sample(self.name + "_count", ls, total)
            m.add_sample(self.name + "_sum", ls, s[-2])
            m.add_sample(self.name + "_created", ls, s[-1])
        yield m


class Metrics:
    def __init__(self, app_state=None):
        self.registry = r = CollectorRegistry(auto_describe=True)
        # what every request changes: plain numbers (PlainCounter, PlainHistogram)
        self.requests = PlainCounter("gradserve_http_requests", "HTTP requests by method, route and status.",
                                     ["method", "route", "status"], r)
        self.latency = PlainHistogram("gradserve_http_request_duration_seconds",
                                      "HTTP request latency (until the response is sent).", ["method", "route"],
                                      (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                       30, 60), r)
        self.errors = Counter("gradserve_http_errors", "Error responses (4xx/5xx) by route, status and error "
                              "type (the first `detail[].type`).", ["route", "status", "type"], registry=r)
        self.in_flight = Gauge("gradserve_http_requests_in_flight", "HTTP requests being served.", registry=r)
        # read at scrape time: the front door counts in a plain int (one event loop, no lock per request)
        self.serving = 0
        self.in_flight.set_function(lambda: self.serving)
        self.evaluations = Gauge("gradserve_evaluations_in_flight", "Evaluations holding one of the "
                                 "GRADSERVE_MAX_IN_FLIGHT slots (body read, being computed or answered); a "
                                 "scrape is not one of them.", registry=r)
        slots = getattr(app_state, "in_flight", None)
        self.evaluations.set_function(lambda: slots.count if slots is not None else 0)
        self.devices = PlainCounter("gradserve_evaluations_by_device", "Successful evaluations by the device "
                                    "they ran on.", ["device"], r)
        self.placements = PlainCounter("gradserve_evaluations_by_placement", "Successful evaluations by where "
                                       "the service ran them: loop (tiny, on the event loop), thread, worker (a "
                                       "compute process) or cuda_worker (forwarded).", ["placement"], r)
        if app_state is not None:
            r.register(_WorkerRestarts(app_state))
            r.register(_PlanCache())
        # (method, route, status) -> its requests series and its latency series: one lookup a request
        self._series: dict[tuple, tuple[list[float], list[float]]] = {}
        self._bounds = self.latency.bounds
        self._cpu: list[float] | None = None  # the devices series of "cpu", once one was counted
        self._placed: dict[str, list[float]] = {}  # placement -> its series

    def observe(self, method: str, route: str, status: int, elapsed: float, kept: list[bytes],
                evaluate: bool) -> None:
        """One answered request. `kept`: an error body's head (for its type); a 200 evaluate body's last two
        chunks (for its device). What requests.inc, latency.observe and devices.inc do, with the series kept
        by (method, route, status): one dict lookup, no label tuples built (~5k instructions a request less)."""
        key = (method, route, status)
        both = self._series.get(key)
        if both is None:
            both = self._series[key] = (self.requests.series(key), self.latency.of((method, route)))
        c, s = both
        c[0] += 1.0
        s[bisect.bisect_left(self._bounds, elapsed)] += 1.0  # the first bucket whose bound is >= elapsed
        s[-2] += elapsed
        if status >= 400:
            self.errors.labels(route, str(status), _error_type(b"".join(kept))).inc()
        elif status == 200 and evaluate and kept:
            if len(kept) == 1 and kept[0].endswith(_CPU_END):  # the commonest body (_device's first test)
                cpu = self._cpu
                if cpu is None:
                    cpu = self._cpu = self.devices.series(("cpu",))
                cpu[0] += 1.0
                return
            device = _device(kept[-1] if len(kept) == 1 else kept[-2][-_TAIL:] + kept[-1])
            if device is not None:
                self.devices.inc(device)

    def placed(self, placement: str) -> None:
        """placements.inc(placement), its series kept by name."""
        c = self._placed.get(placement)
        if c is None:
            c = self._placed[placement] = self.placements.series((placement,))
        c[0] += 1.0


def _device(body: bytes) -> str | None:
    """The top-level "device" of a 200 /v1/evaluate body (its last key but a device_note): the text cannot
    occur inside a JSON string, where a quote is written \\", nor as a tensor's key, followed by `{`. A body
    that ends with _CPU_END ends with that key: a comma followed by a quote is outside any string."""
    if body.endswith(_CPU_END):  # the commonest body: no search
        return "cpu"
    i = body.rfind(_DEVICE_KEY)
    if i < 0:
        return None
    m = _DEVICE.match(body, i)
    return m.group(1).decode() if m else None


def _error_type(body: bytes) -> str:
    try:
        t = orjson.loads(body)["detail"][0]["type"]
        return t if isinstance(t, str) and len(t) <= 64 else "unknown"
    except Exception:
        return "unknown"


def log_access(scope: Scope, route: str, status: int, elapsed: float, request_id: str) -> None:
    """One JSON access line, where the access logger is enabled; straight to its handler where the logger is
    as configure_access_log left it (as _write_access decides, inline: a call less)."""
    if access_log.isEnabledFor(logging.INFO):
        client = scope.get("client")
        # to the millisecond and the microsecond, as round(·, 3) rounds but at 1/5 of its cost (its correctly
        # rounded decimal differs in the last digit once in ~16,000 values: no matter for a log's clock).
        # (orjson's dict is the cheapest way to this text measured: a '%' template of kept pieces, the numbers
        # written from their integer thousandths, took more instructions, 13k against 11k)
        line = orjson.dumps({
            "ts": int(time.time() * 1000 + 0.5) / 1000, "event": "access", "method": scope["method"],
            "path": scope["path"], "route": route, "status": status,
            "duration_ms": int(elapsed * 1e6 + 0.5) / 1000, "request_id": request_id,
            "client": f"{client[0]}:{client[1]}" if client else None,
        }).decode()
        handlers = access_log.handlers
        if len(handlers) == 1:
            h = handlers[0]
            if (type(h) is _LineHandler and not access_log.filters and not h.filters and not access_log.propagate
                    and h.level <= logging.INFO):
                h.write_line(line)
                return
        _write_access(line)
