"""A large body (GRADSERVE_WORKER_PARSE_MIN_BYTES) is parsed, checked, planned and run only in a compute worker
(app/services/planning.py): the same answers as the server's own path, errors included, and the server's memory
never holds its parsed document."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.app.conftest import Server, cheap_program, free_port
from tests.app.test_cuda_routing import WORKER_ENV, big_program, front_env

JSON = {"content-type": "application/json"}
MiB = 1 << 20


def _placements(c) -> dict[str, float]:
    out = {}
    for line in c.get("/metrics").text.splitlines():
        if line.startswith("gradserve_evaluations_by_placement_total{"):
            out[line.split('placement="')[1].split('"')[0]] = float(line.split()[-1])
    return out


BODIES = {
    "cheap": orjson.dumps(cheap_program()),
    "expression": orjson.dumps({"leaves": {"x": {"data": [1.0, 2.0], "requires_grad": True}},
                                "expression": "y = (x * x).sum()", "backward": [{"tensor": "y"}]}),
    "invalid JSON": b'{"leaves": {"a": ',
    "empty": b" ",
    "duplicate key": b'{"ops": [], "ops": []}',
    "schema": orjson.dumps({**cheap_program(), "bogus": 1, "backward": "c"}),
    "max_ops": orjson.dumps({"ops": [{"name": f"o{i}", "op": "zeros", "args": [1]} for i in range(9)]}),
    "device cuda": orjson.dumps({**cheap_program(), "device": "cuda"}),
    "engine error": orjson.dumps({"ops": [{"name": "x", "op": "add", "args": ["nope", 1]}]}),
    "overflow": b'{"leaves": {"a": {"data": [1180591620717411303424], "dtype": "int64"}}}',
    "not an object": b"[1, 2]",
}


@pytest.fixture(scope="module")
def apps():
    common = dict(compute_workers=1, max_ops=8, access_log=False)
    with TestClient(create_app(Settings(**common))) as ref, \
            TestClient(create_app(Settings(loop_max_body_bytes=0, worker_parse_min_bytes=0, **common))) as large:
        yield ref, large


@pytest.mark.parametrize("name", list(BODIES))
def test_a_large_body_answers_as_the_server_path_does(apps, name):
    ref, large = apps
    a = ref.post("/v1/evaluate", content=BODIES[name], headers=JSON)
    before = _placements(large)
    b = large.post("/v1/evaluate", content=BODIES[name], headers=JSON)
    assert (b.status_code, b.json()) == (a.status_code, a.json())
    if b.status_code == 200:  # run in the worker, never in the server's loop or threads
        after = _placements(large)
        assert after.get("worker", 0) == before.get("worker", 0) + 1, after
        assert after.get("thread", 0) == before.get("thread", 0) and after.get("loop", 0) == before.get("loop", 0)


def _hwm(pid: int) -> int:
    """The process's peak RSS (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _reset_hwm(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # Linux 4.0+: VmHWM starts again from VmRSS
        return True
    except OSError:
        return False


def test_the_server_never_holds_a_large_body_parsed():
    # 12 MiB of floats: ~100 MiB of Python floats once parsed and ~150 MiB more while orjson parses; in the
    # server that was its peak RSS growth (192 MiB, with GRADSERVE_WORKER_PARSE_MIN_BYTES past the body's size;
    # and the GIL held for the parse's ~0.3 s); in a worker it is not
    n = 12 * MiB // 4
    body = b'{"leaves":{"a":{"data":[' + b"0.5," * (n - 1) + b'0.5]}},"ops":[{"name":"s","op":"sum","args":["a"]}],' \
           b'"outputs":["s"]}'
    env = {"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false",
           "GRADSERVE_WORKER_PARSE_MIN_BYTES": str(MiB)}
    s = Server(env)
    try:
        if not _reset_hwm(s.proc.pid):
            pytest.skip("/proc/<pid>/clear_refs is not writable here")
        base = _hwm(s.proc.pid)
        r = s.client.post("/v1/evaluate", content=body, headers=JSON)
        assert r.status_code == 200, r.text
        assert r.json()["tensors"]["s"]["data"] == 0.5 * n
        grew = (_hwm(s.proc.pid) - base) / MiB
        # the body itself (12 MiB) and its copies on the way in and out to the worker, not its parse
        assert grew < 64, f"the server's peak RSS grew {grew:.0f} MiB"
    finally:
        s.stop()


@pytest.fixture(scope="module")
def pair():
    worker = Server(WORKER_ENV)
    front = Server({**front_env(worker.url), "GRADSERVE_LOOP_MAX_BODY_BYTES": "0",
                    "GRADSERVE_WORKER_PARSE_MIN_BYTES": "0"})
    yield worker, front
    front.stop()
    worker.stop()


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_a_large_body_for_cuda_is_forwarded_from_the_worker(pair, device):
    _, front = pair
    r = front.client.post("/v1/evaluate", content=orjson.dumps(big_program(device)), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["device"] == "cuda" and r.json()["tensors"]["s"]["data"] == 64.0 ** 3
    assert _placements(front.client).get("cuda_worker", 0) >= 1


def test_a_large_auto_body_falls_back_to_the_cpu_when_the_cuda_worker_is_gone():
    front = Server({**front_env(f"http://127.0.0.1:{free_port()}"), "GRADSERVE_LOOP_MAX_BODY_BYTES": "0",
                    "GRADSERVE_WORKER_PARSE_MIN_BYTES": "0"})
    try:
        r = front.client.post("/v1/evaluate", content=orjson.dumps(big_program("auto")), headers=JSON)
        assert r.status_code == 200, r.text
        assert r.json()["device"] == "cpu" and "cuda worker unreachable" in r.json()["device_note"]
        assert r.json()["tensors"]["s"]["data"] == 64.0 ** 3
        r = front.client.post("/v1/evaluate", content=orjson.dumps(big_program("cuda")), headers=JSON)
        assert r.status_code == 503 and r.json()["detail"][0]["type"] == "device_unavailable", r.text
    finally:
        front.stop()
