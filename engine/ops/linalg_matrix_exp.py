"""The matrix exponential: linalg.matrix_exp / matrix_exp as aten's mexp (Taylor polynomials of degree 1-18 picked
by the 1-norm, scaling and squaring past degree 18's theta; its squarings charged once their count is known; the
products in torch's small-matrix order), FunctionsManual's differential_analytic_matrix_function for the
backward. (Its catalog entries follow linalg_pinv's.)"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops.linalg_common import _back, _mH, _np, _square, _t, per_matrix
from engine.ops.linalg_products import _matmul_np as _mm
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, numel
from engine.tensor import Tensor

# ----- matrix_exp -----
# aten's mexp (Bader, Blanes, Casas 2019): a Taylor polynomial of degree 1, 2, 4, 8 or 12 picked by each matrix's
# 1-norm against the dtype's thetas, else degree 18 after scaling by 2**s and squaring s times; in the input's
# dtype, step for step (its linear combinations summed term by term from zero). A 1x1 matrix is exp itself.

_THETAS = {4: (1.192092800768788e-07, 5.978858893805233e-04, 5.116619363445086e-02, 5.800524627688768e-01,
               1.461661507209034e+00, 3.010066362817634e+00),
           8: (2.220446049250313e-16, 2.580956802971767e-08, 3.397168839976962e-04, 4.991228871115323e-02,
               2.996158913811580e-01, 1.090863719290036e+00)}


def _t8_coefficients(t):
    """compute_T8's constexpr constants: sqrt(177) and 2/3 held in the dtype, the rest in double, then the
    dtype (float32's constants differ from float64's in their last bits)."""
    r, x3 = float(t(0.1330413469565007072504e+2)), float(t(2. / 3.))
    return ((x3 * ((1. + r) / 88.), x3 * ((1. + r) / 352.)),
            (x3, 1.0),
            ((-271. + 29. * r) / (315. * x3), (-11. + 11. * r) / (1260. * x3), (-99. + 11. * r) / (5040. * x3),
             (89. - r) / (5040. * x3)),
            (1.0, 1.0, (857. - 58. * r) / 630., 0.0, 1.0))


_T8 = {4: _t8_coefficients(np.float32), 8: _t8_coefficients(np.float64)}

_T12 = ((9.0198e-16, 0.46932117595418237389, -0.20099424927047284052, -0.04623946134063071740),
        (5.31597895759871264183, 1.19926790417132231573, 0.01179296240992997031, 0.01108844528519167989),
        (0.18188869982170434744, 0.05502798439925399070, 0.09351590770535414968, 0.00610700528898058230),
        (-2.0861320e-13, -0.13181061013830184015, -0.02027855540589259079, -0.00675951846863086359))
_T18 = ((0., -1.00365581030144618291e-01, -8.02924648241156932449e-03, -8.92138498045729985177e-04, 0.),
        (0., 3.97849749499645077844e-01, 1.36783778460411720168e+00, 4.98289622525382669416e-01,
         -6.37898194594723280150e-04),
        (-1.09676396052962061844e+01, 1.68015813878906206114e+00, 5.71779846478865511061e-02,
         -6.98210122488052056106e-03, 3.34975017086070470649e-05),
        (-9.04316832390810593223e-02, -6.76404519071381882256e-02, 6.75961301770459654925e-02,
         2.95552570429315521194e-02, -1.39180257516060693404e-05),
        (0., 0., -9.23364619367118555360e-02, -1.69364939002081722752e-02, -1.40086798182036094347e-05))


def _powers(a, k):
    """The first k of I, A, A^2, A^3, A^6 (_fill_matrix_powers)."""
    out = [np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape), a]
    if k > 2:
        out.append(_mm(a, a))
    if k > 3:
        out.append(_mm(a, out[2]))
    if k > 4:
        out.append(_mm(out[3], out[3]))
    return out


def _comb(xs, coefs):
    """_compute_linear_combination: sum_j coefs[j] * xs[j], summed from zero in j's order, in the dtype."""
    dt = xs[0].dtype.type
    out = np.zeros(xs[0].shape, xs[0].dtype)
    for c, x in zip(coefs, xs, strict=False):
        out = out + x * dt(c)
    return out


