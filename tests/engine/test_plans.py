"""engine.program.plans: the plan cache: a document run again through its recorded Program answers exactly as the
full path does for that document (values, grads, reprs, graph, warnings, errors), and is really taken."""
from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.examples import EXAMPLES
from engine.errors import EngineError, LimitExceeded
from tests.engine.test_random_programs import programs

E = importlib.import_module("engine.program")


def _outcome(spec, cache=None):
    try:
        return E.evaluate(copy.deepcopy(spec), cache=cache)
    except EngineError as e:
        return ("raised", type(e).__name__, e.msg, e.loc)


def _revalue(spec, seed):
    """The same structure, other leaf values: every number of every leaf's data redrawn (ints stay ints,
    floats floats, bools bools, so dtype inference and the key stay the same)."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(spec)

    def redraw(x):
        if isinstance(x, list):
            return [redraw(v) for v in x]
        if isinstance(x, bool):
            return bool(rng.integers(2))
        if isinstance(x, int):
            return int(rng.integers(-3, 4))
        if isinstance(x, float):
            return round(float(rng.uniform(-2, 2)), 3)
        return x

    for leaf in out.get("leaves", {}).values():
        if isinstance(leaf, dict) and "data" in leaf:
            leaf["data"] = redraw(leaf["data"])
    return out


def check_replay(spec, seed=1):
    """Prime a cache with `spec`, then evaluate a re-valued twin through it: the twin's answer must equal
    the full path's for the twin, and come from the Program (a hit that the replay answered)."""
    cache = E.PlanCache()
    first = _outcome(spec, cache)
    twin = _revalue(spec, seed)
    expected = _outcome(twin)
    key = cache.key(twin, E.DEFAULT_LIMITS)
    program = cache.get(key[0]) if key is not None else None
    replayed = program.run(copy.deepcopy(twin), key[1], E.DEFAULT_LIMITS) if program is not None else None
    got = _outcome(twin, cache)
    assert got == expected
    if replayed is not None:
        assert replayed == expected
    return first, program, replayed


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_replay_as_the_full_path(name):
    spec = EXAMPLES[name]["value"]
    first, program, replayed = check_replay(spec)
    if "functions" in spec:  # a request's custom Functions are its own: never recorded, never replayed
        assert program is None
    elif isinstance(first, dict):  # a success stores a program, and its twin is answered by it
        assert program is not None and replayed is not None
    else:  # an error stores nothing
        assert program is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31))
def test_random_programs_replay_as_the_full_path(spec, seed):
    first, program, replayed = check_replay(spec, seed)
    if isinstance(first, dict):
        assert program is not None and replayed is not None


def test_the_program_is_taken_and_skips_the_checks(monkeypatch):
    spec = EXAMPLES["leaf_grads"]["value"]
    cache = E.PlanCache()
    E.evaluate(copy.deepcopy(spec), cache=cache)
    E.evaluate(_revalue(spec, 2), cache=cache)  # the first replay: the Program's own (lowered later: test_lower)
    calls = []
    entry = importlib.import_module("engine.program.evaluate")  # where the full path checks a document's fields
    real = entry.check_fields
    monkeypatch.setattr(entry, "check_fields", lambda *a: calls.append(1) or real(*a))
    out = E.evaluate(_revalue(spec, 3), cache=cache)
    assert calls == [] and cache.hits == 2 and cache.misses == 1
    assert out == E.evaluate(_revalue(spec, 3))
    assert calls  # the full path does check


def _doc(data, ops, dtype=None, **top):
    leaf = {"data": data, "requires_grad": dtype is None or dtype.startswith("float")}
    if dtype:
        leaf["dtype"] = dtype
    return {"leaves": {"x": leaf}, "ops": ops, **top}


def test_value_dependent_shapes_fall_back_to_the_full_path():
    ops = [{"name": "m", "op": "gt", "args": ["x", 0]}, {"name": "y", "op": "getitem", "args": ["x", "m"]},
           {"name": "s", "op": "sum", "args": ["y"]}]
    cache = E.PlanCache()
    E.evaluate(_doc([1.0, -1.0, 2.0], ops, backward=[{"tensor": "s"}]), cache=cache)
    twin = _doc([1.0, 1.0, 2.0], ops, backward=[{"tensor": "s"}])
    key, arrays = cache.key(twin, E.DEFAULT_LIMITS)
    assert cache.get(key).run(copy.deepcopy(twin), arrays, E.DEFAULT_LIMITS) is None  # shape (2,) became (3,)
    out = E.evaluate(copy.deepcopy(twin), cache=cache)
    assert out == E.evaluate(copy.deepcopy(twin)) and out["tensors"]["y"]["shape"] == [3]


