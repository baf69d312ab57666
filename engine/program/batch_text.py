"""Batches read as text (POST /v1/evaluate/batch): documents of one structure matched on the body's bytes against a
template of an earlier document's text, their leaf numbers read straight into arrays, never parsed into
Python objects.

A Template is one document's own text with every number of its leaves' `data` cut out as a hole (a regex
group that takes a JSON number of the same kind: an integer for an integer, a fraction or exponent for one).
A later document whose text is the template's byte for byte but for those numbers is the same document with
other leaf values: the same keys in the same order, the same whitespace, the same names, ops, dtypes and
flags, the same shapes (the brackets are text) and kinds of data (each number keeps its kind), so what
PlanCache.key reads of it (its text but for the data's values, and of the data their kinds and shapes) is
the template document's; its leaf arrays are the numbers, as the parse would give them (float() of a JSON
number is the correctly rounded double, as orjson's parse is). Anything else does not match and is left to
the caller (parsed alone, through the usual path). Bounded: the holes' digits are capped (an integer stays
within int64, an exponent within two digits, so no number is ever infinite), a template is made only of a
document of at most TEXT_MAX bytes with at most HOLES_MAX holes, and matching is a regex of literal text and
those holes from one position, linear in the document's length. Runs of one template's documents are matched
with lax holes (any run of number characters: _LAX) and checked at the end of the scan all at once
(_lax_valid: one orjson parse, which refuses what is not a JSON number and a float past a double, and NumPy
over the texts for each hole's kind and the integer cap); where the check fails, the body is scanned again
with the strict holes (at most twice the work). What they take beyond the strict holes is a float's text past
their caps (1e100, many decimals), read as the document's own parse reads it.

`scan` walks a batch's body: `{"requests": [doc, ...]}` with nothing else in it; each document is matched
against the recent templates (at most TRIES), else its end found by the standard library's raw_decode and the
caller's `make` called on its text (a new template, at most TEMPLATES a batch); a document the standard
library reads but orjson does not (NaN, Infinity, 1e400, a lone surrogate) makes the body not JSON. It gives
up (None: the caller parses the whole body as before) on anything it does not foresee: non-ASCII text,
another envelope, more documents than the limit, a document whose end cannot be found or that is not JSON.
"""
from __future__ import annotations

import json
import re
from itertools import chain

import numpy as np
import orjson

from engine.program import batch_write
from engine.program.wire import INT_WIRE

TEXT_MAX = 64 * 1024  # bytes of a document a template is made of
HOLES_MAX = 512  # numbers of one template
TEMPLATES = 16  # templates one batch makes
TRIES = 3  # templates a document is matched against (the most recently matched first)

_WS = rb"[ \t\n\r]*"
_HEAD = re.compile(_WS + rb"\{" + _WS + rb'"requests"' + _WS + rb":" + _WS + rb"\[" + _WS)
_NEXT = re.compile(_WS + rb"(?:,|(\])" + _WS + rb"\}" + _WS + rb"\Z)" + _WS)
_INT = rb"(-?(?:0|[1-9][0-9]{0,17}))"
_FLOAT = rb"(-?(?:0|[1-9][0-9]{0,24})(?:\.[0-9]{1,40}(?:[eE][-+]?[0-9]{1,2})?|[eE][-+]?[0-9]{1,2}))"
# A lax hole: a run of the characters of JSON numbers (~40% of a seed document's match time was its strict holes').
# A run of documents matched with lax holes is checked as a whole at the end of the scan (_lax_valid: one parse,
# NumPy over the texts): each hole's text a JSON number of its hole's kind within the integer cap, else the body
# is scanned again with the strict holes. It takes what the strict hole takes, with the same text (a hole is
# followed by a character no number has: the template checks it), and more only of numbers that read as the
# document's own parse reads them (a float's text past the strict caps, as 1e100).
_LAX = rb"(-?[0-9][-+.0-9eE]*)"
_NUMBER_CHARS = frozenset(b"-+.0123456789eE")
_FLOAT_MAX = 1 + 25 + 1 + 40 + 2 + 2  # the longest text a strict float hole takes
_INT_FULL = re.compile(_INT + rb"\Z")
_FLOAT_FULL = re.compile(_FLOAT + rb"\Z")
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+\-]*|[{}\[\]:,]|true|false|null|[ \t\n\r]+')
_DECODER = json.JSONDecoder()


