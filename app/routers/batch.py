"""POST /v1/evaluate/batch: several /v1/evaluate documents in one request, each answered (and failing) alone.

Each document goes through the very path of POST /v1/evaluate (`EvaluateService.evaluate` on its bytes: schema,
limits, placement, time limit, errors mapped by `errors.to_response`), one after another, so a batch takes
one in-flight slot and at most one compute worker at a time. Bounds of the batch as a whole:

- the body limit is the whole body's (read_body), and `max_batch_documents` counts documents (413, before any
  runs);
- `max_batch_response_bytes`: the answers are held in memory until the last, so once they reach it the
  remaining documents are not run and answer 413;
- time: a document is started only while the batch is within `time_limit_s` of its start; those left answer
  504 unrun. A document started in time runs under its own time limit, so a batch ends within twice it.
- the event loop: between documents the handler yields, so a batch of 1,000 tiny documents (each evaluated
  on the loop) does not hold other requests up for its whole run; a client that went away stops the batch.

Duplicate keys are found with the evaluate path's own check (body.py), over the whole text at once.
"""
from __future__ import annotations

import asyncio
import json
import time

import orjson
from fastapi import APIRouter, Request

from app.core.body import _keys_and_colons, colons_known, parse_doc, read_body
from app.core.errors import InvalidJSON, NotReady, OpsLimitExceeded, SchemaError, to_response
from app.core.responses import JSONBytes
from app.schemas import BatchResponse, ErrorResponse

router = APIRouter(prefix="/v1", tags=["evaluate"])

_DUP = "\x00duplicate key"  # marks, in a document parsed for the duplicate check, an object with a key twice


@router.post(
    "/evaluate/batch",
    summary="Run several programs, each answered on its own",
    description="`{\"requests\": [doc, ...]}`, each `doc` a `POST /v1/evaluate` body: the answer is, in order, "
                "the status and body `POST /v1/evaluate` would give each document. One failing document fails "
                "alone. Limits apply to every document and to the whole body; the number of documents has its "
                "own (413). Documents are run one after another within the time limit; those not started in "
                "time answer 504, those past the response-size limit 413.",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": BatchResponse, "description": "Every document's status and body, in order."},
               413: {"model": ErrorResponse, "description": "Over a limit of the batch as a whole: body size, "
                                                            "number of documents (`max_batch_documents`)."},
               422: {"model": ErrorResponse, "description": "The batch itself is not `{\"requests\": [...]}`."}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/BatchRequest"}}}}},
)
async def evaluate_batch(request: Request) -> JSONBytes:
    service = getattr(request.app.state, "evaluator", None)
    if service is None:
        raise NotReady("the server is starting (its lifespan has not run)")
    settings = service.settings
    body = await read_body(request.scope, request.receive, settings.max_body_bytes)
    docs = _documents(body, settings.max_batch_documents)
    start = time.monotonic()
    parts: list[bytes] = []
    size = 0
    for i, doc in enumerate(docs):
        if i and await request.is_disconnected():
            break  # nobody is left to read the answers: run no more documents
        if isinstance(doc, _Refused):
            status, out = doc.status, doc.body
        elif size >= settings.max_batch_response_bytes:
            status, out = 413, _error("limit_exceeded", [], f"not run: the batch's answers reached the limit "
                                      f"max_batch_response_bytes={settings.max_batch_response_bytes}")
        elif time.monotonic() - start >= settings.time_limit_s:
            status, out = 504, _error("timeout", [], f"not run: the batch ran past the time limit of "
                                      f"{settings.time_limit_s:g} s (time_limit_s) before this document")
        else:
            status, out = await _evaluate(service, doc)
        size += len(out)
        parts.append(b'{"status":%d,"body":%s}' % (status, out))
        await asyncio.sleep(0)  # let other requests in between documents
    return JSONBytes(b'{"results":[' + b",".join(parts) + b"]}")


class _Refused:
    """A document answered without running (a duplicate key in it): its status and body."""

    def __init__(self, status: int, body: bytes):
        self.status, self.body = status, body


def _error(type_: str, loc: list, msg: str) -> bytes:
    return orjson.dumps({"detail": [{"type": type_, "loc": loc, "msg": msg}]})


async def _evaluate(service, doc) -> tuple[int, bytes]:
    """One document through POST /v1/evaluate's service path: (status, body)."""
    try:
        return 200, await service.evaluate(_encode(doc))
    except Exception as exc:  # noqa: BLE001 - mapped exactly as POST /v1/evaluate maps it
        response = to_response(exc)
        return response.status_code, bytes(response.body)


def _encode(doc) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # an integer past 64 bits (kept exact by parse_doc): the engine reports its overflow
        return json.dumps(doc).encode()


def _documents(body: bytes, limit: int) -> list:
    """The batch's documents (a document with a key given twice replaced by its 422), or the batch's error."""
    batch = parse_doc(body)
    if not isinstance(batch, dict):
        raise SchemaError([{"type": "model_type", "loc": ["body"],
                            "msg": "Input should be an object with the field `requests`"}])
    errors = [{"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs are not permitted"}
              for k in batch if k != "requests"]
    if "requests" not in batch:
        errors.append({"type": "missing", "loc": ["body", "requests"], "msg": "Field required"})
    elif not isinstance(batch["requests"], list):
        errors.append({"type": "list_type", "loc": ["body", "requests"], "msg": "Input should be a valid list"})
    if errors:
        raise SchemaError(errors)
    docs = batch["requests"]
    if len(docs) > limit:
        raise OpsLimitExceeded(f"the batch has {len(docs)} documents, over the limit max_batch_documents={limit}",
                               ["body", "requests"])
    return _refuse_duplicates(body, docs)


def _refuse_duplicates(body: bytes, docs: list) -> list:
    """Documents in which one object gives a key twice answer 422 alone (re-encoded, the duplicate would be
    gone: orjson keeps the last). The whole text is checked only where its colons do not add up."""
    if colons_known(body, sum(_keys_and_colons({"requests": docs}))):
        return docs

    def hook(pairs):
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: set = set()
            d[_DUP] = next(k for k, _ in pairs if k in seen or seen.add(k))
        return d

    try:
        again = json.loads(body, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return docs  # too deep for the standard library: each document meets the evaluate path's checks
    if _DUP in again:
        raise InvalidJSON(f"JSON decode error: the key {again[_DUP]!r} appears more than once in one object", ["body"])
    out = []
    for doc, checked in zip(docs, again["requests"]):
        key = _first_marked(checked)
        out.append(doc if key is None else _Refused(422, _error(
            "json_invalid", ["body"], f"JSON decode error: the key {key!r} appears more than once in one object")))
    return out


def _first_marked(doc) -> str | None:
    stack = [doc]
    while stack:
        x = stack.pop()
        if type(x) is dict:
            if _DUP in x:
                return x[_DUP]
            stack.extend(v for v in x.values() if type(v) in (dict, list))
        elif type(x) is list:
            stack.extend(v for v in x if type(v) in (dict, list))
    return None
