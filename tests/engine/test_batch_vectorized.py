"""engine.program.batch: documents of one structure answered by one call of their lowered function over stacked
values, each with the bytes its own evaluation writes (non-finite values, whole numbers, sci-mode and
fixed-point reprs, float32 and float64, mixed ranks, base64); programs that are not elementwise are refused
and answered alone; the check that catches a program wrongly taken for elementwise; batch.keys against
PlanCache.key."""
from __future__ import annotations

import copy
import math
import random

import numpy as np
import pytest

import engine
from engine.program import DEFAULT_LIMITS, PlanCache, batch
from tests.lowering import sight_until_lowered

SEED = {
    "leaves": {n: {"data": v, "requires_grad": True} for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0), ("d", 8.0),
                                                                   ("e", 10.0))},
    "ops": [{"name": "g", "op": "mul", "args": ["a", "b"]}, {"name": "d2", "op": "pow", "args": ["d", 2]},
            {"name": "cd2", "op": "mul", "args": ["c", "d2"]}, {"name": "h", "op": "div", "args": ["cd2", "e"]},
            {"name": "f", "op": "add", "args": ["g", "h"]}],
    "backward": [{"tensor": "f"}],
}

# values at every boundary of the writer and the repr: non-finite, zeros, whole numbers, the fixed-point range's
# ends, sci mode, float32's extremes
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -3.0, 2.5, 1e-4, 9.99e-5, 1e8, 1.00001e8, 1e-30, 3e38,
           -1e-45, 123456.789, 0.1, 7.0000001]


def docs_of(spec, n, rng, special=True, dtype_leaves=None):
    out = []
    for _ in range(n):
        d = copy.deepcopy(spec)
        for leaf in d["leaves"].values():
            leaf["data"] = _draw(leaf["data"], rng, special)
        out.append(d)
    return out


