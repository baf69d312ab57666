"""Instruction counts of backward passes through `x * number` and `x / number` (parity19's float16 route: the
generated array backward sends a number beside a float16 gradient to the Tensor formulas; float32 / float64 must
not pay for it beyond one identity test), under callgrind, instrumentation on only around R rounds.

    CG=1 PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/g.out \\
        .venv/bin/python -m bench.number_grads_instr float32 100
    callgrind_annotate /tmp/g.out | head -3

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


def main(argv: list[str]) -> None:
    import engine as E  # noqa: PLC0415

    dtype, rounds = argv[0], int(argv[1])
    x = E.linspace(-2, 2, 16, dtype=getattr(E, dtype)).requires_grad_()

    def call():
        y = (x * 0.7) / 1.3 * 3
        y.sum().backward()
        x.grad = None

    for _ in range(20):  # warm: generated backwards, caches
        call()
    gc.collect()
    gc.disable()
    _toggle(True)
    for _ in range(rounds):
        call()
    _toggle(False)
    gc.enable()


if __name__ == "__main__":
    main(sys.argv[1:])
