"""Forward formulas (jvp=, engine/ops/jvp.py) for the entries of the OpInfo-coverage families (shape_more,
pointwise_more, special, scatter, reduction_more, sorting, linalg_*, random_ops, distance, loss_more, nn_more,
pooling), set on the entries after they are made: `FORMULAS` maps an entry's qualname to its formula.

The formulas are derivatives.yaml's `result:` lines (or its per-output lines, `values: gather(self_t, ...)`):
"element_wise" / "linear" where torch writes auto_element_wise / auto_linear, the written formula otherwise.
Where torch has no forward formula (cholesky, pdist, cdist, index_reduce, multi_margin_loss, ...) the entry
raises torch's not-implemented error with torch's name for the op. The matrix decompositions and solvers
(det, slogdet, inv, solve, cholesky_ex, qr, svd, eigh, lstsq, lu, matrix_exp, pinv, ...) and native_group_norm
compute J t as the derivative of <J^T u, t> in u (`via_vjp`): the same tangent as torch's closed forms, from the
entries' own backward formulas, which are differentiable engine ops; the tangent has a graph to the primals and
tangents that require grad (reverse-over-forward), and a batched level runs one batched backward, not a loop.
"""
from __future__ import annotations

import inspect
import math

from engine import dtypes as D
from engine.errors import TorchNotImplementedError
from engine.ops import jvp as J
from engine.ops.jvp import only, tmap, tsum
from engine.ops.registry import OpDef
from engine.tensor import Tensor

# ----- helpers -----


class not_implemented:  # noqa: N801 - read as a formula in the table
    """torch's error for an op whose derivatives.yaml entry has no forward formula (named as torch names it);
    made into the entry's formula by `install`, reading every tensor input's tangent (any of them raises)."""

    def __init__(self, name):
        self.name = name

    def spec(self, op):
        name = self.name

        def refuse(*args):
            raise TorchNotImplementedError(J.NOT_IMPLEMENTED.format(name=name))

        refuse.__signature__ = inspect.Signature([inspect.Parameter(op.params[i] + "_t",
                                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                                  for i in op.tensor_pos])
        return J.Spec(refuse)


def via_vjp(op):
    """J t as d/du <J^T u, t>: the entry run again, its backward at a u that requires grad (create_graph), the
    product with the tangents differentiated in u. The tangent keeps a graph to the primals and tangents that
    require grad where grad mode is on (reverse-over-forward, as torch's closed forms do). Under a batched level,
    one batched backward (is_grads_batched) over the B products."""
    names = list(op.params)
    tnames = [names[i] for i in op.tensor_pos]

    def formula(**kw):
        return _jt(op, [kw[n] for n in names], [kw.get(n + "_t") for n in tnames], None)

    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names]
    params += [inspect.Parameter(n + "_t", inspect.Parameter.KEYWORD_ONLY) for n in tnames]
    formula.__signature__ = inspect.Signature(params)
    return J.batched(_kw(formula, names + [n + "_t" for n in tnames]),
                     lambda op_, vals, tangents, out, bsz: _jt(op, list(vals), tangents, bsz))