def test_value_dependent_errors_are_the_full_paths():
    cache = E.PlanCache()
    E.evaluate(_doc([1, 2], [], dtype="int32"), cache=cache)  # int32 data: overflow depends on the values
    bad = _doc([1, 2**40], [], dtype="int32")
    assert _outcome(bad, cache) == _outcome(bad) and _outcome(bad)[0] == "raised"
    def indexed(ix):
        return {"leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}, "i": {"data": ix}},
                "ops": [{"name": "y", "op": "getitem", "args": ["x", "i"]}, {"name": "s", "op": "sum", "args": ["y"]}],
                "backward": [{"tensor": "s"}]}

    E.evaluate(indexed([0, 2]), cache=cache)
    out = _outcome(indexed([0, 5]), cache)  # an index out of range: torch's IndexError, at the op
    assert out == _outcome(indexed([0, 5])) and out[:2] == ("raised", "IndexError") and out[3] == ["body", "ops", 0]
    assert _outcome(indexed([2, 2]), cache) == _outcome(indexed([2, 2]))


def test_keys_tell_structures_apart():
    cache = E.PlanCache()
    lim = E.DEFAULT_LIMITS
    k = [cache.key(d, lim)[0] for d in (_doc(2.0, []), _doc(2, []), _doc([2.0], []), _doc(2.0, [], "float64"),
                                       _doc(2.0, [], seed=1), _doc(2.0, [], seed=2))]
    assert len(set(k)) == len(k)
    assert cache.key(_doc(3.5, []), lim)[0] == k[0]  # only the value differs
    assert cache.key(_doc(2.0, []), E.Limits(max_ops=5))[0] != k[0]
    for uncacheable in (_doc("NaN", []), _doc({"dtype": "float32", "shape": [], "b64": "AAAAQA=="}, []),
                        _doc([[1.0], [2.0, 3.0]], []), {"leaves": [], "ops": []}):
        assert cache.key(uncacheable, lim) is None


def test_warnings_and_seeded_randomness_replay():
    spec = {"leaves": {"x": {"data": [[1.0, 2.0], [3.0, 4.0]], "requires_grad": True}},
            "ops": [{"name": "r", "op": "rand", "args": [[2, 2]]},
                    {"name": "y", "op": "mul", "args": ["x", "r"]},
                    {"name": "s", "op": "sum", "args": ["y"]}],
            "backward": [{"tensor": "s"}], "grads": ["x", "y"], "seed": 7}
    first, program, replayed = check_replay(spec)
    assert replayed is not None and replayed["warnings"] and replayed["warnings"] == first["warnings"]


def test_cache_is_bounded():
    cache = E.PlanCache(max_entries=3, max_key_bytes=2000)
    for k in range(5):
        E.evaluate(_doc(1.0, [{"name": f"y{k}", "op": "exp", "args": ["x"]}]), cache=cache)
    assert len(cache) == 3
    big = _doc(1.0, [{"name": f"y{k}", "op": "exp", "args": ["x"]} for k in range(60)])
    E.evaluate(big, cache=cache)
    assert cache.key(big, E.DEFAULT_LIMITS) is None and len(cache) == 3
    many_leaves = {"leaves": {f"x{i}": {"data": 1.0} for i in range(200)}, "ops": []}
    assert cache.key(many_leaves, E.DEFAULT_LIMITS) is None  # leaves count against max_key_bytes too
    by_bytes = E.PlanCache(max_entries=100, max_bytes=1500)
    for k in range(10):
        E.evaluate(_doc(1.0, [{"name": f"y{k}", "op": "exp", "args": ["x"]}]), cache=by_bytes)
    assert 1 <= len(by_bytes) < 10 and by_bytes._bytes <= 1500


def test_least_recently_used_goes_first():
    cache = E.PlanCache(max_entries=2)
    docs = [_doc(1.0, [{"name": f"y{k}", "op": "exp", "args": ["x"]}]) for k in range(3)]
    E.evaluate(docs[0], cache=cache)
    E.evaluate(docs[1], cache=cache)
    E.evaluate(docs[0], cache=cache)  # a hit: docs[0] is now the most recent
    E.evaluate(docs[2], cache=cache)  # evicts docs[1]
    kept = [cache.get(cache.key(d, E.DEFAULT_LIMITS)[0]) is not None for d in docs]
    assert kept == [True, False, True]


