"""A small request read as text: its body matched against a template of an earlier body of its structure, its leaf
values read straight from the text, the document never parsed.

On the event loop, a request whose structure ran there before (its Program is cached, lowered, and noted as
the loop's) costs the parse of its body (orjson), a walk of the whole document for its plan key (every
leaf's nested list made an array: ~7 us for a 32x4 matrix) and the replay. Here the body is first matched
against a template of an earlier body of that structure: engine.program.batch_text's Template, that body's
own text with every number of its leaves' `data` a hole of the same kind (an integer for an integer, a
fraction or exponent for one, capped so that no number is infinite or past int64). A body that matches is
that document with other leaf values: the same text but for those numbers, so the same keys, names, ops,
flags, shapes and kinds, the same colons (its duplicate-key check is its template's), the same plan key; its
leaf arrays are its numbers as the parse reads them (orjson's own parse of their texts; a float is the
correctly rounded double either way), made the arrays PlanCache.key makes (tests/app/test_bytext.py holds
the two routes to the same answers, hypothesis over values, signed zeros, exponents and integers).

A template is found by the body's fingerprint: its text without the characters numbers are written with (digits,
'.', 'e', 'E', '+', '-'; one C pass), which every body of the template's text has; another structure of the same
fingerprint ("dim": 0 for "dim": 1) fails the match. Anything else, or any doubt, gives None and the request takes
the usual path, which answers as it always did: no template yet, a failed match, a program no longer cached or not
lowered, a replay that diverged or passes the loop's caps (engine.budget.Spill). Bounded: templates are made only
of small bodies (the loop's) whose structure repeated, once a fingerprint, at most MAX_TEMPLATES kept (the oldest
dropped); a match is one regex of literal text and capped holes from one position, linear in the body's length."""
from __future__ import annotations

import math

import numpy as np
import orjson

from engine.program import batch_text

MAX_TEMPLATES = 256
_NUMERIC = b"0123456789.eE+-"  # what a JSON number is written with


class Single:
    """One structure's template for single bodies: the regex, the plan key, and per leaf (shape, kind, size):
    kind None for a float given as a plain number (read as the Python float the parse gives), 'f' or 'i'
    for an array (float64, int64: what PlanCache.key's np.array makes of that data)."""

    __slots__ = ("match", "key", "leaves", "floats")

    def __init__(self, template: batch_text.Template):
        self.match = template.pattern.fullmatch
        self.key = template.key
        self.leaves = [(tuple(shape), kind, math.prod(shape)) for shape, kind in template.leaves]
        self.floats = all(kind is None for _, kind, _ in self.leaves)

    def arrays(self, numbers: tuple) -> list:
        """The leaf arrays of a body whose holes hold `numbers` (their texts), as PlanCache.key gives them."""
        values = orjson.loads(b"[%b]" % b",".join(numbers))
        if self.floats:  # every leaf one float: the parse's floats themselves
            return values
        out, at = [], 0
        for shape, kind, size in self.leaves:
            if kind is None:
                out.append(values[at])
            else:
                a = np.array(values[at:at + size], np.float64 if kind == "f" else np.int64)
                out.append(a.reshape(shape) if shape != (size,) else a)
            at += size
        return out


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

    def find(self, body: bytes) -> tuple[bytes, list] | None:
        """(plan key, leaf arrays) of a body that matches a template, else None."""
        t = self._by_print.get(body.translate(None, _NUMERIC))
        if t is None:
            return None
        m = t.match(body)
        if m is None:
            return None
        try:
            return t.key, t.arrays(m.groups())
        except (ValueError, OverflowError):  # cannot be (the holes are capped): the usual path decides
            return None

    def learn(self, body: bytes, doc, key: bytes, arrays: list) -> None:
        """Make the template of a body (its parse `doc`, PlanCache.key's key and arrays of it), unless its
        fingerprint has one, or had none, already."""
        fp = body.translate(None, _NUMERIC)
        by = self._by_print
        if fp in by or self.max_templates <= 0:
            return
        while len(by) >= self.max_templates:
            del by[next(iter(by))]
        by[fp] = None  # tried: a fingerprint whose body makes no template is not tried again
        if type(doc) is not dict or "expression" in doc or "functions" in doc:
            return
        try:
            t = batch_text.make_template(body, doc, key, arrays)
            if t is None:
                return
            single = Single(t)
            m = single.match(body)
            if m is not None and _same(single.arrays(m.groups()), arrays):
                by[fp] = single
        except (ValueError, TypeError, OverflowError, RecursionError):
            return

    def forget(self, body: bytes) -> None:
        """No template for this body's fingerprint from now on (its program does not replay lowered)."""
        fp = body.translate(None, _NUMERIC)
        if fp in self._by_print:
            self._by_print[fp] = None

    def __len__(self) -> int:
        return sum(t is not None for t in self._by_print.values())
