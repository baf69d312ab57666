"""Kernels a lowered program calls in place of an entry's forward: the same values bit for bit, fewer NumPy calls.

A lowered program (engine.program.lower) calls each entry's forward as the op table has it. A few forwards are
written for every input the op takes (any dtype, any shape, a tensor or a NumPy scalar) and pay for that on the
small float inputs most requests give them. Here, per such forward, a kernel for the float32/float64 inputs: the
same operations on the same values (so the same bits; tests/engine/test_lower_kernels.py holds them to the
entry and to live torch with hypothesis), any other input handed to the entry itself. A lowered function is
kept only where it gives the recording's values bit for bit, checked again at two other sets of values
(engine.program.plans), so a kernel that differed would make its program decline, not answer differently.

No check is skipped: an entry replaced here charges nothing itself (a lowered replay charges its recorded cost
at once, Program._run_lowered) and raises nothing on these inputs."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.ops import _torch_sum as TS
from engine.ops import reduction as R
from engine.ops.loss_elementwise import bcel_elements
from engine.ops.pointwise_math import _sigmoid

_ndarray, _f32, _f64 = np.ndarray, np.float32, np.float64


def sigmoid_kernel(entry):
    """engine.ops.pointwise's sigmoid forward (`entry`: `_float_out(_sigmoid)`) on float32/float64 input:
    pointwise_math's `_sigmoid` itself (e = exp(-|a|), then 1 / (1 + e) where a >= 0 and e / (1 + e) elsewhere, in
    8 NumPy calls on an array, NumPy scalars on a 0-d input or a NumPy scalar), without the entry's dtype
    conversion; any other input goes to the entry."""

    def sigmoid(a):
        t = type(a)
        if t is _ndarray:
            c = a.dtype.char
            if c == "f" or c == "d":
                return _sigmoid(a)
        elif t is _f32 or t is _f64:
            return _sigmoid(a)
        return entry(a)

    return sigmoid


# ----- small full sums in torch's order -----

# elements, per dtype: more go to the entry (NumPy's calls cost less than Python's float32 scalar additions
# from about 10 float32 values on; float64's are Python's own float additions)
SMALL_SUM_MAX = {"f": 10, "d": 16}  # (the kernels' callers look no further past 16)


def _seq(items):
    return ("seq", list(items))


def _sum_plan(n, w):
    """_torch_sum._small_sum's additions on n values with w lanes, as a tree: ("seq", [item, ...]) adds its items
    one at a time from the first (an item an index into the values or another seq); None where its branch is
    not written out here (more than 4 vectors, or 8 and more values below one vector: not below SMALL_SUM_MAX)."""
    v = n // w
    if v == 0:
        s = n >> 2
        if s == 0:  # scalar_inner_sum: the values in order (_accumulate)
            return _seq(range(n))
        if s == 1:  # acc0, the leftovers, acc1..3
            return _seq([0, *range(4, n), 1, 2, 3])
        return None
    if v > 4:
        return None
    if v == 1:  # one vector: its lanes are its values
        lanes = list(range(w))
    else:  # the vectors added row by row into each lane (a reduction over axis 0: row 0, then each next row)
        lanes = [_seq(r * w + j for r in range(v)) for j in range(w)]
    return _seq([*range(v * w, n), *lanes])  # final_acc: the scalar tail, then the lanes


def _expr(tree, first_wrap):
    """Python source of a plan tree over the list `x`: each seq's first value wrapped in `first_wrap` (float32's
    F(...): from there on NumPy's float32 scalar arithmetic, a float32 plus a Python float giving a float32)."""
    if type(tree) is int:
        return f"x[{tree}]"
    items = tree[1]
    out = _expr(items[0], first_wrap)
    if type(items[0]) is int:
        out = first_wrap.format(out)
    for it in items[1:]:
        out = f"({out} + {_expr(it, first_wrap)})"
    return out


_SUMS: dict = {}  # (shape, dtype char) -> the small sum of arrays of that shape and dtype, or None
_SUMS_MAX = 256


