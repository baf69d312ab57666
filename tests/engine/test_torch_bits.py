"""PyTorch's numbers to the bit where its CPU algorithm is portable, against live torch 2.13: linspace, arange,
pow by small integer exponents, float sums and means in torch's summation order, and the fused multiply-add
the optimizers and range kernels need (checked against exact rational arithmetic)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine._fma import fma
from engine.ops import _torch_sum


def bits_equal(e, t):
    e, t = np.asarray(e), np.asarray(t)
    return e.shape == t.shape and e.dtype == t.dtype and e.reshape(-1).view(np.uint8).tobytes() == \
        t.reshape(-1).view(np.uint8).tobytes()


# ----- the fused multiply-add -----


def _exact_fma(a, b, c, dt):
    out = []
    for x, y, z in zip(a, b, c):
        v = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        if dt == np.float64:
            out.append(float(v))  # Fraction -> float rounds correctly
            continue
        d = np.float32(float(v))
        cands = [np.nextafter(d, np.float32(-np.inf)), d, np.nextafter(d, np.float32(np.inf))]
        # nearest, ties to even
        out.append(min(cands, key=lambda q: (abs(Fraction(float(q)) - v), int(np.array(q).view(np.int32)) & 1)))
    return np.array(out, dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fma_is_correctly_rounded(dt):
    rng = np.random.default_rng(0)
    n = 3000
    a = (rng.standard_normal(n) * rng.choice([1e-3, 1, 1e3], n)).astype(dt)
    b = rng.standard_normal(n).astype(dt)
    # c close to -a*b: the cancellation where a fused and an unfused multiply-add differ most
    c = np.where(rng.random(n) < 0.5, -(a.astype(np.float64) * b) * (1 + rng.standard_normal(n) * 1e-7),
                 rng.standard_normal(n)).astype(dt)
    r = fma(a, b, c, dt)
    assert bits_equal(r, _exact_fma(a, b, c, dt))
    assert not bits_equal(r, (a * b + c).astype(dt))  # the test can tell a fused result from an unfused one


def test_fma_non_finite():
    a = np.array([np.inf, np.nan, 1e308, 2.0, -np.inf])
    b = np.array([2.0, 1.0, 10.0, np.inf, 0.0])
    c = np.array([1.0, 1.0, 0.0, -np.inf, 1.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(fma(a, b, c, np.float64), a * b + c)


# ----- linspace, arange -----

LINSPACE = [(0, 1, 5), (-3, 3, 7), (-3.0, 3.0, 101), (0.1, 0.7, 257), (5.5, -2.25, 1000), (-10, 10, 40000),
            (1e-3, 1e3, 33), (2.0, 2.0, 9), (0, 1, 1), (0, 1, 0), (-1.5, 2.5, 6)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32"])
@pytest.mark.parametrize("start,end,steps", LINSPACE)
def test_linspace_bits(start, end, steps, dtype):
    e = engine.linspace(start, end, steps, dtype=getattr(engine, dtype)).numpy()
    t = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    assert bits_equal(e, t)


def test_linspace_default_dtype_and_the_issue_example():
    """The issue's printout: a linspace cubed and summed differed in float32's last bit."""
    x = engine.linspace(-np.pi, np.pi, 2000)
    t = torch.linspace(-np.pi, np.pi, 2000)
    assert bits_equal(x.numpy(), t.numpy())
    y = engine.from_numpy(torch.sin(t).numpy())  # sin is NumPy's here, SLEEF's in torch: take torch's values
    assert repr((y ** 3).sum()) == repr((torch.sin(t) ** 3).sum())


ARANGE = [(0, 10, 1), (0.5, 3, 1), (0, 1, 0.1), (0.1, 40, 0.3), (-3.7, 20.2, 0.05), (10, 0, -0.3),
          (2.5, 100, 0.7), (0, 5000, 0.37), (0.1, 0.1 + 0.37 * 40000, 0.37), (1.0, 2.0, 0.001)]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", None])
@pytest.mark.parametrize("start,end,step", ARANGE)
def test_arange_bits(start, end, step, dtype):
    if dtype == "float16" and (end - start) / step > 2048:
        pytest.skip("float16 cannot count that far")
    kw = {} if dtype is None else {"dtype": getattr(engine, dtype)}
    tkw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    assert bits_equal(engine.arange(start, end, step, **kw).numpy(), torch.arange(start, end, step, **tkw).numpy())


# ----- pow by small exponents -----


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("exponent", [2, 3, 3.0, -1, -2, -2.0, -0.5, 1, 0, 1.0])
def test_pow_bits(exponent, dt):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(3000) * rng.choice([1e-3, 1, 10, 1e3], 3000)).astype(dt)
    x[:4] = [0.0, -0.0, np.inf, np.nan]
    with np.errstate(all="ignore"):
        e = engine.from_numpy(x.copy()) ** exponent
        t = torch.from_numpy(x.copy()) ** exponent
    assert bits_equal(e.numpy(), t.numpy())
    if exponent - 1 not in (2, 1, 0, -1, -2, -0.5):
        return  # the gradient takes x ** (exponent - 1): a general pow (SLEEF's in torch, NumPy's here)
    xe = engine.tensor(x[4:40], requires_grad=True)
    xt = torch.tensor(x[4:40], requires_grad=True)
    (xe ** exponent).sum().backward()
    (xt ** exponent).sum().backward()
    assert bits_equal(xe.grad.numpy(), xt.grad.numpy())


# ----- sums and means -----

SUMS = [((n,), None) for n in (1, 3, 7, 8, 9, 15, 16, 31, 33, 64, 65, 100, 257, 513, 1000, 4097, 20000, 32767)]
SUMS += [((1000, 100), 1), ((200, 300), -1), ((1000, 100), 0), ((1000, 37), 0), ((33000, 3), 0)]
SUMS += [((5, 7), 1), ((5, 16), 1), ((3, 1000), 1), ((5, 7), 0), ((40, 7), 0), ((300, 7), 0), ((32, 128), 0),
         ((32, 10), 0), ((32, 10), 1), ((50, 100), 0), ((7, 40), 0), ((1000, 10), 0), ((4, 5, 6), 1),
         ((4, 5, 6), (0, 1)), ((4, 5, 6), (1, 2)), ((2, 3, 4, 5), (1, 2)), ((3, 1, 200), 2), ((64, 64, 7), None),
         ((2, 3), (0, 1)), ((300, 32), 0), ((16, 64), 0), ((17, 96), 0), ((4096, 32), 0), ((3, 2), 0)]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", SUMS, ids=[f"{s}-{d}" for s, d in SUMS])
def test_sum_and_mean_bits(shape, dim, dt):
    rng = np.random.default_rng(abs(hash((shape, dim))) % 2**32)
    a = (rng.standard_normal(shape) * rng.choice([1, 1e4], shape)).astype(dt)
    for op in ("sum", "mean"):
        e = getattr(engine.from_numpy(a), op)() if dim is None else getattr(engine.from_numpy(a), op)(dim)
        t = getattr(torch.from_numpy(a), op)() if dim is None else getattr(torch.from_numpy(a), op)(dim)
        assert bits_equal(e.numpy(), t.numpy()), op


@pytest.mark.parametrize("n", [32768, 40000, 100_001, 1_000_000])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_large_full_sums_bits(n, dt):
    """Past GRAIN_SIZE torch sums each thread's range, then the partial sums: the engine replays the split for
    torch's thread count (it models torch's default; the test says so where they differ)."""
    if _torch_sum.torch_threads() != torch.get_num_threads():
        pytest.skip(f"torch runs {torch.get_num_threads()} threads, the engine models {_torch_sum.torch_threads()}")
    a = np.random.default_rng(n).standard_normal(n).astype(dt)
    assert bits_equal(engine.from_numpy(a).sum().numpy(), torch.from_numpy(a).sum().numpy())


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_small_sums_take_the_general_order(dt):
    """_small_sum (full sums below 64 vectors, in a few NumPy calls) adds as the general cascade does, at every
    size it takes, and agrees with torch."""
    w = _torch_sum.VECTOR_BYTES // np.dtype(dt).itemsize
    rng = np.random.default_rng(7)
    for n in range(1, 64 * w):
        a = (rng.standard_normal(n) * rng.choice([1, 1e4, 1e-3], n)).astype(dt)
        general = _torch_sum._inner_sum(a.reshape(1, n))[0] + a.dtype.type(0)
        assert bits_equal(_torch_sum._small_sum(a, w) + a.dtype.type(0), general), n
        if n % 37 == 1:
            assert bits_equal(engine.from_numpy(a).sum().numpy(), torch.from_numpy(a).sum().numpy()), n


_SMALL_VALUES = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38, float("inf"), float("-inf"), float("nan")]),
    st.floats(-1e4, 1e4, width=32),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_SMALL_VALUES, min_size=1, max_size=70), st.sampled_from(["float32", "float64"]))
def test_small_full_sums_bits_against_torch(values, dt):
    """Full sums of the sizes small programs have (one vector's lanes taken directly, _small_sum's few calls),
    over any values (signed zeros, subnormals, overflow, infinities, NaN), to the bit with live torch: forward,
    and SumBackward0's gradient (a read-only zero-stride view of the 0-d gradient, as np.broadcast_to gives)."""
    a = np.array(values, dtype=dt)
    with np.errstate(all="ignore"):
        e = engine.from_numpy(a).sum().numpy()
        general = _torch_sum._inner_sum(a.reshape(1, -1))[0] + a.dtype.type(0)  # the cascade, every step
    assert bits_equal(e, general)  # NaN's sign and payload included
    t = torch.from_numpy(a).sum().numpy()
    # a NaN's sign: x86's default NaN (inf - inf) is negative, and the order of two NaN operands picks whose
    # bits a sum keeps; torch's vector kernel and NumPy's loops differ there (before this route as well)
    assert bits_equal(e, t) or (np.isnan(e) and np.isnan(t))
    x = engine.from_numpy(a.copy()).requires_grad_(True)
    (x.sum() * 3.0).backward()
    tx = torch.from_numpy(a.copy()).requires_grad_(True)
    (tx.sum() * 3.0).backward()
    assert bits_equal(x.grad.numpy(), tx.grad.numpy())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from([4, 8, 16]), st.integers(1, 64)).flatmap(
    lambda n: st.lists(_SMALL_VALUES, min_size=n, max_size=n)),
       st.sampled_from(["float32", "float64"]))
