"""POST /v1/gradcheck: torch.autograd.gradcheck (and gradgradcheck) of a program."""
from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.responses import JSONBytes
from app.examples import GRADCHECK_EXAMPLES
from app.routers.functional import ERRORS, answer
from app.schemas import ErrorResponse, GradcheckResponse

router = APIRouter(prefix="/v1", tags=["autograd"])


@router.post(
    "/gradcheck",
    summary="Check a program's gradients against finite differences",
    description="`torch.autograd.gradcheck(f, inputs, eps=..., atol=..., rtol=..., fast_mode=...)`, and "
                "`gradgradcheck` too with `gradgrad`, where `f` is the program as a function (see POST "
                "/v1/functional); its inputs must require grad. A check that fails is a 200 with `ok: false` and "
                "PyTorch's GradcheckError message to the character (both Jacobians printed): what a grader runs on "
                "a student's custom Function (`functions`). An invalid call (no input requires grad) is a 422 at "
                "`[\"body\", \"function\"]`.",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": GradcheckResponse, "description": "The checks' verdicts."},
               **{code: {"model": ErrorResponse, "description": d} for code, d in ERRORS.items()
                  if code != 422},
               422: {"model": ErrorResponse, "description": "Invalid request, an error PyTorch raises in the "
                                                            "program (at its op), or an invalid call (at "
                                                            "`[\"body\", \"function\"]`)."}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/GradcheckRequest"}, "examples": GRADCHECK_EXAMPLES}}}},
)
async def gradcheck(request: Request) -> JSONBytes:
    return await answer(request, "gradcheck")
