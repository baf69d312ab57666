"""A response whose body is already-encoded JSON (orjson): no re-encoding, no response_model validation."""
from __future__ import annotations

from starlette.responses import JSONResponse


class JSONBytes(JSONResponse):
    """Takes the encoded bytes. A JSONResponse subclass, so that OpenAPI shows the declared model as is."""

    def render(self, content: bytes) -> bytes:
        return content
