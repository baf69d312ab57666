"""The methods branch's ops against live torch 2.13, on hand-picked inputs OpInfo's samples miss: NaN, -0.0, inf,
0-d, empty, broadcast, uint8 / int32, every argument combination, and torch's errors; the aliases (arccos, ...,
negative, fix) with their grad_fn names, their in-place forms (arccosh_ records AcoshBackward1 and fails at
backward as torch's), the not-implemented derivatives (unique, bincount, heaviside), vander's graph (and
torch's own backward error through it), fill_diagonal_, the properties, and GET /v1/ops' signatures.
Each case is one lambda run on `torch` and on `engine`: the results (values, dtype, shape, grad_fn,
requires_grad; tuples element by element; bools and ints as they are) or the error (class and message), and
the warnings, must be the same."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import engine
from engine import catalog

nan, inf = float("nan"), float("inf")
_TRIGGERED = " (Triggered internally at"


def describe(L, f):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = _value(f(L))
        except Exception as e:  # noqa: BLE001 - the error is the result compared
            builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
            out = ("error", builtin, str(e).split(_TRIGGERED)[0])
    # (NumPy's "invalid value encountered in arccos" in library use: the engine's unary kernels' own, not torch's)
    return out, [str(w.message).split(_TRIGGERED)[0] for w in caught if not issubclass(w.category, RuntimeWarning)
                 or "encountered in" not in str(w.message)]


def _value(r):
    if isinstance(r, tuple | list):
        return tuple(_value(x) for x in r)
    if isinstance(r, torch.Tensor | engine.Tensor):
        vals = r.detach().tolist()
        return (_nan_safe(vals), str(r.dtype).replace("torch.", ""), tuple(r.shape),
                r.grad_fn.name() if r.grad_fn is not None else None, r.requires_grad)
    return ("value", r)


def _nan_safe(v):
    if isinstance(v, list):
        return [_nan_safe(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and v == 0.0:
        return "-0.0" if math.copysign(1.0, v) < 0 else 0.0
    return v


def same(f, close=False):
    t, e = describe(torch, f), describe(engine, f)
    assert (_close(e, t) if close else e == t), f"\n torch:  {t}\n engine: {e}"


def _close(a, b):
    """Equal, floats within 2e-6 relative: the aliased kernels' own roundings (atan2's, asinh's: an ulp from
    torch's SLEEF at some values, docs/ENGINE.md's table) are not the aliases' to fix."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=2e-6, abs_tol=1e-30)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _leaf(L, data, **kw):
    return L.tensor(data, requires_grad=True, **kw)


