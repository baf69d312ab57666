"""CUDA routing over real HTTP, on any machine: a second real server started with
GRADSERVE_ACCEPT_CUDA_ON_CPU=1 (TESTING ONLY: it computes `cuda` requests with NumPy and reports
`device: cuda`) stands in for the CUDA worker that a CPU-only server forwards to. No mocks."""
from __future__ import annotations

import pytest

from tests.app.conftest import TEST_KEY, Server, cheap_program, free_port

WORKER_ENV = {"GRADSERVE_ACCEPT_CUDA_ON_CPU": "1", "GRADSERVE_COMPUTE_WORKERS": "0"}


def front_env(worker_url: str) -> dict[str, str]:
    # CPU-only front (no CuPy in-process); a low CUDA threshold so that a 64x64 matmul counts as big.
    return {"GRADSERVE_CUDA_WORKER_URL": worker_url, "GRADSERVE_BACKEND": "numpy",
            "GRADSERVE_CUDA_MIN_FLOPS": "1e5", "GRADSERVE_CUDA_MIN_BYTES": "1000000000",
            "GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_CUDA_WORKER_RETRY_S": "60"}


def big_program(device: str | None = "auto") -> dict:
    n = 64
    doc = {"leaves": {"a": {"data": [[1.0] * n] * n, "requires_grad": True}},
           "ops": [{"name": "m", "op": "matmul", "args": ["a", "a"]},
                   {"name": "s", "op": "sum", "args": ["m"]}],
           "backward": [{"tensor": "s"}], "outputs": ["s"], "grads": ["a"]}
    if device is not None:
        doc["device"] = device
    return doc


@pytest.fixture(scope="module")
def pair():
    worker = Server(WORKER_ENV)
    front = Server(front_env(worker.url), api_key=TEST_KEY)
    yield worker, front
    front.stop()
    worker.stop()


def test_worker_stand_in_answers_cuda(pair):
    worker, _ = pair
    r = worker.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
    assert r.status_code == 200, r.text
    assert r.json()["device"] == "cuda"
    assert r.json()["tensors"]["a"]["grad"] == 3.0


def test_auto_small_graph_stays_on_cpu(pair):
    _, front = pair
    r = front.client.post("/v1/evaluate", json=cheap_program())
    assert r.status_code == 200, r.text
    assert r.json()["device"] == "cpu"
    assert "device_note" not in r.json()


def test_cpu_stays_on_cpu_even_when_big(pair):
    _, front = pair
    r = front.client.post("/v1/evaluate", json=big_program("cpu"))
    assert r.status_code == 200 and r.json()["device"] == "cpu"


def test_cuda_is_forwarded(pair):
    _, front = pair
    r = front.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["device"] == "cuda"
    assert body["tensors"]["a"]["grad"] == 3.0


@pytest.mark.parametrize("device", ["auto", None])
def test_auto_big_graph_is_forwarded(pair, device):
    _, front = pair
    r = front.client.post("/v1/evaluate", json=big_program(device))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["device"] == "cuda"
    assert body["tensors"]["s"]["data"] == 64.0 ** 3
    assert body["tensors"]["a"]["grad"][0][0] == 128.0


def test_forwarded_errors_keep_their_status(pair):
    _, front = pair
    doc = {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},
           "ops": [{"name": "c", "op": "add", "args": ["a", "b"]}], "device": "cuda"}
    r = front.client.post("/v1/evaluate", json=doc)
    assert r.status_code == 422, r.text
    err = r.json()["detail"][0]
    assert err["type"] == "RuntimeError" and err["loc"] == ["body", "ops", 0]


def test_readyz_reports_worker(pair):
    worker, front = pair
    cuda = front.ready()["backends"]["cuda"]
    assert cuda["in_process"] is False
    assert cuda["worker"]["url"] == worker.url
    assert cuda["worker"]["reachable"] is True and cuda["worker"]["ready"] is True
    # The worker, open and asked without a key, says ready and nothing more (issue 14, item 9).
    assert worker.ready() == {"status": "ready"}


def test_no_worker_cuda_is_503():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_BACKEND": "numpy"}, api_key=TEST_KEY)
    try:
        r = s.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
        assert r.status_code == 503
        err = r.json()["detail"][0]
        assert err["loc"] == ["body", "device"] and "no CUDA backend" in err["msg"]
        assert s.client.post("/v1/evaluate", json=big_program()).json()["device"] == "cpu"
        assert s.ready()["backends"]["cuda"]["worker"] is None
    finally:
        s.stop()


def test_worker_killed():
    worker = Server(WORKER_ENV)
    front = Server(front_env(worker.url), api_key=TEST_KEY)
    try:
        r = front.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
        assert r.status_code == 200 and r.json()["device"] == "cuda"
        worker.stop()

        r = front.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
        assert r.status_code == 503, r.text
        err = r.json()["detail"][0]
        assert err["type"] == "device_unavailable" and err["loc"] == ["body", "device"]
        assert "CUDA worker is unavailable" in err["msg"] and worker.url in err["msg"]

        for _ in range(2):  # the first after a failure, and one while the worker is known to be down
            r = front.client.post("/v1/evaluate", json=big_program())
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["device"] == "cpu"
            assert body["device_note"].startswith("cuda worker unreachable: ")
            assert body["device_note"].endswith("; ran on cpu")
            assert body["tensors"]["s"]["data"] == 64.0 ** 3

        small = front.client.post("/v1/evaluate", json=cheap_program()).json()
        assert small["device"] == "cpu" and "device_note" not in small

        w = front.ready()["backends"]["cuda"]["worker"]
        assert w["reachable"] is False and w["ready"] is False
        assert w["last_error"] and worker.url in w["last_error"]
    finally:
        front.stop()
        worker.stop()


def test_unused_port_worker_auto_falls_back():
    front = Server(front_env(f"http://127.0.0.1:{free_port()}"))
    try:
        body = front.client.post("/v1/evaluate", json=big_program()).json()
        assert body["device"] == "cpu" and "cuda worker unreachable" in body["device_note"]
    finally:
        front.stop()