def _taylor(a, degree):
    if degree == 1:
        i, a1 = _powers(a, 2)
        return i + a1
    if degree == 2:
        i, a1, a2 = _powers(a, 3)
        return (i + a1) + a2 / a.dtype.type(2.0)
    if degree == 4:
        ps = _powers(a, 3)
        ps.append(_mm(ps[2], _comb(ps, (1 / 2.0, 1 / 6.0, 1 / 24.0))))
        return _comb(ps, (1.0, 1.0, 0.0, 1.0))
    if degree == 8:
        c = _T8[a.dtype.itemsize]
        ps = _powers(a, 3)
        ps.append(_mm(ps[2], _comb(ps[1:3], c[0])))
        ps.append(_mm(_comb(ps[2:4], c[1]), _comb(ps[0:4], c[2])))
        return _comb(ps, c[3])
    if degree == 12:
        ps = _powers(a, 4)
        bs = [_comb(ps, row) for row in _T12]
        bs[2] = bs[2] + _mm(bs[3], bs[3])
        return bs[0] + _mm(bs[1] + bs[2], bs[2])
    ps = _powers(a, 5)
    bs = [_comb(ps, row) for row in _T18]
    bs[3] = bs[3] + _mm(bs[0], bs[4])
    return bs[1] + _mm(bs[2] + bs[3], bs[3])


def _expm(a):
    """exp of a batch (..., n, n) of matrices, n >= 2, in a's dtype: aten's mexp."""
    a3 = a.reshape(-1, *a.shape[-2:])
    thetas = _THETAS[a.dtype.itemsize]
    t = a.dtype.type
    norm = np.abs(a3).sum(-2).max(-1)
    if a3.shape[0] > 1:  # (mexp_impl: a batch of more than one matrix takes degree 18 for every matrix)
        return _scale_square(a3, norm, t(thetas[5])).reshape(a.shape)
    res = np.full(a3.shape, np.nan, a.dtype)  # (a NaN norm falls in no interval: torch's empty_like, NaN here)
    lower = t(-1)
    for degree, upper in zip((1, 2, 4, 8, 12), thetas[:5], strict=True):
        pick = np.flatnonzero((lower < norm) & (norm <= t(upper)))
        if pick.size:
            res[pick] = _taylor(a3[pick], degree)
        lower = t(upper)
    big = np.flatnonzero(norm >= t(thetas[4]))
    if big.size:
        res[big] = _scale_square(a3[big], norm[big], t(thetas[5]))
    return res.reshape(a.shape)


