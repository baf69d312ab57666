"""Instructions a request (callgrind: stable under load) of the service's handling of a corpus program's body.

    python -m bench.service_instr [--mode inline|asgi|server] [--requests 128] [PROGRAM ...]

Per program (numbers or names of bench/programs/, `seed` for the seed; the service group's six by default):
its document as the service group's load sends it (the first float of each leaf a fresh "%.3f" of 1 + 9 *
uniform per body), warmed by warm_sightings() bodies (so the plan cache has lowered it and the text route holds
its template), then `--requests` fresh bodies handled inside one operator.call (a C function nothing else here
calls), which is what callgrind collects (--toggle-collect=_operator_call) and dumps (--dump-after=
_operator_call): one dump a loop.

- `inline`: EvaluateService(Settings(), None)._inline on the loop (the service's whole handling of a body,
  without HTTP, the front door or the response object).
- `asgi`: the request through app.main as ASGI (front door, access log to /dev/null, metrics, the response),
  and the bare FastAPI app (parse only, bench/bare_app.py) on the same body: the difference is app.main's
  extra per request, less uvicorn's own work (the same for both).

- `server`: a whole real server (bench.serve, one worker, httptools / uvloop; app.main with --guarded, as
  `gradserve serve` runs it) under callgrind, against the bare app's (its fixed reply the program's real
  response, as the service group's): uvicorn, the protocol, the event loop and the kernel interface included
  (the kernel's own work is not: callgrind counts user-space instructions). Instrumentation off until the
  program is warm (warm_sightings() + 20 bodies over one keep-alive connection, the one the window uses), then
  `callgrind_control --instr=on`, `--requests` fresh bodies one after another, `callgrind_control --dump`,
  `--instr=off`. With `--cache-sim` callgrind also simulates the caches and branch predictor: I1/D1/LL misses
  and mispredicted branches a request, and an estimate of cycles (Ir + 10 an L1 miss + 100 an LL miss + 15
  a mispredicted branch: rough weights, for comparing two servers, not a clock). Always under valgrind.

Under valgrind (what it is for), with the table printed from the dumps:

    python -m bench.service_instr --valgrind [--mode ...] [PROGRAM ...]
    python -m bench.service_instr --mode server [--cache-sim] [--requests 100] [PROGRAM ...]

Outside valgrind it runs the same loops and prints their time (a check that they run, not a measurement)."""

from __future__ import annotations

import argparse
import asyncio
import glob
import operator
import os
import random
import re
import subprocess
import sys
import tempfile
import time

DEFAULT = ("seed", "02", "05", "06", "11", "37")


def _programs(names):
    from bench.programs import load  # noqa: PLC0415
    from bench.workloads import SEED_SPEC  # noqa: PLC0415

    out = []
    for n in names:
        if n == "seed":
            out.append(("seed", SEED_SPEC))
        else:
            found = load((n,))
            if not found:
                raise SystemExit(f"no program {n!r} in bench/programs/")
            out.extend(found)
    return out


def _bodies(spec, n, rng):
    from bench.service_group import _template  # noqa: PLC0415

    template, holes = _template(spec)
    return [(template % tuple("%.3f" % (1 + 9 * rng.random()) for _ in range(holes))).encode()
            for _ in range(n)]


def _inline_runner():
    from app.core.config import Settings  # noqa: PLC0415
    from app.services.evaluate import EvaluateService  # noqa: PLC0415

    service = EvaluateService(Settings(), None)

    def one(body):
        out = service._inline(body, time.monotonic() + 10.0, on_loop=True)
        if not isinstance(out, bytes):
            raise SystemExit(f"not answered on the loop: {out!r}"[:300])
        return out

    return {"inline": one}


