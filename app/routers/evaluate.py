"""POST /v1/evaluate."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.types import Receive, Scope, Send

from app.core.body import read_body
from app.core.errors import NotReady
from app.core.responses import JSONBytes
from app.examples import EXAMPLES
from app.schemas import ErrorResponse, EvaluateResponse

router = APIRouter(prefix="/v1", tags=["evaluate"])

_ERRORS = {
    413: "Over a configured limit: body size, elements of one tensor or of all tensors, number of ops.",
    422: "Invalid request: schema, unknown field, ragged data, unknown op or name, duplicate name, bad "
         "argument, or an error PyTorch itself raises for this program (`type` is PyTorch's exception "
         "class, `msg` its message, `loc` the entry).",
    500: "A compute worker died while running the request (it is replaced; retrying is safe), or an internal "
         "error.",
    503: "`device: \"cuda\"` where no CUDA backend is available, or over capacity (with Retry-After).",
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
    """Documents the route (and serves it under a root path); app/core/front.py calls `serve` directly."""
    return JSONBytes(await _answer(request.scope, request.receive))


async def _answer(scope: Scope, receive: Receive) -> bytes:
    service = getattr(scope["app"].state, "evaluator", None)
    if service is None:
        raise NotReady("the server is starting (its lifespan has not run)")
    return await service.evaluate(await read_body(scope, receive, service.settings.max_body_bytes))


async def serve(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /v1/evaluate as a plain ASGI function: what the route above answers, as its JSONBytes would send
    it (the same two headers, in the same order); errors are raised for the caller to map."""
    out = await _answer(scope, receive)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(out)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": out})


# What app/core/front.py serves itself: {path: (ASGI function, the route the router matches for it)}.
DIRECT = {"/v1/evaluate": (serve, next(r for r in router.routes if r.path == "/v1/evaluate"))}
