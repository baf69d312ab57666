"""engine.program._textfill, the optional C filler of the batch fast writer (engine/program/_textfill.c), against
the pure-Python path it accelerates (batch_write.FastWriter.write_all with ACCEL None), byte for byte: random
templates (texts with `%`, one to six decimals, grads or not) and values of every kind (the fixed-point range's
edges at every magnitude, -0.0, ties at each precision, float16 and float32 values, NaN and the infinities, which go
to the writer's `left`); its cap, its refusals of what it does not write, and its checks of malformed input.
Skips where the module was not built (no C compiler at install): the Python path is then the only one."""
from __future__ import annotations

import random

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.program import batch_write
from engine.program.batch_write import FastWriter, _fixed_texts

try:
    from engine.program import _textfill
except ImportError:  # pragma: no cover - no C compiler where it was installed
    _textfill = None

pytestmark = pytest.mark.skipif(_textfill is None, reason="engine.program._textfill was not built")

WRAP = (b'{"status":200,"body":', b"},")


def _writer(rng: random.Random, rows: int) -> FastWriter:
    """A FastWriter of `rows` 0-d rows with random template texts (the writer's `%` escapes included), decimals,
    grads and dtypes, every row's reprs made by integer arithmetic (what the C filler takes)."""
    grads = [rng.random() < 0.6 for _ in range(rows)]
    dtypes = [rng.choice(["float32", "float16"]) for _ in range(rows)]

    def text():
        return bytes(rng.choice(b'ab,{}":%[] .-0123') for _ in range(rng.randrange(0, 12)))

    fixed = []
    for _ in range(rows):
        p = rng.randint(1, 6)
        pre, post = (text().replace(b"%", b"%%") for _ in range(2))
        fixed.append((pre + b"%%.%df" % p + post, pre + b"%.0f." + post))
    texts = [text() for _ in range(sum(2 + g for g in grads) + 1)]
    return FastWriter(texts, fixed, grads, dtypes)


def _both(fw: FastWriter, data, grads, n, cap=None):
    """write_all through the C filler and through the Python path: (c, python), the C one checked to be it."""
    saved = batch_write.ACCEL
    try:
        batch_write.ACCEL = None
        py = fw.write_all(data, grads, n, WRAP)
        batch_write.ACCEL = _textfill
        c = fw.write_all(data, grads, n, WRAP, cap)
    finally:
        batch_write.ACCEL = saved
    return c, py


def _same(c, py) -> None:
    """Every document's answer, size and the documents left to the writer are the same; so is the whole text,
    once the left ones are written (as the route and a compute worker take it)."""
    assert c.left == py.left
    assert len(c) == len(py)
    for j in range(len(py)):
        if j not in py.left:
            assert c[j] == py[j], j
            assert c.sizes[j] == py.sizes[j] == len(py[j])
    for w in (c, py):
        for j in list(w.left):
            w.put(j, b"left %d" % j)
    assert bytes(c.text()) == b"".join(py.pieces)


def _magnitudes(rng: random.Random, dtype: str, n: int) -> np.ndarray:
    """Values of every kind the reprs meet, as `dtype` holds them, as float64."""
    out = []
    for _ in range(n):
        kind = rng.randrange(7)
        if kind == 0:  # ties at some precision: k / 2**m
            v = rng.randint(-10**6, 10**6) / 2 ** rng.randint(1, 20)
        elif kind == 1:  # whole, up to the range's top
            v = float(rng.randint(-10**8, 10**8))
        elif kind == 2:  # the range's edges
            v = rng.choice([1e-4, 1.0001e-4, 9.9999e-5, 1e8, 99999992.0, 5e-5, 0.00015, 9999.5, 9999.99995,
                            0.5, 0.05, 0.005, 0.0005, 1e4, 1e5, 1e6, 1e7]) * rng.choice([1, -1])
        elif kind == 3:  # any bit pattern (NaN, the infinities, subnormals, huge)
            v = float(np.frombuffer(rng.getrandbits(32).to_bytes(4, "little"), np.float32)[0])
        elif kind == 4:
            v = rng.choice([0.0, -0.0, float("nan"), float("inf"), -float("inf")])
        else:  # every magnitude of the range
            v = rng.uniform(-1, 1) * 10 ** rng.randint(-4, 8)
        out.append(v)
    with np.errstate(all="ignore"):
        return np.array(out, dtype).astype(np.float64)