CASES = {
    # all / any / count_nonzero
    "all_uint8": lambda L: L.all(L.tensor([1, 2], dtype=L.uint8)),
    "all_nan": lambda L: L.all(L.tensor([nan, 1.0])),
    "any_empty_dim": lambda L: L.any(L.zeros(2, 0), 1),
    "all_dims_keepdim": lambda L: L.all(L.ones(2, 3, 4), (0, 2), True),
    "any_dims": lambda L: L.any(L.tensor([[0.0, 0.0], [0.0, -0.0]]), dim=(0, 1)),
    "all_empty_list": lambda L: L.all(L.tensor([1.0, 0.0]), dim=[]),
    "all_0d_dim": lambda L: L.tensor(3.0).all(0),
    "all_0d_bad_dim": lambda L: L.tensor(3.0).all(1),
    "all_dup_dims": lambda L: L.all(L.ones(2, 2), dim=(0, -2)),
    "all_grad": lambda L: L.all(_leaf(L, [1.0, 2.0])),
    "any_method_keepdim": lambda L: L.tensor([[0, 3], [0, 0]]).any(1, keepdim=True),
    "count_nonzero_dims": lambda L: L.count_nonzero(L.tensor([[0, 1.0], [2, 0]]), dim=(0, 1)),
    "count_nonzero_nan": lambda L: L.tensor([nan, 0.0, -0.0, inf]).count_nonzero(),
    "count_nonzero_dup": lambda L: L.count_nonzero(L.ones(2, 2), dim=(0, 0)),
    "count_nonzero_bool": lambda L: L.count_nonzero(L.tensor([[True, False], [True, True]]), 0),
    # signbit / isposinf / isneginf
    "signbit_zeros": lambda L: L.signbit(L.tensor([-0.0, 0.0, -nan, nan, -inf])),
    "signbit_int": lambda L: L.signbit(L.tensor([-1, 2], dtype=L.int32)),
    "signbit_uint8": lambda L: L.tensor([0, 255], dtype=L.uint8).signbit(),
    "signbit_f16": lambda L: L.signbit(L.tensor([-1.0, 1.0], dtype=L.float16)),
    "isposinf": lambda L: L.isposinf(L.tensor([inf, -inf, nan, 1.0])),
    "isneginf_grad": lambda L: L.isneginf(_leaf(L, [-inf, 1.0])),
    "isposinf_int": lambda L: L.tensor([1, 2]).isposinf(),
    # heaviside / gcd / lcm
    "heaviside": lambda L: L.heaviside(L.tensor([-1.0, 0.0, 2.0, nan, -0.0]), L.tensor([0.5])),
    "heaviside_grad": lambda L: L.heaviside(_leaf(L, [-1.0, 0.0]), L.tensor(0.5)),
    "heaviside_mixed": lambda L: L.heaviside(L.tensor([1, 0]), L.tensor([2.0])),
    "heaviside_int": lambda L: L.tensor([[1], [0]]).heaviside(L.tensor([7, 8])),
    "heaviside_scalar": lambda L: L.heaviside(L.tensor([1.0]), 2.0),
    "gcd": lambda L: L.gcd(L.tensor([4, -6, 0, 7]), L.tensor([6, 4, 0, -21])),
    "gcd_broadcast_int32": lambda L: L.gcd(L.tensor([[12], [18]]), L.tensor([8, 9], dtype=L.int32)),
    "lcm": lambda L: L.lcm(L.tensor([4, -6, 0]), L.tensor([6, 4, 5])),
    "lcm_wrap": lambda L: L.lcm(L.tensor([2**40]), L.tensor([2**40 + 1])),
    "gcd_float": lambda L: L.gcd(L.tensor([4.0]), L.tensor([6.0])),
    "gcd_bool": lambda L: L.gcd(L.tensor([True]), L.tensor([True])),
    "gcd_scalar": lambda L: L.gcd(L.tensor([4]), 2),
    "gcd_inplace": lambda L: L.tensor([4, 6]).gcd_(L.tensor([6, 4])),
    "lcm_inplace_fn": lambda L: L.lcm_(L.tensor([4, 6]), L.tensor([6, 4])),
    "heaviside_inplace": lambda L: L.tensor([-1.0, 0.0]).heaviside_(L.tensor([0.5])),
    # nonzero / argwhere
    "nonzero_0d": lambda L: L.nonzero(L.tensor(3.0)),
    "nonzero_0d_zero": lambda L: L.nonzero(L.tensor(0.0)),
    "nonzero_tuple_0d": lambda L: L.nonzero(L.tensor(3.0), as_tuple=True),
    "nonzero_tuple_0d_zero": lambda L: L.nonzero(L.tensor(0.0), as_tuple=True),
    "nonzero_tuple": lambda L: L.tensor([[1, 0], [0, nan]]).nonzero(as_tuple=True),
    "nonzero_grad": lambda L: L.nonzero(_leaf(L, [[1.0, 0.0], [-0.0, 2.0]])),
    "nonzero_empty": lambda L: L.zeros(2, 0, 3).nonzero(),
    "argwhere": lambda L: L.argwhere(L.tensor([[1, 0], [0, 2]])),
    "argwhere_method_bool": lambda L: L.tensor([True, False, True]).argwhere(),
    # bincount
    "bincount": lambda L: L.bincount(L.tensor([1, 1, 3])),
    "bincount_weights_f32": lambda L: L.bincount(L.tensor([1, 1, 3]), weights=L.tensor([0.1, 0.2, 1.0])),
    "bincount_weights_f64": lambda L: L.bincount(L.tensor([1, 1, 3]), L.tensor([0.5, 0.5, 1.0], dtype=L.float64)),
    "bincount_weights_int": lambda L: L.bincount(L.tensor([1, 1, 3]), weights=L.tensor([1, 2, 3])),
    "bincount_minlength": lambda L: L.tensor([0, 2], dtype=L.int32).bincount(minlength=5),
    "bincount_empty": lambda L: L.bincount(L.tensor([], dtype=L.int64), minlength=3),
    "bincount_empty_weights": lambda L: L.bincount(L.tensor([], dtype=L.int64), L.tensor([]), 2),
    "bincount_negative": lambda L: L.bincount(L.tensor([-1])),
    "bincount_float": lambda L: L.bincount(L.tensor([1.0])),
    "bincount_bool": lambda L: L.bincount(L.tensor([True])),
    "bincount_2d": lambda L: L.bincount(L.tensor([[1]])),
    "bincount_minlength_negative": lambda L: L.bincount(L.tensor([1]), minlength=-1),
    "bincount_weights_len": lambda L: L.bincount(L.tensor([1, 2]), weights=L.tensor([1.0])),
    "bincount_weights_grad": lambda L: L.bincount(L.tensor([0, 1, 1]), weights=_leaf(L, [1.0, 2.0, 3.0])),
    # histc
    "histc": lambda L: L.histc(L.tensor([1.0, 2, 1]), bins=4, min=0, max=3),
    "histc_default": lambda L: L.histc(L.tensor([1.0, 2, 1])),
    "histc_edges": lambda L: L.histc(L.tensor([0.1, 0.2, 0.3, 0.7, 1.0, 1.1, -5.0], dtype=L.float64), 10, 0.1, 1.0),
    "histc_int": lambda L: L.histc(L.tensor([1, 2])),
    "histc_bins0": lambda L: L.histc(L.tensor([1.0, 2]), bins=0),
    "histc_minmax": lambda L: L.histc(L.tensor([1.0, 2]), min=3, max=1),
    "histc_nan": lambda L: L.histc(L.tensor([1.0, nan])),
    "histc_inf": lambda L: L.histc(L.tensor([1.0, inf])),
    "histc_flat": lambda L: L.histc(L.tensor([2.0, 2.0]), bins=3),
    "histc_empty": lambda L: L.histc(L.tensor([]), bins=3),
    "histc_half": lambda L: L.histc(L.tensor([0.5, 1.0], dtype=L.float16), bins=4),
    "histc_grad": lambda L: L.histc(_leaf(L, [1.0, 2.0]), bins=3),
    "histc_nan_ignored": lambda L: L.tensor([nan, 1.0, 3.0]).histc(4, 0, 4),
    # unique / unique_consecutive
    "unique_nan_zero": lambda L: L.unique(L.tensor([3.0, 1.0, nan, 1.0, nan, -0.0, 0.0])),
    "unique_zero_order": lambda L: L.unique(L.tensor([0.0, -0.0, 1.0])),
    "unique_all_outputs": lambda L: L.unique(L.tensor([3, 1, 2, 1, 5, 5, 0, 9]), sorted=False, return_inverse=True,
                                             return_counts=True),
    "unique_dim0": lambda L: L.unique(L.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_inverse=True,
                                      return_counts=True),
    "unique_dim1": lambda L: L.unique(L.tensor([[1, 2, 1], [1, 2, 1], [0, 5, 0]]), dim=1),
    "unique_dim_nan_rows": lambda L: L.unique(L.tensor([[1.0, nan], [1.0, nan]]), dim=0),
    "unique_0d": lambda L: L.unique(L.tensor(5.0), return_inverse=True),
    "unique_0d_dim": lambda L: L.unique(L.tensor(5.0), dim=0),
    "unique_empty_dim": lambda L: L.unique(L.zeros(0, 2), dim=0, return_inverse=True),
    "unique_zero_sized": lambda L: L.unique(L.zeros(2, 0), dim=0),
    "unique_bool": lambda L: L.tensor([True, False, True]).unique(return_counts=True),
    "unique_grad": lambda L: L.unique(_leaf(L, [2.0, 1.0, 2.0]), return_inverse=True),
    "unique_dim_grad": lambda L: L.unique(_leaf(L, [2.0, 1.0, 2.0]), dim=0),
    "unique_consecutive": lambda L: L.unique_consecutive(L.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True,
                                                         return_counts=True),
    "unique_consecutive_nan": lambda L: L.unique_consecutive(L.tensor([nan, nan, 1.0, 1.0])),
    "unique_consecutive_dim": lambda L: L.unique_consecutive(L.tensor([[1, 2], [1, 2], [0, 5], [1, 2]]), dim=0,
                                                             return_counts=True, return_inverse=True),
    "unique_consecutive_0d": lambda L: L.unique_consecutive(L.tensor(3.0), return_inverse=True),
    "unique_consecutive_grad": lambda L: _leaf(L, [1.0, 1.0, 2.0]).unique_consecutive(),
    # isin / searchsorted / bucketize
    "isin": lambda L: L.isin(L.tensor([1, 2, 3]), L.tensor([2, 5])),
    "isin_nan": lambda L: L.isin(L.tensor([1.0, 2, nan, -0.0]), L.tensor([2.0, nan, 0.0])),
    "isin_scalar_test": lambda L: L.isin(L.tensor([1, 2, 3]), 2),
    "isin_scalar_elements": lambda L: L.isin(2, L.tensor([1, 2])),
    "isin_promote": lambda L: L.isin(L.tensor([1, 2, 3]), L.tensor([2.5, 2.0])),
    "isin_invert_2d": lambda L: L.isin(L.tensor([[1, 2], [3, 4]]), L.tensor([[4]]), invert=True),
    "isin_bool": lambda L: L.isin(L.tensor([True, False]), L.tensor([True])),
    "isin_empty": lambda L: L.isin(L.zeros(0, 3), L.tensor([1.0])),
    "isin_grad": lambda L: L.isin(_leaf(L, [1.0, 2.0]), L.tensor([2.0])),
    "searchsorted": lambda L: L.searchsorted(L.tensor([1, 3, 5, 7, 9]), L.tensor([3, 6, 9, 0, 10])),
    "searchsorted_right": lambda L: L.searchsorted(L.tensor([1, 3, 5, 7, 9]), L.tensor([3, 6, 9]), right=True),
    "searchsorted_side": lambda L: L.searchsorted(L.tensor([1, 3, 5, 7, 9]), L.tensor([3, 6, 9]), side="right"),
    "searchsorted_batched": lambda L: L.searchsorted(L.tensor([[1, 3, 5], [2, 4, 6]]), L.tensor([[3, 6], [1, 5]])),
    "searchsorted_scalar": lambda L: L.searchsorted(L.tensor([1, 3, 5]), 4),
    "searchsorted_scalar_float": lambda L: L.searchsorted(L.tensor([1, 3]), 4.5),
    "searchsorted_shapes": lambda L: L.searchsorted(L.tensor([[1, 3, 5], [2, 4, 6]]), L.tensor([3, 6])),
    "searchsorted_sorter": lambda L: L.searchsorted(L.tensor([5, 3, 1]), L.tensor([3, 0, 6]),
                                                    sorter=L.tensor([2, 1, 0])),
    "searchsorted_opposites": lambda L: L.searchsorted(L.tensor([1, 3]), L.tensor([3]), side="left", right=True),
    "searchsorted_bad_side": lambda L: L.searchsorted(L.tensor([1, 3]), L.tensor([3]), side="middle"),
    "searchsorted_0d_boundaries": lambda L: L.searchsorted(L.tensor(3), L.tensor([3])),
    "searchsorted_0d_values": lambda L: L.searchsorted(L.tensor([1, 3]), L.tensor(3)),
    "searchsorted_int32_sorter": lambda L: L.searchsorted(L.tensor([1, 3]), L.tensor([3]),
                                                          sorter=L.tensor([0, 1], dtype=L.int32)),
    "searchsorted_sorter_size": lambda L: L.searchsorted(L.tensor([1, 3]), L.tensor([3]), sorter=L.tensor([0, 1, 2])),
    "searchsorted_nan": lambda L: L.searchsorted(L.tensor([1.0, 3, nan]), L.tensor([3, nan, inf, -inf])),
    "searchsorted_empty_rows": lambda L: L.searchsorted(L.zeros(2, 0), L.ones(2, 3)),
    "searchsorted_out_int32": lambda L: L.searchsorted(L.tensor([1.0, 2.0]), L.tensor([[1.5], [3.0]]),
                                                       out_int32=True),
    "bucketize": lambda L: L.bucketize(L.tensor([1, 5, 9]), L.tensor([1, 3, 5, 7, 9])),
    "bucketize_right": lambda L: L.bucketize(L.tensor([[1, 5], [9, 0]]), L.tensor([1, 3, 5, 7, 9]), right=True),
    "bucketize_int32": lambda L: L.bucketize(L.tensor([1.0, 5, 9]), L.tensor([1, 3, 5, 7, 9]), out_int32=True),
    "bucketize_scalar": lambda L: L.bucketize(3, L.tensor([1, 3, 5])),
    "bucketize_2d": lambda L: L.bucketize(L.tensor([1.0]), L.tensor([[1.0]])),
    "bucketize_nan": lambda L: L.bucketize(L.tensor([[nan, 1.0, -2], [0.5, 3, 4]]), L.tensor([0.0, 1.0, 1.0, nan])),
    "bucketize_empty": lambda L: L.bucketize(L.tensor([1.0]), L.tensor([])),
    # tril_indices / triu_indices / logspace / vander / fill_diagonal_
    "tril_indices": lambda L: L.tril_indices(4, 3, 1),
    "triu_indices_int32": lambda L: L.triu_indices(3, 4, -1, dtype=L.int32),
    "tril_indices_negative_row": lambda L: L.tril_indices(-1, 3),
    "triu_indices_negative_col": lambda L: L.triu_indices(3, -2),
    "tril_indices_float": lambda L: L.tril_indices(3, 3, dtype=L.float32),
    "logspace": lambda L: L.logspace(-3.3, 7.1, 101),
    "logspace_base": lambda L: L.logspace(0.1, -2.7, 50, base=3.5, dtype=L.float64),
    "logspace_int": lambda L: L.logspace(0.1, 2.7, 7, base=3.5, dtype=L.int32),
    "logspace_one": lambda L: L.logspace(2, 5, 1),
    "logspace_zero": lambda L: L.logspace(2, 5, 0),
    "logspace_negative": lambda L: L.logspace(0, 2, -1),
    "logspace_half": lambda L: L.logspace(0.1, 0.9, 9, dtype=L.float16),
    "logspace_overflow": lambda L: L.logspace(0, 400, 5, dtype=L.float64),
    "logspace_negative_base": lambda L: L.logspace(0, 2, 5, base=-2.0),
    "logspace_grad": lambda L: L.logspace(0, 1, 3, requires_grad=True),
    "logspace_tensors": lambda L: L.logspace(L.tensor(0.0), L.tensor(1.0), 3),
    "vander": lambda L: L.vander(L.tensor([1, 2, 3])),
    "vander_increasing": lambda L: L.vander(L.tensor([1.0, 2, 3]), N=2, increasing=True),
    "vander_n0": lambda L: L.vander(L.tensor([1, 2]), N=0),
    "vander_negative": lambda L: L.vander(L.tensor([1, 2]), N=-1),
    "vander_2d": lambda L: L.vander(L.tensor([[1, 2]])),
    "vander_bool": lambda L: L.vander(L.tensor([True, False])),
    "vander_int32": lambda L: L.vander(L.tensor([1, 2], dtype=L.int32)),
    "vander_empty": lambda L: L.vander(L.tensor([], dtype=L.int32)),
    "vander_f64": lambda L: L.vander(L.tensor([1.5, -2.0, 3.0], dtype=L.float64), N=5),
    "vander_grad": lambda L: L.vander(_leaf(L, [1.0, 2.0])),
    "vander_grad_increasing": lambda L: L.vander(_leaf(L, [1.0, 2.0]), increasing=True),
    "fill_diagonal_wrap_tall": lambda L: L.ones(7, 2).fill_diagonal_(3, wrap=True),
    "fill_diagonal_wrap_wide": lambda L: L.ones(2, 5).fill_diagonal_(3, True),
    "fill_diagonal_nowrap": lambda L: L.ones(7, 3).fill_diagonal_(2),
    "fill_diagonal_cube": lambda L: L.zeros(2, 2, 2).fill_diagonal_(1),
    "fill_diagonal_1d": lambda L: L.ones(3).fill_diagonal_(1),
    "fill_diagonal_unequal": lambda L: L.ones(2, 3, 2).fill_diagonal_(1),
    "fill_diagonal_int": lambda L: L.ones(2, 2, dtype=L.int64).fill_diagonal_(1.7),
    "fill_diagonal_leaf": lambda L: _leaf(L, [[1.0, 2.0], [3.0, 4.0]]).fill_diagonal_(0),
    "fill_diagonal_graph": lambda L: (_leaf(L, [[1.0, 2.0], [3.0, 4.0]]) * 2).fill_diagonal_(0),
    # attributes
    "type_as_int": lambda L: (_leaf(L, [1.5, 2.0]) * 1).type_as(L.tensor([1])),
    "type_as_same": lambda L: (_leaf(L, [1.5, 2.0]) * 1).type_as(L.tensor([1.0])),
    "type_as_f64": lambda L: (_leaf(L, [1.5, 2.0]) * 1).type_as(L.tensor([1.0], dtype=L.float64)),
    "type_as_number": lambda L: L.tensor([1.0]).type_as(3),
    "is_nonzero": lambda L: (L.is_nonzero(L.tensor([0.0])), L.is_nonzero(L.tensor(nan)), L.tensor(3).is_nonzero()),
    "is_nonzero_many": lambda L: L.is_nonzero(L.tensor([1, 2])),
    "is_nonzero_none": lambda L: L.is_nonzero(L.tensor([])),
    "is_nonzero_number": lambda L: L.is_nonzero(1),
    "is_same_size": lambda L: (L.is_same_size(L.tensor([1, 2]), L.tensor([3, 4.0])),
                               L.tensor([1]).is_same_size(L.tensor(1))),
    "is_signed": lambda L: tuple(L.is_signed(L.tensor([1], dtype=d))
                                 for d in (L.bool, L.uint8, L.int8, L.int32, L.float16)),
    "is_complex_floating": lambda L: (L.is_complex(L.tensor([1.0])), L.is_floating_point(L.tensor([1.0])),
                                      L.is_floating_point(L.tensor([1])), L.tensor([1]).is_complex()),
    "real_conj": lambda L: tuple(f(_leaf(L, [1.0, 2.0]) * 1) for f in (L.real, L.conj, L.resolve_conj, L.resolve_neg)),
    "real_property": lambda L: (_leaf(L, [1.0, 2.0]) * 3).real,
    "imag": lambda L: L.imag(L.tensor([1.0])),
    "imag_property": lambda L: L.tensor([1.0]).imag,
    "nbytes_itemsize": lambda L: (L.tensor([1.0, 2.0]).nbytes, L.tensor([1], dtype=L.int32).itemsize,
                                  L.zeros(2, 3, dtype=L.float64).nbytes),
    "adjoint": lambda L: L.adjoint(_leaf(L, [[1.0, 2], [3, 4]])),
    "adjoint_batched": lambda L: L.ones(2, 3, 4).adjoint(),
    "adjoint_1d": lambda L: L.tensor([1, 2]).adjoint(),
    "adjoint_0d": lambda L: L.tensor(1.0).adjoint(),
    "H": lambda L: L.tensor([[1, 2], [3, 4]]).H,
    "H_grad": lambda L: _leaf(L, [[1.0]]).H,
    "H_1d": lambda L: L.tensor([1, 2]).H,
    "H_3d": lambda L: L.tensor([[[1]]]).H,
    "H_0d": lambda L: L.tensor(1).H,
}
# the aliases: values and grad_fn names, their in-place methods and functions (backward included)
for _alias in ("arccos", "arcsin", "arctan", "arccosh", "arcsinh", "arctanh", "negative", "fix"):
    # float64: the aliased kernels' own float32 roundings (acosh's, an ulp at some values) are not the aliases'
    CASES[_alias] = lambda L, a=_alias: getattr(L, a)(_leaf(L, [0.5, -0.25, 1.5, nan, 0.0], dtype=L.float64) * 1)
    CASES[f"{_alias}_method_int"] = lambda L, a=_alias: getattr(L.tensor([0, 1, -2]), a)()
    CASES[f"{_alias}_"] = lambda L, a=_alias: getattr(_leaf(L, [0.5, 1.5], dtype=L.float64) * 1, a + "_")()
    CASES[f"{_alias}_fn_"] = lambda L, a=_alias: getattr(L, a + "_")(L.tensor([0.5, 1.5], dtype=L.float64))