def _asgi_runners():
    from bench import bare_app  # noqa: PLC0415
    from bench.inprocess import _lifespan, _request  # noqa: PLC0415

    os.environ["BENCH_BARE_MODE"] = "parse"
    import importlib  # noqa: PLC0415

    bare = importlib.reload(bare_app).app
    from app.core.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415

    main = create_app(Settings())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for a in (bare, main):
        loop.run_until_complete(_lifespan(a))

    def runner(app):
        def one(body):
            sent = loop.run_until_complete(_request(app, body))
            if sent[0]["status"] != 200:
                raise SystemExit(f"status {sent[0]['status']}: {sent[-1].get('body', b'')[:300]!r}")
            return sent

        return one

    return {"bare": runner(bare), "app.main": runner(main)}


def _measure(names, mode, requests):
    from bench.harness import warm_sightings  # noqa: PLC0415

    rng = random.Random(0)
    runners = _inline_runner() if mode == "inline" else _asgi_runners()
    rows = []
    for name, spec in _programs(names):
        for label, one in runners.items():
            warm = _bodies(spec, max(6, warm_sightings()), rng)
            timed = _bodies(spec, requests, rng)
            for b in warm:
                one(b)
            t0 = time.perf_counter()
            operator.call(_loop, one, timed)  # callgrind's window: one dump
            rows.append((name, label, (time.perf_counter() - t0) / requests * 1e6))
    return rows


def _loop(one, bodies):
    for b in bodies:
        one(b)


def _totals(prefix):
    """Ir of each dump (prefix.PID.N; not the empty final file prefix.PID), in dump order."""
    out = []
    paths = [p for p in glob.glob(prefix + ".*") if re.search(r"\.\d+\.\d+$", p)]
    for path in sorted(paths, key=lambda p: [int(x) for x in p.rsplit(".", 2)[1:]]):
        with open(path) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    out.append(int(line.split()[1]))
                    break
    return out


def _under_valgrind(a):
    tmp = tempfile.mkdtemp(prefix="svc-instr-")
    prefix = os.path.join(tmp, "cg")
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_operator_call",
           "--dump-after=_operator_call", f"--callgrind-out-file={prefix}.%p", sys.executable, "-m",
           "bench.service_instr", "--mode", a.mode, "--requests", str(a.requests), "--labels", *a.programs]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    labels = [tuple(line.split("\t")) for line in r.stdout.splitlines() if "\t" in line]
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    counts = _totals(prefix)
    if a.keep:  # for callgrind_annotate
        print(f"dumps kept in {tmp}")
    else:
        for f in glob.glob(prefix + ".*"):
            os.remove(f)
        os.rmdir(tmp)
    if len(counts) != len(labels):
        raise SystemExit(f"{len(counts)} dumps for {len(labels)} loops")
    print(f"| program | {a.mode} | instructions a request ({a.requests} fresh bodies) |\n|---|---|---|")
    for (name, label), ir in zip(labels, counts, strict=True):
        print(f"| {name} | {label} | {ir // a.requests:,} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("programs", nargs="*", default=list(DEFAULT))
    p.add_argument("--mode", choices=("inline", "asgi", "server"), default="inline")
    p.add_argument("--requests", type=int, default=128)
    p.add_argument("--valgrind", action="store_true", help="run itself under callgrind and print the table")
    p.add_argument("--keep", action="store_true", help="keep the dumps (printed: their folder)")
    p.add_argument("--cache-sim", action="store_true", help="--mode server: also caches and branches")
    p.add_argument("--labels", action="store_true", help=argparse.SUPPRESS)  # the child's output under valgrind
    a = p.parse_args(argv)
    if a.mode == "server":
        from bench.service_server import server_table  # noqa: PLC0415

        server_table(a.programs, a.requests, a.cache_sim, a.keep)
        return
    if a.valgrind:
        _under_valgrind(a)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the access log's lines
    for name, label, us in _measure(a.programs, a.mode, a.requests):
        print(f"{name}\t{label}" if a.labels else f"{name:>24} {label:>9} {us:8.1f} us")


if __name__ == "__main__":
    main()