def _jt(op, vals, tangents, bsz):
    """via_vjp's tangent(s) of one call (vals in schema order, tangents per tensor input; bsz: a batched level's
    batch size, every tangent with that leading dim)."""
    from engine import autograd  # noqa: PLC0415
    from engine.ops.factory import eye, zeros, zeros_like  # noqa: PLC0415

    # the caller's grad mode (the formula runs with grad on): with it on, the tangent records where a primal or a
    # tangent requires grad, and the primals are used as they are (not detached) so that it reaches them
    record = autograd.grad_mode.enabled and (
        any(isinstance(vals[i], Tensor) and vals[i].requires_grad for i in op.tensor_pos)
        or any(t is not None and t.requires_grad for t in tangents))
    args = list(vals)
    diff = [k for k, t in enumerate(tangents) if t is not None]
    with autograd.enable_grad():
        for k in diff:
            i = op.tensor_pos[k]
            if not (record and args[i].requires_grad):
                args[i] = args[i].detach().requires_grad_()
        out = op(*args)
        outs = out if op.nout > 1 else (out,)
        live = [j for j, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        us = [zeros_like(outs[j]).requires_grad_() for j in live]
        xs = [args[op.tensor_pos[k]] for k in diff]
        gs = autograd.grad([outs[j] for j in live], xs, us, create_graph=True, allow_unused=True)
        if bsz is None:
            dot = tsum(*[(g * tangents[k]).sum() for g, k in zip(gs, diff) if g is not None])
        else:  # one product per row of the batch
            dot = tsum(*[(g * tangents[k]).reshape((bsz, -1)).sum(1) for g, k in zip(gs, diff) if g is not None])
        if dot is None or not dot.requires_grad:
            ts = [None] * len(us)
        elif bsz is None:
            ts = autograd.grad(dot, us, allow_unused=True, create_graph=record)
        else:
            ts = autograd.grad(dot, us, eye(bsz, dtype=dot.dtype), allow_unused=True, create_graph=record,
                               is_grads_batched=True)
    res = [None] * op.nout
    link = _zero_link(op, vals) if record else None
    for j, t in zip(live, ts):
        o = outs[j]
        if t is None:
            t = zeros_like(o) if bsz is None else zeros((bsz, *o._data.shape), dtype=o.dtype)
        if not record:
            t = t.detach()
        elif link is not None:
            t = t + link
        res[j] = t
    return tuple(res) if op.nout > 1 else res[0]


def _zero_link(op, vals):
    """A zero that records on every tensor input requiring grad: torch's closed forms read the primals (and the
    result) beside the tangents, a missing tangent being a ZeroTensor, so their tangent records on them even where
    it does not depend on them (its gradient there is zeros); J^T u does not always (cholesky_solve's in B). An
    empty slice's sum: no NaN from an infinite input, one small op per input; None where none requires grad."""
    link = None
    for i in op.tensor_pos:
        v = vals[i]
        if isinstance(v, Tensor) and v.requires_grad:
            z = v.reshape(-1)[:0].sum()
            link = z if link is None else link + z
    return link


def _kw(fn, names):
    """fn(**kw) as a positional function with those parameter names (jvp.py passes arguments by position)."""

    def call(*args):
        return fn(**dict(zip(names, args)))

    call.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                            for n in names])
    return call


def _mm(t, s):
    """torch's maybe_multiply."""
    return t if s == 1 else t * s


def _gather_kept(self_t, dim, indices, keepdim):
    """gather_with_keepdimed_indices: the tangent at the selected indices (None for the indices output)."""
    from engine.ops.reduction_extrema import _value_selecting_jvp  # noqa: PLC0415

    return _value_selecting_jvp(self_t, dim, indices, keepdim)


def _values_kept(self_t, dim, result1, keepdim):
    return _gather_kept(self_t, dim, result1, keepdim)


def _values_sorted(self_t, dim, result1):
    return _gather_kept(self_t, dim, result1, True)


def _glu_jvp(result, self, self_t, dim):
    n = self.shape[dim] // 2
    a_t, b, b_t = self_t.narrow(dim, 0, n), self.narrow(dim, n, n), self_t.narrow(dim, n, n)
    sig_b = b.sigmoid()
    return a_t * sig_b + result * (b_t - sig_b * b_t)


def _logcumsumexp_jvp(self, self_t, dim):
    from engine.ops.factory import zeros_like  # noqa: PLC0415
    from engine.ops.pointwise import where  # noqa: PLC0415

    if self.ndim == 0:
        return self_t
    e = (self - self.amax(dim, keepdim=True)).exp()
    c = e.cumsum(dim)
    return where(c < 1e-13, zeros_like(c), (e * self_t).cumsum(dim) / c)