class Template:
    """A document's text with its leaves' numbers as holes: `pattern` matches a document of the same text but
    for those numbers; `leaves` per leaf (its data's shape, 'f' or 'i' for the array it reads as, or None for a
    float given as a plain number, read as a Python float as the parse gives it); `key`: the template
    document's PlanCache key; `rows`: the documents matched (their index in the batch); `numbers`: their
    holes' texts, row after row."""

    __slots__ = ("pattern", "next", "lax", "lax_next", "floats", "leaves", "holes", "key", "doc", "rows", "numbers",
                 "values", "done", "fit", "head", "lits", "bulk")

    def __init__(self, pattern, leaves, holes, key, doc, lax=None, floats=None, head=b"", lits=None):
        self.pattern = pattern
        # the same followed by a comma: the document and the start of the next one
        self.next = re.compile(pattern.pattern + _WS + rb"," + _WS)
        self.lax = lax  # the pattern with lax holes, or None (then the strict one is used throughout)
        self.lax_next = None if lax is None else re.compile(lax.pattern + _WS + rb"," + _WS)
        self.floats = floats  # per hole, whether it is a float's (else an integer's)
        self.leaves = leaves
        self.holes = holes
        self.key = key
        self.doc = doc  # the template document, parsed
        self.rows: list[int] = []
        self.numbers: list[bytes] = []
        self.values = None  # the numbers parsed (one orjson parse, made once: _values)
        self.done = 0  # rows answered so far (the caller's cursor)
        self.fit = None  # the caller's: per row, whether its values fit their leaves' dtypes (read once)
        self.head = head  # the document's text before its first hole (where a split may start: scan's `split`)
        self.lits = lits  # the document's text between its holes (one more than holes), for _bulk; or None
        self.bulk: dict = {}  # _bulk's patterns, per length of the text between two documents (shared by fresh())

    def fresh(self) -> Template:
        """The same template with no documents matched yet (for another batch)."""
        t = Template.__new__(Template)
        t.pattern, t.next, t.leaves, t.holes, t.key, t.doc = (self.pattern, self.next, self.leaves, self.holes,
                                                              self.key, self.doc)
        t.lax, t.lax_next, t.floats, t.head = self.lax, self.lax_next, self.floats, self.head
        t.lits, t.bulk = self.lits, self.bulk
        t.rows, t.numbers, t.values, t.done, t.fit = [], [], None, 0, None
        return t

    def columns(self, rows: slice | None = None) -> list:
        """Per leaf, its values in the matched documents (rows of `rows`) stacked along a new leading axis:
        float64 for a float leaf, int64 for an integer one. The numbers are read by one orjson parse of their
        texts (each a JSON number within the holes' caps: a float is the correctly rounded double, as float()
        reads it and as the parse of the document would)."""
        k = self.holes
        values = self._values()
        if rows is not None:
            values = values[rows.start * k:rows.stop * k]
        n = len(values) // k
        # (np.fromiter: half np.array's time for a list of Python floats, the same conversion of each)
        floats = np.fromiter(values, np.float64, len(values)).reshape(n, k)
        out, at = [], 0
        for shape, kind in self.leaves:
            size = int(np.prod(shape, dtype=np.int64))
            if kind == "i":  # exact: an integer hole holds at most 18 digits
                col = np.array(values, dtype=object).reshape(n, k)[:, at:at + size].astype(np.int64)
            else:
                col = floats[:, at:at + size]
            out.append(np.ascontiguousarray(col).reshape((n,) + tuple(shape)))
            at += size
        return out

    def _values(self) -> list:
        """The numbers of every row, parsed (once)."""
        if self.values is None:
            self.values = orjson.loads(b"[%b]" % b",".join(self.numbers))
        return self.values

    def arrays(self, col: list, j: int) -> list:
        """Document j's leaf arrays as PlanCache.key gives them (a float leaf's a Python float), from columns."""
        return [float(c[j]) if kind is None else np.array(c[j]) for c, (_shape, kind) in zip(col, self.leaves)]


