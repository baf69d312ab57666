"""GET /healthz (alive) and GET /readyz (ready or not; the backends and workers for a caller with an API key).

/readyz is open, for probes that carry no key: to them it says ready or not and nothing else, no internal
URL, pid or error (a public server would otherwise hand out its CUDA worker's address and its failures).
Why it is not ready goes to the log, once each time the reason changes; a caller with a valid API key
(GRADSERVE_API_KEYS) gets the reason and the details."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.datastructures import Headers

from app.core.errors import NotReady
from app.core.responses import JSONBytes
from app.core.security import key_matches, presented_key
from app.schemas import ErrorResponse, Health, Ready
from app.services import engine as eng

router = APIRouter(tags=["health"])
log = logging.getLogger("gradserve")


@router.get("/healthz", summary="Liveness", response_class=JSONBytes, response_model=None,
            responses={200: {"model": Health, "description": "The process serves requests."}})
async def healthz() -> JSONBytes:
    return JSONBytes(b'{"status":"ok"}')


@router.get(
    "/readyz",
    summary="Readiness; with backends and compute workers for a caller with an API key",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": Ready, "description": "Ready to evaluate. `backends` and `workers` only for a "
                                                    "caller with a valid API key."},
               503: {"model": ErrorResponse, "description": "Starting, or no compute worker is alive (the "
                                                            "reason only for a caller with a valid API key)."}},
)
async def readyz(request: Request) -> JSONBytes:
    state = request.app.state
    detailed = _key_holder(request)
    problem = _problem(state)
    _note(state, problem)
    if problem is not None:
        raise NotReady(problem if detailed else "not ready")
    if not detailed:
        return JSONBytes(b'{"status":"ready"}')
    service = state.evaluator
    pool = service.pool
    workers = pool.stats() if pool is not None else {
        "size": 0, "alive": 0, "busy": 0, "idle": 0, "restarts": 0, "processes": []}
    workers |= {"in_flight": state.in_flight.count, "max_in_flight": state.in_flight.limit}
    cupy, why = eng.cuda_status()
    # `cuda`: where CUDA work would run: in this process's workers, or the CUDA worker (probed now).
    backends = {"numpy": True, "cupy": cupy, "cupy_reason": why, "cuda": await service.cuda_state()}
    return JSONBytes(eng.dumps({"status": "ready", "backends": backends, "workers": workers}))


def _key_holder(request: Request) -> bool:
    """Whether the request carries one of the configured API keys (none configured: nobody does)."""
    keys = [k.encode("utf-8") for k in request.app.state.settings.api_key_list()]
    key = presented_key(Headers(scope=request.scope)) if keys else None
    return key is not None and key_matches(key, keys)


def _problem(state) -> str | None:
    """Why this server is not ready, or None."""
    service = getattr(state, "evaluator", None)
    if service is None:
        return "the server is starting"
    pool = service.pool
    if pool is not None and pool.stats()["alive"] == 0:
        return f"no compute worker is alive (0 of {pool.size})"
    return service.backend_problem()


def _note(state, problem: str | None) -> None:
    """Logs the reason for not being ready when it changes (probes ask every few seconds)."""
    if getattr(state, "readyz_problem", None) != problem:
        state.readyz_problem = problem
        if problem is None:
            log.info("ready")
        else:
            log.warning("not ready: %s", problem)
