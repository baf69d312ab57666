"""engine.program.kernels: what a lowered program calls in place of an entry's forward gives the entry's bits (values,
dtype, type, shape) on every input, and torch's; the programs that use one answer as the full path does.

sigmoid: the entry and the kernel share one function (pointwise_math._sigmoid, in the kernel's 8-call form since
splitB); both are held to the formula the entry had before (`_old_sigmoid`, values and layout) and to live torch."""
from __future__ import annotations

import copy
import importlib

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine  # noqa: F401 - the op table
from engine.ops.registry import REGISTRY
from engine.program.kernels import kernel
from tests.lowering import sight_until_lowered

torch = pytest.importorskip("torch")
E = importlib.import_module("engine.program")
assert torch.__version__.startswith("2.13"), torch.__version__

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, -88.72, 103.9, -103.9, 1e-40, -1e-40, 709.8, -745.2, 16.6, -16.6]


def _floats(dtype):
    width = 32 if dtype == np.float32 else 64
    return st.one_of(st.floats(width=width, allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL),
                     st.floats(-30, 30, width=width))


@st.composite
def float_arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.sampled_from([(), (1,), (5,), (8,), (32,), (2, 3), (3, 1, 4)]))
    a = draw(hnp.arrays(dtype, shape, elements=_floats(dtype)))
    if draw(st.booleans()) and a.ndim:  # a non-contiguous view as well
        a = a[..., ::-1] if a.shape[-1] > 1 else a
    return a


def _old_sigmoid(a):
    """The entry's forward before splitB (pointwise_math._sigmoid, after _float_out's float conversion)."""
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _same_bits(got, want):
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes(), (got, want)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(float_arrays())
def test_sigmoid_kernel_is_the_entry_and_torch(a):
    op = REGISTRY["sigmoid"]
    k = kernel(op)
    assert k is not op.forward  # there is a kernel for it
    want = op.forward(a)
    _same_bits(k(a), want)
    old = _old_sigmoid(a)
    _same_bits(want, old)
    assert want.strides == old.strides  # the layout np.where gave (a reversed or transposed input's)
    if a.ndim == 0:  # a lowered program's float leaf or a scalar formula's result: a NumPy scalar
        _same_bits(k(a[()]), op.forward(a[()]))
        _same_bits(op.forward(a[()]), _old_sigmoid(a[()]))
    # live torch: the entry is not torch's bits everywhere (docs/ENGINE.md's table: torch's own vectorized exp and
    # reciprocal: up to 4 ulps apart); the kernel is exactly as far from torch as the entry, value by value
    t = torch.sigmoid(torch.from_numpy(np.ascontiguousarray(a))).numpy()
    assert _ulps(k(a), t) == _ulps(want, t)


def _ulps(x, t):
    """Per value, how many representable floats apart x and t are (0 for the same NaN-ness)."""
    x, t = np.asarray(x).reshape(-1), np.asarray(t).reshape(-1)
    i = np.dtype(f"i{x.itemsize}")
    out = []
    for u, v in zip(x, t):
        if np.isnan(u) or np.isnan(v):
            out.append(0 if np.isnan(u) and np.isnan(v) else 1 << 30)
            continue
        a, b = int(np.array(u).view(i)), int(np.array(v).view(i))  # sign-magnitude to a monotone integer line
        a = a if a >= 0 else -(a & ((1 << (8 * x.itemsize - 1)) - 1))
        b = b if b >= 0 else -(b & ((1 << (8 * x.itemsize - 1)) - 1))
        out.append(abs(a - b))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_kernel_on_many_values(dtype):
    """Hypothesis draws few values of the last bits' range: 20,000 of it per dtype (|a| up to 40, where exp's
    and the quotients' roundings vary value to value), as 0-d arrays, NumPy scalars and vectors of each length
    up to 40."""
    op = REGISTRY["sigmoid"]
    k = kernel(op)
    rng = np.random.default_rng(7)
    values = (rng.standard_normal(20_000) * rng.choice([0.5, 4.0, 15.0], 20_000)).astype(dtype)
    for v in values[:3000]:
        _same_bits(k(np.array(v)), op.forward(np.array(v)))
        _same_bits(k(v), op.forward(v))
        _same_bits(op.forward(v), _old_sigmoid(v))
    at = 3000
    for n in range(1, 41):
        for _ in range(10):
            a = values[at:at + n]
            at += n
            _same_bits(k(a), op.forward(a))
            _same_bits(op.forward(a), _old_sigmoid(a))
    m = values[:4000].reshape(40, 100)
    for a in (m, m.T, m[::-1, ::3], values[:3000].reshape(10, 15, 20).transpose(2, 0, 1)):  # layouts as well
        want = _old_sigmoid(a)
        _same_bits(op.forward(a), want)
        assert op.forward(a).strides == want.strides
    t = torch.sigmoid(torch.from_numpy(values)).numpy()  # torch: as far from each as before, value by value
    assert _ulps(op.forward(values), t) == _ulps(_old_sigmoid(values), t)


