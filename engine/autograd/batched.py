"""Backward over a batch of gradients (autograd.grad's is_grads_batched): one pass, each node on all rows at once.

Every gradient in the pass carries a leading batch dimension B. A node whose entry has a batch rule below
runs its formula once on the batched gradient (elementwise formulas broadcast as written; reductions, views,
transposes and matrix products have their dims shifted past the batch); any other node (a custom node, a
joint formula, an op without a rule) runs once per row and its rows are stacked, as torch's vmap falls back
for operators without a batching rule. Either way the values are the unbatched pass's, row by row.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.autograd import (
    AccumulateGrad,
    _add,
    _has_needed_child,
    _needed_nodes,
    _release_children,
    check_implicit,
    dependencies,
    edge_of,
    grad_accumulator,
    grad_mode,
    root_buffers,
)
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError, TorchValueError, shape_str
from engine.ops._util import wrap_dim, wrap_dims

BATCH_MISMATCH = (
    "If `is_grads_batched=True`, we interpret the first dimension of each grad_output as the batch "
    "dimension. The sizes of the remaining dimensions are expected to match the shape of corresponding "
    "output, but a mismatch was detected: grad_output[{i}] has a shape of {g} and output[{i}] has a shape "
    "of {o}. If you only want some tensors in `grad_output` to be considered batched, consider using vmap."
)


def _tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


# ----- the roots: torch.autograd's _make_grads with is_grads_batched, then vmap's batch-size check -----


def _batched_roots(tensors, grad_tensors):
    Tensor = _tensor()
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if isinstance(g, Tensor):
            if g.ndim == 0:
                raise TorchIndexError(
                    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
                    "C++ to convert a 0-dim tensor to a number"
                )
            if g.shape[0] == 0:
                raise TorchIndexError("index 0 is out of bounds for dimension 0 with size 0")
            if tuple(g.shape[1:]) != tuple(t.shape):
                # torch prints the shape of grad[0] less its first dim (its _calculate_shape gets grad[0])
                raise TorchRuntimeError(BATCH_MISMATCH.format(i=i, g=shape_str(g.shape[2:]), o=shape_str(t.shape)))
            if g.dtype is not t.dtype and t.dtype.is_floating_point:
                g = g.to(t.dtype)  # the engine's validate_outputs on the root gradients, as torch's
        elif g is None:
            if t.requires_grad:
                check_implicit(t)
                # torch makes ones_like(output) and vmaps over its dim 0: a 0-d one cannot be batched
                if t.ndim == 0:
                    raise TorchValueError(
                        "vmap(vjp, in_dims=0, ...)(<inputs>): Got in_dim=0 for some input, but that input is a "
                        "Tensor of dimensionality 0 so expected in_dim to satisfy 0 <= in_dim < 0."
                    )
                raise TorchRuntimeError(BATCH_MISMATCH.format(i=i, g=shape_str(t.shape[1:]), o=shape_str(t.shape)))
        else:
            raise TorchTypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        grads.append(g)
    if len(grads) != len(tensors):
        raise TorchRuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")
    sizes = [g.shape[0] for g in grads if g is not None]
    if any(s != sizes[0] for s in sizes):
        raise TorchValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
            f"{sizes} for the mapped dimension"
        )
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        if not t.requires_grad:
            raise TorchRuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append((edge_of(t), g))
    return roots, sizes[0]


# ----- the pass -----


def run_backward_batched(tensors, grad_tensors, retain_graph, create_graph, inputs, allow_unused=False):
    """autograd.grad(..., is_grads_batched=True): the gradient of each input, with the batch dim in front."""
    Tensor = _tensor()
    if retain_graph is None:
        retain_graph = create_graph
    roots, bsz = _batched_roots(tensors, grad_tensors)
    if not create_graph:
        roots = [(e, _detached(g)) for e, g in roots]

    captures = {}
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TorchTypeError(f"expected Tensor as element {k} in argument 1, but got {type(x).__name__}")
        if not x.requires_grad:
            raise TorchRuntimeError("One of the differentiated Tensors does not require grad")
        key = (x.grad_fn, x._output_nr) if x.grad_fn is not None else (grad_accumulator(x), 0)
        captures.setdefault(key, []).append(k)
    capture_nodes = {id(node) for node, _ in captures}

    root_nodes = {id(e[0][0]): e[0][0] for e in roots if e[0][0] is not None}
    deps, order = dependencies(root_nodes.values())
    needed = _needed_nodes(order, capture_nodes)

    buffers = root_buffers(roots)

    results = [None] * len(inputs)
    ready = []
    tie = itertools.count()
    for node in root_nodes.values():
        if deps[node] == 0:
            heapq.heappush(ready, (-node._seq, next(tie), node))

    prev_mode = grad_mode.enabled
    grad_mode.enabled = create_graph
    try:
        while ready:
            budget.check()
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node.num_outputs
            if node._hooks is not None and (node._hooks.tensor_pre or node._hooks.pre):
                grads = _hooked_rows(node, grads, bsz, create_graph)
            for nr in range(node.num_outputs):
                for k in captures.get((node, nr), ()):
                    results[k] = grads[nr]
            if id(node) not in needed or (id(node) in capture_nodes and not _has_needed_child(node, needed)):
                _release_children(node, deps, ready, tie, needed)
                if not retain_graph:
                    node.release()
                continue
            if type(node) is AccumulateGrad:
                continue
            if all(g is None for g in grads):
                out = [None] * len(node.next_functions)
            else:
                out = apply_batched(node, grads, bsz, create_graph)
            if not retain_graph:
                node.release()
            for (nxt, nr), g in zip(node.next_functions, out):
                if nxt is None:
                    continue
                if g is not None and id(nxt) in needed:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt.num_outputs
                    buf[nr] = g if buf[nr] is None else _add(buf[nr], g)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    heapq.heappush(ready, (-nxt._seq, next(tie), nxt))
    finally:
        grad_mode.enabled = prev_mode

    for k, r in enumerate(results):
        if r is None and not allow_unused:
            raise TorchRuntimeError(
                f"The differentiated Tensor at index {k} appears to not have been used in the graph. "
                "Set allow_unused=True if this is the desired behavior."
            )
        if r is not None and not create_graph:  # (a gradient taken under a dual level keeps its tangent, as torch's)
            results[k] = _detached(r)
    return results


def apply_batched(node, grads, bsz, create_graph):
    """The node's input gradients for batched output gradients: its batch rule, or one run per row."""
    op = getattr(type(node), "op", None)
    hk = node._hooks
    rule = RULES.get(op.qualname) if op is not None and not (hk is not None and hk.post) else None
    if rule is not None:
        g = grads[0]
        out = rule(node, g, bsz, create_graph)
        if out is not None:
            diff = op.diff_index
            return out if diff is None else [out[i] for i in diff]
    return _per_row(node, grads, bsz, create_graph)


