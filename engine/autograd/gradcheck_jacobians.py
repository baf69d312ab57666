"""gradcheck's Jacobians: central differences, backward rows, and fast mode's vectors, as torch 2.13 makes them.

The numerical Jacobian perturbs one input element at a time (C order) by eps in place, as torch perturbs
`t.data`; both Jacobians are (input numel, output numel) in torch's dtypes; fast mode's u and v come from a
copy of a fresh torch.Generator() (mt19937 from torch's default seed, rand's float32 draw). Used by
engine/autograd/gradcheck.py, which holds the checks and their messages.

Memory: a Jacobian is charged before it is allocated and counted as the request's (live) until it dies; each
is filled a column (numerical) or a row (analytical) at a time as they are computed, never from a list of all
of them; the reentrancy check compares the second backward's rows with the first Jacobian as they come (torch
stacks a second Jacobian); and two are compared a block of `BLOCK_BYTES` at a time, whose temporaries are
charged. So a request
holds its Jacobians and a few MB, as charged (tests/engine/test_gradcheck_memory.py); before, it held ~2.4
times its charge (the lists of rows and columns, and the comparison's N x N temporaries: redteam10 F2).
"""
from __future__ import annotations

import collections.abc
import functools
import math
from itertools import product

import numpy as np

from engine import _backend as B
from engine import budget
from engine.autograd import no_grad
from engine.errors import TorchAssertionError


def _Tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


def _tensor_of(arr):
    return _Tensor()._make(arr)


def is_tensor_like(x):
    return isinstance(x, _Tensor())


def _is_float_or_complex_tensor(obj):
    return is_tensor_like(obj) and obj.is_floating_point()


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _iter_tensors(x, only_requiring_grad=False):
    if is_tensor_like(x):
        if x.requires_grad or not only_requiring_grad:
            yield x
    elif isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
        for elem in x:
            yield from _iter_tensors(elem, only_requiring_grad)


def _differentiable_outputs(x):
    return tuple(o for o in _as_tuple(x) if o.requires_grad)


def _zeros(shape, dtype):
    """Zeros of a Jacobian's shape: charged, and counted as the request's until they die."""
    n = 1
    for s in shape:
        n *= int(s)
    budget.charge(n, np.dtype(dtype).itemsize, what="a Jacobian")
    arr = B.xp.zeros(tuple(shape), dtype=dtype)
    b = budget.current()
    if b is not None:
        b.track(arr)
    return arr


def _allocate_jacobians_with_inputs(input_tensors, numel_output):
    """(input numel, numel_output) zeros in each differentiable input's dtype."""
    return tuple(_zeros((t.numel(), numel_output), t._data.dtype) for t in input_tensors
                 if _is_float_or_complex_tensor(t) and t.requires_grad)


def _allocate_jacobians_with_outputs(output_tensors, numel_input):
    """(numel_input, output numel) zeros in each floating output's dtype."""
    return tuple(_zeros((numel_input, t.numel()), t._data.dtype) for t in output_tensors
                 if _is_float_or_complex_tensor(t))


# ----- the numerical Jacobian: central differences, one input element at a time -----


def _writable(t):
    """The array behind t, written in place while perturbing (as torch writes `t.data`)."""
    a = t._data
    if not a.flags.writeable:  # a read-only array (np.broadcast_to, a frozen buffer): the same values, writable
        a = t._data = a.copy()
    return a


def _compute_numerical_gradient(fn, arr, idx, v, norm_v, nbhd_checks_fn):
    """(fn at arr[idx] + v) - (fn at arr[idx] - v), over 2 * norm_v: the directional derivative along v."""
    orig = arr[idx].copy()
    arr[idx] = orig - v
    outa = fn()
    arr[idx] = orig + v
    outb = fn()
    arr[idx] = orig

    def compute(a, b):
        nbhd_checks_fn(a, b)
        with no_grad():
            ret = (b - a) / (2 * norm_v)
        return ret.detach().reshape(-1)

    return tuple(compute(a, b) for a, b in zip(outa, outb))


