"""GET /v1/ops: the op catalog."""
from __future__ import annotations

from fastapi import APIRouter

from app.core.responses import JSONBytes
from app.schemas import OpInfo
from app.services import engine as eng

router = APIRouter(prefix="/v1", tags=["ops"])


@router.get(
    "/ops",
    summary="List the ops a request may use",
    description="For every op: its name, its signature as PyTorch writes it, its grad_fn name(s), a one-line "
                "description, and where PyTorch has it (torch, Tensor, torch.nn.functional).",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": list[OpInfo], "description": "The catalog, sorted by name."}},
)
async def list_ops() -> JSONBytes:
    return JSONBytes(eng.catalog_json())
