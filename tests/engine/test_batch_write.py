"""engine.program.batch_write: a vectorized chunk's responses written a hole at a time. The reprs made by integer
arithmetic are torch's to the character (live torch 2.13) at every kind of value the fixed-point range holds
(ties at the 4th decimal, whole numbers, the range's ends, float16 and float32); every document's bytes are
the program's own writer's, of the size it says; documents out of the range are left to the writer."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.program import PlanCache, batch
from engine.program.batch_write import Written, fast_writer
from tests.lowering import sight_until_lowered

assert torch.__version__.startswith("2.13")


def _program(dtype: str):
    spec = {"leaves": {"x": {"data": 1.5, "dtype": dtype, "requires_grad": True}},
            "ops": [{"name": "y", "op": "mul", "args": ["x", 3.0]}], "backward": [{"tensor": "y"}]}
    cache = PlanCache()
    values = iter(np.arange(1.5, 100))
    key, _ = cache.key(spec, engine.program.DEFAULT_LIMITS)

    def send():
        spec["leaves"]["x"]["data"] = float(next(values))
        engine.evaluate_json(spec, cache=cache)

    sight_until_lowered(send, cache, key)  # record, then lower once it recurs
    program = cache.get(key)
    assert program.lowered and batch.vectorizable(program)
    return program


PROGRAMS = {d: _program(d) for d in ("float32", "float16", "float64")}


def _values(dtype: str, rng: random.Random, n: int) -> np.ndarray:
    """Values of every kind the fixed-point writer meets, as `dtype` holds them."""
    out = []
    for _ in range(n):
        kind = rng.randrange(6)
        if kind == 0:  # exact ties at the 4th decimal: k / 2**m
            v = rng.randint(-10**5, 10**5) / 2 ** rng.randint(4, 12)
        elif kind == 1:  # whole
            v = float(rng.randint(-10**8, 10**8))
        elif kind == 2:  # the range's ends
            v = rng.choice([1e-4, 1.0001e-4, 9.9999e-5, 1e8, 99999992.0, 5e-5, 0.00015]) * rng.choice([1, -1])
        elif kind == 3:  # any bit pattern
            v = float(np.frombuffer(rng.getrandbits(32).to_bytes(4, "little"), np.float32)[0])
        else:
            v = rng.uniform(-1e3, 1e3) * 10 ** rng.randint(-4, 5)
        out.append(v)
    return np.array(out, dtype=dtype).astype(np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_reprs_are_torchs(dtype):
    program = PROGRAMS[dtype]
    rng = random.Random(7)
    v = _values(dtype, rng, 4000)
    data, grads = program.lowered.fn(v.astype(dtype))
    fast = fast_writer(program, program.lowered, program.fixed[0], grads)
    assert fast is not None
    lo, hi = engine.printing.FIXED_RANGE
    got = fast.reprs(0, v, b"")  # the x row: (column, lengths) pieces
    texts = [b"".join(p if type(p) is bytes else p[j] for p, _ in got) for j in range(len(v))]
    sizes = sum(len(p) if size is None else size for p, size in got)
    assert [len(x) for x in texts] == list(sizes)
    checked = 0
    for j, x in enumerate(v.tolist()):
        if not (lo <= abs(x) <= hi):
            continue
        want = repr(torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)).encode()
        assert texts[j] == want, (x, texts[j], want)
        checked += 1
    assert checked > 2000


WRAP = (b'{"status":200,"body":', b"},")


def _write_all(values, dtype):
    """The seed program's lowered run of `values` (one document each) and the fast writer's Written of them:
    (low, cols, gcols, written): the lowered program, the data's and the grads' columns, the Written."""
    program = PROGRAMS[dtype]
    low = program.lowered
    x = np.array(values, np.float64).astype(dtype)
    data, grads = low.fn(x)
    fast = fast_writer(program, low, program.fixed[0], grads)
    n = len(x)
    cols = [np.broadcast_to(d, (n,)).reshape(n) for d in data]
    gcols = [None if g is None else np.broadcast_to(g, (n,)).reshape(n) for g in grads]
    return low, cols, gcols, fast.write_all(cols, gcols, n, WRAP)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(width=32, allow_subnormal=True), min_size=1, max_size=40),
       st.sampled_from(["float32", "float16", "float64"]))
def test_each_document_is_the_writers(values, dtype):
    low, cols, gcols, out = _write_all(values, dtype)
    n = len(values)
    lo, hi = engine.printing.FIXED_RANGE
    left = set(out.left)
    for j in range(n):
        ds = [c[j].item() for c in cols]
        gs = [None if g is None else g[j].item() for g in gcols]
        inside = all(lo <= abs(v) <= hi for v in ds) and all(np.isfinite(v) for v in ds + [g for g in gs if g])
        if j in left:
            assert not inside
            continue
        assert inside
        assert out[j] == low.writer.write(ds, gs)
        assert out.sizes[j] == len(out[j])  # the size the batch's response limit counts
        assert b"".join(out.doc_pieces(j)) == WRAP[0] + out[j] + WRAP[1]


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_fixed_texts_are_pythons_formats(p, dtype):
    """batch_write._fixed_texts (digits from tables, four at a time, NULs squeezed out) gives `%.{p}f`, or `%.0f.`
    for a whole value, of every value inside the fixed-point range, with its length: one, two and three groups
    of digits (below 10**4, 10**8, and 10**8 itself), signs, zeros, ties; values outside are garbage, never an
    error, and keep their place."""
    from engine.program.batch_write import _fixed_texts

    rng = random.Random(p)
    v = _values(dtype, rng, 3000)
    extra = [1e8, -1e8, 99999999.0, 9999.0, 10000.0, -10000.5, 0.5, -0.5, 1e-4, -1e-4, 1.0, float("nan"),
             float("inf"), -float("inf"), 0.0, -0.0, 1e9, 5e-5]
    v = np.concatenate([v, np.array(extra, dtype).astype(np.float64)])
    texts, lengths = _fixed_texts(v, p)
    assert len(texts) == len(v) == len(lengths)
    lo, hi = engine.printing.FIXED_RANGE
    checked = 0
    for x, text, n in zip(v.tolist(), texts, lengths.tolist()):
        if not lo <= abs(x) <= hi:
            continue
        want = (b"%%.%df" % p) % x if x % 1 else b"%.0f." % x
        assert (text, n) == (want, len(want)), x
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("p", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_fixed_texts_below_ten_thousand_are_pythons_formats(p, dtype):
    """_fixed_texts' two-word rows (every integer part below 10**4, at most 4 decimals) give `%.{p}f`, or `%.0f.`
    for a whole value, with its length: signs, ties, whole values, the range's low end, 9999 and what rounds up
    to 10000 (its integer part then has five digits: the four-byte rows take those); values outside the range
    are garbage, never an error, and keep their place."""
    from engine.program.batch_write import _fixed_texts

    rng = random.Random(100 + p)
    v = [rng.uniform(-9999, 9999) * 10 ** -rng.randint(0, 7) for _ in range(3000)]
    v += [rng.randint(-2 ** 14, 2 ** 14) / 2 ** rng.randint(1, 14) for _ in range(1000)]  # ties
    v += [float(rng.randint(-9999, 9999)) for _ in range(300)]  # whole
    v += [9999.0, -9999.0, 9999.5, 1e-4, -1e-4, 5e-5, 0.5, -0.5, 1.0, -1.0, float("nan"), float("inf"), 0.0, -0.0]
    x = np.array(v, dtype).astype(np.float64)
    texts, lengths = _fixed_texts(x, p)
    assert len(texts) == len(x) == len(lengths)
    lo, hi = engine.printing.FIXED_RANGE
    checked = 0
    for value, text, n in zip(x.tolist(), texts, lengths.tolist()):
        if not lo <= abs(value) <= hi:
            continue
        want = (b"%%.%df" % p) % value if value % 1 else b"%.0f." % value
        assert (text, n) == (want, len(want)), value
        checked += 1
    assert checked > 3000


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(width=32, min_value=-1e6, max_value=1e6), min_size=1, max_size=30),
       st.sampled_from(["float32", "float16"]))
def test_a_written_given_as_one_text_is_its_pieces(values, dtype):
    """A compute worker's answers come back as one text (Written.joined, the route takes it whole): each document,
    its pieces (cut from the text only where asked for) and sizes are those of the Written the writer made."""
    low, cols, gcols, out = _write_all(values, dtype)
    n = len(values)
    for j in out.left:
        out.put(j, b"written alone %d" % j)
    text = bytearray(out.text()) + b"and after it"  # (a reused buffer: longer than the answers)
    whole = Written(None, 1, list(out.sizes), [], WRAP, memoryview(text)[:len(text) - 12])
    assert bytes(whole.joined) == out.text()
    for j in range(n):
        assert whole[j] == out[j]
        assert bytes(b"".join(whole.doc_pieces(j))) == WRAP[0] + out[j] + WRAP[1]
    whole.put(0, b"again")
    assert whole[0] == b"again" and whole.sizes[0] == 5 and whole.joined is None  # no longer the documents' text


@given(st.lists(st.binary(max_size=12), min_size=1, max_size=30), st.binary(max_size=3), st.binary(max_size=3))
@settings(max_examples=60, deadline=None)
def test_iterating_a_joined_chunk_cuts_each_document(texts, w0, w1):
    """A chunk whose text came as one buffer (the C filler's, a compute worker's): iterating it (the JSON batch
    path's `zip(chunk, outs)`) cuts every document in one pass (review17 R2: by self[j] it was quadratic), the same
    documents as indexing, and as the pieces' form."""
    joined = b"".join(w0 + t + w1 for t in texts)
    written = Written(None, 1, [len(t) for t in texts], [], (w0, w1), joined=joined)
    assert list(written) == [written[j] for j in range(len(texts))] == texts
    pieces = Written([w0 + t + w1 for t in texts], 1, [len(t) for t in texts], [], (w0, w1))
    assert list(pieces) == texts
