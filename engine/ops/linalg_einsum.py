"""torch.einsum, contracted left to right as at::einsum does without opt_einsum: labels, permutes, diagonals,
sums and sumproduct_pair's bmm."""

from __future__ import annotations

import string

from engine import budget as _budget
from engine.errors import TorchRuntimeError, TorchValueError
from engine.ops import pointwise as P
from engine.ops import shape as S
from engine.ops.linalg_products import _reshape, bmm_op
from engine.ops.registry import REGISTRY
from engine.tensor import Tensor

# ----- einsum -----


def _diagonal_ops():
    """diagonal (DiagonalBackward0), the entry join.py registers."""
    return REGISTRY["diagonal"]


_NUM_LETTERS = 26
_TOTAL_LABELS = 52
_ELLIPSIS = 52


def _label_to_subscript(c):
    return ord(c) - ord("A") if c.isupper() else ord(c) - ord("a") + _NUM_LETTERS


def _subscript_to_label(s):
    return chr(s + ord("A")) if s < _NUM_LETTERS else chr(s - _NUM_LETTERS + ord("a"))


def _sumproduct_pair(left, right, sum_dims, keepdim):
    """(left * right).sum(sum_dims) by permutes and one bmm, as at::native::sumproduct_pair."""
    if left.ndim != right.ndim:
        raise TorchRuntimeError("number of dimensions must match")
    if not sum_dims:
        return P.mul(left, right)
    dim = left.ndim
    sum_set = set(sum_dims)
    lro, lo, ro = [], [], []
    lro_size = lo_size = ro_size = sum_size = 1
    for i in range(dim):
        sl = left.shape[i] != 1
        sr = right.shape[i] != 1
        if i in sum_set:
            if sl and sr:
                if left.shape[i] != right.shape[i]:
                    raise TorchRuntimeError("non-broadcast dimensions must match")
                sum_size *= left.shape[i]
            elif sl:
                left = _sum_keep(left, [i])
            elif sr:
                right = _sum_keep(right, [i])
        elif sl and sr:
            if left.shape[i] != right.shape[i]:
                raise TorchRuntimeError("non-broadcast dimensions must match")
            lro.append(i)
            lro_size *= left.shape[i]
        elif sl:
            lo.append(i)
            lo_size *= left.shape[i]
        else:
            ro.append(i)
            ro_size *= right.shape[i]
    out_size = (
        [left.shape[d] for d in lro]
        + [left.shape[d] for d in lo]
        + [1] * len(sum_dims)
        + [right.shape[d] for d in ro]
    )
    lperm = lro + lo + list(sum_dims) + ro
    rperm = lro + list(sum_dims) + ro + lo
    operm = [-1] * len(out_size)
    i = 0
    for group in (lro, lo, list(sum_dims), ro):
        for d in group:
            operm[d] = i
            i += 1
    left = _reshape(S.permute_op(left, dims=lperm), (lro_size, lo_size, sum_size))
    right = _reshape(S.permute_op(right, dims=rperm), (lro_size, sum_size, ro_size))
    result = bmm_op(left, right)
    result = S.permute_op(S.view_op(result, size=out_size), dims=operm)
    if not keepdim:
        sizes = [s for k, s in enumerate(result.shape) if k not in sum_set]
        result = S.view_op(result, size=sizes)
    return result


def _sum_keep(t, dims):
    from engine.ops.reduction import sum_dim  # noqa: PLC0415

    return sum_dim(t, dim=list(dims), keepdim=True)


