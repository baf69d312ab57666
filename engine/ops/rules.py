"""Shape and cost rules: what an op entry will allocate and compute, from its inputs' shapes alone.

Every entry of the op table (`defop`, `nondiff`) carries a rule, given as `rule=`; an entry without one
cannot be registered. The rule runs before the forward, on the same positional values the forward gets
(tensors as arrays, but only their `.shape`, `.ndim`, `.size` and `.dtype` may be read; Python scalars as
given), and returns a `Cost`. The request's budget (engine.budget) charges it before anything is
allocated, so a request that would pass a limit stops before it pays for it.

A rule is written like a formula: its parameter names are the schema's, bound by name:

    defop("mm(Tensor self, Tensor mat2) -> Tensor", np.matmul,
          rule=lambda self, mat2: Cost((self.shape[0], mat2.shape[1]),
                                       flops=2 * self.shape[0] * self.shape[1] * mat2.shape[1]), ...)

or made by one of the builders below for the common kinds (elementwise, reductions, same shape).

`Cost` fields:
- `out`: the output's shape (a tuple of shapes for entries with several outputs). It must be the exact
  shape where `exact` (the tests hold every rule to its op's real outputs), else an upper bound (an output
  whose size depends on values: nonzero, masked_select).
- `flops`: weighted element operations: 1 an element for arithmetic, `TRANSCENDENTAL` for exp/log/trig,
  2*M*N*K for a matmul; what decides where a request runs and how long one call may take.
- `temp`: the most elements the forward holds at once besides its outputs (im2col buffers, pooling windows
  copied out, sort keys): what its peak memory is beyond what it returns.
- `bwd_temp`, `bwd_flops`: the same for the node's backward, where it differs from the default (the input
  gradients plus the forward's temp and output, at twice the forward's flops): cumprod's table, a
  max-pool's scatter.

Elements are counted at the itemsize of the widest of the entry's tensor operands and outputs: a temp of a
wider dtype than that (int64 indices beside float32 data, float64 work arrays of a float32 op) is scaled
by `wide`. A rule only reads shapes, dtypes and attributes, in time independent of the sizes (a loop over
the dims, never over the elements). Where its operands are invalid (the forward raises torch's error before
it allocates), a rule may give any bound, or fail: `Bound.cost` then answers `UNKNOWN` (the forward is left
to raise). tests/engine/test_rules.py holds every rule to its op on every sample: the output shapes exactly,
and the peak memory of the forward and of the backward (tracemalloc) within (outputs + temp) and (input
gradients + bwd_temp).
"""
from __future__ import annotations

import inspect
import math
from typing import NamedTuple

TRANSCENDENTAL = 10  # flops an element for exp, log, trig, erf, pow with a float exponent, ...
# flops of one interpreter-level step (a loop iteration that slices an array or makes a Tensor): about a
# microsecond, what a thousand element operations take in a NumPy kernel
PY_STEP = 1000
# elements charged for the Python objects of one output (its Tensor, its ndarray header, its place in the
# node: about 230 bytes), where an entry returns a number of outputs that the request decides (unbind of a
# long dim, split into size-1 pieces): 512 bytes at float32's itemsize, 1 KiB at float64's
OBJECT = 128
# flops of one value np.add.at adds through its general path (a tuple of index arrays, or rows of a 2+-d target):
# ~12-16 ns a value where an add is ~0.5 ns an element (redteam16 F8: 25-34x); its 1-d path costs ~2.6x, as charged
ADD_AT = 32


class Cost(NamedTuple):
    out: tuple
    flops: float = 0.0
    temp: int = 0
    exact: bool = True
    bwd_temp: int | None = None
    bwd_flops: float | None = None


def numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def shape_of(x) -> tuple:
    """A tensor operand's shape; () for a Python scalar (or None)."""
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else ()


def broadcast(*shapes) -> tuple:
    """The broadcast of shapes that broadcast; where they do not, the op raises torch's error before it
    allocates, so any bound will do: the largest of them."""
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate(s, n - len(s)):
            if d != 1:
                if out[i] not in (1, d):
                    return max(shapes, key=numel)
                out[i] = d
    return tuple(out)


UNKNOWN = Cost((), 0.0, 0, exact=False)  # a rule that could not read its operands (see Bound.cost)