def _with_prepare_inputs(fn, inputs):
    """fn on the inputs (the perturbed one is changed in place), its outputs cloned: an output that is a
    view of an input must not move with the next perturbation."""

    def wrapped_fn():
        return tuple(a.clone() for a in _as_tuple(fn(*_as_tuple(inputs))))

    return wrapped_fn


def _check_outputs_same_dtype_and_shape(output1, output2, eps, idx=None):
    on_index = f"on index {idx} " if idx is not None else ""
    if output1.shape != output2.shape:
        raise TorchAssertionError(
            f"Expected `func` to return outputs with the same shape"
            f" when inputs are perturbed {on_index}by {eps}, but got:"
            f" shapes {output1.shape} and {output2.shape}."
        )
    if output1.dtype != output2.dtype:
        raise TorchAssertionError(
            f"Expected `func` to return outputs with the same dtype"
            f" when inputs are perturbed {on_index}by {eps}, but got:"
            f" dtypes {output1.dtype} and {output2.dtype}."
        )


def get_numerical_jacobian_wrt_specific_input(fn, input_idx, inputs, outputs, eps, input=None,
                                              is_forward_ad=False):
    """The numerical Jacobian of every output of fn w.r.t. one input: a column per input element, written
    into the Jacobians as it is computed (torch keeps them all, then copies them in: twice the memory)."""
    input = inputs[input_idx] if input is None else input
    if not input.requires_grad:
        raise TorchAssertionError("Expected input to have requires_grad=True")
    arr = _writable(input)
    wrapped_fn = _with_prepare_inputs(fn, inputs)
    jacobians = _allocate_jacobians_with_outputs(outputs, input.numel())
    for d_idx, idx in enumerate(product(*[range(m) for m in input.size()])):
        budget.check()
        nbhd_checks_fn = functools.partial(_check_outputs_same_dtype_and_shape, idx=idx, eps=eps)
        col = _compute_numerical_gradient(wrapped_fn, arr, idx, eps, eps, nbhd_checks_fn)
        for i, jacobian in enumerate(jacobians):  # (torch's indexing: col over every output, i over floating ones)
            jacobian[d_idx] = col[i]._data
    return tuple(_tensor_of(j) for j in jacobians)


def _get_numerical_jacobian(fn, inputs, outputs=None, target=None, eps=1e-3, is_forward_ad=False):
    """Per input that requires grad, a tuple of the numerical Jacobians of the floating outputs."""
    jacobians = []
    if outputs is None:
        outputs = _as_tuple(fn(*_as_tuple(inputs)))
    if target is None:
        target = inputs
    inp_indices = [i for i, a in enumerate(target) if is_tensor_like(a) and a.requires_grad]
    for inp, inp_idx in zip(_iter_tensors(target, True), inp_indices):
        jacobians += [get_numerical_jacobian_wrt_specific_input(fn, inp_idx, inputs, outputs, eps, input=inp)]
    return jacobians


def _get_numerical_jvp_wrt_specific_input(fn, input_idx, inputs, u, eps):
    """Fast mode: J u by one central difference along u (scaled by eps) for one input."""
    input = inputs[input_idx]
    arr = _writable(input)
    wrapped_fn = _with_prepare_inputs(fn, inputs)
    nbhd_checks_fn = functools.partial(_check_outputs_same_dtype_and_shape, eps=eps)
    with no_grad():
        u = eps * u.reshape(tuple(input.shape))
    return list(_compute_numerical_gradient(wrapped_fn, arr, Ellipsis, u._data, eps, nbhd_checks_fn))


def _dot_with_type_promotion(u, v):
    if u.dim() != 1 or v.dim() != 1:
        raise TorchAssertionError(f"Expected u and v to be 1D tensors, but got dims {u.dim()} and {v.dim()}")
    with no_grad():
        return (u * v).sum()


