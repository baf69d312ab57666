"""POST /v1/evaluate."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.types import Receive, Scope

from app.core.body import read_body
from app.core.errors import NotReady
from app.core.responses import JSONBytes
from app.examples import EXAMPLES
from app.schemas import ErrorResponse, EvaluateResponse

router = APIRouter(prefix="/v1", tags=["evaluate"])

_ERRORS = {
    408: "The body did not arrive within GRADSERVE_BODY_TIMEOUT_S; the connection is closed.",
    413: "Over a configured limit: body size, elements of one tensor or of all tensors, number of ops.",
    422: "Invalid request: schema, unknown field, ragged data, unknown op or name, duplicate name, bad "
         "argument, or an error PyTorch itself raises for this program (`type` is PyTorch's exception "
         "class, `msg` its message, `loc` the entry).",
    415: "The body is not sent as `Content-Type: application/json`.",
    500: "A compute worker died while running the request (it is replaced; retrying is safe), or an internal "
         "error.",
    503: "`device: \"cuda\"` where no CUDA backend is available, or over capacity: evaluations in flight or "
         "buffered body bytes (with Retry-After).",
    504: "The computation ran past the time limit and was stopped.",
}


@router.post(
    "/evaluate",
    summary="Run a tensor program and its backward passes",
    description="Builds the leaves, runs `ops` in order, runs the `backward` passes, and returns the "
                "requested tensors with values, grads and grad_fn names, the backward graph, and PyTorch's "
                "warnings. Semantics are PyTorch 2.13's on the CPU. Pick an example below to try it.",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": EvaluateResponse, "description": "The evaluated program."},
               **{code: {"model": ErrorResponse, "description": d} for code, d in _ERRORS.items()}},
    # The body is read and parsed by hand (size limit while streaming, orjson, duplicate keys): so it is
    # declared here; main.py puts EvaluateRequest's schema into the components.
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/EvaluateRequest"}, "examples": EXAMPLES}}}},
)
async def evaluate(request: Request) -> JSONBytes:
    """Documents the route (and serves it under a root path); app/core/front.py calls `answer` directly."""
    return JSONBytes(await answer(request.scope, request.receive))


def evaluator(app):
    """The app's evaluation service (app.state.evaluator); NotReady (503) before its lifespan has run."""
    service = getattr(app.state, "evaluator", None)
    if service is None:
        raise NotReady("the server is starting (its lifespan has not run)")
    return service


async def answer(scope: Scope, receive: Receive) -> bytes:
    """POST /v1/evaluate's 200 body; errors are raised for the caller to map (errors.to_response)."""
    service = evaluator(scope["app"])
    return await service.evaluate(await read_body(scope, receive, service.settings.max_body_bytes))


# What app/core/front.py serves itself: {path: (answer, the route the router matches for it)}.
DIRECT = {"/v1/evaluate": (answer, next(r for r in router.routes if r.path == "/v1/evaluate"))}
