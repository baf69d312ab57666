"""Fallback load generator where wrk is not installed: `python -m bench.loadgen URL BODYFILE CONNS SECONDS`
prints {"rps", "p50", "p99", "errors", "requests"} as JSON. Runs in its own process (own core). A body
holding %s placeholders is a template: each request fills them with fresh floats (as the wrk script does)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time


async def _main(url, body, conns, seconds):
    import httpx  # noqa: PLC0415

    lat, errors = [], 0
    holes = body.count(b"%s")
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def worker():
            nonlocal errors
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                content = body % tuple(f"{1 + 9 * random.random():.3f}".encode() for _ in range(holes)) \
                    if holes else body
                try:
                    r = await client.post(url, content=content, headers={"content-type": "application/json"})
                    if r.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                lat.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        wall = time.perf_counter() - t0
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None  # noqa: E731
    return {
        "rps": len(lat) / wall,
        "p50": pick(0.50),
        "p99": pick(0.99),
        "errors": errors,
        "requests": len(lat),
    }


if __name__ == "__main__":
    url, path, conns, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(path, "rb") as f:
        body = f.read()
    print(json.dumps(asyncio.run(_main(url, body, conns, seconds))))
