"""Truth tests and integer arithmetic torch users write as everyday functions and methods: all / any,
count_nonzero, signbit, isposinf / isneginf, heaviside, gcd / lcm. None has a derivative: all of them are
`nondiff` entries (no grad_fn), except heaviside, whose derivative torch leaves not implemented (its grad_fn
is NotImplemented and a backward through it fails, as floor_divide's)."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError
from engine.ops import pointwise as P
from engine.ops._util import wrap_dims
from engine.ops.registry import entry, nondiff
from engine.ops.rules import Cost, elementwise, numel, reduced_shape
from engine.tensor import Tensor

_EW = elementwise()


def _dims(dim, ndim):
    """A reduction's dims as a tuple of axes (None: every dim; []: none), with torch's checks."""
    if dim is None:
        return None
    if isinstance(dim, int | np.integer):
        return wrap_dims(int(dim), ndim)
    return wrap_dims(list(dim), ndim)


def _axes(dims, ndim):
    return dims if ndim else ()  # a 0-d tensor's dim 0 (or -1) reduces nothing


def _reduce_rule(self, dim, keepdim=False):
    shape = tuple(self.shape)
    if isinstance(dim, list | tuple) and len(dim) == 0:
        return Cost(shape, max(numel(shape), 1))
    return Cost(reduced_shape(shape, dim, bool(keepdim)), max(numel(shape), 1))


def _truth(np_fn):
    def f(a, dim=None, keepdim=False):
        axes = _axes(_dims(dim, a.ndim), a.ndim)
        r = np.asarray(np_fn(a, axis=axes, keepdims=bool(keepdim)))
        return r.astype(np.uint8) if a.dtype == np.uint8 else r  # torch keeps uint8 (its legacy mask type)

    return f


all_op = nondiff("all.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor", _truth(np.all),
                 rule=lambda self, dim, keepdim: _reduce_rule(self, dim, keepdim))
any_op = nondiff("any.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor", _truth(np.any),
                 rule=lambda self, dim, keepdim: _reduce_rule(self, dim, keepdim))


def _count_nonzero(a, dim=None):
    axes = _axes(_dims(dim, a.ndim), a.ndim)
    return np.asarray(np.count_nonzero(a, axis=axes), dtype=np.int64)


count_nonzero_op = nondiff("count_nonzero.dim_IntList(Tensor self, int[]? dim=None) -> Tensor", _count_nonzero,
                           rule=lambda self, dim: _reduce_rule(self, dim))


def all(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """torch.all: whether every element (along `dim`) is nonzero; bool (uint8 for uint8 input)."""
    return all_op(input, dim, keepdim)


def any(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """torch.any: whether some element (along `dim`) is nonzero; bool (uint8 for uint8 input)."""
    return any_op(input, dim, keepdim)


def count_nonzero(input: Tensor, dim: int | list[int] | None = None) -> Tensor:
    """torch.count_nonzero: the number of nonzero elements (along `dim`); int64."""
    return count_nonzero_op(input, dim)


# ----- signbit, isposinf, isneginf -----


def _signbit(a):
    if a.dtype.kind == "f":
        return np.signbit(a)
    if a.dtype.kind == "b" or a.dtype.kind == "u":
        return np.zeros(a.shape, dtype=bool)
    return a < 0


def _isinf_sign(sign):
    def f(a):
        if a.dtype.kind != "f":
            return np.zeros(a.shape, dtype=bool)
        return np.isposinf(a) if sign > 0 else np.isneginf(a)

    return f


signbit_op = nondiff("signbit(Tensor self) -> Tensor", _signbit, rule=_EW)
isposinf_op = nondiff("isposinf(Tensor self) -> Tensor", _isinf_sign(1), rule=_EW)
isneginf_op = nondiff("isneginf(Tensor self) -> Tensor", _isinf_sign(-1), rule=_EW)


def _tensor_arg(fn, name, pos, x):
    if not isinstance(x, Tensor):
        raise TorchTypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def signbit(input: Tensor) -> Tensor:
    """Whether the sign bit is set (-0.0 included); bool."""
    _tensor_arg("signbit", "input", 1, input)
    return signbit_op(input)


def isposinf(input: Tensor) -> Tensor:
    """Elementwise test for +inf; bool."""
    _tensor_arg("isposinf", "input", 1, input)
    return isposinf_op(input)


def isneginf(input: Tensor) -> Tensor:
    """Elementwise test for -inf; bool."""
    _tensor_arg("isneginf", "input", 1, input)
    return isneginf_op(input)


# ----- heaviside -----


def _heaviside(a, v):
    # torch: input == 0 ? values : (input > 0); a NaN input is neither, so 0
    return np.where(a == 0, v, (a > 0).astype(a.dtype)).astype(a.dtype, copy=False)


heaviside_op = nondiff("heaviside(Tensor self, Tensor values) -> Tensor", _heaviside, rule=elementwise(temp=1))


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The Heaviside step: 0 below zero, 1 above, `values` at zero. No derivative (grad_fn NotImplemented)."""
    _tensor_arg("heaviside", "input", 1, input)
    _tensor_arg("heaviside", "values", 2, values)
    if input.dtype is not values.dtype:
        raise TorchRuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    out = heaviside_op(input, values)
    return P._not_implemented("heaviside", out, input, values)


