"""torch.func for the engine: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian and vmap, as torch 2.13.

The engine has no functorch levels: a transform makes fresh differentiable aliases of the arguments it
differentiates (a view of a tensor that already requires grad, so an outer transform's graph continues
through it; a detached leaf otherwise), differentiates with create_graph=True, and hands back results that
keep a graph only where they depend on tensors from outside the transform (as functorch unwraps them).
vmap (engine._vmap, re-exported here) runs the function once per row and stacks (its values and errors are
torch's; it is no faster than a loop); jacrev's rows are one batched backward pass (autograd.grad's
is_grads_batched). hessian is jacfwd(jacrev(f)), forward-over-reverse as torch's; jvp and jacfwd push their
tangents through one dual level of the thread (engine.autograd.forward_ad), jacfwd's whole basis at once as a
batched level.
"""
from __future__ import annotations

import functools
import threading

from engine import budget
from engine._pytree import tree_flatten, tree_unflatten, treespec_pprint
from engine._vmap import _check_randomness_arg, vmap  # moved to engine._vmap, re-exported
from engine.autograd import AccumulateGrad, enable_grad, grad_mode
from engine.autograd import grad as _grad
from engine.errors import TorchRuntimeError, TorchValueError

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"]


def _Tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


# ----- grad, grad_and_value, vjp -----


def _create_differentiable(x):
    """A fresh alias of x to differentiate with respect to: a view where x already requires grad (an outer
    transform's graph continues through it), else a detached leaf that requires grad."""
    if not isinstance(x, _Tensor()):
        raise TorchValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    if x.requires_grad:
        return x.view_as(x)
    d = _detached(x).requires_grad_()
    for made in _made.stack:  # an enclosing jacfwd counts it as its own (see _collecting)
        made.add(id(d))
    return d


class _Made(threading.local):
    stack = ()


_made = _Made()


class _collecting:  # noqa: N801
    """The ids of the leaves the transforms inside make while it is open: what an enclosing jacfwd's tangents
    may depend on without keeping a graph (functorch unwraps them)."""

    def __enter__(self):
        self.ids = set()
        _made.stack = (*_made.stack, self.ids)
        return self.ids

    def __exit__(self, *exc):
        _made.stack = _made.stack[:-1]
        return False


def _detached(x):
    """x.detach(), keeping x's tangent where a dual level gave it one (an outer jacfwd's: its tangents pass
    through the inner transforms, as functorch's levels let them)."""
    from engine.autograd import forward_ad as fwAD  # noqa: PLC0415

    d = x.detach()
    t = fwAD.tangent_of(x)
    if t is not None:
        fwAD.set_tangent(d, t)
    return d


def _validate_and_wrap_argnum(argnum, num_args):
    if not isinstance(argnum, int):
        raise TorchRuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise TorchRuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _slice_argnums(args, argnums, as_tuple=True):
    if not isinstance(argnums, int) and not isinstance(argnums, tuple):
        raise TorchRuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if isinstance(argnums, int):
        argnums = _validate_and_wrap_argnum(argnums, len(args))
        return (args[argnums],) if as_tuple else args[argnums]
    argnums = tuple(_validate_and_wrap_argnum(a, len(args)) for a in argnums)
    if len(argnums) == 0:
        raise TorchRuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise TorchRuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(args[i] for i in argnums)


def _differentiable_args(args, argnums):
    """args with the differentiated ones (argnums; None: all) replaced by fresh aliases, and those aliases
    as the tree they form (an int argnums: the argument itself)."""
    args = tuple(args)
    if argnums is None:
        leaves, spec = tree_flatten(args)
        new = tree_unflatten([_create_differentiable(x) for x in leaves], spec)
        return new, new
    _slice_argnums(args, argnums)  # validates
    nums = (argnums,) if isinstance(argnums, int) else argnums
    nums = tuple(a % len(args) for a in nums)
    new = list(args)
    for i in nums:
        leaves, spec = tree_flatten(args[i])
        new[i] = tree_unflatten([_create_differentiable(x) for x in leaves], spec)
    new = tuple(new)
    return new, _slice_argnums(new, argnums, as_tuple=False)