@pytest.mark.parametrize("a", [np.array([1, -2, 3]), np.array(True), np.array([0.5, -1.5], np.float16),
                               np.int64(3), 2.5])
def test_sigmoid_kernel_hands_other_inputs_to_the_entry(a):
    op = REGISTRY["sigmoid"]
    want = op.forward(np.asarray(a)) if type(a) is float else op.forward(a)
    got = kernel(op)(np.asarray(a) if type(a) is float else a)
    _same_bits(got, want)
    if getattr(a, "dtype", None) == np.float16:  # float16 computes in float and rounds once, as torch (redteam13 F10)
        _same_bits(want, torch.sigmoid(torch.from_numpy(a)).numpy())
        return
    old = _old_sigmoid(np.asarray(a)) if type(a) is float else _old_sigmoid(a)
    _same_bits(want, old)


def test_entries_without_a_kernel_keep_their_forward():
    for name in ("exp", "mul.Tensor", "tanh", "mv", "mse_loss"):
        op = REGISTRY[name]
        assert kernel(op) is op.forward


def _doc(x, ops, **extra):
    return {"leaves": {"x": {"data": x, "requires_grad": True}}, "ops": ops, "backward": [{"tensor": ops[-1]["name"]}],
            **extra}


PROGRAMS = [
    _doc(0.5, [{"name": "p", "op": "sigmoid", "args": ["x"]}, {"name": "l", "op": "log", "args": ["p"]}]),
    _doc([0.5, -1.0, 2.0, 0.0], [{"name": "p", "op": "sigmoid", "args": ["x"]},
                                 {"name": "s", "op": "sum", "args": ["p"]}], retain_grad=["p"]),
    {"leaves": {"z": {"data": [0.3, -2.0, 4.0, 1.5], "requires_grad": True}, "y": {"data": [1.0, 0.0, 1.0, 0.0]}},
     "ops": [{"name": "l", "op": "binary_cross_entropy_with_logits", "args": ["z", "y"]}],
     "backward": [{"tensor": "l"}]},  # sigmoid in its backward
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(PROGRAMS))),
       st.lists(st.sampled_from([0.0, -0.0, 88.72, -88.72, 0.25, -3.5, 12.0, -40.0]), min_size=4, max_size=4))
def test_programs_with_a_kernel_answer_as_the_full_path(which, values):
    spec = PROGRAMS[which]
    cache = E.PlanCache()
    sight_until_lowered(lambda: E.evaluate(copy.deepcopy(spec), cache=cache), cache)  # lowered once it recurs
    key, _ = cache.key(spec, E.DEFAULT_LIMITS)
    program = cache.get(key)
    assert program.lowered, E.lower.declined(program)
    sig = kernel(REGISTRY["sigmoid"])
    assert any(v is sig for v in program.lowered.fn.__globals__.values())  # the kernel is what it calls
    calls = []
    fn = program.lowered.single  # (a single request's function: lower_fold)
    program.lowered.single = lambda *a: calls.append(1) or fn(*a)
    twin = copy.deepcopy(spec)
    leaf = next(iter(twin["leaves"].values()))
    leaf["data"] = values[0] if type(leaf["data"]) is float else values[:len(leaf["data"])]
    full = orjson.dumps(E.evaluate(copy.deepcopy(twin)))
    assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == full
    assert calls  # answered by the lowered function
