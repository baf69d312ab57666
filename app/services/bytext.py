"""A small request read as text: its body matched against a template of an earlier body of its structure, its leaf
values read straight from the text, the document never parsed.

On the event loop, a request whose structure ran there before (its Program is cached, lowered, and noted as
the loop's) costs the parse of its body (orjson), a walk of the whole document for its plan key (every
leaf's nested list made an array: ~7 us for a 32x4 matrix) and the replay. Here the body is first matched
against a template of an earlier body of that structure: that body's own text (checked by engine.program.
batch_text's make_template: every number of its leaves' `data` found, of a known kind) with each leaf's data a
group (Single: one number, or a whole array's text). A body that matches is that document with other leaf
values: the same text but for those, and of the same fingerprint (so an array's brackets and commas, its
shape, are the template's), so the same keys, names, ops, flags, shapes and, checked per leaf, kinds; the same
colons (its duplicate-key check is its template's); the same plan key. Its leaf arrays are its numbers as the
parse reads them (orjson's own parse of their texts), made the arrays PlanCache.key makes
(tests/app/test_bytext.py holds the two routes to the same answers, hypothesis over values, signed zeros,
exponents and integers).

A template is found by the body's fingerprint: its text without the characters numbers are written with (digits,
'.', 'e', 'E', '+', '-'; one C pass), which every body of the template's text has; another structure of the same
fingerprint ("dim": 0 for "dim": 1) fails the match. The last body's template is tried first: a body its regex
matches, with its arrays' brackets, commas and blanks the template's (Single.same_print), has its fingerprint.
Anything else, or any doubt, gives None and the request takes
the usual path, which answers as it always did: no template yet, a failed match, a program no longer cached or not
lowered, a replay that diverged or passes the loop's caps (engine.budget.Spill). Bounded: templates are made only
of small bodies (TEXT_MAX) whose structure repeated on the loop, once a fingerprint, at most PER_KEY a structure
and MAX_TEMPLATES in all (the oldest dropped); a match is one regex of literal text and a group a leaf (character
classes) from one position, linear in the body's length."""
from __future__ import annotations

import math
import re
import struct

import numpy as np
import orjson

from engine.program import batch_text

MAX_TEMPLATES = 256
# A template is made of a body of at most TEXT_MAX bytes, and at most PER_KEY of one structure (plan key): a
# client that writes each body of a known structure with other blanks (a new fingerprint each time) makes no
# template-building work per request (the rest are marked tried, at the cost of one translate and a scan).
TEXT_MAX = 8 * 1024
PER_KEY = 2
_NUMERIC = b"0123456789.eE+-"  # what a JSON number is written with
# A leaf's data as matched here, one group a leaf: a plain float (a number written with a '.' or an exponent
# after its leading digits: orjson reads it as a float), an integer of at most 18 digits (within int64), or an
# array's whole text (numbers, brackets, commas, blanks); each taken loosely (character classes: a few times
# faster than batch_text's exact grammar per number) and checked after: the body's fingerprint is the template's
# (so an array's brackets, commas and blanks are the template's: its shape, its number of values), its kind is
# the template's (an integer array holds no '.', 'e' or 'E'; a float one holds one), and orjson's own parse of
# its numbers reads them (a text that is not a JSON number, or 1e400, fails it: the usual path answers).
_FLOAT_HOLE = rb"(-?[0-9]+[.eE][0-9.eE+\-]*)"
_INT_HOLE = rb"(-?[0-9]{1,18})"
_ARRAY_HOLE = rb"(\[[0-9.eE+\-\[\], \t\n\r]*\])"
_BLANK = b" \t\n\r"
# A run of 19 digits: the usual parse then reads the body again with the standard library (body.parse_doc), so
# such a body is left to it
_DIGIT_MAP = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_DIGIT_RUN = b"0" * 19
# An integer of 16 digits or more among a float array's numbers (2**53 has 16): the array is read as float64, which
# may not hold it exactly, where torch.tensor converts each int exactly (an int64 leaf: redteam12 F6). Such a
# body is left to the usual path; found only where the translated text has a run of 16 digits.
_DIGIT_RUN_16 = b"0" * 16
_BIG_INT = re.compile(rb"(?<![0-9.eE+\-])-?[0-9]{16,}(?![0-9.eE])")
# (a bytes search here is .find, not `in`: bytes.__contains__ tries its operand as an int first, and that
# failure is a TypeError made and cleared, ~1k instructions a test)


