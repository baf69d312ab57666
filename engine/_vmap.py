"""torch.func.vmap for the engine, as torch 2.13: the function run once per row of the mapped dimension (in_dims),
its outputs stacked into out_dims, with torch's argument checks and messages. No faster than a loop: each row is
an ordinary call, and the request's deadline (engine.budget.check) is checked between rows. Moved out of
engine.func, which re-exports vmap (and _check_randomness_arg, which its jacfwd calls).
"""
from __future__ import annotations

import functools

from engine import budget
from engine._pytree import _broadcast_to_and_flatten, tree_flatten, tree_unflatten
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError


def _Tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


def _get_name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _check_randomness_arg(randomness):
    if randomness not in ["error", "different", "same"]:
        raise TorchRuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


def _process_batched_inputs(in_dims, args, func):
    if not isinstance(in_dims, int) and not isinstance(in_dims, tuple):
        raise TorchValueError(
            f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
            f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}."
        )
    if len(args) == 0:
        raise TorchValueError(
            f"vmap({_get_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
            "trying to vmap over a function with no inputs. The latter is unsupported."
        )
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = _broadcast_to_and_flatten(in_dims, args_spec)
    if flat_in_dims is None:
        raise TorchValueError(
            f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
            f"structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but inputs has structure "
            f"{args_spec}."
        )
    Tensor = _Tensor()
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if not isinstance(in_dim, int) and in_dim is not None:
            raise TorchValueError(
                f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                "in_dim must be either an integer dimension or None."
            )
        if isinstance(in_dim, int) and not isinstance(arg, Tensor):
            raise TorchValueError(
                f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for an input but "
                f"the input is of type {type(arg)}. We cannot vmap over non-Tensor arguments, please use None as "
                "the respective in_dim"
            )
        if in_dim is not None and (in_dim < -arg.dim() or in_dim >= arg.dim()):
            raise TorchValueError(
                f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for some input, "
                f"but that input is a Tensor of dimensionality {arg.dim()} so expected in_dim to satisfy "
                f"-{arg.dim()} <= in_dim < {arg.dim()}."
            )
        if in_dim is not None and in_dim < 0:
            flat_in_dims[i] = in_dim % arg.dim()
    sizes = [arg.size(d) for d, arg in zip(flat_in_dims, flat_args) if d is not None]
    if not sizes:
        raise TorchValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise TorchValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
            f"{sizes} for the mapped dimension"
        )
    return sizes[0], flat_in_dims, flat_args, args_spec


def _check_out_dims_is_int_or_int_pytree(out_dims, func):
    if isinstance(out_dims, int):
        return
    for x in tree_flatten(out_dims)[0]:
        if not (isinstance(x, int) or x is None):
            raise TorchValueError(
                f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a python "
                "collection of ints representing where in the outputs the vmapped dimension should appear."
            )


def _flat_out_dims(out_dims, outputs, output_spec, func):
    def incompatible():
        raise TorchValueError(
            f"vmap({_get_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
            f"structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} but outputs has "
            f"structure {output_spec}."
        )

    if isinstance(outputs, _Tensor()):
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    r = _broadcast_to_and_flatten(out_dims, output_spec)
    if r is None:
        incompatible()
    return r


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dimension of its inputs (in_dims) into a dimension of its outputs (out_dims)."""
    _check_randomness_arg(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise TorchValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        _check_out_dims_is_int_or_int_pytree(out_dims, func)
        batch_size, flat_in_dims, flat_args, args_spec = _process_batched_inputs(in_dims, args, func)
        rows = []
        for b in range(batch_size):
            budget.check()
            row_args = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_in_dims)]
            rows.append(func(*tree_unflatten(row_args, args_spec), **kwargs))
        return _stack_rows(rows, out_dims, func, batch_size)

    return wrapped


def _stack_rows(rows, out_dims, func, batch_size):
    from engine.ops.join import stack  # noqa: PLC0415

    if not rows:
        raise TorchNotImplementedError(
            f"vmap({_get_name(func)}, ...): a mapped dimension of size 0 (the engine's vmap runs the function "
            "once per row, so it has no row to learn the outputs' shapes from)")
    Tensor = _Tensor()
    flat0, spec = tree_flatten(rows[0])
    flat_out_dims = _flat_out_dims(out_dims, rows[0], spec, func)
    flat_rows = []
    for r in rows:
        flat, sp = tree_flatten(r)
        if sp != spec:
            raise TorchRuntimeError(
                f"vmap({_get_name(func)}, ...): `{_get_name(func)}` returned outputs of different structures for "
                "different rows of the batch")
        flat_rows.append(flat)
    name = _get_name(func)
    out = []
    for k, od in enumerate(flat_out_dims):
        if od is None:
            out.append(flat0[k])  # the row's output as it is (torch requires it not to depend on the batch)
            continue
        column = [fr[k] for fr in flat_rows]
        if not all(isinstance(c, Tensor) for c in column):
            bad = next(c for c in column if not isinstance(c, Tensor))
            raise TorchValueError(
                f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(bad)}. Did you mean to set "
                "out_dims= to None for output?"
            )
        out.append(stack(column, od))
    return tree_unflatten(out, spec)
