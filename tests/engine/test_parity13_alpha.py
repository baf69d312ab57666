"""add / sub / add_ / sub_ / rsub with an alpha, as torch 2.13's CPU add kernel rounds `self + alpha * other`:
one fused multiply-add for float32 / float64 (vectorized body and scalar tail alike), float16 in float32 over the
vectorized body and in Half arithmetic over the scalar tail (engine/_fma.py add_scaled). Every case is compared
bit for bit with the live torch call: sizes 1..70 (body and tail), broadcasts, numbers, NaN / inf / -0.0, the
grads (the backward of alpha), and integer dtypes (unchanged)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

assert torch.__version__.startswith("2.13"), torch.__version__

DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}
OPS = {
    "add": lambda lib, a, b, al: lib.add(a, b, alpha=al),
    "sub": lambda lib, a, b, al: lib.sub(a, b, alpha=al),
    "add_": lambda lib, a, b, al: a.clone().add_(b, alpha=al),
    "sub_": lambda lib, a, b, al: a.clone().sub_(b, alpha=al),
    "rsub": lambda lib, a, b, al: lib.rsub(a, b, alpha=al),
}


def _bits(x):
    x = np.asarray(x)
    return x.dtype.name, x.shape, x.view(f"u{x.dtype.itemsize}").tolist()


def _both(fn, *arrays):
    t = fn(torch, *[torch.from_numpy(np.array(a)) for a in arrays]).numpy()
    e = fn(engine, *[engine.tensor(np.array(a)) for a in arrays]).numpy()
    return _bits(e), _bits(t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_sizes_1_to_70_bit_for_bit(dtype, op):
    rng = np.random.default_rng(13)
    bad = []
    for alpha in (-0.9, 0.1, 3.3, -7):
        for n in [*range(1, 71), 1000]:
            a = rng.uniform(-3, 3, n).astype(DTYPES[dtype])
            b = rng.uniform(-3, 3, n).astype(DTYPES[dtype])
            e, t = _both(lambda lib, x, y, al=alpha: OPS[op](lib, x, y, al), a, b)
            if e != t:
                bad.append((alpha, n, sum(i != j for i, j in zip(e[2], t[2]))))
    assert not bad, f"(alpha, size, differing elements): {bad[:10]}"


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 65504.0, 6e-8, 1e-30, 3e38, -3e38, 1e300]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [-0.9, 0.0, -0.0, 1e-3, 2.5e38, -1, 1])
def test_special_values(dtype, alpha):
    if dtype == "float16" and abs(alpha) > 65504:
        pytest.skip("torch refuses the alpha (tested with the messages elsewhere)")
    with np.errstate(all="ignore"):
        vals = np.array(SPECIAL, dtype=DTYPES[dtype])
    a = np.repeat(vals, len(vals))
    b = np.tile(vals, len(vals))
    for op in ("add", "sub", "rsub"):
        e, t = _both(lambda lib, x, y, op=op, alpha=alpha: OPS[op](lib, x, y, alpha), a, b)
        assert e == t, (op, alpha)


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcasts_and_numbers(dtype):
    rng = np.random.default_rng(5)
    d = DTYPES[dtype]

    def r(*shape):
        return rng.uniform(-3, 3, shape).astype(d)

    cases = [(r(3, 37), r(37)), (r(37, 3), r(37, 1)), (r(45), r()), (r(), r(45)), (r(2, 1, 35), r(3, 1)),
             (r(4, 40), r(4, 40)), (r(), r()), (r(0, 3), r(3)), (r(1, 70), r(70, 1))]
    for alpha in (-0.9, 0.3):
        for a, b in cases:
            for op in ("add", "sub", "rsub"):
                e, t = _both(lambda lib, x, y, op=op, alpha=alpha: OPS[op](lib, x, y, alpha), a, b)
                assert e == t, (op, alpha, a.shape, b.shape)
        a = r(50)
        for op in ("add", "sub"):
            e, t = _both(lambda lib, x, op=op, alpha=alpha: OPS[op](lib, x, 2.7, alpha), a)
            assert e == t, (op, alpha, "number")
        e, t = _both(lambda lib, x, alpha=alpha: lib.rsub(x, 2.7, alpha=alpha), a)
        assert e == t, ("rsub number", alpha)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "rsub"])
def test_grads_of_alpha(dtype, op):
    rng = np.random.default_rng(3)
    a, b, w = (rng.uniform(-3, 3, 37).astype(DTYPES[dtype]) for _ in range(3))

    def run(lib):
        x = lib.tensor(a, requires_grad=True)
        y = lib.tensor(b, requires_grad=True)
        out = OPS[op](lib, x, y, -0.9)
        (out * lib.tensor(w)).sum().backward()
        return _bits(out.detach().numpy()), out.grad_fn.name(), _bits(x.grad.numpy()), _bits(y.grad.numpy())

    assert run(engine) == run(torch)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8, np.bool_])
def test_integer_dtypes_unchanged(dtype):
    a = np.arange(-20, 20).astype(dtype)
    b = np.arange(40).astype(dtype)
    for alpha in (3, -2, 1, 0) if dtype is not np.bool_ else (True, False):
        for op in ("add", "sub", "rsub"):
            fn = OPS[op]
            try:
                t = _bits(fn(torch, torch.from_numpy(a), torch.from_numpy(b), alpha).numpy())
            except RuntimeError as ex:
                with pytest.raises(Exception, match=str(ex)[:30]):
                    fn(engine, engine.tensor(a), engine.tensor(b), alpha)
                continue
            assert _bits(fn(engine, engine.tensor(a), engine.tensor(b), alpha).numpy()) == t, (op, alpha)