# ----- rows: the fall-back, and hooks (a hook sees one row's gradient, as under torch's vmap) -----


def _detached(g):
    """g detached, keeping its tangent under a dual level (torch never detaches a gradient: forward-over-reverse)."""
    from engine import autograd as A  # noqa: PLC0415

    return g.detach() if not A._fw_levels else A._keep_tangent(g.detach(), g)


def _graphed(create_graph, *ts):
    """Whether a step must run as engine ops: it records (create_graph and an operand requires grad), or a dual
    level is entered, where an operand's tangent must propagate (forward-over-reverse)."""
    from engine import autograd as A  # noqa: PLC0415

    return bool(A._fw_levels) or (create_graph and any(t is not None and t.requires_grad for t in ts))


def _row(g, b, create_graph):
    if g is None:
        return None
    if _graphed(create_graph, g):
        return g[b]
    return _tensor()._make(g._data[b])


def _stack_rows(rows, create_graph):
    """One batched gradient from per-row ones (None where no row has one; zeros fill a row that has none)."""
    present = [r for r in rows if r is not None]
    if not present:
        return None
    Tensor = _tensor()
    if len(present) != len(rows):
        like = present[0]
        rows = [r if r is not None else Tensor._make(B.xp.zeros(like._data.shape, like._data.dtype)) for r in rows]
    if _graphed(create_graph, *rows):
        from engine.ops.join import stack  # noqa: PLC0415

        return stack(rows, 0)
    budget.charge(sum(r._data.size for r in rows), rows[0]._data.dtype.itemsize, what="a batched gradient")
    return Tensor._make(B.xp.stack([r._data for r in rows]))


def _per_row(node, grads, bsz, create_graph):
    outs = []
    for b in range(bsz):
        budget.check()
        row = [_row(g, b, create_graph) for g in grads]
        if all(g is None for g in row):
            out = [None] * len(node.next_functions)
        else:
            out = node.apply(row, create_graph)
        hk = node._hooks
        if hk is not None and hk.post:
            out = hk.after(out, row)
        outs.append(out)
    return [_stack_rows([o[i] for o in outs], create_graph) for i in range(len(node.next_functions))]


