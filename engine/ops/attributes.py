"""Tensor predicates and attributes torch users write: is_nonzero, is_same_size, is_signed, is_complex,
is_floating_point (as functions), type_as, real / imag / conj / resolve_conj / resolve_neg (a real tensor's: the
tensor itself, or torch's error for imag), adjoint and the properties H, nbytes and itemsize.

The properties (real, imag, H, nbytes, itemsize) are set on Tensor here, as torch has them; their catalog
entries are request ops only (`{"op": "H", "args": ["x"]}`), so that engine._methods does not bind them as
methods over the properties."""
from __future__ import annotations

import warnings

from engine import dtypes as D
from engine.errors import TorchRuntimeError, TorchTypeError
from engine.ops import shape as S
from engine.ops.registry import entry
from engine.tensor import Tensor


def _need_tensor(fn, name, pos, x):
    if not isinstance(x, Tensor):
        raise TorchTypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def is_nonzero(input: Tensor) -> bool:
    """Whether a one-element tensor is nonzero (NaN is); torch's errors for more or no elements."""
    _need_tensor("is_nonzero", "input", 1, input)
    n = input.numel()
    if n == 0:
        raise TorchRuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise TorchRuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(-1)[0] != 0)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """Whether two tensors have the same shape."""
    _need_tensor("is_same_size", "input", 1, input)
    _need_tensor("is_same_size", "other", 2, other)
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input: Tensor) -> bool:
    """Whether the dtype is signed (not bool or uint8)."""
    _need_tensor("is_signed", "input", 1, input)
    return input.dtype not in (D.bool_, D.uint8)


def is_complex(input: Tensor) -> bool:
    """Whether the dtype is complex: never, here (no complex dtypes)."""
    _need_tensor("is_complex", "input", 1, input)
    return False


def is_floating_point(input: Tensor) -> bool:
    """Whether the dtype is a floating point one."""
    _need_tensor("is_floating_point", "input", 1, input)
    return input.dtype.is_floating_point


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """input cast to other's dtype (input itself where it already has it; ToCopyBackward0 otherwise)."""
    _need_tensor("type_as", "other", 1, other)
    return input.to(other.dtype)


def _real_only(fn, name):
    def f(input: Tensor) -> Tensor:
        _need_tensor(name, "input", 1, input)
        return fn(input)

    f.__name__ = name
    return f


def _imag(input):
    raise TorchRuntimeError("imag is not implemented for tensors with non-complex dtypes.")


real = _real_only(lambda t: t, "real")
real.__doc__ = "The real part: a real tensor itself."
imag = _real_only(_imag, "imag")
imag.__doc__ = "The imaginary part: torch's error for a real tensor."
conj = _real_only(lambda t: t, "conj")
conj.__doc__ = "The conjugate: a real tensor itself."
resolve_conj = _real_only(lambda t: t, "resolve_conj")
resolve_conj.__doc__ = "The conjugation materialized: a real tensor itself."
resolve_neg = _real_only(lambda t: t, "resolve_neg")
resolve_neg.__doc__ = "The negative bit materialized: a real tensor itself."


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (a real tensor's transpose(-2, -1): TransposeBackward0)."""
    _need_tensor("adjoint", "input", 1, input)
    if input.ndim == 0:
        warnings.warn("adjoint() is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, stacklevel=2)
        return input
    if input.ndim < 2:
        raise TorchRuntimeError("tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                                f"{input.ndim}-D tensor.")
    return S.transpose(input, -2, -1)


def H(input: Tensor) -> Tensor:  # noqa: N802 - torch's name
    """Tensor.H: a matrix's conjugate transpose (0-d: the tensor itself, with torch's deprecation warning)."""
    _need_tensor("H", "input", 1, input)
    if input.ndim == 0:
        warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, stacklevel=2)
        return input
    if input.ndim != 2:
        more = ". For batches of matrices, consider using tensor.mH" if input.ndim > 2 else "."
        raise TorchRuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {input.ndim}-D "
                                f"tensor{more}")
    return S.transpose(input, 0, 1)


def nbytes(input: Tensor) -> int:
    """Tensor.nbytes: elements times the item size."""
    return input.numel() * input.dtype.itemsize


def itemsize(input: Tensor) -> int:
    """Tensor.itemsize: bytes of one element."""
    return input.dtype.itemsize


for _name, _fn in (("real", real), ("imag", imag), ("H", H), ("nbytes", nbytes), ("itemsize", itemsize)):
    setattr(Tensor, _name, property(_fn))

CATALOG = [
    entry("is_nonzero", is_nonzero, "Whether a one-element tensor is nonzero (a bool; a request gets it as a "
          "0-d bool tensor)."),
    entry("is_same_size", is_same_size, "Whether two tensors have the same shape."),
    entry("is_signed", is_signed, "Whether the dtype is signed."),
    entry("is_complex", is_complex, "Whether the dtype is complex (never here)."),
    entry("is_floating_point", is_floating_point, "Whether the dtype is a floating point one.", method=False),
    entry("type_as", type_as, "Cast to other's dtype (the tensor itself when it has it).", function=False,
          grad_fns=("ToCopyBackward0",)),
    entry("real", real, "The real part: a real tensor itself (torch.real; Tensor.real is a property).",
          method=False),
    entry("imag", imag, "The imaginary part: torch's error for real tensors.", method=False),
    entry("conj", conj, "The conjugate: a real tensor itself."),
    entry("resolve_conj", resolve_conj, "A real tensor itself."),
    entry("resolve_neg", resolve_neg, "A real tensor itself."),
    entry("adjoint", adjoint, "Conjugate transpose of the last two dims (transpose(-2, -1) for real tensors).",
          grad_fns=("TransposeBackward0",)),
    entry("H", H, "Property: a matrix's conjugate transpose (transpose(0, 1) for real tensors).", function=False,
          method=False, grad_fns=("TransposeBackward0",)),
    entry("nbytes", nbytes, "Property: bytes of the tensor's elements.", function=False, method=False),
    entry("itemsize", itemsize, "Property: bytes of one element.", function=False, method=False),
]
