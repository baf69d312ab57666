"""GET /healthz (alive) and GET /readyz (ready, with backends and workers)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.errors import NotReady
from app.core.responses import JSONBytes
from app.schemas import ErrorResponse, Health, Ready
from app.services import engine as eng

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", response_class=JSONBytes, response_model=None,
            responses={200: {"model": Health, "description": "The process serves requests."}})
async def healthz() -> JSONBytes:
    return JSONBytes(b'{"status":"ok"}')


@router.get(
    "/readyz",
    summary="Readiness, with backends and compute workers",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": Ready, "description": "Ready to evaluate."},
               503: {"model": ErrorResponse, "description": "Starting, or no compute worker is alive."}},
)
async def readyz(request: Request) -> JSONBytes:
    state = request.app.state
    if getattr(state, "evaluator", None) is None:
        raise NotReady("the server is starting")
    pool = state.evaluator.pool
    workers = pool.stats() if pool is not None else {
        "size": 0, "alive": 0, "busy": 0, "idle": 0, "restarts": 0, "processes": []}
    if pool is not None and workers["alive"] == 0:
        raise NotReady(f"no compute worker is alive (0 of {pool.size})")
    workers |= {"in_flight": state.in_flight.count, "max_in_flight": state.in_flight.limit}
    service = state.evaluator
    problem = service.backend_problem()
    if problem:
        raise NotReady(problem)
    cupy, why = eng.cuda_status()
    # `cuda`: where CUDA work would run: in this process's workers, or the CUDA worker (probed now).
    backends = {"numpy": True, "cupy": cupy, "cupy_reason": why, "cuda": await service.cuda_state()}
    return JSONBytes(eng.dumps({"status": "ready", "backends": backends, "workers": workers}))
