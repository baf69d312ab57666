"""Optional API keys (GRADSERVE_API_KEYS): pure ASGI middleware, keys compared in constant time."""
from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import error_response

# Always open: the docs, the schema, the probes and the metrics (and the docs' static assets).
OPEN_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/healthz", "/readyz",
                        "/metrics"})
OPEN_PREFIXES = ("/static/",)


def key_matches(candidate: str, keys: list[bytes]) -> bool:
    """Compares the candidate with every key (no early exit), each with hmac.compare_digest."""
    cand = candidate.encode("utf-8", "surrogateescape")
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(cand, key)
    return ok


def presented_key(headers: Headers) -> str | None:
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key is not None and key.strip() else None


class APIKeyMiddleware:
    """401 (FastAPI's error shape, `WWW-Authenticate: Bearer`) for requests without a valid key."""

    def __init__(self, app: ASGIApp, keys: list[str]):
        self.app = app
        self.keys = [k.encode("utf-8") for k in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = presented_key(Headers(scope=scope))
        if key is not None and key_matches(key, self.keys):
            await self.app(scope, receive, send)
            return
        msg = ("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
               if key is None else "the API key is not valid")
        response = error_response(401, [{"type": "unauthorized", "loc": ["header", "authorization"],
                                          "msg": msg}], headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