def _draw(like, rng, special):
    if isinstance(like, list):
        return [_draw(x, rng, special) for x in like]
    if special and rng.random() < 0.3:
        v = rng.choice(SPECIAL)
    else:
        v = rng.choice([rng.uniform(-10, 10), rng.uniform(-1e-3, 1e-3), float(rng.randint(-5, 5)),
                        rng.uniform(-1e9, 1e9)])
    if math.isnan(v) or math.isinf(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return v


def vectorized_vs_alone(spec, n=300, seed=0, special=True):
    """Run n documents vectorized and each alone through the plan cache; the bytes must be equal. Returns the
    number answered vectorized (0 where the program does not vectorize)."""
    rng = random.Random(seed)
    cache = PlanCache()
    warm = iter(docs_of(spec, 64, rng, special=False))
    sight_until_lowered(lambda: engine.evaluate_json(next(warm), cache=cache), cache)  # record, then lower
    docs = docs_of(spec, n, rng, special)
    keys = batch.keys(docs, cache, DEFAULT_LIMITS)
    groups: dict = {}
    for i, k in enumerate(keys):
        if k is not None:
            groups.setdefault(k[0], []).append(i)
    done = 0
    for key, idx in groups.items():
        program = cache.get(key)
        if program is None or not program.lowered:
            continue
        outs = batch.run(program, [keys[i][1] for i in idx])
        if outs is None:
            continue
        for i, out in zip(idx, outs):
            alone = engine.evaluate_json(docs[i], cache=cache)
            assert out == alone, (docs[i]["leaves"], out[:400], alone[:400])
            if i % 37 == 0:  # and, at some, the full path with no plan at all
                assert out == engine.evaluate_json(docs[i])
        done += len(outs)
    return done


def test_seed_at_every_boundary_value():
    assert vectorized_vs_alone(SEED, n=400) > 300  # documents with a "NaN" string leaf are keyed apart


def test_seed_plain_values_all_vectorized():
    assert vectorized_vs_alone(SEED, n=200, special=False) == 200


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_chain_both_dtypes(dtype):
    spec = {"leaves": {"x": {"data": 0.5, "dtype": dtype, "requires_grad": True},
                       "y": {"data": 1.5, "dtype": dtype, "requires_grad": True}},
            "ops": [{"name": "s", "op": "sin", "args": ["x"]}, {"name": "e", "op": "exp", "args": ["y"]},
                    {"name": "m", "op": "mul", "args": ["s", "e"]}, {"name": "t", "op": "tanh", "args": ["m"]},
                    {"name": "q", "op": "sqrt", "args": ["e"]}, {"name": "l", "op": "log", "args": ["q"]},
                    {"name": "z", "op": "sub", "args": ["t", "l"]}, {"name": "n", "op": "neg", "args": ["z"]},
                    {"name": "c", "op": "cos", "args": ["n"]}, {"name": "w", "op": "add", "args": ["c", "x"]},
                    {"name": "p", "op": "pow", "args": ["w", 3]}, {"name": "r", "op": "div", "args": ["p", "y"]}],
            "backward": [{"tensor": "r"}]}
    assert vectorized_vs_alone(spec, n=300, seed=1) > 200


def test_vectors_and_mixed_ranks_forward_only():
    spec = {"leaves": {"x": {"data": [[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]]}, "v": {"data": [1.0, -1.0, 0.5]},
                       "k": {"data": 2.0}},
            "ops": [{"name": "a", "op": "mul", "args": ["x", "v"]}, {"name": "b", "op": "add", "args": ["a", "k"]},
                    {"name": "c", "op": "sin", "args": ["b"]}]}
    assert vectorized_vs_alone(spec, n=150, seed=2) > 50


def test_base64_responses():
    spec = {**SEED, "encoding": "base64"}
    assert vectorized_vs_alone(spec, n=100, seed=3, special=False) == 100


@pytest.mark.parametrize("spec", [
    # a reduction: sum's forward and its backward's expand are not elementwise
    {"leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
     "ops": [{"name": "y", "op": "sin", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
     "backward": [{"tensor": "s"}]},
    # a matmul
    {"leaves": {"a": {"data": [[1.0, 2.0], [3.0, 4.0]]}, "b": {"data": [[0.5], [1.5]]}},
     "ops": [{"name": "c", "op": "mm", "args": ["a", "b"]}]},
    # a broadcast gradient summed back to its input's shape (w's, from (1,) to ())
    {"leaves": {"x": {"data": [1.0]}, "w": {"data": 0.5, "requires_grad": True}},
     "ops": [{"name": "y", "op": "mul", "args": ["x", "w"]}, {"name": "z", "op": "exp", "args": ["y"]}],
     "backward": [{"tensor": "z"}]},
], ids=["sum", "mm", "sum_to"])
def test_not_elementwise_is_answered_alone(spec):
    assert vectorized_vs_alone(spec, n=20, special=False) == 0


def test_the_check_catches_a_program_wrongly_taken_for_elementwise():
    spec = {"leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [{"name": "y", "op": "sin", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
            "backward": [{"tensor": "s"}]}
    rng = random.Random(5)
    cache = PlanCache()
    warm = iter(docs_of(spec, 64, rng, special=False))
    sight_until_lowered(lambda: engine.evaluate_json(next(warm), cache=cache), cache)
    docs = docs_of(spec, 10, rng, special=False)
    keys = batch.keys(docs, cache, DEFAULT_LIMITS)
    program = cache.get(keys[0][0])
    assert program.lowered and not batch.vectorizable(program)
    program.notes[batch.NOTE] = True  # as if the structural test had let it through
    assert batch.run(program, [k[1] for k in keys]) is None  # the batch sums across documents: caught
    assert program.notes[batch.NOTE] is False


def test_keys_equal_plan_cache_keys():
    rng = random.Random(7)
    cache = PlanCache()
    docs = docs_of(SEED, 30, rng) + [
        {**copy.deepcopy(SEED), "leaves": {**SEED["leaves"], "a": {"data": 2, "requires_grad": True}}},  # int
        {**copy.deepcopy(SEED), "leaves": {**SEED["leaves"], "a": {"data": [2.0], "requires_grad": True}}},
        {**copy.deepcopy(SEED), "leaves": {**SEED["leaves"], "a": {"data": True}}},
        {**copy.deepcopy(SEED), "ops": SEED["ops"][:-1] + [{"name": "f", "op": "add", "args": ["g", "h"],
                                                              "kwargs": {"alpha": 2}}]},
        {**copy.deepcopy(SEED), "ops": SEED["ops"][:1] + [{"name": "d2", "op": "pow", "args": ["d", 2.0]}]
         + SEED["ops"][2:]},  # 2.0, not 2: another program
        {**copy.deepcopy(SEED), "leaves": {**SEED["leaves"], "a": {"data": {"dtype": "float32", "shape": [],
                                                                              "b64": "AAAAQA=="}}}},
        5, "x", None, {"leaves": 3}, {"leaves": {"a": 3}}, {"leaves": {"a": {"dtype": "float32"}}},
    ]
    before = copy.deepcopy(docs)
    got = batch.keys(docs, cache, DEFAULT_LIMITS)
    assert docs == before  # the leaves' data, masked for a moment, are back
    for d, k in zip(docs, got):
        want = cache.key(d, DEFAULT_LIMITS) if type(d) is dict else None
        if want is None:
            assert k is None, d
        else:
            assert k[0] == want[0]
            assert all(type(a) is type(b) and np.array_equal(a, b, equal_nan=True) for a, b in zip(k[1], want[1]))
    assert len({k[0] for k in got[:30] if k is not None}) == 1
