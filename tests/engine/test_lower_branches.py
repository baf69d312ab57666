"""Lowered replays of programs whose backward decides on values (lower3): max.dim / min.dim (the gradient goes to
the selected index: ties, NaN), cumprod (another formula where its input has a zero: a guard, engine/ops/
value_guard.py), cosine_similarity (its norms clamped to eps: a zero row). Hypothesis over values, special ones
included (0.0, -0.0, NaN, +-inf, ties, subnormals), in float16/32/64: the lowered replay answers byte for byte as
the full path, and really runs (or its guard declines, exactly where the values take the other branch)."""
from __future__ import annotations

import copy
import importlib

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from bench.programs import load
from engine.budget import Budget
from engine.catalog import OPS
from engine.ops.value_guard import GuardFailed, decide, value_test
from engine.tensor import Tensor

E = importlib.import_module("engine.program")

CORPUS = dict(load(("29", "30", "31")))


def _values(shape, k=0):
    """Distinct nonzero values (no tie, no zero): what a program is recorded with here."""
    n = int(np.prod(shape))
    return ((np.arange(n) * 0.37 + 0.11 + k) * np.where(np.arange(n) % 3 == 1, -1, 1)).reshape(shape).tolist()


def _doc(shapes, ops, loss):
    return {"leaves": {n: {"data": _values(s, k), "requires_grad": True} for k, (n, s) in enumerate(shapes.items())},
            "ops": ops + [{"name": "loss", "op": "sum", "args": [loss]}], "backward": [{"tensor": "loss"}]}


# the corpus's three, and the same formulas other ways: min, keepdim, a middle dim, another dim, 3-D
PROGRAMS = {
    "reductions": CORPUS["reductions"],
    "cumsum_cumprod": CORPUS["cumsum_cumprod"],
    "norms_cosine": CORPUS["norms_cosine"],
    "min_keepdim": _doc({"x": (3, 4)}, [{"name": ["m", "i"], "op": "min", "args": ["x", 1],
                                         "kwargs": {"keepdim": True}}, {"name": "p", "op": "mul", "args": ["m", "m"]}],
                        "p"),
    "max_middle": _doc({"x": (2, 3, 2)}, [{"name": ["m", "i"], "op": "max", "args": ["x", -2]}], "m"),
    "cumprod_2d": _doc({"x": (3, 4)}, [{"name": "c", "op": "cumprod", "args": ["x", 1]},
                                       {"name": "p", "op": "mul", "args": ["c", "x"]}], "p"),
    "cosine_dim0": _doc({"a": (4, 3), "b": (4, 3)}, [{"name": "c", "op": "cosine_similarity", "args": ["a", "b"],
                                                      "kwargs": {"dim": 0}}], "c"),
}
# where a program's guard must decline: cumprod's input has a zero (-0.0 too)
GUARDED = {"cumsum_cumprod": "x", "cumprod_2d": "x"}
DTYPES = ("float16", "float32", "float64")
SPECIAL = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 1.0, -1.0, 2.0, 0.5, 5e-324, 1e-40, 6e-8, 3e38,
           70000.0]


def _typed(doc, dtype):
    out = copy.deepcopy(doc)
    for leaf in out["leaves"].values():
        leaf["dtype"] = dtype
    return out


def _answer(fn):
    """fn()'s response as bytes (a document, or evaluate_json's bytes), or the error it raised."""
    try:
        out = fn()
        return out if type(out) is bytes else orjson.dumps(out)
    except Exception as e:  # noqa: BLE001 - the error, as either path raises it
        return (type(e).__name__, str(e))


_PRIMED: dict = {}


