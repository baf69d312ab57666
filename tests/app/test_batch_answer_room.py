"""A batch's answer always fits the room for answers on an idle server (redteam11 F1): a 503 with Retry-After only
where a retry can pass.

Before, the route checked `max_batch_response_bytes` before each document, so a batch's answers could pass it by
one document's (up to `max_response_bytes`) and the 413 entries after it, while the room for answers
(`Settings.response_budget_bytes`) was only the largest of the limits: 17 documents answering ~3.8 MB each (16
fit in 64 MiB) were computed and answered 503 + Retry-After, every time, on an idle server. Now the limit is
strict: a document whose answer would take the batch's answers past it answers 413 (its answer dropped), those
after it are not run and answer 413, and the room is at least the limit plus a 413 entry for every document.
Real servers, real HTTP; the expected answers are built from each document's own /v1/evaluate answer."""
from __future__ import annotations

import json

import pytest

from app.core.config import Settings

from .conftest import Server
from .conftest import post_raw as _post


def _full(n: int) -> dict:
    return {"leaves": {}, "ops": [{"name": "z", "op": "full", "args": [[n], 0.123456789]}], "outputs": ["z"]}


def _error(msg: str) -> bytes:
    return json.dumps({"detail": [{"type": "limit_exceeded", "loc": [], "msg": msg}]},
                      separators=(",", ":")).encode()


def _not_run(limit: int) -> bytes:
    return _error(f"not run: the batch's answers reached the limit max_batch_response_bytes={limit}")


def _not_kept(n: int, limit: int) -> bytes:
    return _error(f"not kept: this document's answer ({n} bytes) would take the batch's answers past the limit "
                  f"max_batch_response_bytes={limit}")


def expected(alone: list[tuple[int, bytes]], limit: int) -> bytes:
    """The batch's answer from each document's own (status, body): kept while the answers' bytes stay within the
    limit; the one that would pass it 413 (not kept), every one after it 413 (not run)."""
    parts, size, full = [], 0, False
    for status, body in alone:
        if full or size >= limit:
            status, body = 413, _not_run(limit)
        elif size + len(body) > limit:
            status, body, full = 413, _not_kept(len(body), limit), True
        size += len(body)
        parts.append(b'{"status":%d,"body":%s}' % (status, body))
    return b'{"results":[' + b",".join(parts) + b"]}"


@pytest.fixture(scope="module")
def defaults():
    s = Server({"GRADSERVE_ACCESS_LOG": "false"})  # every limit at its default
    yield s
    s.stop()


def test_a_batch_just_past_the_response_limit_is_answered_not_refused(defaults):
    """The red team's request: 17 x full([200000]) (~3.8 MB each; 16 fit in 64 MiB): 200, the 17th 413, not 503."""
    port = defaults.port
    st, _, one = _post(port, "/v1/evaluate", json.dumps(_full(200_000)).encode())
    assert st == 200 and 16 * len(one) < Settings().max_batch_response_bytes < 17 * len(one)
    limit = Settings().max_batch_response_bytes
    for n in (17, 18, 17):  # and again: nothing was left held
        st, headers, got = _post(port, "/v1/evaluate/batch", json.dumps({"requests": [_full(200_000)] * n}).encode())
        assert st == 200, (st, headers, got[:300])
        assert got == expected([(200, one)] * n, limit)
    st, _, got = _post(port, "/v1/evaluate/batch", json.dumps({"requests": [_full(200_000)] * 16}).encode())
    assert st == 200 and got == expected([(200, one)] * 16, limit)


_SMALL = {"GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": "1000000",
          "GRADSERVE_MAX_RESPONSE_BYTES": "600000", "GRADSERVE_MAX_BATCH_DOCUMENTS": "300",
          "GRADSERVE_MAX_BUFFERED_RESPONSE_BYTES": "1"}  # the room for answers: its floor, nothing more


