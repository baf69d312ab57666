"""Reductions: the family's parts, imported in registration order, and its CATALOG (sum, mean and the rest, with
torch's keepdim, dtype and overload rules)."""

from __future__ import annotations

# The parts in registration order (a grad_fn's index is its entry's position among entries of its base name), each
# part's entries (forward_more.install finds a family's entries among this module's names, helpers included), the
# functions, and the private names other helpers' modules import from here (loss.py: _fsum; autograd/batched.py:
# _numel_reduced)
# isort: off
from engine.ops.reduction_common import _numel_reduced  # noqa: F401
from engine.ops.reduction_sum import _fsum, mean, mean_dim, mean_op, sum, sum_dim, sum_op, sum_to_shape  # noqa: F401, A004
from engine.ops.reduction_prod import _flip_helper, _shift_helper, prod, prod_dim, prod_op  # noqa: F401
from engine.ops.reduction_extrema import amax, amax_op, amin, amin_op, max, max_dim, max_op, min, min_dim, min_op  # noqa: A004
from engine.ops.reduction_stats import (
    logsumexp, logsumexp_op, norm, std, std_op, var, var_op, vector_norm, vector_norm_op,
)
from engine.ops.reduction_cumulative import cumprod, cumprod_op, cumsum, cumsum_op
from engine.ops.reduction_argmax import argmax, argmax_op, argmin, argmin_op
from engine.ops.registry import entry
# isort: on

CATALOG = [
    entry("sum", sum, "Sum over all elements or over `dim`.", sum_op, sum_dim),
    entry("mean", mean, "Mean over all elements or over `dim`.", mean_op, mean_dim),
    entry(
        "prod", prod, "Product over all elements or along `dim` (int inputs give int64).", prod_op, prod_dim
    ),
    entry("amax", amax, "Maximum over `dim` (all dims when empty); ties share the gradient.", amax_op),
    entry("amin", amin, "Minimum over `dim` (all dims when empty); ties share the gradient.", amin_op),
    entry(
        "max",
        max,
        "max(input); max(input, dim, keepdim) -> (values, indices); max(input, other).",
        max_dim,
        max_op,
        grad_fns=("MaximumBackward0",),
    ),
    entry(
        "min",
        min,
        "min(input); min(input, dim, keepdim) -> (values, indices); min(input, other).",
        min_dim,
        min_op,
        grad_fns=("MinimumBackward0",),
    ),
    entry("var", var, "Variance over `dim` with `correction` (or `unbiased`).", var_op),
    entry("std", std, "Standard deviation over `dim` with `correction` (or `unbiased`).", std_op),
    entry("norm", norm, "Vector norm (p = 2, 1, inf, 'fro', any float) over `dim`.", vector_norm_op),
    entry(
        "linalg.vector_norm",
        vector_norm,
        "Vector norm of order `ord` over `dim`.",
        vector_norm_op,
        method=False,
    ),
    entry("logsumexp", logsumexp, "log(sum(exp(input))) over `dim`, computed stably.", logsumexp_op),
    entry("cumsum", cumsum, "Cumulative sum along `dim` (int inputs give int64).", cumsum_op),
    entry("cumprod", cumprod, "Cumulative product along `dim` (int inputs give int64).", cumprod_op),
    entry(
        "argmax", argmax, "Index of the maximum (flattened, or along `dim`); int64, no gradient.", argmax_op
    ),
    entry(
        "argmin", argmin, "Index of the minimum (flattened, or along `dim`); int64, no gradient.", argmin_op
    ),
]
