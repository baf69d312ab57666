"""lerp, div's rounding modes, floor_divide, fmod, remainder, pow and setitem / index_put_ with a Python number
or small-dtype tensors, as torch 2.13: the parser's OverflowError, the op's checks in torch's order (class and
words), "not implemented for 'Bool'", c10's checked conversion, then the values (bit for bit: torch's fused
multiply-adds, float16 computed in float32), dtype, shape and grad_fn. Every case is compared with the live
torch call over parity10's 9 dtypes x 47 values (tests/engine/test_parity10_scalar_fill.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine
from tests.engine.both import outcome
from tests.engine.test_parity10_scalar_fill import answer, check_all

assert torch.__version__.startswith("2.13"), torch.__version__


def _a(lib, d):
    return lib.tensor([-3, -1, 0, 2, 5]).to(d)


def _b(lib, d):
    return lib.tensor([2, -2, 3, -4, 0]).to(d)


def _same(fn):
    t, e = answer(torch, fn), answer(engine, fn)
    assert e == t, f"\nengine: {e}\ntorch:  {t}"


def _grad_case(fn, dtype):
    """fn(lib, x, y) on two leaves needing a grad: the result, its grad_fn's name and both grads after a sum's
    backward (None where torch gives None), as comparable tuples."""
    def run(lib):
        rng = np.random.default_rng(7)
        x = lib.tensor(rng.standard_normal(6).astype(dtype), requires_grad=True)
        y = lib.tensor(rng.standard_normal(6).astype(dtype), requires_grad=True)
        out = fn(lib, x, y)
        name = out.grad_fn.name() if out.grad_fn is not None else None
        if out.requires_grad:
            out.sum().backward()
        grads = [None if g is None else g.numpy().tolist() for g in (x.grad, y.grad)]
        return str(out.dtype), out.detach().numpy().tolist(), name, grads
    return run


# ----- lerp -----

LERPS = {
    "lerp(w=v)": lambda lib, d, v: _a(lib, d).lerp(_b(lib, d), v),
    "lerp_(w=v)": lambda lib, d, v: _a(lib, d).lerp_(_b(lib, d), v),
    "torch.lerp(weight=v)": lambda lib, d, v: lib.lerp(_a(lib, d), _b(lib, d), weight=v),
    "lerp(w=full(v))": lambda lib, d, v: _a(lib, d).lerp(_b(lib, d), lib.full((5,), v, dtype=d)),
    "lerp_(w=full(v))": lambda lib, d, v: _a(lib, d).lerp_(_b(lib, d), lib.full((5,), v, dtype=d)),
    "lerp(w=0-d float32 v)": lambda lib, d, v: _a(lib, d).lerp(_b(lib, d), lib.tensor(float(v))),
    "lerp(0-d, w=v)": lambda lib, d, v: lib.tensor(2).to(d).lerp(lib.tensor(-3).to(d), v),
}


@pytest.mark.parametrize("op", list(LERPS))
def test_lerp_as_torch(op):
    check_all(LERPS[op], op)


@pytest.mark.parametrize("case", [
    lambda lib: lib.ones(3).lerp(lib.ones(3, dtype=lib.float64), 0.5),
    lambda lib: lib.ones(3, dtype=lib.float64).lerp(lib.ones(3), 0.5),
    lambda lib: lib.ones(3).lerp(lib.ones(3), lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.ones(3).lerp(lib.ones(3), lib.ones(1, dtype=lib.float16)),
    lambda lib: lib.ones(3).lerp(lib.ones(3, dtype=lib.int64), 0.5),
    lambda lib: lib.ones(3).lerp(lib.ones(3), lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.ones(3, dtype=lib.int64).lerp(lib.ones(3, dtype=lib.int64), lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.ones(3, dtype=lib.int64).lerp(lib.ones(3, dtype=lib.int64), lib.tensor(0.5)),
    lambda lib: lib.ones(3, dtype=lib.int64).lerp(lib.ones(2, dtype=lib.int64), 0.5),
    lambda lib: lib.ones(3, dtype=lib.int64).lerp(lib.ones(2, dtype=lib.int64), 2**64),
    lambda lib: lib.ones(3).lerp(lib.ones(2), 1e40),
    lambda lib: lib.ones(3).lerp(lib.ones(3, dtype=lib.float64), 2**64),
    lambda lib: lib.tensor(1.0).lerp(lib.tensor(3.0), lib.tensor(0.5, dtype=lib.float64)),
    lambda lib: lib.ones(3).lerp(lib.ones(3), lib.tensor(1e300, dtype=lib.float64)),
    lambda lib: lib.ones(3).lerp(lib.ones(3), lib.tensor(7, dtype=lib.uint8)),
    lambda lib: lib.ones(1).lerp_(lib.ones(3), 0.5),
    lambda lib: lib.ones(3).lerp_(lib.ones(3), lib.ones(2, 3)),
])
def test_lerp_checks_as_torch(case):
    _same(case)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n", [5, 1000])
def test_lerp_rounds_as_torchs_fused_kernel(dtype, n):
    rng = np.random.default_rng(n)
    a, b = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    w = (rng.random(n) * 2 - 0.5).astype(dtype)
    for weight in (0.3, 0.7, -2.7, w):
        def fn(lib, weight=weight):
            wt = lib.tensor(weight) if isinstance(weight, np.ndarray) else weight
            return lib.tensor(a).lerp(lib.tensor(b), wt)
        _same(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("form", ["scalar", "tensor"])
def test_lerp_grad_as_torch(dtype, form):
    def fn(lib, x, y):
        return x.lerp(y, 0.7) if form == "scalar" else x.lerp(y, (x * 0.1).detach())
    assert answer_grad(engine, fn, dtype) == answer_grad(torch, fn, dtype)


def answer_grad(lib, fn, dtype):
    from tests.engine.both import outcome  # noqa: PLC0415
    out = outcome(_grad_case(fn, dtype), lib)
    return out


# ----- div(rounding_mode=), floor_divide, fmod, remainder -----

DIVMODS = {
    "div(v, floor)": lambda lib, d, v: _a(lib, d).div(v, rounding_mode="floor"),
    "div(v, trunc)": lambda lib, d, v: _a(lib, d).div(v, rounding_mode="trunc"),
    "div(t, floor)": lambda lib, d, v: lib.full((5,), v, dtype=d).div(_b(lib, d), rounding_mode="floor"),
    "div(t, trunc)": lambda lib, d, v: lib.full((5,), v, dtype=d).div(_b(lib, d), rounding_mode="trunc"),
    # no -1 there: torch traps (SIGFPE) on int64's min / -1
    "torch.div(v, t, trunc)": lambda lib, d, v: lib.div(v, lib.tensor([2, -3, 5]).to(d), rounding_mode="trunc"),
    "floor_divide(v)": lambda lib, d, v: _a(lib, d).floor_divide(v),
    "t // v": lambda lib, d, v: _a(lib, d) // v,
    "v // t": lambda lib, d, v: v // _a(lib, d),
    "floor_divide(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).floor_divide(_b(lib, d)),
    "fmod(v)": lambda lib, d, v: _a(lib, d).fmod(v),
    "fmod(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).fmod(_b(lib, d)),
    "torch.fmod(0-d, v)": lambda lib, d, v: lib.fmod(lib.tensor(-7).to(d), v),
    "remainder(v)": lambda lib, d, v: _a(lib, d).remainder(v),
    "t % v": lambda lib, d, v: _a(lib, d) % v,
    "v % t": lambda lib, d, v: v % _a(lib, d),
    "remainder(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).remainder(_b(lib, d)),
    "fmod_(v)": lambda lib, d, v: _a(lib, d).fmod_(v),
    "remainder_(v)": lambda lib, d, v: _a(lib, d).remainder_(v),
    "div_(v, trunc)": lambda lib, d, v: _a(lib, d).div_(v, rounding_mode="trunc"),
    "floor_divide_(v)": lambda lib, d, v: _a(lib, d).floor_divide_(v),
    "t //= v": lambda lib, d, v: _ifloordiv(_a(lib, d), v),
    "div_(t, floor)": lambda lib, d, v: _a(lib, d).div_(lib.full((5,), v, dtype=d), rounding_mode="floor"),
}


def _ifloordiv(t, v):
    t //= v
    return t


@pytest.mark.parametrize("op", list(DIVMODS))
def test_division_modes_as_torch(op):
    # in place on a bool tensor with an int 0 (fmod_(bool, 0)): torch refuses the in-place cast "result type Long
    # can't be cast to the desired output type Bool" before the kernel's ZeroDivisionError (inplace._PRECHECK)
    check_all(DIVMODS[op], op)


# ----- pow with a number -----

POWS = {
    "pow(v)": lambda lib, d, v: _a(lib, d).pow(v),
    "pow_(v)": lambda lib, d, v: _a(lib, d).pow_(v),
    "t ** v": lambda lib, d, v: _a(lib, d) ** v,
    "torch.pow(0-d, v)": lambda lib, d, v: lib.pow(lib.tensor(3).to(d), v),
}


@pytest.mark.parametrize("op", list(POWS))
def test_pow_with_a_number_exponent_as_torch(op):
    # not here: float64 ** a fraction, where torch's vectorized pow (Sleef) and libm's differ by an ulp at times
    check_all(POWS[op], op, known=lambda d, v: d == "float64" and type(v) is float and v != int(v) if math.isfinite(
        v) else False)


def test_number_to_a_tensor_power_as_torch():
    # not here: float results where torch's float pow kernel (Sleef / powf) and NumPy's differ by an ulp
    # (3.7 ** t in float32, 1e-300-ish in float64): docs/runs/parity12.md
    check_all(lambda lib, d, v: v ** _a(lib, d), "v ** t", known=lambda d, v: type(v) is float or (
        d.startswith("float") and type(v) is int and abs(v) > 2))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("exp", [2.7, -1.5, 3, 7])
def test_pow_grad_as_torch(dtype, exp):
    def fn(lib, x, y):
        return x.abs().pow(exp) * y
    e, t = answer_grad(engine, fn, dtype), answer_grad(torch, fn, dtype)
    assert e[0] == t[0] == "ok" and e[1][0] == t[1][0] and e[1][2] == t[1][2]  # dtype, grad_fn
    np.testing.assert_allclose(e[1][1], t[1][1], rtol=1e-6)  # values and grads within an ulp or two (libm's pow)
    np.testing.assert_allclose(e[1][3], t[1][3], rtol=1e-5)


# ----- t[index] = number -----

def _setitem(lib, d, v, key, shape=(3,)):
    t = lib.zeros(shape, dtype=d)
    t[key(lib) if callable(key) else key] = v
    return t


SETITEMS = {
    "t[0] = v": lambda lib, d, v: _setitem(lib, d, v, 0),
    "t[1:] = v": lambda lib, d, v: _setitem(lib, d, v, slice(1, None)),
    "t[...] = v": lambda lib, d, v: _setitem(lib, d, v, Ellipsis),
    "t[mask] = v": lambda lib, d, v: _setitem(lib, d, v, lambda lib: lib.tensor([True, False, True])),
    "t[no True] = v": lambda lib, d, v: _setitem(lib, d, v, lambda lib: lib.zeros(3, dtype=lib.bool)),
    "t[idx] = v": lambda lib, d, v: _setitem(lib, d, v, lambda lib: lib.tensor([0, 2])),
    "t2[:, idx] = v": lambda lib, d, v: _setitem(lib, d, v, lambda lib: (slice(None), lib.tensor([1])), (2, 3)),
    "t[empty] = v": lambda lib, d, v: _setitem(lib, d, v, slice(0, 0), (0,)),
}


@pytest.mark.parametrize("op", list(SETITEMS))
def test_setitem_with_a_number_as_torch(op):
    check_all(SETITEMS[op], op)


@pytest.mark.parametrize("key", [0, slice(1, None), "mask"])
def test_setitem_grad_fn_as_torch(key):
    def fn(lib, x, y):
        t = x * 1
        t[lib.tensor([True] * 3 + [False] * 3) if key == "mask" else key] = 2.5
        return t * y
    assert answer_grad(engine, fn, "float32") == answer_grad(torch, fn, "float32")


# ----- parity10's cases left to the promotion: bool with a uint64 number, float16 opmath, bool alpha -----

@pytest.mark.parametrize("op", ["add_", "add", "radd", "sub_", "rsub", "mul_", "mul", "add(0-d)"])
def test_arithmetic_with_every_number_as_torch(op):
    # parity10's ARITH cases, the bool + uint64 and float16 * 70000 ones included (parity10 leaves them out)
    from tests.engine.test_parity10_scalar_fill import ARITH  # noqa: PLC0415
    check_all(ARITH[op], op)


@pytest.mark.parametrize("op", ["add_(alpha)", "add(alpha)", "sub_(alpha)", "sub(alpha)"])
def test_alpha_on_bool_tensors_as_torch(op):
    # parity10's ALPHAS cases with bool tensors included: alpha.to<bool>(), add an `or`; the parser first
    from tests.engine.test_parity10_scalar_fill import ALPHAS  # noqa: PLC0415
    check_all(ALPHAS[op], op)


NUMBER_OPS = {
    "div(v)": lambda lib, d, v: _a(lib, d).div(v),
    "t / v": lambda lib, d, v: _a(lib, d) / v,
    "v / t": lambda lib, d, v: v / _b(lib, d),
    "div_(v)": lambda lib, d, v: _a(lib, d).div_(v),
    "sub(v)": lambda lib, d, v: _a(lib, d).sub(v),
    "v * t": lambda lib, d, v: v * _a(lib, d),
}


@pytest.mark.parametrize("op", list(NUMBER_OPS))
def test_true_division_and_products_with_a_number_as_torch(op):
    check_all(NUMBER_OPS[op], op)


@pytest.mark.parametrize("n", [2000, 300_000])  # the second runs in chunks on the thread pool where it has one
@pytest.mark.parametrize("op", ["t * v", "v * t", "t / v", "v / t", "t.mul_(v)", "t.div_(v)", "torch.mul(t, v)"])
def test_float16_times_a_number_computes_in_float32_as_torch(op, n):
    a = (np.random.default_rng(n).standard_normal(n) * 100).astype(np.float16)
    for v in (2.7, -0.3, 1e-3, 65519.0, 70000.0, 70000, 3, 1e40):
        def fn(lib, v=v):
            t = lib.tensor(a)
            return eval(op, {"t": t, "v": v, "torch": lib})  # noqa: S307 - the test's own expressions
        _same_array(fn, f"{op} with v={v!r}")


def _array_answer(lib, fn):
    """answer()'s comparison without its text: the dtype, the shape and the values as float64 bytes, every NaN
    made the same NaN (answer's str(tolist()) prints each as 'nan'; -0.0 and 0.0 stay apart, as in its text).
    answer() spends seconds printing 300,000 values."""
    out = outcome(fn, lib)
    if out[0] != "ok":
        return out
    t = out[1]
    vals = np.array(t.numpy(), dtype=np.float64)
    vals[np.isnan(vals)] = np.nan
    return "ok", str(t.dtype), tuple(t.shape), vals


def _same_array(fn, label):
    t, e = _array_answer(torch, fn), _array_answer(engine, fn)
    if t[0] == e[0] == "ok" and t[1:3] == e[1:3] and t[3].tobytes() == e[3].tobytes():
        return
    if t[0] != "ok" or e[0] != "ok" or t[1:3] != e[1:3]:
        assert e[:3] == t[:3], f"{label}\nengine: {e[:3]}\ntorch:  {t[:3]}"
    where = np.flatnonzero(t[3].view(np.int64) != e[3].view(np.int64))
    raise AssertionError(f"{label}: {where.size} values differ, first at {where[:5].tolist()}: "
                         f"engine {e[3][where[:5]].tolist()}, torch {t[3][where[:5]].tolist()}")


# ----- comparisons with a number: the number cast to the tensor's dtype first (torch's wrapped number) -----

def _c(lib, d):
    return lib.tensor([-3.0, -1.0, 0.0, 0.1, 2.7, 44.0, 255.0, 65504.0, float("inf")], dtype=lib.float64).to(d)


COMPARES = {
    "eq(v)": lambda lib, d, v: _c(lib, d).eq(v),
    "torch.ne(t, v)": lambda lib, d, v: lib.ne(_c(lib, d), v),
    "t < v": lambda lib, d, v: _c(lib, d) < v,
    "t <= v": lambda lib, d, v: _c(lib, d) <= v,
    "v > t": lambda lib, d, v: v > _c(lib, d),
    "ge(v)": lambda lib, d, v: _c(lib, d).ge(v),
    "t == v": lambda lib, d, v: _c(lib, d) == v,
    "torch.gt(0-d, v)": lambda lib, d, v: lib.gt(lib.tensor(0.1, dtype=lib.float64).to(d), v),
}


@pytest.mark.parametrize("op", list(COMPARES))
def test_comparisons_with_a_number_as_torch(op):
    check_all(COMPARES[op], op)


@pytest.mark.parametrize("v", [0.1, 2.7, 1e-300, 65519.0])
def test_float64_compares_with_the_number_itself(v):
    _same(lambda lib: lib.tensor([v, 0.0], dtype=lib.float64).eq(v))
    _same(lambda lib: lib.tensor([v, 0.0], dtype=lib.float64) == v)


def test_bool_to_a_bool_tensor_power_is_not_implemented_as_torch():
    # not here: float32 tensor ** tensor where torch's vectorized powf (Sleef) and NumPy's differ by an ulp
    check_all(lambda lib, d, v: _a(lib, d).pow(lib.full((5,), v, dtype=d)), "pow(t, full(v))",
              known=lambda d, v: d == "float32" and type(v) is float and math.isfinite(v) and v != int(v))
    _same(lambda lib: lib.tensor([True, False]).pow(lib.tensor([True])))
    _same(lambda lib: lib.tensor([True, False]).pow(lib.tensor([True, False, True])))


# ----- attacks: no number makes these ops allocate or loop without a charge -----

HUGE_OPS = {
    "lerp": lambda lib, t, v: t.lerp(t, v), "div floor": lambda lib, t, v: t.div(v, rounding_mode="floor"),
    "v // t": lambda lib, t, v: v // t, "fmod": lambda lib, t, v: t.fmod(v), "v % t": lambda lib, t, v: v % t,
    "pow": lambda lib, t, v: t.pow(v), "v ** t": lambda lib, t, v: v ** t, "t[0] = v": lambda lib, t, v: t.__setitem__(
        0, v), "eq": lambda lib, t, v: t.eq(v), "t / v": lambda lib, t, v: t / v, "t * v": lambda lib, t, v: t * v,
    "add alpha": lambda lib, t, v: t.add(t, alpha=v),
}


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("dtype", ["int64", "float16", "bool"])
@pytest.mark.parametrize("op", list(HUGE_OPS))
def test_a_huge_int_is_refused_first_as_torch(op, dtype, sign):
    # an int of 4,000 digits: torch's parser refuses it before any work; so must the engine (no conversion of
    # it to an array, no loop in its size)
    def fn(lib):
        return HUGE_OPS[op](lib, lib.ones(3, dtype=getattr(lib, dtype)), sign * 10**4000)
    _same(fn)


def _peak_and_charge(lib_op, opdef, itemsize, *args):
    import tracemalloc  # noqa: PLC0415
    tracemalloc.start()
    try:
        lib_op()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cost = opdef.cost(*args)
    return peak, (np.prod(cost.out, dtype=np.int64) + cost.temp) * itemsize


@pytest.mark.parametrize("case", ["f16 * 2.7", "f16 / 2.7", "f32 ** 2.7", "lerp", "lerp tensor", "remainder"])
def test_the_new_work_is_charged(case):
    from engine.ops import pointwise_arith as PA  # noqa: PLC0415
    from engine.ops import pointwise_pow as PW  # noqa: PLC0415
    n = 1_000_000
    h, x = engine.tensor(np.ones(n, dtype=np.float16)), engine.tensor(np.ones(n, dtype=np.float32))
    run = {"f16 * 2.7": (lambda: h * 2.7, PA.mul_tensor, 2, h, 2.7),
           "f16 / 2.7": (lambda: h / 2.7, PA.div_tensor, 2, h, 2.7),
           "f32 ** 2.7": (lambda: x ** 2.7, PW.pow_tensor_scalar, 4, x, 2.7),
           "lerp": (lambda: x.lerp(x, 0.7), PA.lerp_scalar, 4, x, x, 0.7),
           "lerp tensor": (lambda: x.lerp(x, x), PA.lerp_tensor, 4, x, x, x),
           "remainder": (lambda: x.remainder(-0.5), PA.remainder_scalar, 4, x, -0.5)}[case]
    peak, charged = _peak_and_charge(*run)
    assert peak <= charged, (peak, charged)


# ----- through a program (engine.evaluate): the wire's numbers reach the same conversions -----

PROGRAMS = [
    ("float64", [0.1, 2.7, -3.0], "eq", [0.1]), ("float64", [3.0, -3.0, 2.5], "remainder", [-0.5]),
    ("int64", [7, -7, 5], "fmod", [2**64 - 1]), ("int32", [7, -7, 5], "floor_divide", [2**64]),
    ("float32", [1.0, 2.0, 3.0], "lerp", ["x", 0.3]), ("int32", [1, 2, 3], "pow", [-1]),
    ("float16", [1.0, 0.0, -2.0], "mul", [70000]), ("float16", [1.0, 3.0, 5.0], "div", [2.7]),
    ("bool", [True, False, True], "add", [2**63]),
]


@pytest.mark.parametrize("dtype,data,op,args", PROGRAMS)
def test_a_program_converts_its_numbers_as_torch(dtype, data, op, args):
    doc = {"leaves": {"x": {"data": data, "dtype": dtype}}, "ops": [{"name": "y", "op": op, "args": ["x", *args]}],
           "outputs": ["y"]}
    try:
        got = engine.evaluate(doc)
    except Exception as e:  # noqa: BLE001 - the engine's refusal, compared with torch's below
        got = e
    want = answer(torch, lambda lib: getattr(lib, op)(lib.tensor(data, dtype=getattr(lib, dtype)),
                                                      *[lib.tensor(data, dtype=getattr(lib, dtype)) if a == "x"
                                                        else a for a in args]))
    if want[0] == "raise":
        assert isinstance(got, Exception) and want[2] in str(got), (got, want)
    else:
        y = got["tensors"]["y"]
        assert ("ok", "torch." + y["dtype"], tuple(y["shape"]),
                str(np.asarray(y["data"], dtype=np.float64).tolist())) == want, (y, want)


@pytest.mark.parametrize("op", ["div_floor", "div_trunc", "fmod", "remainder", "floor_divide", "t % 1.5"])
def test_rounding_division_grads_as_torch(op):
    def fn(lib, x, y):
        return {"div_floor": lambda: x.div(y, rounding_mode="floor"), "div_trunc": lambda: x.div(
            y, rounding_mode="trunc"), "fmod": lambda: x.fmod(y), "remainder": lambda: x.remainder(y),
            "floor_divide": lambda: x // y, "t % 1.5": lambda: x % 1.5}[op]()
    assert answer_grad(engine, fn, "float32") == answer_grad(torch, fn, "float32")


@pytest.mark.parametrize("v", [2.7, 70000, 65519.0])
def test_a_0d_float16_times_a_number_as_torch(v):
    # a 0-d result is a NumPy scalar inside the engine's chains: the same float32 opmath
    for f in (lambda lib: lib.tensor(5.0, dtype=lib.float16) * v, lambda lib: (lib.tensor(5.0, dtype=lib.float16)
              * 1) / v, lambda lib: lib.tensor([5.0, 0.0], dtype=lib.float16).sum() * v):
        _same(f)


def test_lerps_float32_multiply_add_matches_the_exact_fma():
    # pointwise_lerp._fma32 (float64 sum, midpoints and subnormals handed to engine/_fma.py) against the exact
    # fused multiply-add, over exponents across float32's range and crafted halfway cases (1 + ~2**-24)
    from engine._fma import fma  # noqa: PLC0415
    from engine.ops.pointwise_lerp import _fma32  # noqa: PLC0415
    rng = np.random.default_rng(0)
    n = 200_000
    e = rng.integers(-140, 120, n)
    w = (rng.standard_normal(n) * 2.0 ** rng.integers(-30, 30, n)).astype(np.float32)
    d = (rng.standard_normal(n) * 2.0 ** e).astype(np.float32)
    with np.errstate(over="ignore"):
        c = (rng.standard_normal(n) * 2.0 ** (e + rng.integers(-30, 30, n))).astype(np.float32)
    c[:1000], w[:1000] = np.float32(1.0), np.float32(2.0 ** -24)
    d[:1000] = (1 + rng.integers(-3, 3, 1000) * 2.0 ** -23).astype(np.float32)
    with np.errstate(all="ignore"):
        got, want = _fma32(w, d, c), fma(w, d, c, np.float32)
    same = ((got == want) | (np.isnan(got) & np.isnan(want))) & (np.signbit(got) == np.signbit(want))
    assert same.all(), np.flatnonzero(~same)[:10]
