"""A CUDA worker that stops answering counts as down within GRADSERVE_CUDA_WORKER_TIMEOUT_S (issue 14, item
8): a real stand-in worker (tests/app/test_cuda_routing.py) frozen with SIGSTOP, so that the kernel still
accepts its connections and nobody answers; `auto` runs on the CPU, `cuda` is 503, neither waits for the
time limit (30 s here: a wait that long would be a 504)."""
from __future__ import annotations

import os
import signal

import pytest

from tests.app.conftest import Server, cheap_program
from tests.app.test_cuda_routing import WORKER_ENV, big_program, front_env


@pytest.fixture(scope="module")
def frozen_pair():
    worker = Server(WORKER_ENV)
    front = Server({**front_env(worker.url), "GRADSERVE_TIME_LIMIT_S": "30", "GRADSERVE_CUDA_WORKER_TIMEOUT_S": "1",
                    "GRADSERVE_CUDA_WORKER_RETRY_S": "5"})
    r = front.client.post("/v1/evaluate", json=big_program())
    assert r.status_code == 200 and r.json()["device"] == "cuda"  # forwarded while the worker answers
    os.kill(worker.proc.pid, signal.SIGSTOP)
    try:
        yield worker, front
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)
        front.stop()
        worker.stop()


def test_auto_falls_back_to_the_cpu(frozen_pair):
    _, front = frozen_pair
    front.client.timeout = 60
    for _ in range(2):  # the request that finds it frozen, and one while it is known to be down
        r = front.client.post("/v1/evaluate", json=big_program())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["device"] == "cpu" and body["tensors"]["s"]["data"] == 64.0 ** 3
        assert body["device_note"].startswith("cuda worker unreachable: ")
        assert "cuda_worker_timeout_s" in body["device_note"]


def test_cuda_is_503_not_504(frozen_pair):
    _, front = frozen_pair
    front.client.timeout = 60
    r = front.client.post("/v1/evaluate", json={**cheap_program(), "device": "cuda"})
    assert r.status_code == 503, r.text
    err = r.json()["detail"][0]
    assert err["type"] == "device_unavailable" and "cuda_worker_timeout_s" in err["msg"]