# ----- gcd, lcm -----


def _integral(name, np_fn):
    def f(a, b):
        for x in (a, b):
            if x.dtype.kind not in "iu":
                raise TorchNotImplementedError(f'"{name}_cpu" not implemented for \'{D.scalar_type_name(x.dtype)}\'')
        with np.errstate(all="ignore"):
            return np.asarray(np_fn(a, b))

    return f


def _gcd(a, b):
    """torch's calc_gcd: Euclid on std::abs of each, which leaves a signed type's minimum negative (gcd(int8
    -128, 6) is -2); NumPy's gcd where no operand is that minimum (the same answer), the C loop (C remainders)
    on the elements where one is."""
    out = np.asarray(np.gcd(a, b))
    if out.dtype.kind != "i":
        return out
    lo = np.iinfo(out.dtype).min
    a, b = np.broadcast_arrays(np.asarray(a, dtype=out.dtype), np.asarray(b, dtype=out.dtype))
    hit = (a == lo) | (b == lo)
    if hit.any():
        x, y = np.abs(a[hit]), np.abs(b[hit])  # the minimum stays itself, as in C++ after the narrowing
        for _ in range(8 * out.dtype.itemsize + 2):  # Euclid from a power of two: at most the bit width
            live = x != 0
            if not live.any():
                break
            r = np.zeros_like(x)
            r[live] = np.fmod(y[live], x[live])
            y = np.where(live, x, y)
            x = r
        out[hit] = y
    return out


def _lcm(a, b):
    """torch's lcm: g = gcd(a, b); g == 0 ? 0 : abs(a / g * b), in C++'s int arithmetic (int8 / int16 / uint8
    promoted to int, then narrowed; int32 / int64 wrapping), not NumPy's (which wraps before its abs)."""
    t = np.result_type(a, b)
    w = np.int32 if t.itemsize < 4 else t
    a, b = np.asarray(a, dtype=w), np.asarray(b, dtype=w)
    g = _gcd(a, b)
    q = np.where(g == 0, 0, a // np.where(g == 0, 1, g)) * b
    return np.where(g == 0, 0, np.abs(q)).astype(t)


gcd_op = nondiff("gcd(Tensor self, Tensor other) -> Tensor", _integral("gcd", _gcd), promote=True, rule=_EW)
lcm_op = nondiff("lcm(Tensor self, Tensor other) -> Tensor", _integral("lcm", _lcm), promote=True, rule=_EW)


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Greatest common divisor of integer tensors (broadcasting); gcd(0, 0) is 0."""
    _tensor_arg("gcd", "input", 1, input)
    _tensor_arg("gcd", "other", 2, other)
    return gcd_op(input, other)


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Least common multiple of integer tensors (broadcasting); 0 where either is 0."""
    _tensor_arg("lcm", "input", 1, input)
    _tensor_arg("lcm", "other", 2, other)
    return lcm_op(input, other)


CATALOG = [
    entry("all", all, "Whether every element (along `dim`, an int or a list) is nonzero: bool, uint8 for uint8 "
          "input; no gradient."),
    entry("any", any, "Whether some element (along `dim`, an int or a list) is nonzero: bool, uint8 for uint8 "
          "input; no gradient."),
    entry("count_nonzero", count_nonzero, "The number of nonzero elements (along `dim`, an int or a list); int64."),
    entry("signbit", signbit, "Whether the sign bit is set (-0.0 and -NaN included); bool."),
    entry("isposinf", isposinf, "Elementwise test for +inf; bool."),
    entry("isneginf", isneginf, "Elementwise test for -inf; bool."),
    entry("heaviside", heaviside, "Heaviside step: 0 below zero, 1 above, `values` at zero (same dtype); torch "
          "has no derivative for it (grad_fn NotImplemented).", grad_fns=("NotImplemented",)),
    entry("gcd", gcd, "Greatest common divisor of integer tensors, broadcasting."),
    entry("lcm", lcm, "Least common multiple of integer tensors, broadcasting."),
]
