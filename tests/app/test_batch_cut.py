"""A chunk of one text template that no compute worker may take when it starts, beside another batch in flight,
is cut (app/services/batch_split.py _first_rows, app/routers/batch.py _vectorize_rows): its first rows run in
the server, and its last SPLIT_MIN_ROWS are asked for again after them (a worker free by then answers them,
else the server does). On real servers with real pools: the answer byte for byte what the separate requests get,
while a slow request holds one of the two workers (so none may be lent: both parts run in the server) and while
two clients send such batches at once (the worker of one batch may be free when the other's rest is asked for)."""
from __future__ import annotations

import random
import threading

import orjson
import pytest

from app.services.batch_split import _CUT_FIRST, SPLIT_MIN_ROWS
from tests.app.conftest import SLOW_LIMITS, TEST_KEY, Server, slow_program, wait_until
from tests.app.test_batch_vectorized import separately
from tests.engine.test_batch_vectorized import SEED, docs_of

_N = SPLIT_MIN_ROWS + _CUT_FIRST + 200  # a chunk that is cut


@pytest.fixture(scope="module")
def two():
    s = Server({"GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_COMPUTE_WORKERS": "2", **SLOW_LIMITS,
                "GRADSERVE_TIME_LIMIT_S": "120"}, api_key=TEST_KEY)
    yield s
    s.stop()


def _body(docs: list) -> bytes:
    return orjson.dumps({"requests": docs})


def _post(s, body: bytes) -> tuple[int, bytes]:
    r = s.client.post("/v1/evaluate/batch", content=body, headers={"content-type": "application/json"})
    return r.status_code, r.content


def _bodies(s, seeds) -> tuple[list, list]:
    docs = [docs_of(SEED, _N, random.Random(seed)) for seed in seeds]
    for _ in range(3):  # the structure recorded, lowered, its template made
        assert _post(s, _body(docs[0]))[0] == 200
    return [_body(d) for d in docs], [separately(s.client, d) for d in docs]


def test_a_chunk_no_worker_may_take_is_cut_and_answered_byte_for_byte(two):
    bodies, expected = _bodies(two, (1, 2))
    slow: dict = {}
    # a batch of one slow document, in flight beside the others and holding one worker (the other is kept idle:
    # none may be lent), for the seconds its matmuls take
    held = threading.Thread(target=lambda: slow.update(out=_post(two, _body([slow_program(3)]))))
    held.start()
    try:
        assert wait_until(lambda: two.ready()["workers"]["busy"] == 1, 30)
        for k in range(6):
            assert _post(two, bodies[k % 2]) == (200, expected[k % 2]), f"batch {k}"
        assert two.ready()["workers"]["busy"] == 1  # (the slow one ran all along: every batch was cut, no part lent)
    finally:
        held.join(180)
    assert slow["out"][0] == 200


def test_batches_from_two_clients_are_answered_byte_for_byte(two):
    bodies, expected = _bodies(two, (3, 4))
    out: dict = {}

    def send(k):
        out[k] = [_post(two, bodies[k]) for _ in range(8)]

    threads = [threading.Thread(target=send, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for k in range(2):
        assert out[k] == [(200, expected[k])] * 8
