"""app.main of two trees side by side over HTTP: this checkout's and another's (a `git archive` of main, say),
each against the same bare app, in interleaved rounds of one run.

    python -m bench.service_trees BASE_DIR [--only 06,37] [--workers 1] [--rounds 4] [--seconds 3]

Per program: the bare FastAPI app (this tree's; its fixed reply the program's real response), app.main from
BASE_DIR and app.main from this tree (both as gradserve serve runs them: bench.serve --stack fast --guarded,
each from its own tree's directory, so each imports its own app/ and engine/; the interpreter and packages
are this one's), each under wrk (-t1, 16 connections, --seconds a run); rounds rotate through the servers. Per
server: req/s and its CPU time a request (/proc: user + system of the server's processes that run requests
(one worker: the server; two: the workers), over the run, divided by the requests answered). The table gives
the median of the rounds' app.main / bare ratios of req/s, and of CPU a request, for each tree."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import service_group as sg
from bench.workloads import SEED_SPEC


def _cpu(server) -> float:
    """CPU seconds of a server's uvicorn process and its children's (its workers, where there are several)."""
    pids = [server.proc.pid]
    try:
        with open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children") as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    total = 0.0
    for pid in pids:
        try:
            total += sg._cpu_seconds(pid)
        except OSError:
            pass
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="the other tree's directory (its app/ and engine/ are imported from there)")
    p.add_argument("--only", default="06,37")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args(argv)
    base = os.path.abspath(a.base)
    only = tuple(w for w in a.only.split(",") if w)
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-trees-"))
    progs = sg.programs(only)
    folder, bad = sg._replies(tmp, progs)
    if bad:
        raise SystemExit("; ".join(bad))
    env = {"BENCH_BARE_REPLIES": str(folder), "BENCH_BARE_REPLY": str(folder / f"{progs[0][0]}.json")}
    servers = [sg.Server("bare", "bench.bare_app:app", a.workers, env, stack="fast"),
               sg.Server("base", "app.main:app", a.workers, {}, stack="fast", cwd=base),
               sg.Server("this", "app.main:app", a.workers, {}, stack="fast")]
    lua = {n: sg.write_wrk_script(tmp / f"{n}.lua", spec, reply=n) for n, spec in progs}
    runs: dict = {}
    try:
        body = json.dumps(sg._filled(SEED_SPEC)).encode()
        for s in servers:
            why = s.wait_ready(body)
            if why:
                raise SystemExit(f"{s.label}: {why}")
        for n, _ in progs:
            for s in servers:
                sg._wrk(s.url + "/v1/evaluate", str(lua[n]), 16, 1)  # warm
        for r in range(a.rounds):
            order = servers[r % 3:] + servers[:r % 3]
            for n, _ in progs:
                for s in order:
                    c0 = _cpu(s)
                    got = sg._wrk(s.url + "/v1/evaluate", str(lua[n]), 16, a.seconds)
                    used = _cpu(s) - c0
                    if got["rps"] and not got["errors"]:
                        runs.setdefault((n, s.label), []).append(
                            (got["rps"], used / (got["rps"] * max(1, round(a.seconds))) * 1e6))
                    else:
                        runs.setdefault((n, s.label), []).append((0.0, 0.0))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"app.main of {base} (base) and of this tree, {a.workers} worker(s), httptools / uvloop, wrk -t1 -c16 "
          f"{a.seconds:g} s, {a.rounds} rounds; median [min-max] over the rounds")
    print("| program | bare req/s | base / bare req/s | this / bare req/s | base / bare CPU | this / bare CPU |\n"
          "|---|---|---|---|---|---|")
    for n, _ in progs:
        bare = runs[(n, "bare")]

        def cell(label, k, bare=bare, n=n):
            xs = [x[k] / b[k] for x, b in zip(runs[(n, label)], bare) if x[k] and b[k]]
            return f"{statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]" if xs else "-"

        print(f"| {n} | {statistics.median(b[0] for b in bare):.0f} | {cell('base', 0)} | {cell('this', 0)} | "
              f"{cell('base', 1)} | {cell('this', 1)} |")


if __name__ == "__main__":
    main()