@pytest.mark.parametrize("seed", range(40))
def test_the_c_filler_writes_the_python_paths_bytes(seed):
    rng = random.Random(seed)
    rows = rng.randint(1, 6)
    fw = _writer(rng, rows)
    assert fw.layout is not None
    n = rng.choice([1, 2, 7, 50, 300])
    inside = rng.random() < 0.5  # half the cases: every value in the range (no document left)
    data = []
    for i in range(rows):
        v = _magnitudes(rng, fw.dtypes[i], n)
        if inside:
            v = np.where(np.isfinite(v) & (np.abs(v) >= 1e-4) & (np.abs(v) <= 1e8), v, 1.5)
        data.append(v)
    grads = [_magnitudes(rng, "float32", n) if g else None for g in fw.grads]
    c, py = _both(fw, data, grads, n)
    assert c.pieces is None and c.joined is not None  # the C filler wrote it
    _same(c, py)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(width=32, allow_subnormal=True) | st.sampled_from([1e-4, -1e-4, 1e8, -1e8, -0.0])
                | st.builds(lambda k, m: k / 2 ** m, st.integers(-2 ** 24, 2 ** 24), st.integers(1, 24)),  # ties
                min_size=1, max_size=30),
       st.integers(1, 6), st.sampled_from(["float32", "float16"]), st.booleans())
def test_one_row_of_any_values(values, p, dtype, grad):
    fw = FastWriter([b'{"v":', b',"g":', b',"r":"', b'"}'][:2 + grad] + [b'"}'],
                    [(b"tensor(%%.%df)" % p, b"tensor(%.0f.)")], [grad], [dtype])
    with np.errstate(all="ignore"):
        v = np.array(values, dtype).astype(np.float64)
    g = [v[::-1].copy()] if grad else [None]
    c, py = _both(fw, [v], g, len(v))
    _same(c, py)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 6])
def test_the_reprs_are_fixed_texts_at_every_precision(p):
    """The C repr of each value in the range is _fixed_texts' (and so `%.{p}f`), ties at the p-th decimal both
    ways, values rounding up to the next power of ten, the range's ends."""
    rng = random.Random(p)
    ties = [(2 * k + 1) / 2 / 10 ** p for k in range(0, 2000)]  # k.5 units of the p-th decimal (exact where
    ties += [k / 2 ** m for k in range(1, 400) for m in (1, 2, 3, 4, 5, 6, 7)]  # representable)
    near = [10 ** e - 0.5 / 10 ** p for e in range(0, 8)] + [10 ** e + 0.5 / 10 ** p for e in range(0, 8)]
    v = np.array(ties + near + [1e-4, 1e8, 99999992.0] + [rng.uniform(-1e4, 1e4) for _ in range(3000)],
                 np.float32).astype(np.float64)
    v = v[(np.abs(v) >= 1e-4) & (np.abs(v) <= 1e8)]
    v = np.concatenate([v, -v])
    text, sizes = _textfill.fill(orjson.dumps([0] * len(v)), 1, (None, b"|", (0, p)), v, np.ones(len(v), bool),
                                 b"", b"\n", -1)
    want, lengths = _fixed_texts(v, p)
    got = [t.split(b"|", 1)[1] for t in text.split(b"\n")[:-1]]
    assert got == want
    assert sizes == [2 + k for k in lengths.tolist()]