def primed(name, dtype):
    """A plan cache whose program of this structure is lowered (module-wide, once per structure), and the calls
    of its lowered function: 'ran' or 'guard' (GuardFailed), per call."""
    key = (name, dtype)
    if key not in _PRIMED:
        doc = _typed(PROGRAMS[name], dtype)
        cache = E.PlanCache()
        E.evaluate(copy.deepcopy(doc), cache=cache)
        k, _ = cache.key(doc, E.DEFAULT_LIMITS)
        program = cache.get(k)
        for _ in range(program.lower_at()):
            E.evaluate(copy.deepcopy(doc), cache=cache)
        program = cache.get(k)  # (the lowering stores the lowered Program anew)
        assert program.lowered, (name, dtype, E.lower.declined(program))
        calls: list = []
        fn = program.lowered.single

        def counted(*a, fn=fn, calls=calls):
            try:
                out = fn(*a)
            except GuardFailed:
                calls.append("guard")
                raise
            calls.append("ran")
            return out

        program.lowered.single = counted
        _PRIMED[key] = (doc, cache, calls)
    return _PRIMED[key]


def check(name, dtype, values):
    """The document with these leaf values: its cached answers (the lowered replay's, as a document and as the
    writer's bytes) are the full path's; the lowered function ran both times, or its guard declined both times,
    exactly where the values take the branch the recording did not."""
    doc, cache, calls = primed(name, dtype)
    twin = copy.deepcopy(doc)
    for leaf, v in values.items():
        twin["leaves"][leaf]["data"] = v
    full = _answer(lambda: E.evaluate(copy.deepcopy(twin)))
    del calls[:]
    assert _answer(lambda: E.evaluate(copy.deepcopy(twin), cache=cache)) == full
    assert _answer(lambda: E.evaluate_json(copy.deepcopy(twin), cache=cache)) == full
    guarded = GUARDED.get(name)
    other_branch = guarded is not None and bool(
        (np.asarray(values[guarded], dtype=np.float64).astype(dtype) == 0).any())
    assert calls == (["guard", "guard"] if other_branch else ["ran", "ran"]), (calls, values)


def _numbers(dtype):
    width = {"float16": 16, "float32": 32, "float64": 64}[dtype]
    return st.one_of(st.sampled_from(SPECIAL), st.sampled_from([-1.0, 0.0, 1.0, 2.0]),  # ties, often
                     st.floats(width=width, allow_nan=True, allow_infinity=True),
                     st.floats(-3, 3, width=width))


@st.composite
def cases(draw):
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    dtype = draw(st.sampled_from(DTYPES))
    doc = PROGRAMS[name]
    values = {}
    for leaf, spec in doc["leaves"].items():
        shape = np.asarray(spec["data"]).shape
        n = int(np.prod(shape))
        flat = draw(st.lists(_numbers(dtype), min_size=n, max_size=n))
        values[leaf] = np.asarray(flat, dtype=np.float64).reshape(shape).tolist()
    return name, dtype, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_lowered_replays_answer_as_the_full_path_for_any_values(case):
    check(*case)


