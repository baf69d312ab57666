"""POST /v1/evaluate/batch on real servers with the C filler of the batch writer (engine/program/_textfill.c) and
with it turned off (GRADSERVE_TEXT_ACCEL=0): the same batches answer the same bytes on both, and those are the
separate requests' answers; the batch response limit answers the same 413s on both (a chunk past the filler's cap
takes the Python path's pieces, kept one at a time to the limit). One compute worker each, so a large chunk's
rows are also answered by a worker (app/services/batch_part.py) with the same filler."""
from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from engine.program import batch_write
from tests.app.conftest import Server
from tests.app.test_batch_vectorized import separately, vectorized_count

_BASE = {"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"}


@pytest.fixture(scope="module")
def servers():
    on = Server(dict(_BASE))
    off = Server({**_BASE, "GRADSERVE_TEXT_ACCEL": "0"})
    yield on, off
    on.stop()
    off.stop()


def _seed(a, b, c, d, e, dtype):
    """The seed program f = a*b + c*d**2/e with a backward: five 0-d leaves and five rows with grads."""
    leaves = {k: {"data": v, "dtype": dtype, "requires_grad": True} for k, v in zip("abcde", (a, b, c, d, e))}
    return {"leaves": leaves,
            "ops": [{"name": "g", "op": "mul", "args": ["a", "b"]}, {"name": "d2", "op": "pow", "args": ["d", 2]},
                    {"name": "cd2", "op": "mul", "args": ["c", "d2"]}, {"name": "h", "op": "div", "args": ["cd2", "e"]},
                    {"name": "f", "op": "add", "args": ["g", "h"]}],
            "backward": [{"tensor": "f"}]}


def _value(rng: random.Random) -> float:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randint(-2 ** 14, 2 ** 14) / 2.0 ** rng.randint(1, 16)  # ties
    if kind == 1:
        return float(rng.randint(-999, 999))  # whole
    if kind == 2:
        return rng.choice([1e-5, 3e-5, 2e9, -5e8])  # out of the fixed-point range: the writer's documents
    if kind == 3:
        return rng.choice([1e-4, -1e-4, 9999.5, 0.5])
    return rng.uniform(-50, 50) * 10.0 ** -rng.randint(0, 3)


def _batch(rng: random.Random, n: int, dtype: str) -> list:
    docs = []
    for _ in range(n):
        v = [_value(rng) for _ in range(5)]
        v[4] = v[4] or 1.0  # (e: a divisor)
        docs.append(_seed(*v, dtype))
    return docs


def _post(srv, docs) -> bytes:
    r = srv.client.post("/v1/evaluate/batch", content=orjson.dumps({"requests": docs}),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    return r.content


@pytest.mark.skipif(batch_write.ACCEL is None, reason="engine.program._textfill was not built or is off")
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_the_filler_and_the_python_path_answer_the_separate_requests(servers, dtype):
    on, off = servers
    rng = random.Random(len(dtype))
    warm = _batch(rng, 12, dtype)  # the structure recorded and lowered on both (its first documents alone)
    for srv in servers:
        _post(srv, warm)
    docs = _batch(rng, 1000, dtype)
    before = [vectorized_count(s.client) for s in servers]
    got_on, got_off = _post(on, docs), _post(off, docs)
    assert [vectorized_count(s.client) - b for s, b in zip(servers, before)] >= [900, 900]
    assert got_on == got_off
    assert got_on == separately(on.client, docs)


@pytest.mark.skipif(batch_write.ACCEL is None, reason="engine.program._textfill was not built or is off")
def test_the_response_limit_is_the_same_with_and_without_the_filler():
    """max_batch_response_bytes past a chunk's answers: the same documents answer, the same ones 413, on both."""
    rng = random.Random(5)
    warm = _batch(rng, 12, "float32")
    docs = _batch(rng, 300, "float32")
    env = {**_BASE, "GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": "400000"}
    answers = []
    for extra in ({}, {"GRADSERVE_TEXT_ACCEL": "0"}):
        srv = Server({**env, **extra})
        try:
            _post(srv, warm)
            answers.append(_post(srv, docs))
        finally:
            srv.stop()
    assert answers[0] == answers[1]
    results = orjson.loads(answers[0])["results"]
    statuses = np.array([r["status"] for r in results])
    assert (statuses[:100] == 200).all() and (statuses[-50:] == 413).all()  # (a 300-document chunk: ~840 KB)