def _dup(k: int) -> bytes:
    key = "k" * 3000 + str(k)  # a 422 of ~3 KB: 300 of them would be ~0.9 MB past the limit
    return b'{"leaves":{},"ops":[],"%s":1,"%s":2}' % (key.encode(), key.encode())


@pytest.mark.parametrize("plans", ["256", "0"])  # the text path and the whole-body parse (duplicates refused there)
def test_the_largest_batches_answer_fits_the_room_on_an_idle_server(plans):
    s = Server({**_SMALL, "GRADSERVE_PLAN_CACHE_ENTRIES": plans})
    try:
        limit = 1_000_000
        for n, lead in ((20_000, 0), (27_000, 3), (45_454, 1), (54_000, 250)):  # ~220-600 KB answers
            texts = [_dup(k) for k in range(lead)] + [json.dumps(_full(n)).encode()] * 5
            texts += [_dup(k) for k in range(lead, 300 - len(texts))]  # past the limit: not run, 413
            alone = [_post(s.port, "/v1/evaluate", t)[::2] for t in texts]
            body = b'{"requests":[' + b",".join(texts) + b"]}"
            for _ in range(2):
                st, headers, got = _post(s.port, "/v1/evaluate/batch", body)
                assert st == 200, (n, st, headers, got[:300])
                assert got == expected(alone, limit), n
                assert len(got) <= Settings(**{"max_batch_response_bytes": limit, "max_response_bytes": 600_000,
                                               "max_batch_documents": 300,
                                               "max_buffered_response_bytes": 1}).response_budget_bytes()
    finally:
        s.stop()


def test_the_room_holds_a_413_entry_for_every_document():
    """BATCH_ENTRY_MAX_BYTES bounds a 413 entry past the limit, wrapped, for the largest numbers it can name."""
    from app.core.config import BATCH_ENTRY_MAX_BYTES
    big = 2 ** 63 - 1
    for body in (_not_run(big), _not_kept(big, big)):
        assert len(b'{"status":413,"body":%s},' % body) <= BATCH_ENTRY_MAX_BYTES
    s = Settings(max_batch_response_bytes=5 * 2 ** 20, max_buffered_response_bytes=1, max_response_bytes=2 ** 20)
    assert s.response_budget_bytes() >= 5 * 2 ** 20 + s.max_batch_documents * BATCH_ENTRY_MAX_BYTES + 64


def test_the_join_counts_the_last_answers_in_the_room_for_answers():
    """Answers.join: the last documents' answers, within the last hold's step, were never counted in BUILDING (the
    room for answers), so the join's copy was made for an answer the front door then refused."""
    from app.core.errors import OverCapacity
    from app.core.protocol import RESPONSES
    from app.services.batch_memory import BUILDING, Answers

    saved = RESPONSES.limit, RESPONSES.unsent, RESPONSES.measure
    RESPONSES.limit, RESPONSES.unsent, RESPONSES.measure = 1 << 20, 0, None
    try:
        a = Answers(b"[", {}, 1)
        a.hold(600_000)  # 750,000 held (a quarter more), 534,464 in the room (past the first 64 KiB)
        assert BUILDING[0] == 600_000 - RESPONSES.free and a.held == 750_000
        a += [b"x" * 700_000]
        RESPONSES.unsent = 450_000  # answers written since by other requests: 700,000 no longer fit
        with pytest.raises(OverCapacity) as e:
            a.join(700_000)
        assert e.value.headers == {"Retry-After": "1"}
        assert BUILDING[0] == 0 and a.held == 0 and a.building == 0  # its holds given back
        RESPONSES.unsent = 0
        b = Answers(b"[", {}, 1)
        b.hold(600_000)
        b += [b"x" * 700_000]
        assert len(b.join(700_000)) == 700_001 and BUILDING[0] == 0 and b.held == 0  # room: joined
    finally:
        RESPONSES.limit, RESPONSES.unsent, RESPONSES.measure = saved
