"""Red team 7, F1: custom Functions that fan out (F_k applies F_{k-1} twice) are bounded before they run: their
expanded op count is refused past max_ops (413), counted into the estimate the service places requests by, and
every op of a Function's sub-program checks the deadline (ops that charge nothing never reach Budget.charge)."""
from __future__ import annotations

import time

import pytest

import engine
from engine.budget import Budget, DeadlinePassed
from engine.errors import LimitExceeded
from engine.program import Limits
from engine.program.shapes import estimate
from tests.engine.test_random_programs import check_against_torch


def fanout(depth: int, leaf_op: str = "detach") -> dict:
    """F0 = one `leaf_op`; F_k applies F_{k-1} twice; the program applies F_depth once: 2^depth leaf ops."""
    def fn(ops):
        return {"forward": {"inputs": ["x"], "ops": ops, "output": "y"},
                "backward": {"inputs": ["g"], "ops": [], "output": "g"}}
    fns = {"F0": fn([{"name": "y", "op": leaf_op, "args": ["x"]}])}
    for k in range(1, depth + 1):
        fns[f"F{k}"] = fn([{"name": "u", "op": f"F{k - 1}", "args": ["x"]},
                           {"name": "y", "op": f"F{k - 1}", "args": ["u"]}])
    return {"leaves": {"a": {"data": [1.0, 2.0], "requires_grad": True}}, "functions": fns,
            "ops": [{"name": "b", "op": f"F{depth}", "args": ["a"]}], "outputs": ["b"]}


def expanded(depth: int) -> int:
    """The program's ops once expanded, counted by walking the document (not by the engine's formula)."""
    spec = fanout(depth)

    def ops_of(name):
        return sum(1 + (ops_of(o["op"]) if o["op"] in spec["functions"] else 0)
                   for part in ("forward", "backward") for o in spec["functions"][name][part]["ops"])
    return sum(1 + (ops_of(o["op"]) if o["op"] in spec["functions"] else 0) for o in spec["ops"])


def test_a_fan_out_past_max_ops_is_refused_before_anything_runs():
    budget = Limits().budget()
    with pytest.raises(LimitExceeded) as e:  # 2^14 detach ops (3 x 2^14 ops in all): ran for seconds before
        engine.evaluate(fanout(14, "neg"), budget=budget)
    assert "max_ops" in e.value.msg and e.value.loc == ["body", "ops"]
    assert budget.used_flops == 2  # the leaf's two elements: no op ran


def test_the_whole_request_is_bounded_too():
    limits = Limits(max_ops=expanded(6) + 5)  # each Function fits; the request applies F6 three times
    spec = fanout(6)
    spec["ops"] = [{"name": n, "op": "F6", "args": ["a"]} for n in ("b", "c", "d")]
    spec["outputs"] = ["b"]
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(spec, limits=limits)
    assert "max_ops" in e.value.msg and e.value.loc == ["body", "ops"]
    spec["ops"] = spec["ops"][:1]
    assert engine.evaluate(spec, limits=limits)["tensors"]["b"]["data"] == [1.0, 2.0]


def test_a_function_past_max_ops_is_refused_where_it_is_defined_even_unapplied():
    spec = fanout(8)
    spec["ops"] = [{"name": "b", "op": "neg", "args": ["a"]}]
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(spec, limits=Limits(max_ops=expanded(5)))
    assert "max_ops" in e.value.msg and e.value.loc == ["body", "functions", "F6"]  # F5 fits, F6 not


def test_a_small_fan_out_still_answers_as_torch():
    check_against_torch(fanout(4, "neg"), engine.evaluate)


@pytest.mark.parametrize("depth", [3, 10])
def test_the_estimate_counts_the_expanded_ops(depth):
    assert estimate(fanout(depth))["ops"] == expanded(depth)


@pytest.mark.parametrize("leaf_op", ["detach", "flatten", "positive", "atleast_1d"])
def test_every_op_of_a_function_checks_the_deadline(leaf_op, monkeypatch):
    """Ops that charge nothing stopped only at the response (loc []), after running every op: now the op that
    saw the deadline is named, and the run stops there. The budget is cancelled (its deadline passed) by the
    100th op, not by a clock: the same on a loaded machine."""
    import engine.program.run as run_mod

    spec = fanout(11, leaf_op)  # 6,143 ops, under max_ops
    budget = Budget(deadline=time.monotonic() + 3600)
    ran, original = [0], run_mod.run_op

    def counted(*args, **kwargs):
        ran[0] += 1
        if ran[0] == 100:
            budget.cancel()
        return original(*args, **kwargs)

    monkeypatch.setattr(run_mod, "run_op", counted)
    with pytest.raises(DeadlinePassed) as e:
        engine.evaluate(spec, budget=budget)
    assert e.value.loc == ["body", "ops", 0], e.value.loc
    assert ran[0] <= 101, ran[0]


