"""Shared helpers of the op table: dim wrapping, torch's shape messages and its not-implemented formulas."""
from __future__ import annotations

import operator

import numpy as np

from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError, TorchTypeError


def wrap_dim(dim, ndim):
    n = max(ndim, 1)
    if not isinstance(dim, int):
        try:
            dim = operator.index(dim)  # NumPy and 0-d integer tensors pass; 0.5 does not, as in torch
        except TypeError:
            raise TorchTypeError(f"dim must be an integer, not {type(dim).__name__}") from None
    if not -n <= dim < n:
        raise TorchIndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def wrap_dims(dims, ndim):
    """A dim or a list of dims -> sorted tuple of non-negative dims; None -> all dims."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = []
    for d in dims:
        w = wrap_dim(d, ndim)
        if w in out:
            raise TorchRuntimeError(f"dim {w} appears multiple times in the list of dims")
        out.append(w)
    return tuple(sorted(out))


def broadcast_shapes(a, b):
    """at::infer_size: broadcast two shapes, comparing dims from the last one, so that the message names the
    last mismatching dimension as torch's does (tensor a is the left operand)."""
    if a == b:
        return tuple(a)
    n = max(len(a), len(b))
    out = [0] * n
    for i in range(n - 1, -1, -1):
        off = n - 1 - i
        da = a[len(a) - 1 - off] if len(a) - 1 - off >= 0 else 1
        db = b[len(b) - 1 - off] if len(b) - 1 - off >= 0 else 1
        if da != db and da != 1 and db != 1:
            raise TorchRuntimeError(
                f"The size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton "
                f"dimension {i}"
            )
        out[i] = db if da == 1 else da
    return tuple(out)


def infer_size(shape, numel):
    """view/reshape's size inference with -1, with torch's messages."""
    shape = [int(s) for s in shape]
    infer = None
    prod = 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise TorchRuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise TorchRuntimeError(f"invalid shape dimension {s} at index {i} of shape {list_str(shape)}")
        else:
            prod *= s
    if infer is not None:
        if prod == 0 or numel % prod:
            if prod == 0 and numel == 0:
                raise TorchRuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {list_str(shape)} because the "
                    "unspecified dimension size -1 can be any value and is ambiguous"
                )
            raise TorchRuntimeError(f"shape '{list_str(shape)}' is invalid for input of size {numel}")
        shape[infer] = numel // prod
    elif prod != numel:
        raise TorchRuntimeError(f"shape '{list_str(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def list_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def size_arg(size):
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) as torch does."""
    if len(size) == 1 and isinstance(size[0], list | tuple):
        return tuple(size[0])
    return tuple(size)


def not_implemented_formulas(derivative: str, forward: str, pr: bool = False):
    """(backward, jvp) of a derivatives.yaml entry torch marks `not_implemented`: its node is recorded, its backward
    raises torch's "the derivative for '<derivative>' is not implemented.", and a forward-AD tangent through it
    torch's message naming `forward` (the op as the user called it)."""
    msg = f"the derivative for '{derivative}' is not implemented."
    fw = (f"Trying to use forward AD with {forward} that does not support it because it has not been implemented "
          "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
          "feature-request.yml so that we can prioritize its implementation" + (
              " or submit a PR adding the implementation to derivatives.yaml" if pr else "."))
    # (pr: an op's own derivatives.yaml entry, unique's or zeta's: torch 2.13's longer text, jvp.NOT_IMPLEMENTED;
    # an in-place op whose out-of-place form has a formula ends at "implementation.")

    def backward(grad):
        raise TorchNotImplementedError(msg)

    def jvp(self_t):
        raise TorchNotImplementedError(fw)

    return backward, jvp


# ----- clamps that keep their input where it equals the bound (torch's std::max / std::min: relu(-0.0) is -0.0) -----


def _keeps_first(fn, dt):
    """Whether NumPy's fn(a, b) answers a where a == b (its float16 loop does; the float32 / float64 SIMD loops
    answer b): probed once, so that a clamp keeps a's zero sign whatever NumPy's loops do."""
    return bool(np.signbit(fn(np.array([-0.0], dt), np.zeros((), dt)))[0])


_MAX_FIRST = {np.dtype(d): _keeps_first(np.maximum, d) for d in ("float16", "float32", "float64")}
_MIN_FIRST = {np.dtype(d): _keeps_first(np.minimum, d) for d in ("float16", "float32", "float64")}


def at_least(a, lo):
    """max(a, lo) keeping a where they are equal (relu(-0.0) is -0.0: torch's clamp keeps its input), NaN kept."""
    return np.maximum(a, lo) if _MAX_FIRST.get(a.dtype, True) else np.maximum(lo, a)


def at_most(a, hi):
    return np.minimum(a, hi) if _MIN_FIRST.get(a.dtype, True) else np.minimum(hi, a)
