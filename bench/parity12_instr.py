"""Instruction counts of single library calls that parity12 changed (callgrind; stable under load), the cyclic
collector off and instrumentation on only around R calls, so that Ir / R is the per-call count.

    CG=1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.parity12_instr "t == 0.5" 200
    callgrind_annotate /tmp/x.out | grep "PROGRAM TOTALS"

ENGINE=<dir> puts that checkout's engine first on sys.path (to count main's with this script)."""
from __future__ import annotations

import gc
import os
import sys

if os.environ.get("ENGINE"):
    sys.path.insert(0, os.environ["ENGINE"])

import numpy as np  # noqa: E402

import engine  # noqa: E402
from bench.perop_instr import _toggle  # noqa: E402

t = engine.tensor([0.5, 1.5, 2.5])
i = engine.tensor([1, 2, 3])
h = engine.tensor(np.ones(3, dtype=np.float16))
CASES = {
    "t + 1": lambda: t + 1, "t - 1": lambda: t - 1, "t * 2.5": lambda: t * 2.5, "t / 2": lambda: t / 2,
    "i * 3": lambda: i * 3, "t + t": lambda: t + t, "t == 0.5": lambda: t == 0.5, "t ** 2": lambda: t ** 2,
    "t ** 2.7": lambda: t ** 2.7, "t.lerp(t, 0.3)": lambda: t.lerp(t, 0.3), "t % 2.0": lambda: t % 2.0,
    "t // 2": lambda: t // 2, "i % 2": lambda: i % 2, "h * 2.7": lambda: h * 2.7,
    "t[0] = 1.5": lambda: t.__setitem__(0, 1.5),
}


def main(name, reps):
    f = CASES[name]
    for _ in range(20):
        f()
    gc.disable()
    _toggle(True)
    for _ in range(reps):
        f()
    _toggle(False)
    gc.enable()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
