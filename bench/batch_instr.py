"""Instructions of a seed batch of 1,000 documents (POST /v1/evaluate/batch) in the server, by stage (callgrind:
stable under load, where wall-clock figures are not).

    python -m bench.batch_instr --valgrind [--batches 4] [--levels whole,route,run,writer]

app.main as ASGI in this process (bench.inprocess: its front door, route, memory accounting and response; no
uvicorn, no socket), `compute_workers=0`: the whole batch in this process, none of it lent to a worker (the
worker's part runs the same scan, run and writer: app/services/batch_part.py). Warmed with eight batches (the
program recorded and lowered, the template known), then `--batches` batches of the bench batch group's seed
bodies (other values in each), measured at one level at a time:

- `whole`: all of each batch's request, every thread (the run is in a thread of the service): two runs under
  callgrind, of 2 and of 2 + `--batches` batches, the difference;
- `route`: the stages the route calls, each call inside its own operator.call (a C function nothing else here
  calls), which is what callgrind collects (--toggle-collect=_operator_call, in the calling thread) and dumps
  (--dump-after=_operator_call): the body's scan (batch_text.scan:
  structure check, holes, lax check), the leaf columns (Template.columns), the vectorized run with its writer and
  its one-document check (engine.program.batch.run), the answer's join (Answers.join); the rest of `whole` is the
  route's loop, the front door, the budgets and the response;
- `run`: inside the run, the fast writer (FastWriter.write_all) and the lowered function (its call over the columns
  and the one-document check's);
- `writer`: inside the writer, the numbers' texts (batch_write._texts), the reprs (_fixed_texts); and the check
  (Program._run_lowered: one document alone, as the per-document path answers it).

A level's wrapped calls never nest (callgrind's toggle would turn collection off at the inner one). Printed: per
stage, instructions a batch and a document. Outside valgrind it runs the same loops (a check that they run)."""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import random
import subprocess
import sys
import tempfile

from bench.batch_group import seed_docs

LEVELS = ("whole", "route", "run", "writer")


def _targets(level: str) -> list:
    """(label, owner, attribute name) of the functions wrapped at a level."""
    from app.services.batch_memory import Answers  # noqa: PLC0415
    from engine.program import batch, batch_text, batch_write  # noqa: PLC0415
    from engine.program.batch_text import Template  # noqa: PLC0415
    from engine.program.plans import Program  # noqa: PLC0415

    return {
        "whole": [],
        "route": [("scan", batch_text, "scan"), ("columns", Template, "columns"), ("run", batch, "run"),
                  ("join", Answers, "join")],
        "run": [("write_all", batch_write.FastWriter, "write_all"), ("lowered fn", batch, "_lowered_call")],
        "writer": [("numbers' texts", batch_write, "_texts"), ("reprs", batch_write, "_fixed_texts"),
                   ("one-document check", Program, "_run_lowered")],
    }[level]


def _wrap(label: str, owner, name: str, labels: list) -> None:
    fn = getattr(owner, name)

    def wrapped(*args, **kwargs):
        labels.append(label)
        return operator.call(fn, *args, **kwargs)

    setattr(owner, name, wrapped)


def _measure(level: str, batches: int) -> list:
    """The labels of the dumps, in order (under valgrind: one dump each)."""
    from app.core.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415
    from bench.inprocess import _lifespan, _request  # noqa: PLC0415

    app = create_app(Settings(compute_workers=0, access_log=False))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(_lifespan(app))
    bodies = [json.dumps({"requests": seed_docs(random.Random(100 + b))}).encode() for b in range(4)]

    def one(body):
        sent = loop.run_until_complete(_request(app, body, "/v1/evaluate/batch"))
        if sent[0]["status"] != 200:
            raise SystemExit(f"status {sent[0]['status']}: {sent[-1].get('body', b'')[:300]!r}")

    for k in range(8):
        one(bodies[k % 4])
    labels: list = []
    if level != "whole":
        for label, owner, name in _targets(level):
            if level == "run" and name == "_lowered_call":
                _wrap_lowered(labels)
            else:
                _wrap(label, owner, name, labels)
    for k in range(batches):
        if level == "whole":
            labels.append("batch")
            operator.call(one, bodies[k % 4])
        else:
            one(bodies[k % 4])
    return labels


