"""A handful of engine ops and engine.evaluate under CuPy, where a CUDA GPU is usable; skipped (with the
reason) elsewhere. The results are compared with the NumPy backend's."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import _backend

_OK, _WHY = _backend.cupy_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"CuPy/CUDA not usable here: {_WHY}")

PROGRAM = {
    "leaves": {"a": {"data": [[1.0, 2.0], [3.0, 4.0]], "requires_grad": True},
               "b": {"data": [0.5, -1.0], "requires_grad": True}},
    "ops": [{"name": "m", "op": "matmul", "args": ["a", "b"]},
            {"name": "e", "op": "exp", "args": ["m"]},
            {"name": "s", "op": "softmax", "args": ["e"], "kwargs": {"dim": 0}},
            {"name": "l", "op": "sum", "args": ["s"]}],
    "backward": [{"tensor": "l"}],
}


@pytest.fixture
def cupy_backend():
    print(f"CuPy backend: {_WHY}")
    _backend.use("cupy")
    try:
        yield
    finally:
        _backend.use("numpy")


def test_ops_and_backward(cupy_backend):
    x = engine.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x @ x.T).exp().sum()
    y.backward()
    assert type(x._data).__module__.startswith("cupy")
    xn = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    want = np.exp(xn @ xn.T)
    np.testing.assert_allclose(_backend.to_numpy(y._data), want.sum(), rtol=1e-5)
    g = want + want.T
    np.testing.assert_allclose(_backend.to_numpy(x.grad._data), g @ xn, rtol=1e-5)


def test_evaluate_matches_numpy(cupy_backend):
    gpu = engine.evaluate({**PROGRAM, "device": "cuda"})
    _backend.use("numpy")
    cpu = engine.evaluate({**PROGRAM, "device": "cpu"})
    assert gpu["device"] == "cuda" and cpu["device"] == "cpu"
    for name, t in cpu["tensors"].items():
        np.testing.assert_allclose(np.array(gpu["tensors"][name]["data"]), np.array(t["data"]), rtol=1e-5)
        if t["grad"] is not None:
            np.testing.assert_allclose(np.array(gpu["tensors"][name]["grad"]), np.array(t["grad"]), rtol=1e-5)
        assert gpu["tensors"][name]["grad_fn"] == t["grad_fn"]
    assert gpu["graph"] == cpu["graph"]


def test_plan_cache_on_cupy(cupy_backend):
    """A program recorded on CuPy replays on CuPy (equal to the full path there) and is not taken for a
    NumPy run of the same document (the array module is part of the key)."""
    cache = engine.PlanCache()
    doc = {**PROGRAM, "device": "cuda"}
    engine.evaluate(doc, cache=cache)
    twin = {**doc, "leaves": {"a": {"data": [[0.5, 1.0], [1.5, -2.0]], "requires_grad": True},
                              "b": {"data": [2.0, 0.25], "requires_grad": True}}}
    replayed = engine.evaluate(twin, cache=cache)
    assert cache.hits == 1 and replayed == engine.evaluate(twin)
    _backend.use("numpy")
    assert engine.evaluate({**twin, "device": "cpu"}, cache=cache)["device"] == "cpu" and cache.hits == 1


def test_no_cuda_message():
    """Runs everywhere the module runs; documents what a NumPy engine says to device cuda."""
    with pytest.raises(Exception, match="no CUDA backend"):
        engine.evaluate({**PROGRAM, "device": "cuda"})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 3, 4, 5, 1023, 4099, 1 << 20])
def test_vectorized_kernels_equal_cupy_ufuncs(cupy_backend, dtype, n):
    """engine._backend.cuda_pointwise against CuPy's own ufuncs, to the bit: sizes with and without a tail,
    one-value operands (broadcast, size 1, a Python number), and the cases it must leave to CuPy."""
    import cupy as cp  # noqa: PLC0415

    rng = cp.random.default_rng(n)
    x = rng.standard_normal(n, dtype=dtype)
    y = cp.abs(rng.standard_normal(n, dtype=dtype)) + 0.5  # sqrt and log of positive numbers: no NaN
    one = cp.broadcast_to(cp.asarray(1.5, dtype), (n,))
    cases = [("sin(a)", (x,), cp.sin(x)), ("exp(a)", (x,), cp.exp(x)), ("tanh(a)", (x,), cp.tanh(x)),
             ("sqrt(a)", (y,), cp.sqrt(y)), ("log(a)", (y,), cp.log(y)), ("-a", (x,), -x),
             ("sqrt(a)", (x,), cp.sqrt(x)),  # NaN for the negative ones, as CuPy gives
             ("a * b", (x, y), x * y), ("a / b", (x, y), x / y), ("a - b", (x, y), x - y),
             ("a * b", (one, y), one * y), ("a + b", (x, 2.5), x + 2.5), ("a - b", (3, x), 3 - x),
             ("a * b", (x, cp.asarray([2.0], dtype)), x * cp.asarray([2.0], dtype))]
    for expr, operands, want in cases:
        got = _backend.cuda_pointwise(expr, operands)
        if n == 1 and all(getattr(o, "size", 1) == 1 for o in operands):
            assert got is None, expr  # nothing to vectorize: CuPy's ufunc
            continue
        assert got is not None and got.dtype == want.dtype and got.shape == want.shape, expr
        assert bool(((got == want) | (cp.isnan(got) & cp.isnan(want))).all()), expr
    # not for this path: a misaligned view, mixed dtypes, a strided view, an integer array
    if n > 4:
        assert _backend.cuda_pointwise("sin(a)", (x[1:],)) is None
        assert _backend.cuda_pointwise("a * b", (x, y.astype("float16"))) is None
        assert _backend.cuda_pointwise("sin(a)", (x[::2],)) is None
        assert _backend.cuda_pointwise("-a", (cp.arange(n),)) is None


def test_ops_use_the_kernels_and_give_torch_grads(cupy_backend):
    """sin/exp/mul under CuPy run the vectorized kernels (forward and backward) with the same values."""
    import cupy as cp  # noqa: PLC0415

    _backend._kernels.clear()
    xn = np.random.default_rng(0).uniform(-1, 1, 10_000).astype(np.float32)
    x = engine.as_tensor(cp.asarray(xn)).requires_grad_()
    x.sin().exp().mul(x).sum().backward()
    assert {k[0] for k in _backend._kernels} >= {"sin(a)", "exp(a)", "a * b", "cos(a)"}
    s = np.sin(xn.astype(np.float64))
    want = np.exp(s) * np.cos(xn) * xn + np.exp(s)
    np.testing.assert_allclose(_backend.to_numpy(x.grad._data), want, rtol=1e-5)