def test_touch_moves_a_hit_to_the_end_and_keeps_the_last_where_it_is():
    """PlanCache.touch (the text route's hit, app/services/bytext.py): a hit becomes the most recent, whether it was
    the least recent or already the most recent (then nothing moves), and the least recent goes first."""
    cache = E.PlanCache(max_entries=2)
    docs = [_doc(1.0, [{"name": f"y{k}", "op": "exp", "args": ["x"]}]) for k in range(4)]
    keys = [cache.key(d, E.DEFAULT_LIMITS)[0] for d in docs]
    E.evaluate(docs[0], cache=cache)
    E.evaluate(docs[1], cache=cache)
    hits = cache.hits
    assert cache.touch(keys[1]) is cache.get(keys[1])  # the most recent already
    assert list(cache._programs) == [keys[0], keys[1]]
    assert cache.touch(keys[0]) is not None  # the least recent: now the most recent
    assert list(cache._programs) == [keys[1], keys[0]]
    assert cache.touch(keys[0]) is not None and list(cache._programs) == [keys[1], keys[0]]
    assert cache.hits == hits + 3
    assert cache.touch(keys[3]) is None and cache.misses >= 1
    E.evaluate(docs[2], cache=cache)  # evicts docs[1], the least recent
    assert [cache.get(k) is not None for k in keys[:3]] == [True, False, True]


def test_a_lowered_replay_ignores_float_errors_and_restores_the_callers_state():
    """plans._call_lowered runs the lowered function under np.errstate(all="ignore") (whatever the caller's state:
    its buffer size and error callback kept, as errstate keeps them) and puts the caller's state back after,
    also where the function raises."""
    from engine.program import plans

    seen = []

    class Low:
        scalar_leaves = False
        leaf_np = (np.dtype(np.float32),)
        caller = None

        @staticmethod
        def single(x):  # (the function a single request runs: Lowered.single)
            seen.append((np.geterr(), np.getbufsize(), np.geterrcall(), float(np.float32(3e38) * x)))
            if len(seen) == 3:
                raise ValueError("a replay that raises")
            return x

    def state():
        return np.geterr(), np.getbufsize(), np.geterrcall()

    ignore = {"divide": "ignore", "over": "ignore", "under": "ignore", "invalid": "ignore"}
    with np.errstate(over="raise", invalid="raise"):
        before = state()
        plans._call_lowered(Low, [10.0])  # the overflow of 3e38 * 10 in float32: ignored, not raised
        assert state() == before
        assert seen[-1][:3] == (ignore, before[1], before[2]) and seen[-1][3] == float("inf")
    old_size = np.getbufsize()
    np.setbufsize(16384)
    try:
        with np.errstate(call=print, all="call"):
            before = state()
            plans._call_lowered(Low, [1.0])  # another base state: the ignoring state made afresh from it
            assert seen[-1][:3] == (ignore, 16384, print) and state() == before
            with pytest.raises(ValueError, match="a replay that raises"):
                plans._call_lowered(Low, [1.0])
            assert state() == before
    finally:
        np.setbufsize(old_size)


@pytest.mark.parametrize("scalars", [True, False])
def test_a_lowered_replays_leaves_are_converted_as_before(scalars):
    """plans._caller's written-out conversion of a replay's leaves (one expression a leaf) gives the leaves
    _call_generic gives (its loop: make_tensor's conversion), type, dtype, shape and bits, for every kind of leaf
    a key holds (a float, float / integer / bool arrays) into float32 and float64; integer and float16 leaves keep
    _call_generic itself. (2**60 + 2**36 + 1: an integer that float32 rounds otherwise than through a double.)"""
    from engine.program import plans

    class Low:
        scalar_leaves = scalars
        caller = None

        @staticmethod
        def single(*xs):  # (Lowered.single)
            return xs

    leaves = [0.1, -0.0, 1e300, np.array([0.1, -2.5, 1e-320]), np.array([3, -4, 2**53 + 1, 2**60 + 2**36 + 1]),
              np.array([True, False]), np.array([[1.5, 2.5], [3.5, 4.5]]), np.array(7), 16777217.0]
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    for dtypes in ([f32] * len(leaves), [f64] * len(leaves), [f32, f64] * 4 + [f32]):
        Low.leaf_np = tuple(dtypes)
        caller = plans._caller(Low.leaf_np, scalars)
        assert caller is not plans._call_generic
        with np.errstate(all="ignore"):
            got, want = caller(Low, leaves), plans._call_generic(Low, leaves)
        assert len(got) == len(want) == len(leaves)
        for g, w in zip(got, want):
            assert type(g) is type(w) and g.dtype == w.dtype and np.shape(g) == np.shape(w)
            assert np.asarray(g).tobytes() == np.asarray(w).tobytes()
    for other in ((f32, np.dtype(np.int64)), (np.dtype(np.float16),), (np.dtype(np.bool_), f32)):
        assert plans._caller(other, scalars) is plans._call_generic