class Single:
    """One structure's template for single bodies: the regex (a group per leaf), the plan key, and per leaf
    (shape, kind, size, array): kind None for a float given as a plain number (read as the Python float the
    parse gives), 'f' or 'i' for an array (float64, int64: what PlanCache.key's np.array makes of that data);
    array: its data is written as a JSON array (else one number)."""

    __slots__ = ("match", "key", "leaves", "floats", "all_float", "_pack", "colons", "prints", "vector")

    def __init__(self, template: batch_text.Template, text: bytes):
        leaves = template.leaves
        holes = batch_text._holes(text, list(template.doc["leaves"]))  # the spans make_template found
        spans: dict = {}
        for start, end, leaf, _ in holes or ():
            a, b = spans.get(leaf, (start, end))
            spans[leaf] = (min(a, start), max(b, end))
        if len(spans) != len(leaves):
            raise ValueError("a leaf without numbers")
        parts, at, self.leaves = [], 0, []
        for i, (shape, kind) in enumerate(leaves):
            start, end = spans[i]
            array = bool(shape)
            if array:  # the whole array: out to its outer brackets (a leaf's data follows ':' and precedes ',' or '}')
                while start > 0 and text[start - 1] in b"[" + _BLANK:
                    start -= 1
                while text[start] in _BLANK:
                    start += 1
                while end < len(text) and text[end] in b"]" + _BLANK:
                    end += 1
                while text[end - 1] in _BLANK:
                    end -= 1
                hole = _ARRAY_HOLE
            else:
                hole = _FLOAT_HOLE if kind is None else _INT_HOLE
            if start < at:
                raise ValueError("leaves out of order")
            parts += [re.escape(text[at:start]), hole]
            at = end
            self.leaves.append((tuple(shape), kind, math.prod(shape), array))
        parts.append(re.escape(text[at:]))
        # a run of 19 digits in the literal text (a name, an op's argument) would be in every body that matches:
        # no template (find checks the leaves' texts alone; a hole's digits border no digit of the literal text)
        if any(_DIGIT_RUN in lit.translate(_DIGIT_MAP) for lit in parts[::2]):  # (re.escape leaves digits be)
            raise ValueError("a run of 19 digits in the template's own text")
        self.match = re.compile(b"".join(parts)).fullmatch
        self.key = template.key
        # A body that matches has this text's colons and \\u escapes: its literal text is this one's, and a
        # hole's characters (digits, '.', 'e', 'E', '+', '-', brackets, commas, blanks) are neither ':' nor '\\'
        # nor 'u'. So its colon count, for body.colons_known, is this text's (-1, never a count, where this text
        # has a \\u escape: colons_known is false for every such body).
        self.colons = text.count(b":") if text.find(b"\\u") < 0 else -1
        # (group, its fingerprint) of each array leaf: a body of this fingerprint has those of its groups
        # (find's test of a body matched before its fingerprint was looked up); a number's group has none
        self.prints = tuple((i + 1, text[a:b].translate(None, _NUMERIC))
                            for i, (a, b) in enumerate(self._group_spans(text)) if self.leaves[i][3])
        self.floats = all(kind is None for _, kind, _, _ in self.leaves)
        self.all_float = all(kind != "i" for _, kind, _, _ in self.leaves)  # no integer array: one np.array
        self._pack = None  # struct.Struct of this template's count of float64s, made on first use
        # one leaf, a float vector: its text is one JSON list of its numbers (its brackets the template's)
        self.vector = len(self.leaves) == 1 and len(self.leaves[0][0]) == 1 and self.leaves[0][1] == "f"

    def _group_spans(self, text: bytes) -> list:
        m = self.match(text)
        if m is None:
            raise ValueError("the template does not match its own text")
        return [m.span(i + 1) for i in range(len(self.leaves))]

    def same_print(self, m) -> bool:
        """Whether a body this template's regex matched (`m`) has the template's fingerprint: its literal text
        is the template's, and a number's group holds only the characters the fingerprint drops, so only its
        arrays' groups (brackets, commas, blanks) can differ."""
        for i, fp in self.prints:
            if m.group(i).translate(None, _NUMERIC) != fp:
                return False
        return True

    def arrays(self, groups: tuple) -> list | None:
        """The leaf arrays of a body whose leaves' data are `groups` (their texts), as PlanCache.key gives
        them; None where a group is not of its leaf's kind. Raises ValueError where they are not JSON numbers.
        The body's fingerprint is the template's (the caller's lookup): an array's shape is the template's."""
        if self.floats:  # every leaf one float: the parse's floats themselves
            text = b",".join(groups)
            return None if text.translate(_DIGIT_MAP).find(_DIGIT_RUN) >= 0 else orjson.loads(b"[%b]" % text)
        if self.vector:  # one float vector: its list parsed as it is and made the float64 array np.array makes
            g = groups[0]
            if g.find(b".") < 0 and g.find(b"e") < 0 and g.find(b"E") < 0:
                return None  # a float array of integers only
            if _long_digits(g):
                return None
            values = orjson.loads(g)
            if type(values) is not list or len(values) != self.leaves[0][2]:
                return None
            return [np.array(values, np.float64)]
        texts = []
        for (_, kind, _, array), g in zip(self.leaves, groups):
            if array:
                if (kind == "i") == (g.find(b".") >= 0 or g.find(b"e") >= 0 or g.find(b"E") >= 0):
                    return None  # an integer array with a float in it, or a float array of integers only
                g = g.translate(None, b"[]")
            texts.append(g)
        text = b",".join(texts)
        if _long_digits(text):
            return None
        values = orjson.loads(b"[%b]" % text)
        out, at = [], 0
        # no integer array: every array's values converted in one call (each the float64 np.array gives it
        # alone: struct's 'd' is the same conversion, a Python float's double or an int's correctly rounded one,
        # at a third of np.array's cost on a list), then viewed leaf by leaf (a replay copies its leaves:
        # _call_lowered's np.array; the buffer is a bytearray: the arrays are writable, as np.array's)
        whole = None
        if self.all_float:
            pack = self._pack
            if pack is None or pack.size != 8 * len(values):
                pack = self._pack = struct.Struct(f"={len(values)}d")
            whole = np.frombuffer(bytearray(pack.pack(*values)), np.float64)
        for shape, kind, size, _ in self.leaves:
            if kind is None:
                out.append(values[at])
            else:
                a = whole[at:at + size] if whole is not None else np.array(
                    values[at:at + size], np.float64 if kind == "f" else np.int64)
                out.append(a.reshape(shape) if shape != (size,) else a)
            at += size
        if at != len(values):
            return None
        return out


