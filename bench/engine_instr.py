"""Instruction counts of one engine workload's engine column (bench/workloads.py) under callgrind: the cyclic
collector off, warm-up calls first, instrumentation on only around R calls, so that Ir / R is the per-call count.

    CG=1 PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.engine_instr mlp 20
    callgrind_annotate /tmp/x.out | head

Without CG=1 it runs the same calls untimed and prints the per-call process time (a check that the script runs).
Any tree's engine can be measured by running this file with that tree first on PYTHONPATH."""
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


def _stub_references() -> None:
    """torch and HIPS autograd stood in for by empty modules: only the engine column is called, and importing
    torch under valgrind costs minutes."""
    import types  # noqa: PLC0415

    ag = types.ModuleType("autograd")
    ag.grad = lambda f: f
    ag.numpy = types.ModuleType("autograd.numpy")
    sys.modules.update({"torch": types.ModuleType("torch"), "autograd": ag, "autograd.numpy": ag.numpy})


def main(argv: list[str]) -> None:
    _stub_references()
    from bench.workloads import WORKLOADS  # noqa: PLC0415

    key, rounds = argv[0], int(argv[1])
    build = next(b for k, _label, b, _floor in WORKLOADS if k == key)
    fns, _desc = build()
    call = fns["engine"]
    for _ in range(5):
        call()
    gc.collect()
    gc.disable()
    t0 = time.process_time_ns()
    _toggle(True)
    for _ in range(rounds):
        call()
    _toggle(False)
    if os.environ.get("CG") != "1":
        print(f"{key}: {(time.process_time_ns() - t0) / rounds / 1e3:.1f} us a call (process time)")


if __name__ == "__main__":
    main(sys.argv[1:])
