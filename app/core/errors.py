"""Every error the service answers with, mapped to its HTTP status and FastAPI's error shape in one place."""
from __future__ import annotations

import http
import logging
import signal
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from app.core.workers import WorkerDied, WorkerTimeout
from engine.budget import DeadlinePassed, ProcessBusy
from engine.errors import EngineError, LimitExceeded, cut_error
from engine.program import DeviceUnavailable as EngineDeviceUnavailable

log = logging.getLogger("gradserve")


class ServiceError(Exception):
    """An error of the service itself (not of the engine), with its status and error type."""

    status_code = 500
    type = "internal_error"

    def __init__(self, msg: str, loc: list | tuple = (), headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.msg = msg
        self.loc = list(loc)
        self.headers = headers

    def to_dict(self) -> dict:
        return {"type": self.type, "loc": self.loc, "msg": self.msg}


class InvalidJSON(ServiceError):
    status_code = 422
    type = "json_invalid"


class MissingBody(ServiceError):
    status_code = 422
    type = "missing"


class SchemaError(ServiceError):
    """Pydantic's errors for the request envelope, already in {type, loc, msg} form."""

    status_code = 422
    type = "value_error"

    def __init__(self, errors: list[dict]):
        first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
        super().__init__(first["msg"], first["loc"])
        self.errors = errors

    def __reduce__(self):  # a compute worker raises it too (a large body is checked there): it must pickle
        return type(self), (self.errors,)


class BodyTooLarge(ServiceError):
    status_code = 413
    type = "limit_exceeded"


class UnsupportedMediaType(ServiceError):
    """A POST body that is not declared `application/json` (a web page can post text/plain cross-site
    without a CORS preflight; it cannot post application/json)."""

    status_code = 415
    type = "unsupported_media_type"


class RequestTimeout(ServiceError):
    """The request's headers or body did not arrive in time (408; the connection is closed)."""

    status_code = 408
    type = "request_timeout"


class HeadersTooLarge(ServiceError):
    status_code = 431
    type = "limit_exceeded"


class OpsLimitExceeded(ServiceError):
    status_code = 413
    type = "limit_exceeded"


class DeviceUnavailable(ServiceError):
    status_code = 503
    type = "device_unavailable"


class OverCapacity(ServiceError):
    status_code = 503
    type = "over_capacity"


class NotReady(ServiceError):
    status_code = 503
    type = "not_ready"


class ComputeTimeout(ServiceError):
    status_code = 504
    type = "timeout"


CLIENT_GONE = 499


MAX_ERRORS = 64  # listed in one error response; the rest counted in a last entry
KEYS_PAST_FIELDS = 16  # unknown keys of one object listed (app/services/planning.py check_envelope refuses more)


def error_body(errors: list[dict]) -> bytes:
    """An error response's body: each error's echoed client text cut (redteam15 F8), and at most MAX_ERRORS of
    them, then one saying how many more (redteam16 F2, review17 R10: whatever listed them)."""
    if len(errors) > MAX_ERRORS:
        errors = [*errors[:MAX_ERRORS], {"type": "too_many_errors", "loc": [],
                                         "msg": f"{len(errors) - MAX_ERRORS} more errors, not listed "
                                                f"(at most {MAX_ERRORS} are)"}]
    return orjson.dumps({"detail": [cut_error(e) for e in errors]})


def unknown_keys(extra: list, loc: list, model: str) -> list[dict]:
    """The errors of an object's unknown keys `extra`, as Pydantic lists them (`extra_forbidden`), the first
    KEYS_PAST_FIELDS of them, then one saying how many more are not fields of `model`."""
    errors = [{"type": "extra_forbidden", "loc": [*loc, k], "msg": "Extra inputs are not permitted"}
              for k in extra[:KEYS_PAST_FIELDS]]
    if len(extra) > KEYS_PAST_FIELDS:
        errors.append({"type": "extra_forbidden", "loc": list(loc),
                       "msg": f"{len(extra) - KEYS_PAST_FIELDS} more keys that are not fields of {model}, not "
                              f"listed (at most {KEYS_PAST_FIELDS} are)"})
    return errors


def error_response(status_code: int, errors: list[dict], headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(errors), status_code=status_code, headers=headers,
                    media_type="application/json")


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        return f"killed by {signal.Signals(-exitcode).name}"
    except ValueError:
        return f"killed by signal {-exitcode}"


def to_response(exc: BaseException) -> Response:
    """The one mapping from an exception to the status and body a client sees."""
    if isinstance(exc, SchemaError):
        return error_response(422, exc.errors)
    if isinstance(exc, ServiceError):
        return error_response(exc.status_code, [exc.to_dict()], exc.headers)
    if isinstance(exc, EngineError):
        # LimitExceeded is over a configured limit; everything else the engine raises is the request's
        # fault (RequestError) or an error PyTorch itself raises for this program (TorchRuntimeError, ...).
        headers = None
        if isinstance(exc, LimitExceeded):
            status = 413
        elif isinstance(exc, EngineDeviceUnavailable):
            status = 503
        elif isinstance(exc, DeadlinePassed):
            status = 504
        elif isinstance(exc, ProcessBusy):
            status, headers = 503, {"Retry-After": "1"}
        else:
            status = 422
        return error_response(status, [exc.to_dict()], headers)
    if isinstance(exc, WorkerTimeout):
        return error_response(504, [{"type": "timeout", "loc": [], "msg": str(exc)}])
    if isinstance(exc, WorkerDied):
        msg = (f"the compute worker (pid {exc.pid}) died ({_signal_name(exc.exitcode)}) while computing this "
               "request; it has been replaced, the request may be retried")
        return error_response(500, [{"type": "worker_died", "loc": [], "msg": msg}])
    if isinstance(exc, ClientDisconnect):
        # The client left before its body was complete (or app/core/protocol.py answered 408 and closed the
        # connection): nobody reads this answer; 499 (nginx's "client closed request") is for the metrics.
        return error_response(CLIENT_GONE, [{"type": "client_disconnected", "loc": ["body"],
                                             "msg": "the client closed the connection before its body ended"}])
    if isinstance(exc, RecursionError):
        # Only deeply nested data reaches this (orjson stops JSON deeper than 1024 before).
        return error_response(422, [{"type": "value_error", "loc": ["body"],
                                     "msg": "the request is nested too deeply to evaluate"}])
    if isinstance(exc, MemoryError):
        return error_response(413, [{"type": "limit_exceeded", "loc": ["body"],
                                     "msg": "the request needs more memory than this server can give it"}])
    log.error("unexpected error", exc_info=exc)
    return error_response(500, [{"type": "internal_error", "loc": [],
                                 "msg": f"internal error ({type(exc).__name__}); it has been logged"}])


def validation_errors(errors: list[dict[str, Any]], prefix: tuple = ()) -> list[dict]:
    """Pydantic/FastAPI errors cut to {type, loc, msg}: `input` would echo (maybe huge) request data back (how many
    are listed: error_body)."""
    return [{"type": e["type"], "loc": [*prefix, *e["loc"]], "msg": e["msg"]} for e in errors]


async def _handle_any(request: Request, exc: Exception) -> Response:
    return to_response(exc)


async def _handle_request_validation(request: Request, exc: RequestValidationError) -> Response:
    return error_response(422, validation_errors(exc.errors()))


async def _handle_http(request: Request, exc: StarletteHTTPException) -> Response:
    if isinstance(exc.detail, list):
        errors = exc.detail
    else:
        phrase = http.HTTPStatus(exc.status_code).phrase
        errors = [{"type": phrase.lower().replace(" ", "_").replace("-", "_"), "loc": [],
                   "msg": exc.detail if isinstance(exc.detail, str) else phrase}]
    return error_response(exc.status_code, errors, getattr(exc, "headers", None))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _handle_request_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    for cls in (ServiceError, EngineError, WorkerTimeout, WorkerDied, RecursionError, MemoryError):
        app.add_exception_handler(cls, _handle_any)
    # Anything else: a clean 500 body, logged (Starlette's ServerErrorMiddleware runs this one).
    app.add_exception_handler(Exception, _handle_any)
