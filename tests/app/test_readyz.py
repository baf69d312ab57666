"""/readyz without a key says ready or not, and nothing else (issue 14, item 9): no internal URL, pid or
error; those go to the log (once per change of reason) and to a caller with a valid API key."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from engine import _backend
from tests.app.conftest import ROOT, TEST_KEY, Server, children, free_port

INTERNAL = re.compile(r"127\.0\.0\.1|http://|pid|\b\d{3,7}\b|cupy|CuPy|worker", re.IGNORECASE)


def test_ready_says_ready_and_nothing_else():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_BACKEND": "numpy",
                "GRADSERVE_CUDA_WORKER_URL": f"http://127.0.0.1:{free_port()}"}, api_key=TEST_KEY)
    try:
        pids = children(s.proc.pid)
        for headers in ({}, {"x-api-key": "not-the-key"}, {"authorization": "Bearer nope"}):
            r = httpx.get(f"{s.url}/readyz", headers=headers)
            assert r.status_code == 200 and r.content == b'{"status":"ready"}', r.text
        detailed = s.ready()  # the key holder's view
        assert {p["pid"] for p in detailed["workers"]["processes"]} == pids
        assert detailed["backends"]["cuda"]["worker"]["url"].startswith("http://127.0.0.1:")
    finally:
        s.stop()


@pytest.mark.skipif(_backend.cupy_available()[0], reason="a usable GPU makes GRADSERVE_BACKEND=cupy ready")
def test_not_ready_says_not_ready_and_logs_why_once(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADSERVE_")}
    env |= {"GRADSERVE_BACKEND": "cupy", "GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_API_KEYS": TEST_KEY}
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                                 "--log-level", "info"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until it serves (uvicorn serves once the lifespan ran)
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for _ in range(5):
            r = httpx.get(f"{url}/readyz")
            assert r.status_code == 503
            assert r.json() == {"detail": [{"type": "not_ready", "loc": [], "msg": "not ready"}]}
            assert not INTERNAL.search(r.text), r.text
        keyed = httpx.get(f"{url}/readyz", headers={"x-api-key": TEST_KEY})
        assert keyed.status_code == 503 and "GRADSERVE_BACKEND=cupy" in keyed.json()["detail"][0]["msg"]
    finally:
        proc.terminate()
        proc.wait(30)
    lines = [ln for ln in log.read_text().splitlines() if "not ready: GRADSERVE_BACKEND=cupy" in ln]
    assert len(lines) == 1, log.read_text()[-2000:]
