"""engine.budget: a request's limits hold before the work is paid for, on every path (full, replayed, lowered),
its deadline stops it between ops, and nothing of one request's state reaches another's."""
from __future__ import annotations

import copy
import threading
import time
import tracemalloc

import numpy as np
import pytest

import engine
from app.examples import EXAMPLES
from engine.budget import Budget, DeadlinePassed, Spill, set_process_limit
from engine.errors import LimitExceeded
from engine.program import Limits, PlanCache
from tests.lowering import sight_until_lowered


def _randn(*names, seed=None):
    doc = {"leaves": {}, "ops": [{"name": n, "op": "randn", "args": [4]} for n in names]}
    if seed is not None:
        doc["seed"] = seed
    return doc


def _data(out, name):
    return out["tensors"][name]["data"]


def test_each_request_draws_from_its_own_stream():
    seeded = engine.evaluate(_randn("r1", "r2", seed=42))
    assert engine.evaluate(_randn("r1", seed=42))["tensors"]["r1"] == seeded["tensors"]["r1"]  # reproducible
    # an unseeded request after a seeded one does not go on with the seeded stream (its next draw, r2 above)
    after = _data(engine.evaluate(_randn("r")), "r")
    assert after != _data(seeded, "r2")
    assert after != _data(engine.evaluate(_randn("r")), "r")  # and two unseeded ones differ


def test_a_request_leaves_the_librarys_generator_alone():
    engine.manual_seed(7)
    expected = engine.randn(5).tolist()
    engine.manual_seed(7)
    engine.evaluate(_randn("r", seed=1))
    engine.evaluate(_randn("r"))
    assert engine.randn(5).tolist() == expected


def _chain(n_ops, size):
    ops = [{"name": "y0", "op": "sin", "args": ["x"]}]
    ops += [{"name": f"y{i}", "op": "sin", "args": [f"y{i - 1}"]} for i in range(1, n_ops)]
    return {"leaves": {"x": {"data": [0.5] * size}}, "ops": ops, "outputs": [f"y{n_ops - 1}"]}


def test_a_cancelled_run_stops_at_its_next_op():
    doc = _chain(3000, 20_000)
    budget = Limits().budget()
    threading.Timer(0.05, budget.cancel).start()
    with pytest.raises(DeadlinePassed) as e:
        engine.evaluate(doc, budget=budget)
    assert e.value.loc[:2] == ["body", "ops"]
    done = budget.used_flops / (10 * 20_000)  # sin is charged ten flops an element (the default rule)
    assert done < 3000 * 0.9, "the run went on after its cancellation"


def test_a_passed_deadline_stops_the_run_before_its_first_op():
    budget = Limits().budget(deadline=time.monotonic() - 1)
    with pytest.raises(DeadlinePassed) as e:
        engine.evaluate(_chain(3, 10), budget=budget)
    assert e.value.loc == ["body", "leaves", "x"] and budget.used_flops == 0


def test_request_bytes_are_refused_at_the_op_that_would_pass_them():
    limits = Limits(max_request_bytes=10 * 1024 * 1024)
    doc = {"leaves": {"x": {"data": [1.0] * 1_000_000}},
           "ops": [{"name": "a", "op": "exp", "args": ["x"]}, {"name": "b", "op": "exp", "args": ["a"]}],
           "outputs": []}  # 4 MB each: x and a fit in 10 MB, b would not
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(doc, limits=limits)
    assert "max_request_bytes" in e.value.msg and e.value.loc == ["body", "ops", 1]
    assert engine.evaluate({**doc, "ops": doc["ops"][:1]}, limits=limits)["tensors"] == {}


def test_the_process_budget_is_shared_by_its_requests():
    doc = {"leaves": {"x": {"data": [1.0] * 100_000}}, "ops": [{"name": "a", "op": "exp", "args": ["x"]}]}
    set_process_limit(100_000)  # bytes: less than the leaf: past it alone, 413 (a retry cannot pass, redteam12 F5)
    try:
        with pytest.raises(LimitExceeded, match="max_process_bytes"):
            engine.evaluate(doc)
    finally:
        set_process_limit(0)
    assert engine.evaluate(doc)["tensors"]["a"]["shape"] == [100_000]


def test_past_the_caps_of_where_it_runs_a_run_spills():
    small = EXAMPLES["leaf_grads"]["value"]
    assert engine.evaluate(copy.deepcopy(small), budget=Limits().budget(spill_flops=1e4))["tensors"]
    with pytest.raises(Spill):
        engine.evaluate(_chain(2, 10_000), budget=Limits().budget(spill_flops=1e4))