CASES["arctan2"] = lambda L: L.arctan2(_leaf(L, [1.0, -1.0]) * 1, L.tensor([[2.0], [-0.0]]))
CASES["arctan2_"] = lambda L: (_leaf(L, [1.0, -1.0]) * 1).arctan2_(L.tensor(2.0))
CASES["negative_bool"] = lambda L: L.negative(L.tensor([True]))


ALIASES = {"arccos": "acos", "arcsin": "asin", "arctan": "atan", "arccosh": "acosh", "arcsinh": "asinh",
           "arctanh": "atanh", "negative": "neg", "fix": "trunc", "arctan2": "atan2"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_like_torch(name):
    same(CASES[name], close=name.split("_")[0] in ALIASES)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_is_the_aliased_op(alias):
    """Bit for bit the aliased op's values, on float32 and float64 (in place too)."""
    for dt in (engine.float32, engine.float64):
        x = engine.tensor([0.5, -0.25, 1.5, 3.0, 0.0, -0.0, float("inf")], dtype=dt)
        args = (x, x.flip(0)) if alias == "arctan2" else (x,)
        a, b = getattr(engine, alias)(*args), getattr(engine, ALIASES[alias])(*args)
        assert a.dtype == b.dtype and a.numpy().tobytes() == b.numpy().tobytes()
        y, z = x.clone(), x.clone()
        getattr(y, alias + "_")(*args[1:])
        getattr(z, ALIASES[alias] + "_")(*args[1:])
        assert y.numpy().tobytes() == z.numpy().tobytes()


def _backward(L, make):
    x = L.tensor([0.5, 1.5, 2.0], requires_grad=True)
    y = make(L, x)
    y = y[0] if isinstance(y, tuple) else y
    try:
        y.sum().backward()
    except Exception as e:  # noqa: BLE001 - the error is the result compared
        return next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"), str(e).split(_TRIGGERED)[0]
    return "no error", x.grad.tolist()


BACKWARDS = {
    "arccosh_": lambda L, x: (x * 2).arccosh_(),
    "arcsinh_": lambda L, x: (x * 1).arcsinh_(),
    "arctanh_": lambda L, x: (x * 0.1).arctanh_(),
    "arccos_": lambda L, x: (x * 0.1).arccos_(),
    "negative_": lambda L, x: (x * 1).negative_(),
    "fix_": lambda L, x: (x * 1).fix_(),
    "arctan2": lambda L, x: L.arctan2(x, x + 1),
    "unique": lambda L, x: L.unique(x, return_counts=True),
    "unique_dim": lambda L, x: L.unique(x, dim=0),
    "unique_consecutive": lambda L, x: L.unique_consecutive(x, dim=0),
    "bincount": lambda L, x: L.bincount(L.tensor([0, 1, 1]), weights=x),
    "heaviside": lambda L, x: L.heaviside(x, L.tensor([1.0])),
    "vander": lambda L, x: L.vander(x),
    "vander_n1": lambda L, x: L.vander(x, N=1) * x.unsqueeze(1),
    "adjoint": lambda L, x: L.adjoint(x.unsqueeze(0) * 1),
    "fill_diagonal_": lambda L, x: (x.unsqueeze(0) * x.unsqueeze(1)).fill_diagonal_(0.0),
    "type_as": lambda L, x: x.type_as(L.tensor([1.0], dtype=L.float64)),
}


@pytest.mark.parametrize("name", sorted(BACKWARDS))
def test_backward_like_torch(name):
    assert _close(_backward(engine, BACKWARDS[name]), _backward(torch, BACKWARDS[name]))


def test_catalog_lists_every_new_op():
    ops = {d["name"]: d for d in catalog.describe()}
    new = ("all any nonzero argwhere count_nonzero arccos arcsin arctan arccosh arcsinh arctanh arctan2 signbit "
           "isposinf isneginf negative fix heaviside gcd lcm type_as isin bucketize searchsorted unique "
           "unique_consecutive bincount histc tril_indices triu_indices logspace vander is_nonzero is_same_size "
           "is_signed is_complex is_floating_point real imag conj resolve_conj resolve_neg nbytes itemsize adjoint H "
           "fill_diagonal_ arccos_ arccosh_ negative_ fix_ gcd_ lcm_ heaviside_").split()
    missing = [n for n in new if n not in ops or n not in catalog.OPS]
    assert not missing
    assert ops["unique"]["signature"] == ("unique(input, sorted=True, return_inverse=False, return_counts=False, "
                                          "dim=None) -> Tensor")
    assert ops["bincount"]["signature"] == "bincount(input, weights=None, minlength=0) -> Tensor"
    assert ops["arccos"]["grad_fn"] == ["AcosBackward0"]
    assert ops["arccosh_"]["grad_fn"] == ops["acosh_"]["grad_fn"]
    for name in ("isin", "searchsorted", "bucketize", "tril_indices", "logspace", "vander"):
        assert ops[name]["kinds"] == ["function"], name  # as torch: no Tensor method of that name
    for name in ("all", "nonzero", "unique", "bincount", "histc", "adjoint", "heaviside"):
        assert set(ops[name]["kinds"]) == {"function", "method"}, name
    assert ops["type_as"]["kinds"] == ["method"] and ops["fill_diagonal_"]["kinds"] == ["method"]
    assert ops["H"]["kinds"] == ["request"] and isinstance(engine.Tensor.__dict__["H"], property)
