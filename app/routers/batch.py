"""POST /v1/evaluate/batch: several /v1/evaluate documents in one request, each answered (and failing) alone.

Each document goes through the very path of POST /v1/evaluate (`EvaluateService.evaluate` on its bytes: schema,
limits, placement, time limit, errors mapped by `errors.to_response`), one after another, so a batch takes
one in-flight slot and at most one compute worker at a time; except documents of one structure whose program
the service has run, lowered and found elementwise (engine.program.batch): those run together, their leaf
values stacked along a new axis and the lowered function called once per chunk (`EvaluateService.
evaluate_vectorized`, in a thread under the time limit), each answered with the bytes its own run would
write. The first documents of a structure run alone (the first records its program, the
Program.lower_at()-th replay after it lowers it: the fifth document of a small program).
Bounds of the batch as a whole:

- the body limit is the whole body's (read_body), and `max_batch_documents` counts documents (413, before any
  runs);
- `max_batch_response_bytes`: the answers are held in memory until the last, so they never pass it: a document
  whose answer would take them past it answers 413 instead (its answer dropped), and the documents after it are
  not run and answer 413 (a vectorized chunk's answers count as each comes up). The largest batch answer is
  then that limit and at most config.BATCH_ENTRY_MAX_BYTES a document, which the room for answers always holds
  (Settings.response_budget_bytes: an idle server never answers such a batch 503, redteam11 F1);
- memory: the answers are held in the server's budgets as they accumulate, and their join too
  (app/services/batch_memory.py: max_process_bytes, and the room for answers of max_buffered_response_bytes):
  the batch answers 503 (Retry-After) as soon as they cannot be held, or before any document runs where the room
  is full already;
- time: a document is started only while the batch is within `time_limit_s` of its start; those left answer
  504 unrun. A document (or chunk) started in time runs under its own time limit, so a batch ends within
  twice it.
- the event loop: a body past `loop_max_body_bytes` is read (as text, or parsed) in a thread, as /v1/evaluate
  parses one; between documents run alone the handler yields (at most every _YIELD_S: 1 ms), so a batch
  of 1,000 tiny documents (each evaluated on the loop) does not hold other requests up for its whole run; a
  client that went away stops the batch (asked at most every _CHECK_S: 20 ms).

Duplicate keys are found with the evaluate path's own check (body.py), over the whole text at once; the keys
of documents of one structure are counted once.

The body is first read as text (engine.program.batch_text): a document whose text is a known template's
byte for byte but for its leaves' numbers is never parsed; its numbers are read into stacked columns and its
answer written by the fast writer (engine.program.batch_write), the bytes its own evaluation writes. A
document that matches no template is answered from its own text by the evaluate path (parse, duplicate keys,
schema, limits: exactly its separate request), and may become a template (its text parsed once, its
duplicate keys checked; at most batch_text.TEMPLATES a batch, the last ones kept for the next batches of the
same limits). A body the text path does not foresee (another envelope, not ASCII, more documents than the
limit, a document whose end cannot be found) is parsed whole as before. Every bound above holds on both.

The machine's second core: this process runs on one. A vectorized chunk of a text template of at least
SPLIT_MIN_ROWS documents is split where the compute pool may lend a worker (WorkerPool.run_idle: one idle now,
with _KEEP_IDLE others left idle and no call waiting for one; never waited for): the worker answers its last
rows (app/services/batch_part.py: the same program, run and writer, its answers read back from a memory file)
while this process answers the first ones (or, beside another batch in flight here, the worker answers all of
them: this process's CPU is then what bounds the batches), and the answers are placed in order. A batch takes
at most one worker at a time; the worker's call is held to the batch's limits, its deadline (killed past it, as any
worker call) and the response limit; where it answers nothing (no worker, killed, past a limit) its rows are
answered here, as without a pool. Before that, the read of the body itself is split likewise (_split, where a
run of at least SPLIT_MIN_ROWS documents of a lowered template seems to be left): the scan stops at 40% of the
text left, and the worker reads the rest (the same scan and checks), runs and writes it while this process
answers the documents before it (_part_text, _take_tail); where the worker answers nothing, the body is read again
here without a split. docs/RELIABILITY.md ("Batches") says how a batch uses the pool.
"""
from __future__ import annotations

import asyncio
import json
import time

