"""Peak RSS of a server and its compute workers with GRADSERVE_MAX_IN_FLIGHT requests at their limits:
`python -m bench.memory_limits` (docs/RELIABILITY.md, "Memory").

A server of this tree is started on a free port (defaults, GRADSERVE_TIME_LIMIT_S=60 so that queued requests
wait for a worker rather than time out); its RSS and each compute worker's are sampled every 20 ms while, at
once:
- `--big` requests (default 4) each hold 240 MB of tensors (three float64 tensors of 10M elements: under
  max_request_bytes and max_total_elements): they go to the compute workers, one at a time each
  (the others wait for a free one);
- the rest of GRADSERVE_MAX_IN_FLIGHT (12 by default) each send a ~1 MiB body of number lists (just under
  worker_parse_min_bytes: parsed in the server) and hold ~12 MiB of tensors (under the thread's caps): they
  run in server threads, against max_process_bytes.
Prints the statuses (503: the process budget or capacity said no; 413: a request limit) and the peaks."""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

from bench.redteam import _children, _rss

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def big_request() -> bytes:
    # 240 MB of float64 tensors: under max_request_bytes (256 MiB), and under max_total_elements with the sum
    # (whose bound is its input's size)
    ops = [{"name": f"t{i}", "op": "ones", "args": [10_000_000], "kwargs": {"dtype": "float64"}} for i in range(3)]
    ops += [{"name": "s", "op": "sum", "args": ["t2"]}]
    return orjson.dumps({"ops": ops, "outputs": ["s"]})


def thread_request() -> bytes:
    n = (1 * MiB - 4096) // 4  # "0.0," each: just under 1 MiB
    data = b"[" + b"0.0," * (n - 1) + b"0.0]"
    ops = [{"name": "b", "op": "add", "args": ["a", 1.0]}, {"name": "c", "op": "ones", "args": [2_500_000]},
           {"name": "s", "op": "sum", "args": ["b"]}]
    return (b'{"leaves":{"a":{"data":' + data + b'}},"ops":' + orjson.dumps(ops) + b',"outputs":["s"]}')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--big", type=int, default=4)
    p.add_argument("--in-flight", type=int, default=16)
    a = p.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        time.sleep(1.0)
        base_server, base_workers = _rss(proc.pid), [_rss(c) for c in _children(proc.pid)]
        peaks = {"server": 0, "workers": 0, "total": 0, "worker_max": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                srv = _rss(proc.pid)
                ws = [_rss(c) for c in _children(proc.pid)]
                peaks["server"] = max(peaks["server"], srv)
                peaks["workers"] = max(peaks["workers"], sum(ws))
                peaks["worker_max"] = max([peaks["worker_max"], *ws])
                peaks["total"] = max(peaks["total"], srv + sum(ws))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        bodies = [big_request()] * a.big + [thread_request()] * (a.in_flight - a.big)

        def post(body: bytes) -> int:
            try:
                return httpx.post(url + "/v1/evaluate", content=body, headers={"content-type": "application/json"},
                                  timeout=120).status_code
            except httpx.HTTPError:
                return -1

        t0 = time.monotonic()
        with ThreadPoolExecutor(a.in_flight) as pool:
            statuses = list(pool.map(post, bodies))
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
        stop.set()
        sampler.join()
        big, small = statuses[:a.big], statuses[a.big:]
        print(f"# {a.in_flight} requests at once ({a.big} of 240 MB of tensors, {a.in_flight - a.big} of a ~1 MiB "
              f"body + ~12 MiB of tensors), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
              f"{elapsed:.1f} s")
        print(f"statuses: big {big}, thread {small}")
        print(f"idle: server {base_server / MiB:.0f} MiB, workers {[round(w / MiB) for w in base_workers]} MiB")
        print(f"peak: server {peaks['server'] / MiB:.0f} MiB, one worker {peaks['worker_max'] / MiB:.0f} MiB, "
              f"workers together {peaks['workers'] / MiB:.0f} MiB, server + workers {peaks['total'] / MiB:.0f} MiB")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
