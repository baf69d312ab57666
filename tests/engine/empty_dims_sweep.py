"""The sweep of redteam9's class (zero-element tensors with one long dim, and a short dim beside a long one): every
catalog op, forward and backward, on such inputs, measured against what it charged (engine.budget): its work in
Python calls and deadline checks, and its traced memory. No clock: counts and bytes only. Used by
tests/engine/test_safety_empty_dims.py; `python -m tests.engine.empty_dims_sweep [N]` prints the table."""
from __future__ import annotations

import base64
import sys
import tracemalloc

import engine
from engine.catalog import OPS
from engine.ops.rules import PY_STEP
from engine.program import Limits
from tests.engine.counting_budget import CountingBudget

SKIP = {"backward", "grad", "autograd.grad"}
ARGSETS = ([], [0], [1], ["x"], [1, 1, 1], [0, 1], [1, 0], ["N"], [["N"]])


def shapes(n: int) -> dict:
    """The inputs: the long dim n with a zero beside it, and short dims beside a long one (n // 16)."""
    m = max(n // 16, 2)
    return {"0N": [0, n], "N0": [n, 0], "N02": [n, 0, 2], "1N": [1, m], "2N": [2, m // 2]}


def _args(a, n):
    return [n if v == "N" else [n] if v == ["N"] else v for v in a]


def document(op: str, shape: list, args: list, backward: bool, dtype: str = "float32") -> dict:
    n = max(shape)
    if backward:
        count = 1
        for d in shape:
            count *= d
        leaf = {"data": {"dtype": dtype, "shape": shape, "b64": base64.b64encode(bytes(4 * count)).decode()},
                "requires_grad": True}
        ops = [{"name": "y", "op": op, "args": ["x", *_args(args, n)]}, {"name": "s", "op": "sum", "args": ["y"]},
               {"op": "backward", "args": ["s"]}]
        return {"leaves": {"x": leaf}, "ops": ops, "outputs": [], "grads": []}
    return {"ops": [{"name": "x", "op": "zeros", "args": [shape], "kwargs": {"dtype": dtype}},
                    {"name": "y", "op": op, "args": ["x", *_args(args, n)]}], "outputs": []}


class Calls:
    """Python and C calls made while installed (sys.setprofile): a loop's steps, each at least one call."""

    def __init__(self):
        self.n = 0

    def __call__(self, frame, event, arg):
        if event == "call" or event == "c_call":
            self.n += 1

    def __enter__(self):
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)


MAX_FLOPS = 1e8  # a charged run past this stops there (LimitExceeded): the sweep's time bounded by the charges


def measure(doc: dict) -> dict:
    """Run `doc` under a CountingBudget with the default limits' bytes and elements and MAX_FLOPS: its outcome,
    deadline checks, calls, charged flops and bytes at peak, and its traced peak memory (bytes above where it
    started)."""
    bud = CountingBudget()
    lim = Limits()
    bud.max_flops = MAX_FLOPS
    bud.max_bytes = lim.max_request_bytes
    bud.max_elements = lim.max_tensor_elements
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        with Calls() as calls:
            try:
                engine.evaluate(doc, budget=bud)
                status = "ok"
            except Exception as e:  # noqa: BLE001 - an op refusing these inputs is an outcome like any other
                status = type(e).__name__
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return {"status": status, "checks": bud.checks, "calls": calls.n, "flops": bud.used_flops, "charged": bud.peak,
            "traced": peak}


def sweep(n: int, backward: bool, names=None):
    """Yield (op, shape key, args, measure(...)) for every catalog op (or `names`) on shapes(n) and ARGSETS."""
    for op in sorted(names or OPS):
        if op in SKIP:
            continue
        for key, shape in shapes(n).items():
            for args in ARGSETS:
                yield op, key, args, measure(document(op, shape, list(args), backward))


def excess(m: dict, floor_calls: int = 20_000, per_step: int = 50, floor_checks: int = 256,
           slack: int = 4 << 20) -> list[str]:
    """What a measurement did beyond what it charged: calls past floor_calls + per_step a charged Python step,
    deadline checks past max(floor_checks, its charged steps), traced bytes past the charged peak + slack."""
    steps = m["flops"] / PY_STEP
    out = []
    if m["calls"] > floor_calls + per_step * steps:
        out.append(f"{m['calls']} calls for {steps:.0f} charged steps")
    if m["checks"] > max(floor_checks, steps):
        out.append(f"{m['checks']} deadline checks for {steps:.0f} charged steps")
    if m["traced"] > m["charged"] + slack:
        out.append(f"{m['traced']} bytes traced for {m['charged']} charged")
    return out


if __name__ == "__main__":
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1 << 20
    bwd = len(sys.argv) > 2 and sys.argv[2] == "backward"
    only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
    for op, key, args, m in sweep(n, bwd, only):
        bad = excess(m)
        if bad:
            print(op, key, args, m["status"], "; ".join(bad), flush=True)
