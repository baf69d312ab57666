"""A load run (bench/load.py's open-loop generator, 40 requests a second) against a real server: zero errors,
every request answered, no runaway memory growth. `make test` runs it for 10 seconds (RSS sampled every 2.5 s);
`make test-full` (GRADSERVE_TEST_FULL=1) for 20 seconds (every 5 s). The long soak is `make load`."""
from __future__ import annotations

import asyncio
import os

from bench.load import run_rate

from .conftest import Server

FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"
RATE, SECONDS = 40, (20 if FULL else 10)


def test_load_zero_errors():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    try:
        res = asyncio.run(run_rate(s.url, rate=RATE, seconds=SECONDS, pid=s.proc.pid, sample_every=SECONDS / 4))
    finally:
        s.stop()
    print(res)
    assert res["errors"] == 0, res
    assert res["completed"] == res["sent"] >= 0.9 * RATE * SECONDS, res
    assert res["p99_ms"] is not None
    rss = [m for _, m in res["rss_mib"]]
    assert max(rss) < 2 * rss[0] + 100, rss  # no runaway growth during the run
