"""POST /v1/evaluate/batch: each document answered as POST /v1/evaluate answers it, in order, failing alone;
the batch's own limits (documents, body, answers' size, time, in-flight slot) and hostile batches."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.app.conftest import SLOW_LIMITS, TEST_KEY, Server, cheap_program, in_thread, slow_program, wait_until

JSON = {"content-type": "application/json"}


def app_client(**settings) -> TestClient:
    return TestClient(create_app(Settings(compute_workers=0, access_log=False, **settings)))


MIXED = [
    cheap_program(),
    {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},  # PyTorch's RuntimeError
     "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]},
    {"leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},  # with PyTorch's warning
     "ops": [{"name": "y", "op": "T", "args": ["x"]}, {"name": "z", "op": "matmul", "args": ["y", "x"]}],
     "backward": [{"tensor": "z"}]},
    5,  # not an object
    {"leafs": {}},  # unknown field
    {"ops": [{"name": "z", "op": "zeros", "args": [5000, 5000]}]},  # over max_tensor_elements: 413
    {"leaves": {"i": {"data": [2 ** 70], "dtype": "int64"}}},  # an integer past 64 bits, kept exact
    {"leaves": {"a": {"data": 2, "requires_grad": True, "dtype": "int64"}}},  # PyTorch's dtype error
]


def test_each_document_is_answered_as_evaluate_answers_it_in_order():
    with app_client(max_tensor_elements=1_000_000) as c:
        r = c.post("/v1/evaluate/batch", json={"requests": MIXED})
        assert r.status_code == 200
        results = r.json()["results"]
        assert len(results) == len(MIXED)
        for doc, got in zip(MIXED, results):
            alone = c.post("/v1/evaluate", content=json.dumps(doc), headers=JSON)
            assert got == {"status": alone.status_code, "body": alone.json()}, doc
        assert [x["status"] for x in results] == [200, 422, 200, 422, 422, 413, 422, 422]
        assert results[2]["body"]["warnings"]


def test_the_batch_envelope():
    with app_client() as c:
        for body, loc in (([1], ["body"]), ({}, ["body", "requests"]), ({"requests": {}}, ["body", "requests"]),
                          ({"requests": [], "x": 1}, ["body", "x"])):
            r = c.post("/v1/evaluate/batch", json=body)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, r.text
        assert c.post("/v1/evaluate/batch", content=b"{", headers=JSON).status_code == 422
        assert c.post("/v1/evaluate/batch", json={"requests": []}).json() == {"results": []}


def test_duplicate_keys_fail_their_own_document():
    with app_client() as c:
        body = (b'{"requests": [{"leaves": {"a": {"data": 1.0}, "a": {"data": 2.0}}}, '
                b'{"leaves": {"a": {"data": 1.0}}}, {"ops": [], "ops": []}]}')
        results = c.post("/v1/evaluate/batch", content=body, headers=JSON).json()["results"]
        assert [x["status"] for x in results] == [422, 200, 422]
        assert "the key 'a' appears more than once" in results[0]["body"]["detail"][0]["msg"]
        assert "the key 'ops' appears more than once" in results[2]["body"]["detail"][0]["msg"]
        r = c.post("/v1/evaluate/batch", content=b'{"requests": [], "requests": []}', headers=JSON)
        assert r.status_code == 422 and "'requests' appears more than once" in r.json()["detail"][0]["msg"]


def test_ten_thousand_tiny_documents():
    tiny = {"leaves": {"a": {"data": 1.0}}}
    with app_client() as c:  # the default limit: refused whole, before anything runs
        r = c.post("/v1/evaluate/batch", json={"requests": [tiny] * 10_000})
        assert r.status_code == 413
        assert r.json()["detail"][0] == {"type": "limit_exceeded", "loc": ["body", "requests"],
                                         "msg": "the batch has 10000 documents, over the limit "
                                                "max_batch_documents=1000"}
    with app_client(max_batch_documents=10_000) as c:  # allowed: each runs, in order
        docs = [{"leaves": {"a": {"data": float(i)}}} for i in range(10_000)]
        results = c.post("/v1/evaluate/batch", json={"requests": docs}).json()["results"]
        assert [x["body"]["tensors"]["a"]["data"] for x in results] == [float(i) for i in range(10_000)]


def test_the_body_limit_is_the_whole_batchs_and_answers_have_a_size_limit():
    doc = {"leaves": {"a": {"data": [1.0] * 2000}}}  # ~8 kB: one fits, three do not
    with app_client(max_body_bytes=20_000) as c:
        assert c.post("/v1/evaluate/batch", json={"requests": [doc]}).status_code == 200
        r = c.post("/v1/evaluate/batch", json={"requests": [doc] * 3})
        assert r.status_code == 413 and "max_body_bytes=20000" in r.json()["detail"][0]["msg"]
    big = {"ops": [{"name": "z", "op": "zeros", "args": [20_000]}]}  # ~80 kB of answer each
    with app_client() as c:
        size = len(c.post("/v1/evaluate", json=big).content)
    limit = int(2.5 * size)  # reached by the third answer: the fourth and later are not run
    with app_client(max_batch_response_bytes=limit) as c:
        results = c.post("/v1/evaluate/batch", json={"requests": [big] * 6}).json()["results"]
        assert [x["status"] for x in results] == [200, 200, 200, 413, 413, 413]
        assert results[3]["body"]["detail"][0]["msg"] == ("not run: the batch's answers reached the limit "
                                                          f"max_batch_response_bytes={limit}")


def test_a_batch_holds_an_in_flight_slot_and_ends_within_the_time_limit():
    s = Server({"GRADSERVE_TIME_LIMIT_S": "1.5", "GRADSERVE_MAX_IN_FLIGHT": "1", "GRADSERVE_COMPUTE_WORKERS": "1",
                **SLOW_LIMITS}, api_key=TEST_KEY)
    try:
        slow, box = in_thread(s.client.post, "/v1/evaluate/batch",
                              json={"requests": [slow_program(), cheap_program(), slow_program()]})
        assert wait_until(lambda: s.ready()["workers"]["in_flight"] == 1, 10)
        r = s.client.post("/v1/evaluate/batch", json={"requests": [cheap_program()]})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"  # the batch took the one slot
        slow.join(60)
        results = box[0].json()["results"]
        assert [x["status"] for x in results] == [504, 504, 504]
        assert results[0]["body"]["detail"][0]["msg"].startswith("the computation ran past the time limit")
        assert results[1]["body"]["detail"][0]["msg"].startswith("not run: the batch ran past the time limit")
        assert s.client.post("/v1/evaluate/batch", json={"requests": [cheap_program()]}).json()["results"][0][
            "status"] == 200
    finally:
        s.stop()


@pytest.mark.parametrize("docs", [[{"leaves": {"a": {"data": [[[[1.0]]]] * 3}}}] * 2])
def test_openapi_documents_the_route(docs):
    with app_client(max_batch_documents=7) as c:
        doc = c.get("/openapi.json").json()
        op = doc["paths"]["/v1/evaluate/batch"]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/BatchRequest"}
        assert "at most 7." in doc["components"]["schemas"]["BatchRequest"]["properties"]["requests"]["description"]
        example = op["responses"]["200"]["content"]["application/json"]["example"]
        assert [x["status"] for x in example["results"]] == [200, 422]
        assert c.post("/v1/evaluate/batch", json={"requests": docs}).status_code == 200
