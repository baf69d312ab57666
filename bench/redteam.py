"""Red team (issue 14): the attacks that once hurt the service, against a live server, one line each.

`python -m bench.redteam` (`make redteam`) starts `python -m app.cli serve` on a free port of 127.0.0.1
(the defaults, but GRADSERVE_TIME_LIMIT_S=--time-limit, 10 s, so that a run stays short; other GRADSERVE_*
from the environment), or attacks `--url` (with `--pid` for RSS). Attacks run one after the other; during
each, a thread asks /healthz every 50 ms on a kept-alive connection and another samples the RSS of the
server and its compute workers every 25 ms. One line per attack: the request's size, the status(es) it got,
its time, the worst /healthz latency, the peak RSS of server and workers (and their growth over the attack),
and a verdict:

  pass  the status is one the attack should get (its `expect`; a 200 only with the program's value where the
        attack knows it), no 500, an answer within the time limit plus 1 s (and no core still busy with the
        request a second after its 504), /healthz always within 100 ms, and RSS (server + workers) grown by
        at most --rss-growth-mib;
  FAIL  otherwise, with the first reason.

Every loop is bounded: a request waits at most the time limit plus 20 s, a slow connection READ_S; the
whole run takes a few minutes where the service holds, up to ~15 where every freeze freezes.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20
READ_S = 60.0
PREDICTABLE = -2  # seed_leak's "status" where one client's random numbers follow from another's seed
WRONG = -3  # a 200 whose values are not the program's (one() with a `check`)
COMPUTES_ON = -4  # an answer (504) while the server or a worker still computes the request
JSON = {"content-type": "application/json"}


# ----- programs -----

def op(name: str, fn: str, *args, **kwargs) -> dict:
    d = {"name": name, "op": fn, "args": list(args)}
    if kwargs:
        d["kwargs"] = kwargs
    return d


def program(*ops: dict, **fields) -> dict:
    return {"ops": list(ops), **fields}


CHEAP = {"leaves": {"a": {"data": 2.0, "requires_grad": True}, "b": {"data": 3.0}},
         "ops": [op("c", "mul", "a", "b")], "backward": [{"tensor": "c"}]}


# ----- the live server, its probe and its RSS -----

def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used, 0 where it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    """Child processes of pid (each thread's: the compute workers are started from worker threads)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


@dataclass
class Watch:
    """/healthz latency and RSS peaks while an attack runs (threads; bounded by `stop`)."""

    url: str
    pid: int | None
    worst_healthz: float = 0.0
    server_peak: int = 0
    workers_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self):
        self.server_base = _rss(self.pid) if self.pid else 0
        self.workers_base = sum(map(_rss, _children(self.pid))) if self.pid else 0
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._probe, self._sample)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(READ_S + 5)

    def _probe(self):
        with httpx.Client(base_url=self.url, timeout=READ_S) as c:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    c.get("/healthz")
                except httpx.HTTPError:
                    pass
                self.worst_healthz = max(self.worst_healthz, time.perf_counter() - t0)
                self._stop.wait(0.05)

    def _sample(self):
        while self.pid and not self._stop.is_set():
            self.server_peak = max(self.server_peak, _rss(self.pid))
            self.workers_peak = max(self.workers_peak, sum(map(_rss, _children(self.pid))))
            self._stop.wait(0.025)


def start_server(time_limit: float, workers: int | None = None) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADSERVE_TIME_LIMIT_S": str(time_limit),
           "GRADSERVE_ACCESS_LOG": os.environ.get("GRADSERVE_ACCESS_LOG", "false")}
    if workers is not None:
        env["GRADSERVE_COMPUTE_WORKERS"] = str(workers)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not settle(url, 60):
        proc.kill()
        raise RuntimeError("the server did not become ready")
    return proc, url


