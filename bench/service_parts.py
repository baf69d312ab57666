"""Instructions a request (callgrind) of each part of the service's text route on a corpus program, and of each
line of its lowered function.

    python -m bench.service_parts --valgrind [--requests 64] [PROGRAM ...]

Per program (bench/programs/ numbers or names, `seed`), warmed as bench.service_instr warms it (its template
learned, its structure lowered), then per part a loop over `--requests` fresh bodies inside one operator.call
(callgrind's window, one dump a loop):

- `inline`: EvaluateService._inline of the body (the whole text route, as bench.service_instr's inline mode);
- `find`: Texts.find (the template's match and the leaf arrays);
- `lowered`: plans._call_lowered (the leaves converted, the lowered function);
- `writer`: the Writer's write of the lowered function's output;
- `glue`: inline less the three (the plan cache's get and touch, the budget, replay_json's frame, gc's pause);
- `line N`: each line of the lowered function alone (its statement run in a function over the other lines'
  values, less an empty statement's cost), to find the op that costs.

Outside valgrind it runs the same loops and prints their time (a check that they run, not a measurement)."""

from __future__ import annotations

import argparse
import operator
import os
import random
import sys
import time

from bench.service_instr import _bodies, _programs, _totals


def _parts(spec, requests, rng):
    from app.core.config import Settings  # noqa: PLC0415
    from app.services import engine as eng  # noqa: PLC0415
    from app.services.evaluate import EvaluateService  # noqa: PLC0415
    from bench.harness import warm_sightings  # noqa: PLC0415
    from engine.program.plans import _call_lowered  # noqa: PLC0415

    service = EvaluateService(Settings(), None)

    def inline(body):
        out = service._inline(body, time.monotonic() + 10.0, on_loop=True)
        if not isinstance(out, bytes):
            raise SystemExit(f"not answered on the loop: {out!r}"[:300])

    for b in _bodies(spec, max(6, warm_sightings()), rng):
        inline(b)
    bodies = _bodies(spec, requests, rng)
    found = [service._texts.find(b) for b in bodies]
    if any(f is None for f in found):
        raise SystemExit("a body the text route does not find")
    program = eng.PLANS.get(found[0][0])
    low = program.lowered
    leaves = [f[1] for f in found]
    outs = [_call_lowered(low, a) for a in leaves]
    parts = {
        "inline": (inline, bodies),
        "find": (service._texts.find, bodies),
        "lowered": (lambda a: _call_lowered(low, a), leaves),
        "writer": (lambda o: low.writer.write(*o), outs),
    }
    # each line of the lowered function: its statement over the values a run gives the names it reads
    g = low.fn.__globals__
    src = low.source.splitlines()
    args = src[0][len("def lowered("):-2].split(", ")
    import numpy as np  # noqa: PLC0415

    with np.errstate(all="ignore"):
        envs = []
        for a in leaves:
            env = dict(g)
            xs = [d.type(v) if low.scalar_leaves and type(v) is float and d is not np.dtype(np.float16)
                  else np.array(v, d) for v, d in zip(a, low.leaf_np)]
            env.update(zip(args, xs))
            for line in src[1:]:
                if line.strip().startswith("return"):
                    break
                exec(line.strip(), env)  # noqa: S102 - the lowered function's own source
            envs.append(env)
    for i, line in enumerate(src[1:], 1):
        stmt = line.split("#")[0].strip()
        if stmt.startswith("return"):
            break
        code = compile(stmt, f"<line {i}>", "exec")

        def run(env, code=code):
            exec(code, env)  # noqa: S102

        parts[f"line {i}: {line.strip()[:60]}"] = (run, envs)
    empty = compile("pass", "<empty>", "exec")
    parts["line 0: (empty statement)"] = (lambda env: exec(empty, env), envs)  # noqa: S102
    return parts


def _loop(one, items):
    for x in items:
        one(x)


def _measure(names, requests):
    rng = random.Random(0)
    rows = []
    for name, spec in _programs(names):
        for label, (fn, items) in _parts(spec, requests, rng).items():
            with __import__("numpy").errstate(all="ignore"):
                t0 = time.perf_counter()
                operator.call(_loop, fn, items)
            rows.append((name, label, (time.perf_counter() - t0) / requests * 1e6))
    return rows


def _under_valgrind(a):
    import glob  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    tmp = tempfile.mkdtemp(prefix="svc-parts-")
    prefix = os.path.join(tmp, "cg")
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=_operator_call",
           "--dump-after=_operator_call", f"--callgrind-out-file={prefix}.%p", sys.executable, "-m",
           "bench.service_parts", "--requests", str(a.requests), "--labels", *a.programs]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    labels = [tuple(line.split("\t")) for line in r.stdout.splitlines() if "\t" in line]
    counts = _totals(prefix)
    for f in glob.glob(prefix + ".*"):
        os.remove(f)
    os.rmdir(tmp)
    if len(counts) != len(labels):
        raise SystemExit(f"{len(counts)} dumps for {len(labels)} loops")
    print(f"| program | part | instructions a request ({a.requests} fresh bodies) |\n|---|---|---|")
    by = {}
    for (name, label), ir in zip(labels, counts, strict=True):
        by[(name, label)] = ir // a.requests
    for (name, label), ir in by.items():
        extra = ""
        if label.startswith("line ") and not label.startswith("line 0"):
            extra = f" (less the empty statement: {ir - by[(name, 'line 0: (empty statement)')]:,})"
        print(f"| {name} | {label} | {ir:,}{extra} |")
        if label == "writer":
            glue = by[(name, "inline")] - by[(name, "find")] - by[(name, "lowered")] - ir
            print(f"| {name} | glue (inline - find - lowered - writer) | {glue:,} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("programs", nargs="*", default=["seed", "05", "06", "37", "36"])
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--valgrind", action="store_true", help="run itself under callgrind and print the table")
    p.add_argument("--labels", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.valgrind:
        _under_valgrind(a)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    for name, label, us in _measure(a.programs, a.requests):
        print(f"{name}\t{label}" if a.labels else f"{name:>8} {label:<60} {us:8.2f} us")


if __name__ == "__main__":
    main()
