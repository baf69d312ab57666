"""The fast writer of a vectorized batch: the responses of many documents of one all-scalar program, written a
hole at a time over all documents, never a document at a time.

A lowered program's Writer (engine.program.writer) fills one template per response: numbers (orjson's text of
a float) and reprs (printing.value_repr's fixed-point formats, `tensor(<%.4f>, ...)`, or `<%.0f>.` for whole
values). Here every number of every document comes from one orjson call over a (documents, numbers) array
(orjson writes a float64 array's elements as it writes Python floats), every repr of a row from NumPy
integer arithmetic, and the documents from one join of the template's texts and the holes' columns. The
fixed-point text of a float16 or float32 value v is exact in integers: v = m * 2**e with a 24-bit m, so
v * 10**p (p <= 6 decimals) needs at most 24 + 27 bits and is computed exactly in float64, and rounding it to
the nearest integer, ties to even, is what `%.pf` does to v's exact decimal expansion (Python's correctly
rounded dtoa). Other dtypes (float64) take `%` value by value. A document with a value outside the
fixed-point range (printing.FIXED_RANGE) or not finite is left to the writer (None in the result).
"""
from __future__ import annotations

import functools
import re

import numpy as np
import orjson

from engine.printing import FIXED_RANGE

_FMT = re.compile(rb"\A((?:[^%]|%%)*)%\.([0-6])f((?:[^%]|%%)*)\Z")  # a table of 10**p fractions: p <= 6
_EXACT = frozenset(("float16", "float32"))


class FastWriter:
    """A Writer's text for many documents at once, where every returned tensor is a 0-d float written inline."""

    __slots__ = ("texts", "fixed", "grads", "dtypes")

    def __init__(self, texts, fixed, grads, dtypes):
        self.texts = texts  # the writer's template cut at its holes (one more text than holes), % unescaped
        self.fixed = fixed  # per row, its (fixed, whole) repr formats
        self.grads = grads  # per row, whether a grad's number follows its value's
        self.dtypes = dtypes  # per row, its dtype's name

    def write_all(self, data, grads, n, wrap: tuple = (b"", b"")) -> Written:
        """The documents' responses (those in .left to be written by the writer), from per row an (n,) column
        of its values and of its grads; `wrap`: texts before and after each, not counted in its size."""
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
            texts, lengths = _texts(orjson.dumps(numbers.ravel(), option=orjson.OPT_SERIALIZE_NUMPY))
            sizes = lengths.reshape(n, len(columns)).sum(1)
            k, width, h = 0, len(columns), 0
            for i in range(len(data)):
                for _ in range(1 + self.grads[i]):
                    parts += [self.texts[h], texts[k::width]]
                    k += 1
                    h += 1
                for col, size in self.reprs(i, values[i], self.texts[h]):
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
        pieces = [None] * (n * span)
        for c, col in enumerate(merged):
            if type(col) is bytes:
                pieces[c::span] = [col] * n
                sizes += len(col)
            else:
                pieces[c::span] = col
        return Written(pieces, span, sizes.tolist(), np.flatnonzero(~ok).tolist(), wrap)

    def reprs(self, i: int, v, before: bytes) -> list:
        """Row i's repr texts, `before` (the template's text) first, for values v (float64 holding the row's
        dtype's values), as columns: (a constant or n texts, their lengths or None for a constant); garbage
        where a value is out of the fixed-point range (those documents are left to the writer)."""
        fixed, whole_fmt = self.fixed[i]
        m = _FMT.match(fixed)
        if m is None or self.dtypes[i] not in _EXACT or whole_fmt != m[1] + b"%.0f." + m[3]:
            col = [(fixed if x % 1 else whole_fmt) % x if x == x and abs(x) != float("inf") else b""
                   for x in v.tolist()]
            return [(before, None), (col, np.fromiter(map(len, col), np.int64, len(col)))]
        pre, p, post = before + m[1].replace(b"%%", b"%"), int(m[2]), m[3].replace(b"%%", b"%")
        scale = 10 ** p
        a = np.abs(v)
        q = np.rint(a * scale).astype(np.int64)  # exact: see the module
        negative = v < 0
        signs = list(map((pre, pre + b"-").__getitem__, negative.tolist()))  # two texts, shared
        ints, int_lengths = _texts(orjson.dumps(q // scale, option=orjson.OPT_SERIALIZE_NUMPY))
        whole = v % 1 == 0
        # the fraction's text from a table of all 10**p of them (shared, never made per value); b"." for a whole
        tails = list(map(_fractions(p).__getitem__, np.where(whole, scale, q % scale).tolist()))
        return [(signs, len(pre) + negative), (ints, int_lengths), (tails, np.where(whole, 1, p + 1)), (post, None)]


@functools.cache
def _fractions(p: int) -> tuple:
    """b".0000" to b".9999" (p digits), then b"." (a whole value's)."""
    return tuple(b".%0*d" % (p, k) for k in range(10 ** p)) + (b".",)


def _texts(dumped: bytes):
    """orjson's text of a 1-d array of numbers: each element's text, and their lengths."""
    inner = dumped[1:-1]
    commas = np.flatnonzero(np.frombuffer(inner, np.uint8) == 44)
    return inner.split(b","), np.diff(commas, prepend=-1, append=len(inner)) - 1


class Written:
    """A chunk's responses as pieces of text: document j's is pieces[j * span:(j + 1) * span] joined, between
    the texts of `wrap`, of sizes[j] bytes (the wrap not counted); `left`: the documents the writer must write
    instead (put)."""

    __slots__ = ("pieces", "span", "sizes", "left", "wrap")

    def __init__(self, pieces, span, sizes, left, wrap=(b"", b"")):
        self.pieces, self.span, self.sizes, self.left, self.wrap = pieces, span, sizes, left, wrap

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, j: int) -> bytes:
        """Document j's response (without the wrap)."""
        text = b"".join(self.pieces[j * self.span:(j + 1) * self.span])
        return text[len(self.wrap[0]):len(text) - len(self.wrap[1])]

    def __iter__(self):
        return (self[j] for j in range(len(self.sizes)))

    def doc_pieces(self, j: int) -> list:
        """Document j's pieces, the wrap's texts included."""
        return self.pieces[j * self.span:(j + 1) * self.span]

    def put(self, j: int, text: bytes) -> None:
        """Document j's response, as the writer wrote it."""
        self.pieces[j * self.span:(j + 1) * self.span] = [self.wrap[0] + text + self.wrap[1]] + [b""] * (self.span - 1)
        self.sizes[j] = len(text)


_HOLE = re.compile(rb"(?<!%)((?:%%)*)%b")  # a hole of a %-template: %b after an even number of %


def fast_writer(program, low, rows, grads):
    """The FastWriter of a lowered program whose writer writes every row inline, or None (kept in its notes)."""
    if "fast_writer" in program.notes:
        return program.notes["fast_writer"]
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
    program.notes["fast_writer"] = fast
    return fast