def make_template(text: bytes, doc, key, arrays) -> Template | None:
    """The Template of a document (its text, its parse, PlanCache.key's key and leaf arrays for it), or None
    where it cannot be made: a leaf whose data is not all numbers (the protocol's "NaN" strings, booleans),
    text too long, too many numbers."""
    if len(text) > TEXT_MAX or not isinstance(doc, dict) or not isinstance(doc.get("leaves"), dict):
        return None
    names = list(doc["leaves"])
    if not names or len(names) != len(arrays):
        return None
    leaves = []
    for a, name in zip(arrays, names):
        if type(a) is float:
            leaves.append(((), None))
        elif isinstance(a, np.ndarray) and a.dtype.kind in "if" and a.size:
            if a.dtype.kind == "f" and _integer_dtype(doc["leaves"][name]):
                return None  # its ints must be read exactly (wire.fast_leaf), not as a float hole's doubles
            leaves.append((a.shape, a.dtype.kind))
        else:
            return None
    holes = _holes(text, names)
    if holes is None:
        return None
    expect = [int(np.prod(s, dtype=np.int64)) for s, _ in leaves]
    if [sum(1 for h in holes if h[2] == i) for i in range(len(names))] != expect or len(holes) > HOLES_MAX:
        return None
    # holes in the text are in leaf order (a leaf's data is one value in the object of leaves)
    if [h[2] for h in holes] != sorted(h[2] for h in holes):
        return None
    parts, lax, at = [], [], 0
    for start, end, leaf, is_int in holes:
        if is_int and leaves[leaf][1] is None:
            return None  # a float leaf written as an integer: it would not read as a float
        parts += [re.escape(text[at:start]), _INT if is_int else _FLOAT]
        lax += [parts[-2], _LAX]
        at = end
    parts.append(re.escape(text[at:]))
    lax.append(parts[-1])
    try:
        pattern = re.compile(b"".join(parts))
        lax_pattern = re.compile(b"".join(lax))
    except (re.error, RecursionError, OverflowError):
        return None
    m = pattern.match(text)
    if m is None or m.end() != len(text):
        return None
    lm = lax_pattern.fullmatch(text)
    after = [text[end] for _, end, _, _ in holes if end < len(text)]
    if lm is None or lm.groups() != m.groups() or any(c in _NUMBER_CHARS for c in after):
        lax_pattern = None  # (cannot be: a number in JSON text is followed by a comma, bracket, brace or space)
    lits = [text[a[1]:b[0]] for a, b in zip([(0, 0)] + holes, holes)] + [text[holes[-1][1]:]]
    t = Template(pattern, leaves, len(holes), key, doc, lax_pattern, np.array([not h[3] for h in holes], bool),
                 text[:holes[0][0]], lits if lax_pattern is not None else None)
    # the template's own numbers read as its parse did
    cols = _check_columns(t, list(m.groups()))
    if cols is None or not _same(t.arrays(cols, 0), arrays):
        return None
    return t


def _integer_dtype(lspec) -> bool:
    """Whether a leaf's spec names an integer dtype: its float-kind data (a float among its numbers) has no
    template, since [1.5, 2**63 - 1] would read 2**63 - 1 as a double (redteam12 F6)."""
    return type(lspec) is dict and type(dt := lspec.get("dtype")) is str and dt in INT_WIRE


def _check_columns(t, numbers):
    t.numbers = numbers
    try:
        return t.columns()
    except (ValueError, OverflowError):
        return None
    finally:
        t.numbers, t.values = [], None


