"""Request bodies: declared JSON, read under a size limit and a process-wide budget, parsed by orjson under a
bound of what the parse builds, with duplicate keys refused."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from app.core.errors import BodyTooLarge, InvalidJSON, MissingBody, OverCapacity, UnsupportedMediaType
from engine import budget as _budget

# An answer sent before the whole body was read closes the connection: what the client still sends is not
# read for nothing, nor mistaken for its next request.
CLOSE = {"Connection": "close"}


def _too_large(size: int | str, limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"request body of {size} bytes is over the limit max_body_bytes={limit}", ["body"],
                        CLOSE)


def _not_json(kind: bytes | None) -> UnsupportedMediaType | None:
    """None where `kind` (a Content-Type) is `application/json` (parameters allowed, charset UTF-8 only), else
    the 415. A web page can POST text/plain, form data or no type at all to any origin without a CORS
    preflight; to send application/json it must ask first, so a server on localhost is not a target for every
    page a user opens."""
    if kind == b"application/json":
        return None
    if kind is not None:
        base, _, params = kind.partition(b";")
        if base.strip().lower() == b"application/json" and all(
                name.strip().lower() != b"charset" or value.strip().strip(b'"').lower() in (b"utf-8", b"utf8")
                for name, _, value in (p.partition(b"=") for p in params.split(b";") if p.strip())):
            return None
    got = f"got {kind.decode('latin-1')[:100]!r}" if kind is not None else "the request has no Content-Type"
    return UnsupportedMediaType(f"the body must be JSON, sent as Content-Type: application/json ({got})",
                                ["header", "content-type"], CLOSE)


class BodyBudget:
    """Bytes of request bodies this process holds at once: a process-wide bound, so that hundreds of large or
    slow bodies cannot grow memory without one. The front door takes a body's bytes as they arrive and gives
    them back once its request is answered (the parsed document and the engine's arrays, which grow from the
    body, live no longer than that). A body's first `free` bytes are not counted: every connection may hold
    that much (uvicorn itself buffers 64 KiB of a body per connection), connections are bounded
    (GRADSERVE_MAX_CONNECTIONS), and so small requests, most of them, are never refused for the large ones
    that fill the budget. One event loop: no lock."""

    free = 64 * 1024

    def __init__(self, limit: int, retry_after_s: int):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.used = 0

    def charge(self, size: int) -> int:
        """What a body of `size` bytes takes from the budget."""
        return size - self.free if size > self.free else 0

    def refusal(self) -> OverCapacity:
        return OverCapacity(f"the server holds as many request bodies as it may (max_buffered_body_bytes="
                            f"{self.limit}); retry later", ["body"],
                            {"Retry-After": str(self.retry_after_s), **CLOSE})

    def take(self, n: int) -> None:
        if self.used + n > self.limit:
            raise self.refusal()
        self.used += n

    def give(self, n: int) -> None:
        self.used -= n


READ = "gradserve.body"  # the scope key under which the front door hands on the body it read


async def read_body(scope: Scope, receive: Receive, limit: int, budget: BodyBudget | None = None,
                    json_only: bool = False) -> bytes:
    """The whole body, refused as soon as it is known to pass `limit`: by Content-Length, else while
    streaming. A client gone before the end raises ClientDisconnect, as Request.stream() does. With a
    `budget`, the body's bytes are taken from it as they arrive (503 where it has too few); the caller gives
    back budget.charge(len(body)) once done with it (on an error, this function gives back what it took).
    `json_only`: 415 unless it is declared JSON. A body the front door read already (scope[READ]) is
    returned as it is."""
    body = scope.get(READ)
    if body is not None:
        return body
    length = kind = None
    for k, v in scope["headers"]:
        if k == b"content-length":
            length = v
        elif k == b"content-type" and kind is None:
            kind = v
    if json_only and (refusal := _not_json(kind)) is not None:
        raise refusal
    if length is not None and length.isdigit():
        n = int(length)
        if n > limit:
            raise _too_large(n, limit)
        if budget is not None and n > budget.free and budget.used + n - budget.free > budget.limit:
            raise budget.refusal()
    chunks, size = [], 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                grown = size + len(chunk)
                if grown > limit:
                    raise _too_large(f"more than {limit}", limit)
                if budget is not None and grown > budget.free:
                    budget.take(budget.charge(grown) - budget.charge(size))
                size = grown
                if not message.get("more_body", False):
                    if not chunks:  # the common case: the whole body in one message
                        return chunk
                    chunks.append(chunk)
                    return b"".join(chunks)
                chunks.append(chunk)
            elif message["type"] == "http.disconnect":
                raise ClientDisconnect()
    except BaseException:
        if budget is not None:
            budget.give(budget.charge(size))
        raise


_SCALARS = frozenset((int, float, str, bool, type(None)))


def _keys_and_colons(doc: Any) -> tuple[int, int]:
    """Keys in the parsed document, and the colons inside its strings (keys and values). Together they are
    the colons of the text, unless a key was given twice (orjson keeps one) or a colon was escaped
    (\\u003a): a mismatch sends the body to the exact check. Lists of numbers (tensor data) cost C speed."""
    keys = colons = 0
    stack = [doc]
    while stack:
        x = stack.pop()
        if type(x) is dict:
            keys += len(x)
            for k, v in x.items():
                if ":" in k:
                    colons += k.count(":")
                t = type(v)
                if t is str:
                    colons += v.count(":")
                elif t is dict or t is list:
                    stack.append(v)
        elif type(x) is list:
            types = set(map(type, x))
            if str in types:
                colons += sum(v.count(":") for v in x if type(v) is str)
            if not types <= _SCALARS:
                stack.extend(v for v in x if type(v) in (dict, list))
    return keys, colons


def _first_duplicate(body: bytes) -> str | None:
    """The first key given twice in one object; "" where the text cannot be checked (nesting too deep for
    the standard library's parser), None where no key repeats."""
    found: list[str] = []

    def hook(pairs):
        d = dict(pairs)
        if len(d) != len(pairs) and not found:
            seen = set()
            found.extend(k for k, _ in pairs if k in seen or seen.add(k))
        return d

    try:
        json.loads(body, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return ""
    return found[0] if found else None


# An integer literal orjson may not keep exact: it turns those outside [-2**63, 2**64) into floats, silently
# (2**70 in int64 data became 1.18e21 and -2**63-1 became -2**63, where PyTorch raises "Overflow when unpacking
# long long"). Over-matching (digits inside a string) only costs a second, exact parse.
_BIG_INT = re.compile(rb"(?<![0-9.eE+\-])-?[0-9]{19,}(?![0-9.eE])")
# The regex costs ~12 us on a 500-byte body (a try at every digit); most bodies hold no run of 19 digits,
# which one C pass finds: every digit mapped to "0", everything else to " ".
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_RUN = b"0" * 19


def _maybe_big_int(body: bytes) -> bool:
    return _RUN in body.translate(_DIGITS) and _BIG_INT.search(body) is not None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _exact_ints(body: bytes) -> Any:
    """The document again, parsed by the standard library, which keeps every integer exact. orjson has
    already accepted the text, so only the integers can differ (where the standard library cannot parse it,
    nesting too deep for its recursion, orjson's document it is)."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return orjson.loads(body)


# ----- what a parse builds -----

# Bodies up to this size are parsed without counting what the parse builds: at most ~50x their size each.
SMALL_BODY = 16 * 1024
# The most bytes of Python objects one body's parse may build (413 past it): max_request_bytes, set by the
# server (app.services.evaluate) and by a compute worker per call (app.services.engine); the default is the
# setting's.
_parse_limit = [256 << 20]


def set_parse_limit(max_bytes: int) -> None:
    _parse_limit[0] = int(max_bytes)


def parse_cost(body: bytes) -> int:
    """An upper bound of the bytes of the Python objects that parse_doc builds from `body` (CPython, 64-bit),
    from five counts of its text (C speed, ~2 ms a MiB); 0 for a small body. Per token, at most: a list 56
    bytes and its slot 8; an object 64 and its slot, its first key's table 120 (a `:` pays that, or a later
    key's share of a grown table); a value 36 (a float 24 or an int 28-36, and its slot: counted by its `,`);
    a string 49 and its text (two `"`); true, false, null and small ints are shared. Against what the parse
    really holds (tests/app/test_parse_cost.py, tracemalloc): 1.1-1.4x for lists of numbers, ~1.5x for lists
    of lists or objects, more where shared objects abound. Not counted: orjson's transient index, 12 bytes
    per byte of text, which lives only while the parse runs (one at a time per process: orjson holds the
    GIL)."""
    if len(body) <= SMALL_BODY:
        return 0
    c = body.count
    return (len(body) + 64 * c(b"[") + 72 * c(b"{") + 120 * c(b":") + 36 * (c(b",") + 1) + 29 * c(b'"'))


def check_parse_cost(body: bytes) -> int:
    """parse_cost(body), or 413 where it is past the limit (max_request_bytes): a parsed document is the
    request's memory as much as its tensors are."""
    n = parse_cost(body)
    if n > _parse_limit[0]:
        raise BodyTooLarge(f"the request body would take up to {n} bytes once parsed (lists and objects cost "
                           f"more than their text), over the limit of max_request_bytes={_parse_limit[0]}",
                           ["body"])
    return n


@contextmanager
def parsed_memory(body: bytes):
    """While a request's document lives (from its parse to its answer): what it holds, checked against the
    request's limit (413) and held from this process's memory budget (engine.budget.reserve: 503 where other
    requests hold it), so that documents and tensors share one bound per process (max_process_bytes). Held as
    the request's own (engine.budget.reserved): where it and the request's tensors pass max_process_bytes
    together, the answer is 413, not a 503 that no retry can pass (redteam13 F5)."""
    n = check_parse_cost(body)
    with _budget.reserved(n, "the request's parsed body"):
        yield


def parse_json(body: bytes, checked: bool = False) -> Any:
    """orjson's parse, plus what it lets through: a key given twice in one object (it keeps the last)."""
    doc = parse_doc(body, checked)
    check_duplicate_keys(body, doc)
    return doc


def parse_doc(body: bytes, checked: bool = False) -> Any:
    """orjson's parse, with integers past 64 bits kept exact; duplicate keys not yet checked. The parse's
    cost is checked first (check_parse_cost) unless the caller has (`checked`)."""
    if not body.strip():
        raise MissingBody("Field required", ["body"])
    if not checked:
        check_parse_cost(body)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:  # also nesting deeper than 1024, with no recursion on our side
        raise InvalidJSON(f"JSON decode error: {e.msg}", ["body", e.pos]) from None
    if _maybe_big_int(body):
        del doc  # the exact parse builds the document again: not both at once
        doc = _exact_ints(body)
    return doc


def colons_known(body: bytes, colons: int) -> bool:
    """Whether the text has exactly `colons` colons and no \\u escape: then a document whose keys and
    string colons number `colons` has no key twice (an escaped colon could otherwise hide one)."""
    return body.count(b":") == colons and body.find(b"\\u") < 0  # (.find: `in` on bytes raises inside)


def check_duplicate_keys(body: bytes, doc: Any) -> None:
    if type(doc) in (dict, list) and not colons_known(body, sum(_keys_and_colons(doc))):
        key = _first_duplicate(body)
        if key is not None:  # else the difference was an escaped colon
            what = f"the key {key!r} appears" if key else "a key appears"
            raise InvalidJSON(f"JSON decode error: {what} more than once in one object", ["body"])
