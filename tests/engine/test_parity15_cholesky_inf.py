"""float32 cholesky with an inf pivot before the last, as live torch 2.13 (MKL's spotrf): the column below the
inf pivot is NaN (its reciprocal scaling meets inf), so the next pivot is NaN and the factorization stops there:
cholesky_ex's info is that pivot's order and its partial factor potf2's; cholesky raises. float64 (dpotrf
divides) goes on: inf on the diagonal, zeros below, as before (engine/ops/linalg_cholesky.py _stopped)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

assert torch.__version__.startswith("2.13"), torch.__version__


def _cases():
    rng = np.random.default_rng(0)
    out = [[[np.inf, 1.0], [1.0, 2.0]], [[4.0, 1, 0], [1, np.inf, 1], [0, 1, 3]],
           [[1.0, 0, 0], [0, 1, 0], [0, 0, np.inf]],
           [[np.inf, 0], [0, np.inf]]]
    for n in (2, 3, 5, 8):
        for _ in range(15):
            m = rng.standard_normal((n, n))
            a = m @ m.T + n * np.eye(n)
            j = rng.integers(0, n)
            a[j, j] = np.inf
            if rng.random() < 0.3:
                j = rng.integers(0, n)
                a[j, j] = -50
            out.append(a)
    return out


def _same(t, e):
    return (np.array_equal(np.isnan(t), np.isnan(e)) and np.array_equal(np.where(np.isinf(t), t, 0),
                                                                          np.where(np.isinf(e), e, 0))
            and np.allclose(np.where(np.isfinite(t), t, 0), np.where(np.isfinite(e), e, 0), rtol=1e-5, atol=1e-6))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_ex_inf_pivot(dtype, upper):
    for a in _cases():
        a = np.array(a, dtype=dtype)
        a = a.T.copy() if upper else a
        t_l, t_i = torch.linalg.cholesky_ex(torch.from_numpy(a), upper=upper)
        e_l, e_i = engine.linalg.cholesky_ex(engine.tensor(a), upper=upper)
        assert int(t_i) == int(np.asarray(e_i.numpy())), a.tolist()
        assert _same(t_l.numpy(), np.asarray(e_l.numpy())), a.tolist()


def test_batched_and_the_raised_error():
    a = np.array([[[4.0, 1, 0], [1, np.inf, 1], [0, 1, 3]], [[2.0, 0, 0], [0, 2, 0], [0, 0, 2]]], dtype=np.float32)
    t_l, t_i = torch.linalg.cholesky_ex(torch.from_numpy(a))
    e_l, e_i = engine.linalg.cholesky_ex(engine.tensor(a))
    assert np.array_equal(t_i.numpy(), np.asarray(e_i.numpy())) and _same(t_l.numpy(), np.asarray(e_l.numpy()))
    with pytest.raises(Exception) as te:
        torch.linalg.cholesky(torch.from_numpy(a))
    with pytest.raises(Exception) as ee:
        engine.linalg.cholesky(engine.tensor(a))
    assert str(te.value) == str(ee.value)
