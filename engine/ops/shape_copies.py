"""The *_copy variants of the view ops: the view's values as a new tensor, its formula, torch's `..._copy` node
name (t_copy, expand_copy, ..., narrow_copy, unbind_copy, split_with_sizes_copy)."""
from __future__ import annotations

from engine import dtypes as D
from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import join as J
from engine.ops import shape as S
from engine.ops._cost import by_forward
from engine.ops._util import size_arg, wrap_dim
from engine.ops.join_common import _KEEP_ARITY, _Formula, _many
from engine.ops.jvp import shifted
from engine.ops.registry import defop
from engine.ops.rules import numel
from engine.ops.shape_strided import as_strided_op, unfold_op
from engine.tensor import Tensor


def _rename(op, name):
    """torch's node name where its codegen does not derive it from the schema (the *_copy ops)."""
    op.grad_fn_name = name
    op.node_cls.__name__ = op.node_cls.__qualname__ = name
    return op


# ----- the *_copy variants: the view op's values as a new tensor, its formula, torch's `..._copy` node name -----


def _copy_of(view, schema, name, params=None):
    formulas = {"__".join(view.tensor_params[i] for i in f.inputs): f.fn for f in view.formulas}
    fwd = view.array_forward

    def forward(*args):
        return fwd(*args).copy()

    op = defop(schema, forward, rule=by_forward(fwd, params or view.params, view.tensor_params, copy=True),
               **formulas)
    return _rename(op, name) if name else op


t_copy_op = _copy_of(S.t_op, "t_copy(Tensor self) -> Tensor", "TBackward0_copy")
alias_copy_op = _copy_of(I.alias_op, "alias_copy(Tensor self) -> Tensor", "AliasBackward0_copy")
expand_copy_op = _copy_of(S.expand_op, "expand_copy(Tensor self, SymInt[] size, *, bool implicit=False) -> Tensor",
                          "ExpandBackward0_copy")
permute_copy_op = _copy_of(S.permute_op, "permute_copy(Tensor self, int[] dims) -> Tensor", "PermuteBackward0_copy")
transpose_copy_op = _copy_of(S.transpose_op, "transpose_copy.int(Tensor self, int dim0, int dim1) -> Tensor",
                             "TransposeBackward0_copy")
unsqueeze_copy_op = _copy_of(S.unsqueeze_op, "unsqueeze_copy(Tensor self, int dim) -> Tensor",
                             "UnsqueezeBackward0_copy")
squeeze_copy_op = _copy_of(S.squeeze_op, "squeeze_copy(Tensor self) -> Tensor", "SqueezeBackward0_copy")
squeeze_copy_dim = _copy_of(S.squeeze_dim, "squeeze_copy.dim(Tensor self, int dim) -> Tensor",
                            "SqueezeBackward1_copy")
squeeze_copy_dims = _copy_of(S.squeeze_dims, "squeeze_copy.dims(Tensor self, int[] dim) -> Tensor",
                             "SqueezeBackward2_copy")
view_copy_op = _copy_of(S.view_op, "view_copy(Tensor self, SymInt[] size) -> Tensor", "ViewBackward0_copy")
unfold_copy_op = _copy_of(unfold_op, "unfold_copy(Tensor self, int dimension, int size, int step) -> Tensor",
                          "UnfoldBackward0_copy")
as_strided_copy_op = _copy_of(
    as_strided_op,
    "as_strided_copy(Tensor self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor",
    "AsStridedBackward0_copy")


def _narrow_copy_fwd(a, dim, start, length):
    if a.ndim == 0:
        raise TorchRuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise TorchIndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start = start + size if start < 0 else start
    if start > size - length:
        raise TorchRuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return a[(slice(None),) * d + (slice(start, start + length),)].copy()


narrow_copy_op = defop(
    "narrow_copy(Tensor self, int dim, SymInt start, SymInt length) -> Tensor", _narrow_copy_fwd,
    self=lambda grad, self_shape, dim, start, length: I.slice_backward_op(
        grad, self_shape, dim, start % self_shape[wrap_dim(dim, len(self_shape))] if self_shape[
            wrap_dim(dim, len(self_shape))] else 0,
        (start % self_shape[wrap_dim(dim, len(self_shape))] if self_shape[wrap_dim(dim, len(self_shape))] else 0)
        + length, 1),
    rule=by_forward(_narrow_copy_fwd, ("self", "dim", "start", "length"), ("self",), copy=True))