def _renorm_jvp(self, self_t, p, dim, maxnorm):
    from engine.ops._util import wrap_dim  # noqa: PLC0415
    from engine.ops.pointwise import where  # noqa: PLC0415
    from engine.ops.reduction_stats import _norm_jvp, vector_norm  # noqa: PLC0415

    d = wrap_dim(dim, self.ndim)
    dims = [i for i in range(self.ndim) if i != d]
    norm = vector_norm(self, p, dims, True)
    invnorm = (norm + 1e-7).reciprocal()
    factor = invnorm * float(maxnorm)
    return where(norm > float(maxnorm), factor * (self_t - self * invnorm * _norm_jvp(self_t, self, p, norm, dims,
                                                                                      True)), self_t)


def _dist_jvp(self, other, self_t, other_t, p, result):
    from engine.ops.reduction_stats import _norm_jvp  # noqa: PLC0415

    t = tsum(self_t, tmap(other_t, lambda o: -o))
    return _norm_jvp(t, self - other, p, result, None, False)


def _norm_opt_jvp(self_t, self, p, result, dim, keepdim):
    from engine.ops.reduction_stats import _norm_jvp  # noqa: PLC0415

    return _norm_jvp(self_t, self, 2 if p is None else p, result, dim, keepdim)


def _var_mean_jvp(std):
    def f(self_t, self, result0, dim, correction, keepdim):
        from engine.ops.pointwise import where  # noqa: PLC0415
        from engine.ops.reduction_stats import _var_jvp  # noqa: PLC0415
        from engine.ops.reduction_sum import mean  # noqa: PLC0415

        v = _var_jvp(self_t, self, result0, dim, correction, keepdim)
        if std:
            v = where(result0 == 0, 0.0, v / (2.0 * result0))
        m = mean(self_t, dim if dim else None, keepdim)
        return v, m

    return f


def _aminmax_jvp(self_t, self, result0, result1, dim, keepdim):
    from engine.ops.reduction_extrema import _amaxmin_jvp, _evenly_read_jvp  # noqa: PLC0415

    if dim is None:
        return (_evenly_read_jvp(self_t, self, result0).reshape(result0.shape),
                _evenly_read_jvp(self_t, self, result1).reshape(result1.shape))
    return _amaxmin_jvp(self_t, self, result0, dim, keepdim), _amaxmin_jvp(self_t, self, result1, dim, keepdim)


def _median_all_jvp(self_t, self, result):
    """evenly_read_jvp: the mean of the tangents where self equals the result (NaN where none does)."""
    from engine.ops.reduction_extrema import _evenly_read_jvp  # noqa: PLC0415

    return _evenly_read_jvp(self_t, self, result)


def _nansum_jvp(self_t, self, dim, keepdim):
    from engine.ops.pointwise import where  # noqa: PLC0415
    from engine.ops.reduction import sum as rsum  # noqa: PLC0415

    return rsum(where(self.isnan(), 0.0, self_t), dim if dim else None, keepdim)


def _lu_unpack_jvp(LU_data_t, unpack_data):  # noqa: N803 - torch's name
    """The entry's outputs are (L, U, P): L and U are the factor's triangles, P has no tangent."""
    if not unpack_data:
        return None, None, None
    m, n = LU_data_t.shape[-2], LU_data_t.shape[-1]
    low = LU_data_t.tril(-1) if m >= n else LU_data_t.narrow(-1, 0, m).tril(-1)
    up = LU_data_t.triu() if n >= m else LU_data_t.narrow(-2, 0, n).triu()
    return low, up, None


def _scatter_reduce_jvp(self_t, src_t, self, src, dim, index, reduce, include_self):
    """torch's scatter_reduce_jvp: linear for sum and mean; amax/amin (the tangents where self or src reach the
    result, averaged) through the backward formula; none for prod, as torch gives."""
    from engine.ops import scatter as SC  # noqa: PLC0415
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    if reduce in ("sum", "mean"):  # linear
        return SC.scatter_reduce_op(self_t if self_t is not None else zeros_like(self), dim, index,
                                    src_t if src_t is not None else zeros_like(src), reduce, include_self)
    if reduce == "prod":
        return None
    return _SCATTER_REDUCE_VJP[0](self, dim, index, src, reduce, include_self, self_t, src_t)


