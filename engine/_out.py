"""`out=` on the common engine.* functions, as torch's out= overloads behave.

The result is computed as without out=, then written into `out`: cast to out's dtype where torch's canCast
allows it (else "result type Float can't be cast to the desired output type Long"), into out's own array when
the shapes agree (views of it see the values), else out takes the result's shape (with torch's warning when
out had elements). Refused, as torch refuses, where autograd would have to record through out=.
"""
from __future__ import annotations

import functools
import warnings

from engine.autograd import grad_mode
from engine.dtypes import scalar_type_name
from engine.errors import TorchRuntimeError
from engine.optim._update import assign_, set_data
from engine.tensor import Tensor

# the engine.* functions that take out= (torch has it on each)
NAMES = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow", "neg", "abs", "exp", "exp2",
    "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "tanh", "sigmoid", "erf", "erfc", "reciprocal", "floor", "ceil", "round", "trunc",
    "sign", "clamp", "clip", "maximum", "minimum", "remainder", "fmod", "hypot", "lerp", "logaddexp", "square",
    "matmul", "mm", "bmm", "mv", "dot", "addmm", "outer", "sum", "mean", "prod", "cumsum", "cumprod", "amax",
    "amin", "logsumexp", "cat", "concat", "concatenate", "stack", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
    "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "index_select", "gather", "arange", "tril", "triu", "where",
)
_FACTORIES = ("arange",)
_RESIZE_WARNING = (
    "An output with one or more elements was resized since it had shape {old}, which does not match the required "
    "output shape {new}. This behavior is deprecated, and in a future PyTorch release outputs will not be resized "
    "unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
    "elements with t.resize_(0).")


def _can_cast(frm, to) -> bool:
    """c10::canCast: no floating to integral, no non-bool to bool."""
    if frm.kind == "f" and to.kind in "iub":
        return False
    return not (frm.kind != "b" and to.kind == "b")


def _any_requires_grad(args, kwargs) -> bool:
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor) and a.requires_grad:
            return True
        if isinstance(a, list | tuple) and any(isinstance(t, Tensor) and t.requires_grad for t in a):
            return True
    return False


def write_out(name, result, out):
    """Write `result` (a Tensor) into `out` as torch's out= does; returns out."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    src = result._data
    if not _can_cast(src.dtype, out._data.dtype):
        raise TorchRuntimeError(f"result type {scalar_type_name(src.dtype)} can't be cast to the desired output type "
                                f"{scalar_type_name(out._data.dtype)}")
    if tuple(out.shape) == tuple(src.shape):
        assign_(out, src)
    else:
        if out.numel() != 0:
            warnings.warn(_RESIZE_WARNING.format(old=list(out.shape), new=list(src.shape)), UserWarning, stacklevel=3)
        set_data(out, src.astype(out._data.dtype))
    return out


def with_out(fn, name=None):
    """fn with torch's out= keyword."""
    name = name or fn.__name__

    @functools.wraps(fn)
    def f(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if grad_mode.enabled and (out.requires_grad or _any_requires_grad(args, kwargs)):
            raise TorchRuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                                    "differentiation, but one of the arguments requires grad.")
        if name in _FACTORIES and kwargs.get("dtype") is None:
            kwargs["dtype"] = out.dtype  # a factory makes out's dtype
        return write_out(name, fn(*args, **kwargs), out)

    return f


def install(namespace: dict) -> None:
    for n in NAMES:
        if n in namespace:
            namespace[n] = with_out(namespace[n], n)