def settle(url: str, timeout: float) -> bool:
    """Until /readyz says ready (a killed compute worker replaced, a frozen loop free again)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


# ----- attacks -----

@dataclass
class Ctx:
    url: str
    time_limit: float
    host: str = "127.0.0.1"
    port: int = 0
    pid: int | None = None

    def post(self, body: bytes, headers=JSON, check: Callable[[dict], bool] | None = None) -> int:
        """The status of one POST /v1/evaluate; WRONG for a 200 whose document fails `check`."""
        try:
            r = httpx.post(f"{self.url}/v1/evaluate", content=body, headers=headers, timeout=self.time_limit + 20)
        except httpx.TimeoutException:
            return 0  # shown as "timeout"
        except httpx.HTTPError:
            return -1  # shown as "reset"
        if r.status_code == 200 and check is not None and not check(r.json()):
            return WRONG
        return r.status_code

    def cpu_s(self) -> float:
        """CPU seconds of the server and its live compute workers together."""
        return sum(map(_cpu_s, [self.pid, *_children(self.pid)])) if self.pid else 0.0

    def connect(self, data: bytes = b"") -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=READ_S)
        if data:
            try:
                sock.sendall(data)
            except OSError:
                pass
        return sock


def _status(sock: socket.socket) -> int:
    """The status the server answers on a raw connection (0: none before it closed or READ_S passed)."""
    data = b""
    try:
        while len(data) < 16 and (chunk := sock.recv(4096)):
            data += chunk
    except OSError:
        pass
    finally:
        sock.close()
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def _head(length: int, kind: bytes = b"application/json") -> bytes:
    return (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + kind
            + b"\r\nContent-Length: %d\r\n\r\n" % length)


def one(doc: dict, check: Callable[[dict], bool] | None = None) -> Callable[[Ctx], tuple[list[int], int]]:
    body = orjson.dumps(doc)
    return lambda ctx: ([ctx.post(body, check=check)], len(body))


def scalar_is(name: str, value: float, rel: float = 1e-4) -> Callable[[dict], bool]:
    """A check: the output `name` is `value` (what torch gives, worked out by hand for these programs)."""
    return lambda doc: abs(doc["tensors"][name]["data"] - value) <= rel * abs(value)


def _windows_through_diagonal(n: int, k: int) -> float:
    """sum(avg_pool2d(eye(n), k, stride=1)): each window holds as many ones as diagonal cells it covers, and
    cell (i, i) lies in c_i row windows and c_i column windows, c_i = the starts s with s <= i < s + k."""
    return sum((min(i, n - k) - max(0, i - k + 1) + 1) ** 2 for i in range(n)) / (k * k)


def stops_at_the_limit(doc: dict) -> Callable[[Ctx], tuple[list[int], int, float]]:
    """A request that computes past the time limit: its status, and COMPUTES_ON where the server or a compute
    worker went on using a core for its work after the answer (what a thread nothing stopped did)."""
    body = orjson.dumps(doc)

    def attack(ctx: Ctx) -> tuple[list[int], int, float]:
        t0 = time.monotonic()
        status = ctx.post(body)
        answered = time.monotonic() - t0
        cpu = ctx.cpu_s()
        time.sleep(1.0)
        if ctx.pid and ctx.cpu_s() - cpu > 0.5:  # the probe and the sampler cost a few ms a second
            status = COMPUTES_ON
        return [status], len(body), answered  # its time: to the answer, not the second watched after it
    return attack


def eight_big_bodies(ctx: Ctx) -> tuple[list[int], int]:
    n = (16 * MiB - 256) // 4  # "0.0," each: just under max_body_bytes with the envelope
    # (`outputs`: the attack is on the body; the leaf as an output would pass max_response_bytes, 413)
    body = (b'{"leaves":{"a":{"data":[' + b"0.0," * (n - 1)
            + b'0.0]}},"ops":[{"name":"s","op":"sum","args":["a"]}],"outputs":["s"]}')
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: ctx.post(body), range(8))), 8 * len(body)


def slow_connections(n: int, body_bytes: int) -> Callable[[Ctx], tuple[list[int], int]]:
    """n connections send a complete head (and `body_bytes` of a 1 MB body), then stall; meanwhile one cheap
    evaluation is asked (its status first in the list); then what each slow one got."""
    def attack(ctx: Ctx) -> tuple[list[int], int]:
        part = (b"[" + b"0," * (body_bytes // 2))[:body_bytes]
        socks = [ctx.connect(_head(1_000_000) + part) for _ in range(n)]
        cheap = ctx.post(orjson.dumps(CHEAP))
        return [cheap, *map(_status, socks)], n * (len(_head(1_000_000)) + len(part))
    return attack


def idle_connections(n: int) -> Callable[[Ctx], tuple[list[int], int]]:
    def attack(ctx: Ctx) -> tuple[list[int], int]:
        socks = [ctx.connect(b"GET /healthz HTTP/1.1\r\n") for _ in range(n)]
        return list(map(_status, socks)), 0
    return attack


def cross_site(ctx: Ctx) -> tuple[list[int], int]:
    body = orjson.dumps(CHEAP)
    return [ctx.post(body, {"content-type": "text/plain;charset=UTF-8", "origin": "https://evil.example"})], len(body)


def huge_headers(ctx: Ctx) -> tuple[list[int], int]:
    sock = ctx.connect(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * MiB + b"\r\n\r\n")
    return [_status(sock)], MiB


def seed_leak(ctx: Ctx) -> tuple[list[int], int]:
    """200 where an unseeded randn after a seeded request differs from the one after the same seeded request
    again; PREDICTABLE where the second client's numbers could be foretold."""
    seeded = orjson.dumps(program(op("r", "randn", 8), seed=42, outputs=["r"]))
    unseeded = orjson.dumps(program(op("r", "randn", 8), outputs=["r"]))
    seen = []
    for _ in range(2):
        httpx.post(f"{ctx.url}/v1/evaluate", content=seeded, headers=JSON, timeout=30)
        r = httpx.post(f"{ctx.url}/v1/evaluate", content=unseeded, headers=JSON, timeout=30)
        seen.append(r.json()["tensors"]["r"]["data"] if r.status_code == 200 else r.status_code)
    return [200 if seen[0] != seen[1] else PREDICTABLE], 2 * (len(seeded) + len(unseeded))