def test_vector_sum_is_full_sum_and_torch(values, dt):
    """vector_sum (a 0-d operand's gradient summed in two NumPy calls: accumulate(v[0] + v[1])[-1] + 0) where it
    answers (one or two vectors' elements, sizes 1..64 tried), to the bit with full_sum (NaN's bits included) and
    with live torch's sum; None at every other size. Through sum_to_shape_array too (what backward calls)."""
    from engine.ops.reduction_sum import sum_to_shape_array

    a = np.array(values, dtype=dt)
    w = _torch_sum.VECTOR_BYTES // a.itemsize
    with np.errstate(all="ignore"):
        got = _torch_sum.vector_sum(a)
        want = _torch_sum.full_sum(a)
        via = sum_to_shape_array(a, ())
    if a.size not in (w, 2 * w):
        assert got is None
        return
    assert got is not None and type(got) is np.ndarray and got.shape == ()
    assert bits_equal(got, want) and bits_equal(via, want)
    t = torch.from_numpy(a).sum().numpy()
    assert bits_equal(got, t) or (np.isnan(got) and np.isnan(t))  # a NaN's sign: see the test above
    if not np.isnan(got):
        assert np.signbit(got) == np.signbit(t)


def test_vector_sum_declines_strided_and_other_dtypes():
    a = np.arange(32, dtype=np.float32)
    assert _torch_sum.vector_sum(a[::2]) is None  # 16 elements, not contiguous
    assert _torch_sum.vector_sum(np.arange(16, dtype=np.float16)) is None
    assert _torch_sum.vector_sum(np.arange(8, dtype=np.int64)) is None
    assert bits_equal(_torch_sum.vector_sum(np.full(16, -0.0, np.float32)), np.float32(0.0))  # torch's +0 start