def t_copy(input: Tensor) -> Tensor:
    return t_copy_op(input)


def alias_copy(input: Tensor) -> Tensor:
    return alias_copy_op(input)


def expand_copy(input: Tensor, size: list[int], *, implicit: bool = False) -> Tensor:
    return expand_copy_op(input, list(size), implicit)


def permute_copy(input: Tensor, dims: list[int]) -> Tensor:
    return permute_copy_op(input, list(dims))


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return transpose_copy_op(input, dim0, dim1)


def unsqueeze_copy(input: Tensor, dim: int) -> Tensor:
    return unsqueeze_copy_op(input, dim)


def squeeze_copy(input: Tensor, dim: int | list[int] | None = None) -> Tensor:
    if dim is None:
        return squeeze_copy_op(input)
    if isinstance(dim, list | tuple):
        return squeeze_copy_dims(input, list(dim))
    return squeeze_copy_dim(input, dim)


def view_copy(input: Tensor, size: list[int]) -> Tensor:
    if isinstance(size, D.dtype):
        raise TorchNotImplementedError("view_copy(dtype) is not supported by this engine")
    return view_copy_op(input, list(size_arg((size,)) if not isinstance(size, int) else (size,)))


def unfold_copy(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    return unfold_copy_op(input, dimension, size, step)


def as_strided_copy(input: Tensor, size: list[int], stride: list[int], storage_offset: int | None = None) -> Tensor:
    return as_strided_copy_op(input, list(size), list(stride), storage_offset)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    return narrow_copy_op(input, dim, int(start), int(length))


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return J.diagonal_copy_op(input, offset, dim1, dim2)


# unbind_copy / split_with_sizes_copy: the n-output entries of join.py, copied, under their `_copy` names
_MULTI_COPY: dict[tuple, object] = {}


def _copies_rule(kind):
    """join's rule of `kind` (the pieces listed, or bounded past _LIST_PIECES: never made in the rule), plus an
    operation an element copied."""
    base = J._split_defs()[kind][4]

    def rule(**vals):
        c = base(**vals)
        return c._replace(flops=c.flops + numel(vals["self"].shape))

    rule.by_name = {"unbind": ("self", "dim"), "split_with_sizes": ("self", "split_sizes", "dim")}[kind]
    return rule


def _multi_copy_op(kind, n):
    op = _MULTI_COPY.get((kind, n))
    if op is None:
        schema, fwd, bwd, names, _ = J._split_defs()[kind]
        base = schema.split("(", 1)[0]
        copy_schema = schema.replace(base, base.split(".")[0] + "_copy" + (
            "." + base.split(".")[1] if "." in base else ""), 1).replace("Tensor(a)", "Tensor")
        copies = lambda *args, _f=fwd: tuple(p.copy() for p in _f(*args))  # noqa: E731
        if n == 1:
            forward = lambda *args: copies(*args)[0]  # noqa: E731
            formula = _Formula(lambda grad, *rest, _b=bwd: _b([grad], *rest), names)
        else:
            forward, formula = copies, _Formula(bwd, names)
        op = defop(copy_schema, forward, nout=n, index=0, self=formula, jvp=shifted("linear", "dim"),
                   rule=_copies_rule(kind))
        _rename(op, {"unbind": "UnbindBackward0_copy", "split_with_sizes": "SplitWithSizesBackward0_copy"}[kind])
        if n <= _KEEP_ARITY:  # (one entry per arity asked for would grow without bound)
            _MULTI_COPY[(kind, n)] = op
    return op


def _call_copies(kind, n, *args):
    if n > _KEEP_ARITY:  # the pieces charged before their entry of n outputs is made (an empty dim of 1e6)
        _many(n, f"{kind}_copy's pieces")
    out = _multi_copy_op(kind, n)(*args)
    return (out,) if n == 1 else out


def unbind_copy(input: Tensor, dim: int = 0) -> tuple:
    if input.ndim == 0:
        raise TorchIndexError("Dimension specified as 0 but tensor has no dimensions")
    n = input.shape[wrap_dim(dim, input.ndim)]
    return _call_copies("unbind", n, input, dim)


def split_with_sizes_copy(input: Tensor, split_sizes: list[int], dim: int = 0) -> tuple:
    sizes = [int(s) for s in split_sizes]
    J._check_split_with_sizes(input._data, sizes, dim)
    return _call_copies("split_with_sizes", len(sizes), input, sizes, dim)
