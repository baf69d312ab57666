"""GET /metrics: this server process's Prometheus metrics (see app/core/observability.py)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    m = getattr(request.app.state, "metrics", None)
    if m is None:
        return Response("metrics are disabled (GRADSERVE_METRICS=false)\n", status_code=404,
                        media_type="text/plain")
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