def _einsum(equation, operands):
    if not operands:
        raise TorchRuntimeError("einsum(): must provide at least one operand")
    num_ops = len(operands)
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]

    op_labels = [[] for _ in range(num_ops)]
    ell_in_input = False
    curr = 0
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == " ":
            pass
        elif c == ".":
            if ell_in_input:
                raise TorchRuntimeError(
                    f"einsum(): found '.' for operand {curr} for which an ellipsis was already found"
                )
            if not (i + 2 < len(lhs) and lhs[i + 1] == "." and lhs[i + 2] == "."):
                raise TorchRuntimeError(
                    f"einsum(): found '.' for operand {curr} that is not part of any ellipsis"
                )
            i += 2
            op_labels[curr].append(_ELLIPSIS)
            ell_in_input = True
        elif c == ",":
            curr += 1
            if curr >= num_ops:
                raise TorchRuntimeError(
                    "einsum(): fewer operands were provided than specified in the equation"
                )
            ell_in_input = False
        else:
            if c not in string.ascii_letters:
                raise TorchRuntimeError(
                    f"einsum(): invalid subscript given at index {i} in the equation string, subscripts must "
                    "be "
                    "in [a-zA-Z]"
                )
            op_labels[curr].append(_label_to_subscript(c))
        i += 1
    if curr != num_ops - 1:
        raise TorchRuntimeError("einsum(): more operands were provided than specified in the equation")

    label_count = [0] * _TOTAL_LABELS
    ell_num_dim = 0
    for k, op in enumerate(operands):
        labels = op_labels[k]
        ndims = op.ndim
        nlabels = len(labels)
        has_ell = False
        for lab in labels:
            if lab == _ELLIPSIS:
                nlabels -= 1
                has_ell = True
                ell_num_dim = max(ell_num_dim, ndims - nlabels)
            else:
                label_count[lab] += 1
        if not (nlabels <= ndims if has_ell else nlabels == ndims):
            raise TorchRuntimeError(
                f"einsum(): the number of subscripts in the equation ({nlabels}) "
                + (
                    "is more than the number of dimensions ("
                    if has_ell
                    else "does not match the number of dimensions ("
                )
                + f"{ndims}) for operand {k}"
                + ("" if has_ell else " and no ellipsis was given")
            )

    label_perm_index = [-1] * _TOTAL_LABELS
    perm_index = 0
    ell_index = 0
    ell_in_output = False
    if arrow < 0:
        perm_index = ell_num_dim
        ell_in_output = True
        for lab in range(_TOTAL_LABELS):
            if label_count[lab] == 1:
                label_perm_index[lab] = perm_index
                perm_index += 1
    else:
        rhs = equation[arrow + 2 :]
        i = 0
        while i < len(rhs):
            c = rhs[i]
            if c == " ":
                pass
            elif c == ".":
                if ell_in_output:
                    raise TorchRuntimeError(
                        "einsum(): found '.' for output but an ellipsis (...) was already found"
                    )
                if not (i + 2 < len(rhs) and rhs[i + 1] == "." and rhs[i + 2] == "."):
                    raise TorchRuntimeError(
                        "einsum(): found '.' for output that is not part of any ellipsis (...)"
                    )
                i += 2
                ell_index = perm_index
                perm_index += ell_num_dim
                ell_in_output = True
            else:
                if c not in string.ascii_letters:
                    raise TorchRuntimeError(
                        f"einsum(): invalid subscript given at index {len(lhs) + 2 + i} in the equation "
                        "string, "
                        "subscripts must be in [a-zA-Z]"
                    )
                idx = _label_to_subscript(c)
                if not (label_count[idx] > 0 and label_perm_index[idx] == -1):
                    raise TorchRuntimeError(
                        f"einsum(): output subscript {c}"
                        + (
                            " appears more than once in the output"
                            if label_perm_index[idx] > -1
                            else " does not appear in the equation for any input operand"
                        )
                    )
                label_perm_index[idx] = perm_index
                perm_index += 1
            i += 1

    out_num_dim = perm_index
    if not ell_in_output:
        ell_index = perm_index
        perm_index += ell_num_dim
    for lab in range(_TOTAL_LABELS):
        if label_count[lab] > 0 and label_perm_index[lab] == -1:
            label_perm_index[lab] = perm_index
            perm_index += 1

    label_size = [1] * _TOTAL_LABELS
    ell_sizes = [1] * ell_num_dim
    dim_counts = [0] * perm_index
    ops = []
    for k in range(num_ops):
        op = operands[k]
        permutation = [-1] * perm_index
        dim = 0
        for s in op_labels[k]:
            if s == _ELLIPSIS:
                ndim = operands[k].ndim - (len(op_labels[k]) - 1)
                for j in range(ell_num_dim - ndim, ell_num_dim):
                    if op.shape[dim] != 1:
                        if not (ell_sizes[j] == 1 or ell_sizes[j] == op.shape[dim]):
                            raise TorchRuntimeError(
                                f"einsum(): dimension {dim} covered by ellipsis in operand {k}has size "
                                f"{op.shape[dim]} which does not broadcast with previously seen ellipsis "
                                "with size "
                                f"{ell_sizes[j]} for the respective dimension"
                            )
                        ell_sizes[j] = op.shape[dim]
                        dim_counts[ell_index + j] += 1
                    permutation[ell_index + j] = dim
                    dim += 1
            elif permutation[label_perm_index[s]] == -1:
                if op.shape[dim] != 1:
                    if not (label_size[s] == 1 or label_size[s] == op.shape[dim]):
                        raise TorchRuntimeError(
                            f"einsum(): subscript {_subscript_to_label(s)} has size {op.shape[dim]} for "
                            f"operand {k} "
                            f"which does not broadcast with previously seen size {label_size[s]}"
                        )
                    label_size[s] = op.shape[dim]
                    dim_counts[label_perm_index[s]] += 1
                permutation[label_perm_index[s]] = dim
                dim += 1
            else:
                prev_dim = permutation[label_perm_index[s]]
                if op.shape[dim] != op.shape[prev_dim]:
                    raise TorchRuntimeError(
                        f"einsum(): subscript {_subscript_to_label(s)} is repeated for operand {k} but the "
                        "sizes "
                        f"don't match, {op.shape[dim]} != {op.shape[prev_dim]}"
                    )
                op = _movedim_last(_diagonal_ops()(op, 0, prev_dim, dim), prev_dim)
        for idx, val in enumerate(permutation):
            if val == -1:
                op = S.unsqueeze(op, dim)
                permutation[idx] = dim
                dim += 1
        ops.append(S.permute_op(op, dims=permutation))

    while len(ops) > 1:
        _budget.check()
        a, b = ops[0], ops[1]
        del ops[:2]
        sum_dims = []
        a_dims_to_sum = []
        b_dims_to_sum = []
        for dim in range(out_num_dim, perm_index):
            if a.shape[dim] != 1 and b.shape[dim] != 1:
                dim_counts[dim] -= 1
                if dim_counts[dim] == 1:
                    sum_dims.append(dim)
                    dim_counts[dim] = 0
            elif dim_counts[dim] == 1:
                if a.shape[dim] != 1:
                    a_dims_to_sum.append(dim)
                    dim_counts[dim] = 0
                elif b.shape[dim] != 1:
                    b_dims_to_sum.append(dim)
                    dim_counts[dim] = 0
        if a_dims_to_sum:
            a = _sum_keep(a, a_dims_to_sum)
        if b_dims_to_sum:
            b = _sum_keep(b, b_dims_to_sum)
        ops.insert(0, _sumproduct_pair(a, b, sum_dims, True))

    if perm_index - out_num_dim > 0:
        if num_ops > 1:
            sizes = list(ops[0].shape)
            for dim in range(perm_index - 1, out_num_dim - 1, -1):
                del sizes[dim]
            return S.view_op(ops[0], size=sizes)
        from engine.ops.reduction import sum_dim  # noqa: PLC0415

        return sum_dim(ops[0], dim=list(range(out_num_dim, perm_index)), keepdim=False)
    return ops[0]


def _movedim_last(t, dst):
    """t.movedim(-1, dst): torch implements movedim as a permute (recorded even when it is the identity)."""
    n = t.ndim
    src = n - 1
    order = [d for d in range(n) if d != src]
    order.insert(dst, src)
    return S.permute_op(t, dims=order)


def einsum(equation: str, *operands: Tensor) -> Tensor:
    """torch.einsum(equation, *operands) (or a list of operands), contracted left to right as torch does
    without opt_einsum."""
    if len(operands) < 1 or not isinstance(equation, str):
        raise TorchValueError(
            "einsum(): must specify the equation string and at least one operand, or at least one operand "
            "and "
            "its subscripts list"
        )
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        return einsum(equation, *operands[0])
    return _einsum(equation, list(operands))