def _long_digits(text: bytes) -> bool:
    """Whether leaves' texts hold a run of 19 digits, or an integer of 16 digits or more (_BIG_INT)."""
    t = text.translate(_DIGIT_MAP)
    return t.find(_DIGIT_RUN) >= 0 or (t.find(_DIGIT_RUN_16) >= 0 and _BIG_INT.search(text) is not None)


def _same(a: list, b: list) -> bool:
    """Whether two lists of leaf arrays are the same, as PlanCache.key would give them (a float: its value
    and sign; an array: its dtype, shape and values)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if type(x) is not type(y):
            return False
        if type(x) is float:
            if x != y or math.copysign(1.0, x) != math.copysign(1.0, y):
                return False
        elif x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
            return False
    return True


class Texts:
    """The templates of one service, by fingerprint (None where a fingerprint's body made none)."""

    def __init__(self, max_templates: int = MAX_TEMPLATES):
        self.max_templates = max_templates
        self._by_print: dict = {}
        self._last: Single | None = None  # the template of the last body found, while its fingerprint holds it

    def find(self, body: bytes) -> tuple[bytes, list, int] | None:
        """(plan key, leaf arrays, the body's colon count or -1: Single.colons) of a body that matches a
        template, else None. The last body's template is tried first: a body it matches with its fingerprint
        (Single.same_print) is one the fingerprint's lookup finds it for, without the fingerprint's pass over
        the whole text; any other is looked up by its fingerprint."""
        t = self._last
        m = t.match(body) if t is not None else None
        if m is None or not t.same_print(m):
            t = self._by_print.get(body.translate(None, _NUMERIC))
            if t is None:
                return None
            m = t.match(body)
            if m is None:  # (a run of 19 digits: arrays looks for one in the leaves' texts, the template has none)
                return None
            self._last = t
        try:
            arrays = t.arrays(m.groups())
        except ValueError:  # not JSON numbers (orjson.JSONDecodeError): the usual path answers
            return None
        return (t.key, arrays, t.colons) if arrays is not None else None

    def learn(self, body: bytes, doc, key: bytes, arrays: list) -> None:
        """Make the template of a body (its parse `doc`, PlanCache.key's key and arrays of it), unless its
        fingerprint has one, or had none, already."""
        fp = body.translate(None, _NUMERIC)
        by = self._by_print
        if fp in by or self.max_templates <= 0:
            return
        while len(by) >= self.max_templates:
            del by[next(iter(by))]
            self._last = None  # (it may have been that one)
        by[fp] = None  # tried: a fingerprint whose body makes no template is not tried again
        if (len(body) > TEXT_MAX or type(doc) is not dict or "expression" in doc or "functions" in doc
                or sum(1 for t in by.values() if t is not None and t.key == key) >= PER_KEY):
            return
        try:
            t = batch_text.make_template(body, doc, key, arrays)
            if t is None:
                return
            single = Single(t, body)
            m = single.match(body)
            got = single.arrays(m.groups()) if m is not None else None
            if got is not None and _same(got, arrays):
                by[fp] = single
        except (ValueError, TypeError, OverflowError, RecursionError, re.error):
            return

    def forget(self, body: bytes) -> None:
        """No template for this body's fingerprint from now on (its program does not replay lowered)."""
        fp = body.translate(None, _NUMERIC)
        if fp in self._by_print:
            self._by_print[fp] = None
            self._last = None  # (it may have been that one)

    def __len__(self) -> int:
        return sum(t is not None for t in self._by_print.values())
