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
- `max_batch_response_bytes`: the answers are held in memory until the last, so once they reach it the
  remaining documents are not run and answer 413 (a vectorized chunk's answers count as each comes up);
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
answered here, as without a pool. docs/RELIABILITY.md ("Batches") says how a batch uses the pool.
"""
from __future__ import annotations

import asyncio
import json
import os
import time

import anyio.to_thread
import numpy as np
import orjson
from fastapi import APIRouter, Request

from app.core.body import _keys_and_colons, check_duplicate_keys, check_parse_cost, colons_known, parse_doc, read_body
from app.core.errors import InvalidJSON, OpsLimitExceeded, SchemaError, ServiceError, to_response
from app.core.responses import JSONBytes
from app.core.workers import NoIdleWorker, WorkerTimeout
from app.examples import BATCH_EXAMPLES
from app.routers.evaluate import evaluator
from app.schemas import BatchResponse, ErrorResponse
from app.services import engine as eng
from app.services.batch_memory import Answers, release_answers
from app.services.batch_part import answer_part
from engine.program import batch_text
from engine.program.batch import Stacked, vectorizable
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
                "each would get alone; those not started in time answer 504, those past the response-size "
                "limit 413.",
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
    settings = service.settings
    body = await read_body(request.scope, request.receive, settings.max_body_bytes)
    if len(body) <= settings.loop_max_body_bytes:
        scan, docs, hits, groups = _read(body, service)
    else:  # read in a thread, as /v1/evaluate parses a body past loop_max_body_bytes: 1 MB of documents that
        # match no template takes ~130 ms to read, 15 MB ~2 s, which would hold every other request (red team 8, F3)
        scan, docs, hits, groups = await anyio.to_thread.run_sync(_read, body, service)
    start = checked = yielded = time.monotonic()
    parts = Answers(b'{"results":[', request.scope, settings.retry_after_s)  # held as they come (batch_memory)
    size = 0
    ahead: dict[int, bytes] = {}  # answers of a vectorized chunk, for documents after the current one
    skip = 0  # documents answered already, with a run of documents that came as one (_Run)
    state: dict = {}  # "split": False once a compute worker's part of a chunk answered nothing (_vectorize_rows)
    for i, doc in enumerate(docs):
        if i < skip:
            continue
        if size > parts.held:  # the answers' bytes held in the budgets as they come (app/services/batch_memory.py)
            parts.hold(size)
        ran = False  # whether this document ran alone: then the handler yields before the next one
        if isinstance(doc, _Refused):
            status, out = doc.status, doc.body
        elif size >= settings.max_batch_response_bytes:
            status, out = 413, _error("limit_exceeded", [], f"not run: the batch's answers reached the limit "
                                      f"max_batch_response_bytes={settings.max_batch_response_bytes}")
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
                if size + sum(written.sizes) - written.sizes[-1] < settings.max_batch_response_bytes:
                    parts += written.pieces  # all before the size limit
                    size += sum(written.sizes)
                    skip = i + len(written)
                    continue
                ahead.update((i + j, (written, j)) for j in range(len(written)))  # one at a time
                out = ahead.pop(i)
            if type(out) is tuple:  # a document of a chunk written as pieces (batch_write.Written)
                written, j = out
                size += written.sizes[j]
                parts += written.doc_pieces(j)  # wrapped as below
                continue
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
        size += len(out)
        parts += (b'{"status":%d,"body":' % status, out, b"},")
        if ran and time.monotonic() - yielded >= _YIELD_S:
            await asyncio.sleep(0)  # let other requests in between documents
            yielded = time.monotonic()
    k = len(parts) - 1
    while k and not parts[k]:  # (a document the writer wrote among a Written chunk's pieces leaves empty ones)
        k -= 1
    if k:
        parts[k] = parts[k][:-1]  # the last answer's comma: every answer ends in b"},"
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


def _program_and_chunk(service, key, count: int):
    """The service's program of a structure and how many of its `count` documents one vectorized run takes;
    n < 2 where none runs vectorized: the first documents of a structure run alone (they record and lower its
    program), and a program found not to vectorize is decided once (its notes): no columns read nor thread taken
    for each of its documents."""
    program = eng.PLANS.get(key)
    if program is None or not program.lowered or not vectorizable(program):
        return program, 0
    return program, service.chunk_size(program, count)


_COST_PER_BYTE = 121  # the most body.parse_cost counts for one byte of text (a `:`)

# ----- the batch read as text (engine.program.batch_text): documents of one text template never parsed -----


def _read(body: bytes, service) -> tuple:
    """The batch's documents: (scan, docs, hits, groups): read as text (scan; docs are its matches), or parsed
    as a whole (scan None); raises the batch's own errors (422, 413)."""
    limit = service.settings.max_batch_documents
    scan = _scan(body, limit, service)
    if scan is not None:  # read as text: a document is the Template it matched, or its span (a tuple)
        return scan, scan.matched, None, None
    docs, hits = _documents(body, limit, service)
    return None, docs, hits, _groups(docs, hits)


def _scan(body: bytes, limit: int, service):
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
            outs = await service.evaluate_vectorized(program, Stacked(columns, t.arrays(columns, 0), n, _WRAP))
        except Exception:  # noqa: BLE001 - a limit or the time limit of the chunk: each document alone answers
            return
        if outs is not None:
            t.done += n
            _place(ahead, i, rows[chunk], outs)
        return
    head, tail = [c[:h] for c in columns], [c[h:] for c in columns]
    if h:
        here = service.evaluate_vectorized(program, Stacked(head, t.arrays(head, 0), h, _WRAP))
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


def _place(ahead: dict, i: int, done: list, outs) -> None:
    """A chunk's answers, for the documents `done` (the first one i, or one after it), into `ahead`."""
    if type(outs) is Written and done[0] == i and done[-1] - done[0] == len(done) - 1:
        ahead[i] = _Run(outs)  # documents i to i + n - 1: no other document among them
    elif type(outs) is Written:
        ahead.update((r, (outs, j)) for j, r in enumerate(done))
    else:
        ahead.update(zip(done, outs))


# A vectorized chunk of at least this many documents is split with a compute worker (app/services/batch_part.py)
# where one is free: below it the hand-off (~0.3-0.5 ms of this process's time: the call, the memory file's read,
# the worker's own check run) costs more than the half of the run it saves (docs/runs/batch5.md).
SPLIT_MIN_ROWS = 512
# A batch takes at most one compute worker, only one idle now, and only while this many others stay idle for the
# pool's other users (/v1/evaluate requests, transforms); else its whole chunk runs here (never waits for one).
_KEEP_IDLE = 1
# The share of a split chunk's rows the worker answers (the rest run here at the same time); while another batch
# is in flight in this process (_IN_FLIGHT), _WORKER_SHARE_BUSY: the server's CPU then bounds the batches'
# throughput, and the whole chunk in the worker takes ~2 ms of it off a batch (docs/runs/batch5.md).
_WORKER_SHARE = 0.5
_WORKER_SHARE_BUSY = 1.0
_IN_FLIGHT = [0]  # batches being answered by this process now


def _tail_rows(service, n: int, state: dict) -> int:
    """How many of a chunk's n rows a compute worker answers: half, where the chunk is large enough, there is a
    pool with a worker it may take (WorkerPool.run_idle's rule), memory files exist (Linux), and no part of this
    batch failed in a worker; else 0."""
    pool = service.pool
    if n < SPLIT_MIN_ROWS or pool is None or not state.get("split", True) or not hasattr(os, "memfd_create"):
        return 0
    if not pool.lendable(_KEEP_IDLE):
        return 0
    return int(n * (_WORKER_SHARE_BUSY if _IN_FLIGHT[0] > 1 else _WORKER_SHARE))


async def _part(service, t, columns: list, k: int, state: dict):
    """The answers of k rows of template t (their columns) from a compute worker (batch_part.answer_part), as a
    Written of one piece a document (views of the text it wrote); None where it answered nothing (no worker
    free, did not vectorize, past the response limit); raises past the deadline (its worker killed) or where it
    died."""
    s = service.settings
    deadline = time.monotonic() + s.time_limit_s
    fd = _FILES.pop() if _FILES else os.memfd_create("gradserve-batch", os.MFD_CLOEXEC)
    keep = False
    try:
        try:
            got = await service.pool.run_idle(
                answer_part, t.doc, columns, t.arrays(columns, 0), k, _WRAP, service.limits, s.plan_cache_entries,
                deadline, s.max_process_bytes, f"/proc/{os.getpid()}/fd/{fd}", s.max_batch_response_bytes,
                timeout=max(deadline - time.monotonic(), 0.001) + _KILL_GRACE_S, keep=_KEEP_IDLE)
        except NoIdleWorker:
            return None
        if got is None:
            return None
        sizes, total = got
        wrapped = len(_WRAP[0]) + len(_WRAP[1])
        if len(sizes) != k or sum(sizes) + k * wrapped != total:
            return None
        buf = _buffer(total, state)
        view = memoryview(buf)[:total]
        done = 0
        while done < total:
            got = os.preadv(fd, [view[done:]], done)
            if got <= 0:
                return None
            done += got
        keep = total <= _SPARE_BYTES and len(_FILES) < _SPARE_MAX  # (read: the next call may write it again)
    finally:
        if keep:
            _FILES.append(fd)
        else:
            os.close(fd)
    pieces, at = [], 0
    for size in sizes:
        pieces.append(view[at:at + size + wrapped])
        at += size + wrapped
    return Written(pieces, 1, sizes, [], _WRAP)


# Buffers the workers' answers are read into, reused from batch to batch: a fresh 1.4 MB object a batch cost
# ~1 ms more of page faults and malloc trims in the join than a buffer read into again (docs/runs/batch5.md).
# A buffer is a batch's until its answer is joined; _SPARE_MAX are kept, none past _SPARE_BYTES.
_SPARE: list[bytearray] = []
# Memory files the workers write their answers into (memfd), reused likewise: a fresh one's pages are allocated
# and zeroed by the worker's write (~0.6 ms for 1.4 MB), a used one's only copied into. One is a call's from
# before it is sent until its answer is read (no await between the worker's reply and the read: no other batch
# can take it meanwhile); the worker killed mid-write leaves a file the next call overwrites (it reads only
# the `total` bytes its own call reports).
_FILES: list[int] = []
_SPARE_MAX = 2
_SPARE_BYTES = 8 << 20


def _buffer(size: int, state: dict) -> bytearray:
    """A buffer of at least `size` bytes for this batch (state["buffers"], given back by _give_back)."""
    buf = None
    while _SPARE and buf is None:
        b = _SPARE.pop()
        if len(b) >= size:
            buf = b
    if buf is None:
        buf = bytearray(size)
    state.setdefault("buffers", []).append(buf)
    return buf


def _give_back(state: dict) -> None:
    """The batch's buffers, its answer joined (nothing of it reads them any more), kept for the next batches."""
    for buf in state.pop("buffers", ()):
        if len(_SPARE) < _SPARE_MAX and len(buf) <= _SPARE_BYTES:
            _SPARE.append(buf)


_KILL_GRACE_S = 0.5  # as EvaluateService kills a worker past a request's deadline


def _fitting(t, dtypes: list):
    """Per row of a template's documents, whether its values fit its leaves' integer dtypes (True: no leaf of
    an integer dtype): a cast past them would wrap silently where the document alone answers its overflow error
    (engine.program.wire.make_tensor). A float is taken only strictly inside (min - 1, max + 1), so that its
    truncation fits; NaN never."""
    dtypes = [np.dtype(d) for d in dtypes]
    if not any(d.kind in "iu" for d in dtypes):
        return True
    columns = t.columns()
    n = len(t.rows)
    ok = np.ones(n, bool)
    for col, dt in zip(columns, dtypes):
        if dt.kind not in "iu" or col.dtype == dt:
            continue
        info = np.iinfo(dt)
        with np.errstate(invalid="ignore"):
            if col.dtype.kind == "f":
                good = (col > float(info.min) - 1) & (col < float(info.max) + 1)
            else:
                good = (col >= info.min) & (col <= info.max)
        ok &= good.reshape(n, -1).all(1)
    return ok


_WRAP = (b'{"status":200,"body":', b"},")  # each document's answer in the batch's, as evaluate_batch writes it


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
