"""Optional API keys (GRADSERVE_API_KEYS), compared in constant time; app/core/front.py asks `refusal`."""
from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from app.core.errors import error_response

# Always open: the playground page, the docs, the schema, the probes and the metrics (and the pages' static
# assets). The playground sends the key a user types into it with each of its API calls.
OPEN_PATHS = frozenset({"/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/healthz", "/readyz",
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


def refusal(scope: Scope, keys: list[bytes]) -> Response | None:
    """The 401 (FastAPI's error shape, `WWW-Authenticate: Bearer`) for a request without a valid key to a
    path that needs one; None where it may pass. `keys`: encoded; none means the server is open."""
    path = scope["path"]
    if not keys or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return None
    key = presented_key(Headers(scope=scope))
    if key is not None and key_matches(key, keys):
        return None
    msg = ("an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
           if key is None else "the API key is not valid")
    return error_response(401, [{"type": "unauthorized", "loc": ["header", "authorization"], "msg": msg}],
                          headers={"WWW-Authenticate": "Bearer"})