import anyio.to_thread
import numpy as np
import orjson
from fastapi import APIRouter, Request

from app.core.body import _keys_and_colons, check_duplicate_keys, check_parse_cost, colons_known, parse_doc, read_body
from app.core.errors import InvalidJSON, OpsLimitExceeded, SchemaError, ServiceError, to_response, unknown_keys
from app.core.responses import JSONBytes
from app.core.workers import WorkerTimeout
from app.examples import BATCH_EXAMPLES
from app.routers.evaluate import evaluator
from app.schemas import BatchResponse, ErrorResponse
from app.services import engine as eng
from app.services.batch_memory import Answers, release_answers
from app.services.batch_part import fitting as _fitting
from app.services.batch_split import (
    _IN_FLIGHT,
    _WRAP,
    _give_back,
    _observe,
    _part,
    _part_text,
    _program_and_chunk,
    _split,
    _tail_rows,
)
from engine.program import batch_text
from engine.program.batch import Stacked
from engine.program.batch_text import Template
from engine.program.batch_write import Written

router = APIRouter(prefix="/v1", tags=["evaluate"])

_DUP = "\x00duplicate key"  # marks, in a document parsed for the duplicate check, an object with a key twice


@router.post(
    "/evaluate/batch",
    summary="Run several programs, each answered on its own",
    description="`{\"requests\": [doc, ...]}`, each `doc` a `POST /v1/evaluate` body: the answer is, in order, "
                "the status and body `POST /v1/evaluate` would give each document. One failing document fails "
                "alone. Limits apply to every document and to the whole body; the number of documents has its "
                "own (413). Documents are run one after another within the time limit, those of one structure "
                "(the same program with other leaf values) together where the program allows, with the answers "
                "each would get alone; those not started in time answer 504; the one whose answer would take "
                "the batch's answers past the response-size limit, and all after it, 413.",
    response_class=JSONBytes,
    response_model=None,
    responses={200: {"model": BatchResponse, "description": "Every document's status and body, in order."},
               413: {"model": ErrorResponse, "description": "Over a limit of the batch as a whole: body size, "
                                                            "number of documents (`max_batch_documents`)."},
               422: {"model": ErrorResponse, "description": "The batch itself is not `{\"requests\": [...]}`."},
               503: {"model": ErrorResponse, "description": "Over capacity (with Retry-After): evaluations in "
                                                            "flight, or the server's memory for the batch's answers "
                                                            "(max_process_bytes, max_buffered_response_bytes), "
                                                            "checked before it starts and as they accumulate."}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/BatchRequest"}, "examples": BATCH_EXAMPLES}}}},
)
async def evaluate_batch(request: Request) -> JSONBytes:
    _IN_FLIGHT[0] += 1
    try:
        return await _answer(request)
    finally:
        _IN_FLIGHT[0] -= 1
        release_answers(request.scope)


async def _answer(request: Request) -> JSONBytes:
    service = evaluator(request.app)
    body = await read_body(request.scope, request.receive, service.settings.max_body_bytes)
    try:
        return await _respond(request, service, body, True)
    except _Restart:  # the rest of the body, read by a compute worker, was not what the split foresaw and its
        # own scan gave up: the batch from the start, whole, its first attempt's holds given back first
        release_answers(request.scope)
        return await _respond(request, service, body, False)


async def _read_in_turn(body: bytes, service, split: bool, loop_max: int):
    if len(body) <= loop_max:
        return _read(body, service, split)
    # read in a thread, as /v1/evaluate parses a body past loop_max_body_bytes: 1 MB of documents that match
    # no template takes ~130 ms to read, 15 MB ~2 s, which would hold every other request (red team 8, F3)
    return await anyio.to_thread.run_sync(_read, body, service, split)


async def _respond(request: Request, service, body: bytes, split: bool) -> JSONBytes:
    settings = service.settings
    scan, docs, hits, groups = await _read_in_turn(body, service, split, settings.loop_max_body_bytes)
    start = checked = yielded = time.monotonic()
    parts = Answers(b'{"results":[', request.scope, settings.retry_after_s)  # held as they come (batch_memory)
    size = 0
    limit = settings.max_batch_response_bytes  # strict: a document's answer that would pass it is not kept
    full = False  # a document's answer was not kept: the documents after it are not run
    ahead: dict[int, bytes] = {}  # answers of a vectorized chunk, for documents after the current one
    state: dict = {}  # "split": False once a compute worker's part of a chunk answered nothing (_vectorize_rows)
    tail = None  # the rest of the body after the scan's documents, read and answered by a compute worker
    if scan is not None and scan.tail is not None:
        state["split"] = False  # one compute worker a batch at a time: the one reading the tail (review11 F3)
        tail = asyncio.ensure_future(_part_text(service, body, scan.tail, len(docs), state))
        await asyncio.sleep(0)  # the worker's call sent first, before this process's own run takes the GIL
    i = -1
    try:
        while True:
            i += 1
            if i == len(docs) and tail is not None:  # the worker's documents follow the scan's
                scan = await _take_tail(service, body, scan, tail, ahead, state)
                docs, tail = scan.matched, None
            if i >= len(docs):
                break
            doc = docs[i]
            if size > parts.held:  # the answers' bytes held in the budgets as they come (app/services/batch_memory.py)
                parts.hold(size)
            ran = False  # whether this document ran alone: then the handler yields before the next one
            if full or size >= limit:
                full = True
                status, out = 413, _error("limit_exceeded", [], f"not run: the batch's answers reached the limit "
                                          f"max_batch_response_bytes={limit}")
            elif isinstance(doc, _Refused):
                status, out = doc.status, doc.body
            elif i not in ahead and time.monotonic() - start >= settings.time_limit_s:
                status, out = 504, _error("timeout", [], f"not run: the batch ran past the time limit of "
                                          f"{settings.time_limit_s:g} s (time_limit_s) before this document")
            else:
                if i in ahead:
                    pass
                elif scan is not None:
                    if type(doc) is Template:
                        await _vectorize_rows(service, i, doc, ahead, state)
                elif hits[i] is not None:
                    await _vectorize(service, i, docs, hits, groups, ahead)
                out = ahead.pop(i, None)
                if type(out) is _Run:  # documents i, i + 1, ... of one chunk, in a row
                    written = out.written
                    if size + sum(written.sizes) <= limit:  # all within the size limit
                        if written.joined is not None:
                            parts.append(written.joined)  # (a compute worker's answers, read as one text)
                        else:
                            parts += written.pieces
                        size += sum(written.sizes)
                        i += len(written) - 1  # its documents answered: the loop goes on after them
                        continue
                    ahead.update((i + j, (written, j)) for j in range(len(written)))  # one at a time
                    out = ahead.pop(i)
                if type(out) is tuple:  # a document of a chunk written as pieces (batch_write.Written)
                    written, j = out
                    if size + written.sizes[j] <= limit:
                        size += written.sizes[j]
                        parts += written.doc_pieces(j)  # wrapped as below
                        continue
                    out = written[j]  # past the limit: not kept (below)
                if out is not None:
                    status = 200
                else:
                    if i and time.monotonic() - checked >= _CHECK_S:  # (each check is a loop turn: ~90 us)
                        checked = time.monotonic()
                        if await request.is_disconnected():
                            break  # nobody is left to read the answers: run no more documents
                    if scan is None:
                        text = _encode(doc)
                    else:  # answered from its own text, exactly as its separate request
                        a, b = batch_text.span(body, scan, i)
                        text = body[a:b]
                    status, out = await _evaluate(service, text)
                    ran = True
            if not full and size + len(out) > limit:  # (config.BATCH_ENTRY_MAX_BYTES bounds what follows)
                full = True
                status, out = 413, _error("limit_exceeded", [], f"not kept: this document's answer ({len(out)} "
                                          f"bytes) would take the batch's answers past the limit "
                                          f"max_batch_response_bytes={limit}")
            size += len(out)
            parts += (b'{"status":%d,"body":' % status, out, b"},")
            if ran and time.monotonic() - yielded >= _YIELD_S:
                await asyncio.sleep(0)  # let other requests in between documents
                yielded = time.monotonic()
    finally:
        if tail is not None and not tail.done():  # (left: a client gone, or a cancel) it ends by its deadline
            tail.add_done_callback(_observe)

    k = len(parts) - 1
    while k and not parts[k]:  # (a document the writer wrote among a Written chunk's pieces leaves empty ones)
        k -= 1
    if k:
        parts[k] = memoryview(parts[k])[:-1]  # the last answer's comma: every answer ends in b"},"; a view, not a
        # copy: the last part may be a whole chunk's text (the C filler's Written.joined, ~2.8 MB a seed batch)
    parts.append(b"]}")
    answer = parts.join(size)
    _give_back(state)
    return JSONBytes(answer)


# Between documents run alone, the handler lets other requests in once _YIELD_S has passed since it last did (a
# turn of the loop costs ~8 us, a document of a few ops ~0.5 ms: every document would be ~2% of a batch), and
# asks whether the client went away once _CHECK_S has (Starlette's is_disconnected cancels a receive: ~90 us,
# ~10% of a batch of small programs); a batch nobody reads runs at most _CHECK_S and a document more.
_YIELD_S = 0.001
_CHECK_S = 0.02


def _groups(docs: list, hits: list) -> dict:
    """The documents of each structure (PlanCache key), in order: {key: [index, ...]}."""
    groups: dict = {}
    for i, (doc, hit) in enumerate(zip(docs, hits)):
        if hit is not None and not isinstance(doc, _Refused):
            groups.setdefault(hit[0], []).append(i)
    return groups


async def _vectorize(service, i: int, docs: list, hits: list, groups: dict, ahead: dict) -> None:
    """Answer document i and the next ones of its structure in one vectorized run, into `ahead`, where the
    service has that structure's program and it vectorizes (engine.program.batch); else leave them alone."""
    key = hits[i][0]
    group = groups[key]
    while group and group[0] < i:
        group.pop(0)
    if len(group) < 2 or not service.vectorizes(docs[i]):
        return
    program, n = _program_and_chunk(service, key, len(group))
    if n < 2:
        return
    chunk = group[:n]
    try:
        outs = await service.evaluate_vectorized(program, [hits[j][1] for j in chunk])
    except Exception:  # noqa: BLE001 - a limit or the time limit of the chunk: each document alone answers
        return
    if outs is not None:
        del group[:n]
        ahead.update(zip(chunk, outs))


_COST_PER_BYTE = 121  # the most body.parse_cost counts for one byte of text (a `:`)

# ----- the batch read as text (engine.program.batch_text): documents of one text template never parsed -----


def _read(body: bytes, service, split: bool = False) -> tuple:
    """The batch's documents: (scan, docs, hits, groups): read as text (scan; docs are its matches), or parsed
    as a whole (scan None); raises the batch's own errors (422, 413). `split`: the scan may leave the rest of a
    run of one template's documents to a compute worker (_split; Scan.tail)."""
    limit = service.settings.max_batch_documents
    scan = _scan(body, limit, service, split)
    if scan is not None:  # read as text: a document is the Template it matched, or its span (a tuple)
        return scan, scan.matched, None, None
    docs, hits = _documents(body, limit, service)
    return None, docs, hits, _groups(docs, hits)


def _scan(body: bytes, limit: int, service, split: bool = False):
    """The body read as text (engine.program.batch_text.Scan), or None where it is read as a whole
    (_documents). The batch-wide checks of _documents hold: the parse-cost bound (413, as its parse words
    it), the number of documents (past it, the whole-body path answers the 413)."""
    if eng.PLANS.max_entries <= 0:
        return None
    if len(body) * _COST_PER_BYTE > service.settings.max_request_bytes:
        check_parse_cost(body)  # else it cannot pass (its 5 counts: ~1 ms for 450 KB on a loaded machine)

    def make(text: bytes):
        if len(text) > batch_text.TEXT_MAX:  # no template of it: not parsed here (its own evaluation parses it)
            return None
        try:
            doc = parse_doc(text, checked=True)
            check_duplicate_keys(text, doc)
        except ServiceError:
            return None
        hit = eng.batch_keys([doc], service.limits)[0]
        if hit is None:
            return None
        return batch_text.make_template(text, doc, hit[0], hit[1])

    known = _KNOWN.get(service.limits, ())
    scan = batch_text.scan(body, limit, make, known, split=(lambda t, pos, n: _split(service, body, t, pos))
                           if split else None)
    if scan is not None and scan.tail is not None and len(scan.matched) + body.count(
            scan.tail[0].head, scan.tail[1]) > limit:
        # the rest could hold more documents than the limit leaves (each of the template's documents holds its
        # text before the first hole, Template.head, once at least): read whole here, so that a batch past the
        # limit is refused before any runs, as without a split (one whose rest is not of that template only is
        # refused once the worker's part comes back and the body is read again here: _take_tail)
        scan = batch_text.scan(body, limit, make, known)
    if scan is not None:  # the templates this batch matched, most recent first, for the next batches
        used = [t.fresh() for t in scan.templates if t.rows]  # without this batch's rows and numbers
        keep = used + [t for t in known if all(t.pattern is not u.pattern for u in used)]
        if len(_KNOWN) > 8 and service.limits not in _KNOWN:
            _KNOWN.clear()
        _KNOWN[service.limits] = keep[:batch_text.TEMPLATES]
    return scan


# Templates of earlier batches (engine.program.batch_text), per the limits their PlanCache keys were made under
_KNOWN: dict = {}


async def _vectorize_rows(service, i: int, t, ahead: dict, state: dict) -> None:
    """As _vectorize, for the documents of one text template: answer document i and the template's next
    rows in one vectorized run, their leaf values read from the text into arrays (engine.program.batch_text).
    A chunk of at least SPLIT_MIN_ROWS rows is split where a compute worker may be lent (_tail_rows): its last
    rows are answered by the worker (_part) while this process answers the first ones."""
    rows = t.rows
    while t.done < len(rows) and rows[t.done] < i:
        t.done += 1
    left = len(rows) - t.done
    if left < 2 or not service.vectorizes(t.doc):
        return
    program, n = _program_and_chunk(service, t.key, left)
    if n < 2:
        return
    if t.fit is None:  # read once a batch: a document with a bad row in every other chunk costs no chunk's columns
        t.fit = _fitting(t, program.lowered.leaf_np)
    if t.fit is not True:  # a value past its integer dtype: the rows before it together, it alone (its overflow)
        bad = np.flatnonzero(~t.fit[t.done:t.done + n])
        if bad.size:
            n = int(bad[0])
            if n < 2:
                return
    chunk = slice(t.done, t.done + n)
    columns = t.columns(chunk)
    h = n - _tail_rows(service, n, state)  # rows answered here; the others by a compute worker
    if h == n:
        try:
            outs = await service.evaluate_vectorized(program, Stacked(columns, t.arrays(columns, 0), n, _WRAP,
                                                                      _cap(service, n)))
        except Exception:  # noqa: BLE001 - a limit or the time limit of the chunk: each document alone answers
            return
        if outs is not None:
            t.done += n
            _place(ahead, i, rows[chunk], outs)
        return
    head, tail = [c[:h] for c in columns], [c[h:] for c in columns]
    if h:
        here = service.evaluate_vectorized(program, Stacked(head, t.arrays(head, 0), h, _WRAP, _cap(service, h)))
        outs, part = await asyncio.gather(here, _part(service, t, tail, n - h, state), return_exceptions=True)
    else:
        outs, part = None, (await asyncio.gather(_part(service, t, tail, n, state), return_exceptions=True))[0]
    for x in (outs, part):
        if isinstance(x, BaseException) and not isinstance(x, Exception):
            raise x  # cancelled
    if not isinstance(part, Written):  # the worker answered nothing: no other chunk of this batch is split, and
        state["split"] = False  # its rows are left for this process (alone, or in the next chunk)
        if not h:
            if isinstance(part, WorkerTimeout):  # the chunk had its time limit: its rows answer alone, each started
                return  # only within the batch's time limit (504 unrun past it), not a second chunk's limit here
            await _vectorize_rows(service, i, t, ahead, state)  # the whole chunk here, now
            return
    if h:
        if outs is None or isinstance(outs, Exception):  # a limit or the time limit of the chunk (or it does not
            return  # vectorize): each document alone answers (the worker's rows too)
        t.done += h
        _place(ahead, i, rows[t.done - h:t.done], outs)
    if isinstance(part, Written):
        t.done += n - h
        _place(ahead, i + h, rows[t.done - n + h:t.done], part)


def _cap(service, n: int) -> int:
    """The most bytes the C filler may make of a chunk of n documents' answers (their wraps included): what the
    batch may keep of them (max_batch_response_bytes); past it the fast writer makes pieces, as without the
    filler, and the route keeps them one at a time to the limit."""
    return service.settings.max_batch_response_bytes + n * (len(_WRAP[0]) + len(_WRAP[1]))


def _place(ahead: dict, i: int, done: list, outs) -> None:
    """A chunk's answers, for the documents `done` (the first one i, or one after it), into `ahead`."""
    if type(outs) is Written and done[0] == i and done[-1] - done[0] == len(done) - 1:
        ahead[i] = _Run(outs)  # documents i to i + n - 1: no other document among them
    elif type(outs) is Written:
        ahead.update((r, (outs, j)) for j, r in enumerate(done))
    else:
        ahead.update(zip(done, outs))


async def _take_tail(service, body: bytes, scan, tail, ahead: dict, state: dict):
    """The batch's documents once the scan's (scan.matched) are answered: with the worker's (tail, a task of
    _part_text) placed after them in `ahead`; or, where it answered nothing, the body read again here without a
    split, its documents after the scan's left to run here as without a pool (their answers the same). The Scan
    to go on with; raises _Restart where that reading gives up on the body (the whole-body path's batch)."""
    try:
        part = await tail
    except Exception:  # noqa: BLE001 - killed past the deadline, died: its documents are answered here
        part = None
    m = len(scan.matched)
    t, at = scan.tail
    if isinstance(part, Written):
        scan.matched += [t] * len(part)
        _place(ahead, m, list(range(m, m + len(part))), part)
        return scan
    state["split"] = False
    again = await _read_in_turn(body, service, False, service.settings.loop_max_body_bytes)
    new = again[0]
    if new is None or len(new.matched) <= m or new.starts[m] != at:  # (the last: cannot be, the scan's read of
        raise _Restart  # the documents before `at` is the same)
    return new


class _Restart(Exception):
    """The batch is to be answered again from its start, without a split (_take_tail)."""





class _Run:
    """A vectorized chunk's answers (batch_write.Written) for documents in a row, from the current one."""

    __slots__ = ("written",)

    def __init__(self, written):
        self.written = written


class _Refused:
    """A document answered without running (a duplicate key in it): its status and body."""

    def __init__(self, status: int, body: bytes):
        self.status, self.body = status, body


def _error(type_: str, loc: list, msg: str) -> bytes:
    return orjson.dumps({"detail": [{"type": type_, "loc": loc, "msg": msg}]})


async def _evaluate(service, text: bytes) -> tuple[int, bytes]:
    """One document, given as its text, through POST /v1/evaluate's service path: (status, body)."""
    try:
        return 200, await service.evaluate(text)
    except Exception as exc:  # noqa: BLE001 - mapped exactly as POST /v1/evaluate maps it
        response = to_response(exc)
        return response.status_code, bytes(response.body)


def _encode(doc) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # an integer past 64 bits (kept exact by parse_doc): the engine reports its overflow
        return json.dumps(doc).encode()


def _documents(body: bytes, limit: int, service) -> tuple[list, list]:
    """The batch's documents (a document with a key given twice replaced by its 422), and each one's plan
    cache key and leaf arrays (engine PlanCache.key), or None; or the batch's error."""
    batch = parse_doc(body)
    if not isinstance(batch, dict):
        raise SchemaError([{"type": "model_type", "loc": ["body"],
                            "msg": "Input should be an object with the field `requests`"}])
    # listed as check_envelope lists an object's (review17 R10)
    errors = unknown_keys([k for k in batch if k != "requests"], ["body"], "BatchRequest")
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
    hits = eng.batch_keys(docs, service.limits)
    return _refuse_duplicates(body, docs, hits), hits


def _colons(docs: list, hits: list) -> int:
    """Keys and colons in strings of {"requests": docs}, as body._keys_and_colons counts them; documents of
    one structure (one PlanCache key) hold the same keys and strings but for their numbers: counted once."""
    total = 1
    per_key: dict = {}
    for doc, hit in zip(docs, hits):
        if type(doc) is str:
            total += doc.count(":")
        elif hit is None:
            total += sum(_keys_and_colons(doc))
        else:
            n = per_key.get(hit[0])
            if n is None:
                n = per_key[hit[0]] = sum(_keys_and_colons(doc))
            total += n
    return total


def _refuse_duplicates(body: bytes, docs: list, hits: list) -> list:
    """Documents in which one object gives a key twice answer 422 alone (re-encoded, the duplicate would be
    gone: orjson keeps the last). The whole text is checked only where its colons do not add up."""
    if colons_known(body, _colons(docs, hits)):
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
