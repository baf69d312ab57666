"""POST /v1/evaluate/batch with documents of one structure (vectorized: engine.program.batch) on a real server:
the whole answer byte for byte what the same documents get as separate POST /v1/evaluate requests, in order,
with boundary values (non-finite, whole, sci-mode), failing documents among them, other structures, a
duplicate key; the vectorized path really taken (the placement metric); the batch's response-size limit met
by vectorized answers as by the others; the Swagger example."""
from __future__ import annotations

import copy
import random

import orjson
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.examples import BATCH_EXAMPLES
from app.main import create_app
from tests.app.conftest import Server
from tests.engine.test_batch_vectorized import SEED, docs_of


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_TENSOR_ELEMENTS": "1000000"})
    yield s
    s.stop()


def separately(client, docs) -> bytes:
    """The batch's answer as the separate requests' answers make it."""
    parts = []
    for d in docs:
        r = client.post("/v1/evaluate", content=d if isinstance(d, bytes) else orjson.dumps(d),
                        headers={"content-type": "application/json"})
        parts.append(b'{"status":%d,"body":%s}' % (r.status_code, r.content))
    return b'{"results":[' + b",".join(parts) + b"]}"


def vectorized_count(client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("gradserve_evaluations_by_placement_total") and 'placement="vectorized"' in line:
            return float(line.split()[-1])
    return 0.0


ELEMENTWISE = {"leaves": {"x": {"data": [0.5, 1.0], "dtype": "float64"}, "k": {"data": 2.0, "dtype": "float64"}},
               "ops": [{"name": "y", "op": "mul", "args": ["x", "k"]}, {"name": "z", "op": "tanh", "args": ["y"]}]}
OTHERS = [
    {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},  # PyTorch's RuntimeError: 422
     "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]},
    {"ops": [{"name": "z", "op": "zeros", "args": [5000, 5000]}]},  # over max_tensor_elements: 413
    {"leafs": {}},  # unknown field: 422
    {"leaves": {"x": {"data": [1.0, 2.0], "requires_grad": True}},  # stateful: never lowered
     "ops": [{"name": "y", "op": "mul", "args": ["x", 2]}, {"name": "s", "op": "sum", "args": ["y"]},
             {"op": "backward", "args": ["s"]}, {"name": "g", "op": "grad", "args": ["x"]}]},
]


def test_a_mixed_batch_is_answered_byte_for_byte_as_separate_requests(srv):
    rng = random.Random(11)
    seeds = docs_of(SEED, 300, rng)
    elementwise = docs_of(ELEMENTWISE, 60, rng, special=False)
    docs = []
    for i, d in enumerate(seeds):
        docs.append(d)
        if i % 5 == 0:
            docs.append(elementwise[i // 5])
        if i % 50 == 7:
            docs.append(copy.deepcopy(OTHERS[(i // 50) % len(OTHERS)]))
    before = vectorized_count(srv.client)
    r = srv.client.post("/v1/evaluate/batch", content=orjson.dumps({"requests": docs}),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    got = r.content
    # most of the seed's and the elementwise program's: the first Program.lower_at() + 1 documents of each
    # structure (special values key a few apart) run alone, until it recurs and is lowered
    assert vectorized_count(srv.client) - before >= 280
    assert got == separately(srv.client, docs)
    statuses = [x["status"] for x in orjson.loads(got)["results"]]
    assert statuses.count(200) >= 360 and {413, 422} <= set(statuses)


def test_a_duplicate_key_fails_its_own_document_among_vectorized_ones(srv):
    docs = [orjson.dumps(d) for d in docs_of(SEED, 40, random.Random(3), special=False)]
    docs[20] = docs[20].replace(b'"ops":', b'"seed":1,"seed":2,"ops":')
    body = b'{"requests":[' + b",".join(docs) + b"]}"
    r = srv.client.post("/v1/evaluate/batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    results = orjson.loads(r.content)["results"]
    assert [x["status"] for x in results] == [200] * 20 + [422] + [200] * 19
    assert "more than once" in results[20]["body"]["detail"][0]["msg"]
    assert r.content == separately(srv.client, docs)


def test_the_swagger_example(srv):
    docs = BATCH_EXAMPLES["seed_at_three_points"]["value"]["requests"]
    r = srv.client.post("/v1/evaluate/batch", json={"requests": docs})
    assert r.content == separately(srv.client, docs)
    assert [x["status"] for x in r.json()["results"]] == [200, 200, 200, 422]


def test_the_response_size_limit_holds_for_vectorized_answers():
    docs = docs_of(SEED, 200, random.Random(5), special=False)
    with TestClient(create_app(Settings(compute_workers=0, access_log=False, max_batch_response_bytes=60_000))) as c:
        for d in docs[:2]:  # the structure recorded and lowered
            c.post("/v1/evaluate", json=d)
        r = c.post("/v1/evaluate/batch", json={"requests": docs})
        results = r.json()["results"]
        ok = [x["status"] for x in results].count(200)
        kept = sum(len(orjson.dumps(x["body"])) for x in results[:ok])
        assert 0 < ok < 200 and kept <= 60_000  # those within the limit; the next one's answer would pass it
        crossing = results[ok]["body"]["detail"][0]["msg"]
        assert crossing.startswith("not kept: this document's answer (")
        assert kept + int(crossing.split("(")[1].split()[0]) > 60_000
        assert all(x["status"] == 413 and "max_batch_response_bytes=60000" in x["body"]["detail"][0]["msg"]
                   for x in results[ok:])
        assert vectorized_count(c) >= ok - 2
