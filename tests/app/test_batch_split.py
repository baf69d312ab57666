"""A large batch of one structure split with a compute worker (app/routers/batch.py _vectorize_rows,
app/services/batch_part.py), on real servers with real pools: the answer byte for byte what the separate
requests get (boundary values, a failing document inside the split chunk), the worker really used (its CPU
time grows), small batches and a one-worker pool never lent to a batch, workers killed during batches
changing no answer, and the batch's response-size limit met as without the split."""
from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import orjson
import pytest

from app.services.batch_split import SPLIT_MIN_ROWS
from tests.app.conftest import TEST_KEY, Server, under_worker_kills, wait_until
from tests.app.test_batch_answer_room import expected as strict_answer
from tests.app.test_batch_vectorized import OTHERS, separately
from tests.engine.test_batch_vectorized import SEED, docs_of

_BASE = {"GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_MAX_TENSOR_ELEMENTS": "1000000"}


@pytest.fixture(scope="module")
def two():
    s = Server({**_BASE, "GRADSERVE_COMPUTE_WORKERS": "2"}, api_key=TEST_KEY)
    yield s
    s.stop()


# Documents in a split batch: past SPLIT_MIN_ROWS (512) with room for the text test that decides the split (the
# rows left times the first document's length; every seed below splits at 800: the workers' CPU grows), fewer than
# the 990 this file used to send (each batch is ~0.2 s of the server's CPU at 990).
_N = 800


def _docs(n: int, seed: int) -> list:
    """n seed documents (boundary values among them) with a failing document and another structure at 60%."""
    docs = docs_of(SEED, n, random.Random(seed))
    at = n * 3 // 5
    return docs[:at] + [OTHERS[0], OTHERS[3]] + docs[at:]


_SEPARATELY: dict = {}


def _expected(s, seed: int) -> bytes:
    """The separate requests' answer to _docs(_N, seed) on server s, computed once per server and seed (the tests on
    the shared `two` server send the same bodies)."""
    key = (s.port, seed)
    if key not in _SEPARATELY:
        _SEPARATELY[key] = separately(s.client, _docs(_N, seed))
    return _SEPARATELY[key]


def _batch(s, docs) -> tuple[int, bytes]:
    r = s.client.post("/v1/evaluate/batch", content=orjson.dumps({"requests": docs}),
                      headers={"content-type": "application/json"})
    return r.status_code, r.content


def _workers_cpu(s) -> int:
    """The compute workers' CPU time, in clock ticks (10 ms; an idle worker's watch thread is sampled now and then
    on a loaded machine: a tick or two over a test)."""
    total = 0
    for pid in s.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


_IDLE_TICKS = 2  # at most this many ticks of a worker nobody uses, over a test


def _warm(s, docs) -> None:
    for _ in range(3):  # the structure recorded, lowered, its template made
        assert _batch(s, docs)[0] == 200


def test_a_large_batch_is_split_with_a_worker_and_answered_byte_for_byte(two):
    bodies = [_docs(_N, seed) for seed in (1, 2)]
    _warm(two, bodies[0])
    expected = [_expected(two, seed) for seed in (1, 2)]
    before = _workers_cpu(two)
    # at least 4 batches (each body twice), then until the workers have shown their part (> 2 idle allowances) or 24
    # batches: a loaded machine gets there in a few (a worker's share of a batch took ~10-14 ms of its CPU at load
    # 10), an idle one sends more of its faster batches; with the split off all 24 go and the assertion fails
    for k in range(24):
        status, answer = _batch(two, bodies[k % 2])
        assert status == 200
        assert answer == expected[k % 2], f"batch {k}"
        if k >= 3 and _workers_cpu(two) - before > 2 * _IDLE_TICKS:
            break
    # the workers answered part of them (10 ms clock ticks)
    assert _workers_cpu(two) - before > 2 * _IDLE_TICKS


def test_a_small_batch_stays_in_process(two):
    docs = docs_of(SEED, SPLIT_MIN_ROWS // 2, random.Random(3))
    _warm(two, docs)
    expected = separately(two.client, docs)
    before = _workers_cpu(two)
    for _ in range(30):
        assert _batch(two, docs) == (200, expected)
    assert _workers_cpu(two) - before <= _IDLE_TICKS


def test_workers_killed_during_batches_change_no_answer(two):
    docs = _docs(_N, 4)
    _warm(two, docs)
    expected = _expected(two, 4)
    restarts = two.ready()["workers"]["restarts"]
    # two clients: a batch alone splits its chunk, one beside another hands the whole chunk over
    out, killed = under_worker_kills(two.worker_pids, lambda: _batch(two, docs))
    assert out == [[(200, expected)] * 6] * 2
    assert killed
    assert wait_until(lambda: two.ready()["workers"]["restarts"] > restarts
                      and two.ready()["workers"]["alive"] == 2, 60)
    assert _batch(two, docs) == (200, expected)  # and after: split again with the new workers


def test_a_one_worker_pool_is_never_lent_to_a_batch():
    s = Server({**_BASE, "GRADSERVE_COMPUTE_WORKERS": "1"}, api_key=TEST_KEY)
    try:
        docs = _docs(_N, 5)
        _warm(s, docs)
        expected = separately(s.client, docs)
        before = _workers_cpu(s)
        for _ in range(12):
            assert _batch(s, docs) == (200, expected)
        assert _workers_cpu(s) - before <= _IDLE_TICKS
    finally:
        s.stop()


def test_the_response_limit_holds_over_a_split_chunk():
    limit = 1_000_000  # reached within the worker's rows (the answers are ~2.8 KB a document)
    s = Server({**_BASE, "GRADSERVE_COMPUTE_WORKERS": "2", "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(limit)},
               api_key=TEST_KEY)
    try:
        docs = docs_of(SEED, 1000, random.Random(6))
        _warm(s, docs)
        alone = orjson.loads(separately(s.client, docs))["results"]
        # as the batch counts: each answer's bytes; the one that would pass the limit not kept, none after it run
        expected = strict_answer([(r["status"], orjson.dumps(r["body"])) for r in alone], limit)
        before = _workers_cpu(s)
        for k in range(8):  # at least 2 batches, then until the workers' CPU shows their part (or 8)
            status, answer = _batch(s, docs)
            assert status == 200
            assert orjson.loads(answer) == orjson.loads(expected)
            assert answer.count(b'"status":413') == expected.count(b'"status":413') > 0
            if k >= 1 and _workers_cpu(s) - before >= 1:
                break
        assert _workers_cpu(s) - before >= 1
    finally:
        s.stop()


def test_batches_at_once_share_the_workers_and_keep_their_answers(two):
    """(Beside another batch, a batch hands its whole chunk to the worker: _WORKER_SHARE_BUSY.) The bodies are the
    other tests' on this server (their separate answers computed once)."""
    seeds = (1, 2, 4)
    bodies = [_docs(_N, seed) for seed in seeds]
    _warm(two, bodies[0])
    expected = [_expected(two, seed) for seed in seeds]
    out: dict = {}

    def send(k):
        out[k] = [_batch(two, bodies[k]) for _ in range(4)]

    threads = [threading.Thread(target=send, args=(k,)) for k in range(3)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert time.monotonic() - start < 120
    for k in range(3):
        assert out[k] == [(200, expected[k])] * 4
