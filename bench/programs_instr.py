"""Instruction counts of one corpus program (bench/programs/) under callgrind: engine.evaluate of its parsed
document with no cache (the full path) or with a primed PlanCache (its lowered replay where it lowers), the cyclic
collector off, warm-up calls first, instrumentation on only around R calls, so that Ir / R is the per-call count.

    CG=1 PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.programs_instr 29 uncached 20
    callgrind_annotate /tmp/x.out | head

Without CG=1 it runs the same calls untimed and prints the per-call process time (a check that the script runs).
Any tree's engine can be measured by running this file with that tree first on PYTHONPATH (lower3 compared its
tree with the one before it so)."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time


def _toggle(on: bool) -> None:
    if os.environ.get("CG") == "1":
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> None:
    import orjson  # noqa: PLC0415

    import engine  # noqa: PLC0415
    from bench.programs import load  # noqa: PLC0415

    number, column, rounds = argv[0], argv[1], int(argv[2])
    [(name, doc)] = load((number,))
    body = orjson.dumps(doc)
    cache = engine.PlanCache() if column == "cached" else None
    for _ in range(8):  # (primed: recorded, then replayed until lowered where it lowers)
        engine.evaluate(orjson.loads(body), cache=cache)
    gc.disable()
    t0 = time.process_time()
    _toggle(True)
    for _ in range(rounds):
        engine.evaluate(orjson.loads(body), cache=cache)
    _toggle(False)
    print(f"{name} {column}: {(time.process_time() - t0) / rounds * 1e6:.1f} us a call (process time)")


if __name__ == "__main__":
    main(sys.argv[1:])
