"""The fast writer of a vectorized batch: the responses of many documents of one all-scalar program, written a
hole at a time over all documents, never a document at a time.

A lowered program's Writer (engine.program.writer) fills one template per response: numbers (orjson's text of
a float) and reprs (printing.value_repr's fixed-point formats, `tensor(<%.4f>, ...)`, or `<%.0f>.` for whole
values). Here every number of every document comes from one orjson call over a (documents, numbers) array
(orjson writes a float64 array's elements as it writes Python floats), the reprs of all rows of one precision
from NumPy integer arithmetic at once (_fixed_texts: digits from tables of the 10,000 four-digit texts, one
text per value), and the documents from one join of the template's texts and the holes' columns. The
fixed-point text of a float16 or float32 value v is exact in integers: v = m * 2**e with a 24-bit m, so
v * 10**p (p <= 6 decimals) needs at most 24 + 27 bits and is computed exactly in float64, and rounding it to
the nearest integer, ties to even, is what `%.pf` does to v's exact decimal expansion (Python's correctly
rounded dtoa). Other dtypes (float64) take `%` value by value. A document with a value outside the
fixed-point range (printing.FIXED_RANGE) or not finite is left to the writer (None in the result).
"""
from __future__ import annotations

import os
import re
import sys

import numpy as np
import orjson

from engine.printing import FIXED_RANGE


