"""Instruction counts of the per-op group's calls under callgrind (docs/runs/perop4.md's method): the cyclic
collector off, instrumentation on only around R calls of one mode, so that Ir / R is the per-call count.

    CG=1 PYTHONHASHSEED=0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/x.out \\
        .venv/bin/python -m bench.perop_instr evaluate 1000 3
    callgrind_annotate /tmp/x.out | head

MODE: `evaluate` (engine.evaluate of bench.perop_group.chain_document(N)), `library` (the group's library
closure), `forward` (the library's forward alone, under a budget as evaluate's ops run), `phase:<step>` (one of
evaluate's steps alone, `leaves`, `ops`, `backward` or `respond`, instrumented inside each of the R calls), `sum`
(engine.ops._torch_sum.vector_sum of a 16-element float32 array, N calls a round). Without CG=1 it runs the same
calls untimed and prints nothing (a check that the script runs)."""
from __future__ import annotations

import gc
import os
import subprocess
import sys


def _toggle(on: bool) -> None:
    if os.environ.get("CG") == "1":
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                       check=True, stdout=subprocess.DEVNULL)


def _phases(doc, phase):
    """evaluate's steps written out (engine.program.evaluate._evaluate, uncached), instrumentation on around one
    of them only: `leaves`, `ops`, `backward` or `respond`."""
    from engine.budget import _local  # noqa: PLC0415
    from engine.program import functions  # noqa: PLC0415
    from engine.program.limits import DEFAULT_LIMITS  # noqa: PLC0415
    from engine.program.respond import respond  # noqa: PLC0415
    from engine.program.run import Evaluating, Run, build_leaves, run_backward_section, run_ops  # noqa: PLC0415

    steps = {"leaves": lambda r, c: (build_leaves(r, doc), functions.build(r, doc, c)),
             "ops": lambda r, c: run_ops(r, doc, c), "backward": lambda r, c: run_backward_section(r, doc, c),
             "respond": lambda r, c: respond(r, doc, c)}
    if phase not in steps:
        raise SystemExit(f"unknown phase {phase!r}")

    def call():
        b = DEFAULT_LIMITS.budget()
        prev, _local.budget = _local.budget, b
        try:
            run = Run(doc, DEFAULT_LIMITS)
            with Evaluating(doc) as caught:
                for k, f in steps.items():
                    if k == phase and _measuring[0]:
                        _toggle(True)
                        f(run, caught)
                        _toggle(False)
                    else:
                        f(run, caught)
        finally:
            _local.budget = prev
            b.close()

    return call


_measuring = [False]  # phase mode: instrumentation is toggled inside the call


def main(argv: list[str]) -> None:
    import numpy as np  # noqa: PLC0415

    import engine as E  # noqa: PLC0415
    from bench.perop_group import _library, chain_document  # noqa: PLC0415

    mode, n, rounds = argv[0], int(argv[1]), int(argv[2])
    doc = chain_document(n)
    if mode == "evaluate":
        def call():
            return E.evaluate(doc)
    elif mode == "library":
        call = _library(E, doc)
    elif mode == "sum":
        from engine.ops._torch_sum import vector_sum  # noqa: PLC0415
        a = np.asarray(doc["leaves"]["x"]["data"], np.float32)

        def call():
            for _ in range(n):
                vector_sum(a)
    elif mode == "forward":  # the library's forward alone, under a budget as evaluate's ops run
        from engine.budget import _local  # noqa: PLC0415
        from engine.program.limits import DEFAULT_LIMITS  # noqa: PLC0415
        x_data, w_data = doc["leaves"]["x"]["data"], doc["leaves"]["w"]["data"]

        def call():
            b = DEFAULT_LIMITS.budget()
            prev, _local.budget = _local.budget, b
            try:
                x = E.tensor(x_data, requires_grad=True)
                w = E.tensor(w_data, requires_grad=True)
                y = x
                for i in range(n - 1):
                    k = i & 3
                    y = y * w if k == 0 else (y + x if k == 1 else (y.tanh() if k == 2 else y.sin()))
                return y.sum()
            finally:
                _local.budget = prev
                b.close()
    elif mode.startswith("phase:"):
        call = _phases(doc, mode[6:])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    gc.disable()
    for _ in range(2):  # warm: caches of costs, binders, code objects
        call()
    phased = mode.startswith("phase:")
    _measuring[0] = phased
    if not phased:
        _toggle(True)
    for _ in range(rounds):
        call()
    if not phased:
        _toggle(False)


if __name__ == "__main__":
    main(sys.argv[1:])