def retain_graph_passes(n: int) -> dict:
    return {"leaves": {"a": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [op("m", "mul", "a", "a"), op("s", "sum", "m")],
            "backward": [{"tensor": "s", "retain_graph": True}] * n}


@dataclass
class Attack:
    name: str
    run: Callable[[Ctx], tuple[list[int], int]]
    expect: set[int]  # every status the attack may get and still pass (its first one, where `first`)
    first: bool = False  # only the first status must be in `expect` (the others are listed)
    long: bool = False  # its time is not bounded by the time limit (slow connections: the body timeout)


# x @ x of 2000 x 2000 float32, then 30 backward passes through it (each two more such matmuls): 9.8e11 flops,
# within max_flops, max_request_bytes (float64 was not: 320 MB) and max_total_elements (a pass's grads are not
# new tensors; 24 matmuls in `ops` were: a 413 at the 13th, after 7 s of work). ~0.25 s a matmul on one core (a
# compute worker's BLAS has one thread a worker), so ~15 s: past a 10 s limit on a core slower than ~100
# GFLOP/s; on a faster one, a 200.
PAST_THE_LIMIT = program(op("x", "ones", 2000, 2000, requires_grad=True),
                         op("y", "matmul", "x", "x"), op("s", "sum", "y"),
                         backward=[{"tensor": "s", "retain_graph": True}] * 30, outputs=["s"])

ATTACKS = [
    # Once they froze the server for 30-60 s (the estimate took them for tiny: the event loop ran them, windows
    # by the million); now the loop's budget spills them to a worker before their first costly op, where
    # pooling by running sums costs ~0.3 s: a 200 with torch's value (worked out by hand) passes too.
    Attack("conv2d pad 600 -> avg_pool2d 500 s1 (loop freeze)", one(program(
        op("x", "ones", 1, 1, 1, 1), op("w", "ones", 1, 1, 1, 1), op("y", "conv2d", "x", "w", padding=600),
        op("p", "avg_pool2d", "y", 500, stride=1), op("s", "sum", "p"), outputs=["s"]),
        scalar_is("s", 1.0)), {200, 504, 413}),
    Attack("diag -> view -> avg_pool2d 300 (loop freeze)", one(program(
        op("x", "ones", 1000), op("d", "diag", "x"), op("v", "view", "d", 1, 1, 1000, 1000),
        op("p", "avg_pool2d", "v", 300, stride=1), op("s", "sum", "p"), outputs=["s"]),
        scalar_is("s", _windows_through_diagonal(1000, 300))), {200, 504, 413}),
    Attack("matmul 2000^2, 30 backward passes (past the limit)", stops_at_the_limit(PAST_THE_LIMIT), {504, 200}),
    Attack("conv2d padding=8000 (256M elements)", one(program(
        op("x", "ones", 1, 1, 1, 1), op("w", "ones", 1, 1, 1, 1), op("y", "conv2d", "x", "w", padding=8000),
        outputs=[])), {413}),
    Attack("diag(ones(12000))", one(program(op("x", "ones", 12000), op("d", "diag", "x"), outputs=[])), {413}),
    Attack("randint(0, 10, [12000, 12000])", one(program(op("r", "randint", 0, 10, [12000, 12000]), outputs=[])),
           {413}),
    Attack("max_pool2d 1000^2 k=12 s1 (windows)", one(program(
        op("x", "ones", 1, 1, 1000, 1000), op("p", "max_pool2d", "x", 12, stride=1), op("s", "sum", "p"),
        outputs=["s"])), {200, 413}),
    Attack("conv2d 1000^2, 20x20 kernel (im2col)", one(program(
        op("x", "ones", 1, 1, 1000, 1000), op("w", "ones", 1, 1, 20, 20), op("y", "conv2d", "x", "w"),
        op("s", "sum", "y"), outputs=["s"])), {200, 413}),
    Attack("cumprod backward, zeros(8000)", one(program(
        op("x", "zeros", 8000, requires_grad=True), op("c", "cumprod", "x", 0), op("s", "sum", "c"),
        backward=[{"tensor": "s"}], outputs=["s"], grads=[])), {200, 413}),
    Attack("20,000 retain_graph backward passes", one(retain_graph_passes(20_000)), {200, 413, 504}),
    Attack("expand(ones(1), 1e7) as 3 outputs", one(program(
        op("a", "ones", 1), op("e1", "expand", "a", 10_000_000), op("e2", "expand", "a", 10_000_000),
        op("e3", "expand", "a", 10_000_000), outputs=["e1", "e2", "e3"])), {413}),
    Attack("eight 16 MiB bodies at once", eight_big_bodies, {200, 503}),
    Attack("16 header-only connections (+1 evaluation)", slow_connections(16, 0), {200}, first=True, long=True),
    Attack("300 slow-body connections (+1 evaluation)", slow_connections(300, 512 * 1024), {200}, first=True,
           long=True),
    Attack("600 idle connections (cap 512)", idle_connections(600), {408, 503}, long=True),
    Attack("1 MiB of headers", huge_headers, {431}),
    Attack("text/plain POST (cross-site)", cross_site, {415}),
    Attack("seeded, then unseeded randn (predictable?)", seed_leak, {200}),
]


def _fmt_status(statuses: list[int]) -> str:
    names = {0: "timeout", -1: "reset", PREDICTABLE: "predictable", WRONG: "200 (wrong value)",
             COMPUTES_ON: "504, computing on"}
    if len(statuses) <= 3:
        return ",".join(names.get(s, str(s)) for s in statuses)
    counts: dict[int, int] = {}
    for s in statuses[1:]:
        counts[s] = counts.get(s, 0) + 1
    rest = " ".join(f"{n}x{names.get(s, s)}" for s, n in sorted(counts.items()))
    return f"{names.get(statuses[0], statuses[0])}; {rest}"


def verdict(a: Attack, statuses: list[int], elapsed: float, w: Watch, limit: float, growth_mib: float) -> str:
    checked = statuses[:1] if a.first else statuses
    if any(s not in a.expect for s in checked):
        return f"FAIL: got {_fmt_status(checked)}, expected {'/'.join(map(str, sorted(a.expect)))}"
    if 500 in statuses:
        return "FAIL: 500"
    if not a.long and elapsed > limit + 1:
        return f"FAIL: {elapsed:.1f} s, past the limit + 1 s"
    if w.worst_healthz > 0.1:
        return f"FAIL: /healthz took {w.worst_healthz * 1000:.0f} ms"
    grew = (w.server_peak - w.server_base + max(0, w.workers_peak - w.workers_base)) / MiB
    if w.pid and grew > growth_mib:
        return f"FAIL: RSS grew {grew:.0f} MiB"
    return "pass"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.redteam", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="attack this server instead of starting one")
    p.add_argument("--pid", type=int, help="the --url server's pid (for RSS)")
    p.add_argument("--time-limit", type=float, default=10.0, help="GRADSERVE_TIME_LIMIT_S of the server started here")
    p.add_argument("--compute-workers", type=int, help="GRADSERVE_COMPUTE_WORKERS of the server started here "
                   "(0: every request in the server's own threads)")
    p.add_argument("--rss-growth-mib", type=float, default=512.0, help="RSS growth (server + workers) that fails")
    p.add_argument("--only", default="", help="run the attacks whose name contains one of these (comma-separated)")
    a = p.parse_args(argv)
    proc = None
    if a.url:
        url, pid = a.url.rstrip("/"), a.pid
    else:
        proc, url = start_server(a.time_limit, a.compute_workers)
        pid = proc.pid
    ctx = Ctx(url, a.time_limit, port=int(url.rsplit(":", 1)[1]), pid=pid)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    workers = a.compute_workers if a.compute_workers is not None else os.environ.get("GRADSERVE_COMPUTE_WORKERS", 2)
    print(f"# gradserve red team: {url}, time limit {a.time_limit:g} s, {os.cpu_count()} CPUs, "
          f"{workers if not a.url else '?'} compute workers, load average {os.getloadavg()[0]:.1f}")
    print("| attack | request | status | time s | worst /healthz ms | server RSS MiB (+grew) | workers RSS MiB "
          "(+grew) | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    try:
        for attack in ATTACKS:
            if only and not any(s in attack.name for s in only):
                continue
            settle(url, 60)
            with Watch(url, pid) as w:
                t0 = time.monotonic()
                statuses, sent, *answered = attack.run(ctx)
                # the time to the answer (an attack that goes on watching after it says when it came)
                elapsed = answered[0] if answered else time.monotonic() - t0
                time.sleep(0.1)  # one more probe and sample after the answer
            v = verdict(attack, statuses, elapsed, w, a.time_limit, a.rss_growth_mib)
            failed += v != "pass"
            size = f"{sent / MiB:.1f} MiB" if sent >= MiB else f"{sent} B"
            rss = (f"{w.server_peak / MiB:.0f} (+{(w.server_peak - w.server_base) / MiB:.0f})",
                   f"{w.workers_peak / MiB:.0f} (+{max(0, w.workers_peak - w.workers_base) / MiB:.0f})")
            print(f"| {attack.name} | {size} | {_fmt_status(statuses)} | {elapsed:.2f} | "
                  f"{w.worst_healthz * 1000:.0f} | {rss[0]} | {rss[1]} | {v} |", flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"# {failed} of the attacks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