def _sum_fn(shape, c):
    """The function of a C-contiguous array of `shape` and dtype char `c` giving full_sum's 0-d array, or None
    (a NaN sum: _lane_nan's pick is full_sum's); None in place of it where this route does not apply."""
    n = 1
    for d in shape:
        n *= d
    m = TS.MAX_ELEMENTS
    if (c != "f" and c != "d") or not 0 < n <= SMALL_SUM_MAX[c] or (m is not None and n > m):
        return None
    tree = _sum_plan(n, TS.VECTOR_BYTES // (4 if c == "f" else 8))
    if tree is None:
        return None
    values = "a.tolist()" if len(shape) == 1 else "a.reshape(-1).tolist()"
    # the +0 start last, as full_sum adds it (a zero sum's sign); a NaN sum left to full_sum
    src = (f"def f(a):\n    x = {values}\n    r = {_expr(tree, 'F({})' if c == 'f' else '{}')} + Z\n"
           f"    return None if r != r else asarray(r)\n")
    ns = {"F": _f32, "Z": _f32(0) if c == "f" else 0.0, "asarray": np.asarray if c == "f" else _f64_0d}
    exec(compile(src, "<engine.program.kernels sum>", "exec"), ns)  # noqa: S102 - our own source
    return ns["f"]


def _f64_0d(r):
    return np.asarray(r, _f64)


_ONE_VECTOR = ((TS.VECTOR_BYTES // 4,), "f")  # the shape and dtype char of a float32 vector of one vector's lanes


def small_full_sum(a):
    """_torch_sum.full_sum(a) of a C-contiguous float32/float64 ndarray of 1 to SMALL_SUM_MAX values (a 0-d array):
    the same additions in the same order on the values as Python floats (float64's own arithmetic) or float32
    scalars (NumPy's float32 arithmetic), the +0 start last as there; None for any other array, where
    full_sum would decline (past TS.MAX_ELEMENTS), and where the sum is NaN (full_sum's _lane_nan picks its NaN)."""
    key = (a.shape, a.dtype.char)
    fn = _SUMS.get(key, False)
    if fn is False:
        if len(_SUMS) >= _SUMS_MAX:
            _SUMS.clear()
        fn = _SUMS[key] = _sum_fn(*key)
    if fn is None or not a.flags.c_contiguous:
        return None
    if key == _ONE_VECTOR:  # one vector of float32 lanes: full_sum's order is the values' own; vector_sum adds them
        r = TS.vector_sum(a)  # in one NumPy call (accumulate), where Python's float32 scalar additions cost ~50% more
        if r is None:
            return None
        v = r.item()
        return r if v == v else None  # (a NaN sum: None, as the other sizes give it)
    return fn(a)


def sum_kernel(entry):
    """reduction_sum's `sum` forward (_sum_all) on a small float32/float64 array: small_full_sum; else the entry."""

    def sum_all(a, dtype=None):
        if dtype is None and type(a) is _ndarray and a.ndim and a.size <= 16:
            r = small_full_sum(a)
            if r is not None:
                return r
        return entry(a, dtype)

    return sum_all


def mean_kernel(entry):
    """reduction_sum's `mean` forward (`entry`: _mean over every axis) on a small float32/float64 array of at least one
    dimension: _mean's own steps there, torch's full sum (small_full_sum: full_sum's bits, what _fsum takes) divided
    by the count (np.true_divide, as _mean: a NumPy scalar of the array's dtype), without its dtype checks, the
    dispatch to _fsum and its np.errstate (a lowered program runs under np.errstate(all="ignore") already: the error
    state decides warnings, never values); else the entry (another dtype, a dtype argument, a 0-d or larger array, a
    NaN sum)."""

    def mean_all(a, dtype=None):
        if dtype is None and type(a) is _ndarray and a.ndim and a.size <= 16:
            r = small_full_sum(a)
            if r is not None:
                return _true_divide(r, a.size)
        return entry(a, dtype)

    return mean_all


_true_divide = np.true_divide


def sum_to_shape(entry):
    """The lowered backward's sum of a gradient to its input's shape (`entry`: reduction_sum.sum_to_shape_array):
    to a 0-d shape from a small float32/float64 array, small_full_sum (what full_sum, and vector_sum where it
    applies, give: bit-identical, tests/engine/test_torch_bits.py); else the entry."""

    def to_shape(a, shape):
        if shape == () and type(a) is _ndarray and a.ndim and a.size <= 16:
            r = small_full_sum(a)
            if r is not None:
                return r
        return entry(a, shape)

    return to_shape


# ----- binary_cross_entropy_with_logits -----

_NONE, _MEAN, _SUM = 0, 1, 2  # engine.ops.loss_common's reductions


def bcel_kernel(entry):
    """loss_elementwise's binary_cross_entropy_with_logits forward (`entry`: _bcel_fwd) where it takes its plain
    route (_bcel_plain: no weights, input and target float32/float64 arrays of one dtype and shape, not empty):
    the same 9 NumPy calls into the same two buffers, without its np.errstate (a lowered program runs under
    np.errstate(all="ignore") already: plans._call_lowered, lowered_checked, batch; the error state decides
    warnings, never values), and the reduction _reduce_arr's: torch's full sum (small_full_sum, full_sum, else
    reduction._fsum, as _fsum takes them), divided by the count for a mean, as a 0-d array. Anything else goes
    to the entry."""

    def bcel(a, t, weight=None, pos_weight=None, reduction=_MEAN):
        if (weight is None and pos_weight is None and type(a) is _ndarray and type(t) is _ndarray
                and B.xp is np and a.ndim and a.size and a.shape == t.shape):
            c = a.dtype.char
            if (c == "f" or c == "d") and t.dtype.char == c and (reduction == _MEAN or reduction == _SUM):
                loss = bcel_elements(a, t)
                r = small_full_sum(loss) if loss.size <= 16 else None
                if r is None:
                    r = TS.full_sum(loss)
                    if r is None:
                        r = R._fsum(loss, None, False)
                if reduction == _MEAN:
                    return np.asarray(np.true_divide(r, loss.size))
                return np.asarray(r)
        return entry(a, t, weight, pos_weight, reduction)

    return bcel


_MAKERS = {"sigmoid": sigmoid_kernel, "sum": sum_kernel, "mean": mean_kernel,
           "binary_cross_entropy_with_logits": bcel_kernel}
_KERNELS: dict = {}  # an entry's forward -> its kernel, made on first use


def kernel(op):
    """The function a lowered program calls for op table entry `op`: its kernel here, else its own forward."""
    make = _MAKERS.get(op.qualname)
    if make is None:
        return op.forward
    return _made(make, op.forward)


def _made(make, forward):
    k = _KERNELS.get(forward)
    if k is None:
        k = _KERNELS[forward] = make(forward)
    return k


def sum_to_kernel(fn):
    """What a lowered backward calls for the sum of a gradient to its input's shape (`fn`: the registry's
    sum_to_shape_array): sum_to_shape's kernel."""
    return _made(sum_to_shape, fn)