def _counting_run_op(monkeypatch):
    """engine.program.run.run_op wrapped to count the ops a request really runs."""
    import engine.program.run as run_mod

    ran, original = [0], run_mod.run_op

    def counted(*args, **kwargs):
        ran[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(run_mod, "run_op", counted)
    return ran


def self_applying(n_forward: int, n_backward: int) -> dict:
    """F's forward: n_forward ops; its backward applies F itself n_backward times (legal: exp's derivative is exp),
    so one backward pass runs ~n_forward * n_backward ops (found by the session's review: counted n + m before)."""
    fwd = [{"name": "y", "op": "mul", "args": ["x", 1.0]}] + [
        {"name": f"d{i}", "op": "detach", "args": ["x"]} for i in range(n_forward - 1)]
    bwd = [{"name": f"h{i}", "op": "F", "args": ["g"]} for i in range(n_backward)]
    return {"leaves": {"a": {"data": 1.0, "requires_grad": True}},
            "functions": {"F": {"forward": {"inputs": ["x"], "ops": fwd, "output": "y"},
                                "backward": {"inputs": ["g"], "ops": bwd, "output": "g"}}},
            "ops": [{"name": "b", "op": "F", "args": ["a"]}], "backward": [{"tensor": "b"}], "grads": ["a"]}


def test_a_function_its_own_backward_applies_counts_what_it_runs(monkeypatch):
    from engine.program.functions import expanded_ops

    spec = self_applying(30, 30)
    ran = _counting_run_op(monkeypatch)
    engine.evaluate(spec)
    assert expanded_ops(spec, 10_000) >= ran[0] > 30 * 30


def test_a_function_its_own_backward_applies_is_refused_past_max_ops():
    """100 x 100: counted 200 before (allowed), ran ~10,000 ops; now refused before anything runs."""
    with pytest.raises(LimitExceeded, match="max_ops"):
        engine.evaluate(self_applying(100, 100), limits=Limits(max_ops=5_000))


def test_the_count_does_not_depend_on_which_function_is_expanded_first():
    """Y's backward applies N_k; N_0 applies Y twice, N_j applies N_{j-1} twice; the request applies Y, then N_k.
    A count of N_k made while Y was open (Y forward-only) must not be reused for N_k applied on its own."""
    k, width = 3, 10
    fns = {"Y": {"forward": {"inputs": ["x"], "ops": [{"name": "y", "op": "mul", "args": ["x", 1.0]}] + [
        {"name": f"d{i}", "op": "detach", "args": ["x"]} for i in range(width - 1)], "output": "y"},
        "backward": {"inputs": ["g"], "ops": [{"name": "h", "op": f"N{k}", "args": ["g"]}], "output": "g"}}}
    for j in range(k + 1):
        inner = "Y" if j == 0 else f"N{j - 1}"
        fns[f"N{j}"] = {"forward": {"inputs": ["x"], "ops": [{"name": "p", "op": inner, "args": ["x"]},
                                                              {"name": "q", "op": inner, "args": ["p"]}],
                                    "output": "q"},
                        "backward": {"inputs": ["g"], "ops": [], "output": "g"}}
    from engine.program.functions import expanded_ops

    def spec(order):
        return {"leaves": {"a": {"data": 1.0, "requires_grad": True}}, "functions": fns,
                "ops": [{"name": f"o{i}", "op": f, "args": ["a"]} for i, f in enumerate(order)]}
    alone = expanded_ops(spec([f"N{k}"]), 10**9)
    assert expanded_ops(spec(["Y", f"N{k}"]), 10**9) > alone > 2 ** (k + 1) * width * 2 ** (k + 1)


def test_a_cached_program_replayed_step_by_step_checks_the_deadline_at_every_op():
    """The plan cache's step replay (a program that does not lower: here its ops are views and no-ops that charge
    nothing) checks the deadline before each op as the full path does: stopped at op 0 once it has passed."""
    from engine.program.plans import PlanCache

    ops = [{"name": "a", "op": "ones", "args": [2, 2]}]  # (no leaf: a leaf's charge would see the deadline first)
    ops += [{"name": f"t{i}", "op": "detach" if i % 2 else "flatten", "args": ["a" if i == 0 else f"t{i - 1}"]}
            for i in range(200)]
    spec = {"ops": ops, "outputs": ["t199"]}
    cache = PlanCache()
    for _ in range(3):
        engine.evaluate_json(spec, cache=cache)
    [program] = cache._programs.values()
    assert not program.lowered  # the step replay, not the lowered one
    budget = Budget(deadline=time.monotonic() - 1)
    with pytest.raises(DeadlinePassed) as e:
        engine.evaluate_json(spec, cache=cache, budget=budget)
    assert e.value.loc == ["body", "ops", 0], e.value.loc