def _scale_square(a, norm, theta):
    """compute_T18_scale_square: s = max(0, ceil(log2(norm / theta))), a / 2**s in the dtype (exact: torch 2.13
    answers exp([[0, 1e20], [0, 0]]) exactly), T18, squared s times (a NaN or infinite s, as C casts it to
    int64, squares none)."""
    with np.errstate(all="ignore"):
        sf = np.maximum(np.zeros_like(norm), np.ceil(np.log2(norm / theta)))
        scaled = a / np.power(a.dtype.type(2), sf)[:, None, None]
    s = np.where(np.isfinite(sf), sf, 0).astype(np.int64)
    r = _taylor(scaled, 18)
    smax = max(int(s.max()), 0)
    n = a.shape[-1]
    # the squarings' count depends on the values (up to ~1,000 at a norm near 1e300, every batch element each
    # time): charged when it is known, the deadline checked a squaring
    # (a squaring ~5 ns a 1x1 matrix, ~45 a 2x2: a matmul and a where over the batch, charged 2 n^3 before; safeL)
    budget.charge(0, 8, smax * (2 * r.size * n + 8 * r.size + 10 * (r.size // max(n * n, 1)) + PY_STEP),
                  "matrix_exp's squarings")
    for i in range(smax):
        budget.check()
        r = np.where((s > i)[:, None, None], _mm(r, r) if n < 12 else np.matmul(r, r), r)  # (review15 R1: BLAS's
        # order from 12 rows, where the one-at-a-time sum turned an overflow's inf into NaN)
    return r


F16_REFUSED = ("linalg.matrix_exp: float16 matrices of 2 or more rows are not supported (torch 2.13's float16 "
               "kernel answers garbage for them, e.g. -21040 on the diagonal of matrix_exp(0.5 * eye(2)); "
               "convert to float32)")


F16_GRAD_REFUSED = ("linalg.matrix_exp: the derivative of a float16 matrix is not supported (torch 2.13 computes it "
                    "with its float16 kernel for 2 or more rows, which answers garbage: -inf for a 1x1; convert to "
                    "float32)")


def _matrix_exp(a):
    _square(a, "linalg.matrix_exp", float_check=a.dtype != np.float16)
    x = _np(a)
    if x.size == 0:
        return a.copy()
    with np.errstate(all="ignore"):
        if x.shape[-1] == 1:  # (aten: self.exp(), float16 too: redteam15 F1)
            if x.dtype.itemsize < 8:  # (torch's exp of one element: glibc's, correctly rounded, which the double's
                # exp rounded reproduces; NumPy's float32 SIMD exp is an ulp off for ~40%: review15 R6; float16
                # goes through float32 as torch's half kernel computes, never double -> half: review16 R4)
                return np.exp(x.astype(np.float64)).astype(np.float32).astype(x.dtype)
            return np.exp(x)
        if x.dtype == np.float16:  # (torch's answer is garbage: refused rather than copied, docs/ENGINE.md)
            raise TorchRuntimeError(F16_REFUSED)
        return _back(_expm(x), a.dtype)


def _matrix_exp_backward(grad, self):
    """FunctionsManual's differential_analytic_matrix_function (adjoint): the top-right block of exp of
    [[A^H, G], [0, A^H]]."""
    if self._data.dtype == np.float16:  # (its adjoint is a float16 matrix_exp of twice the rows: review16 R4)
        raise TorchRuntimeError(F16_GRAD_REFUSED)
    A = _mH(self)
    n = A.shape[-1]
    zeros = _t(B.xp.zeros(tuple(A.shape), dtype=grad._data.dtype))
    meta = J.cat([J.cat([A, grad], -1), J.cat([zeros, A], -1)], -2)
    return J.narrow(J.narrow(matrix_exp_op(meta), -2, 0, n), -1, n, n)


matrix_exp_op = defop("linalg_matrix_exp(Tensor self) -> Tensor", _matrix_exp, self=_matrix_exp_backward,
                      rule=lambda self: Cost(tuple(self.shape), 30 * numel(self.shape) * (
                          self.shape[-1] if self.shape else 1) + per_matrix(self.shape, *_EXPM_CALL),
                          _expm_temp(self)))

# per matrix beside the n^3 terms (measured for the Pade step this replaced, 120-290 ns a matrix at 1x1 and
# 520-1,045 at 2x2, docs/runs/safeL.md; mexp's degree-18 batch path costs the same within 10%)
_EXPM_CALL = (500.0, 100.0)


def _expm_temp(self):
    """Elements (of self's itemsize, as charged) that _expm holds at its peak beside the input, in the dtype
    : the result, the picked matrices' copy, I, A, A^2, A^3, A^6 and five combinations of
    them, a product and the sum it goes into: 13-15 matrices measured (tracemalloc, 2x2 to 256x256, float32 and
    float64); charged 16."""
    n = numel(self.shape)
    item = self.dtype.itemsize
    return 16 * n * max(item, 4) // item


def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803
    return matrix_exp_op(A)


CATALOG = [
    entry("linalg.matrix_exp", matrix_exp, "The matrix exponential.", matrix_exp_op, method=False),
    entry("matrix_exp", matrix_exp, "Alias of linalg.matrix_exp.", matrix_exp_op),
]