def test_the_cap_is_checked_before_anything_is_made():
    v = np.array([1.5, -2.25, 3.0])
    args = (orjson.dumps([1.0, 2.0, 3.0]), 1, (b"<", None, b">", (0, 2)), v, np.ones(3, bool), b"[", b"]")
    text, sizes = _textfill.fill(*args, -1)
    assert text == b"[<1.0>1.50][<2.0>-2.25][<3.0>3.]"
    assert sizes == [9, 10, 7]
    assert _textfill.fill(*args, len(text)) == (text, sizes)  # (at the cap: made)
    assert _textfill.fill(*args, len(text) - 1) is None  # past it: None, the pieces' path then


def test_a_document_not_ok_is_its_wrap_alone_and_its_numbers_skipped():
    v = np.array([1.5, float("nan"), 3.0])
    text, sizes = _textfill.fill(orjson.dumps([1.0, None, 3.0]), 1, (None, b" ", (0, 1)), v,
                                 np.array([1, 0, 1], np.uint8), b"(", b")", -1)
    assert (text, sizes) == (b"(1.0 1.5)()(3.0 3.)", [7, 0, 6])


@pytest.mark.parametrize("v", [0.1, 1e-5, 2e8, float("nan"), float("inf")])
def test_a_value_it_does_not_write_declines_the_whole(v):
    """A repr value that is not a float32 value in the fixed-point range (a float64 row; out of range though the
    caller said ok): None, the Python path writes it."""
    out = _textfill.fill(b"[1.0,2.0]", 1, (None, (0, 4)), np.array([1.5, v]), np.ones(2, bool), b"", b"", -1)
    assert out is None


@pytest.mark.parametrize("dumped, width, layout", [
    (b"[1.0,2.0]", 1, (None,)),  # 2 numbers for 3 documents
    (b"[1.0,2.0,3.0,4.0]", 1, (None,)),  # one left over
    (b"[1.0,2.0,3.0]", 2, (None,)),  # width is not the layout's count of numbers
    (b"[1.0,,3.0]", 1, (None,)),  # an empty number
    (b"1.0,2.0,3.0", 1, (None,)),  # no brackets
    (b"[]", 1, (None,)),
    (b"[1.0,2.0,3.0]", 1, (None, (1, 4))),  # no row 1
    (b"[1.0,2.0,3.0]", 1, (None, (0, 7))),  # 7 decimals
    (b"[1.0,2.0,3.0]", 1, (None, 5)),  # not an item
    (b"[1.0,2.0,3.0]", 0, ()),
])
def test_malformed_input_is_an_error_never_a_read_past_it(dumped, width, layout):
    with pytest.raises((ValueError, TypeError)):
        _textfill.fill(dumped, width, layout, np.ones(3), np.ones(3, bool), b"", b"", -1)


def test_buffers_of_the_wrong_kind_are_refused():
    with pytest.raises(ValueError):  # float32 values
        _textfill.fill(b"[1.0]", 1, (None,), np.ones(1, np.float32), np.ones(1, bool), b"", b"", -1)
    with pytest.raises(ValueError):  # no document
        _textfill.fill(b"[1.0]", 1, (None,), np.ones(0), np.ones(0, bool), b"", b"", -1)
    with pytest.raises(ValueError):  # values for 3 documents, ok for 2
        _textfill.fill(b"[1.0,2.0]", 1, (None,), np.ones(3), np.ones(2, bool), b"", b"", -1)
    with pytest.raises((ValueError, BufferError)):  # not contiguous
        _textfill.fill(b"[1.0,2.0]", 1, (None,), np.ones(4)[::2], np.ones(2, bool), b"", b"", -1)


def test_a_float64_row_takes_the_python_path():
    fw = FastWriter([b"a", b"b", b"c"], [(b"%.4f", b"%.0f.")], [False], ["float64"])
    assert fw.layout is None
    out = fw.write_all([np.array([1.5, 2.5])], [None], 2, WRAP)
    assert out.pieces is not None and out[0] == b"a1.5b1.5000c"


