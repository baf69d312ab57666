"""run_op's direct calls (engine/program/run.py `_DIRECT1` / `_DIRECT2`, from engine.ops.pointwise.DIRECT): every
catalog name whose function run_op calls directly, and every in-place name of the same op, answers as torch 2.13
does (values, grads, grad_fn names, versions, errors), through the direct call and through the function itself."""
from __future__ import annotations

import pytest

import engine
from engine.catalog import OPS
from engine.ops import pointwise
from engine.program import run as _run
from tests.engine.test_random_programs import check_against_torch

DIRECT_NAMES = sorted(k for k, f in OPS.items() if f in _run._DIRECT1 or f in _run._DIRECT2)
IN_PLACE = sorted(k + "_" for k in DIRECT_NAMES if k + "_" in OPS)


def _program(name, arity, in_place):
    leaves = {"x": {"data": [0.25, 0.5, 0.75], "requires_grad": True},
              "w": {"data": [0.5, -0.125, 2.0], "requires_grad": True}}
    first = "c" if in_place else "x"
    ops = [{"name": "c", "op": "mul", "args": ["x", 1.0]}] if in_place else []
    ops.append({"name": "t", "op": name, "args": [first, "w"] if arity == 2 else [first]})
    ops.append({"name": "s", "op": "sum", "args": ["t"]})
    outputs = ["t", "s", "c" if in_place else "x"]
    return {"leaves": leaves, "ops": ops, "backward": [{"tensor": "s"}], "outputs": outputs}


def _arity(name):
    return 2 if OPS[name] in _run._DIRECT2 else 1


def test_the_direct_table_holds_the_functions_themselves():
    """The in-place wrappers (functools.wraps of add, exp, ...) are other functions: never called as the op."""
    assert DIRECT_NAMES and IN_PLACE
    for name in IN_PLACE:
        assert OPS[name] not in _run._DIRECT1 and OPS[name] not in _run._DIRECT2, name
    for f, d in pointwise.DIRECT.items():  # each under its own arity, the same callable
        assert (_run._DIRECT1.get(f) or _run._DIRECT2.get(f)) is d


@pytest.mark.parametrize("name", DIRECT_NAMES)
def test_a_direct_op_answers_as_torch(name):
    check_against_torch(_program(name, _arity(name), False), engine.evaluate)


# (acosh_, asinh_ and atanh_ included: torch 2.13 records AcoshBackward1 ... whose backward raises NotImplementedError,
# derivatives.yaml's not_implemented; the engine's own entries for them, engine/ops/pointwise.py)
@pytest.mark.parametrize("name", IN_PLACE)
def test_its_in_place_form_answers_as_torch(name):
    check_against_torch(_program(name, _arity(name[:-1]), True), engine.evaluate)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "exp"])
def test_direct_and_the_function_give_one_response(name, monkeypatch):
    """The same document with the table emptied (every op through its function): the same response."""
    spec = _program(name, _arity(name), False)
    direct = engine.evaluate(spec)
    monkeypatch.setattr(_run, "_DIRECT1", {})
    monkeypatch.setattr(_run, "_DIRECT2", {})
    assert engine.evaluate(spec) == direct