def _wrap_lowered(labels: list) -> None:
    """The lowered function's call over the columns: engine.program.batch calls `low.fn` (a program's own
    function), so its Lowered objects' fn are wrapped as they are met (a closure over the original)."""
    from engine.program import batch  # noqa: PLC0415

    run = batch._run

    def patched(program, low, arrays_list, n):
        fn = low.fn
        if not getattr(fn, "_instr", False):
            def timed(*args, **kwargs):
                labels.append("lowered fn")
                return operator.call(fn, *args, **kwargs)

            timed._instr = True
            low.fn = timed
        return run(program, low, arrays_list, n)

    batch._run = patched


def _totals(prefix: str) -> list:
    from bench.service_instr import _totals as totals  # noqa: PLC0415

    return totals(prefix)


def _valgrind(level: str, batches: int, tmp: str, toggled: bool) -> tuple[list, list]:
    """(labels, the Ir of each dump) of one run of this module under callgrind."""
    prefix = os.path.join(tmp, f"cg-{level}-{batches}")
    opts = ["--collect-atstart=no", "--toggle-collect=_operator_call", "--dump-after=_operator_call"] if toggled \
        else []
    cmd = ["valgrind", "--tool=callgrind", *opts, f"--callgrind-out-file={prefix}.%p", sys.executable, "-m",
           "bench.batch_instr", "--level", level, "--batches", str(batches), "--labels"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    labels = [line for line in r.stdout.splitlines() if line]
    if toggled:
        return labels, _totals(prefix)
    counts = []
    for name in os.listdir(tmp):  # one file: the whole run's
        if name.startswith(os.path.basename(prefix) + "."):
            with open(os.path.join(tmp, name)) as f:
                counts += [int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:"))][:1]
    return labels, counts


def _under_valgrind(a) -> None:
    rows = []
    tmp = tempfile.mkdtemp(prefix="batch-instr-")
    try:
        for level in a.levels.split(","):
            if level == "whole":  # every thread's instructions (the run is in a thread of the service, where
                # a toggle in this thread would not collect): two runs, the difference a.batches batches
                few = _valgrind(level, 2, tmp, False)[1]
                many = _valgrind(level, 2 + a.batches, tmp, False)[1]
                rows.append((level, "batch (all threads)", 1, (many[0] - few[0]) / a.batches))
                continue
            labels, counts = _valgrind(level, a.batches, tmp, True)
            if len(counts) != len(labels):
                raise SystemExit(f"{level}: {len(counts)} dumps for {len(labels)} calls")
            sums: dict = {}
            for label, ir in zip(labels, counts, strict=True):
                sums[label] = sums.get(label, 0) + ir
            for label, ir in sums.items():
                rows.append((level, label, labels.count(label) / a.batches, ir / a.batches))
    finally:
        for f in os.listdir(tmp):
            os.remove(os.path.join(tmp, f))
        os.rmdir(tmp)
    print("| level | stage | calls a batch | instructions a batch | a document |\n|---|---|---|---|---|")
    for level, label, calls, ir in rows:
        print(f"| {level} | {label} | {calls:g} | {ir / 1e6:.2f} M | {ir / 1000:,.0f} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--levels", default=",".join(LEVELS))
    p.add_argument("--level", choices=LEVELS, default="whole")
    p.add_argument("--valgrind", action="store_true", help="run itself under callgrind, a level at a time")
    p.add_argument("--labels", action="store_true", help=argparse.SUPPRESS)  # the child's output under valgrind
    a = p.parse_args(argv)
    if a.valgrind:
        _under_valgrind(a)
        return
    labels = _measure(a.level, a.batches)
    if a.labels:
        print("\n".join(labels))
    else:
        print(f"{a.level}: {len(labels)} wrapped calls over {a.batches} batches (not measured: run with --valgrind)")


if __name__ == "__main__":
    main()
