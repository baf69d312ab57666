"""The app's OpenAPI document: FastAPI's, plus what it cannot know by itself.

- The models of bodies read by hand (evaluate, batch) and of the v1.1 routes, with the named components of
  app/schemas.py that they refer to.
- The errors every program-running POST may answer (408, 413, 415, 422, 503 with Retry-After, 504; and 401
  with the security schemes where API keys are configured, so Swagger UI's Authorize button sends the key).
- Examples of responses, computed by the engine itself from the request examples (so they never drift).

What /openapi.json serves is the generators' form: the recursive non-object components (`TensorData`,
`Scalar`, `NestedList`, `FunctionalValue`) written inline, nested lists unrolled to FLAT_DEPTH dimensions
(deeper: any array), objects and enums still named. Neither generator the issue names can read the recursive
form: openapi-python-client 0.29 follows a `$ref` only to an object or an enum and drops every model that
refers to `TensorData`; openapi-typescript 7 writes `NestedList: (Scalar | NestedList)[]` as an interface
property, which tsc rejects (TS2502, openapi-typescript#1603). `/openapi.json?recursive=true` serves the
recursive form, exact at any depth, for validators and generators that follow recursive references.
"""
from __future__ import annotations

import copy
import logging

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.config import Settings
from app.core.security import OPEN_PATHS
from app.schemas import (
    COMPONENTS,
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    EvaluateRequest,
    FunctionalRequest,
    FunctionalResponse,
    GradcheckRequest,
    GradcheckResponse,
    GraphRequest,
    resolve_marks,
)

log = logging.getLogger("gradserve")

REQUEST_MODELS = (EvaluateRequest, GraphRequest, FunctionalRequest, GradcheckRequest, BatchRequest)
RESPONSE_MODELS = (BatchResponse, FunctionalResponse, GradcheckResponse, ErrorResponse)

SECURITY_SCHEMES = {
    "BearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "`Authorization: Bearer <key>`, a key of GRADSERVE_API_KEYS."},
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "`X-API-Key: <key>`, a key of GRADSERVE_API_KEYS."},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying (sent when over capacity).",
                               "schema": {"type": "integer", "minimum": 0}}}

# status -> (description, an example error item); what every program-running POST may answer.
ERRORS: dict[int, tuple[str, dict]] = {
    401: ("API keys are configured and the request carries no valid one (`Authorization: Bearer <key>` or "
          "`X-API-Key: <key>`).",
          {"type": "unauthorized", "loc": ["header", "authorization"],
           "msg": "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"}),
    408: ("The body (or the headers) did not arrive within the configured time; the connection is closed.",
          {"type": "request_timeout", "loc": ["body"], "msg": "the request body did not arrive in time"}),
    413: ("Over a configured limit: body size, elements of one tensor or of all tensors (found by shape "
          "inference before anything is allocated), intermediate memory, cost, response size, number of ops or "
          "of batch documents. `msg` names the limit and its value.",
          {"type": "limit_exceeded", "loc": ["body"],
           "msg": "request body of 20000000 bytes is over the limit max_body_bytes=16777216"}),
    415: ("The body is not `application/json`.",
          {"type": "unsupported_media_type", "loc": ["header", "content-type"],
           "msg": "the body must be application/json"}),
    422: ("Invalid request: schema, unknown field, ragged data, unknown op or name, duplicate name, bad argument, "
          "or an error PyTorch itself raises for this program (`type` is PyTorch's exception class, `msg` its "
          "message to the character, `loc` the entry).",
          {"type": "extra_forbidden", "loc": ["body", "leafs"], "msg": "Extra inputs are not permitted"}),
    500: ("A compute worker died while running the request (it is replaced; retrying is safe), or an internal "
          "error.",
          {"type": "worker_died", "loc": [], "msg": "the compute worker (pid 4242) died (killed by SIGKILL) while "
                                                    "computing this request; it has been replaced, the request "
                                                    "may be retried"}),
    503: ("Over capacity (with `Retry-After`: retry then), or `device: \"cuda\"` where no CUDA backend is "
          "available (no `Retry-After`).",
          {"type": "over_capacity", "loc": [],
           "msg": "the server is at capacity (16 evaluations in flight); retry later"}),
    504: ("The computation ran past the configured time limit and was stopped; other requests were not held up. "
          "`msg` names the limit and its value; `loc` names the op where the computation stopped, or is `[]` "
          "where it was stopped inside one op (its worker killed).",
          {"type": "timeout", "loc": ["body", "ops", 3],
           "msg": "the computation ran past the time limit of 30 s (time_limit_s) and was stopped"}),
}
PROGRAM_PATHS = ("/v1/evaluate", "/v1/evaluate/batch", "/v1/graph", "/v1/functional", "/v1/gradcheck")


def _model_components() -> dict:
    """JSON Schemas of the hand-read bodies and the v1.1 models, as components."""
    _, defs = models_json_schema([(m, "validation") for m in REQUEST_MODELS]
                                 + [(m, "serialization") for m in RESPONSE_MODELS],
                                 ref_template="#/components/schemas/{model}")
    return defs["$defs"]


def _error_response(status: int, existing: dict | None) -> dict:
    description, item = ERRORS[status]
    out = dict(existing or {})
    out.setdefault("description", description)
    media = out.setdefault("content", {}).setdefault("application/json", {})
    media["schema"] = {"$ref": "#/components/schemas/ErrorResponse"}
    media.setdefault("example", {"detail": [item]})
    if status == 503:
        out["headers"] = {**out.get("headers", {}), **RETRY_AFTER}
    return out


