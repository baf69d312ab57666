"""lu_solve with a factor that has a zero on U's diagonal, as live torch 2.13 (MKL's getrs): no error, and ±inf /
NaN where getrs' substitutions put them (engine/ops/linalg_lu.py _getrs): no trans, L then U by columns; trans
(adjoint, or left=False without it: torch solves X A = B as A^T X^T = B^T), U^T then L^T by rows. The finite
entries are compared to a few ulps (the substitution's rounding order is MKL's own)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

assert torch.__version__.startswith("2.13"), torch.__version__


def _pattern(x):
    return np.isnan(x), np.where(np.isinf(x), x, 0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [2, 3])
def test_singular_factor_inf_nan_placement(dtype, n):
    rng = np.random.default_rng(n)
    for _ in range(60):
        a = rng.integers(-3, 4, (n, n)).astype(dtype)
        a[:, rng.integers(1, n)] = 0 if rng.random() < 0.5 else a[:, 0]
        lu, piv, _ = torch.linalg.lu_factor_ex(torch.from_numpy(a))
        b = rng.integers(-2, 3, (n, 3)).astype(dtype)
        for left in (True, False):
            for adjoint in (False, True):
                bx = b if left else b.T.copy()
                t = torch.linalg.lu_solve(lu, piv, torch.from_numpy(bx), left=left, adjoint=adjoint).numpy()
                e = engine.linalg.lu_solve(engine.tensor(lu.numpy()), engine.tensor(piv.numpy()), engine.tensor(bx),
                                           left=left, adjoint=adjoint).numpy()
                e = np.asarray(e)
                assert e.dtype == t.dtype
                tn, ti = _pattern(t)
                en, ei = _pattern(e)
                assert np.array_equal(tn, en) and np.array_equal(ti, ei), (a.tolist(), bx.tolist(), left, adjoint)
                fin = np.isfinite(t)
                assert np.allclose(t[fin], e[fin], rtol=1e-5 if dtype == "float32" else 1e-12, atol=0)


def test_zero_pivot_where_the_product_is_invertible():
    # P L U of this factor rounds to an invertible matrix: NumPy's solver had answered values near 1e16
    a = np.array([[-1.0, -1.0, 3.0], [1.0, 1.0, 0.0], [1.0, 1.0, 2.0]])
    b = np.array([[1.0, 2.0, 1.0], [1.0, 0.0, -1.0], [-1.0, -2.0, 0.0]])
    lu, piv, _ = torch.linalg.lu_factor_ex(torch.from_numpy(a))
    t = torch.linalg.lu_solve(lu, piv, torch.from_numpy(b), adjoint=True).numpy()
    e = np.asarray(engine.linalg.lu_solve(engine.tensor(lu.numpy()), engine.tensor(piv.numpy()), engine.tensor(b),
                                          adjoint=True).numpy())
    assert all(np.array_equal(p, q) for p, q in zip(_pattern(t), _pattern(e)))


def test_batched_singular_and_regular():
    rng = np.random.default_rng(5)
    a = rng.integers(-3, 4, (4, 3, 3)).astype(np.float64)
    a[1, :, 2] = a[1, :, 0]
    a[3, :, 1] = 0
    lu, piv, _ = torch.linalg.lu_factor_ex(torch.from_numpy(a))
    b = rng.integers(-2, 3, (4, 3, 2)).astype(np.float64)
    t = torch.linalg.lu_solve(lu, piv, torch.from_numpy(b)).numpy()
    e = np.asarray(engine.linalg.lu_solve(engine.tensor(lu.numpy()), engine.tensor(piv.numpy()),
                                          engine.tensor(b)).numpy())
    assert all(np.array_equal(p, q) for p, q in zip(_pattern(t), _pattern(e)))
    fin = np.isfinite(t)
    assert np.allclose(t[fin], e[fin], rtol=1e-12, atol=1e-12)
