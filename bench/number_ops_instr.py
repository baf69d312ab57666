"""Instruction counts of elementwise ops with a Python number operand (parity17's paths), under callgrind: the
float32 / float64 calls must not get slower for float16's double rounding (one dtype test where the number's
type is already tested). Instrumentation on only around R rounds of the calls of one dtype.

    CG=1 PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/n.out \\
        .venv/bin/python -m bench.number_ops_instr float32 200 [INDEX]
    callgrind_annotate /tmp/n.out | head -3

Without CG=1 it runs the same calls uninstrumented (a check that the script runs)."""
from __future__ import annotations

import gc
import os
import subprocess
import sys


def _toggle(on: bool) -> None:
    if os.environ.get("CG") == "1":
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, stdout=subprocess.DEVNULL)


def calls(E, dtype):
    """The calls, on a 16-element tensor of `dtype`: the operator forms (the unrolled call), the functions
    (the op table's call and _promote), the Scalar forms and a wrapped number."""
    x = E.linspace(-2, 2, 16, dtype=getattr(E, dtype))
    m = x > 0
    F = E.nn.functional
    return [lambda: x + 0.7, lambda: x - 0.7, lambda: 0.7 - x, lambda: x * 0.7, lambda: x / 0.7,
            lambda: E.add(x, 0.7, alpha=2), lambda: x == 0.7, lambda: x < 0.7, lambda: E.remainder(x, 0.7),
            lambda: E.fmod(x, 0.7), lambda: E.where(m, x, 0.7), lambda: E.clamp_min(x, 0.7),
            lambda: F.hardtanh(x, -0.7, 0.7), lambda: F.threshold(x, 0.1, 0.7), lambda: E.pow(0.7, x),
            lambda: E.nan_to_num(x, nan=0.7), lambda: E.xlogy(x, 0.7), lambda: x + x]


def main(argv: list[str]) -> None:
    import engine as E  # noqa: PLC0415

    dtype, rounds = argv[0], int(argv[1])
    fs = calls(E, dtype)
    if len(argv) > 2:  # one call only: its index in calls()
        fs = [fs[int(argv[2])]]
    gc.disable()
    for f in fs * 2:  # warm
        f()
    _toggle(True)
    for _ in range(rounds):
        for f in fs:
            f()
    _toggle(False)


if __name__ == "__main__":
    main(sys.argv[1:])
