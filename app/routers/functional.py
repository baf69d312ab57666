"""POST /v1/functional: torch.autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp) of a program."""
from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.body import read_body
from app.core.responses import JSONBytes
from app.examples import FUNCTIONAL_EXAMPLES
from app.routers.evaluate import evaluator
from app.schemas import ErrorResponse, FunctionalResponse

router = APIRouter(prefix="/v1", tags=["autograd"])

ERRORS = {
    413: "Over a configured limit: body size, elements, the request's memory (a Jacobian's basis or rows), cost, "
         "response size.",
    422: "Invalid request, or an error PyTorch raises: at the op that raised it (`[\"body\", \"ops\", i]`), or at "
         "`[\"body\", \"transform\"]` for the transform's own (strict mode, a non-scalar `hessian`, a wrong or "
         "missing `v`), with PyTorch's class and message.",
    500: "A compute worker died while running the request (it is replaced; retrying is safe), or an internal "
         "error.",
    503: "`device: \"cuda\"` where no CUDA backend is available, or over capacity (with Retry-After).",
    504: "The computation ran past the time limit and was stopped.",
}


async def answer(request: Request, kind: str) -> JSONBytes:
    service = evaluator(request.app)
    body = await read_body(request.scope, request.receive, service.settings.max_body_bytes)
    return JSONBytes(await service.transform(kind, body))


@router.post(
    "/functional",
    summary="Jacobian, Hessian, vjp, jvp, hvp or vhp of a program",
    description="`torch.autograd.functional.<transform>(f, inputs, ...)` where `f` is the program seen as a "
                "Python function: its parameters are the leaves `function.inputs` names (their values are the "
                "point), the other leaves are constants, it returns the tensor(s) `function.output` names. The "
                "result nests as PyTorch's: a tuple is a list, a tensor the nine-field tensor document. "
                "PyTorch's arguments (`create_graph`, `strict`, `vectorize`, `strategy`, "
                "`outer_jacobian_strategy`) with its defaults; `strategy: \"forward-mode\"` answers as the engine's "
                "library does (forward-mode AD is not in the engine yet: a clear 422).",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": FunctionalResponse, "description": "The transform's return value."},
               **{code: {"model": ErrorResponse, "description": d} for code, d in ERRORS.items()}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/FunctionalRequest"}, "examples": FUNCTIONAL_EXAMPLES}}}},
)
async def functional(request: Request) -> JSONBytes:
    return await answer(request, "functional")
