"""Forward-AD differences found on OpInfo's samples (GRADSERVE_OPINFO_FULL=1's forward-AD column), held to live
torch 2.13: diff with n=0 (copy_'s tangent), triangular_solve's formula (torch's generic_solve_jvp uses dA as given:
not projected on the triangle, not transposed), under every flag and under jacfwd's batched level."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from tests.engine.test_functional import same

R = np.random.default_rng(1619)
A = R.uniform(-1, 1, (3, 3)) + 3 * np.eye(3)
TA = R.uniform(-1, 1, (3, 3))
B = R.uniform(-1, 1, (3, 2))
TB = R.uniform(-1, 1, (3, 2))


def mk(m, a, rg=False):
    return m.tensor(np.asarray(a).tolist(), dtype=m.float64, requires_grad=rg)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_diff_of_order_zero_copies_the_tangent(requires_grad):
    def f(m):
        fa = m.autograd.forward_ad
        with fa.dual_level():
            x = fa.make_dual(mk(m, B, requires_grad), mk(m, TB))
            y = m.diff(x, 0, 0)
            t = fa.unpack_dual(y).tangent
            return y, t, t is fa.unpack_dual(x).tangent
    same(f, names=False)


@pytest.mark.parametrize(("upper", "transpose", "unitriangular"), list(itertools.product([True, False], repeat=3)))
def test_triangular_solve_tangent_is_torchs(upper, transpose, unitriangular):
    def f(m):
        fa = m.autograd.forward_ad
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation of triangular_solve
            with fa.dual_level():
                y = m.triangular_solve(fa.make_dual(mk(m, B), mk(m, TB)), fa.make_dual(mk(m, A), mk(m, TA)),
                                       upper=upper, transpose=transpose, unitriangular=unitriangular)
                tangents = [fa.unpack_dual(o).tangent for o in y]
            jac = m.func.jacfwd(lambda a: m.triangular_solve(mk(m, B), a, upper=upper, transpose=transpose,
                                                             unitriangular=unitriangular)[0])(mk(m, A))
        return tangents, jac
    same(f, names=False)
