"""POST /v1/evaluate/batch read as text (engine.program.batch_text) on a real server over real HTTP: every
document's answer byte for byte its separate POST /v1/evaluate answer (of the same text), on hypothesis-drawn
batches that mix structures, whitespace, key orders, special numbers, ints and floats (the whole-number
rule), dtype fields, duplicate keys and bad documents; the text path really vectorizes (the placement
metric); a vectorized run past the time limit answers as the batch always has (504, the rest not run)."""
from __future__ import annotations

import json
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.conftest import SLOW_LIMITS, TEST_KEY, Server, slow_program
from tests.app.test_batch_vectorized import separately, vectorized_count
from tests.engine.test_batch_vectorized import SEED, docs_of

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def batch_of(texts: list[bytes], sep: bytes = b",") -> bytes:
    return b'{"requests": [' + sep.join(texts) + b"]}"


def _text(doc, style: str) -> bytes:
    if style == "compact":
        return orjson.dumps(doc)
    return json.dumps(doc, indent=2 if style == "indent" else None).encode()


VALUES = st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.integers(-100, 100),
                   st.sampled_from(["NaN", "Infinity", "-Infinity", 0.0, -0.0, 1e-7, 3e38, 1e-4, 1e8, 2.0]))


@st.composite
def mixed_batches(draw):
    """Runs of the seed's structure (the vectorized case), broken by its variants and by other documents."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    base_style = draw(st.sampled_from(["compact", "spaced"]))
    texts = []
    for _ in range(draw(st.integers(2, 5))):
        for d in docs_of(SEED, draw(st.integers(3, 12)), rng, special=draw(st.booleans())):
            texts.append(_text(d, base_style))
        variant = json.loads(json.dumps(SEED))
        kind = draw(st.sampled_from(["value", "style", "order", "dtype", "duplicate", "bad", "int"]))
        if kind == "value":
            variant["leaves"]["a"]["data"] = draw(VALUES)
        elif kind == "int":  # a whole number written as an integer: requires_grad makes it float32
            variant["leaves"]["b"]["data"] = draw(st.integers(-50, 50))
            variant["leaves"]["c"]["requires_grad"] = draw(st.booleans())
        elif kind == "order":
            variant["leaves"] = dict(reversed(list(variant["leaves"].items())))
            variant["leaves"]["d"] = {"requires_grad": True, "data": draw(VALUES)}
        elif kind == "dtype":
            variant["leaves"]["e"]["dtype"] = draw(st.sampled_from(["float64", "float16", "int32", "int64"]))
        elif kind == "bad":
            variant[draw(st.sampled_from(["leafs", "seed"]))] = draw(st.sampled_from([{}, "x", 1]))
        text = _text(variant, draw(st.sampled_from(["compact", "spaced", "indent"])) if kind == "style"
                     else base_style)
        if kind == "duplicate":
            text = text.replace(b'"ops"', b'"device": "cpu", "device": "auto", "ops"', 1)
        texts.append(text)
    return texts, draw(st.sampled_from([b",", b", ", b" ,\n  "]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(mixed_batches())
def test_every_document_is_answered_as_its_separate_request(srv, batch):
    texts, sep = batch
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts, sep), headers=JSON)
    assert r.status_code == 200
    assert r.content == separately(srv.client, texts)


def test_a_json_dumps_batch_is_vectorized_from_its_text(srv):
    docs = docs_of(SEED, 400, random.Random(21), special=False)
    texts = [json.dumps(d).encode() for d in docs]
    before = vectorized_count(srv.client)
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts, b", "), headers=JSON)
    assert r.status_code == 200
    assert vectorized_count(srv.client) - before >= 390  # all but the first documents of the structure
    assert r.content == separately(srv.client, texts)
    # the next batch of the structure: its template known, every document vectorized, the first too
    texts = [json.dumps(d).encode() for d in docs_of(SEED, 300, random.Random(22), special=False)]
    before = vectorized_count(srv.client)
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts, b", "), headers=JSON)
    assert vectorized_count(srv.client) - before == 300
    assert r.content == separately(srv.client, texts)


def test_a_vectorized_chunk_after_the_time_limit_is_not_run():
    s = Server({"GRADSERVE_TIME_LIMIT_S": "1.5", "GRADSERVE_COMPUTE_WORKERS": "1", **SLOW_LIMITS}, api_key=TEST_KEY)
    try:
        seeds = [orjson.dumps(d) for d in docs_of(SEED, 50, random.Random(4), special=False)]
        for _ in range(2):  # the structure recorded and lowered: its documents would run vectorized
            r = s.client.post("/v1/evaluate/batch", content=batch_of(seeds), headers=JSON)
            assert r.content == separately(s.client, seeds)
        texts = [orjson.dumps(slow_program())] + seeds
        r = s.client.post("/v1/evaluate/batch", content=batch_of(texts), headers=JSON)
        results = r.json()["results"]
        assert [x["status"] for x in results] == [504] * 51
        assert results[0]["body"]["detail"][0]["msg"].startswith("the computation ran past the time limit")
        assert all(x["body"]["detail"][0]["msg"].startswith("not run: the batch ran past the time limit")
                   for x in results[1:])
    finally:
        s.stop()


def test_hostile_batches_answer_as_separate_requests(srv):
    # a thousand structures, each its own text: templates for the first few only, every answer still exact
    docs = [{"leaves": {f"x{i}": {"data": 0.5}}, "ops": [{"name": f"y{i}", "op": "exp", "args": [f"x{i}"]}]}
            for i in range(1000)]
    texts = [orjson.dumps(d) for d in docs]
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts), headers=JSON)
    assert r.status_code == 200
    got = orjson.loads(r.content)["results"]
    for i in range(0, 1000, 97):
        s = srv.client.post("/v1/evaluate", content=texts[i], headers=JSON)
        assert got[i] == {"status": s.status_code, "body": s.json()}
    # numbers past the holes' caps, and deep junk, among documents of one structure
    seeds = [orjson.dumps(d) for d in docs_of(SEED, 20, random.Random(8), special=False)]
    seeds[5] = seeds[5].replace(b'"data":', b'"data":1' + b"0" * 30 + b",\"x\":", 1)
    seeds[9] = seeds[9].replace(b'"data":', b'"data":' + b"[" * 500 + b"]" * 500 + b",\"x\":", 1)
    seeds[12] = seeds[12].replace(b'"data":', b'"data":2e300,"x":', 1)
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(seeds), headers=JSON)
    assert r.status_code == 200
    assert r.content == separately(srv.client, seeds)
    # nesting past orjson's 1,024 levels: the whole body is not JSON, as it always was (422 for the batch)
    seeds[9] = seeds[9].replace(b"[" * 500, b"[" * 3000).replace(b"]" * 500, b"]" * 3000)
    r = srv.client.post("/v1/evaluate/batch", content=batch_of(seeds), headers=JSON)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("last", [2.5, 1e-7, 3e9])  # fixed point; out of its range, written by the writer
def test_a_vectorized_run_ends_the_batch(srv, last):
    docs = docs_of(SEED, 30, random.Random(9), special=False)
    docs[-1]["leaves"]["a"]["data"] = last
    texts = [orjson.dumps(d) for d in docs]
    for _ in range(2):  # the second time from a known template: the whole batch one vectorized run
        r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts), headers=JSON)
        assert r.content == separately(srv.client, texts)


@pytest.mark.parametrize(("dtype", "big"), [("int32", 3_000_000_000), ("int32", -2_147_483_649), ("float16", 1e6),
                                            ("int64", 9_223_372_036_854_775_807)])
def test_values_past_a_dtype_answer_as_separate_requests(srv, dtype, big):
    docs = [{"leaves": {"x": {"data": [big if i in (5, 11) else i + 1, 2], "dtype": dtype}},
             "ops": [{"name": "y", "op": "mul", "args": ["x", "x"]}, {"name": "z", "op": "add", "args": ["y", "x"]}]}
            for i in range(12)]
    texts = [json.dumps(d).encode() for d in docs]
    for _ in range(2):
        r = srv.client.post("/v1/evaluate/batch", content=batch_of(texts, b", "), headers=JSON)
        assert r.content == separately(srv.client, texts)


def test_the_document_limit_counts_as_before():
    from tests.app.test_batch import app_client  # noqa: PLC0415 - the in-process client of the batch tests

    texts = [orjson.dumps(d) for d in docs_of(SEED, 8, random.Random(2), special=False)]
    with app_client(max_batch_documents=7) as c:
        for _ in range(2):  # the second time from a known template
            r = c.post("/v1/evaluate/batch", content=batch_of(texts[:7]), headers=JSON)
            assert r.status_code == 200 and len(r.json()["results"]) == 7
        r = c.post("/v1/evaluate/batch", content=batch_of(texts), headers=JSON)
        assert r.status_code == 413
        assert r.json()["detail"][0] == {"type": "limit_exceeded", "loc": ["body", "requests"],
                                         "msg": "the batch has 8 documents, over the limit max_batch_documents=7"}
