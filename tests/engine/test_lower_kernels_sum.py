"""engine.program.kernels' small full sums (sum's forward, the lowered backward's sum to a 0-d shape, mean's
forward) and its binary_cross_entropy_with_logits forward: the entry's bits (values, dtype, type, shape) on every
input, the sums torch's as well (live torch 2.13: float32 / float64, 1 to 64 values, NaN, infinities, -0.0, subnormals,
overflow); programs using them answer as the full path."""
from __future__ import annotations

import copy
import importlib
import re

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine  # noqa: F401 - the op table
from engine.ops import _torch_sum as TS
from engine.ops import registry
from engine.ops.registry import REGISTRY
from engine.program import kernels as K
from engine.program.kernels import kernel, sum_to_kernel
from tests.lowering import sight_until_lowered

torch = pytest.importorskip("torch")
E = importlib.import_module("engine.program")
assert torch.__version__.startswith("2.13"), torch.__version__

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-45, 3.4e38, -3.4e38, 1e308, -1e308, 5e-324, 1.0, -1.0,
           16777216.0, 1e-8, -3.0]


def _same_bits(got, want):
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes(), (got, want)


def _values(dtype):
    width = 32 if dtype == np.float32 else 64
    return st.one_of(st.floats(width=width, allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL),
                     st.floats(-30, 30, width=width))


