"""meshgrid / broadcast_tensors / atleast_*d: their names are checked before they run, as the splits' are
(engine/program/bind.py check_names): a wrong count of names is the binder's 422 with nothing made or charged;
a call the op itself refuses keeps the op's (torch's) error; right names still run and match torch."""
from __future__ import annotations

import time

import pytest
import torch

import engine
from engine.errors import EngineError, RequestError
from engine.program import Limits
from tests.engine.counting_budget import CountingBudget
from tests.engine.test_safety_split import _run  # evaluate under a budget: (its exception, the traced peak)

assert torch.__version__.startswith("2.13")

OPS = ["meshgrid", "broadcast_tensors", "atleast_1d", "atleast_2d", "atleast_3d"]


def _doc(op, args, name, kwargs=None):
    o = {"op": op, "args": args, "name": name}
    if kwargs:
        o["kwargs"] = kwargs
    return {"leaves": {}, "ops": [{"name": "x", "op": "ones", "args": [[1]]},
                                  {"name": "v", "op": "ones", "args": [[3]]}, o]}


def _kw(op):
    return {"indexing": "ij"} if op == "meshgrid" else None


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name", ["y", ["a", "b"]])
def test_wrong_names_are_refused_before_the_operands_are_charged(op, name):
    """5000 operands under a 4 MiB budget: their outputs' charge (5000 x 2 KB) would be a 413 at the op. The
    names are known wrong from the operand count, so the binder's 422 comes first, with nothing allocated
    (before: the op's 413, or with room for them, 5000 outputs made for this 422)."""
    err, peak = _run(_doc(op, ["x"] * 5000, name, _kw(op)),
                     Limits(max_request_bytes=4 << 20).budget(deadline=time.monotonic() + 20))
    assert isinstance(err, RequestError), repr(err)
    assert err.loc == ["body", "ops", 2, "name"]
    if isinstance(name, str):
        assert err.msg == f"op {op!r} returns 5000 tensors: give a list of names"
    else:
        assert err.msg == f"op {op!r} returned 5000 tensors but 2 names were given"
    assert peak < 1 << 20, peak


@pytest.mark.parametrize("op", OPS)
def test_wrong_names_do_not_run_the_op(op):
    """With room for the outputs: the op's loop (a budget check per operand) never runs for a 422."""
    counting = CountingBudget()
    err, _ = _run(_doc(op, ["x"] * 40, ["a", "b"], _kw(op)), counting)
    assert isinstance(err, RequestError), repr(err)
    assert counting.checks < 40, counting.checks
    # the same op with its right names runs its loop (40: meshgrid makes 40-d grids, NumPy holds 64 dims)
    right = CountingBudget()
    err, _ = _run(_doc(op, ["x"] * 40, [f"n{i}" for i in range(40)], _kw(op)), right)
    assert err is None, repr(err)
    assert right.checks >= 40, right.checks


def _torch_call(op, args, kwargs):
    vals = {"x": torch.ones(1), "v": torch.ones(3), "m": torch.ones(2, 2), "i": torch.ones(2, dtype=torch.int64)}
    ts = [[vals[n] for n in a] if isinstance(a, list) else vals[a] for a in args]
    return getattr(torch, op)(*ts, **(kwargs or {}))


@pytest.mark.parametrize("op, args, kwargs", [
    ("meshgrid", ["x", "v"], {"indexing": "xy"}), ("meshgrid", ["v"], {"indexing": "ij"}),
    ("broadcast_tensors", ["x", "v"], None), ("broadcast_tensors", ["v"], None),
    ("atleast_1d", ["x", "v"], None), ("atleast_2d", ["v"], None),
    ("atleast_3d", ["m", "x", "v"], None)])
def test_the_counts_are_torchs(op, args, kwargs):
    """Every count the binder refuses by is the length torch returns: one name too many is refused with it,
    the right names run and give torch's values (a single Tensor where torch returns one)."""
    want = _torch_call(op, args, kwargs)
    leaves = {"m": {"data": [[1.0, 1.0], [1.0, 1.0]]}}
    single = isinstance(want, torch.Tensor)
    n = 1 if single else len(want)
    doc = _doc(op, args, [f"o{k}" for k in range(n + 1)], kwargs)
    doc["leaves"] = leaves
    doc["ops"] = [o for o in doc["ops"] if o["name"] != "m"]
    with pytest.raises(RequestError) as got:
        engine.evaluate(doc)
    assert got.value.msg == f"op {op!r} returned {n} tensors but {n + 1} names were given"
    assert got.value.loc == ["body", "ops", 2, "name"]
    names = "y" if single else [f"o{k}" for k in range(n)]
    doc["ops"][-1]["name"] = names
    doc["outputs"] = [names] if single else names
    t = engine.evaluate(doc)["tensors"]
    for k, w in zip([names] if single else names, [want] if single else want):
        assert t[k]["shape"] == list(w.shape) and t[k]["data"] == w.tolist()


@pytest.mark.parametrize("op, args, kwargs, torch_args", [
    ("meshgrid", ["v", "i"], {"indexing": "ij"}, ([torch.ones(3), torch.ones(2, dtype=torch.int64)],)),
    ("meshgrid", ["v", "m"], {"indexing": "ij"}, None),
    ("meshgrid", ["v"], {"indexing": "zz"}, None),
    ("broadcast_tensors", ["v", "m"], None, ([torch.ones(3), torch.ones(2, 2)],)),
])
def test_a_call_the_op_refuses_keeps_the_ops_error(op, args, kwargs, torch_args):
    """A wrong name on a call the op refuses: the op's error, as before (not the names' 422)."""
    doc = _doc(op, args, ["a", "b", "c"], kwargs)
    doc["leaves"] = {"m": {"data": [[1.0, 1.0], [1.0, 1.0]]}, "i": {"data": [1, 2]}}
    with pytest.raises(EngineError) as got:
        engine.evaluate(doc)
    assert not isinstance(got.value, RequestError), got.value.msg
    assert got.value.loc == ["body", "ops", 2]
    if torch_args is not None:
        with pytest.raises(RuntimeError) as want:
            getattr(torch, op)(*torch_args[0])
        assert got.value.msg == str(want.value)
