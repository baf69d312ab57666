"""Where a request's time goes in a real server: CPU time a request of app.main cut short at each stage.

    python -m bench.service_stages [--only 06,37] [--rounds 4] [--seconds 3] [--stages parse,nowrite,full]

Per program: the bare FastAPI app (its fixed reply the program's real response, as the service group's), and
app.main (one worker, httptools / uvloop, as bench.serve runs it; not --guarded: the stubs are not app.main:app)
with its direct route's answer cut short (bench/service_stub.py: `parse`, `find`, `nowrite`, `full`, `double`),
each under wrk (-t1, 16 connections, --seconds a run); the server's user + system CPU seconds over the run
(/proc) divided by the requests it answered; rounds interleave the servers; the smallest and the median of the
rounds. The differences between stages are what each stage costs in the server, cold caches and the kernel
included, which instruction counts (bench.service_instr) do not show: svc9 found 06's engine path at ~2.3
instructions a ns in the server against ~8.8 in a hot loop."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import service_group as sg
from bench.workloads import SEED_SPEC

STAGES = ("parse", "find", "nowrite", "full", "double")


def measure(only, stages, rounds: int, seconds: float, connections: int = 16) -> dict:
    """{(program, server label): [CPU us a request, one a round]}."""
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-stages-"))
    progs = sg.programs(only)
    folder, bad = sg._replies(tmp, progs)
    if bad:
        raise SystemExit("; ".join(bad))
    out: dict = {}
    try:
        _measure(progs, folder, tmp, stages, rounds, seconds, connections, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _measure(progs, folder, tmp, stages, rounds, seconds, connections, out) -> None:
    for name, spec in progs:
        lua = sg.write_wrk_script(tmp / f"{name}.lua", spec, reply=name)
        env = {"BENCH_BARE_REPLIES": str(folder), "BENCH_BARE_REPLY": str(folder / f"{name}.json")}
        servers = [sg.Server("bare", "bench.bare_app:app", 1, env, stack="fast")]
        servers += [sg.Server(s, "bench.service_stub:app", 1, {**env, "BENCH_STUB": s}, stack="fast") for s in stages]
        try:
            body = json.dumps(sg._filled(SEED_SPEC)).encode()
            for s in servers:
                why = s.wait_ready(body)
                if why:
                    raise SystemExit(f"{s.label}: {why}")
                sg._wrk(s.url + "/v1/evaluate", str(lua), connections, 1)  # warm: the plan cache, the template
            for _ in range(rounds):
                for s in servers:
                    c0 = sg._cpu_seconds(s.proc.pid)
                    r = sg._wrk(s.url + "/v1/evaluate", str(lua), connections, seconds)
                    used = sg._cpu_seconds(s.proc.pid) - c0
                    if r["rps"] and not r["errors"]:
                        out.setdefault((name, s.label), []).append(used / (r["rps"] * max(1, round(seconds))) * 1e6)
        finally:
            for s in servers:
                s.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="06")
    p.add_argument("--stages", default="parse,nowrite,full,double")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args(argv)
    stages = [s for s in a.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; known: {', '.join(STAGES)}")
    only = tuple(w for w in a.only.split(",") if w)
    got = measure(only, stages, a.rounds, a.seconds)
    labels = ["bare", *stages]
    print("server CPU us a request, smallest / median of the rounds (wrk -t1 -c16, one worker, httptools / uvloop)")
    print("| program | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
    for name, _ in sg.programs(only):
        cells = []
        for label in labels:
            xs = got.get((name, label))
            cells.append(f"{min(xs):.0f} / {statistics.median(xs):.0f}" if xs else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