def _accelerator():
    """engine.program._textfill (the C filler of write_all's text, engine/program/_textfill.c), or None where it
    was not built (no C compiler at install) or GRADSERVE_TEXT_ACCEL=0 turns it off: then the pure-Python path
    below, the reference, writes the same bytes."""
    if os.environ.get("GRADSERVE_TEXT_ACCEL", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        from engine.program import _textfill  # noqa: PLC0415
    except ImportError:
        return None
    return _textfill


ACCEL = _accelerator()  # the module, or None (tests switch it here)


def accel_state() -> str:
    """Which text path the batch fast writer takes in this process, for operators (the startup log, the bench)."""
    if ACCEL is not None:
        return "C accelerator (engine.program._textfill)"
    off = os.environ.get("GRADSERVE_TEXT_ACCEL", "1").strip().lower() in ("0", "false", "no", "off")
    return "pure Python (GRADSERVE_TEXT_ACCEL=0)" if off else "pure Python (engine.program._textfill not built)"


_FMT = re.compile(rb"\A((?:[^%]|%%)*)%\.([1-6])f((?:[^%]|%%)*)\Z")  # 1 to 6 decimals (_fixed_texts)
_EXACT = frozenset(("float16", "float32"))


class FastWriter:
    """A Writer's text for many documents at once, where every returned tensor is a 0-d float written inline."""

    __slots__ = ("texts", "fixed", "grads", "dtypes", "fast", "layout")

    def __init__(self, texts, fixed, grads, dtypes):
        self.texts = texts  # the writer's template cut at its holes (one more text than holes), % unescaped
        self.fixed = fixed  # per row, its (fixed, whole) repr formats
        self.grads = grads  # per row, whether a grad's number follows its value's
        self.dtypes = dtypes  # per row, its dtype's name
        self.fast = [self._fast_of(i) for i in range(len(fixed))]  # per row, _fast's answer (a regex match a row:
        # ~8% of write_all's time when it was asked twice a row each call)
        self.layout = self._layout()  # a document's items for the C filler, or None where it does not apply

    def _layout(self):
        """A document's text as the C filler (_textfill.fill) takes it: constants (bytes), None for the next
        number, (row, decimals) for a repr made by integer arithmetic; None where a row's reprs are not (_fast:
        a float64 row), as the C filler writes no other repr."""
        if any(f is None for f in self.fast):
            return None
        items: list = []
        h = 0
        for i, (pre, p, post) in enumerate(self.fast):
            for _ in range(1 + self.grads[i]):
                items += [self.texts[h], None]
                h += 1
            items += [self.texts[h] + pre, (i, p), post]
            h += 1
        items.append(self.texts[-1])
        merged: list = []
        for x in items:  # constants next to each other as one, empty ones dropped
            if type(x) is bytes and merged and type(merged[-1]) is bytes:
                merged[-1] += x
            elif x != b"":
                merged.append(x)
        return tuple(merged)

    def write_all(self, data, grads, n, wrap: tuple = (b"", b""), cap: int | None = None) -> Written:
        """The documents' responses (those in .left to be written by the writer), from per row an (n,) column
        of its values and of its grads; `wrap`: texts before and after each, not counted in its size. Where the
        C filler applies (ACCEL, self.layout) every document's text is made as one bytes (Written.joined), its
        size computed first: where it would pass `cap` bytes (the wraps included), nothing is allocated and the
        Python path below makes its pieces, as without the filler."""
        lo, hi = FIXED_RANGE
        values = np.stack([np.asarray(d, np.float64) for d in data])  # rows x documents
        columns = []
        for i, g in enumerate(grads):
            columns.append(values[i])
            if self.grads[i]:
                columns.append(np.asarray(g, np.float64))
        numbers = np.stack(columns, 1)  # documents x numbers, in the template's order
        # a document's text: per hole, its column (n texts) after the text before it (a constant); a constant
        # is carried into the next column's texts where that column is a choice of a few
        parts: list = []  # columns: bytes (the same in every document) or a list of n texts
        with np.errstate(all="ignore"):  # NaN and the infinities: out of the range, written by the writer
            mag = np.abs(values)
            ok = ((mag >= lo) & (mag <= hi)).all(0) & np.isfinite(numbers).all(1)
            dumped = orjson.dumps(numbers.ravel(), option=orjson.OPT_SERIALIZE_NUMPY)
            if ACCEL is not None and self.layout is not None:
                got = ACCEL.fill(dumped, len(columns), self.layout, values, ok, wrap[0], wrap[1],
                                 -1 if cap is None else cap)
                if got is not None:  # else past the cap, or a value the filler declines: the pieces below
                    return Written(None, 1, got[1], np.flatnonzero(~ok).tolist(), wrap, got[0])
            texts, sizes = _texts(dumped, len(columns))
            fixed = self._fixed_all(values)  # per row, its reprs' texts and lengths where made here
            k, width, h = 0, len(columns), 0
            for i in range(len(data)):
                for _ in range(1 + self.grads[i]):
                    parts += [self.texts[h], texts[k::width]]
                    k += 1
                    h += 1
                for col, size in self.reprs(i, values[i], self.texts[h], fixed.get(i)):
                    parts.append(col)
                    if size is not None:
                        sizes += size
                h += 1
        parts.append(self.texts[-1] + wrap[1])
        sizes -= len(wrap[0]) + len(wrap[1])
        merged: list = [wrap[0]]
        for p in parts:  # constants next to each other as one
            if type(p) is bytes and merged and type(merged[-1]) is bytes:
                merged[-1] += p
            else:
                merged.append(p)
        span = len(merged)
        # every document's constants in place at once (a row of the constants, repeated), then each column's texts
        pieces = [col if type(col) is bytes else None for col in merged] * n
        for c, col in enumerate(merged):
            if type(col) is bytes:
                sizes += len(col)
            else:
                pieces[c::span] = col
        return Written(pieces, span, sizes.tolist(), np.flatnonzero(~ok).tolist(), wrap)

    def _fast(self, i: int):
        """Row i's fixed-point format as (text before the number, decimals, text after), where its reprs are made
        by integer arithmetic (a float16/float32 row whose whole format is its fixed one's with no decimals);
        else None."""
        return self.fast[i]

    def _fast_of(self, i: int):
        fixed, whole_fmt = self.fixed[i]
        m = _FMT.match(fixed)
        if m is None or self.dtypes[i] not in _EXACT or whole_fmt != m[1] + b"%.0f." + m[3]:
            return None
        return m[1].replace(b"%%", b"%"), int(m[2]), m[3].replace(b"%%", b"%")

    def _fixed_all(self, values) -> dict:
        """{row: (texts, lengths)} of the rows whose reprs are made by integer arithmetic (_fast), those of one
        number of decimals made together (one _fixed_texts over their values)."""
        by_p: dict = {}
        for i in range(len(self.fixed)):
            f = self._fast(i)
            if f is not None:
                by_p.setdefault(f[1], []).append(i)
        out = {}
        n = values.shape[1]
        for p, rows in by_p.items():
            texts, lengths = _fixed_texts(values[rows].ravel(), p)
            for r, i in enumerate(rows):
                out[i] = (texts[r * n:(r + 1) * n], lengths[r * n:(r + 1) * n])
        return out

    def reprs(self, i: int, v, before: bytes, made=None) -> list:
        """Row i's repr texts, `before` (the template's text) first, for values v (float64 holding the row's
        dtype's values), as columns: (a constant or n texts, their lengths or None for a constant); garbage
        where a value is out of the fixed-point range (those documents are left to the writer). `made`: the
        row's number texts and lengths from _fixed_all."""
        f = self._fast(i)
        if f is None:
            fixed, whole_fmt = self.fixed[i]
            col = [(fixed if x % 1 else whole_fmt) % x if x == x and abs(x) != float("inf") else b""
                   for x in v.tolist()]
            return [(before, None), (col, np.fromiter(map(len, col), np.int64, len(col)))]
        pre, p, post = f
        texts, lengths = made if made is not None else _fixed_texts(v, p)
        return [(before + pre, None), (texts, lengths), (post, None)]


def _fixed_texts(v, p: int):
    """`%.{p}f` of each value of v (float64 holding float16 or float32 values), `%.0f.` of a whole one, as a list
    of texts and their lengths, made by integer arithmetic over all values at once (see the module). Each value's
    text is a row of 4-byte words: the sign, its integer part's digits four at a time (the leading group without
    its leading zeros), the point, the decimals, a comma; bytes not used are NUL, squeezed out in one step, and
    the result split at the commas. The digits come from tables of the 10,000 four-digit texts. Where every
    integer part is below 10**4 and p <= 4 (the common case), a value's text is written at the start of a 16-byte
    row instead ("[-]digits" from a table, then ".decimals" or "." from another, shifted past them), and the rows
    are read as a 16-byte text array, whose list drops each row's trailing NULs: nothing squeezed or split.
    Garbage (never an error) for a value outside the fixed-point range."""
    lo, hi = FIXED_RANGE
    scale = 10 ** p
    m = len(v)
    with np.errstate(all="ignore"):
        a = np.abs(v)
        inside = (a >= lo) & (a <= hi)  # (NaN and the infinities not)
        a = np.where(inside, a, 0.0)
        q = np.rint(a * scale)  # exact: see the module; an integer below 2**53
        whole = np.floor(a) == a  # (v % 1 == 0 for the values inside)
    ints = np.floor(q / scale)  # exact below 2**53 / scale: at most 10**8 (FIXED_RANGE)
    frac = (q - ints * scale).astype(np.int64)
    ints = ints.astype(np.int64)
    negative = v < 0
    top = int(ints.max()) if m else 0
    if top < 10 ** 4 and p <= 4 and _LITTLE:  # (the common case) a value's text in one 16-byte row, at its start
        # ("[-]digits" then ".decimals" or ".", shifted past them: at most 5 + 5 bytes), NUL-padded: NumPy's list
        # of a 16-byte text array is the texts, the trailing NULs dropped (no squeeze, no split: 0.42 -> 0.32 ms
        # for 10,000 values)
        lead = negative + _LENGTH[ints]  # the sign's and the integer part's bytes: 1 to 5
        tail = np.where(whole, _WHOLE_AT, _DOT_AT[p][frac])  # at most 5 bytes
        shift = (lead * 8).astype(np.uint64)  # 8 to 40 bits
        rows = np.empty((m, 2), np.uint64)
        rows[:, 0] = np.where(negative, _NLEAD_AT[ints], _LEAD_AT[ints]) | (tail << shift)
        rows[:, 1] = tail >> (np.uint64(64) - shift)  # what passed the first word
        return rows.view("S16").ravel().tolist(), lead + 1 + (~whole) * p
    words = np.zeros((m, 8), np.uint32)  # sign, three groups of four digits, point, decimals (two), comma
    words[:, 0] = negative * _MINUS
    if top < 10 ** 4:  # (the common case: one group)
        words[:, 3] = _LEAD[ints]
        ndigits = _LENGTH[ints]
    else:
        high, low = ints // 10 ** 4, ints % 10 ** 4
        many = ints >= 10 ** 4
        words[:, 3] = np.where(many, _FOUR[low], _LEAD[low])
        if top < 10 ** 8:
            words[:, 2] = np.where(many, _LEAD[high], 0)
            ndigits = np.where(many, 4 + _LENGTH[high], _LENGTH[low])
        else:
            most = ints >= 10 ** 8
            words[:, 2] = np.where(most, _FOUR[high % 10 ** 4], np.where(many, _LEAD[high % 10 ** 4], 0))
            words[:, 1] = np.where(most, _LEAD[high // 10 ** 4 % 10 ** 4], 0)
            ndigits = np.where(most, 8 + _LENGTH[high // 10 ** 4 % 10 ** 4],
                               np.where(many, 4 + _LENGTH[high % 10 ** 4], _LENGTH[low]))
    words[:, 4] = _POINT
    if p > 4:
        words[:, 5] = np.where(whole, 0, _TAIL[p - 4][frac // 10 ** 4])
        words[:, 6] = np.where(whole, 0, _FOUR[frac % 10 ** 4])
    else:
        words[:, 6] = np.where(whole, 0, _TAIL[p][frac])
    words[:, 7] = _COMMA
    chars = words.view(np.uint8)
    lengths = negative + ndigits + 1 + (~whole) * p
    return chars[chars != 0].tobytes().split(b",")[:-1], lengths


def _table(texts) -> np.ndarray:
    """Texts of at most 4 bytes as 4-byte words (NUL-padded at the front), for the word rows of _fixed_texts."""
    return np.frombuffer(b"".join(t.rjust(4, b"\0") for t in texts), np.uint32)


_FOUR = _table([b"%04d" % k for k in range(10000)])  # "0000" .. "9999"
_LEAD = _table([b"%d" % k for k in range(10000)])  # "0" .. "9999": a leading group
_LENGTH = np.array([len(b"%d" % k) for k in range(10000)], np.int64)
_TAIL = {p: _table([b"%0*d" % (p, k) for k in range(10 ** p)]) for p in range(1, 5)}  # p decimals, zero-padded
_MINUS, _POINT, _COMMA = (int(_table([c])[0]) for c in (b"-", b".", b","))


def _table8(texts) -> np.ndarray:
    """Texts of at most 8 bytes as 8-byte words, NUL-padded at the back."""
    return np.frombuffer(b"".join(t.ljust(8, b"\0") for t in texts), np.uint64)


# _fixed_texts' 16-byte rows (integer parts below 10**4, at most 4 decimals): "[-]digits", then ".decimals" or "."
# for a whole value ("%.0f."), each as a 64-bit integer whose low bytes are the text (little-endian: the text at
# the start of the word's bytes; elsewhere the four-byte rows take every value)
_LITTLE = sys.byteorder == "little"
_LEAD_AT = _table8([b"%d" % k for k in range(10000)])
_NLEAD_AT = _table8([b"-%d" % k for k in range(10000)])
_DOT_AT = {p: _table8([b".%0*d" % (p, k) for k in range(10 ** p)]) for p in range(1, 5)}
_WHOLE_AT = _table8([b"."])[0]


def _texts(dumped: bytes, width: int):
    """orjson's text of a 1-d array of numbers, `width` numbers a document: each element's text, and per document
    the length of its numbers' texts together (from the commas' positions: the text from its first number's start
    to its last one's end, less the commas between them)."""
    inner = dumped[1:-1]
    commas = np.flatnonzero(np.frombuffer(inner, np.uint8) == 44)
    starts = np.concatenate(([0], commas[width - 1::width] + 1))  # each document's first number
    ends = np.append(commas[width - 1::width], len(inner))  # the end of its last one
    return inner.split(b","), ends - starts - (width - 1)


class Written:
    """A chunk's responses as pieces of text: document j's is pieces[j * span:(j + 1) * span] joined, between
    the texts of `wrap`, of sizes[j] bytes (the wrap not counted); `left`: the documents the writer must write
    instead (put). `joined`: where given (a compute worker's answers read into one buffer), every document's
    text, the wraps included, in order, as one bytes-like: its pieces (one a document, views of it) are then
    made only where asked for (pieces_of), and a caller that takes every document takes it whole."""

    __slots__ = ("pieces", "span", "sizes", "left", "wrap", "joined")

    def __init__(self, pieces, span, sizes, left, wrap=(b"", b""), joined=None):
        self.pieces, self.span, self.sizes, self.left, self.wrap = pieces, span, sizes, left, wrap
        self.joined = joined
        if pieces is None:  # one piece a document, cut from `joined` when asked for (_cut)
            self.span = 1

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, j: int) -> bytes:
        """Document j's response (without the wrap)."""
        if self.pieces is None:  # cut from `joined` alone (the check of one document: no piece made a document)
            at = sum(self.sizes[:j]) + j * (len(self.wrap[0]) + len(self.wrap[1])) + len(self.wrap[0])
            return bytes(self.joined[at:at + self.sizes[j]])
        text = b"".join(self.doc_pieces(j))
        return text[len(self.wrap[0]):len(text) - len(self.wrap[1])]

    def __iter__(self):
        if self.pieces is None:  # every document cut from `joined` in one pass (self[j] alone sums the sizes
            # before j: a loop over a chunk by it was quadratic, 10-15 ms for 1,024 documents; review17 R2)
            w0, w1 = len(self.wrap[0]), len(self.wrap[1])
            out, at = [], w0
            for size in self.sizes:
                out.append(bytes(self.joined[at:at + size]))
                at += size + w0 + w1
            return iter(out)
        return (self[j] for j in range(len(self.sizes)))

    def text(self):
        """Every document's text, the wraps included, in order: `joined`, or the pieces joined."""
        return self.joined if self.joined is not None else b"".join(self.pieces)

    def doc_pieces(self, j: int) -> list:
        """Document j's pieces, the wrap's texts included."""
        if self.pieces is None:
            self._cut()
        return self.pieces[j * self.span:(j + 1) * self.span]

    def put(self, j: int, text: bytes) -> None:
        """Document j's response, as the writer wrote it."""
        if self.pieces is None:
            self._cut()
        self.pieces[j * self.span:(j + 1) * self.span] = [self.wrap[0] + text + self.wrap[1]] + [b""] * (self.span - 1)
        self.sizes[j] = len(text)
        self.joined = None  # no longer the documents' text

    def _cut(self) -> None:
        """The pieces of a Written given as `joined`: one a document, views of it."""
        view = memoryview(self.joined)
        wrapped = len(self.wrap[0]) + len(self.wrap[1])
        pieces, at = [], 0
        for size in self.sizes:
            pieces.append(view[at:at + size + wrapped])
            at += size + wrapped
        self.pieces = pieces


FAST_NOTE = "fast_writer"  # Program.notes[FAST_NOTE]: its FastWriter, or None where it has none
_HOLE = re.compile(rb"(?<!%)((?:%%)*)%b")  # a hole of a %-template: %b after an even number of %


def fast_writer(program, low, rows, grads):
    """The FastWriter of a lowered program whose writer writes every row inline, or None (kept in its notes)."""
    if FAST_NOTE in program.notes:
        return program.notes[FAST_NOTE]
    fast = None
    writer = low.writer
    ns = writer.write.__globals__ if writer is not None else {}
    if writer is not None and rows and all(not row[1] and row[2] in ("float16", "float32", "float64")
                                           and f"F{i}" in ns for i, row in enumerate(rows)):
        flags = [g is not None for g in grads]
        parts = _HOLE.split(ns["TEMPLATE"])  # text, escaped %s before a hole, text, ...
        texts = [parts[0]]
        for k in range(1, len(parts), 2):
            texts[-1] += parts[k]
            texts.append(parts[k + 1])
        if len(texts) == sum(2 + f for f in flags) + 1:
            fast = FastWriter([t.replace(b"%%", b"%") for t in texts],
                              [(ns[f"F{i}"], ns[f"W{i}"]) for i in range(len(rows))], flags,
                              [row[2] for row in rows])
    program.notes[FAST_NOTE] = fast
    return fast
