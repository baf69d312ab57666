"""POST /v1/evaluate/batch without HTTP: app.main called as ASGI in one process, the seed batch of 1,000
documents (four bodies, other values in each, in turn), to see where a batch's server CPU goes.

    python -m bench.batch_inprocess [--rounds 15] [--batches 8] [--profile out.prof]

The figures are ms of this process's CPU a batch, and of wall time (the fastest round and the median of the
rounds): the route, the
scan, the vectorized run and the writer, the answer's join; not the HTTP server's read and write of the bodies
(~0.9 ms a batch, docs/runs/batchtext.md). --profile writes a cProfile of the timed rounds."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time

from bench.batch_group import seed_docs
from bench.inprocess import _lifespan
from bench.inprocess import _request as _request_at


def _request(app, body):
    return _request_at(app, body, "/v1/evaluate/batch")


async def _main(rounds, batches, profile):
    from app.core.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415

    app = create_app(Settings(access_log=False))
    await _lifespan(app)
    bodies = [json.dumps({"requests": seed_docs(random.Random(100 + b))}).encode() for b in range(4)]
    for body in bodies * 2:  # warm: the first batch's documents record, then lower, the seed's program; the templates
        sent = await _request(app, body)
        assert sent[0]["status"] == 200, sent
    prof = None
    if profile:
        import cProfile  # noqa: PLC0415

        prof = cProfile.Profile()
    times, walls = [], []
    for _ in range(rounds):
        if prof is not None:
            prof.enable()
        t0, w0 = time.process_time(), time.perf_counter()
        for i in range(batches):
            await _request(app, bodies[i % len(bodies)])
        times.append((time.process_time() - t0) / batches * 1e3)
        walls.append((time.perf_counter() - w0) / batches * 1e3)
        if prof is not None:
            prof.disable()
    if prof is not None:
        prof.dump_stats(profile)
    return times, walls


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--profile", default=None)
    a = p.parse_args(argv)
    stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        times, walls = asyncio.run(_main(a.rounds, a.batches, a.profile))
    finally:
        os.dup2(stderr, 2)
    print(f"seed batch of 1,000, in-process: {min(times):.2f} ms CPU a batch (min of {a.rounds} rounds), "
          f"median {statistics.median(times):.2f}; wall {min(walls):.2f} ms a batch (min), median "
          f"{statistics.median(walls):.2f} (this process's CPU only: a compute worker's part of a batch, "
          f"app/services/batch_part.py, is in the wall, not in the CPU)")


if __name__ == "__main__":
    main()
