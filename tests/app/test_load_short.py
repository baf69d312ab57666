"""A 20-second load run (bench/load.py's open-loop generator) against a real server: zero errors."""
from __future__ import annotations

import asyncio

from bench.load import run_rate

from .conftest import Server


def test_load_20_seconds_zero_errors():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    try:
        res = asyncio.run(run_rate(s.url, rate=40, seconds=20, pid=s.proc.pid, sample_every=5))
    finally:
        s.stop()
    print(res)
    assert res["errors"] == 0, res
    assert res["completed"] == res["sent"] >= 0.9 * 40 * 20, res
    assert res["p99_ms"] is not None
    rss = [m for _, m in res["rss_mib"]]
    assert max(rss) < 2 * rss[0] + 100, rss  # no runaway growth during the run
