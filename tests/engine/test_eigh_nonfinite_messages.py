"""redteam14 F9: linalg.eigh / eigvalsh of a matrix holding a NaN raise torch 2.13's LinAlgError text (syevd's
error code: n - 1 with eigenvectors up to 25 rows, n - 2 for eigenvalues alone, which torch computes only where a
gradient may need them; the first NaN batch element named), not NumPy's "Eigenvalues did not converge"."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine

CASES = [((3, 3), "eigh", False), ((5, 5), "eigh", False), ((3, 3), "eigvalsh", False), ((3, 3), "eigvalsh", True),
         ((2, 3, 3), "eigh", False), ((3, 4, 4), "eigvalsh", False), ((8, 8), "eigvalsh", False),
         ((25, 25), "eigh", False), ((30, 30), "eigvalsh", False), ((2, 2), "eigvalsh", False)]


def _run(L, x, fn, rg):
    try:
        getattr(L.linalg, fn)(L.tensor(x.tolist(), dtype=L.float64, requires_grad=rg))
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return "ok"


@pytest.mark.parametrize("shape,fn,rg", CASES, ids=repr)
def test_nan_matrices_fail_as_torch(shape, fn, rg):
    x = np.random.default_rng(0).standard_normal(shape)
    x = x + np.swapaxes(x, -1, -2)
    x[(-1,) * len(shape)] = math.nan
    assert _run(engine, x, fn, rg) == _run(torch, x, fn, rg)


def test_a_program_of_eigvalsh_still_lowers():
    """review15 R9: eigvalsh's compute_v flag written as bool(...) read as a value to the lowering's glue check,
    and programs using it stopped lowering."""
    from tests.engine.test_lower import check_lowered
    x = np.random.default_rng(1).standard_normal((3, 3))
    spec = {"leaves": {"a": {"data": (x + x.T).tolist(), "requires_grad": True}},
            "ops": [{"name": "w", "op": "linalg.eigvalsh", "args": ["a"]}, {"name": "s", "op": "sum", "args": ["w"]}],
            "backward": [{"tensor": "s"}], "outputs": ["w", "s"]}
    check_lowered(spec)


@pytest.mark.parametrize("fn", ["eigh", "eigvalsh"])
def test_an_inf_without_nan_answers_as_torch(fn):
    """review15 R8: an inf (no NaN) answers NaN eigenvalues in torch, no error."""
    x = np.random.default_rng(0).standard_normal((4, 4))
    x = x + x.T
    x[0, 0] = math.inf
    assert _run(engine, x, fn, False) == _run(torch, x, fn, False) == "ok"


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_a_nan_in_the_triangle_not_read_is_ignored_as_torch(uplo):
    """review15 R8/R10: syevd reads one triangle; a NaN in the other changes nothing."""
    x = np.random.default_rng(2).standard_normal((2, 4, 4))
    x = x + np.swapaxes(x, -1, -2)
    x[0, 0, 3] = math.nan  # upper triangle of element 0
    x[1, 3, 0] = math.nan  # lower triangle of element 1

    def run(L):
        try:
            return L.linalg.eigvalsh(L.tensor(x.tolist(), dtype=L.float64), UPLO=uplo).tolist()
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e)
    assert run(engine) == run(torch)
