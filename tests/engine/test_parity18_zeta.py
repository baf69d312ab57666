"""torch.special.zeta (the Hurwitz zeta function zeta(x, q)), new in the catalog (parity18), against live torch
2.13: values bit for bit (aten's cephes zeta in the accumulate type; float64's powers are glibc's std::pow), cephes'
early returns in their order (x == 1 inf, x < 1 NaN, then q <= 0), the three overloads' dtypes and grad_fns,
derivatives.yaml's (no derivative for x: torch's NotImplementedError at backward; other: grad * -x * zeta(x + 1,
q)), forward AD refused, float16 refused (no Half kernel), two numbers refused, and its charges under a Budget."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfwd

import engine
import engine.autograd.forward_ad as efwd
from engine import budget as _budget
from engine.errors import LimitExceeded


def _grid(seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-3, 12, 1500), rng.integers(-3, 8, 300).astype(float),
                        [1.0, 1.0000001, np.inf, -np.inf, np.nan, 0.0, -0.0, 60.0, 200.0, np.nan, 2.0]])
    q = np.concatenate([rng.uniform(-6, 12, 1500), rng.integers(-4, 6, 300).astype(float),
                        [2.0, 0.5, 1.0, 1.0, 1.0, np.inf, -np.inf, 1e-5, 1e6, np.nan, -2.5]])
    return x, q


def _bits(t):
    a = np.asarray(t.detach().numpy())
    return a.dtype.name, a.shape, np.where(np.isnan(a), np.nan, a).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeta_values_bit_for_bit(dtype):
    x, q = _grid()
    res = [_bits(L.special.zeta(L.tensor(x, dtype=getattr(L, dtype)), L.tensor(q, dtype=getattr(L, dtype))))
           for L in (engine, torch)]
    assert res[0] == res[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeta_values_ordinary_range(dtype):
    """20,000 values x in (1, 15), q in (0, 20): float32's first term is glibc's powf (the double pow rounded to
    float differs on ~0.03% of them), float64's powers glibc's pow (NumPy's on ~5%)."""
    rng = np.random.default_rng(5)
    x, q = rng.uniform(1.01, 15, 20000), rng.uniform(0.01, 20, 20000)
    res = [_bits(L.special.zeta(L.tensor(x, dtype=getattr(L, dtype)), L.tensor(q, dtype=getattr(L, dtype))))
           for L in (engine, torch)]
    assert res[0] == res[1]


def _answer(L, f):
    try:
        r = f(L)
        return "ok", str(r.dtype), tuple(r.shape), repr(r.tolist()), type(r.grad_fn).__name__ if r.grad_fn else None
    except Exception as e:  # noqa: BLE001 - the error is the answer compared
        return type(e).__name__, str(e)


FORMS = {
    "int_tensors": lambda L: L.special.zeta(L.tensor([2, 3, 4]), L.tensor([1, 2, 3])),
    "bool_tensors": lambda L: L.special.zeta(L.tensor([True, False]), L.tensor([True, True])),
    "mixed_float": lambda L: L.special.zeta(L.tensor([2.0, 3.0]), L.tensor([1.0, 2.5], dtype=L.float64)),
    "float_int": lambda L: L.special.zeta(L.tensor([2.0, 3.5]), L.tensor([1, 2])),
    "number_x": lambda L: L.special.zeta(2.5, L.tensor([1.0, 2.0, -1.5])),
    "int_number_x": lambda L: L.special.zeta(3, L.tensor([1, 2])),
    "number_q": lambda L: L.special.zeta(L.tensor([2.0, 3.0, 0.5]), 1.5),
    "number_q_f64": lambda L: L.special.zeta(L.tensor([2.0, 3.0], dtype=L.float64), 0.25),
    "int_x_number_q": lambda L: L.special.zeta(L.tensor([2, 3]), 1.5),
    "broadcast": lambda L: L.special.zeta(L.tensor([[2.0], [3.0]]), L.tensor([1.0, 2.0, 3.0])),
    "zero_dim": lambda L: L.special.zeta(L.tensor(2.0), L.tensor(1.0)),
    "empty": lambda L: L.special.zeta(L.ones(0, 3), L.ones(3)),
    "float16": lambda L: L.special.zeta(L.tensor([2.0], dtype=L.float16), L.tensor([1.0], dtype=L.float16)),
    "two_numbers": lambda L: L.special.zeta(1.0, 2.0),
    "big_int": lambda L: L.special.zeta(2**64, L.tensor([1.0])),
    "requires_grad_x": lambda L: L.special.zeta(L.tensor([2.0, 3.0], requires_grad=True), L.tensor([1.0, 2.0])),
    "requires_grad_q": lambda L: L.special.zeta(L.tensor([2.0, 3.0]), L.tensor([1.0, 2.0], requires_grad=True)),
    "number_x_grad": lambda L: L.special.zeta(2.0, L.tensor([1.0, 2.0], requires_grad=True)),
    "number_q_grad": lambda L: L.special.zeta(L.tensor([2.0, 3.0], requires_grad=True), 2.0),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_zeta_forms(form):
    assert _answer(engine, FORMS[form]) == _answer(torch, FORMS[form])


def _grads(L, dtype, x_number):
    q = L.tensor([1.0, 2.0, 0.5, -1.5, 3.0], dtype=getattr(L, dtype), requires_grad=True)
    x = 2.5 if x_number else L.tensor([[2.0], [3.5]], dtype=getattr(L, dtype))
    out = L.special.zeta(x, q)
    g = L.linspace(-1, 2, out.numel(), dtype=getattr(L, dtype)).reshape(out.shape)
    (gq,) = L.autograd.grad(out, q, g)
    return _bits(gq)


@pytest.mark.parametrize("x_number", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeta_gradient_wrt_q(dtype, x_number):
    assert _grads(engine, dtype, x_number) == _grads(torch, dtype, x_number)


@pytest.mark.parametrize("x_number", [False, True])
def test_zeta_gradient_wrt_x_not_implemented(x_number):
    res = []
    for L in (engine, torch):
        x = L.tensor([2.0, 3.0], requires_grad=True)
        out = L.special.zeta(x, 2.0) if x_number else L.special.zeta(x, L.tensor([1.0, 2.0], requires_grad=True))
        try:
            out.sum().backward()
            res.append("no error")
        except Exception as e:  # noqa: BLE001
            res.append((type(e).__name__, str(e)))
    assert res[0] == res[1]


@pytest.mark.parametrize("which", ["x", "q"])
def test_zeta_forward_ad_refused(which):
    res = []
    for L, fwd in ((engine, efwd), (torch, tfwd)):
        with fwd.dual_level():
            d = fwd.make_dual(L.tensor([2.0, 3.0]), L.ones(2))
            try:
                out = L.special.zeta(d, L.tensor([1.0, 2.0])) if which == "x" else L.special.zeta(2.0, d)
                res.append(fwd.unpack_dual(out).tangent)
            except Exception as e:  # noqa: BLE001
                res.append((type(e).__name__, str(e)))
    assert res[0] == res[1]


def test_zeta_is_charged():
    """Charged before it runs (the rule: the elements' powers), and the series' extra terms where q is far below 9:
    q = -1e7 + 0.5 (x a whole number: else NaN at once) asks for ten million terms, refused by max_flops before
    they run."""
    b = _budget.Budget()
    with _budget.active(b):
        engine.special.zeta(engine.rand(1000, dtype=engine.float64) + 2, engine.rand(1000, dtype=engine.float64))
    assert b.used_flops >= 1000 * 300
    b = _budget.Budget(max_flops=1e9)
    with _budget.active(b), pytest.raises(LimitExceeded):
        engine.special.zeta(engine.full((100,), 3.0, dtype=engine.float64), engine.full((100,), -1e7 + 0.5,
                                                                                        dtype=engine.float64))