def _response_examples(schema: dict) -> None:
    """The 200 example of /v1/evaluate and /v1/evaluate/batch: the engine's own answers to the request
    examples (a failing one too, for the batch)."""
    try:
        import engine  # noqa: PLC0415 - the service's engine; only asked once, when the schema is built
        from app.examples import EXAMPLES  # noqa: PLC0415

        seed = EXAMPLES["leaf_grads"]["value"]
        ok = engine.evaluate(copy.deepcopy(seed))
        bad = {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},
               "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]}
        try:
            engine.evaluate(copy.deepcopy(bad))
            failed = None
        except Exception as e:  # noqa: BLE001 - an EngineError: its {type, loc, msg}
            failed = {"status": 422, "body": {"detail": [e.to_dict()]}} if hasattr(e, "to_dict") else None
    except Exception:  # noqa: BLE001 - examples are documentation: never let them break /openapi.json
        log.warning("could not compute the OpenAPI response examples", exc_info=True)
        return
    paths = schema.get("paths", {})
    for path, example in (("/v1/evaluate", ok),
                          ("/v1/evaluate/batch", {"results": [{"status": 200, "body": ok}, *([failed] if failed
                                                                                             else [])]})):
        media = paths.get(path, {}).get("post", {}).get("responses", {}).get("200", {}).get("content", {})
        if "application/json" in media:
            media["application/json"].setdefault("example", example)


def build_openapi(app: FastAPI, settings: Settings) -> dict:
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes, tags=app.openapi_tags)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, s in _model_components().items():
        schemas.setdefault(name, s)
    schemas.update(COMPONENTS)
    # No maxItems for `requests`: past max_batch_documents the answer is the contract's 413, which schema
    # validators (schemathesis) would take for a schema-violating request accepted; the description says it.
    batch = schemas["BatchRequest"]["properties"]["requests"]
    batch["description"] += f" Here: at most {settings.max_batch_documents}."
    keys = bool(settings.api_key_list())
    if keys:
        components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            if method == "post" and path in PROGRAM_PATHS:
                for status in (408, 413, 415, 422, 503, 504):
                    responses[str(status)] = _error_response(status, responses.get(str(status)))
            if keys and path not in OPEN_PATHS:
                op["security"] = [{"BearerAuth": []}, {"APIKeyHeader": []}]
                responses["401"] = _error_response(401, responses.get("401"))
            # FastAPI documents a 422 for every route with parameters or a body; ours have the one error shape.
            if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                responses["422"] = _error_response(422, None)
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and name not in str(schema["paths"]):
            del schemas[name]
    schema = resolve_marks(schema)
    _response_examples(schema)
    return schema


# ----- the generators' form, and the route that serves both forms -----

FLAT_DEPTH = 6  # dimensions of nested lists typed in the flat document (deeper levels: any JSON array)
_INLINE = ("TensorData", "Scalar", "NestedList", "FunctionalValue")
_NUMBER, _BOOL, _NON_FINITE = {"type": "number"}, {"type": "boolean"}, {"$ref": "#/components/schemas/NonFinite"}


def _nested(depth: int) -> dict:
    inner = _nested(depth - 1) if depth > 1 else {"type": "array", "items": {}}
    return {"type": "array", "items": {"anyOf": [_NUMBER, _BOOL, _NON_FINITE, inner]}}


def _functional(depth: int) -> dict:
    tensor = {"$ref": "#/components/schemas/TensorOut"}
    inner = _functional(depth - 1) if depth > 1 else {"type": "array", "items": {}}
    return {"anyOf": [tensor, {"type": "array", "items": inner}, {"type": "null"}]}


def flatten(doc: dict) -> dict:
    """The document with the recursive non-object components inline (the generators' form, see the module)."""
    flat = {
        "Scalar": {"anyOf": [_NUMBER, _BOOL, _NON_FINITE]},
        "NestedList": _nested(FLAT_DEPTH),
        "TensorData": {"anyOf": [_NUMBER, _BOOL, _NON_FINITE, _nested(FLAT_DEPTH),
                                 {"$ref": "#/components/schemas/Base64Data"}]},
        "FunctionalValue": _functional(3),
    }
    refs = {f"#/components/schemas/{name}": name for name in _INLINE}

    def walk(x):
        if isinstance(x, dict):
            out = {k: walk(v) for k, v in x.items() if k != "$ref" or x[k] not in refs}
            if x.get("$ref") in refs:
                out = {**copy.deepcopy(flat[refs[x["$ref"]]]), **out}
            return out
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    doc = dict(doc)
    components = dict(doc["components"])
    components["schemas"] = {k: v for k, v in components["schemas"].items() if k not in _INLINE}
    doc["components"] = components
    return walk(doc)


def install(app: FastAPI, settings: Settings) -> None:
    """app.openapi() builds (once) the generators' form above, which GET /openapi.json serves;
    `?recursive=true` serves the recursive form."""
    recursive: list[dict] = []

    def exact() -> dict:
        if not recursive:
            recursive.append(build_openapi(app, settings))
        return recursive[0]

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = flatten(exact())
        return app.openapi_schema

    async def serve(request: Request) -> JSONResponse:
        wanted = request.query_params.get("recursive", "").lower() in ("1", "true", "yes")
        schema = exact() if wanted else openapi()
        root_path = request.scope.get("root_path", "").rstrip("/")  # as FastAPI's own route does
        servers = {s.get("url") for s in schema.get("servers", [])}
        if root_path and app.root_path_in_servers and root_path not in servers:
            schema = {**schema, "servers": [{"url": root_path}, *schema.get("servers", [])]}
        return JSONResponse(schema)

    app.openapi = openapi
    # Ahead of FastAPI's own route for the same path (the first match serves).
    app.router.routes.insert(0, Route(app.openapi_url, serve, include_in_schema=False))