def _inner_leaves(diff_tree):
    return {id(x) for x in tree_flatten(diff_tree)[0] if isinstance(x, _Tensor()) and x.is_leaf}


def _reaches_outside(t, inner):
    """Whether t's graph reaches a leaf other than the transform's own aliases (so it must keep its graph)."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            if id(node.variable) not in inner:
                return True
            continue
        stack.extend(n for n, _ in node.next_functions)
    return False


def _unwrap(tree, inner):
    """What leaves the transform: each tensor detached unless it depends on something from outside."""
    Tensor = _Tensor()

    def one(x):
        if isinstance(x, Tensor) and x.requires_grad and (x.grad_fn is None or not _reaches_outside(x, inner)):
            return _detached(x)
        return x

    leaves, spec = tree_flatten(tree)
    return tree_unflatten([one(x) for x in leaves], spec)


def _autograd_grad(outputs, inputs, grad_outputs=None, retain_graph=False, create_graph=True,
                   is_grads_batched=False):
    """functorch's: outputs that do not require grad are dropped, unused inputs get zeros."""
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    if grad_outputs is None:
        diff_outputs = tuple(out for out in outputs if out.requires_grad)
    else:
        result = tuple((out, go) for out, go in zip(outputs, grad_outputs) if out.requires_grad)
        diff_outputs, grad_outputs = (tuple(zip(*result)) if result else ((), ()))
    if len(diff_outputs) == 0:
        return tuple(zeros_like(inp) for inp in inputs)
    grad_inputs = _grad(diff_outputs, inputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                        allow_unused=True, is_grads_batched=is_grads_batched)
    return tuple(zeros_like(inp) if gi is None else gi for gi, inp in zip(grad_inputs, inputs))


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func w.r.t. the argnums arguments, func's value)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with enable_grad():
            args, diff_args = _differentiable_args(args, argnums)
            inner = _inner_leaves(diff_args)
            output = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise TorchRuntimeError(
                        "grad_and_value(f)(*args): output of function f should be a tuple: (output, aux) "
                        "if has_aux is True"
                    )
                output, aux = output
            if not isinstance(output, _Tensor()):
                raise TorchRuntimeError(
                    f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(output)}")
            if output.dim() != 0:
                raise TorchRuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{output.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            flat_diff_args, spec = tree_flatten(diff_args)
            # one graph for every level (functorch keeps one per level): retained, for an outer transform
            flat_grad_input = _autograd_grad((output,), flat_diff_args, retain_graph=True, create_graph=True)
            grad_input = _unwrap(tree_unflatten(list(flat_grad_input), spec), inner)
            output = _unwrap(output, inner)
            if has_aux:
                return grad_input, (output, _unwrap(aux, inner))
            return grad_input, output

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of (scalar) func w.r.t. its argnums arguments (and aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) is the vector-Jacobian product at primals."""
    return _vjp_with_argnums(func, *primals, has_aux=has_aux)


def _vjp_with_argnums(func, *primals, argnums=None, has_aux=False):
    with enable_grad():
        primals, diff_primals = _differentiable_args(primals, argnums)
        inner = _inner_leaves(diff_primals)
        primals_out = func(*primals)
        aux = None
        if has_aux:
            if not (isinstance(primals_out, tuple) and len(primals_out) == 2):
                raise TorchRuntimeError(
                    "vjp(f, *primals): output of function f should be a tuple: (output, aux) if has_aux is True")
            primals_out, aux = primals_out
            aux = _unwrap(aux, inner)
        flat_primals_out, primals_out_spec = tree_flatten(primals_out)
        if (len(flat_primals_out) == 1 and flat_primals_out[0] is None) or len(flat_primals_out) < 1:
            raise TorchRuntimeError(
                f"vjp(f, *primals): Expected f to be a function that has non-empty output (got output = "
                f"{flat_primals_out})"
            )
        for o in flat_primals_out:
            if not isinstance(o, _Tensor()):
                raise TorchRuntimeError(
                    f"vjp(f, *primals): expected f(*primals) to return only tensors, got unsupported type {type(o)}")
        flat_diff_primals, primals_spec = tree_flatten(diff_primals)
        results = _unwrap(primals_out, inner)
        for primal_out in flat_primals_out:
            if not primal_out.is_floating_point():
                raise TorchRuntimeError(
                    "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got Tensor "
                    f"with dtype {primal_out.dtype}"
                )

    def wrapper(cotangents, retain_graph=True, create_graph=None, _batched=False):
        if create_graph is None:
            create_graph = grad_mode.enabled
        flat_cotangents, cotangents_spec = tree_flatten(cotangents)
        if primals_out_spec != cotangents_spec:
            raise TorchRuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of outputs to the "
                f"function. cotangents: {treespec_pprint(cotangents_spec)}, "
                f"primal output: {treespec_pprint(primals_out_spec)}"
            )
        # _batched: vmap(vjp_fn) over a leading batch of cotangents, as one backward pass
        result = _autograd_grad(flat_primals_out, flat_diff_primals, flat_cotangents, retain_graph=retain_graph,
                                create_graph=create_graph, is_grads_batched=_batched)
        return _unwrap(tree_unflatten(list(result), primals_spec), inner)

    if has_aux:
        return results, wrapper, aux
    return results, wrapper


# ----- jacrev, hessian, jacfwd -----


def _chunked_standard_basis_for_(tensors, tensor_numels, chunk_size=None):
    """The identity over the concatenated flattened tensors, split by tensor, in chunks of rows: each chunk
    a tuple of (rows, *tensor.shape) tensors in the tensors' dtypes."""
    from engine import _backend as B  # noqa: PLC0415
    from engine.ops.factory import _finish  # noqa: PLC0415

    total = sum(tensor_numels)
    if chunk_size and chunk_size < total:
        chunk_numels = [chunk_size] * (total // chunk_size) + ([total % chunk_size] if total % chunk_size else [])
    else:
        chunk_size, chunk_numels = total, [total]
    starts, s = [], 0
    for n in tensor_numels:
        starts.append(s)
        s += n
    for chunk_idx, rows in enumerate(chunk_numels):
        first = chunk_idx * chunk_size
        chunks = []
        for t, n, start in zip(tensors, tensor_numels, starts):
            budget.charge(rows * n, t._data.dtype.itemsize, what="a standard basis")
            block = B.xp.zeros((rows, n), dtype=t._data.dtype)
            for r in range(max(first, start), min(first + rows, start + n)):
                block[r - first, r - start] = 1
            chunks.append(_finish(block.reshape((rows,) + tuple(t.shape)), False))
        yield tuple(chunks)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian of func w.r.t. its argnums arguments by reverse mode: one batched backward pass over
    the standard basis of the outputs (chunk_size rows at a time; chunk_size=1 is a loop)."""
    if not (chunk_size is None or chunk_size > 0):
        raise TorchValueError("jacrev: `chunk_size` should be greater than 0.")
    from engine.ops.join import cat  # noqa: PLC0415

    @functools.wraps(func)
    def wrapper_fn(*args):
        vjp_out = _vjp_with_argnums(func, *args, argnums=argnums, has_aux=has_aux)
        if has_aux:
            output, vjp_fn, aux = vjp_out
        else:
            output, vjp_fn = vjp_out
        flat_output, output_spec = tree_flatten(output)
        flat_output_numels = tuple(out.numel() for out in flat_output)
        primals = _slice_argnums(args, argnums)
        flat_primals, primals_spec = tree_flatten(primals)
        chunked_results = []
        for flat_basis_chunk in _chunked_standard_basis_for_(flat_output, flat_output_numels, chunk_size):
            budget.check()
            if chunk_size == 1:
                basis = tree_unflatten([t.squeeze(0) for t in flat_basis_chunk], output_spec)
                flat_results = [t.unsqueeze(0) for t in tree_flatten(vjp_fn(basis))[0]]
            else:  # vmap(vjp_fn)(basis): one backward pass over the batch
                basis = tree_unflatten(list(flat_basis_chunk), output_spec)
                flat_results = tree_flatten(vjp_fn(basis, _batched=True))[0]
            chunked_results.append(flat_results)
        if len(chunked_results) == 1:
            flat_jacobians_per_input = chunked_results[0]
        else:
            flat_jacobians_per_input = [cat([r[idx] for r in chunked_results], 0) for idx in range(len(flat_primals))]
        flat_jacobians_per_input = [result.split(list(flat_output_numels), 0) for result in flat_jacobians_per_input]
        flat_input_flat_output = [
            tuple(split.view(tuple(out.shape) + tuple(primal.shape)) for split, out in zip(splits, flat_output))
            for splits, primal in zip(flat_jacobians_per_input, flat_primals)
        ]
        flat_output_flat_input = tuple(zip(*flat_input_flat_output))
        flat_output_input = tuple(tree_unflatten(list(flat_input), primals_spec)
                                  for flat_input in flat_output_flat_input)
        if isinstance(argnums, int):
            flat_output_input = tuple(flat_input[0] for flat_input in flat_output_input)
        output_input = tree_unflatten(list(flat_output_input), output_spec)
        if has_aux:
            return output_input, aux
        return output_input

    return wrapper_fn


# ----- jvp, jacfwd: forward-mode AD (engine.autograd.forward_ad) -----

_JVP = "jvp(f, primals, tangents)"


def _check_tensors(flat, argname):
    if len(flat) == 0:
        raise TorchRuntimeError(f"{_JVP}: Expected {argname} to contain at least one Tensor.")
    for out in flat:
        if not isinstance(out, _Tensor()):
            raise TorchRuntimeError(f"{_JVP}: Expected {argname} to only contain Tensors, got {type(out)}")


def _jvp_with_argnums(func, primals, tangents, argnums=None, *, strict=False, has_aux=False, batch=None):
    """(func(*primals), J tangents[, aux]) with dual tensors in one dual level of this thread (batch: a batched
    level, every tangent with a leading dim of that size: jacfwd's basis at once, as torch's vmap over jvp)."""
    from engine.autograd import forward_ad as fwAD  # noqa: PLC0415 - it imports this package
    from engine.ops.factory import zeros, zeros_like  # noqa: PLC0415

    if not isinstance(primals, tuple):
        raise TorchRuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    diff_args = primals if argnums is None else _slice_argnums(primals, argnums)
    flat_primals, primals_spec = tree_flatten(diff_args)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise TorchRuntimeError(
            f"{_JVP}: Expected primals and tangents to have the same python structure. For example, if primals is "
            f"a tuple of 3 tensors, tangents also must be. Got primals with structure {primals_spec} and tangents "
            f"with structure {tangents_spec}")
    _check_tensors(flat_primals, "primals")
    _check_tensors(flat_tangents, "tangents")
    level = fwAD.dual_level() if batch is None else fwAD._batched_level(batch)
    with level:
        flat_duals = tuple(fwAD.make_dual(p, t) for p, t in zip(flat_primals, flat_tangents))
        duals = tree_unflatten(list(flat_duals), primals_spec)
        if argnums is not None:  # torch's _replace_args: the differentiated arguments by their duals
            if isinstance(argnums, int):  # (compared as given: a negative argnums replaces nothing, as in torch)
                duals = tuple(duals[0] if i == argnums else primals[i] for i in range(len(primals)))
            else:
                duals = tuple(duals[argnums.index(i)] if i in argnums else primals[i] for i in range(len(primals)))
        result_duals = func(*duals)
        aux = None
        if has_aux:
            if not (isinstance(result_duals, tuple) and len(result_duals) == 2):
                raise TorchRuntimeError(
                    f"{_JVP}: output of function f should be a tuple: (output, aux) if has_aux is True")
            result_duals, aux = result_duals
        flat_out, spec = tree_flatten(result_duals)
        if (len(flat_out) == 1 and flat_out[0] is None) or len(flat_out) < 1:
            raise TorchRuntimeError(
                f"{_JVP}: Expected f to be a function that has non-empty output (got output = {flat_out})")
        for o in flat_out:
            if not isinstance(o, _Tensor()):
                raise TorchRuntimeError(
                    f"{_JVP}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")
        primals_out, tangents_out = [], []
        for dual in flat_out:
            primal, tangent = fwAD.unpack_dual(dual)
            if tangent is None:
                if strict:
                    raise TorchRuntimeError(
                        "jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                        "This is not allowed with strict=True.")
                tangent = zeros_like(primal) if batch is None else zeros((batch, *primal.shape), dtype=primal.dtype)
            primals_out.append(primal)
            tangents_out.append(tangent)
    out = (tree_unflatten(primals_out, spec), tree_unflatten(tangents_out, spec))
    return (*out, aux) if has_aux else out


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian of func at primals times tangents[, aux]) by forward-mode AD. Unlike
    torch's, jvp transforms do not nest (one dual level per thread)."""
    return _jvp_with_argnums(func, primals, tangents, None, strict=strict, has_aux=has_aux)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of func w.r.t. its argnums arguments by forward-mode AD: the standard basis of the flattened
    arguments pushed through as one batch of tangents (a batched dual level: vmap over jvp, as torch's)."""
    _check_randomness_arg(randomness)

    @functools.wraps(func)
    def wrapper_fn(*args):
        primals = args if argnums is None else _slice_argnums(args, argnums)
        flat_primals, primals_spec = tree_flatten(primals)
        flat_primals_numels = tuple(p.numel() for p in flat_primals)
        flat_basis = next(_chunked_standard_basis_for_(flat_primals, flat_primals_numels))
        basis = tree_unflatten(list(flat_basis), primals_spec)
        with _collecting() as inner:
            output = _jvp_with_argnums(func, args, basis, argnums, has_aux=has_aux,
                                       batch=sum(flat_primals_numels))
        results = _unwrap(output[1], inner)
        jac_outs, spec = tree_flatten(results)
        jac_outs_ins = tuple(
            tree_unflatten([_unflatten_last(jac_out_in, tuple(primal.shape)) for primal, jac_out_in in zip(
                flat_primals, _batch_last(jac_out).split(list(flat_primals_numels), -1))], primals_spec)
            for jac_out in jac_outs)
        if isinstance(argnums, int):
            jac_outs_ins = tuple(jac_ins[0] for jac_ins in jac_outs_ins)
        if has_aux:
            return tree_unflatten(list(jac_outs_ins), spec), output[2]
        return tree_unflatten(list(jac_outs_ins), spec)

    return wrapper_fn


def _batch_last(t):
    """torch's t.movedim(0, -1)."""
    return t.permute(*range(1, t.ndim), 0)


def _unflatten_last(t, shape):
    """torch's safe_unflatten(t, -1, shape): the last dim split into shape (squeezed for a 0-d shape)."""
    if len(shape) == 0:
        return t.squeeze(-1)
    return t.view(tuple(t.shape[:-1]) + shape)  # unflatten is a view


def hessian(func, argnums=0):
    """The Hessian of func w.r.t. its argnums arguments: jacfwd of jacrev (forward-over-reverse), as torch's."""
    return jacfwd(jacrev(func, argnums), argnums)
