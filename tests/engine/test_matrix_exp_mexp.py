"""linalg.matrix_exp as torch 2.13's mexp, against live torch: a 1x1 matrix is exp; one matrix takes the Taylor
degree its 1-norm picks (1, 2, 4, 8, 12) or degree 18 with scaling and squaring; a batch of several takes degree 18
for every matrix; the products in torch's small-matrix order and float32 in float32, so n <= 8 agrees bit for
bit (values and gradients); the scaling by 2**s is exact (exp([[0, 1e20], [0, 0]]) is [[1, 1e20], [0, 1]]).
redteam14 F2: a NaN or infinite matrix charged a negative count of squarings (-1e22 flops)."""
from __future__ import annotations

import base64
import math

import numpy as np
import pytest
import torch

import engine
from tests.engine.empty_dims_sweep import measure


def _both(x, dtype, grad=False):
    out = []
    for L in (torch, engine):
        t = L.tensor(x.tolist(), dtype=getattr(L, dtype), requires_grad=grad)
        r = L.linalg.matrix_exp(t)
        if not grad:
            out.append(np.asarray(r.numpy()))
            continue
        up = L.tensor(np.cos(np.arange(r.numel())).reshape(tuple(r.shape)).tolist(), dtype=getattr(L, dtype))
        (r * up).sum().backward()
        out.append((np.asarray(r.detach().numpy()), np.asarray(t.grad.numpy())))
    return out


SCALES = [1e-9, 1e-5, 1e-3, 0.02, 0.1, 0.3, 0.7, 1.5, 3.0, 10.0, 100.0]  # every degree, 0 to ~10 squarings


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_one_matrix_bit_for_bit(dtype, n):
    rng = np.random.default_rng(n)
    for scale in SCALES:
        x = rng.standard_normal((n, n)) * scale / n
        t, e = _both(x, dtype)
        assert np.array_equal(t, e), (scale, t, e)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(3, 2, 2), (2, 3, 3), (2, 2, 4, 4)])
def test_batches_and_gradients_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(len(shape))
    for scale in (1e-6, 0.03, 0.2, 1.0, 5.0):
        x = rng.standard_normal(shape) * scale * rng.uniform(0.1, 2, shape[:-2] + (1, 1))
        (tv, tg), (ev, eg) = _both(x, dtype, grad=True)
        assert np.array_equal(tv, ev) and np.array_equal(tg, eg), scale


@pytest.mark.parametrize("x", [[[0.0, 1e20], [0.0, 0.0]], [[0.0, 1e300], [0.0, 0.0]], [[math.nan, 0.0], [0.0, 1.0]],
                               [[math.inf, 0.0], [0.0, 1.0]], [[1e30, 0.0], [0.0, 1.0]], [[math.inf]],
                               [[-math.inf]], [[math.nan]]], ids=repr)
def test_extreme_values_as_torch(x):
    t, e = _both(np.array(x), "float64")
    assert np.array_equal(t, e, equal_nan=True)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_matrices_charge_no_negative_work(value):
    values = np.full((3, 4, 4), float(value.replace("Infinity", "inf")))
    leaf = {"data": {"dtype": "float64", "shape": [3, 4, 4], "b64": base64.b64encode(values.tobytes()).decode()}}
    doc = {"leaves": {"x": leaf}, "ops": [{"name": "e", "op": "linalg.matrix_exp", "args": ["x"]}], "outputs": []}
    m = measure(doc)
    assert m["status"] == "ok" and m["flops"] > 0, m


def test_an_overflowing_12x12_keeps_torchs_infinities():
    """review15 R1: from 12 rows the squarings take BLAS's order; the one-at-a-time sum had turned inf into NaN."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((12, 12)) * 30
        t, e = _both(x, "float32")
        assert np.array_equal(np.isnan(t), np.isnan(e)) and np.array_equal(np.isinf(t), np.isinf(e))


def test_a_1x1_float32_is_exp_rounded_from_double():
    """review15 R6: torch's exp of one float32 element is glibc's (correctly rounded); NumPy's float32 SIMD exp is
    an ulp off for ~40% of values."""
    x = np.random.default_rng(3).standard_normal(200) * 3
    same = sum(np.array_equal(*_both(np.array([[v]]), "float32")) for v in x)
    assert same >= 190, same


def test_float16_1x1_is_exp_and_larger_float16_is_refused_honestly():
    """redteam15 F1: torch 2.13 answers exp for 1x1 float16 matrices (a batch of them too); from 2 rows its float16
    kernel answers garbage (-21040 on the diagonal of exp(0.5 I)), which the engine refuses with a message saying
    so instead of the dtype error torch gives only for integers."""
    v = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    x = v[np.isfinite(v)].reshape(-1, 1, 1)  # every finite float16 (review16 R4: through float32, as torch)
    t, e = (L.linalg.matrix_exp(L.tensor(x.astype(np.float32).tolist(), dtype=L.float16)) for L in (torch, engine))
    assert e.dtype == engine.float16 and np.array_equal(t.numpy(), e.numpy(), equal_nan=True)
    g = engine.tensor([[0.5]], dtype=engine.float16, requires_grad=True)
    with pytest.raises(RuntimeError, match="the derivative of a float16 matrix is not supported"):
        engine.linalg.matrix_exp(g).sum().backward()  # (torch's is -inf)
    with pytest.raises(RuntimeError, match="float16 matrices of 2 or more rows are not supported"):
        engine.linalg.matrix_exp(engine.eye(2, dtype=engine.float16) * 0.5)
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        engine.linalg.matrix_exp(engine.tensor([[1]]))
