"""The unrolled calls' folded forms (engine/ops/fastcall.py): with one elementwise thread, a `_float_out` entry
calls its ufunc directly for a float operand (picked once per operand dtype), `_add` / `_sub` / `_mul` of two
tensors call the operator (where the entry's alpha is the function's default), and add's `_alpha_check` is not
called for alpha 1. Each must answer as the entry's own function does: the same programs with three threads
(where the chunking wrapper calls the function itself) answer byte for byte the same, for every operand dtype,
integers and bool included (a ufunc called on an integer operand would give float64 where torch gives float32),
tensors and numbers, through the library and through evaluate."""
from __future__ import annotations

import pytest

import engine
from engine import parallel
from engine.ops import fastcall
from engine.ops.pointwise_arith import _add, _mul, _sub
from engine.ops.pointwise_base import _alpha_check
from tests.engine.test_one_thread_direct import _answer  # (one thread's answer and three's, compared)

UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "atan", "erf", "reciprocal", "sinh", "rsqrt"]
BINARY = ["add", "sub", "mul"]
DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool", "float16", "float32", "float64"]
X = [3, 0, 2, 1, 5, 0, 7, 1]
Y = [1, 4, 0, 2, 1, 6, 3, 1]


def _doc(dtype, ops, out, ydtype=None):
    return {"leaves": {"x": {"data": X, "dtype": dtype}, "y": {"data": Y, "dtype": ydtype or dtype}},
            "ops": ops, "outputs": [out], "encoding": "base64"}


def _programs():
    for dtype in DTYPES:
        for op in UNARY:
            # twice: the second call finds the dtype's folded function in the entry's last-call tuple
            yield f"{op}-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x"]},
                                                {"name": "b", "op": op, "args": ["y"]}], "b")
        for op in BINARY:
            yield f"{op}-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x", "y"]},
                                                {"name": "b", "op": op, "args": ["a", "y"]}], "b")
            yield f"{op}-int-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x", 3]}], "a")
            yield f"{op}-float-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x", 0.75]}], "a")
            yield f"{op}-alpha-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x", "y"],
                                                      "kwargs": {"alpha": 2}}], "a")
            yield f"{op}-mixed-{dtype}", _doc(dtype, [{"name": "a", "op": op, "args": ["x", "y"]}], "a", "float32")
    # a dtype switch between calls of one entry: the folded function is picked again
    yield "tanh-switch", _doc("int64", [{"name": "a", "op": "tanh", "args": ["x"]},
                                        {"name": "b", "op": "tanh", "args": ["a"]},
                                        {"name": "c", "op": "tanh", "args": ["y"]}], "c")


PROGRAMS = dict(_programs())




@pytest.mark.parametrize("name", list(PROGRAMS))
def test_one_thread_answers_as_three(name):
    assert _answer(PROGRAMS[name], 1) == _answer(PROGRAMS[name], 3)


def _library(threads, dtype):
    prev = parallel.configure(threads=threads)
    try:
        x, y = engine.tensor(X, dtype=getattr(engine, dtype)), engine.tensor(Y, dtype=getattr(engine, dtype))
        out = [x.tanh(), y.sin(), x + y, x - y, x * y, x.exp().exp()]
        return [(str(t.dtype), t.tolist()) for t in out]
    except Exception as e:  # noqa: BLE001 - the error is the answer compared
        return type(e).__name__, str(e)
    finally:
        parallel.configure(*prev)


@pytest.mark.parametrize("dtype", DTYPES)
def test_library_one_thread_as_three(dtype):
    assert _library(1, dtype) == _library(3, dtype)


def test_declared_forms():
    """What fastcall folds is declared where the functions are, and says what they do."""
    import operator  # noqa: PLC0415

    assert (_add.arrays, _sub.arrays, _mul.arrays) == (operator.add, operator.sub, operator.mul)
    assert _alpha_check.trivial(1) and _alpha_check.trivial(None)
    assert not _alpha_check.trivial(2) and not _alpha_check.trivial(1.0) and not _alpha_check.trivial(True)
    from engine.ops.pointwise_math import tanh  # noqa: PLC0415

    assert tanh.array_forward.__wrapped__.float_fn is __import__("numpy").tanh
    assert fastcall._fast_call  # (the module is the one that reads them)


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("da,db", [("int64", "float32"), ("float32", "float64"), ("float16", "float32"),
                                   ("int32", "int64"), ("uint8", "int8"), ("bool", "float16")])
def test_promotion_against_torch(op, da, db):
    """Two tensors of different dtypes: call2 reads each dtype once and sends them to the op's own call, which
    promotes as torch does (NumPy's rules differ: int64 + float32 is float64 there). Against live torch."""
    torch = pytest.importorskip("torch")
    if op == "sub" and "bool" in (da, db):
        pytest.skip("sub refuses bool operands (both do)")
    got = getattr(engine, op)(engine.tensor(X, dtype=getattr(engine, da)), engine.tensor(Y, dtype=getattr(engine, db)))
    t = getattr(torch, op)(torch.tensor(X, dtype=getattr(torch, da)), torch.tensor(Y, dtype=getattr(torch, db)))
    assert str(got.dtype) == str(t.dtype)
    assert got.numpy().tobytes() == t.numpy().tobytes()
