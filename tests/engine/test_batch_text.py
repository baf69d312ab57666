"""engine.program.batch_text: a batch's body read as text. A document that matches a template is, to what the
plan cache and the vectorized run read of it (its PlanCache key and leaf arrays), the document the parse
gives: checked on hypothesis-drawn batches that mix structures, whitespace, key orders, ints and floats,
special numbers, dtypes and deep or huge numbers; a body the text path cannot read is left to the whole
parse (None); a hostile body's work is bounded (templates made, tries per document)."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.program import DEFAULT_LIMITS, PlanCache, batch, batch_text


def _make(cache):
    made = []

    def make(text):
        made.append(text)
        doc = orjson.loads(text)
        hit = batch.keys([doc], cache, DEFAULT_LIMITS)[0]
        return None if hit is None else batch_text.make_template(text, doc, hit[0], hit[1])

    return make, made


def _same_arrays(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert type(x) is type(y)
        if type(x) is float:
            assert (x == y and math.copysign(1, x) == math.copysign(1, y)) or (x != x and y != y)
        else:
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)


def check_scan(body: bytes, cache=None):
    """Every matched document's key and arrays are the parse's; returns the Scan (or None)."""
    cache = cache or PlanCache()
    make, _ = _make(cache)
    s = batch_text.scan(body, 10_000, make)
    if s is None:
        return None
    docs = orjson.loads(body)["requests"]
    assert len(s.matched) == len(docs)
    for t in s.templates:
        cols = t.columns()
        assert len(t.rows) == (len(t.numbers) // t.holes if t.holes else 0)
        for r, i in enumerate(t.rows):
            assert s.matched[i] is t
            hit = batch.keys([docs[i]], cache, DEFAULT_LIMITS)[0]
            assert hit is not None and hit[0] == t.key
            _same_arrays(t.arrays(cols, r), hit[1])
    for i in range(len(s.matched)):  # every span is the document's own text
        a, b = batch_text.span(body, s, i)
        assert orjson.loads(body[a:b]) == docs[i]
    return s


SEED = {"leaves": {n: {"data": v, "requires_grad": True} for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0))},
        "ops": [{"name": "g", "op": "mul", "args": ["a", "b"]}, {"name": "f", "op": "add", "args": ["g", "c"]}],
        "backward": [{"tensor": "f"}]}

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["NaN", "Infinity", "-Infinity", True, None, 1e300, -0.0, 0, 1e-320]),
)


def _doc(draw):
    kind = draw(st.sampled_from(["seed", "list", "int", "dtype", "other"]))
    if kind == "seed":
        d = json.loads(json.dumps(SEED))
        for leaf in d["leaves"].values():
            leaf["data"] = draw(numbers)
    elif kind == "list":
        d = {"leaves": {"x": {"data": [[draw(numbers) for _ in range(2)] for _ in range(3)]}},
             "ops": [{"name": "y", "op": "exp", "args": ["x"]}]}
    elif kind == "int":
        d = {"leaves": {"k": {"data": draw(st.integers(-(10**19), 10**19)), "requires_grad": draw(st.booleans())}}}
    elif kind == "dtype":
        d = {"leaves": {"x": {"data": [draw(numbers), draw(numbers)], "dtype": draw(st.sampled_from(
            ["float64", "int32", "float16"]))}}}
    else:
        d = {"leaves": {}, "ops": [{"name": "z", "op": "zeros", "args": [draw(st.integers(0, 3))]}]}
    if draw(st.booleans()) and len(d.get("leaves", {})) > 1:  # another key order
        d["leaves"] = dict(reversed(list(d["leaves"].items())))
    return d


@st.composite
def bodies(draw):
    docs = [_doc(draw) for _ in range(draw(st.integers(1, 12)))]
    repeat = draw(st.integers(0, 8))  # runs of one structure, as a batch has them
    docs += [json.loads(json.dumps(docs[0])) for _ in range(repeat)]
    for d in docs[-repeat:] if repeat else []:
        for leaf in d.get("leaves", {}).values():
            if not isinstance(leaf["data"], list):
                leaf["data"] = draw(numbers)
    texts = []
    for d in docs:
        style = draw(st.sampled_from(["compact", "spaced", "indent"]))
        t = (json.dumps(d, separators=(",", ":")) if style == "compact"
             else json.dumps(d, indent=2 if style == "indent" else None))
        texts.append(t)
    sep = draw(st.sampled_from([",", ", ", " ,\n "]))
    return ('{"requests": [' + sep.join(texts) + "]}").encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_a_matched_document_reads_as_its_parse(body):
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # 1e300 * values json.dumps writes as Infinity: not JSON
    check_scan(body)


def test_runs_of_one_structure_match_one_template():
    docs = []
    for i in range(300):
        d = json.loads(json.dumps(SEED))
        for j, leaf in enumerate(d["leaves"].values()):
            leaf["data"] = (i + 1) * 0.37 + j
        docs.append(d)
    docs[100]["leaves"]["a"]["data"] = "NaN"  # a string where a number was
    docs[101]["leaves"]["b"]["data"] = 3  # an integer where a float was
    docs[102]["leaves"]["c"]["data"] = 2.5e-7  # an exponent: the same kind of number
    body = json.dumps({"requests": docs}).encode()
    s = check_scan(body)
    assert s is not None
    first = s.templates[0]
    missed = [i for i, t in enumerate(s.matched) if t is not first]
    assert missed == [100, 101]
    assert len(first.rows) == 298


def test_bodies_the_text_path_leaves_to_the_parse():
    make, _ = _make(PlanCache())
    seed = json.dumps(SEED)
    for body in [
        b"",
        b"[]",
        b'{"requests": []}',
        ('{"requests": [' + seed + "], \"x\": 1}").encode(),  # another field
        ('{"requests": [' + seed + "]} x").encode(),  # trailing text
        ('{"requests": [' + seed + ",]}").encode(),  # a trailing comma
        ('{"requests": [' + seed + "], \"requests\": []}").encode(),  # the envelope's key twice
        ('{"requests": [' + seed.replace("mul", "m\u00fcl") + "]}").encode(),  # not ASCII
        b'{"requests": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",  # too deep for raw_decode
        ('{"requests": [' + ",".join([seed] * 11) + "]}").encode(),  # over the limit of 10 below
    ]:
        assert batch_text.scan(body, 10, make) is None, body[:80]


def test_hostile_bodies_are_bounded():
    cache = PlanCache()
    # 10,000 tiny structures: each its own text, a template made for the first TEMPLATES only
    docs = [{"leaves": {f"x{i}": {"data": 1.0}}} for i in range(10_000)]
    make, made = _make(cache)
    s = batch_text.scan(orjson.dumps({"requests": docs}), 10_000, make)
    assert s is not None and len(made) == batch_text.TEMPLATES
    assert all(type(m) is tuple for m in s.matched[batch_text.TEMPLATES:])
    # numbers past the holes' caps never match: huge integers, long exponents, long mantissas
    for big in ["1" * 19, "1e300", "1." + "1" * 41, "-" + "9" * 26 + ".5"]:
        text = '{"leaves": {"k": {"data": %s}}}'
        body = ('{"requests": [' + text % "1.5" + "," + text % big + "]}").encode()
        make, made = _make(cache)
        s = batch_text.scan(body, 10, make)
        assert s is not None and type(s.matched[1]) is tuple
        check_scan(body, cache)
    # a document's leaf with more numbers than HOLES_MAX, or text past TEXT_MAX: no template
    wide = {"leaves": {"x": {"data": [0.5] * (batch_text.HOLES_MAX + 1)}}}
    long = {"leaves": {"x": {"data": 0.5}}, "ops": [{"name": "n" * 128, "op": "exp", "args": ["x"]}] * 600}
    for d in (wide, long):
        make, made = _make(cache)
        s = batch_text.scan(orjson.dumps({"requests": [d, d]}), 10, make)
        assert s is not None and not s.templates and len(made) == 2


def test_a_template_matches_only_its_own_text():
    body = json.dumps({"requests": [SEED]}).encode()
    make, _ = _make(PlanCache())
    t = batch_text.scan(body, 10, make).templates[0]
    text = json.dumps(SEED).encode()
    assert t.pattern.fullmatch(text)
    for other in [text.replace(b": ", b":"), text.replace(b"2.0", b"2"), text.replace(b"2.0", b'"NaN"'),
                  text.replace(b'"mul"', b'"add"'), text.replace(b"true", b"false"),
                  text.replace(b"4.0", b"4.0e400"), text.replace(b"4.0", b"--4.0")]:
        assert t.pattern.fullmatch(other) is None, other
    assert re.fullmatch(t.pattern, text.replace(b"2.0", b"-1.25e-7"))


# Number texts as a client may write them: valid JSON numbers in every spelling (signs, exponents of either case,
# leading zeros in fractions and exponents, -0, big integers, tiny and huge floats) and texts of number characters
# that are not JSON numbers (a run of documents is matched with lax holes: each such text must be caught)
_TEXTS = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,21})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"-?[0-9][-+.0-9eE]{0,8}", fullmatch=True),
    st.sampled_from(["-0", "-0.0", "0.0", "1e-7", "1E-7", "5e0", "1e+05", "1e400", "-1e400", "1e-400", "01",
                     "1.", "1e", "1e+", "--1", "1-2", "1.2.3", "9" * 18, "9" * 19, "-" + "9" * 18,
                     "18446744073709551616", "1." + "1" * 41, "2.5e-7", "100", "3"]),
)


@st.composite
def text_runs(draw):
    """A run of seed documents (json.dumps' spacing) whose leaves' numbers are drawn texts; the template is made
    of the first, a float document."""
    seed = json.dumps(SEED).replace("2.0", "%s").replace("4.0", "%s").replace("6.0", "%s")
    docs = [seed % ("2.5", "4.5", "6.5")]
    for _ in range(draw(st.integers(2, 12))):
        docs.append(seed % tuple(draw(_TEXTS) for _ in range(3)))
    return ('{"requests": [' + ", ".join(docs) + "]}").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_runs())
def test_a_run_matched_with_lax_holes_reads_as_its_parse(body):
    """Documents matched with lax holes (batch_text._LAX, checked at the end of the scan) read as their parse, with
    their kinds (an integer's text in a float's hole is not the template's document); a body that is not JSON is
    never read as text."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        make, _ = _make(PlanCache())
        assert batch_text.scan(body, 10_000, make) is None
        return
    s = check_scan(body)
    assert s is not None
    for i in s.templates[0].rows:  # what was matched has its holes' kinds: floats written with a point or exponent
        a, b = batch_text.span(body, s, i)
        for leaf in orjson.loads(body[a:b])["leaves"].values():
            assert type(leaf["data"]) is float


def test_lax_holes_take_floats_past_the_strict_caps_never_integers_past_int64():
    """In a run, a float's text past the strict holes' caps (1e300, 41 decimals) matches and reads as its parse (the
    strict patterns refuse it); an integer in a float's hole does not, nor an integer hole's text of 19 digits
    (past int64), nor a float's in it."""
    text = json.dumps(SEED)
    for big, matches in [("1e300", True), ("1." + "1" * 41, True), ("-" + "9" * 26 + ".5", True), ("1" * 19, False),
                         ("3", False), ("-0", False)]:
        docs = [text] * 3 + [text.replace("4.0", big)] + [text] * 3
        body = ('{"requests": [' + ", ".join(docs) + "]}").encode()
        s = check_scan(body)
        assert s is not None
        assert (s.matched[3] is s.templates[0]) is matches, big
        assert s.templates[0].pattern.fullmatch(docs[3].encode()) is None
    ints = json.dumps({"leaves": {"k": {"data": 7}}, "ops": [{"name": "y", "op": "neg", "args": ["k"]}]})
    for big, matches in [("9" * 18, True), ("-" + "9" * 18, True), ("-0", True), ("9" * 19, False),
                         ("-" + "9" * 19, False), ("18446744073709551616", False), ("5.0", False), ("5e0", False)]:
        docs = [ints] * 3 + [ints.replace("7", big)] + [ints] * 3
        body = ('{"requests": [' + ", ".join(docs) + "]}").encode()
        s = check_scan(body)
        assert s is not None
        assert (s.matched[3] is s.templates[0]) is matches, big


def _seed_body(n: int, seed: int, sep: bytes = b", ") -> bytes:
    rng = np.random.default_rng(seed)
    docs = [{"leaves": {"a": {"data": [float(x) for x in rng.normal(size=3).round(4)]}, "b": {"data": 1.5}},
             "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]} for _ in range(n)]
    return b'{"requests": [' + sep.join(orjson.dumps(d) for d in docs) + b"]}"


def test_a_split_scan_reads_as_the_whole_scan_and_its_rest_as_the_rest():
    """scan's `split`: stopped at a document start, the documents before it are the whole scan's, and the rest,
    scanned as `{"requests":[` and the rest with the template known, is the whole scan's rest; a guess inside a
    document, or a split declined, gives the whole scan."""
    body = _seed_body(300, 1)
    cache = PlanCache()
    make, _ = _make(cache)
    whole = batch_text.scan(body, 10_000, make)
    t = whole.templates[0]
    assert whole.tail is None and len(t.rows) == 300
    known = [t.fresh()]
    for share in (0.5, 0.9, 1.0):
        seen = []

        def split(tt, pos, n, share=share, seen=seen):
            seen.append((pos, n))
            return batch_text.split_at(body, tt, pos, share)

        s = batch_text.scan(body, 10_000, make, known, split=split)
        assert len(seen) == 1 and s.tail is not None
        tt, c = s.tail
        k = len(s.matched)
        assert whole.starts[k] == c and s.starts == whole.starts[:k]
        assert s.templates[0].numbers == t.numbers[:k * t.holes]
        rest = batch_text.scan(b'{"requests":[' + body[c:], 10_000, make, [tt])
        shift = c - len(b'{"requests":[')
        assert [x + shift for x in rest.starts] == whole.starts[k:]
        assert rest.templates[0].numbers == t.numbers[k * t.holes:]
        assert (share < 1) == (k > 0)
    # a guess one character after a document's start, and a split declined: the whole scan
    for guess in (lambda tt, pos, n: whole.starts[150] + 1, lambda tt, pos, n: None):
        s = batch_text.scan(body, 10_000, make, known, split=guess)
        assert s.tail is None and s.starts == whole.starts and s.templates[0].numbers == t.numbers
    # fewer documents allowed than the split's first part holds: given up as the whole scan would be
    assert batch_text.scan(body, 100, make, known, split=lambda tt, pos, n: whole.starts[200]) is None


def _scans(body: bytes, known=(), split=None, afters=(1, 2, 8)):
    """The scan of `body` one document at a time (batch_text._BULK_AFTER None) and with runs matched many at a
    time after 1, 2 and 8 documents: (the first, the others)."""
    make, _ = _make(PlanCache())
    saved = batch_text._BULK_AFTER
    try:
        batch_text._BULK_AFTER = None
        one = batch_text.scan(body, 10_000, make, known, split=split)
        many = []
        for after in afters:
            batch_text._BULK_AFTER = after
            many.append(batch_text.scan(body, 10_000, make, known, split=split))
    finally:
        batch_text._BULK_AFTER = saved
    return one, many


def _same_scan(a, b):
    assert (a is None) == (b is None)
    if a is None:
        return
    assert a.starts == b.starts
    assert [type(x) is tuple and x for x in a.matched] == [type(x) is tuple and x for x in b.matched]
    assert [[i for i, x in enumerate(a.matched) if x is t] for t in a.templates] == \
        [[i for i, x in enumerate(b.matched) if x is t] for t in b.templates]
    assert [(t.rows, t.numbers) for t in a.templates] == [(t.rows, t.numbers) for t in b.templates]
    assert (a.tail is None) == (b.tail is None) and (a.tail is None or a.tail[1] == b.tail[1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_runs_matched_many_at_a_time_are_the_runs_matched_one_at_a_time(body):
    """batch_text._bulk (a run's documents matched by one findall, then checked against the body as one text) reads
    what the loop of one match a document reads: the same documents, starts, templates and numbers, or None."""
    one, many = _scans(body)
    for s in many:
        _same_scan(one, s)


def _long_run(n: int, seed: int, sep: bytes = b", ") -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [orjson.dumps({"leaves": {"a": {"data": float(x)}, "b": {"data": [float(y) for y in rng.normal(size=2)]}},
                          "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]}) for x in rng.normal(size=n)]


def test_a_long_run_matched_many_at_a_time_stops_at_the_first_byte_that_differs():
    """In a run of 300 documents of one template, one document changed at 0, 1, 8, 9, 150 and 299 (another
    literal, a literal byte, more whitespace after its comma, another separator, an integer in a float's
    hole, a long float, a key of another length, a string where a number is, another structure): every
    scan reads what the one-document-at-a-time scan reads (the changed document alone or ending the run, the
    run going on after it), at every point where a split may stop it."""
    docs = _long_run(300, 3)
    changes = [lambda d: d.replace(b'"mul"', b'"add"'), lambda d: d.replace(b'"c"', b'"d"'),
               lambda d: d + b" ", lambda d: d.replace(b'"a":', b'"a" :'), lambda d: d.replace(b".", b"", 1),
               lambda d: re.sub(rb'"data":[-0-9.e]+', b'"data":3', d, count=1),
               lambda d: re.sub(rb'"data":[-0-9.e]+', b'"data":-1.' + b"2" * 41 + b"e-05", d, count=1),
               lambda d: d.replace(b'"ops"', b'"opz"'), lambda d: d.replace(b"[", b'["x",', 1),
               lambda d: b'{"leaves":{}}']
    for at in (0, 1, 8, 9, 150, 299):
        for change in changes:
            texts = list(docs)
            texts[at] = change(texts[at])
            body = b'{"requests": [' + b", ".join(texts) + b"]}"
            one, many = _scans(body)
            for s in many:
                _same_scan(one, s)
    # other separators: one of them differs in a run
    for seps in ([b", "] * 299, [b","] * 150 + [b",\n "] * 149, [b", "] * 200 + [b" , "] + [b", "] * 98):
        body = b'{"requests": [' + docs[0] + b"".join(s + d for s, d in zip(seps, docs[1:])) + b"]}"
        one, many = _scans(body)
        assert one is not None and len(one.matched) == 300
        for s in many:
            _same_scan(one, s)
    # a split at each document start and inside documents
    body = b'{"requests": [' + b", ".join(docs) + b"]}"
    whole, _ = _scans(body)
    known = [whole.templates[0].fresh()]
    for c in [whole.starts[i] for i in (1, 9, 10, 17, 100, 299)] + [whole.starts[50] + 3, len(body) - 2]:
        one, many = _scans(body, known, split=lambda t, pos, n, c=c: c)
        assert (one.tail is not None) == (c in whole.starts)
        for s in many:
            _same_scan(one, s)
