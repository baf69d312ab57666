"""What the access log and the metrics cost app.main over HTTP: app.main as deployed, without its access log,
and without both, against the bare app, one worker, on one uvicorn stack, in interleaved rounds.

    python -m bench.service_ab [--stack h11|fast] [--rounds 3] [--duration 3]

The servers and the load (wrk, the seed with fresh leaf values per request) are the service group's."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.service_group import Server, _wrk, write_wrk_script
from bench.workloads import SEED_SPEC


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--stack", choices=("h11", "fast"), default="h11")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=3)
    a = p.parse_args(argv)

    import orjson  # noqa: PLC0415

    import engine  # noqa: PLC0415

    tmp = Path(tempfile.mkdtemp(prefix="gradserve-ab-"))
    lua = write_wrk_script(tmp / "post.lua")
    (tmp / "reply.json").write_bytes(orjson.dumps(engine.evaluate(SEED_SPEC)))
    configs = [
        ("bare FastAPI (parse only)", "bench.bare_app:app", {"BENCH_BARE_REPLY": str(tmp / "reply.json")}),
        ("app.main", "app.main:app", {}),
        ("app.main, no access log", "app.main:app", {"GRADSERVE_ACCESS_LOG": "false"}),
        ("app.main, no access log, no metrics", "app.main:app",
         {"GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_METRICS": "false"}),
    ]
    servers = [Server(label, target, 1, env, stack=a.stack) for label, target, env in configs]
    body = json.dumps(SEED_SPEC).encode()
    try:
        for s in servers:
            err = s.wait_ready(body)
            if err is not None:
                raise SystemExit(f"{s.label}: {err}")
        rps = {s.label: [] for s in servers}
        for _ in range(a.rounds):
            for s in servers:
                rps[s.label].append(_wrk(s.url + "/v1/evaluate", str(lua), 16, a.duration)["rps"] or 0.0)
        median = {k: sorted(v)[len(v) // 2] for k, v in rps.items()}
        base = median[servers[0].label]
        print(f"| server ({a.stack}, 1 worker) | req/s | vs bare |\n|---|---|---|")
        for label, m in median.items():
            print(f"| {label} | {m:,.0f} | {m / base:.2f}× |")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
