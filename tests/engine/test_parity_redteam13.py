"""redteam13's parity findings against live torch 2.13: integer and bool linspace / logspace (F1, F2), randint's
bounds (F1), relu / relu6 / hardtanh / scalar clamp keeping -0.0 and the input where it equals a bound (F4, F12),
hardsigmoid's float constant in its gradient (F12), xlogy of a bool tensor beside a uint64 Scalar (F4)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine


def _run(lib, f):
    try:
        r = f(lib)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return str(r.dtype), r.tolist()


FACTORIES = [
    ("linspace", (-100, 100, 5), "uint8"), ("linspace", (-1, 0, 5), "uint8"), ("linspace", (0, -1, 5), "uint8"),
    ("linspace", (-129, 0, 5), "uint8"), ("linspace", (-256, 0, 5), "uint8"), ("linspace", (-100, 100, 1), "uint8"),
    ("linspace", (250, 300, 1), "int8"), ("linspace", (-5, -300, 4), "int16"), ("linspace", (2.7, -1.9, 1), "int8"),
    ("linspace", (-2.7, 200.9, 5), "uint8"), ("linspace", (0, 300, 5), "bool"), ("linspace", (0, 1, 1), "bool"),
    ("linspace", (0, 1, 0), "bool"), ("linspace", (100, -100, 7), "int8"),
    ("logspace", (0, 1, 3), "bool"), ("logspace", (0, 1, 1), "bool"), ("logspace", (-300, 5, 2), "uint8"),
    ("logspace", (-200, 5, 4), "uint8"), ("logspace", (-3, 3, 5), "int8"), ("logspace", (-300, 5, 1), "uint8"),
]


@pytest.mark.parametrize("name,args,dtype", FACTORIES, ids=repr)
def test_integer_and_bool_linspace_logspace_as_torch(name, args, dtype):
    kw = {"base": 2} if name == "logspace" else {}
    assert _run(engine, lambda L: getattr(L, name)(*args, dtype=getattr(L, dtype), **kw)) == \
        _run(torch, lambda L: getattr(L, name)(*args, dtype=getattr(L, dtype), **kw))



# One step fills std::pow(base, start) as a checked Scalar of the dtype (libm's pow, not NumPy's vectorized one,
# which is an ulp off at some values); C's pow has a pole at a zero base (+-inf), not NaN.
ONE_STEP = [((4.654051783517648, 1.2, 1), 10.0, "float64"), ((5.939305443822562, 0, 1), 2.0, "float64"),
            ((50, 0, 1), 10.0, "float32"), ((400, 0, 1), 10.0, "float32"), ((5, 0, 1), 10.0, "float16"),
            ((3.5, 0, 1), 2.0, "int8"), ((9.05, 0, 1), 7.25, "int8"), ((-2.46, 0, 1), -2.0, "int32"),
            ((-1, 0, 1), -1.0, "uint8"), ((-50, 0, 1), 10.0, "bool"), ((-3, 0, 1), 0.0, "float64"),
            ((-3, 0, 1), -0.0, "float64"), ((-2, 1, 4), 0.0, "float32"), ((-3, -1, 3), -0.0, "float64")]


@pytest.mark.parametrize("args,base,dtype", ONE_STEP, ids=repr)
def test_logspace_single_step_and_zero_base_as_torch(args, base, dtype):
    def run(L):
        kind, body = _run(L, lambda L: L.logspace(*args, base=base, dtype=getattr(L, dtype)))
        return (kind, _bits(body)) if kind.startswith("torch.") else (kind, body)
    assert run(engine) == run(torch)


RANDINT = [(-5, 5, "uint8"), (0, 300, "uint8"), (0, 256, "uint8"), (-128, 128, "int8"), (-129, 0, "int8"),
           (0, 129, "int8"), (0, 2, "bool"), (0, 3, "bool"), (-1, 1, "bool"), (0, 2**31 + 1, "int32"),
           (0, 70000, "float16"), (-65505, 0, "float16"), (5, 5, "int64"), (300, 0, "uint8"), (0, 40000, "int16"),
           (0, 2**70, "int64")]


@pytest.mark.parametrize("low,high,dtype", RANDINT, ids=repr)
def test_randint_bounds_as_torch(low, high, dtype):
    def dtype_and_count_or_error(lib):  # (the draws are random: their dtype and number, or the error)
        kind, body = _run(lib, lambda L: L.randint(low, high, (3,), dtype=getattr(L, dtype)))
        return (kind, len(body)) if kind.startswith("torch.") else (kind, body)
    assert dtype_and_count_or_error(engine) == dtype_and_count_or_error(torch)


def _bits(a):
    a = np.asarray(a)
    return [("nan" if x != x else (float(x), bool(np.signbit(x)))) for x in a.ravel()]


ZEROS = [-0.0, 0.0, float("nan"), -1.0, 2.0, 6.0, -3.0, 3.0, 1.0, -1.0]


@pytest.mark.parametrize("n", [3, 10, 4000])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_activations_and_clamp_keep_the_input_at_a_bound(dtype, n):
    a = np.array((ZEROS * (n // len(ZEROS) + 1))[:n], dtype)
    calls = [("relu", {}), ("relu6", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -0.0, "max_val": 1.0}),
             ("hardtanh", {"min_val": 0.0, "max_val": 0.0})]
    for f, kw in calls:
        want = getattr(torch.nn.functional, f)(torch.tensor(a), **kw).numpy()
        got = getattr(engine.nn.functional, f)(engine.tensor(a), **kw).numpy()
        assert _bits(got) == _bits(want), (f, kw)
    for kw in ({"min": 0.0}, {"min": -0.0}, {"max": 0.0}, {"max": -0.0}, {"min": -0.0, "max": 0.0}):
        want = torch.clamp(torch.tensor(a), **kw).numpy()
        assert _bits(engine.clamp(engine.tensor(a), **kw).numpy()) == _bits(want), kw


def test_clamp_of_bool_by_a_negative_zero():
    a = [True, False]
    assert _bits(engine.clamp(engine.tensor(a), -0.0).numpy()) == _bits(torch.clamp(torch.tensor(a), -0.0).numpy())


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_hardsigmoid_gradient_constant(dtype):
    rng = np.random.default_rng(4)
    x, g = rng.uniform(-4, 4, 2000).astype(dtype), rng.uniform(-2, 2, 2000).astype(dtype)
    grads = []
    for lib in (torch, engine):
        t = lib.tensor(x, requires_grad=True)
        lib.nn.functional.hardsigmoid(t).backward(lib.tensor(g))
        grads.append(t.grad.numpy())
    assert _bits(grads[1]) == _bits(grads[0])


@pytest.mark.parametrize("dtype", ["bool", "int64", "float32"])
def test_xlogy_beside_a_uint64_scalar(dtype):
    data = [True, False] if dtype == "bool" else [1, 2]
    for f in (lambda L: L.xlogy(L.tensor(data, dtype=getattr(L, dtype)), 2**63),
              lambda L: L.xlogy(2**64 - 1, L.tensor(data, dtype=getattr(L, dtype))),
              lambda L: L.special.xlog1py(L.tensor(data, dtype=getattr(L, dtype)), 2**63)):
        assert _run(engine, f) == _run(torch, f)


@pytest.mark.parametrize("n", [1, 7, 40])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_clamp_min_and_clamp_max_scalars_keep_the_input_at_the_bound(dtype, n):  # (review14 R1)
    a = np.array(([-0.0, 0.0] * n)[:n], dtype)
    for fn, bound in (("clamp_min", 0.0), ("clamp_min", -0.0), ("clamp_max", 0.0), ("clamp_max", -0.0)):
        want = getattr(torch, fn)(torch.tensor(a), bound).numpy()
        assert _bits(getattr(engine, fn)(engine.tensor(a), bound).numpy()) == _bits(want), (fn, bound)


ZERO_ONE_STEPS = [(-300, 5, 0, "uint8"), (1e20, 0, 0, "int64"), (1e20, 0, 0, "int8"), (1, 300, 1, "uint8"),
                  (-100, 10**12, 1, "uint8"), (250, 0, 1, "int8"), (1099511627776, 0, 1, "int64"),
                  (0, 1099511627776, 3, "int32")]


@pytest.mark.parametrize("start,end,steps,dtype", ZERO_ONE_STEPS, ids=repr)
def test_integer_linspace_of_zero_and_one_steps_checks_what_torch_checks(start, end, steps, dtype):  # (review14 R3)
    assert _run(engine, lambda L: L.linspace(start, end, steps, dtype=getattr(L, dtype))) == \
        _run(torch, lambda L: L.linspace(start, end, steps, dtype=getattr(L, dtype)))


@pytest.mark.parametrize("elements,test", [([1, 2], True), ([1, 2], False), (True, [1, 2]), ([1.5], True)], ids=repr)
def test_isin_with_a_zero_dim_bool_is_refused_as_torch(elements, test):  # (review14 R4)
    assert _run(engine, lambda L: L.isin(L.tensor(elements), L.tensor(test))) == \
        _run(torch, lambda L: L.isin(L.tensor(elements), L.tensor(test)))


@pytest.mark.parametrize("a,b", [(2, 3), (2, 3.5), (True, 2)], ids=repr)
def test_xlogy_of_two_numbers_is_torchs_type_error(a, b):  # (review14 R6)
    assert _run(engine, lambda L: L.xlogy(a, b)) == _run(torch, lambda L: L.xlogy(a, b))
    assert _run(engine, lambda L: L.special.xlog1py(a, b)) == _run(torch, lambda L: L.special.xlog1py(a, b))
