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
    limit = int(2.5 * size)  # passed by the third answer: it is not kept, the fourth and later are not run
    with app_client(max_batch_response_bytes=limit) as c:
        results = c.post("/v1/evaluate/batch", json={"requests": [big] * 6}).json()["results"]
        assert [x["status"] for x in results] == [200, 200, 413, 413, 413, 413]
        assert results[2]["body"]["detail"][0]["msg"] == (f"not kept: this document's answer ({size} bytes) would "
                                                          "take the batch's answers past the limit "
                                                          f"max_batch_response_bytes={limit}")
        assert results[3]["body"]["detail"][0]["msg"] == ("not run: the batch's answers reached the limit "
                                                          f"max_batch_response_bytes={limit}")
    with app_client(max_batch_response_bytes=2 * size) as c:  # two answers reach it exactly: both kept
        results = c.post("/v1/evaluate/batch", json={"requests": [big] * 3}).json()["results"]
        assert [x["status"] for x in results] == [200, 200, 413]
        assert results[2]["body"]["detail"][0]["msg"].startswith("not run: ")


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


def _tiny(i: int) -> dict:
    """A program of its own structure (its names), small enough to run on the event loop."""
    return {"leaves": {f"a{i}": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [{"name": f"b{i}", "op": "sin", "args": [f"a{i}"]},
                    {"name": f"c{i}", "op": "mul", "args": [f"b{i}", f"a{i}"]},
                    {"name": f"s{i}", "op": "sum", "args": [f"c{i}"]}],
            "backward": [{"tensor": f"s{i}"}]}


def test_other_requests_get_in_while_a_batch_runs_documents_alone_on_the_loop():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"}, api_key=TEST_KEY)
    try:
        batch, box = in_thread(s.client.post, "/v1/evaluate/batch", json={"requests": [_tiny(i) for i in range(1000)]},
                               timeout=120)
        # /readyz is answered on the same event loop, between the batch's documents: it sees the batch in flight
        assert wait_until(lambda: s.ready()["workers"]["in_flight"] == 1, 60, interval=0.01)
        assert s.client.post("/v1/evaluate", json=cheap_program()).status_code == 200
        batch.join(120)
        assert [r["status"] for r in box[0].json()["results"]] == [200] * 1000
    finally:
        s.stop()


def test_a_batch_whose_client_went_away_stops():
    import socket  # noqa: PLC0415

    heavy = [{"ops": [{"name": f"x{i}", "op": "ones", "args": [600, 600]},
                      {"name": "y", "op": "matmul", "args": [f"x{i}", f"x{i}"]},
                      {"name": "z", "op": "matmul", "args": ["y", f"x{i}"]},
                      {"name": "w", "op": "matmul", "args": ["z", f"x{i}"]}], "outputs": []} for i in range(1000)]
    body = json.dumps({"requests": heavy}).encode()  # ~1.3 Gflop a document: tens of seconds for the batch
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_TIME_LIMIT_S": "300"},
               api_key=TEST_KEY)
    try:
        with socket.create_connection(("127.0.0.1", s.port)) as sock:
            sock.sendall(b"POST /v1/evaluate/batch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                         b"x-api-key: %s\r\ncontent-length: %d\r\n\r\n%s" % (TEST_KEY.encode(), len(body), body))
            assert wait_until(lambda: s.ready()["workers"]["in_flight"] == 1, 60)
        # the client is gone: the batch stops at its next check (within 20 ms and a document), not 1,000 later
        assert wait_until(lambda: s.ready()["workers"]["in_flight"] == 0, 20)
    finally:
        s.stop()