def wide(n: int, *tensors, itemsize: int = 8) -> int:
    """n elements of `itemsize` bytes (int64 indices, float64 work arrays), counted in elements of the
    widest tensor operand (two float32 elements to an int64 one)."""
    w = max((t.dtype.itemsize for t in tensors if getattr(t, "dtype", None) is not None), default=itemsize)
    return -(-int(n) * itemsize // w)


def out_elements(cost: Cost) -> int:
    """Elements of every output of a Cost."""
    out = cost.out
    if out and isinstance(out[0], tuple | list):
        return sum(numel(s) for s in out)
    return numel(out)


# ----- builders for the common kinds -----


def elementwise(weight: float = 1, dtype_temp: bool = False, temp: float = 0, bwd: float | None = None):
    """Output of the broadcast shape of every tensor operand; `weight` flops an element. dtype_temp: the
    forward casts its operands first (integer inputs to float): one temporary per operand. temp: output-sized
    temporaries the forward holds at its peak; bwd: the same for the backward (None: the default)."""

    def rule(*tensors):
        out = broadcast(*(shape_of(t) for t in tensors))
        n = numel(out)
        t = int(temp * n) + (sum(numel(shape_of(x)) for x in tensors) if dtype_temp else 0)
        return Cost(out, weight * n, t, True, None if bwd is None else int(bwd * n))

    rule.tensors_only = True
    return rule


def like(param: str = "self", weight: float = 1, temp_factor: float = 0, bwd: float | None = None):
    """Output of `param`'s shape; `weight` flops an element; `temp_factor` times its size held besides;
    bwd: the backward's temporaries in the same unit (None: the default)."""

    def rule(**vals):
        out = shape_of(vals[param])
        n = numel(out)
        return Cost(out, weight * n, int(temp_factor * n), True, None if bwd is None else int(bwd * n))

    rule.by_name = (param,)
    return rule


def reduced_shape(shape, dim, keepdim) -> tuple:
    """The shape of a reduction over `dim` (an int, a list, or None / [] for every dim)."""
    nd = len(shape)
    if dim is None or (isinstance(dim, list | tuple) and len(dim) == 0):
        dims = set(range(nd))
    else:
        dims = {(d % nd if nd else 0) for d in (dim if isinstance(dim, list | tuple) else [dim])
                if isinstance(d, int)}
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def reduction(param: str = "self", weight: float = 1, nout: int = 1, temp_factor: float = 0,
              bwd: float | None = None):
    """A reduction of `param` over `dim` (keepdim), reading every element once; `nout` outputs of that
    shape (max.dim: values and indices); `temp_factor` and `bwd` (the backward's temporaries) count
    input-sized arrays."""

    def rule(**vals):
        x = shape_of(vals[param])
        out = reduced_shape(x, vals.get("dim"), bool(vals.get("keepdim", False)))
        n = numel(x)
        return Cost(out if nout == 1 else (out,) * nout, weight * max(n, 1), int(temp_factor * n), True,
                    None if bwd is None else int(bwd * n))

    rule.by_name = (param, "dim", "keepdim")
    return rule


def full_reduction(param: str = "self", weight: float = 1, temp_factor: float = 0, bwd: float | None = None):
    """A reduction of every element to one value (temp_factor, bwd: input-sized arrays, as `reduction`)."""

    def rule(**vals):
        n = numel(shape_of(vals[param]))
        return Cost((), weight * max(n, 1), int(temp_factor * n), True, None if bwd is None else int(bwd * n))

    rule.by_name = (param,)
    return rule


def log2ceil(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


# NumPy's sort of rows of L elements, in flops: SORT_LEVEL an element a level (log2 L levels) and SORT_ELEMENT an
# element besides (the take_along_axis, the order's copies). Charged n log2 n (1 an element a level) it ran 3-4x past
# an elementwise add's ns a flop at 1-4M elements (8.7 ns a charged flop at 2^22; redteam14 F8, safeP), and a
# [250000, 4] sort along its rows of 4 was charged log2 of the whole tensor's 1e6, not of 4: docs/runs/safeP.md.
SORT_LEVEL = 5
SORT_ELEMENT = 2


def sort_flops(n: int, length: int) -> int:
    """What sorting n elements in rows of `length` costs, in flops."""
    return SORT_LEVEL * n * log2ceil(length) + SORT_ELEMENT * n


# ----- binding a rule to an entry -----


class Bound:
    """A rule bound to an entry's parameters: `cost(vals)` with the forward's positional values."""

    __slots__ = ("fn", "picks", "tensors_only")

    def __init__(self, fn, params, tensor_pos):
        self.fn = fn
        self.tensors_only = getattr(fn, "tensors_only", False)
        if self.tensors_only:
            self.picks = tuple(tensor_pos)
            return
        names = getattr(fn, "by_name", None)
        if names is None:
            names = tuple(p for p in inspect.signature(fn).parameters)
        index = {p: i for i, p in enumerate(params)}
        missing = [n for n in names if n not in index and n not in ("dim", "keepdim")]
        if missing:
            raise ValueError(f"rule parameters {missing} are not in the schema {params}")
        self.picks = tuple((n, index[n]) for n in names if n in index)

    def cost(self, vals, strict: bool = False) -> Cost:
        """The rule's Cost for the forward's positional values. A rule that fails on its operands (they are
        invalid: the forward raises torch's error before it allocates) gives UNKNOWN, so that the forward
        raises its own error; strict (the tests) lets the failure through."""
        try:
            if self.tensors_only:
                return self.fn(*[vals[i] for i in self.picks])
            return self.fn(**{n: vals[i] for n, i in self.picks})
        except Exception:
            if strict:
                raise
            return UNKNOWN