_SCATTER_REDUCE_VJP = [None]


def _soft_margin_jvp(self_t, self, target, reduction):
    from engine.ops import loss_more as LM  # noqa: PLC0415

    t = LM.soft_margin_loss_backward(self_t, self, target, 0)
    return t if reduction == 0 else (t.mean() if reduction == 1 else t.sum())


def _det_jvp(A_t, A, result):
    """torch's linalg_det_jvp: tr(A^{-1} A_t) det, with A's LU factors read as constants (torch: "we never
    differentiate over forward AD"), so that reverse-over-forward reaches A through det only, as in torch. A
    singular A: torch nudges the zero pivots by eps, so the trace is finite and the tangent is det's zero times it
    (not the adjugate's derivative): zeros here, still recording on A_t and det."""
    from engine.ops import pointwise as P  # noqa: PLC0415
    from engine.ops.linalg_decomp import inv_ex_op  # noqa: PLC0415

    inverse, info = inv_ex_op(A.detach(), False)
    singular = info != 0
    if bool(singular._data.any()):
        inverse = P.where(singular.unsqueeze(-1).unsqueeze(-1), 0.0, inverse)
    return (inverse.mT * A_t).sum((-2, -1)) * result


def _slogdet_jvp(A_t, A, result0):
    """torch's slogdet_jvp (real A): sign's tangent zeros, logabsdet's tr(A^{-1} A_t) with A's LU factors read as
    constants (so it records on A_t only, as in torch). A singular A: via_vjp's tangents (NaN, as torch's)."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415
    from engine.ops.linalg_decomp import inv_ex_op  # noqa: PLC0415

    inverse, info = inv_ex_op(A.detach(), False)
    if A.numel() == 0 or bool((info._data != 0).any()):
        return None
    return zeros_like(result0), (inverse.mT * A_t).sum((-2, -1))


def _slogdet_formula(A_t, A, result0):
    t = _slogdet_jvp(A_t, A, result0)
    return _VJP["linalg_slogdet"](A, A_t) if t is None else t


def _slogdet_batched(op, vals, tangents, out, bsz):
    t = _slogdet_jvp(tangents[0], vals[0], out[0])
    if t is None:
        return J.MISS
    from engine.ops.factory import zeros  # noqa: PLC0415

    return zeros((bsz, *out[0]._data.shape), dtype=out[0].dtype), t[1]


def _eigh_jvp(A_t, A, result0, result1, UPLO, compute_v):
    """torch's linalg_eig_jvp (hermitian, real): dP = V^H dA V, dL = diag(dP), dV = V (dP / E) with
    E_ij = L_j - L_i (1 on the diagonal, and the diagonal of dP / E zeroed). Without eigenvectors (compute_v
    False): via_vjp's tangent."""
    from engine.ops import pointwise as P  # noqa: PLC0415
    from engine.ops.factory import eye  # noqa: PLC0415
    from engine.ops.linalg import matmul  # noqa: PLC0415

    L, V = result0, result1
    if V.numel() == 0:
        return _VJP["linalg_eigh"](A, UPLO, compute_v, A_t)
    dP = matmul(matmul(V.mH, A_t), V)
    diag = eye(L.shape[-1], dtype=D.bool_)
    E = P.where(diag, 1.0, L.unsqueeze(-2) - L.unsqueeze(-1))
    return dP.diagonal(0, -2, -1), matmul(V, P.where(diag, 0.0, dP / E))


def _no_links(spec):
    spec.links = False
    return spec


_VJP = {}  # via_vjp's formulas of the entries above, for their singular inputs


