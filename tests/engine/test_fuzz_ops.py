"""Bad input is a 4xx, always (issue 14, item 5): every op of the catalog (engine.catalog.OPS, the request ops
backward, grad, autograd.grad, setitem, ... included) called with generated argument lists: names of tensors of
several shapes and dtypes (and of none), numbers, huge ints, nulls, nested and ragged lists, strings, bools,
dicts, as positional arguments and as keyword arguments, then summed and differentiated where that applies.

Each program runs through engine.evaluate (in-process, fast) under small limits and a deadline: it answers, or
raises an EngineError (a 4xx/5xx the service maps); any other exception is a crash (a 500). An error that the
op runner's last-resort handler caught (a Python exception it reports as `TorchRuntimeError("KeyError: ...")`)
is a crash hidden as a 422 (a 4xx, but not torch's error): `python -m tests.engine.test_fuzz_ops N` counts and
lists them (docs/RELIABILITY.md). A smaller sample goes over HTTP to a real server: no 500.

`make test` runs a fixed seeded sample (GRADSERVE_FUZZ_OPS_EXAMPLES per op, 6 by default); `make fuzz` 150."""
from __future__ import annotations

import os
import random
import re
import time

import pytest

from engine.budget import DeadlinePassed
from engine.catalog import OPS
from engine.errors import EngineError
from engine.program import evaluate
from engine.program.limits import Limits

EXAMPLES = int(os.environ.get("GRADSERVE_FUZZ_OPS_EXAMPLES", "6"))
HTTP_PROGRAMS = int(os.environ.get("GRADSERVE_FUZZ_OPS_HTTP", "120"))
MiB = 1 << 20
LIMITS = Limits(max_tensor_elements=100_000, max_total_elements=1_000_000, max_ops=50, max_request_bytes=64 * MiB,
                max_flops=1e9, op_max_flops=1e9, max_response_bytes=4 * MiB, time_limit_s=5.0)

LEAVES = {
    "f": {"data": [1.0, -2.0, 3.0], "requires_grad": True},
    "m": {"data": [[1.0, 2.0, 3.0], [4.0, -5.0, 6.0]], "dtype": "float64", "requires_grad": True},
    "t": {"data": [[[0.5, 1.0], [2.0, 3.0]], [[-1.0, 0.0], [1.0, 2.0]]]},
    "i": {"data": [1, 2, 0, 3]},
    "j": {"data": [[0, 1], [1, 0]], "dtype": "int32"},
    "b": {"data": [True, False, True]},
    "s": {"data": 2.5, "requires_grad": True},
    "h": {"data": [1.0, 2.0], "dtype": "float16"},
    "e": {"data": [], "dtype": "float32"},
}
NAMES = list(LEAVES)
VALUES = [
    0, 1, -1, 2, 3, -2, 0.5, -0.25, 2.5, 1e308, -1e308, 1e-320, 2**31, 2**63, -(2**63) - 1, 2**200, -(2**100),
    None, True, False, "", "x", "float32", "int64", "sum", "mean", "none", "cpu", "cuda", "nan", "inf", "-inf",
    [], [[]], [0], [1, 2], [2, 3], [-1], [2**63], [1e308, 2], [[1, 2], [3]], [[1.0, 2.0], [3.0, 4.0]], [None],
    ["f", "m"], ["f"], [0, "f"], [[[[[[[[1]]]]]]]], {}, {"a": 1}, {"name": "f"}, [1, [2, [3]]], [True], [1.5, 2.5],
    "nope", "f", "m", "i", "b",
]
KWARGS = ["dim", "keepdim", "dtype", "size", "padding", "stride", "alpha", "value", "other", "input", "index",
          "p", "eps", "weight", "bias", "reduction", "generator", "requires_grad", "device", "retain_graph",
          "create_graph", "inputs", "gradient", "grad_outputs", "allow_unused", "out", "bins", "k", "n",
          "correction", "unbiased", "kernel_size", "groups", "dilation", "mode", "align_corners", "shape",
          "nonsense"]
_MASKED = re.compile(r"^(KeyError|AttributeError|AssertionError|UnboundLocalError|NameError|ZeroDivisionError|"
                     r"OverflowError|SystemError|StopIteration|UnicodeError|LookupError|BufferError|ReferenceError|"
                     r"FloatingPointError|ArithmeticError|OSError|numpy\.\w+|_?[A-Z]\w*Error): ")


def _value(rng: random.Random):
    r = rng.random()
    if r < 0.45:
        return rng.choice(NAMES)
    return rng.choice(VALUES)