# ---- the scan's hot part in C (bulk: batch_text._bulk's run of one template's documents), reading client bytes


def _scan_both(body: bytes, after: int = 1):
    """batch_text.scan of `body` with _bulk in C and in Python (runs matched many at a time after `after`
    documents), each with a fresh plan cache."""
    from engine.program import PlanCache, batch_text
    from tests.engine.test_batch_text import _make

    saved, saved_after = batch_write.ACCEL, batch_text._BULK_AFTER
    out = []
    try:
        batch_text._BULK_AFTER = after
        for accel in (_textfill, None):
            batch_write.ACCEL = accel
            make, _ = _make(PlanCache())
            out.append(batch_text.scan(body, 10_000, make))
    finally:
        batch_write.ACCEL, batch_text._BULK_AFTER = saved, saved_after
    return out


def _run_body(n: int, seed: int) -> bytes:
    from tests.engine.test_batch_text import _long_run

    return b'{"requests": [' + b", ".join(_long_run(n, seed)) + b"]}"


_BODY = _run_body(60, 11)
# where mutations tell most: a number's characters and the bytes around them (a hole's ends)
_NEAR = sorted({i + d for i, c in enumerate(_BODY) if c in b"-.0123456789eE" for d in (-1, 0, 1)
                if 0 <= i + d < len(_BODY)})


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_BODY) - 1) | st.sampled_from(_NEAR),
                          st.sampled_from(["set", "insert", "delete"]),
                          st.sampled_from(b'0123456789-+.eE ,:{}[]"ab\n\x00\xff')), min_size=1, max_size=4),
       st.sampled_from([1, 2, 8]))
def test_the_c_scan_reads_mutated_bodies_as_the_python_scan(mutations, after):
    """Random bytes set, inserted and deleted anywhere in a run of 60 documents of one template (numbers' and
    the template's characters, whitespace, NUL, a non-ASCII byte): the scan with _bulk in C reads what it reads
    in Python: the same documents, starts, templates and numbers, or None."""
    from tests.engine.test_batch_text import _same_scan

    body = bytearray(_BODY)
    for at, kind, byte in mutations:
        at = min(at, len(body) - 1)
        if kind == "set":
            body[at] = byte
        elif kind == "insert":
            body.insert(at, byte)
        else:
            del body[at]
    c, py = _scan_both(bytes(body), after)
    _same_scan(py, c)


def test_bulk_reads_nothing_past_its_end():
    """At every end from a document's start to the body's end: the documents found end before it (a document cut
    by it is not one), the same ones the Python scan's window takes; an end past the body, or before pos, is an
    error, never a read."""
    body = _run_body(6, 2)
    from engine.program import batch_text

    c, _ = _scan_both(body)
    t = c.templates[0]
    pos = c.starts[1]
    sep = body[c.starts[0] + len(b""):c.starts[1]][-2:]  # ", "
    lits = tuple(t.lits)
    full = _textfill.bulk(body, pos, len(body), lits, sep)
    assert len(full[1]) == 4  # documents 1 to 4 (the last is followed by "]}", not the separator)
    for end in range(pos, len(body) + 1):
        holes, ends, whole = _textfill.bulk(body, pos, end, lits, sep)
        assert ends == [e for e in full[1] if e <= end - pos]
        assert holes == full[0][:len(ends) * t.holes]
        # stopped by the end (a cut document), not a differing byte, but where the last document's "]}" is seen
        assert whole == (end <= len(body) - 2)
    for pos_, end in ((pos, len(body) + 1), (pos, pos - 1), (-1, 10), (len(body) + 1, len(body) + 1)):
        with pytest.raises(ValueError):
            _textfill.bulk(body, pos_, end, lits, sep)
    with pytest.raises(ValueError):  # no hole
        _textfill.bulk(body, pos, len(body), lits[:1], sep)
    assert batch_text._LAX == rb"(-?[0-9][-+.0-9eE]*)"  # the C's lax hole is this pattern
