"""A/B of POST /v1/evaluate/batch: this checkout's server and another checkout's (e.g. `git archive main`),
served side by side and driven in interleaved rounds, so both see the same machine state.

    python -m bench.batch_ab --base /tmp/main-copy [--rounds 9] [--seconds 1]
    python -m bench.batch_ab --base . --env-new MALLOC_TRIM_THRESHOLD_=67108864   # one checkout, two settings
    python -m bench.batch_ab --base /tmp/main-copy --conns 2      # two connections at once (the batch group's)

Each server runs as `python -m bench.serve app.main:app --workers 1 --stack fast --guarded` (as the batch group
runs it) with this interpreter, from its own checkout. A round sends each server, in a rotating order, the four seed
batch bodies of bench.batch_group (1,000 documents each, other values in each) in turn over one keep-alive
connection (or `--conns` connections at once, each its own client thread) for `seconds`. Per round and server:
documents per second, and the server's CPU (the time on a CPU of its processes' threads, from the scheduler's sums in
/proc/<pid>/task/*/schedstat: the server's and its compute workers', which answer part of a large batch, and the
workers' alone) and minor page faults (all, and the workers') per batch. Figures: medians over the rounds, and the
median of the per-round ratios.
Before timing, both servers' answers to the same batch are compared byte for byte."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.batch_group import random_docs, seed_docs

ROOT = Path(__file__).resolve().parent.parent


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu(pid: int, field: int = 0, children_only: bool = False) -> float:
    """CPU seconds of a process and its children that are still alive (utime + stime), or of its children only
    (its compute workers); field 1: their minor page faults instead; field 2: their CPU time from the scheduler's
    nanosecond sums (threads that ended not counted)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [] if children_only else [pid]
    try:  # every thread's children: the compute workers are started from the server's threads
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    for p in pids:
        if field == 2:
            total += _run_ns(p) / 1e9
            continue
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick if field == 0 else int(fields[7])
    return total


def _run_ns(pid: int) -> int:
    """Nanoseconds on a CPU of the live threads of a process (/proc/<pid>/task/*/schedstat: the scheduler's own
    sum, not 10 ms clock ticks)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return total


class _Served:
    def __init__(self, label: str, root: Path, extra: dict):
        self.label, self.port = label, _port()
        env = {**os.environ, "GRADSERVE_MAX_IN_FLIGHT": "64", "PYTHONPATH": str(root), **extra}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", "app.main:app", "--port", str(self.port), "--workers", "1",
             "--stack", "fast", "--guarded"], cwd=root, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.conns: dict = {}  # per client thread (--conns), its keep-alive connection
        self.refused = 0  # batches answered other than 200 (503: over max_buffered_response_bytes)

    def post(self, body: bytes, k: int = 0) -> bytes:
        for retry in (True, False):  # the server closes a connection idle past its keep-alive timeout (5 s)
            conn = self.conns.get(k)
            if conn is None:
                conn = self.conns[k] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                conn.request("POST", "/v1/evaluate/batch", body, {"content-type": "application/json"})
                r = conn.getresponse()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                conn.close()
                self.conns.pop(k, None)
                if not retry:
                    raise
        out = r.read()
        if r.status != 200:
            self.refused += 1
            return b""
        return out

    def ready(self, body: bytes, timeout: float = 90) -> None:
        end = time.time() + timeout
        while time.time() < end:
            try:
                self.post(body)
                return
            except OSError:
                self.conns.clear()
                time.sleep(0.3)
        raise SystemExit(f"{self.label}: not ready")

    def stop(self):
        for conn in self.conns.values():
            conn.close()
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


def _drive(s, bodies: list, conns: int, t0: float, seconds: float) -> tuple[int, int]:
    """Batches sent to s over `conns` connections at once until `seconds` have passed (two at least each):
    (documents answered, batches)."""
    counts = [[0, 0] for _ in range(conns)]

    def client(k):
        c = counts[k]
        while c[1] < 2 or time.perf_counter() - t0 < seconds:
            c[0] += s.post(bodies[(c[1] + k) % len(bodies)], k).count(b'{"status":')
            c[1] += 1

    if conns == 1:
        client(0)
    else:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the other checkout (its root directory)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--conns", type=int, default=1, help="connections sending batches at once, per server")
    p.add_argument("--workload", choices=("seed", "random"), default="seed",
                   help="random: the batch group's 1,000 random programs (one body; each document runs alone)")
    p.add_argument("--env-base", action="append", default=[], metavar="K=V", help="environment of base's server")
    p.add_argument("--env-new", action="append", default=[], metavar="K=V", help="environment of new's server")
    a = p.parse_args(argv)
    envs = [dict(kv.split("=", 1) for kv in e) for e in (a.env_base, a.env_new)]
    if a.workload == "seed":
        bodies = [json.dumps({"requests": seed_docs(random.Random(100 + b))}).encode() for b in range(4)]
    else:
        bodies = [json.dumps({"requests": random_docs(random.Random(16))}).encode()] * 4
    servers = [_Served("base", Path(a.base).resolve(), envs[0]), _Served("new", ROOT, envs[1])]
    try:
        for s in servers:
            s.ready(bodies[0])
            # warm: the program recorded, lowered, vectorized; the templates
            for body in bodies[:1] if a.workload == "random" else bodies * 3:
                s.post(body)
        answers = [s.post(bodies[1]) for s in servers]
        for s in servers:
            s.refused = 0
        same = answers[0] == answers[1]
        rates = {s.label: [] for s in servers}
        cpu = {s.label: [] for s in servers}
        kids = {s.label: [] for s in servers}
        faults = {s.label: [] for s in servers}
        kid_faults = {s.label: [] for s in servers}
        for r in range(a.rounds):
            for s in (servers if r % 2 == 0 else servers[::-1]):
                c0, f0, t0, n = _cpu(s.proc.pid, 2), _cpu(s.proc.pid, 1), time.perf_counter(), 0
                k0, kf0 = _cpu(s.proc.pid, 2, children_only=True), _cpu(s.proc.pid, 1, children_only=True)
                docs, n = _drive(s, bodies, a.conns, t0, a.seconds)
                rates[s.label].append(docs / (time.perf_counter() - t0))
                cpu[s.label].append((_cpu(s.proc.pid, 2) - c0) / n * 1e3)
                kids[s.label].append((_cpu(s.proc.pid, 2, children_only=True) - k0) / n * 1e3)
                faults[s.label].append((_cpu(s.proc.pid, 1) - f0) / n)
                kid_faults[s.label].append((_cpu(s.proc.pid, 1, children_only=True) - kf0) / n)
    finally:
        for s in servers:
            s.stop()
    ratio = statistics.median(x / y for x, y in zip(rates["new"], rates["base"]))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}; answers identical: {same}; "
          f"base env {envs[0] or '-'}, new env {envs[1] or '-'}; {a.conns} connection(s)")
    print("| server | docs/s (median) | min .. max | server CPU a batch, ms (median) | of which compute workers "
          "| minor page faults a batch | of which compute workers | batches not 200 |\n" + "|---" * 8 + "|")
    for s in servers:
        k = s.label
        print(f"| {k} | {statistics.median(rates[k]):.0f} | {min(rates[k]):.0f} .. {max(rates[k]):.0f} | "
              f"{statistics.median(cpu[k]):.2f} | {statistics.median(kids[k]):.2f} | "
              f"{statistics.median(faults[k]):.0f} | {statistics.median(kid_faults[k]):.0f} | {s.refused} |")
    print(f"new / base, median of the per-round ratios: {ratio:.3f}")


if __name__ == "__main__":
    main()