def _like(name, fill):
    doc = PROGRAMS[name]
    return {leaf: np.full(np.asarray(spec["data"]).shape, fill).tolist() for leaf, spec in doc["leaves"].items()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_other_branches(name, dtype):
    """Each decision's other side, explicitly: all ties, a NaN, zeros and a -0.0 (cumprod's guard declines: the
    Program's own replay answers), a zero row / column (cosine_similarity's clamp), and ordinary values."""
    base = {leaf: (np.arange(np.prod(np.asarray(s["data"]).shape)) % 5 * 0.75 - 1.25).reshape(
        np.asarray(s["data"]).shape) for leaf, s in PROGRAMS[name]["leaves"].items()}
    check(name, dtype, {k: v.tolist() for k, v in base.items()})  # ordinary values (no zero: 0.75 steps from -1.25)
    check(name, dtype, _like(name, 1.5))  # every element tied
    check(name, dtype, _like(name, 0.0))  # all zeros
    for fill in (0.0, -0.0, float("nan"), float("inf")):
        for leaf, a in base.items():
            one = {k: v.copy() for k, v in base.items()}
            one[leaf].reshape(-1)[1] = fill  # one element
            check(name, dtype, {k: v.tolist() for k, v in one.items()})
            row = {k: v.copy() for k, v in base.items()}
            row[leaf][0, ...] = fill  # a whole row (dim 0's first)
            check(name, dtype, {k: v.tolist() for k, v in row.items()})
            if a.ndim >= 2:
                col = {k: v.copy() for k, v in base.items()}
                col[leaf][:, 0, ...] = fill  # a whole column
                check(name, dtype, {k: v.tolist() for k, v in col.items()})


def test_max_dim_double_backward_is_torchs_scatter():
    """max.dim's backward is torch's value_selecting_reduction_backward (zeros scattered with the gradient at the
    indices): under create_graph the gradient's grad_fn is ScatterBackward0 (UnsqueezeBackward0 beneath), as
    torch 2.13 answers (it was WhereBackward0), and its values and second gradient are torch's."""
    torch = pytest.importorskip("torch")
    data = [[1.0, -2.0, 3.0, 0.5], [4.0, 2.0, -1.0, 0.5], [0.0, 7.0, 3.0, 0.5]]
    for keepdim in (False, True):
        got, want = [], []
        for lib, out in ((engine, got), (torch, want)):
            x = lib.tensor(data, requires_grad=True)
            v, _ = lib.max(x, 0, keepdim=keepdim)
            g, = lib.autograd.grad((v * v).sum(), x, create_graph=True)
            g.sum().backward()
            out += [type(g.grad_fn).__name__, [type(f).__name__ for f, _ in g.grad_fn.next_functions],
                    g.tolist(), x.grad.tolist()]
        assert got == want


def test_a_guard_is_a_line_of_the_lowered_function():
    """cumprod's zero check is written into the lowered function as a guard on its input's variable, and
    min/max.dim's backward as entries on the indices (no constant mask), cosine_similarity's clamp as an entry."""
    src = {name: primed(name, "float32")[1] for name in ("cumsum_cumprod", "reductions", "norms_cosine")}
    lowered = {name: next(iter(c._programs.values())).lowered.source for name, c in src.items()}
    assert "# a guard: _has_zero was False" in lowered["cumsum_cumprod"]
    assert "# scatter.src in MaxBackward0" in lowered["reductions"]
    assert lowered["norms_cosine"].count("# clamp_min.nn") == 3  # cosine_similarity's two, normalize's


def test_a_recording_whose_moved_values_take_the_other_branch_still_lowers():
    """plans.lowered_checked moves the recording's values twice (a * -0.75 + 0.3125, a * 1.5 + 0.75): -0.5 moves to
    0 under the second, where cumprod's guard declines. That check is skipped (those values are the Program's own
    replay's), the other one made: the program lowers (it was declined for good: "lowering raised GuardFailed")."""
    doc = _doc({"x": (3,)}, [{"name": "c", "op": "cumprod", "args": ["x", 0]}], "c")
    doc["leaves"]["x"]["data"] = [1.5, -0.5, 0.25]
    cache = E.PlanCache()
    for _ in range(6):
        E.evaluate(copy.deepcopy(doc), cache=cache)
    program = next(iter(cache._programs.values()))
    assert program.lowered, E.lower.declined(program)
    for x in ([1.5, -0.5, 0.25], [0.0, 2.0, 3.0], [2.0, -0.0, 1.0], [0.5, 0.75, -3.0]):
        twin = copy.deepcopy(doc)
        twin["leaves"]["x"]["data"] = x
        assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == orjson.dumps(E.evaluate(copy.deepcopy(twin)))


@value_test
def _all_ones(a) -> bool:
    return bool((a == 1.0).all())


def _pick(input: Tensor) -> Tensor:
    """A catalog function that decides on values through a guard: exp where every element is 1, else sin."""
    return engine.exp(input) if decide(_all_ones, input) else engine.sin(input)


def test_a_guard_declines_exactly_the_values_that_take_the_other_branch(monkeypatch):
    """decide's guard in general (a catalog function of a test's): recorded on the sin side, the lowered function
    answers values on that side and declines those on the exp side, whose answers are the full path's; recorded on
    the exp side ([1, 1]), both checks at other values take the sin side: not checked, not lowered."""
    monkeypatch.setitem(OPS, "test_decide", _pick)
    doc = _doc({"x": (2,)}, [{"name": "y", "op": "test_decide", "args": ["x"]}], "y")
    doc["leaves"]["x"]["data"] = [0.5, 2.0]
    cache = E.PlanCache()
    for _ in range(6):
        E.evaluate(copy.deepcopy(doc), cache=cache)
    program = next(iter(cache._programs.values()))
    assert program.lowered, E.lower.declined(program)
    assert "# a guard: _all_ones was False" in program.lowered.source
    outcomes = []
    fn = program.lowered.single

    def counted(*a):
        try:
            out = fn(*a)
        except GuardFailed:
            outcomes.append("guard")
            raise
        outcomes.append("ran")
        return out

    program.lowered.single = counted
    for x, want in (([1.0, 1.0], "guard"), ([1.0, 3.0], "ran"), ([-2.0, 0.0], "ran")):
        twin = copy.deepcopy(doc)
        twin["leaves"]["x"]["data"] = x
        del outcomes[:]
        assert orjson.dumps(E.evaluate(copy.deepcopy(twin), cache=cache)) == orjson.dumps(
            E.evaluate(copy.deepcopy(twin)))
        assert outcomes == [want], (x, outcomes)
    doc["leaves"]["x"]["data"] = [1.0, 1.0]
    cache = E.PlanCache()
    for _ in range(6):
        E.evaluate(copy.deepcopy(doc), cache=cache)
    program = next(iter(cache._programs.values()))
    assert program.lowered is False and "guards declined both" in E.lower.declined(program)


def test_a_guard_that_declines_keeps_the_budgets_charge_and_limits():
    """A lowered replay charges the recorded run's cost at its start; with a guard, a document that takes the other
    branch costs that branch's (cumprod's input with a zero: 5504 flops in float32 where the recording's is 5544).
    Where its guard declines, the start's charge is taken back and the Program's own replay charges its ops
    (Program.run): under 1.5 runs' flops the document answers as the full path does under the same limit (charged
    twice it would not); under a limit between the two branches' costs it answers too (the start's charge refused
    it with the recording's cost: a refusal by it is not final where there are guards, nor on the text route,
    replay_json); under half a run both refuse it with the same error."""
    doc, cache, calls = primed("cumsum_cumprod", "float32")
    twin = copy.deepcopy(doc)
    twin["leaves"]["x"]["data"] = [0.5, 0.0, 2.0, 1.5, -1.0, 3.0, 0.25, -0.0]
    used = {}
    for name, d in (("recorded", doc), ("twin", twin)):
        probe = Budget()
        E.evaluate_json(copy.deepcopy(d), budget=probe)
        used[name] = probe.used_flops
    assert 0 < used["twin"] < used["recorded"], used
    between = (used["twin"] + used["recorded"]) / 2
    for limit in (1.5 * used["twin"], between, 0.5 * used["twin"]):
        del calls[:]
        got = _answer(lambda limit=limit: E.evaluate_json(copy.deepcopy(twin), cache=cache,
                                                          budget=Budget(max_flops=limit)))
        assert got == _answer(lambda limit=limit: E.evaluate_json(copy.deepcopy(twin), budget=Budget(max_flops=limit)))
        assert (type(got) is bytes) == (limit > used["twin"]), got
        assert calls == (["guard"] if limit > used["recorded"] else []), calls
    key, arrays = cache.key(twin, E.DEFAULT_LIMITS)
    assert E.replay_json(cache.get(key), arrays, Budget(max_flops=between)) is None  # the usual path answers
