"""Where POST /v1/evaluate/batch reads its body (red team 8, F3): a body past `loop_max_body_bytes` is read (as
text by engine.program.batch_text.scan, or parsed as a whole) in a thread, not on the event loop, where 15 MB of
documents that match no template held every other request for ~2 s. The read is observed where it runs: a
wrapper around the real scan / parse records whether the calling thread is running the event loop."""
from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.routers import batch as batch_router
from engine.program import batch_text


def _doc(i: int) -> dict:
    """A document of its own structure (its names): no template matches it."""
    return {"leaves": {f"a{i}": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [{"name": f"s{i}", "op": "sum", "args": [f"a{i}"]}], "backward": [{"tensor": f"s{i}"}]}


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def where(monkeypatch):
    """Per call of the batch's body readers (the text scan, the whole-body parse): whether it ran on the loop."""
    seen: list[tuple[str, bool]] = []
    scan, documents = batch_text.scan, batch_router._documents

    def scan_(*a, **k):
        seen.append(("scan", _on_loop()))
        return scan(*a, **k)

    def documents_(*a, **k):
        seen.append(("documents", _on_loop()))
        return documents(*a, **k)

    monkeypatch.setattr(batch_text, "scan", scan_)
    monkeypatch.setattr(batch_router, "_documents", documents_)
    return seen


@pytest.mark.parametrize("envelope", ["text", "parsed"])
def test_a_large_batch_body_is_read_off_the_event_loop(where, envelope):
    docs = [_doc(i) for i in range(300)]
    # "parsed": a body the text path does not take (not ASCII: a name with an accent) is parsed as a whole
    if envelope == "parsed":
        docs[0] = {"leaves": {"\u00e9": {"data": 1.0}}}
    body = json.dumps({"requests": docs}, ensure_ascii=False).encode()
    settings = Settings(compute_workers=0, access_log=False, loop_max_body_bytes=16 * 1024)
    assert len(body) > settings.loop_max_body_bytes
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/evaluate/batch", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200
        assert [x["status"] for x in r.json()["results"]] == [200] * len(docs)
    assert where and all(not on_loop for _, on_loop in where), where
    assert where[-1][0] == ("scan" if envelope == "text" else "documents")


def test_a_small_batch_body_is_read_on_the_loop_without_a_thread_hop(where):
    body = json.dumps({"requests": [_doc(0), _doc(1)]}).encode()
    settings = Settings(compute_workers=0, access_log=False, loop_max_body_bytes=16 * 1024)
    assert len(body) <= settings.loop_max_body_bytes
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/evaluate/batch", content=body, headers={"content-type": "application/json"})
        assert [x["status"] for x in r.json()["results"]] == [200, 200]
    assert where == [("scan", True)]
