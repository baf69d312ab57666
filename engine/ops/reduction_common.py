"""The reductions' shared pieces: cost rules, accumulation dtypes, dim arguments, putting reduced dims back."""

from __future__ import annotations

import builtins

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import is_grad_enabled
from engine.errors import TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import wrap_dims

# ----- cost rules (engine/ops/rules.py): temp and bwd count input-sized arrays -----


def _red(self, dim=None, keepdim=False, weight=1, temp=0, bwd=None, nout=1, out_temp=0):
    """A reduction of self over dim: `temp` / `bwd` input-sized temporaries, `out_temp` output-sized ones."""
    x = R.shape_of(self)
    out = R.reduced_shape(x, dim, bool(keepdim))
    n = R.numel(x)
    t = int(temp * n) + int(out_temp * R.numel(out))
    return R.Cost(out if nout == 1 else (out,) * nout, weight * builtins.max(n, 1), t, True,
                  None if bwd is None else int(bwd * n))


def _cast(dtype):
    return 1 if dtype is not None else 0  # the input cast to dtype first: one input-sized temporary


# A float sum in torch's order (engine/ops/_torch_sum.py) holds the input's lanes and partial sums of its cascade
# levels: up to about three input-sized arrays at once (measured by tests/engine/test_rules.py)
_TORCH_SUM = 3


def _acc_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return np.int64
    if a.dtype == np.float16:
        return np.float32  # torch accumulates half in float
    return None


_word = D.scalar_type_name


def _check_autograd_dtype(input, dtype, out):
    """A grad-requiring input reduced into an integer dtype: torch's autograd refuses the output (after the
    forward ran, so argument errors come first)."""
    if dtype is not None and not dtype.is_floating_point and input.requires_grad and is_grad_enabled():
        raise TorchRuntimeError(f"Autograd not support dtype: {_word(dtype.np)}")
    return out


def _numel_reduced(shape, dim):
    if len(shape) == 0:
        return 1
    if dim is None or dim == [] or dim == ():
        n = 1
        for s in shape:
            n *= s
        return n
    n = 1
    for d in wrap_dims(dim, len(shape)):
        n *= shape[d]
    return n


def _expand_reduced(grad, shape, dim, keepdim):
    """sum_backward: put back the reduced dims, then expand to the input's shape."""
    if not keepdim and len(shape) and grad.ndim != len(shape):
        for d in (
            wrap_dims(dim, len(shape)) if dim is not None and dim != [] and dim != () else range(len(shape))
        ):
            grad = grad.unsqueeze(d)
    return grad.expand(shape)


def _expand_reduced_array(grad, shape, dim, keepdim):
    """_expand_reduced on an array (backward without create_graph): the same unsqueezes, as one expand_dims
    (the dims ascending, as wrap_dims gives them), then the same broadcast view."""
    if not keepdim and len(shape) and np.ndim(grad) != len(shape):
        grad = np.expand_dims(grad, tuple(
            wrap_dims(dim, len(shape)) if dim is not None and dim != [] and dim != () else range(len(shape))))
    return np.broadcast_to(grad, shape)


def _all_dims(dim):
    return dim is None or (isinstance(dim, list | tuple) and len(dim) == 0)


def _reduced_dims(dim, ndim):
    """The dims a reduction covers, sorted and wrapped; None / [] / () mean all of them."""
    if _all_dims(dim):
        return tuple(range(ndim))
    return wrap_dims(dim, ndim)


def _unsqueeze_multiple(t, dims, ndim):
    """torch's unsqueeze_multiple: put back reduced dims (sorted ascending) on a grad / result."""
    for d in sorted(dims):
        t = t.unsqueeze(d)
    return t


def _out(x):
    return B.xp.asarray(x)


def _half_acc(a):
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _dims_arg(dim):
    if isinstance(dim, int):
        return [dim]
    return list(dim) if dim is not None else []


def _ones(t):
    from engine.ops.factory import ones_like  # noqa: PLC0415

    return ones_like(t)