def _get_numerical_vJu(fn, inputs, inp_indices, func_out, all_u, all_v, eps):
    reduced_jacobians = []
    for inp_idx, u in zip(inp_indices, all_u):
        all_Ju = _get_numerical_jvp_wrt_specific_input(fn, inp_idx, inputs, u, eps)
        func_out = _as_tuple(func_out)
        if len(all_Ju) != len(func_out):
            raise TorchAssertionError(
                f"Expected all_Ju and func_out to have the same length, but got {len(all_Ju)} and {len(func_out)}"
            )
        filtered_Ju = [Ju for Ju, output in zip(all_Ju, func_out) if _is_float_or_complex_tensor(output)]
        if all_v is not None:
            reduced_jacobians.append([_dot_with_type_promotion(v, Ju) for v, Ju in zip(all_v, filtered_Ju)])
        else:
            reduced_jacobians.append(filtered_Ju)
    return reduced_jacobians


def _check_rows_equal(jacobians, rows, atol):
    """_check_jacobians_equal(jacobians, what `rows` would stack into, atol), without stacking them: each row is
    compared with its column of `jacobians` as it comes (cast into the Jacobian's dtype as the stacking writes it,
    a missing gradient as zeros), and max |a - b| taken over all of them (a NaN anywhere: NaN, never > atol). The
    reentrancy check's second Jacobian is never held: a request holds two N x N arrays at once, not three."""
    tops = [[] for _ in jacobians]
    for j, row in enumerate(rows):
        for i, tensor in enumerate(row):
            col = jacobians[i]._data[:, j]
            if tensor is not None and col.size != tensor.numel():
                raise TorchAssertionError(
                    f"Expected out_jacobian column to have {tensor.numel()} elements, but got {col.size}")
            if col.size == 0:
                continue
            other = np.zeros(col.shape, col.dtype)
            if tensor is not None:
                other[...] = tensor._data.reshape(-1)
            tops[i].append(np.abs(col - other).max())
    return all(not top or not np.max(top) > atol for top in tops)


def _stack_and_check_tensors(rows, inputs, numel_outputs):
    """Rows (or fast mode's one vJ) into (input numel, numel_outputs) Jacobians in the inputs' dtypes. `rows`
    yields, per output element, the gradient of each differentiable input (a tensor or None); each is written
    into its column as it comes and dropped (torch lists them all first: a second copy of the Jacobian)."""
    out_jacobians = _allocate_jacobians_with_inputs(inputs, numel_outputs)
    diff_input_list = list(_iter_tensors(inputs, True))
    correct_grad_sizes = True
    correct_grad_types = True
    for j, row in enumerate(rows):
        for i, tensor in enumerate(row):
            inp = diff_input_list[i]
            out_jacobian = out_jacobians[i]
            if tensor is not None and tensor.size() != inp.size():
                correct_grad_sizes = False
            elif tensor is not None and tensor.dtype != inp.dtype:
                correct_grad_types = False
            if tensor is None:
                out_jacobian[:, j] = 0
            else:
                if out_jacobian[:, j].size != tensor.numel():
                    raise TorchAssertionError(
                        f"Expected out_jacobian column to have {tensor.numel()} elements, "
                        f"but got {out_jacobian[:, j].size}"
                    )
                out_jacobian[:, j] = tensor._data.reshape(-1)
    return tuple(_tensor_of(j) for j in out_jacobians), correct_grad_sizes, correct_grad_types


def _compute_analytical_jacobian_rows(vjp_fn, sample_output):
    """Row j of the Jacobian is the vjp with the j-th standard basis vector, per differentiable input: yielded
    one row at a time (a list with a tensor or None per input), for _stack_and_check_tensors to write."""
    dtype = sample_output._data.dtype
    shape = tuple(sample_output.shape)
    for j in range(sample_output.numel()):
        budget.check()
        flat = B.xp.zeros(sample_output.numel(), dtype=dtype)
        flat[j] = 1.0
        grad_inputs = vjp_fn(_tensor_of(flat.reshape(shape)))
        yield [d_x if is_tensor_like(d_x) else None for d_x in grad_inputs]


def _get_analytical_vjps_wrt_specific_output(vjp_fn, sample_output, v):
    """Fast mode's one row: v^T J, per differentiable input."""
    grad_inputs = vjp_fn(v.reshape(tuple(sample_output.shape)))
    return [[vjp if is_tensor_like(vjp) else None for vjp in grad_inputs]]


