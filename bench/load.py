"""Load test and soak for a gradserve server: `python -m bench.load [options]`.

1. find: open-loop (fixed arrival rate) steps, each `--step-seconds` long, from `--start-rate` up by
   `--factor`, until a step has an error, a p99 over `--p99-limit-ms`, or falls behind its rate; then the
   highest clean rate is held for `--hold-seconds` (60 by default) and must stay at 0 errors (else it
   backs off by 10% and tries again).
2. soak: `--soak-fraction` (0.8) of that rate for `--soak-seconds` (600), the server's RSS (its process
   and its compute workers) sampled every `--sample-every` seconds.

Errors are transport failures and every status >= 400 (503 over capacity and 504 timeouts included).
The server is started here (`python -m app.cli serve` on a free port; GRADSERVE_* from the environment)
unless `--url` names one (then pass `--pid` for RSS). `--rate R` skips the search. CI runs a short
version: `python -m bench.load --rate 50 --hold-seconds 0 --soak-seconds 20` (tests/app/test_load_short.py).
Prints one JSON document (and writes it to `--out`). Client and server share the machine's cores:
on a small machine the client's own CPU use caps the rates found.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

# The mix: mostly small programs (the service's common case), some medium ones with a backward pass.
BODIES = [
    {
        "leaves": {"a": {"data": 2.0, "requires_grad": True}, "b": {"data": 3.0}},
        "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}],
        "backward": [{"tensor": "c"}],
    },
    {
        "leaves": {
            "x": {"data": [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], "requires_grad": True},
            "w": {"data": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "requires_grad": True},
        },
        "ops": [
            {"name": "h", "op": "matmul", "args": ["x", "w"]},
            {"name": "p", "op": "softmax", "args": ["h", 1]},
            {"name": "l", "op": "sum", "args": ["p"]},
        ],
        "backward": [{"tensor": "l"}],
        "outputs": ["l"],
        "grads": ["x", "w"],
    },
    {
        "ops": [
            {"name": "a", "op": "randn", "args": [32, 32], "kwargs": {"requires_grad": True}},
            {"name": "b", "op": "tanh", "args": ["a"]},
            {"name": "c", "op": "matmul", "args": ["b", "b"]},
            {"name": "s", "op": "mean", "args": ["c"]},
        ],
        "seed": 1,
        "backward": [{"tensor": "s"}],
        "outputs": ["s"],
        "grads": ["a"],
    },
]
ENCODED = [json.dumps(b).encode() for b in BODIES]


def rss_bytes(pid: int) -> int:
    """RSS of pid and its direct children (the compute workers), from /proc; 0 where unreadable."""
    total = 0
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    pids.append(int(entry.name))
            except (OSError, ValueError):
                pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def _pct(sorted_lat: list[float], q: float) -> float | None:
    if not sorted_lat:
        return None
    return round(sorted_lat[min(len(sorted_lat) - 1, int(q * len(sorted_lat)))] * 1000, 3)


async def run_rate(
    url: str,
    rate: float,
    seconds: float,
    pid: int | None = None,
    sample_every: float = 5.0,
    max_outstanding: int = 512,
) -> dict:
    """Open loop: request i is sent at t0 + i/rate whatever the earlier ones do. Returns counts, latency
    percentiles (ms), the rate achieved, error kinds and RSS samples."""
    lat: list[float] = []
    errors: dict[str, int] = {}
    outstanding = 0
    sent = 0
    rss: list[tuple[float, int]] = []
    limits = httpx.Limits(max_connections=max_outstanding, max_keepalive_connections=max_outstanding)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(body: bytes) -> None:
            nonlocal outstanding
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    "/v1/evaluate", content=body, headers={"content-type": "application/json"}
                )
                if r.status_code >= 400:
                    key = f"http_{r.status_code}"
                    errors[key] = errors.get(key, 0) + 1
            except httpx.HTTPError as e:
                key = type(e).__name__
                errors[key] = errors.get(key, 0) + 1
            finally:
                lat.append(time.perf_counter() - t0)
                outstanding -= 1

        tasks = set()
        start = time.perf_counter()
        next_sample = start
        while True:
            now = time.perf_counter()
            if now - start >= seconds:
                break
            if pid is not None and now >= next_sample:
                rss.append((round(now - start, 1), rss_bytes(pid)))
                next_sample += sample_every
            due = int((now - start) * rate) + 1
            while sent < due:
                if outstanding >= max_outstanding:
                    errors["client_backlog"] = errors.get("client_backlog", 0) + 1  # the server fell behind
                else:
                    outstanding += 1
                    t = asyncio.create_task(one(ENCODED[sent % len(ENCODED)]))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(max(0.0, min(0.005, start + sent / rate - time.perf_counter())))
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        wall = time.perf_counter() - start
    if pid is not None:
        rss.append((round(time.perf_counter() - start, 1), rss_bytes(pid)))
    lat.sort()
    return {
        "target_rps": rate,
        "seconds": round(wall, 2),
        "sent": sent,
        "completed": len(lat),
        "achieved_rps": round(len(lat) / wall, 1) if wall else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": _pct(lat, 0.50),
        "p90_ms": _pct(lat, 0.90),
        "p99_ms": _pct(lat, 0.99),
        "max_ms": round(lat[-1] * 1000, 3) if lat else None,
        "rss_mib": [(t, round(b / (1 << 20), 1)) for t, b in rss],
    }


def _clean(res: dict, p99_limit_ms: float) -> bool:
    return (
        res["errors"] == 0
        and res["completed"] >= 0.95 * res["sent"]
        and res["achieved_rps"] >= 0.9 * res["target_rps"]
        and (res["p99_ms"] or 0) <= p99_limit_ms
    )


async def find_rate(url: str, a, pid: int | None, log) -> tuple[float, list[dict]]:
    steps, rate, best = [], a.start_rate, 0.0
    while rate <= a.max_rate:
        res = await run_rate(url, rate, a.step_seconds, pid, a.sample_every)
        steps.append(res)
        log(
            f"step {rate:.0f} rps: {res['errors']} errors, achieved {res['achieved_rps']}, "
            f"p99 {res['p99_ms']} ms"
        )
        if not _clean(res, a.p99_limit_ms):
            break
        best = rate
        rate *= a.factor
    return best, steps


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADSERVE_ACCESS_LOG": os.environ.get("GRADSERVE_ACCESS_LOG", "false")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become ready")


async def main_async(a) -> dict:
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if not a.quiet else (lambda m: None)
    proc = None
    if a.url:
        url, pid = a.url.rstrip("/"), a.pid
    else:
        proc, url = start_server(a.workers)
        pid = proc.pid
    out: dict = {"url": url, "server_workers": a.workers, "cores": os.cpu_count()}
    try:
        # warm up (worker pools, caches) before anything is measured
        await run_rate(url, 20, 2)
        out["rss_mib_start"] = round(rss_bytes(pid) / (1 << 20), 1) if pid else None
        if a.rate:
            rate = a.rate
        else:
            rate, steps = await find_rate(url, a, pid, log)
            out["find_steps"] = steps
            if rate <= 0:
                out["error"] = "no clean rate found"
                return out
        while a.hold_seconds > 0:
            hold = await run_rate(url, rate, a.hold_seconds, pid, a.sample_every)
            log(
                f"hold {rate:.0f} rps for {a.hold_seconds} s: {hold['errors']} errors, "
                f"p99 {hold['p99_ms']} ms"
            )
            out["hold"] = hold
            if hold["errors"] == 0 or rate < 2:
                break
            rate *= 0.9
        out["max_clean_rps"] = rate
        if a.soak_seconds > 0:
            soak_rate = rate * (a.soak_fraction if not a.rate or a.hold_seconds > 0 else 1.0)
            log(f"soak at {soak_rate:.0f} rps for {a.soak_seconds} s")
            out["soak"] = await run_rate(url, soak_rate, a.soak_seconds, pid, a.sample_every)
            log(f"soak: {out['soak']['errors']} errors, p99 {out['soak']['p99_ms']} ms")
        out["rss_mib_end"] = round(rss_bytes(pid) / (1 << 20), 1) if pid else None
        return out
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", help="an already running server (default: start one here)")
    p.add_argument("--pid", type=int, help="the --url server's pid, for RSS samples")
    p.add_argument("--workers", type=int, default=1, help="server processes when started here")
    p.add_argument("--rate", type=float, help="skip the search: hold/soak at this rate (rps)")
    p.add_argument("--start-rate", type=float, default=50)
    p.add_argument("--factor", type=float, default=1.5)
    p.add_argument("--max-rate", type=float, default=20000)
    p.add_argument("--step-seconds", type=float, default=10)
    p.add_argument("--p99-limit-ms", type=float, default=500)
    p.add_argument("--hold-seconds", type=float, default=60)
    p.add_argument("--soak-seconds", type=float, default=600)
    p.add_argument("--soak-fraction", type=float, default=0.8)
    p.add_argument("--sample-every", type=float, default=5)
    p.add_argument("--out", help="also write the JSON result here")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    res = asyncio.run(main_async(a))
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    soak_errors = res.get("soak", {}).get("errors", 0)
    hold_errors = res.get("hold", {}).get("errors", 0)
    return 1 if res.get("error") or soak_errors or hold_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
