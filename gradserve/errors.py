"""Exceptions of the client: a server's error answer carries its status, PyTorch's type, message and loc.

An error PyTorch itself raises for the program (`type` RuntimeError, IndexError, ValueError, TypeError,
NotImplementedError) is raised as a class that is also that built-in, and whose str() is PyTorch's message,
so `except RuntimeError` catches what it would catch around the same code run in PyTorch.
"""
from __future__ import annotations

import builtins
from typing import Any


class GradserveError(Exception):
    """Base of every exception this client raises."""


class TransportError(GradserveError):
    """The server could not be reached, or the connection broke, after every retry allowed."""


class APIError(GradserveError):
    """An error answer of the server: `status` (HTTP), and its first error's `type`, `msg` and `loc`.
    `errors` holds every {type, loc, msg} of the body; `request_id` the server's X-Request-ID."""

    def __init__(self, status: int, errors: list[dict], request_id: str | None = None,
                 retry_after: float | None = None):
        first = errors[0] if errors else {"type": "unknown", "loc": [], "msg": f"HTTP {status}"}
        self.status = status
        self.errors = errors
        self.type: str = str(first.get("type", "unknown"))
        self.msg: str = str(first.get("msg", ""))
        self.loc: list = list(first.get("loc") or [])
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._text())

    def __reduce__(self):
        return type(self), (self.status, self.errors, self.request_id, self.retry_after)

    def _text(self) -> str:
        where = f" at {format_loc(self.loc)}" if self.loc else ""
        return f"HTTP {self.status} {self.type}{where}: {self.msg}"


class Unauthorized(APIError):
    """401: the server wants an API key (`api_key=`), or this one is not valid."""


class RequestTimeout(APIError):
    """408: the body did not reach the server in time."""


class LimitExceeded(APIError):
    """413: over one of the server's limits; `msg` names it and its value."""


class UnsupportedMediaType(APIError):
    """415."""


class InvalidRequest(APIError):
    """422 that is not one of PyTorch's errors: the request itself (schema, names, JSON)."""


class ServerError(APIError):
    """500: a compute worker died (retrying is safe) or an internal error."""


class Unavailable(APIError):
    """503: over capacity (retried by the client while `Retry-After` says so), or no CUDA backend."""


class ComputeTimeout(APIError):
    """504: the computation ran past the server's time limit."""


class TorchError(APIError):
    """An error PyTorch raises for this program: str() is PyTorch's message, to the character."""

    def _text(self) -> str:
        return self.msg


def _torch_class(name: str) -> type[TorchError]:
    base = getattr(builtins, name)
    return type(f"Torch{name}", (TorchError, base), {
        "__doc__": f"PyTorch's {name} for this program (also a built-in {name}).",
        "__module__": __name__,
    })


TorchRuntimeError = _torch_class("RuntimeError")
TorchIndexError = _torch_class("IndexError")
TorchValueError = _torch_class("ValueError")
TorchTypeError = _torch_class("TypeError")
TorchNotImplementedError = _torch_class("NotImplementedError")
TORCH_ERRORS: dict[str, type[TorchError]] = {c.__name__.removeprefix("Torch"): c for c in (
    TorchRuntimeError, TorchIndexError, TorchValueError, TorchTypeError, TorchNotImplementedError)}
BY_STATUS: dict[int, type[APIError]] = {401: Unauthorized, 408: RequestTimeout, 413: LimitExceeded,
                                        415: UnsupportedMediaType, 422: InvalidRequest, 500: ServerError,
                                        503: Unavailable, 504: ComputeTimeout}


def format_loc(loc: list) -> str:
    """["body", "ops", 3, "args", 0] -> "ops[3].args[0]" (the body prefix is implied)."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def error_for(status: int, body: Any, request_id: str | None = None,
              retry_after: float | None = None) -> APIError:
    """The exception for an error answer (its parsed JSON body, or anything else a proxy may send)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list) and all(isinstance(e, dict) for e in detail):
        errors = detail
    elif isinstance(detail, str):  # a proxy's or a framework's {"detail": "..."}
        errors = [{"type": f"http_{status}", "loc": [], "msg": detail}]
    else:
        text = body if isinstance(body, str) else ""
        errors = [{"type": f"http_{status}", "loc": [], "msg": text[:500] or f"HTTP {status}"}]
    first_type = str(errors[0].get("type", "")) if errors else ""
    cls = TORCH_ERRORS.get(first_type) if status == 422 else None
    cls = cls or BY_STATUS.get(status, APIError)
    return cls(status, errors, request_id, retry_after)