BLOCK_BYTES = 1 << 20  # a comparison's arrays (a Jacobian's block of elements in the compared dtype) at most


def _blocks(x, y, dt, temps, what):
    """Matching slices of two arrays of one shape covering them, each of at most BLOCK_BYTES in dtype `dt`
    (C order: flat slices of contiguous arrays, else slices along the first dimension), after charging what
    `temps` such arrays hold at once; the deadline checked a block. Arrays of different shapes (broadcast
    against each other) or of one block: whole."""
    itemsize = np.dtype(dt).itemsize
    if x.shape != y.shape or x.size * itemsize <= BLOCK_BYTES:
        try:
            n = math.prod(np.broadcast_shapes(x.shape, y.shape))
        except ValueError:  # not broadcastable: the comparison raises NumPy's error
            n = 0
        budget.charge(n * temps, itemsize, what=what)
        yield x, y
        return
    if x.flags.c_contiguous and y.flags.c_contiguous:
        x, y = x.reshape(-1), y.reshape(-1)
    row = x.size // x.shape[0]
    step = max(1, BLOCK_BYTES // (row * itemsize))
    budget.charge(step * row * temps, itemsize, what=what)
    for i in range(0, x.shape[0], step):
        budget.check()
        yield x[i:i + step], y[i:i + step]


def _allclose(a, b, rtol, atol):
    """torch.allclose(a, b, rtol, atol) after promoting both to one dtype (its isclose, equal_nan=False), a
    block at a time."""
    from engine import dtypes as D  # noqa: PLC0415

    dt = D.promote_types(a.dtype, b.dtype).np
    # per block, at most: the two promoted copies, atol + |rtol * y| and a temporary, |x - y| and a
    # temporary; and booleans (6: with room for them)
    for xb, yb in _blocks(a._data, b._data, dt, 6, "comparing two tensors (gradcheck)"):
        x, y = xb.astype(dt), yb.astype(dt)
        with np.errstate(all="ignore"):
            allowed = np.asarray(atol + np.abs(rtol * y))
            actual = np.abs(x - y)
            close = (x == y) | (np.isfinite(actual) & (actual <= allowed))
        if not np.all(close):
            return False
    return True


# ----- fast mode's random vectors: torch.Generator() and torch.rand, bit for bit -----


_DEFAULT_SEED = 67280421310721  # torch's default_rng_seed_val: a new torch.Generator() starts here


class _TorchCPUGenerator:
    """torch.Generator() on the CPU: mt19937 seeded with the low 32 bits of the seed (init_genrand), and
    torch.rand's float32 draw: the low 24 bits of one 32-bit output, times 2**-24."""

    def __init__(self, seed=_DEFAULT_SEED):
        key = np.empty(624, dtype=np.uint32)
        s = seed & 0xFFFFFFFF
        key[0] = s
        for i in range(1, 624):
            s = (1812433253 * (s ^ (s >> 30)) + i) & 0xFFFFFFFF
            key[i] = s
        self.bits = np.random.MT19937()
        self.bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": 624}}

    def rand_float32(self, n):
        raw = self.bits.random_raw(n)
        return ((raw & 0xFFFFFF).astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)


def _vec_from_tensor(x, generator):
    """A random unit vector with x's number of elements, in x's dtype (torch.rand(...).to(dtype) / norm)."""
    budget.charge(x.numel(), 8, what="a random vector")
    vec = _tensor_of(B.xp.asarray(generator.rand_float32(x.numel()).astype(x._data.dtype)))
    with no_grad():
        return vec / vec.norm()


def _make_vectors(inp_tensors, outputs, *, use_forward_ad):
    g_cpu = _TorchCPUGenerator()
    all_u = [_vec_from_tensor(inp, g_cpu) for inp in inp_tensors]
    all_v = None if use_forward_ad else [_vec_from_tensor(out, g_cpu) for out in outputs]
    return all_v, all_u, list(all_u)
