"""The service's per-request cost without HTTP: each app called as ASGI in a loop, in one process.

    python -m bench.inprocess [--rounds 9] [--requests 1500]

POST /v1/evaluate with the seed example, its five leaf values drawn afresh per body (64 bodies in turn),
against: the bare FastAPI app (parse only), the reference (bench/bare_app.py's engine mode), app.main as
deployed, without its access log, and without access log and metrics. Rounds interleave the apps; the
figure is each app's fastest round, in µs a request (the machine's noise only ever adds). The access log
goes to /dev/null. No server, socket or load generator: what a request costs the app itself, which the
server's own work (uvicorn, the kernel) then roughly doubles (docs/PERFORMANCE.md, fifth session)."""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib
import json
import os
import sys
import time

import numpy as np

from bench.harness import warm_sightings
from bench.workloads import SEED_SPEC


def _bodies(n=64, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = copy.deepcopy(SEED_SPEC)
        for leaf in d["leaves"].values():
            leaf["data"] = round(float(rng.uniform(1, 9)), 3)
        out.append(json.dumps(d).encode())
    return out


def _scope(body, path="/v1/evaluate"):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                                         (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}


async def _request(app, body, path="/v1/evaluate"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(_scope(body, path), receive, send)
    return sent


async def _lifespan(app):
    """Runs the app's startup (its lifespan: the evaluator, the GC settings) and leaves it running."""
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    asyncio.get_running_loop().create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get,
                                               outbox.put))
    message = await outbox.get()
    if message["type"] != "lifespan.startup.complete":
        raise SystemExit(f"startup failed: {message}")


def _apps():
    from bench import bare_app  # noqa: PLC0415

    os.environ["BENCH_BARE_MODE"] = "parse"
    apps = {"bare FastAPI (parse only)": importlib.reload(bare_app).app}
    os.environ["BENCH_BARE_MODE"] = "engine"
    apps["reference: bare + engine.evaluate_json"] = importlib.reload(bare_app).app
    from app.core.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415

    apps["app.main"] = create_app(Settings())
    apps["app.main, no access log"] = create_app(Settings(access_log=False))
    apps["app.main, no access log, no metrics"] = create_app(Settings(access_log=False, metrics=False))
    return apps


async def _main(rounds, n):
    bodies = _bodies()
    apps = _apps()
    for app in apps.values():
        await _lifespan(app)
        for i in range(max(len(bodies), warm_sightings())):  # warm: the plan cache records, then lowers, the program
            sent = await _request(app, bodies[i % len(bodies)])
            assert sent[0]["status"] == 200, sent
    best = dict.fromkeys(apps, float("inf"))
    for _ in range(rounds):
        for name, app in apps.items():
            t0 = time.perf_counter()
            for i in range(n):
                await _request(app, bodies[i % len(bodies)])
            best[name] = min(best[name], (time.perf_counter() - t0) / n * 1e6)
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--requests", type=int, default=1500)
    a = p.parse_args(argv)
    stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the access log's lines
    try:
        best = asyncio.run(_main(a.rounds, a.requests))
    finally:
        os.dup2(stderr, 2)
    print(f"| app (in-process, {a.rounds} rounds of {a.requests}) | µs a request |\n|---|---|")
    for name, us in best.items():
        print(f"| {name} | {us:.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