def test_every_backward_pass_is_charged():
    doc = {"leaves": {"x": {"data": [1.0] * 1000, "requires_grad": True}},
           "ops": [{"name": "y", "op": "exp", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
           "backward": [{"tensor": "s", "retain_graph": True}] * 2000}
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(doc, limits=Limits(max_flops=1e6))
    assert "max_flops" in e.value.msg and e.value.loc[:2] == ["body", "backward"]
    assert engine.evaluate({**doc, "backward": doc["backward"][:2]}, limits=Limits(max_flops=1e6))["tensors"]


def test_the_response_size_is_bounded_before_it_is_written():
    doc = {"leaves": {"a": {"data": [1.0]}}, "ops": [{"name": "e", "op": "expand", "args": ["a", [1_000_000]]}]}
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded) as e:
            engine.evaluate(doc, limits=Limits(max_response_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "max_response_bytes" in e.value.msg and e.value.loc == ["body", "outputs"]
    assert peak < 1 << 20  # nothing of the 1,000,000 numbers was written
    assert engine.evaluate({**doc, "outputs": ["a"]}, limits=Limits(max_response_bytes=1 << 20))


def test_a_lowered_replay_charges_its_recorded_cost():
    spec = EXAMPLES["leaf_grads"]["value"]
    cache = PlanCache()
    sight_until_lowered(lambda: engine.evaluate(copy.deepcopy(spec), cache=cache), cache, after=1)  # record,
    # replay until it recurs and is lowered, replay lowered
    (program,) = cache._programs.values()
    assert program.lowered and program.cost[1] > 0
    budget = Limits().budget()
    engine.evaluate(copy.deepcopy(spec), cache=cache, budget=budget)
    assert budget.used_flops >= program.cost[1]
    with pytest.raises(Spill):
        engine.evaluate(copy.deepcopy(spec), cache=cache, budget=Budget(spill_flops=program.cost[1] / 2))


def _same(got, want):
    assert got == want


def test_a_lowered_replay_keeps_the_one_op_cap():
    """The lowered replay charges its recorded cost at once, and runs as one uninterruptible call: where that
    whole cost passes op_max_flops (each op alone within it), the program does not lower (the limits' cap) or
    the Program's own replay answers instead, op by op (a budget's cap): as the full path, no 413 nor spill."""
    x = np.arange(256, dtype=float).reshape(16, 16) / 256
    doc = {"leaves": {"x": {"data": x.tolist(), "requires_grad": True}},
           "ops": [{"name": "y", "op": "matmul", "args": ["x", "x"]}, {"name": "z", "op": "matmul", "args": ["y", "x"]},
                   {"name": "s", "op": "sum", "args": ["z"]}],
           "backward": [{"tensor": "s"}], "outputs": ["s"]}
    cache = PlanCache()
    sight_until_lowered(lambda: engine.evaluate(copy.deepcopy(doc), cache=cache), cache, after=1)
    (program,) = cache._programs.values()
    assert program.lowered
    cap = program.cost[1] * 0.6  # above each op's cost, below the whole program's
    want = engine.evaluate(copy.deepcopy(doc), budget=Budget(op_max_flops=cap))
    assert engine.evaluate(copy.deepcopy(doc), cache=cache, budget=Budget(op_max_flops=cap)) == want
    assert engine.evaluate(copy.deepcopy(doc), cache=cache, budget=Budget(spill_op_flops=cap)) == want
    limits = Limits(op_max_flops=cap)
    capped = PlanCache()
    sight_until_lowered(lambda: _same(engine.evaluate(copy.deepcopy(doc), cache=capped, limits=limits), want),
                        capped, after=2)
    (program,) = capped._programs.values()
    assert program.lowered is False and "op_max_flops" in program.notes["declined"]


def test_the_plan_cache_never_answers_with_another_requests_values():
    spec = EXAMPLES["leaf_grads"]["value"]
    cache = PlanCache()
    rng = np.random.default_rng(0)
    for _ in range(12):
        doc = copy.deepcopy(spec)
        for leaf in doc["leaves"].values():
            leaf["data"] = float(rng.uniform(-3, 3))
        assert engine.evaluate(copy.deepcopy(doc), cache=cache) == engine.evaluate(doc)


def test_grads_accumulated_in_place_are_counted_once():
    # each retain_graph pass adds into the leaf's grad in place: one array, whatever the number of passes (it
    # was tracked again at each pass: +1 MB of live bytes a pass, a 413 at the 8th pass of a 2000^2 matmul)
    doc = {"ops": [{"name": "x", "op": "ones", "args": [500, 500], "kwargs": {"requires_grad": True}},
                   {"name": "y", "op": "matmul", "args": ["x", "x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
           "outputs": ["s"]}
    peaks = []
    for n in (1, 8):
        b = Budget()
        engine.evaluate({**doc, "backward": [{"tensor": "s", "retain_graph": True}] * n}, budget=b)
        peaks.append(b.peak)
    assert peaks[1] - peaks[0] <= 500 * 500 * 4, peaks  # at most one more grad-sized temporary, not 7


def test_a_response_being_written_is_held_in_the_process_budget_not_the_loops_caps():
    # an 8 MB answer to a 100-byte request: writing it takes Python's numbers and the text (~88 MB), held in the
    # process's budget until the request ends (16 threads writing such answers once held 600 MiB no budget saw)
    doc = {"ops": [{"name": "a", "op": "ones", "args": [1]}, {"name": "e", "op": "expand", "args": ["a", 2_000_000]}],
           "outputs": ["e"]}
    set_process_limit(64 << 20)
    try:
        with pytest.raises(LimitExceeded, match="max_process_bytes"):  # past it alone: 413 (redteam12 F5)
            engine.evaluate(copy.deepcopy(doc))
    finally:
        set_process_limit(0)
    with pytest.raises(LimitExceeded, match="max_request_bytes"):
        engine.evaluate(copy.deepcopy(doc), budget=Limits(max_request_bytes=64 << 20).budget())
    assert len(engine.evaluate(copy.deepcopy(doc))["tensors"]["e"]["data"]) == 2_000_000
    # and it is no tensor: a small answer does not push a tiny request past the caps of the event loop
    small = EXAMPLES["leaf_grads"]["value"]
    assert engine.evaluate(copy.deepcopy(small), budget=Limits().budget(spill_bytes=4096 * 8))["tensors"]