def _solve_jvp(A_t, B_t, A, B, result0, left):
    """torch's linalg_solve_jvp: dX = A^{-1} (dB - dA X) (left; (dB - X dA) A^{-1} right), solved with A's LU
    factors as constants. A missing tangent is torch's ZeroTensor: dA X still records on X (its gradient zeros)."""
    from engine.ops.linalg import matmul  # noqa: PLC0415
    from engine.ops.linalg_decomp import _is_vector_rhs, solve_ex_op  # noqa: PLC0415

    vector = _is_vector_rhs(tuple(A.shape), tuple(B.shape))
    X = result0.unsqueeze(-1) if vector else result0
    dB = None if B_t is None else (B_t.unsqueeze(-1) if vector else B_t)
    if A_t is None:
        rhs = dB if not (X.requires_grad and _grad_on()) else dB - X * 0
    else:
        R_ = matmul(A_t, X) if left else matmul(X, A_t)
        rhs = -R_ if dB is None else dB - R_
    dX = solve_ex_op(A.detach(), rhs, left, False)[0]
    return (dX.squeeze(-1) if vector else dX), None


def _triangular_solve_jvp(self_t, A_t, A, result0, upper, transpose, unitriangular):
    """torch's triangular_solve_jvp (generic_solve_jvp): solve(A, dB - dA X) with dA as given, neither projected on
    A's triangle nor transposed with `transpose` (torch's formula, not the derivative off the triangle); the copied
    coefficient's tangent is A_t's copy."""
    from engine.ops.linalg import matmul  # noqa: PLC0415
    from engine.ops.linalg_decomp import triangular_solve_op  # noqa: PLC0415

    if A_t is None:
        rhs = self_t
    else:
        contrib = matmul(A_t, result0)
        rhs = -contrib if self_t is None else self_t - contrib
    x_t = triangular_solve_op(rhs, A, upper, transpose, unitriangular)[0]
    return x_t, (None if A_t is None else A_t.clone())


def _grad_on():
    from engine import autograd  # noqa: PLC0415

    return autograd.grad_mode.enabled


def _cholesky_jvp(self_t, result0, upper):
    """torch's cholesky_jvp: dL = L Phi(L^-1 dA L^-H), Phi the lower triangle with half the diagonal."""
    from engine.ops.linalg_decomp import solve_triangular  # noqa: PLC0415

    low = result0.mH if upper else result0
    da = self_t
    v = solve_triangular(low, da, upper=False, left=True)
    dl = solve_triangular(low.mH, v, upper=True, left=False)
    dl = dl.tril() - (dl.diagonal(0, -2, -1) * 0.5).diag_embed()
    dl = low.matmul(dl)
    return (dl.mH if upper else dl), None


def _fill_tensor_jvp(self_t, value_t, self):
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    return value_t if value_t is not None else zeros_like(self)


def _mp_gather(nsp):
    def f(self_t, result1):
        from engine.ops.pooling import pool_gather_op  # noqa: PLC0415

        return pool_gather_op(self_t, result1, nsp), None

    return f


def _where_first(cond, a, b):
    from engine.ops.pointwise import where  # noqa: PLC0415

    return where(cond, a, b)


def _zeros_like(t):
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    return zeros_like(t)


_VIA_VJP = (
    "cholesky_inverse", "cholesky_solve", "linalg_inv_ex",
    "linalg_solve_triangular", "linalg_lu", "linalg_lu_factor_ex",
    "linalg_lu_solve", "linalg_lstsq", "linalg_matrix_exp", "linalg_pinv.atol_rtol_tensor",
    "linalg_qr", "linalg_svd", "native_group_norm",
)

