"""Builds the FastAPI app: settings, lifespan (worker pool), middleware, error handlers, routers, OpenAPI."""
from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__, openapi
from app.core.body import BodyBudget
from app.core.config import Settings, get_settings
from app.core.errors import install_handlers
from app.core.front import Front, FrontedAPI, InFlight
from app.core.observability import Metrics, configure_access_log, flush_access_log
from app.core.workers import WorkerPool
from app.routers import batch, docs, evaluate, functional, gradcheck, graph, health, metrics, ops, playground
from app.services import engine as eng
from app.services.evaluate import EvaluateService
from engine.program import batch_write

DESCRIPTION = """\
Gradient-as-a-service: POST a program of tensor operations, get back values, gradients, grad_fn names and the
backward graph, with **PyTorch 2.13's autograd semantics** computed by gradserve's NumPy engine.

Every error body has FastAPI's shape, `{"detail": [{"type", "loc", "msg"}]}`. In tensor data, the strings
`"NaN"`, `"Infinity"` and `"-Infinity"` stand for non-finite numbers, in requests and responses alike.

The playground at [`/`](/) runs a formula or a program and draws its backward graph (`POST /v1/graph`).
"""

TAGS = [
    {"name": "evaluate", "description": "Run tensor programs and their backward passes."},
    {"name": "autograd", "description": "Jacobians, Hessians and their products of a program; gradient checks."},
    {"name": "ops", "description": "The catalog of ops a program may use."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def _configure_logging(level: str) -> None:
    log = logging.getLogger("gradserve")
    log.setLevel(level.upper())
    # uvicorn configures only its own loggers; where nobody configured logging, ours still reach stderr.
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """The front door (request id, API keys, in-flight limit, catch-all, metrics, access log; POST
    /v1/evaluate served from there), and CORS outermost, so that every answer, a 401 too, carries its
    headers."""
    app.add_middleware(Front, metrics=app.state.metrics, log_access=settings.access_log,
                       keys=settings.api_key_list(), in_flight=app.state.in_flight,
                       limited=("/v1/evaluate", "/v1/evaluate/batch", "/v1/graph", "/v1/functional",
                                "/v1/gradcheck"), direct=evaluate.DIRECT, max_body_bytes=settings.max_body_bytes,
                       bodies=BodyBudget(settings.body_budget_bytes(), settings.retry_after_s))
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "Retry-After"], max_age=600)


def _tune_gc() -> None:
    """A request's graph is thousands of small tracked objects and leaves no cycles behind, so the default
    gen-0 threshold (700) runs the collector over and over mid-request (about half the time of a 10,000-op
    graph, docs/PERFORMANCE.md). Move what start-up built out of the collector's sight, and collect seldom."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    _configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = None
        if settings.compute_workers:
            pool = WorkerPool(settings.compute_workers, preload=("app.services.engine",),
                              start_timeout=settings.worker_start_timeout_s)
            await pool.start()
        await anyio.to_thread.run_sync(eng.cuda_status)  # warm the cache off the event loop
        app.state.evaluator = EvaluateService(settings, pool, metrics=app.state.metrics)
        logging.getLogger("gradserve").info("batch text writer: %s", batch_write.accel_state())
        _tune_gc()
        try:
            yield
        finally:
            flush_access_log()
            await app.state.evaluator.aclose()  # the CUDA worker's HTTP client
            app.state.evaluator = None
            if pool is not None:
                await pool.close()

    app = FrontedAPI(title="gradserve", version=__version__, description=DESCRIPTION, openapi_tags=TAGS,
                     lifespan=lifespan, docs_url=None, redoc_url=None,
                     telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False})
    app.state.settings = settings
    app.state.in_flight = InFlight(settings.max_in_flight, settings.retry_after_s)
    app.state.evaluator = None
    app.state.metrics = Metrics(app.state) if settings.metrics else None
    if settings.access_log:
        configure_access_log()
    install_handlers(app)
    _add_middleware(app, settings)
    for module in (evaluate, batch, functional, gradcheck, graph, ops, health, metrics):
        app.include_router(module.router)
    docs.install(app)
    playground.install(app)
    openapi.install(app, settings)
    return app


app = create_app()