def programs(op: str, n: int, seed: int) -> list[dict]:
    """n generated programs that call `op` (a fixed sample for a seed)."""
    rng = random.Random(f"{seed}:{op}")
    out = []
    for k in range(n):
        args = [_value(rng) for _ in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 6)))]
        kwargs = {rng.choice(KWARGS): _value(rng) for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))}
        call = {"name": "r", "op": op, "args": args}
        if kwargs:
            call["kwargs"] = kwargs
        if k % 3 == 1:  # its result used: summed and differentiated
            out.append({"leaves": LEAVES, "ops": [call, {"name": "z", "op": "sum", "args": ["r"]}],
                        "backward": [{"tensor": "z"}], "grads": ["f", "m", "s"]})
        elif k % 3 == 2 and args:  # a no-name call (the in-place and stateful ones)
            out.append({"leaves": LEAVES, "ops": [{k2: v for k2, v in call.items() if k2 != "name"}]})
        else:
            out.append({"leaves": LEAVES, "ops": [call]})
    return out


def run_one(doc: dict) -> str | None:
    """None where the engine answered or raised an EngineError; else what crashed ('masked: ...' where the op
    runner's last resort reported a Python error as a 422)."""
    try:
        evaluate(doc, limits=LIMITS, budget=LIMITS.budget(time.monotonic() + 5.0))
    except DeadlinePassed:
        return None
    except EngineError as e:
        if _MASKED.match(e.msg or ""):
            return f"masked: {e.msg[:160]}"
        return None
    except Exception as e:  # noqa: BLE001 - what the test is looking for
        return f"{type(e).__name__}: {str(e)[:160]}"
    return None


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_answers_bad_arguments_with_an_engine_error(op):
    crashes = [(found, doc["ops"]) for doc in programs(op, EXAMPLES, seed=14)
               if (found := run_one(doc)) is not None and not found.startswith("masked")]
    assert not crashes, crashes[:3]


@pytest.mark.parametrize("value", [3, None, [1.0, 2.0], {}])
@pytest.mark.parametrize("op", ["add_", "mul_", "div_"])
def test_an_in_place_method_of_no_tensor_is_torchs_type_error(op, value):
    """Found by the fuzz: AttributeError ('int' object has no attribute '_base') behind a 422."""
    torch = pytest.importorskip("torch")
    args = [value, "f"]
    with pytest.raises(EngineError) as got:
        evaluate({"leaves": LEAVES, "ops": [{"op": op, "args": args}]}, limits=LIMITS)
    torch_args = [torch.tensor([1.0, -2.0, 3.0]) if a == "f" else a for a in args]
    with pytest.raises(TypeError) as want:
        getattr(torch.Tensor, op)(*torch_args)
    assert (got.value.type, got.value.msg) == ("TypeError", str(want.value))


def test_a_sample_over_http_has_no_500():
    from tests.app.conftest import Server

    rng = random.Random(1414)
    ops = sorted(OPS)
    docs = [programs(op, 3, seed=rng.randrange(1 << 30))[rng.randrange(3)] for op in rng.sample(ops, min(
        HTTP_PROGRAMS, len(ops)))]
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_TENSOR_ELEMENTS": "100000", "GRADSERVE_MAX_TOTAL_ELEMENTS": "1000000",
                "GRADSERVE_TIME_LIMIT_S": "5"})
    try:
        bad = []
        for doc in docs:
            r = s.client.post("/v1/evaluate", json=doc)
            if r.status_code >= 500 and r.status_code not in (503, 504) or not r.headers["content-type"].startswith(
                    "application/json"):
                bad.append((r.status_code, r.text[:200], doc["ops"]))
        assert not bad, bad[:3]
    finally:
        s.stop()


if __name__ == "__main__":  # python -m tests.engine.test_fuzz_ops [examples per op]: the figures, masked ones listed
    import collections
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    t0, count, found = time.monotonic(), 0, collections.defaultdict(list)
    for name in sorted(OPS):
        for doc in programs(name, n, seed=14):
            count += 1
            if (f := run_one(doc)) is not None:
                found[name].append((f, doc["ops"]))
    crashes = {k: v for k, v in found.items() if any(not f.startswith("masked") for f, _ in v)}
    masked = collections.Counter(f.split(": ", 2)[1] for v in found.values() for f, _ in v if f.startswith("masked"))
    print(f"{count} programs, {len(OPS)} ops, {time.monotonic() - t0:.1f} s: {len(crashes)} ops crash, "
          f"{sum(masked.values())} programs ({sum(1 for v in found.values() if v)} ops) get a Python error as a 422")
    for k, v in sorted(crashes.items()):
        print("crash", k, v[0])
    for kind, c in masked.most_common():
        print(f"  {c:5d} masked {kind}")