def test_field_types_are_part_of_the_key():
    """1, 1.0 and True compare equal in Python; as requests they differ (requires_grad must be a bool)."""
    cache = E.PlanCache()
    ops = [{"name": "s", "op": "sum", "args": ["x"]}]
    ok = {"leaves": {"x": {"data": [1.0], "requires_grad": True}}, "ops": ops, "backward": [{"tensor": "s"}]}
    E.evaluate(ok, cache=cache)
    for bad in (1, 1.0):
        doc = copy.deepcopy(ok)
        doc["leaves"]["x"]["requires_grad"] = bad
        assert _outcome(doc, cache) == _outcome(doc) and _outcome(doc)[0] == "raised"


def test_replay_keeps_the_413_guard_of_value_dependent_sizes():
    """one_hot without num_classes sizes its output by the values: the replay checks the bound before the
    op allocates, as the full path does (tracemalloc sees NumPy's allocations)."""
    import tracemalloc  # noqa: PLC0415

    lim = E.Limits(max_tensor_elements=1000)

    def doc(i):
        return {"leaves": {"i": {"data": [i]}}, "ops": [{"name": "h", "op": "one_hot", "args": ["i"]}]}

    cache = E.PlanCache()
    E.evaluate(doc(3), limits=lim, cache=cache)
    key, arrays = cache.key(doc(3_000_000), lim)
    assert [st.op for st in cache.get(key).steps] == ["one_hot"]  # marked for the guard on replay
    seed = E.PlanCache()
    E.evaluate(EXAMPLES["leaf_grads"]["value"], cache=seed)
    assert all(st.op is None for p in seed._programs.values() for st in p.steps)  # shape-only bounds
    tracemalloc.start()
    try:
        assert cache.get(key).run(doc(3_000_000), arrays, lim) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the 12 MB one-hot row was never allocated
    with pytest.raises(LimitExceeded):
        E.evaluate(doc(3_000_000), limits=lim, cache=cache)


def test_programs_do_not_share_the_callers_document():
    cache = E.PlanCache()
    first = {"leaves": {"x": {"data": [1.0], "requires_grad": True}},
             "ops": [{"name": "y", "op": "mul", "args": ["x", 2.0]}],
             "backward": [{"tensor": "y", "gradient": [1.0]}]}
    E.evaluate(first, cache=cache)
    first["backward"][0]["gradient"][0] = 7.0  # the caller reuses its dict
    first["ops"][0]["args"][1] = 5.0
    again = {"leaves": {"x": {"data": [3.0], "requires_grad": True}},
             "ops": [{"name": "y", "op": "mul", "args": ["x", 2.0]}],
             "backward": [{"tensor": "y", "gradient": [1.0]}]}
    out = E.evaluate(copy.deepcopy(again), cache=cache)
    assert cache.hits == 1 and out == E.evaluate(again) and out["tensors"]["x"]["grad"] == [2.0]


@pytest.mark.parametrize("value", [-1.0, 0.0, 1e-7, 3e9])
def test_zero_d_values_replay_as_the_full_path(value):
    """Single values are read once for data and repr on replay: NaN, -inf, sci-mode and plain ones
    (log of -1, 0, 1e-7 and 3e9) all come out as the full path writes them."""
    def doc(v):
        return {"leaves": {"x": {"data": v, "requires_grad": True}, "n": {"data": 3}},
                "ops": [{"name": "y", "op": "log", "args": ["x"]}, {"name": "m", "op": "mul", "args": ["n", 2]}],
                "backward": [{"tensor": "y"}]}

    cache = E.PlanCache()
    E.evaluate(doc(2.0), cache=cache)
    key, arrays = cache.key(doc(value), E.DEFAULT_LIMITS)
    replayed = cache.get(key).run(doc(value), arrays, E.DEFAULT_LIMITS)
    assert replayed is not None and replayed == E.evaluate(doc(value))