FORMULAS = {
    # ----- torch has none: its not-implemented error, under torch's name -----
    "cholesky": not_implemented("cholesky"),
    "_pdist_forward": not_implemented("_pdist_forward"),
    "_pdist_backward": not_implemented("_pdist_backward"),
    "_cdist_forward": not_implemented("_cdist_forward"),
    "_cdist_backward": not_implemented("_cdist_backward"),
    "_euclidean_dist": not_implemented("_euclidean_dist"),
    "index_reduce": not_implemented("index_reduce"),
    "multi_margin_loss": not_implemented("multi_margin_loss"),
    "multi_margin_loss_backward": not_implemented("multi_margin_loss_backward"),
    "multilabel_margin_loss": not_implemented("multilabel_margin_loss_forward"),
    "multilabel_margin_loss_backward": not_implemented("multilabel_margin_loss_backward"),
    "soft_margin_loss_backward": not_implemented("soft_margin_loss_backward"),
    "native_dropout_backward": not_implemented("native_dropout_backward"),
    # ----- auto_element_wise -----
    **{n: "element_wise" for n in (
        "bernoulli", "clamp_max", "clamp_min", "copysign.Scalar", "deg2rad", "rad2deg", "digamma", "erfinv", "i0",
        "lgamma", "mvlgamma", "nan_to_num", "polygamma", "rrelu_with_noise", "sinc", "special_entr", "special_erfcx",
        "special_i0e", "special_i1", "special_i1e", "special_log_ndtr", "special_ndtri",
        "special_xlog1py.other_scalar", "special_xlog1py.self_scalar", "xlogy.Scalar_Other", "xlogy.Scalar_Self",
        "normal.Tensor_float", "normal.float_Tensor", "frac", "sub.Scalar_loss")},
    # ----- auto_linear (the views' copies, the scatters into a copy, the pools) -----
    **{n: "linear" for n in (
        "_adaptive_avg_pool2d", "_adaptive_avg_pool3d", "as_strided", "as_strided_copy", "as_strided_scatter",
        "as_strided_backward", "avg_pool3d", "channel_shuffle", "diagonal_scatter", "masked_select", "narrow_copy",
        "pixel_shuffle", "pixel_unshuffle", "rot90", "select_scatter", "slice_scatter", "take", "trace", "unfold",
        "unfold_copy", "unfold_backward", "alias_copy", "expand_copy", "permute_copy", "squeeze_copy",
        "squeeze_copy.dim", "squeeze_copy.dims", "t_copy", "transpose_copy.int", "unsqueeze_copy", "view_copy",
        "scatter.src", "index_copy", "masked_scatter", "put", "index_fill.int_Tensor", "_max_pool_gather_nd")},
    # the backward entries: linear in grad_output (self gives a shape)
    **{n: only(("grad_output",), "linear") for n in (
        "_adaptive_avg_pool2d_backward", "_adaptive_avg_pool3d_backward", "avg_pool3d_backward",
        "_max_pool_scatter_nd")},
    # ----- written formulas -----
    "clamp_max.Tensor": lambda self_t, max_t, self, max: _where_first(  # noqa: A002
        self <= max, self_t if self_t is not None else 0.0, max_t if max_t is not None else 0.0),
    "clamp_min.Tensor": lambda self_t, min_t, self, min: _where_first(  # noqa: A002
        self >= min, self_t if self_t is not None else 0.0, min_t if min_t is not None else 0.0),
    "copysign.Tensor": only(("self",), "element_wise"),
    "fmax": lambda self_t, other_t, self, other: tsum(other_t, ((self > other) | other.isnan()) * tsum(
        self_t, tmap(other_t, lambda t: -t))),
    "fmin": lambda self_t, other_t, self, other: tsum(other_t, ((self <= other) | other.isnan()) * tsum(
        self_t, tmap(other_t, lambda t: -t))),
    "nextafter": only(("self",), lambda self_t, self, other: _where_first(self != other, self_t, 0.0)),
    "ldexp.Tensor": lambda self_t, other_t, other, result: tsum(
        tmap(self_t, lambda t: t * (other.to(result.dtype) * math.log(2)).exp()),
        tmap(other_t, lambda t: t * result * math.log(2))),
    "logaddexp2": lambda self_t, other_t, self, other: tsum(
        tmap(self_t, lambda t: t / (1 + (other - self).exp2())),
        tmap(other_t, lambda t: t / (1 + (self - other).exp2()))),
    "xlogy.Tensor": "element_wise",
    "special_xlog1py": "element_wise",
    "addcmul": lambda self_t, tensor1_t, tensor2_t, tensor1, tensor2, value: tsum(
        self_t, tmap(tensor1_t, lambda t: _mm(t * tensor2, value)), tmap(tensor2_t, lambda t: _mm(t * tensor1, value))),
    "addcdiv": lambda self_t, tensor1_t, tensor2_t, tensor1, tensor2, value: tsum(
        self_t, tmap(tensor1_t, lambda t: _mm(t / tensor2, value)),
        tmap(tensor2_t, lambda t: -_mm(t * (tensor1 / tensor2) / tensor2, value))),
    "frexp.Tensor": lambda self_t, result1: (self_t / result1.to(self_t.dtype).exp2(), None),
    "addmv": lambda self_t, mat_t, vec_t, mat, vec, beta, alpha: tsum(
        tmap(self_t, lambda t: _mm(t, beta)), tmap(mat_t, lambda t: _mm(t.mv(vec), alpha)),
        tmap(vec_t, lambda t: _mm(mat.mv(t), alpha))),
    "addr": lambda self_t, vec1_t, vec2_t, vec1, vec2, beta, alpha: tsum(
        tmap(self_t, lambda t: _mm(t, beta)), tmap(vec1_t, lambda t: _mm(t.outer(vec2), alpha)),
        tmap(vec2_t, lambda t: _mm(vec1.outer(t), alpha))),
    "baddbmm": lambda self_t, batch1_t, batch2_t, batch1, batch2, beta, alpha: tsum(
        tmap(self_t, lambda t: _mm(t, beta)), tmap(batch1_t, lambda t: _mm(t.bmm(batch2), alpha)),
        tmap(batch2_t, lambda t: _mm(batch1.bmm(t), alpha))),
    "addbmm": lambda self_t, batch1_t, batch2_t, batch1, batch2, beta, alpha: tsum(
        tmap(self_t, lambda t: _mm(t, beta)), tmap(batch1_t, lambda t: _mm(t.bmm(batch2).sum(0), alpha)),
        tmap(batch2_t, lambda t: _mm(batch1.bmm(t).sum(0), alpha))),
    "vdot": lambda self_t, other_t, self, other: tsum(tmap(self_t, lambda t: t.dot(other)),
                                                      tmap(other_t, lambda t: self.dot(t))),
    "linalg_cross": lambda self_t, other_t, self, other, dim: tsum(
        tmap(self_t, lambda t: _cross(t, other, dim)), tmap(other_t, lambda t: _cross(self, t, dim))),
    "_prelu_kernel": lambda self_t, weight_t, self, weight: _where_first(
        self >= 0, self_t if self_t is not None else 0.0,
        tsum(tmap(self_t, lambda t: weight * t), tmap(weight_t, lambda t: t * self), 0.0)),
    "_trilinear": lambda i1_t, i2_t, i3_t, i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim: tsum(
        *[None if t is None else _trilinear(*(t if k == j else p for k, p in enumerate((i1, i2, i3))), expand1,
                                            expand2, expand3, sumdim, unroll_dim)
          for j, t in enumerate((i1_t, i2_t, i3_t))]),
    "glu": lambda result, self, self_t, dim: _glu_jvp(result, self, self_t, dim),
    "logcumsumexp": lambda self, self_t, dim: _logcumsumexp_jvp(self, self_t, dim),
    "renorm": lambda self, self_t, p, dim, maxnorm: _renorm_jvp(self, self_t, p, dim, maxnorm),
    "dist": _dist_jvp,
    "norm.ScalarOpt_dim": _norm_opt_jvp,
    "nansum": _nansum_jvp,
    "std_mean.correction": _var_mean_jvp(True),
    "var_mean.correction": _var_mean_jvp(False),
    "aminmax": _aminmax_jvp,
    "median": _median_all_jvp,
    "nanmedian": _median_all_jvp,
    # values: the tangent at the selected indices
    "sort": lambda self_t, dim, result1: _values_sorted(self_t, dim, result1),
    "sort.stable": lambda self_t, dim, result1: _values_sorted(self_t, dim, result1),
    "topk": lambda self_t, dim, result1: _values_sorted(self_t, dim, result1),
    "cummax": lambda self_t, dim, result1: _values_sorted(self_t, dim, result1),
    "cummin": lambda self_t, dim, result1: _values_sorted(self_t, dim, result1),
    "kthvalue": _values_kept,
    "median.dim": _values_kept,
    "nanmedian.dim": _values_kept,
    "mode": _values_kept,
    "max_pool3d_with_indices": _mp_gather(3),
    "adaptive_max_pool2d": _mp_gather(2),
    "adaptive_max_pool3d": _mp_gather(3),
    "scatter.value": lambda self_t, dim, index: _scatter_value(self_t, dim, index),
    "index_fill.int_Scalar": lambda self_t, dim, index: _index_fill(self_t, dim, index),
    "scatter_reduce.two": _scatter_reduce_jvp,
    "fill.Scalar": lambda self_t: _zeros_like(self_t),
    "fill.Tensor": _fill_tensor_jvp,
    "lu_unpack": _lu_unpack_jvp,
    "linalg_cholesky_ex": _cholesky_jvp,
    "linalg_det": J.batched(_det_jvp, lambda op, vals, tangents, out, bsz: _det_jvp(tangents[0], vals[0], out)),
    "triangular_solve": J.batched(_triangular_solve_jvp, lambda op, vals, tangents, out, bsz: _triangular_solve_jvp(
        tangents[0], tangents[1], vals[1], out[0], vals[2], vals[3], vals[4])),
    "linalg_slogdet": _no_links(J.batched(_slogdet_formula, _slogdet_batched)),
    "linalg_eigh": J.batched(_eigh_jvp, lambda op, vals, tangents, out, bsz: _eigh_jvp(
        tangents[0], vals[0], out[0], out[1], vals[1], vals[2]) if out[1].numel() else J.MISS),
    "linalg_solve_ex": J.batched(_solve_jvp, lambda op, vals, tangents, out, bsz: _solve_jvp(
        tangents[0], tangents[1], vals[0], vals[1], out[0], vals[2])),
    "soft_margin_loss": _soft_margin_jvp,
    "normal.Tensor_Tensor": lambda mean_t, std_t: 0.0,
    "transpose_": lambda self_t, dim0, dim1: self_t.transpose(dim0, dim1),
    "unsqueeze_": lambda self_t, dim: self_t.unsqueeze(dim),
}


