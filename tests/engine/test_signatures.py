"""Per-signature op decisions (engine/program/signatures.py): an op of a catalog name in its common form runs in
run_list with its name's decisions made once, anything else through run_op. Every document here is evaluated
twice, with the decisions and with every op on run_op (the path the rest of the suite holds to torch), and must
give the same response bytes or the same error (class, message, loc), warnings and limits included."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

import engine
import engine.program.run as run_mod
import engine.program.signatures as sig
from bench.perop_group import chain_document
from engine.program.limits import Limits
from engine.program.respond import encode

X = {"data": [0.5, -1.25, 2.0], "requires_grad": True}
M = {"data": [[1.0], [2.0], [-3.0]], "requires_grad": True}  # (3, 1)
R = {"data": [[1.0, 2.0, 3.0, 4.0]]}  # (1, 4)
S = {"data": 0.75, "requires_grad": True}  # 0-d
I = {"data": [1, 2, 3]}  # int64


def _doc(ops, leaves=None, **extra):
    return {"leaves": leaves if leaves is not None else {"x": X, "s": S}, "ops": ops, **extra}


def _op(name, op, *args, **more):
    return {"name": name, "op": op, "args": list(args), **more}


DOCS = {
    "chain": chain_document(41),
    "numbers": _doc([_op("a", "mul", "x", 2.5), _op("b", "add", "a", 3), _op("c", "sub", 2, "b"),
                     _op("d", "div", "c", -0.0), _op("e", "pow", "x", 2), _op("f", "sum", "e")],
                    backward=[{"tensor": "f"}]),
    "bool and special numbers": _doc([_op("a", "mul", "x", True), _op("b", "add", "a", "NaN"),
                                      _op("c", "mul", "b", "-Infinity"), _op("d", "add", "x", "Infinity")]),
    "a tensor named NaN": _doc([_op("a", "add", "x", "NaN")], {"x": X, "NaN": {"data": [1.0, 2.0, 3.0]}}),
    "broadcast": _doc([_op("a", "add", "m", "r"), _op("b", "mul", "s", "m"), _op("c", "mul", "m", "s"),
                       _op("d", "sub", "r", "x"), _op("e", "sum", "d")],
                      {"m": M, "r": R, "s": S, "x": {"data": [1.0, 2.0, 3.0, 4.0]}}),
    "mismatched shapes": _doc([_op("a", "add", "x", "m")], {"x": {"data": [1.0, 2.0]}, "m": {"data": [1.0, 2.0, 3.0]}}),
    "int and promotion": _doc([_op("a", "tanh", "i"), _op("b", "mul", "i", 2.5), _op("c", "add", "i", "x"),
                               _op("d", "neg", "i"), _op("e", "mul", "i", 3)], {"i": I, "x": X}),
    "duplicate name": _doc([_op("a", "tanh", "x"), _op("a", "sin", "x")]),
    "a name bound to a leaf": _doc([_op("x", "tanh", "s")]),
    "empty name": _doc([_op("", "tanh", "x")]),
    "long name": _doc([_op("n" * 129, "tanh", "x")]),
    "longest name": _doc([_op("n" * 128, "tanh", "x")]),
    "name of another type": _doc([_op(3, "tanh", "x")]),
    "names as a list": _doc([_op(["a"], "tanh", "x")]),
    "no name": _doc([{"op": "tanh", "args": ["x"]}]),
    "unknown arg": _doc([_op("a", "tanh", "y")]),
    "a number for a tensor": _doc([_op("a", "tanh", 3.0)]),
    "null arg": _doc([_op("a", "tanh", None)]),
    "no args": _doc([_op("a", "tanh")]),
    "args not a list": _doc([{"name": "a", "op": "tanh", "args": "x"}]),
    "three args": _doc([_op("a", "add", "x", "x", 2)]),
    "kwargs": _doc([_op("a", "add", "x", "x", kwargs={"alpha": 2})]),
    "no_grad": _doc([_op("a", "mul", "x", "s", no_grad=True), _op("b", "mul", "x", "s", no_grad=False)]),
    "unknown field": _doc([_op("a", "tanh", "x", nope=1)]),
    "unknown op": _doc([_op("a", "no_such_op", "x")]),
    # three keys, one of name/op/args missing (run_list reads the three by subscript: a KeyError is run_op's case)
    "three keys, no args": _doc([_op("a", "tanh", "x"), {"name": "b", "op": "tanh", "nope": ["a"]}]),
    "three keys, no name": _doc([_op("a", "tanh", "x"), {"op": "tanh", "args": ["a"], "nope": "b"}]),
    "three keys, no op": _doc([_op("a", "tanh", "x"), {"name": "b", "args": ["a"], "nope": "tanh"}]),
    "op not a string": _doc([{"name": "a", "op": ["tanh"], "args": ["x"]}]),
    "op not a dict": _doc([["tanh", "x"]]),
    "a shape rule": _doc([_op("a", "matmul", "m", "r"), _op("b", "sum", "a"), _op("c", "t", "m")],
                         {"m": M, "r": R}),
    "not a tensor out": _doc([_op("a", "numel", "x"), _op("b", "is_floating_point", "x")]),
    "list out": _doc([_op("a", "unbind", "m"), _op("b", "chunk", "x", 3)], {"m": M, "x": X}),
    "retained": _doc([_op("a", "mul", "x", "s"), _op("b", "sum", "a")], retain_grad=["a"],
                     backward=[{"tensor": "b"}], grads=["a", "x"]),
    "in place": _doc([_op("a", "mul", "x", 2.0), _op("b", "mul_", "a", "s"), _op("c", "add_", "b", 1.0)]),
    "warns": _doc([_op("a", "mul", "x", 2.0), _op("b", "T", "c")], {"x": X, "c": {"data": [[[1.0]]]}}),
}

LIMITED = [(n, lim) for n in ("chain", "broadcast", "numbers")
           for lim in (Limits(max_total_elements=40), Limits(max_tensor_elements=3), Limits(max_tensor_elements=11),
                       Limits(max_response_bytes=3000), Limits(max_flops=300.0), Limits(max_request_bytes=900))]


def _answer(doc, limits=None):
    try:
        return "ok", encode(engine.evaluate(orjson.loads(orjson.dumps(doc)), limits=limits))
    except Exception as e:  # noqa: BLE001 - the error is the answer compared
        return type(e).__name__, str(e), getattr(e, "loc", None)


@pytest.fixture
def full_path(monkeypatch):
    """Every op on run_op: no decisions kept or made, and run_list itself not called (run_op_list's loop for a
    run with Functions: the deadline, then run_op), so that none of its early checks is on both sides."""
    def every_op_on_run_op(run, ops, where, caught, retain, bud, mod):
        for i, op in enumerate(ops):
            if bud is not None and mod._monotonic() > bud._dl:
                mod._deadline_passed(bud, [*where, i])
            mod.run_op(run, op, [*where, i], caught, retain)

    def run_full(doc, limits=None):
        with monkeypatch.context() as m:
            m.setattr(sig, "DECIDED", {})
            m.setattr(sig, "_decide", lambda name, run_mod: None)
            m.setattr(run_mod, "_run_list", every_op_on_run_op)
            return _answer(doc, limits)
    return run_full


@pytest.mark.parametrize("name", list(DOCS))
def test_decisions_answer_as_run_op(name, full_path):
    fast = _answer(DOCS[name])
    assert fast == full_path(DOCS[name])


@pytest.mark.parametrize("case", LIMITED, ids=lambda c: f"{c[0]}-{c[1]}")
def test_decisions_keep_every_limit(case, full_path):
    name, limits = case
    fast = _answer(DOCS[name], limits)
    assert fast == full_path(DOCS[name], limits)
    assert fast[0] != "ok" or name != "chain", "the limits are meant to stop the chain"


def test_the_chain_runs_on_decisions(monkeypatch):
    """The common form does take run_list's path (else the comparisons above compare run_op with itself)."""
    ran = []
    real = run_mod.run_op

    def counted(*a, **k):
        ran.append(a[1].get("op"))
        return real(*a, **k)

    monkeypatch.setattr(run_mod, "run_op", counted)
    doc = chain_document(41)
    engine.evaluate(doc)
    assert ran == []
    assert {"mul", "add", "tanh", "sin", "sum"} <= {k for k, v in sig.DECIDED.items() if v is not None}
    engine.evaluate(DOCS["kwargs"])  # and what is not in that form goes to run_op
    assert ran == ["add"]


def test_a_name_given_another_function_is_not_run_by_its_old_decisions(monkeypatch):
    """Decisions are made for the function its name meant; where the catalog gives the name another function (as
    tests do), the op goes to run_op, which calls that one."""
    from engine.catalog import OPS
    from engine.tensor import Tensor

    def other(input: Tensor) -> Tensor:
        return engine.sin(input)

    engine.evaluate(_doc([_op("a", "tanh", "x")]))
    assert sig.DECIDED.get("tanh") is not None
    monkeypatch.setitem(OPS, "tanh", other)
    got = engine.evaluate(_doc([_op("a", "tanh", "x")], outputs=["a"]))
    assert got["tensors"]["a"]["data"] == np.sin(np.float32(X["data"])).tolist()


def test_decisions_stay_bounded():
    """Names outside the catalog keep no decisions (a hostile program of 10,000 made-up names keeps nothing)."""
    before = len(sig.DECIDED)
    ops = [_op(f"a{i}", f"made_up_{i}", "x") for i in range(50)]
    for k in range(50):
        _answer(_doc([ops[k]]))
    assert len(sig.DECIDED) == before