def _hooked_rows(node, grads, bsz, create_graph):
    rows = []
    for b in range(bsz):
        row = [_row(g, b, create_graph) for g in grads]
        rows.append(node._hooks.before(row, create_graph, retain=False))
    return [_stack_rows([r[i] for r in rows], create_graph) for i in range(len(grads))]


# ----- batch rules: (node, batched grad, B, create_graph) -> one gradient per tensor input, or None to
# fall back to rows. They use the engine's differentiable ops, so create_graph works through them. -----


def _conform(g, meta, bsz):
    """validate_outputs for a batched gradient: sum broadcast dims down to (B, *input shape), cast the dtype.
    None where the formula's result does not carry the batch in front (the caller falls back to rows)."""
    Tensor = _tensor()
    shape, dt = meta
    if not isinstance(g, Tensor):
        budget.charge(bsz * _numel(shape), np.dtype(dt).itemsize, what="a batched gradient")
        return Tensor._make(B.xp.full((bsz,) + tuple(shape), g, dtype=dt))
    gs = g._data.shape
    if len(gs) < 1 + len(shape) or gs[0] != bsz:
        return None
    if gs[1:] != tuple(shape):
        from engine.ops.reduction import sum_dim  # noqa: PLC0415

        lead = len(gs) - 1 - len(shape)
        if lead:
            g = sum_dim(g, dim=list(range(1, 1 + lead)), keepdim=False)
        dims = [i + 1 for i, s in enumerate(shape) if s == 1 and g._data.shape[i + 1] != 1]
        if dims:
            g = sum_dim(g, dim=dims, keepdim=True)
        if g._data.shape[1:] != tuple(shape):
            return None
    if g._data.dtype != dt:
        g = g.to(D.FROM_NP[dt])
    return g