def _lax_valid(t) -> bool:
    """Whether the holes' texts of a template's rows (matched with lax holes) are JSON numbers of their holes'
    kinds (a float's with a point or an exponent, an integer's without) within the integer cap (18 digits:
    within int64) and a float's length, which orjson reads (not past a double: infinity is refused); their
    parse is kept (t.values)."""
    if not t.numbers:
        return True
    joined = b",".join(t.numbers)
    try:
        values = orjson.loads(b"[%b]" % joined)
    except orjson.JSONDecodeError:
        return False
    chars = np.frombuffer(joined, np.uint8)
    commas = np.flatnonzero(chars == 44)
    if len(commas) + 1 != len(t.numbers) or len(values) != len(t.numbers):
        return False  # (cannot be: a lax hole holds no comma)
    starts = np.concatenate(([0], commas + 1))
    ends = np.concatenate((commas, [len(chars)]))
    marks = np.concatenate(([0], np.cumsum((chars == 46) | (chars == 101) | (chars == 69))))
    floats = np.tile(t.floats, len(t.numbers) // t.holes)
    if not np.array_equal(marks[ends] - marks[starts] > 0, floats):
        return False
    digits = ends - starts - (chars[starts] == 45)
    if np.any(np.where(floats, ends - starts > _FLOAT_MAX, digits > 18)):
        return False
    t.values = values
    return True


def _same(a, b) -> bool:
    for x, y in zip(a, b):
        if type(x) is not type(y):
            return False
        if type(x) is float:
            if not (x == y or (x != x and y != y)) or str(x) != str(y):
                return False
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


def _holes(text: bytes, names: list):
    """The numbers of each leaf's data in a document's text: (start, end, leaf index, whether an integer);
    None where the text holds something unforeseen. The document has been parsed already (valid JSON)."""
    index = {n: i for i, n in enumerate(names)}
    stack: list = []  # per open container: [kind "o" or "a", its current key]
    expect_key = False
    holes = []
    at = 0
    for m in _TOKEN.finditer(text):
        if m.start() != at:
            return None
        at = m.end()
        tok = m.group()
        c = tok[:1]
        if c in b" \t\n\r":
            continue
        if c == b"{":
            stack.append(["o", None])
            expect_key = True
        elif c == b"[":
            stack.append(["a", None])
        elif c in b"}]":
            if not stack:
                return None
            stack.pop()
        elif c == b",":
            expect_key = bool(stack) and stack[-1][0] == "o"
        elif c == b":":
            expect_key = False
        elif expect_key and c == b'"':
            stack[-1][1] = json.loads(tok) if b"\\" in tok else tok[1:-1].decode()
        else:
            in_data = (len(stack) >= 3 and stack[0] == ["o", "leaves"] and stack[1][0] == "o"
                       and stack[2] == ["o", "data"] and all(f[0] == "a" for f in stack[3:]))
            if not in_data:
                continue
            is_int = _INT_FULL.match(tok) is not None
            if not is_int and _FLOAT_FULL.match(tok) is None:
                return None  # a string, a boolean, null or a number past the holes' caps
            leaf = index.get(stack[1][1])
            if leaf is None:
                return None
            holes.append((m.start(), m.end(), leaf, is_int))
    if at != len(text) or stack:
        return None
    return holes


class Scan:
    """A batch's body read as text: per document where it starts in the body and the Template it matched, or
    its span (start, end) where it matched none; the templates, each with its rows and numbers."""

    __slots__ = ("starts", "matched", "templates", "tail")

    def __init__(self):
        self.starts: list[int] = []
        self.matched: list = []  # per document: its Template, or its (start, end)
        self.templates: list[Template] = []
        # (template, position): where the scan stopped at a document of the template's run that `split` chose,
        # the rest of the body left to the caller (to be read as documents of that template to its end); or None
        self.tail = None


def span(body: bytes, scan_: Scan, i: int) -> tuple[int, int]:
    """Where document i of a Scan lies in the body."""
    t = scan_.matched[i]
    if type(t) is tuple:
        return t
    start = scan_.starts[i]
    return start, (t.pattern.match(body, start) or t.lax.match(body, start)).end()


def scan(body: bytes, max_docs: int, make, known: list | tuple = (), lax: bool = True, split=None) -> Scan | None:
    """The body as a Scan, or None where the caller must parse it as a whole (see the module).
    make(text) -> Template or None: called on a document that matched no template, while fewer than TEMPLATES
    were made. `known`: templates of earlier batches, tried first (the Scan's templates are fresh copies).
    `lax`: runs of a template's documents are matched with its lax holes (_LAX), checked at the end; where a
    check fails, the body is scanned again without.
    `split(template, pos, n)`, called once, at the first run of a template's documents (pos: where its next
    document starts, n: the documents before it): a position c >= pos where the caller would have the rest of
    the body read by someone else as documents of that template (split_at), or None. Where the run's documents
    lead to exactly c, the scan stops there and says so (Scan.tail): the documents before c are the Scan's, the
    rest are the caller's to read (a reader of the rest from c is the scan of `{"requests":[` and the rest, with
    that template known: the same matches, lax check and limits, the document count less n). Where they do
    not (c inside a document, or the run ends before it), the scan goes on as without `split`."""
    if not body.isascii():
        return None
    head = _HEAD.match(body)
    if head is None:
        return None
    text = None  # the body as str, for raw_decode: made at the first document that matches no template
    s = Scan()
    starts, matched = s.starts, s.matched
    recent: list[Template] = [t.fresh() for t in known[:TEMPLATES]]  # the most recently matched first
    s.templates += recent
    made = 0
    pos = head.end()
    while True:
        if recent:  # the common case: a run of documents of the last template, each followed by a comma
            t = recent[0]
            match = (t.lax_next or t.next).match if lax else t.next.match
            numbers, first = t.numbers, len(starts)
            stop = -1
            if split is not None:
                stop = split(t, pos, first)
                split = None
                if stop is None:
                    stop = -1
            bulk = lax and t.lits is not None and t.lax_next is not None and _BULK_AFTER is not None
            sep = None  # the text between the run's first document and the next (_bulk)
            while pos != stop:
                if bulk and len(starts) - first >= _BULK_AFTER:
                    pos, bulk = _bulk(t, body, pos, stop, starts, first, sep)
                    continue
                m = match(body, pos)
                if m is None:
                    break
                if sep is None and bulk:
                    sep = body[m.end(t.holes) + len(t.lits[-1]):m.end()]
                starts.append(pos)
                numbers += m.groups()
                pos = m.end()
            n = len(starts)
            matched += [t] * (n - first)
            t.rows += range(first, n)
            if pos == stop:  # the rest is the caller's (split)
                if n >= max_docs:
                    return None
                if lax and not all(_lax_valid(t) for t in s.templates if t.lax is not None):
                    return scan(body, max_docs, make, known, lax=False)
                s.tail = (t, pos)
                return s
        n = len(starts)
        if n >= max_docs:
            return None  # more documents than allowed: the whole-body path words the 413
        t = None
        m = None
        for cand in recent[:TRIES]:
            m = cand.pattern.match(body, pos)
            if m is not None:
                t = cand
                break
        if t is not None:
            end = m.end()
            if t is not recent[0]:
                recent.remove(t)
                recent.insert(0, t)
            t.rows.append(n)
            t.numbers += m.groups()
            where = t
        else:
            if text is None:
                text = body.decode("ascii")
            try:
                _, end = _DECODER.raw_decode(text, pos)
                # the standard library takes what the service's parse (orjson) refuses: NaN, Infinity, 1e400,
                # a lone surrogate's escape; such a body is not JSON, refused as a whole by the whole-body path
                orjson.loads(body[pos:end])
            except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
                return None
            where = (pos, end)
            if made < TEMPLATES:
                made += 1
                new = make(body[pos:end])
                if new is not None:
                    m = new.pattern.match(body, pos)
                    if m is None or m.end() != end:
                        return None  # cannot be: the template is of this very text
                    s.templates.append(new)
                    recent.insert(0, new)
                    new.rows.append(n)
                    new.numbers += m.groups()
                    where = new
        starts.append(pos)
        matched.append(where)
        sep = _NEXT.match(body, end)
        if sep is None:
            return None
        pos = sep.end()
        if sep.group(1) is not None:
            if lax and not all(_lax_valid(t) for t in s.templates if t.lax is not None):
                return scan(body, max_docs, make, known, lax=False)
            return s


# A run of one template's documents is matched one document at a time (the lax_next pattern) for its first
# _BULK_AFTER documents, then many at a time (_bulk); None: one at a time throughout.
_BULK_AFTER = 8
_BULK_PREFIX = 32  # bytes of a document's text before its first hole that _bulk's pattern searches for


def _bulk(t: Template, body: bytes, pos: int, stop: int, starts: list, first: int, sep: bytes) -> tuple[int, bool]:
    """The next documents of a run of template t from pos on, matched many at a time, appended to `starts` and
    t.numbers exactly as scan's loop of t.lax_next matches would append them, up to `stop`: (the position after
    them, whether to go on so). One findall of a pattern that takes each document's holes (lax) and skips the
    text between them (that text's length, in one step: `(?s:.{n})`), over a window of twice the run's text so
    far; then the documents' text made again from the template's (t.lits), the holes found and `sep` (the text
    between two documents of this run), and compared with the body: only the documents up to the first byte
    that differs are taken, each one's text then the template's with lax holes in them, each hole's text
    followed by the template's text after it (never a number's character: make_template), and the next
    document's text (or one that is not whitespace: lax_next's pattern takes all of it) after its separator.
    The rest is left to the loop, document by document."""
    lits, k = t.lits, t.holes
    window = min(len(body), pos + 2 * (pos - starts[first]) + 1)
    accel = batch_write.ACCEL
    if accel is not None:  # the same documents read in C (engine/program/_textfill.c bulk), every read bounded
        flat, found, whole = accel.bulk(body, pos, window, tuple(lits), sep)
        n = good = len(found)
        if not n:
            return pos, False
        ends = np.array(found, np.int64)
        lengths = np.diff(ends, prepend=0)
        return _take(t, body, pos, stop, starts, flat, ends, lengths, n, good, whole)
    made = t.bulk.get(sep)
    if made is None:
        lead = lits[0][:_BULK_PREFIX]
        parts = [re.escape(lead), _skip(len(lits[0]) - len(lead))]
        for lit in lits[1:-1]:
            parts += [_LAX, _skip(len(lit))]
        parts += [_LAX, _skip(len(lits[-1]) + len(sep))]
        unit = [None] * (2 * k)  # a document's pieces after lits[0]: hole, text, hole, ..., hole, text + next's lits[0]
        unit[1::2] = lits[1:-1] + [lits[-1] + sep + lits[0]]
        made = (re.compile(b"".join(parts)), unit, sum(map(len, lits)) + len(sep))
        if len(t.bulk) < 4:
            t.bulk[sep] = made
    pattern, unit, fixed = made
    found = pattern.findall(body, pos, window)
    n = len(found)
    if not n:
        return pos, False
    flat = list(chain.from_iterable(found)) if k > 1 else found
    pieces = unit * n
    pieces[0::2] = flat
    pieces[-1] = lits[-1] + sep
    text = b"".join(pieces)
    # each document's length: its holes' texts together (from the commas of their join: no hole holds one, _LAX;
    # half the time of a len() a hole) and the template's text
    holes = b",".join(flat)
    commas = np.flatnonzero(np.frombuffer(holes, np.uint8) == 44)[k - 1::k]
    lengths = np.append(commas, len(holes)) - np.concatenate(([-1], commas)) - k + fixed
    ends = np.cumsum(lengths)  # from pos
    good = n
    at = pos + len(lits[0])
    whole = body.startswith(lits[0], pos) and body.startswith(text, at)
    if not whole:  # the documents before the first byte that differs (a byte a byte of the window, for the moment)
        if body.startswith(lits[0], pos):
            have = np.frombuffer(body, np.uint8, min(len(text), len(body) - at), at)
            differ = np.frombuffer(text, np.uint8, len(have)) != have
            bad = int(differ.argmax()) if differ.size else 0
            good = int(np.searchsorted(ends, len(lits[0]) + (bad if differ.size and differ[bad] else len(have)),
                                       "right"))
        else:
            good = 0
    return _take(t, body, pos, stop, starts, flat, ends, lengths, n, good, whole)


def _take(t, body, pos, stop, starts, flat, ends, lengths, n, good, whole):
    """_bulk's end: of the n documents found (their holes `flat`, ends and lengths from pos), the first `good`
    (those before the first byte that differs) taken, but one whose separator is followed by more whitespace and
    those from the split's position on."""
    k = t.holes
    if good and pos + ends[good - 1] < len(body) and body[pos + ends[good - 1]] in b" \t\n\r":
        good -= 1  # (its separator is followed by more whitespace, which lax_next would take)
        whole = False
    begins = ends[:good] - lengths[:good]
    if stop >= pos:  # the split's position: the documents before it
        j = int(np.searchsorted(begins, stop - pos))
        if j < good and begins[j] == stop - pos:
            good = j
    if not good:
        return pos, False
    starts += (begins[:good] + pos).tolist()
    t.numbers += flat if good == n else flat[:good * k]
    return pos + int(ends[good - 1]), whole and good == n


def _skip(n: int) -> bytes:
    return rb"(?s:.{%d})" % n if n else b""


def split_at(body: bytes, t: Template, pos: int, share: float) -> int | None:
    """A position at about `share` of the body from pos on where a document of template t may start (its text
    before its first hole, after a comma): pos itself for share 1 where a document of t starts there, else None.
    A guess: scan's split checks it (the run's documents must lead to it exactly)."""
    if share >= 1:
        m = (t.lax_next or t.next).match(body, pos)
        return pos if m is not None else None
    at = pos + int((len(body) - pos) * (1 - share))
    while True:
        c = body.find(t.head, at)
        if c < 0:
            return None
        k = c - 1
        while k > pos and body[k] in b" \t\n\r":
            k -= 1
        if body[k] == 44:  # a comma
            return c
        at = c + 1
