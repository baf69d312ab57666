"""With one elementwise thread (engine.parallel.configure(threads=1), GRADSERVE_ELEMENTWISE_THREADS=1: the bench's
and a many-worker server's setting), the op table's unrolled calls (engine/ops/fastcall.py) and the generated array
formulas (engine/ops/array_vjp.py) call an elementwise entry's own function, not its chunking wrapper: the same
answers, byte for byte, as with three threads (where the wrapper runs, and chunks nothing this small), for every
pointwise entry the catalog's unrolled path takes, forward and backward, float16/32/64, numbers as operands, and
the per-op bench's chain."""
from __future__ import annotations

import orjson
import pytest

import engine
from engine import parallel
from engine.ops.registry import REGISTRY
from engine.program.respond import encode

UNARY = ["abs", "neg", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid",
         "relu", "atan", "asinh", "erf", "sign", "floor", "reciprocal", "square", "sinh", "cosh", "trunc"]
BINARY = ["add", "sub", "mul", "div", "pow", "atan2", "maximum", "minimum", "hypot", "fmod", "remainder",
          "copysign", "xlogy"]
X = [0.5, -1.25, 2.0, 0.125, -0.75, 3.5, 1.0, -2.5]
Y = [1.5, 0.25, -0.5, 2.25, 0.75, -1.0, 0.5, 1.75]


def _doc(ops, dtype, out):
    return {"leaves": {"x": {"data": X, "dtype": dtype, "requires_grad": True},
                       "y": {"data": Y, "dtype": dtype, "requires_grad": True}},
            "ops": ops + [{"name": "loss", "op": "sum", "args": [out]}],
            "backward": [{"tensor": "loss"}], "outputs": ["loss", out]}


def _programs():
    for dtype in ("float16", "float32", "float64"):
        for op in UNARY:
            yield f"{op}-{dtype}", _doc([{"name": "a", "op": op, "args": ["x"]}], dtype, "a")
        for op in BINARY:
            yield f"{op}-{dtype}", _doc([{"name": "a", "op": op, "args": ["x", "y"]}], dtype, "a")
            yield f"{op}-number-{dtype}", _doc([{"name": "a", "op": op, "args": ["x", 0.75]}], dtype, "a")
        yield f"chain-{dtype}", _doc([{"name": "a", "op": "mul", "args": ["x", "y"]},
                                      {"name": "b", "op": "tanh", "args": ["a"]},
                                      {"name": "c", "op": "add", "args": ["b", "x"], "kwargs": {"alpha": 2}},
                                      {"name": "d", "op": "sin", "args": ["c"]}], dtype, "d")


PROGRAMS = dict(_programs())


def _answer(doc, threads):
    prev = parallel.configure(threads=threads)
    try:
        try:
            return encode(engine.evaluate(orjson.loads(orjson.dumps(doc))))
        except Exception as e:  # noqa: BLE001 - the error is the answer compared
            return type(e).__name__, str(e)
    finally:
        parallel.configure(*prev)


def test_the_programs_use_wrapped_entries():
    """The entries these programs run are elementwise wrappers (else the tests below would compare nothing)."""
    wrapped = {op.qualname for op in REGISTRY.values() if hasattr(op.array_forward, "parallel_into")}
    assert {"tanh", "sin", "mul.Tensor", "add.Tensor", "exp", "div.Tensor"} <= wrapped


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_one_thread_answers_as_three(name):
    assert _answer(PROGRAMS[name], 1) == _answer(PROGRAMS[name], 3)


@pytest.mark.parametrize("n", [9, 101])
def test_bench_chain(n):
    """The per-op bench's chain (bench/perop_group.py), its values and grads in base64 (every bit)."""
    from bench.perop_group import chain_document  # noqa: PLC0415

    doc = {**chain_document(n), "encoding": "base64"}
    assert _answer(doc, 1) == _answer(doc, 3)


@pytest.mark.parametrize("name", ["seed", "chain-float32", "tanh-float64", "div-number-float32"])
def test_one_thread_lowers_as_three(name):
    """A lowering runs its ops and formulas traced, under a watch that knows the elementwise wrappers' code as
    the entries' own (engine/program/glue.py): with one thread they are called as with three there, so the same
    programs lower, to the same source, and their lowered replays answer as the full path."""
    from tests.engine.test_lower import SEED_SPEC, check_lowered  # noqa: PLC0415

    doc = SEED_SPEC if name == "seed" else PROGRAMS[name]
    sources = []
    for threads in (1, 3):
        prev = parallel.configure(threads=threads)
        try:
            sources.append(check_lowered(doc).lowered.source)
        finally:
            parallel.configure(*prev)
    assert sources[0] == sources[1]