def test_sum_backward_view_is_broadcast_to():
    from engine.ops.reduction_sum import _broadcast_scalar_grad

    g = np.array(2.5, np.float32)
    for shape in [(8,), (3, 4), (), (0,), (2, 0, 3)]:
        got, want = _broadcast_scalar_grad(g, shape), np.broadcast_to(g, shape)
        assert (got.shape, got.strides, got.dtype, got.flags.writeable) == \
            (want.shape, want.strides, want.dtype, want.flags.writeable)
        assert bits_equal(np.ascontiguousarray(got), np.ascontiguousarray(want))


def test_sum_of_negative_zeros_and_specials():
    for vals in ([-0.0, -0.0], [-0.0] * 20, [np.inf, 1.0, -np.inf], [np.nan] + [1.0] * 40, [1e38, 1e38, -1e38]):
        a = np.array(vals, np.float32)
        assert bits_equal(engine.from_numpy(a).sum().numpy(), torch.from_numpy(a).sum().numpy())


def test_sum_order_matters_here():
    """A sum whose value depends on the order: NumPy's pairwise sum differs from torch's, the engine does not."""
    a = (np.random.default_rng(1).standard_normal(1000) * 10.0 ** np.random.default_rng(101).integers(-3, 5, 1000))
    a = a.astype(np.float32)
    t = torch.from_numpy(a).sum().numpy()
    assert not bits_equal(np.sum(a), t)
    assert bits_equal(engine.from_numpy(a).sum().numpy(), t)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_cumulative_bits(op, dt):
    """torch accumulates cumsum/cumprod in double for float32 (acc_type), float for float16."""
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((40, 90)) * 3 if op == "cumsum" else rng.uniform(0.5, 1.5, (40, 30))).astype(dt)
    for d in (0, 1):
        assert bits_equal(getattr(engine.from_numpy(a), op)(d).numpy(), getattr(torch.from_numpy(a), op)(d).numpy())