@st.composite
def small_arrays(draw, max_n=64):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(1, max_n))
    with np.errstate(all="ignore"):  # 1e308 as float32 is inf
        a = draw(hnp.arrays(dtype, n, elements=_values(dtype)))
    shape = draw(st.sampled_from([(n,), (1, n)] + ([(2, n // 2)] if n % 2 == 0 else [])))
    a = a.reshape(shape)
    if draw(st.booleans()) and a.shape[-1] > 1:
        a = a[..., ::-1]  # a reversed view: not C-contiguous, the entry's
    return a


def _torch_sum(a):
    return torch.from_numpy(np.ascontiguousarray(a)).sum().numpy()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_arrays())
def test_sum_kernels_are_the_entry_and_torch(a):
    op = REGISTRY["sum"]
    k = kernel(op)
    assert k is not op.forward
    to = sum_to_kernel(registry._SUM_TO[1])
    with np.errstate(all="ignore"):  # as a lowered program runs
        want = op.forward(a)
        _same_bits(k(a), want)
        _same_bits(to(a, ()), registry._SUM_TO[1](a, ()))
        _same_bits(k(a), to(a, ()))
    if not a.flags.c_contiguous:  # (a reversed view: torch holds no negative strides; the entry's np.sum)
        return
    t = _torch_sum(a)
    if np.isnan(t):  # a NaN's sign and payload are _lane_nan's, the entry's (held to torch in test_torch_bits)
        assert np.isnan(want)
    else:
        assert want.tobytes() == t.tobytes(), (a, want, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_small_sums_on_many_values(dtype):
    """Every size the kernel takes and past it (1 to 64), 200 arrays each of mixed magnitudes (the roundings
    that order decides), signed zeros and specials: small_full_sum is full_sum and torch's sum bit for bit, or
    declines (past its size, a NaN sum)."""
    rng = np.random.default_rng(11)
    special = np.array(SPECIAL, dtype) if dtype == np.float64 else np.array(SPECIAL, np.float64).astype(dtype)
    taken = 0
    with np.errstate(all="ignore"):
        for n in range(1, 65):
            for trial in range(200):
                kind = trial % 4
                if kind == 0:
                    a = rng.standard_normal(n).astype(dtype)
                elif kind == 1:
                    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n)).astype(dtype)
                elif kind == 2:
                    a = rng.choice(special, n)
                else:
                    a = rng.choice(np.array([0.0, -0.0, 1.0, -1.0], dtype), n)
                got = K.small_full_sum(a)
                want = TS.full_sum(a)
                t = _torch_sum(a)
                if got is None:
                    assert n > K.SMALL_SUM_MAX[a.dtype.char] or np.isnan(want)
                    continue
                taken += 1
                _same_bits(got, want)
                assert got.tobytes() == t.tobytes(), (a, got, t)
    assert taken > 1500


@pytest.mark.parametrize("a", [np.array([1, -2, 3]), np.array([True, False]), np.array([0.5, -1.5], np.float16),
                               np.arange(12.0).reshape(3, 4)[:, ::2], np.array(2.5), np.arange(40.0),
                               np.array([1 + 2j, 3j])])
def test_sum_kernels_hand_other_inputs_to_the_entry(a):
    op = REGISTRY["sum"]
    _same_bits(kernel(op)(a), op.forward(a))
    if a.ndim:
        _same_bits(sum_to_kernel(registry._SUM_TO[1])(a, ()), registry._SUM_TO[1](a, ()))
    b = np.ones((2, 3), np.float32)
    _same_bits(sum_to_kernel(registry._SUM_TO[1])(b, (3,)), registry._SUM_TO[1](b, (3,)))  # not to 0-d


def test_sum_kernel_follows_max_elements(monkeypatch):
    """_torch_sum.MAX_ELEMENTS sends larger sums to np.sum: the kernel's sizes then go there as well."""
    a = (np.random.default_rng(3).standard_normal(9) * 1e4).astype(np.float32)
    monkeypatch.setattr(TS, "MAX_ELEMENTS", 4)
    monkeypatch.setattr(K, "_SUMS", {})
    op = REGISTRY["sum"]
    _same_bits(kernel(op)(a), op.forward(a))
    assert K.small_full_sum(a) is None


# ----- mean -----


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_arrays())
def test_mean_kernel_is_the_entry_and_torch(a):
    op = REGISTRY["mean"]
    k = kernel(op)
    assert k is not op.forward
    with np.errstate(all="ignore"):  # as a lowered program runs
        want = op.forward(a)
        _same_bits(k(a), want)
        _same_bits(k(a, None), op.forward(a, None))
    if not a.flags.c_contiguous:
        return
    t = torch.from_numpy(np.ascontiguousarray(a)).mean().numpy()
    if np.isnan(t):  # a NaN's sign and payload: the sum's (see test_sum_kernels_are_the_entry_and_torch)
        assert np.isnan(want)
    else:
        assert np.asarray(want).tobytes() == t.tobytes(), (a, want, t)


@pytest.mark.parametrize("a", [np.array([0.5, -1.5], np.float16), np.array(2.5, np.float32), np.arange(40.0),
                               np.arange(12.0).reshape(3, 4)[:, ::2], np.array([1, 2, 3]), np.float32(3.0)])
def test_mean_kernel_hands_other_inputs_to_the_entry(a):
    op = REGISTRY["mean"]
    with np.errstate(all="ignore"):
        try:
            want = op.forward(a)
        except Exception as e:  # noqa: BLE001 - the entry's error (an integer mean) is the kernel's
            with pytest.raises(type(e), match=re.escape(str(e))):
                kernel(op)(a)
            return
        _same_bits(kernel(op)(a), want)
    from engine import dtypes as D

    _same_bits(kernel(op)(np.arange(4.0, dtype=np.float32), D.float64),
               op.forward(np.arange(4.0, dtype=np.float32), D.float64))  # a dtype argument: the entry's


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([(), (1,), (4,), (3, 4), (0,), (2, 0, 3), (7,)]),
       st.one_of(st.floats(width=32), st.sampled_from([0.0, -0.0, 1e-45, 3.4e38, float("nan")])))
def test_mean_backward_is_its_old_formula_and_torch(dtype, shape, value):
    """MeanBackward0's array formula (the gradient's zero-stride view made directly, not by np.broadcast_to) gives
    what it gave before, bits and layout, and torch's gradient."""
    vjp = REGISTRY["mean"].vjp_plan[0][0]
    g = np.array(value, dtype)
    n = int(np.prod(shape)) if shape else 1
    with np.errstate(all="ignore"):
        got = vjp(g, shape)
        old = np.broadcast_to(g, shape) / n
    _same_bits(got, old)
    assert got.strides == old.strides and got.flags.writeable == old.flags.writeable
    if not n:
        return
    x = torch.zeros(shape, dtype=torch.float32 if dtype == np.float32 else torch.float64, requires_grad=True)
    x.mean().backward(torch.from_numpy(g))
    assert got.tobytes() == x.grad.numpy().tobytes() or (np.isnan(got).all() and x.grad.isnan().all())


# ----- binary_cross_entropy_with_logits -----


@st.composite
def bcel_args(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.sampled_from([(1,), (5,), (16,), (17,), (32,), (2, 3), (70,)]))
    with np.errstate(all="ignore"):
        a = draw(hnp.arrays(dtype, shape, elements=_values(dtype)))
        t = draw(hnp.arrays(dtype, shape, elements=st.one_of(st.sampled_from([0.0, 1.0, 0.5, -0.0]),
                                                             _values(dtype))))
    return a, t, draw(st.sampled_from([0, 1, 2]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bcel_args())
def test_bcel_kernel_is_the_entry(args):
    a, t, reduction = args
    op = REGISTRY["binary_cross_entropy_with_logits"]
    k = kernel(op)
    assert k is not op.forward
    with np.errstate(all="ignore"):
        _same_bits(k(a, t, None, None, reduction), op.forward(a, t, None, None, reduction))
        _same_bits(k(a, t, None, None, reduction), op.forward(a, t, reduction=reduction))


@pytest.mark.parametrize("case", ["weight", "pos_weight", "dtypes", "shapes", "int", "empty"])
def test_bcel_kernel_hands_other_inputs_to_the_entry(case):
    op = REGISTRY["binary_cross_entropy_with_logits"]
    a = np.array([0.5, -2.0, 3.0], np.float32)
    t = np.array([1.0, 0.0, 1.0], np.float32)
    w = None
    pw = None
    if case == "weight":
        w = np.array([2.0, 1.0, 0.5], np.float32)
    elif case == "pos_weight":
        pw = np.array([3.0, 1.0, 1.0], np.float32)
    elif case == "dtypes":
        t = t.astype(np.float64)
    elif case == "shapes":
        t = t[:1]
    elif case == "int":
        a = np.array([1, 2, 3])
    else:
        a, t = a[:0], t[:0]
    with np.errstate(all="ignore"):
        try:
            want = op.forward(a, t, w, pw, 1)
        except Exception as e:  # noqa: BLE001 - the entry's error is the kernel's
            with pytest.raises(type(e), match=re.escape(str(e))):
                kernel(op)(a, t, w, pw, 1)
            return
        _same_bits(kernel(op)(a, t, w, pw, 1), want)


# ----- programs -----

PROGRAMS = [
    {"leaves": {"x": {"data": [0.3, -1.2, 2.5, 0.7, -0.1], "requires_grad": True}},
     "ops": [{"name": "t", "op": "tanh", "args": ["x"]}, {"name": "q", "op": "mul", "args": ["t", "t"]},
             {"name": "s", "op": "sum", "args": ["q"]}], "backward": [{"tensor": "s"}], "retain_grad": ["t"]},
    {"leaves": {"x": {"data": [0.3, -1.2, 2.5, 0.7], "requires_grad": True}, "w": {"data": 0.5, "requires_grad": True}},
     "ops": [{"name": "m", "op": "mul", "args": ["x", "w"]}, {"name": "s", "op": "sum", "args": ["m"]}],
     "backward": [{"tensor": "s"}]},  # w's gradient: a sum to 0-d of 4 values
    {"leaves": {"z": {"data": [0.3, -2.0, 4.0, 1.5, 0.25, -0.75], "requires_grad": True},
                "y": {"data": [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]}},
     "ops": [{"name": "l", "op": "binary_cross_entropy_with_logits", "args": ["z", "y"]}],
     "backward": [{"tensor": "l"}]},
    {"leaves": {"x": {"data": [0.466, -1.326, 0.832, -0.482], "requires_grad": True}},  # corpus 36: a mean
     "ops": [{"name": "y", "op": "exp", "args": ["x"]}, {"name": "a", "op": "sum", "args": ["y"]},
             {"name": "b", "op": "mean", "args": ["y"]}],
     "backward": [{"tensor": "a", "retain_graph": True}, {"tensor": "b"}]},
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(PROGRAMS))),
       st.lists(st.sampled_from([0.0, -0.0, 88.72, -88.72, 0.25, -3.5, 12.0, -40.0, 1e-30, 3e38]), min_size=6,
                max_size=6))
def test_programs_with_these_kernels_answer_as_the_full_path(which, values):
    spec = PROGRAMS[which]
    cache = E.PlanCache()
    sight_until_lowered(lambda: E.evaluate(copy.deepcopy(spec), cache=cache), cache)
    key, _ = cache.key(spec, E.DEFAULT_LIMITS)
    program = cache.get(key)
    assert program.lowered, E.lower.declined(program)
    ours = {kernel(REGISTRY["sum"]), kernel(REGISTRY["binary_cross_entropy_with_logits"]),
            sum_to_kernel(registry._SUM_TO[1]), kernel(REGISTRY["mean"])}
    assert any(v in ours for v in program.lowered.fn.__globals__.values() if callable(v))
    calls = []
    fn = program.lowered.single  # (a single request's function: lower_fold)
    program.lowered.single = lambda *a: calls.append(1) or fn(*a)
    twin = copy.deepcopy(spec)
    leaf = next(iter(twin["leaves"].values()))
    leaf["data"] = values[:len(leaf["data"])]
    full = orjson.dumps(E.evaluate(copy.deepcopy(twin)))
    assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == full
    assert calls