def _numel(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _finish(node, out, bsz):
    needs, meta = node._needs, node._in_meta
    res = []
    for i, gi in enumerate(out):
        if gi is None or not needs[i]:
            res.append(None)
            continue
        c = _conform(gi, meta[i], bsz)
        if c is None:
            return None
        res.append(c)
    return res


def _elementwise(node, g, bsz, create_graph):
    """Formulas that only combine grad elementwise with saved tensors broadcast over a leading batch dim
    exactly as written (right-aligned broadcasting); _conform then sums the broadcast dims per row."""
    op, needs = node.op, node._needs
    out = [None] * len(needs)
    for f in op.formulas:
        if len(f.inputs) != 1:
            return None
        i = f.inputs[0]
        if needs[i]:
            out[i] = f.fn(g, *[node._resolve(n) for n in f.argnames])
    return _finish(node, out, bsz)


def _shape(node, i=0):
    return tuple(node._in_meta[i][0])


def _reshape_back(node, g, bsz, create_graph):
    """view, _unsafe_view, _reshape_alias, squeeze, unsqueeze: the gradient is the grad reshaped."""
    return _finish(node, [g.reshape((bsz,) + _shape(node))], bsz)


def _expand_back(node, g, bsz, create_graph):
    return _finish(node, [g], bsz)  # _conform sums the expanded dims


def _t_back(node, g, bsz, create_graph):
    return _finish(node, [g.transpose(1, 2) if len(_shape(node)) == 2 else g], bsz)


def _transpose_back(node, g, bsz, create_graph):
    n = len(_shape(node))
    if n == 0:
        return _finish(node, [g], bsz)
    d0 = wrap_dim(node._resolve("dim0"), n)
    d1 = wrap_dim(node._resolve("dim1"), n)
    return _finish(node, [g.transpose(d0 + 1, d1 + 1)], bsz)


def _permute_back(node, g, bsz, create_graph):
    n = len(_shape(node))
    dims = [d % max(n, 1) for d in node._resolve("dims")]
    inv = [0] * n
    for i, d in enumerate(dims):
        inv[d] = i
    return _finish(node, [g.permute([0] + [d + 1 for d in inv])], bsz)


def _reduced_back(node, g, bsz, dim, keepdim):
    shape = _shape(node)
    n = len(shape)
    if n == 0:
        return g
    if not keepdim and g.ndim - 1 != n:
        dims = wrap_dims(dim, n) if dim is not None and dim != [] and dim != () else range(n)
        for d in sorted(dims):
            g = g.unsqueeze(d + 1)
    return g.expand((bsz,) + shape)


def _sum_back(node, g, bsz, create_graph):
    return _finish(node, [_reduced_back(node, g, bsz, None, False)], bsz)


def _sum_dim_back(node, g, bsz, create_graph):
    return _finish(node, [_reduced_back(node, g, bsz, node._resolve("dim"), node._resolve("keepdim"))], bsz)


def _mean_back(node, g, bsz, create_graph):
    from engine.ops.reduction import _numel_reduced  # noqa: PLC0415

    return _finish(node, [_reduced_back(node, g, bsz, None, False) / _numel_reduced(_shape(node), None)], bsz)


def _mean_dim_back(node, g, bsz, create_graph):
    from engine.ops.reduction import _numel_reduced  # noqa: PLC0415

    dim = node._resolve("dim")
    e = _reduced_back(node, g, bsz, dim, node._resolve("keepdim"))
    return _finish(node, [e / _numel_reduced(_shape(node), dim)], bsz)


def _rows_mm(a, b, create_graph):
    """(B, n, k) @ (k, m) as B products of the same (n, k) @ (k, m): each row's sums in the order an
    unbatched mm adds them (the engine's k-order loop for small products, else BLAS per row)."""
    Tensor = _tensor()
    from engine.ops import linalg as L  # noqa: PLC0415

    if _graphed(create_graph, a, b):
        return L.matmul(a, b)  # torch's vmap runs at::matmul here: the same nodes (_unsafe_view over mm)
    ad, bd = a._data, b._data
    k = ad.shape[-1]
    budget.charge(ad.shape[0] * ad.shape[1] * bd.shape[-1], ad.dtype.itemsize, 2.0 * ad.size * bd.shape[-1],
                  what="a batched mm")
    if (ad.dtype.kind == "f" and ad.dtype.itemsize >= 4 and 0 < k <= L._SEQ_MAX_K
            and ad.shape[1] * k * bd.shape[-1] <= L._SEQ_MAX_WORK):
        out = 0.0 + ad[..., :, 0:1] * bd[..., 0:1, :]
        for i in range(1, k):
            out += ad[..., :, i:i + 1] * bd[..., i:i + 1, :]
        return Tensor._make(out)
    out = B.xp.matmul(ad, bd)
    out += 0.0
    return Tensor._make(out)


def _mm_pair(node, g, bsz, create_graph, alpha, first="self", second="mat2"):
    """Gradients of a product first @ second for a batched grad: grad @ second^T and first^T @ grad."""
    needs = node._needs
    i1, i2 = node.op.tensor_index[first], node.op.tensor_index[second]
    out = {}
    if needs[i1]:
        m2 = node._resolve(second)
        r = _rows_mm(g, m2.t(), create_graph)
        out[i1] = r if alpha == 1 else r * alpha
    if needs[i2]:
        m1 = node._resolve(first)
        if _graphed(create_graph, g, m1):
            from engine.ops.linalg import matmul  # noqa: PLC0415

            r = matmul(m1.t(), g)
        else:
            # first^T @ grad row by row = (grad^T @ first)^T row by row: the same products, summed over n
            r = _rows_mm(g.transpose(1, 2), m1, create_graph).transpose(1, 2)
        out[i2] = r if alpha == 1 else r * alpha
    return out


def _mm_back(node, g, bsz, create_graph):
    if g.ndim != 3:
        return None
    out = _mm_pair(node, g, bsz, create_graph, 1)
    return _finish(node, [out.get(0), out.get(1)], bsz)


def _addmm_back(node, g, bsz, create_graph):
    if g.ndim != 3:
        return None
    beta, alpha = node._resolve("beta"), node._resolve("alpha")
    out = _mm_pair(node, g, bsz, create_graph, alpha, "mat1", "mat2")
    res = [None, out.get(1), out.get(2)]
    if node._needs[0]:
        res[0] = g if beta == 1 else g * beta
    return _finish(node, res, bsz)


def _dot_back(node, g, bsz, create_graph):
    needs = node._needs
    col = g.reshape(bsz, 1)
    out = [col * node._resolve("tensor") if needs[0] else None, col * node._resolve("self") if needs[1] else None]
    return _finish(node, out, bsz)


def _select_back(node, g, bsz, create_graph):
    from engine.ops.indexing import select_backward_op  # noqa: PLC0415

    shape = _shape(node)
    d = wrap_dim(node._resolve("dim"), len(shape))
    return _finish(node, [select_backward_op(g, (bsz,) + shape, d + 1, node._resolve("index"))], bsz)


def _slice_back(node, g, bsz, create_graph):
    from engine.ops.indexing import slice_backward_op  # noqa: PLC0415

    shape = _shape(node)
    d = wrap_dim(node._resolve("dim"), len(shape))
    r = [node._resolve(n) for n in ("start", "end", "step")]
    return _finish(node, [slice_backward_op(g, (bsz,) + shape, d + 1, *r)], bsz)


def _softmax_back(node, g, bsz, create_graph):
    """softmax / log_softmax: their backward entries with the dim shifted past the batch (the saved output
    broadcasts against the batched grad)."""
    from engine.ops import nn_functional as NF  # noqa: PLC0415

    n = len(_shape(node))
    entry = NF.softmax_backward_data if node.op.qualname == "_softmax" else NF.log_softmax_backward_data
    result = node._resolve("result")
    if n == 0:  # a 0-d softmax is over one element: each row alone, as (B, 1) over dim 1
        return _finish(node, [entry(g.reshape(bsz, 1), result.reshape(1), 1, None).reshape(bsz)], bsz)
    return _finish(node, [entry(g, result, wrap_dim(node._resolve("dim"), n) + 1, None)], bsz)


def _stack_back(node, g, bsz, create_graph):
    """stack (every arity): the batched grad unbound along the stacked dim, shifted past the batch."""
    from engine.ops.join import unbind  # noqa: PLC0415

    n = len(_shape(node))
    parts = unbind(g, wrap_dim(node._resolve("dim"), n + 1) + 1)
    return _finish(node, [p if need else None for p, need in zip(parts, node._needs)], bsz)


def _cat_back(node, g, bsz, create_graph):
    """cat (every arity): each input's stretch of the batched grad along the cat dim, shifted past the batch
    (torch's legacy empty (0,) inputs get (B, 0) zeros)."""
    from engine.ops.join import _cat_dim, _legacy_empty, narrow  # noqa: PLC0415

    shapes = [tuple(m[0]) for m in node._in_meta]
    d = _cat_dim(shapes, node._resolve("dim"))
    out, offset = [], 0
    for shape, need in zip(shapes, node._needs):
        if _legacy_empty(shape):
            out.append(_tensor()._make(B.xp.zeros((bsz, 0), dtype=g._data.dtype)) if need else None)
            continue
        out.append(narrow(g, d + 1, offset, shape[d]) if need else None)
        offset += shape[d]
    return _finish(node, out, bsz)


# Entries (by aten qualname) whose every formula is elementwise in grad: grad combined with saved tensors,
# results and scalars by broadcasting operations only (no dims, no shapes, no reductions).
ELEMENTWISE = (
    "add.Tensor sub.Tensor mul.Tensor div.Tensor div.Tensor_mode rsub.Tensor rsub.Scalar pow.Tensor_Scalar "
    "pow.Tensor_Tensor pow.Scalar neg reciprocal abs sgn sign maximum minimum clamp clamp.Tensor where.self "
    "fmod.Tensor fmod.Scalar remainder.Tensor remainder.Scalar floor ceil trunc round round.decimals "
    "lerp.Scalar lerp.Tensor hypot atan2 logaddexp exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan "
    "asin acos atan sinh cosh tanh asinh acosh atanh sigmoid logit erf erfc _to_copy clone alias "
    "mul.Scalar_nn div.Scalar_nn add.Scalar_nn clamp_min.nn xlogy.Tensor_nn relu hardtanh leaky_relu elu "
    "celu gelu silu softplus mish hardsigmoid hardswish log_sigmoid_forward threshold hardshrink softshrink "
    "masked_fill.Scalar masked_fill.Scalar_nn"
).split()

RULES = dict.fromkeys(ELEMENTWISE, _elementwise)
RULES.update({
    "view": _reshape_back, "_unsafe_view": _reshape_back, "_reshape_alias": _reshape_back,
    "squeeze": _reshape_back, "squeeze.dim": _reshape_back, "squeeze.dims": _reshape_back,
    "squeeze_.dim": _reshape_back, "unsqueeze": _reshape_back,
    "expand": _expand_back, "t": _t_back, "transpose.int": _transpose_back, "permute": _permute_back,
    "sum": _sum_back, "sum.dim_IntList": _sum_dim_back, "mean": _mean_back, "mean.dim": _mean_dim_back,
    "mm": _mm_back, "addmm": _addmm_back, "dot": _dot_back,
    "select.int": _select_back, "slice.Tensor": _slice_back,
    "_softmax": _softmax_back, "_log_softmax": _softmax_back,
    "stack": _stack_back, "cat": _cat_back,
})