def _cross(a, b, dim):
    from engine.ops import linalg_more as LM  # noqa: PLC0415

    return LM.cross_op(a, b, dim)


def _trilinear(*args):
    from engine.ops import nn_more as NM  # noqa: PLC0415

    return NM.trilinear_op(*args)


def _scatter_value(self_t, dim, index):
    from engine.ops import scatter as SC  # noqa: PLC0415

    return SC.scatter_value(self_t, dim, index, 0)


def _index_fill(self_t, dim, index):
    from engine.ops import scatter as SC  # noqa: PLC0415

    return SC.index_fill_scalar(self_t, dim, index, 0)


def install(modules) -> None:
    """Set each formula on its entry (the OpDefs found in `modules`); a name that matches no entry fails here."""
    ops = {}
    for m in modules:
        for v in vars(m).values():
            if isinstance(v, OpDef):
                ops.setdefault(v.qualname, v)
    for name in _VIA_VJP:
        ops[name].jvp = via_vjp(ops[name])
    for name, spec in FORMULAS.items():
        ops[name].jvp = spec.spec(ops[name]) if isinstance(spec, not_implemented) else spec
    _SCATTER_REDUCE_VJP[0] = via_vjp(ops["scatter_reduce.two"]).how
    for name in ("linalg_slogdet", "linalg_eigh"):
        _VJP[name] = via_vjp(ops[name]).how
