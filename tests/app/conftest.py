"""Fixtures: an in-process TestClient, and real servers (`python -m app.cli serve`) on free ports."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]


def slow_program(n_matmuls: int = 8, size: int = 4000) -> dict:
    """Many seconds of BLAS work in one small request: a chain of 4000 x 4000 matmuls, ~10 s on one core
    (needs max_tensor_elements >= 16M, max_total_elements >= 150M)."""
    ops = [{"name": "x", "op": "ones", "args": [size, size]}]
    ops += [{"name": f"y{i}", "op": "matmul", "args": ["x" if i == 0 else f"y{i - 1}", "x"]}
            for i in range(n_matmuls)]
    ops.append({"name": "s", "op": "sum", "args": [f"y{n_matmuls - 1}"]})
    return {"ops": ops, "outputs": ["s"]}


TEST_KEY = "test-key"  # servers whose tests read /readyz's details run with it
# slow_program's 4000 x 4000 float32 tensors: 64 MB each, nine of them
SLOW_LIMITS = {"GRADSERVE_MAX_TENSOR_ELEMENTS": "16000000", "GRADSERVE_MAX_TOTAL_ELEMENTS": "200000000",
               "GRADSERVE_MAX_REQUEST_BYTES": str(1 << 30), "GRADSERVE_MAX_PROCESS_BYTES": str(2 << 30)}


def cheap_program() -> dict:
    return {"leaves": {"a": {"data": 2.0, "requires_grad": True}, "b": {"data": 3.0}},
            "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}], "backward": [{"tensor": "c"}]}


def children(pid: int) -> set[int]:
    """Live (non-zombie) child processes of pid, from /proc."""
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(entry.name))
    return out


def pid_state(pid: int) -> str | None:
    """The process state letter ('R', 'S', 'Z', ...), None when the pid does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def alive(pid: int) -> bool:
    # Once the server is gone its orphans belong to pid 1, which may be slow to reap them: a zombie is dead.
    return pid_state(pid) not in (None, "Z")


def under_worker_kills(pids, call, clients: int = 2, rounds: int = 6):
    """`call()` `rounds` times from each of `clients` threads while the first of `pids()` (a server's compute
    workers) is SIGKILLed every 150 ms: each client's answers in order, and the pids killed."""
    stop, killed, out = threading.Event(), [], {}

    def killer():
        while not stop.is_set():
            for pid in pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
                break
            stop.wait(0.15)

    def send(k):
        out[k] = [call() for _ in range(rounds)]

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        senders = [threading.Thread(target=send, args=(k,)) for k in range(clients)]
        for s in senders:
            s.start()
        for s in senders:
            s.join(120)
    finally:
        stop.set()
        t.join()
    return [out.get(k) for k in range(clients)], killed


def wait_until(cond, timeout: float, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    return cond()


def post_raw(port: int, path: str, body: bytes) -> tuple[int, dict, bytes]:
    """One POST over its own plain connection (no client library between): status, headers, body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        c.request("POST", path, body, {"content-type": "application/json"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real `python -m app.cli serve` process with its own environment. With `api_key`, the server requires
    it (GRADSERVE_API_KEYS) and `client` sends it: /readyz details are for key holders only."""

    def __init__(self, env: dict[str, str], api_key: str | None = None, log_path=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GRADSERVE_")}
        full_env.update(env)
        if api_key is not None:
            full_env["GRADSERVE_API_KEYS"] = api_key
        self.log = open(log_path or os.devnull, "w")  # noqa: SIM115 - (log_path: the server's log, to read)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=30,
                                   headers={"x-api-key": api_key} if api_key is not None else None)
        deadline = time.monotonic() + 180  # (a start is ~2.4 s of CPU: minutes of wall time at load 20-25)
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "server exited during startup"
            try:
                if self.client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready")

    def ready(self) -> dict:
        return self.client.get("/readyz").json()

    def worker_pids(self) -> list[int]:
        return [p["pid"] for p in self.ready()["workers"]["processes"]]

    def stop(self, sig: int = signal.SIGTERM) -> set[int]:
        """Stop the server; the child processes it had (all of which must then disappear)."""
        kids = children(self.proc.pid)
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return kids


@pytest.fixture(scope="session")
def client():
    """In-process app with one compute worker and default limits."""
    with TestClient(create_app(Settings(compute_workers=1))) as c:
        yield c


@pytest.fixture(scope="module")
def server():
    """A real server with a short time limit, small body limit and two compute workers."""
    s = Server({"GRADSERVE_TIME_LIMIT_S": "1.5", "GRADSERVE_MAX_IN_FLIGHT": "4",
                "GRADSERVE_COMPUTE_WORKERS": "2", "GRADSERVE_MAX_BODY_BYTES": "200000", **SLOW_LIMITS},
               api_key=TEST_KEY)
    yield s
    kids = s.stop()
    assert kids, "the server had no compute workers"
    assert wait_until(lambda: not any(alive(p) for p in kids), 10), \
        f"processes left behind after shutdown: {[p for p in kids if alive(p)]}"


def in_thread(fn, *args, **kwargs):
    """Run fn(*args, **kwargs) in a thread; returns (thread, result list) to join and read."""
    box: list = []
    t = threading.Thread(target=lambda: box.append(fn(*args, **kwargs)), daemon=True)
    t.start()
    return t, box


def placements(srv) -> dict:
    """The server's evaluations by placement (inline, thread, worker, ...) from /metrics."""
    out = {}
    for ln in srv.client.get("/metrics").text.splitlines():
        if ln.startswith("gradserve_evaluations_by_placement_total{"):
            out[ln.split('placement="')[1].split('"')[0]] = float(ln.split()[-1])
    return out


def run_where(srv, doc: dict | None = None, body: bytes | None = None) -> tuple[str, dict]:
    """POST /v1/evaluate (a document, or a raw body) and where it ran: the one placement whose count moved."""
    before = placements(srv)
    kw = {"json": doc} if body is None else {"content": body, "headers": {"content-type": "application/json"}}
    r = srv.client.post("/v1/evaluate", timeout=120, **kw)
    assert r.status_code == 200, r.text[:300]
    after = placements(srv)
    [where] = [p for p in after if after[p] != before.get(p, 0.0)]
    return where, r.json()
