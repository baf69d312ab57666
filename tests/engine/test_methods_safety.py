"""The methods branch's ops whose output size comes from VALUES or arguments (bincount, histc, tril_indices /
triu_indices, logspace, vander, nonzero / argwhere, unique): the smallest request that would allocate gigabytes
is refused with a 413 at the op itself, before anything of that size exists (tracemalloc's peak stays under
1 MiB), under the default limits; arguments torch refuses get torch's 422; and a request whose arguments are
huge but whose output is small (a 10**12-row tril_indices with a handful of entries) is answered without
touching the rows it does not have. Against live torch 2.13 where an answer is compared."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import engine
from engine.errors import EngineError, LimitExceeded
from engine.program import Limits
from tests.engine.counting_budget import CountingBudget

SMALL = Limits(max_tensor_elements=10_000, max_request_bytes=4 << 20)
MiB = 1 << 20


def _peak_of(doc, limits=None):
    """(the exception evaluate raised, or the response; tracemalloc's peak bytes while it ran)."""
    tracemalloc.start()
    try:
        try:
            out = engine.evaluate(doc, limits=limits) if limits else engine.evaluate(doc)
        except Exception as e:  # noqa: BLE001 - returned to the test, which asserts on it
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _doc(op, args, kwargs=None, leaves=None):
    step = {"name": "y", "op": op, "args": args}
    if kwargs:
        step["kwargs"] = kwargs
    return {"leaves": leaves or {}, "ops": [step], "outputs": ["y"]}


GIGABYTES = {  # each would make at least 4 GB of output
    "bincount_value": _doc("bincount", ["x"], leaves={"x": {"data": [10**12], "dtype": "int64"}}),
    "bincount_int32_value": _doc("bincount", ["x"], leaves={"x": {"data": [2**31 - 1], "dtype": "int32"}}),
    "bincount_minlength": _doc("bincount", ["x"], {"minlength": 10**12}, {"x": {"data": [1], "dtype": "int64"}}),
    "bincount_weights": _doc("bincount", ["x", "w"], leaves={"x": {"data": [0, 10**10], "dtype": "int64"},
                                                           "w": {"data": [1.0, 2.0]}}),
    "histc_bins": _doc("histc", ["x"], {"bins": 10**10}, {"x": {"data": [1.0, 2.0]}}),
    "tril_indices": _doc("tril_indices", [10**6, 10**6]),
    "triu_indices": _doc("triu_indices", [10**6, 10**6]),
    "tril_indices_offset": _doc("tril_indices", [10, 10**12, 10**12]),
    "logspace": _doc("logspace", [0, 1, 10**10]),
    "vander_n": _doc("vander", ["x"], {"N": 10**9}, {"x": {"data": [1.0, 2.0]}}),
    "vander_rows": _doc("vander", ["x"], {"N": 2 * 10**7}, {"x": {"data": [1.0] * 50}}),
}


@pytest.mark.parametrize("case", sorted(GIGABYTES))
def test_gigabytes_are_refused_before_they_are_made(case):
    err, peak = _peak_of(GIGABYTES[case])
    assert isinstance(err, LimitExceeded), err
    assert err.loc == ["body", "ops", 0], (err.loc, err.msg)  # LimitExceeded: the service's 413
    assert any(k in err.msg for k in ("max_tensor_elements", "max_request_bytes", "max_op_flops")), err.msg
    assert peak < MiB, f"{peak} bytes allocated before the refusal"


@pytest.mark.parametrize("op", ["nonzero", "argwhere", "unique", "unique_consecutive"])
def test_value_sized_outputs_are_charged_at_their_bound(op):
    """nonzero's (n, ndim) output is charged at every element nonzero: a 100 x 100 input under a 10,000-element
    tensor limit is refused before np.argwhere runs (the bound is 20,000); unique's outputs are bounded by its
    input, so it runs, within the bytes its rule charged."""
    doc = _doc(op, ["x"], leaves={"x": {"data": [[1.0] * 100] * 100}})
    out, peak = _peak_of(doc, SMALL)
    if op in ("nonzero", "argwhere"):
        assert isinstance(out, LimitExceeded) and "max_tensor_elements" in out.msg, out
        assert out.loc == ["body", "ops", 0]
    else:
        assert isinstance(out, dict), out
        assert out["tensors"]["y"]["data"] == [1.0]
    assert peak < MiB


@pytest.mark.parametrize("args, kwargs", [([10**12, 1, -10**12 + 3], {}), ([10**12, 10**12, 10**12 - 2], {}),
                                          ([3, 10**12, -2], {"dtype": "int32"})],
                         ids=["tril_tall", "triu_corner", "tril_short_rows"])
def test_huge_arguments_with_small_outputs_are_answered_cheaply(args, kwargs):
    """Only the rows that have entries are made: torch's answer, with a small peak."""
    op = "triu_indices" if args[2] > 0 else "tril_indices"
    kw = {"dtype": "int32"} if kwargs else {}
    out, peak = _peak_of(_doc(op, args, kw))
    assert isinstance(out, dict), out
    want = getattr(torch, op)(*args, **({"dtype": torch.int32} if kwargs else {}))
    assert out["tensors"]["y"]["data"] == want.tolist() and out["tensors"]["y"]["dtype"] == str(want.dtype)[6:]
    assert peak < MiB


def _torch_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the message compared
        return type(e).__name__, str(e)
    raise AssertionError("torch answered")


@pytest.mark.parametrize("doc, ask_torch", [
    (_doc("bincount", ["x"], leaves={"x": {"data": [-1], "dtype": "int64"}}),
     lambda: torch.bincount(torch.tensor([-1]))),
    (_doc("histc", ["x"], {"bins": -10**10}, {"x": {"data": [1.0]}}),
     lambda: torch.histc(torch.tensor([1.0]), bins=-10**10)),
    (_doc("tril_indices", [-10**12, 10]), lambda: torch.tril_indices(-10**12, 10)),
    (_doc("logspace", [0, 1, -10**12]), lambda: torch.logspace(0, 1, -10**12)),
    (_doc("vander", ["x"], {"N": -10**12}, {"x": {"data": [1.0]}}), lambda: torch.vander(torch.tensor([1.0]),
                                                                                          N=-10**12)),
], ids=["bincount", "histc", "tril_indices", "logspace", "vander"])
def test_absurd_arguments_torch_refuses_are_its_422(doc, ask_torch):
    err, peak = _peak_of(doc)
    assert isinstance(err, EngineError) and not isinstance(err, LimitExceeded), err
    assert (err.type, err.msg) == _torch_error(ask_torch) and err.loc == ["body", "ops", 0]  # the service's 422
    assert peak < MiB


def test_searchsorted_checks_the_deadline_in_its_rounds():
    """The binary search's rounds (log2 of the boundaries: 21 for 2**20) each check the budget: a budget
    whose deadline passes at its 3rd check (inside the loop, after two rounds ran) stops the search there."""
    from engine import budget as B  # noqa: PLC0415
    from engine.budget import DeadlinePassed  # noqa: PLC0415

    bd, vals = np.arange(1 << 20), np.array([3, 7, 1 << 19])
    free = CountingBudget()
    with B.active(free):
        want = engine.ops.searching._search(bd, vals, False, False)
    assert want.tolist() == torch.searchsorted(torch.arange(1 << 20), torch.tensor([3, 7, 1 << 19])).tolist()
    assert free.checks >= 20  # one a round
    bud = CountingBudget(stop=3)
    with B.active(bud), pytest.raises(DeadlinePassed):
        engine.ops.searching._search(bd, vals, False, False)
    assert bud.checks == 3
