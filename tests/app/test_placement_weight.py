"""redteam16 F7 over real HTTP: reading a leaf's data walks it in Python one step a list, so a body of deeply
nested one-element lists costs ~40x a flat body's bytes (4,500 branches 100 deep, 909 KB, held a server thread
4.45 s; 16 KiB of them would hold the event loop tens of ms). Placement weighs each list as LIST_WEIGHT_BYTES
bytes: such a body goes where a body that large would (a thread instead of the loop, a compute worker's parse
instead of a server thread), and a flat body of the same size stays where it was. Checked by the placement
counters of /metrics, which count each successful evaluation by where it ran."""
from __future__ import annotations

import json

import pytest

from app.services.evaluate import LIST_WEIGHT_BYTES
from tests.app.conftest import Server
from tests.app.loop_probe import LoopProber

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _placements(srv) -> dict[str, float]:
    out = {}
    for line in srv.client.get("/metrics").text.splitlines():
        if line.startswith("gradserve_evaluations_by_placement_total{"):
            out[line.split('"')[1]] = float(line.split()[-1])
    return out


def _where(srv, body: bytes) -> str:
    before = _placements(srv)
    r = srv.client.post("/v1/evaluate", content=body, headers=JSON)
    assert r.status_code == 200, r.text[:300]
    after = _placements(srv)
    [where] = [k for k in after if after[k] != before.get(k, 0.0)]
    return where


def _deep(branches: int, depth: int = 64) -> bytes:
    """A [branches, 1, ..., 1] tensor (depth dims): `branches` numbers, (depth - 1) * branches + 1 lists."""
    data = "[" + ",".join(["[" * (depth - 1) + "1.5" + "]" * (depth - 1)] * branches) + "]"
    return ('{"leaves":{"x":{"data":' + data + '}},"ops":[{"name":"s","op":"sum","args":["x"]}],'
            '"outputs":["s"]}').encode()


def _flat(size: int) -> bytes:
    n = size // 4
    return json.dumps({"leaves": {"x": {"data": [1.5] * n}}, "ops": [{"name": "s", "op": "sum", "args": ["x"]}],
                       "outputs": ["s"]}, separators=(",", ":")).encode()


def test_deep_small_body_leaves_the_event_loop(srv):
    deep = _deep(60)  # ~8 KB: a flat body this size runs on the loop (12 KB of numbers is past loop_max_elements)
    assert 6_000 < len(deep) < 16 * 1024 and deep.count(b"[") * LIST_WEIGHT_BYTES > 16 * 1024
    assert _where(srv, _flat(len(deep))) == "loop"
    assert _where(srv, deep) == "thread"


def test_deep_large_body_is_read_in_a_worker(srv):
    deep = _deep(2000)
    assert 200_000 < len(deep) < 1 << 20
    assert _where(srv, _flat(len(deep))) == "thread"
    assert _where(srv, deep) == "worker"


def test_graph_reads_a_deep_body_off_the_event_loop(srv):
    """review17 R11: /v1/graph parsed its body (and walked it for duplicate keys) on the event loop before
    anything placed it: 4 MB of deeply nested lists held the loop 1.9 s. Judged by the server's CPU while a
    /healthz waited (tests/app/loop_probe.py): the parse alone is ~3-4 s of CPU here."""
    deep = "[" + ",".join(["[" * 99 + "1.0" + "]" * 99] * 30_000) + "]"
    body = ('{"leaves":{"x":{"data":1.0}},"ops":[],"unknown":' + deep + ',"format":"dot"}').encode()
    with LoopProber(srv) as probe:
        r = srv.client.post("/v1/graph", content=body, headers=JSON, timeout=120)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "unknown"], r.text[:300]
    assert probe.answered and not probe.late, (probe.late, probe.most_cpu)
