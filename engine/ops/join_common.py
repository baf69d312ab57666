"""The join family's shared pieces: the formula holder of per-arity entries, zero arrays, int-list arguments, and
the limits and charges of entries and rules over many operands or pieces."""
from __future__ import annotations

import inspect

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.ops import rules as R
from engine.tensor import Tensor


class _Formula:
    """A formula taking its arguments positionally under names given at run time (for n-ary entries)."""

    def __init__(self, fn, names):
        self.fn = fn
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("grad", *names)]
        self.__signature__ = inspect.Signature(params)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _zeros(shape, dtype):
    return Tensor._make(B.xp.zeros(tuple(shape), dtype=dtype))


def _grad_dtype(grads):
    for g in grads:
        if g is not None:
            return g._data.dtype
    return np.float32


def _ints(seq):
    if isinstance(seq, int | np.integer):
        return (int(seq),)
    return tuple(int(s) for s in seq)


def _vararg_ints(first, more, name):
    """f(2, 3), f((2, 3)) and f([2, 3]) as torch's IntArrayRef arguments."""
    if first is None:
        return ()
    if more:
        return _ints((first, *more))
    if isinstance(first, Tensor):
        return (int(first),) if first.ndim == 0 else tuple(int(x) for x in first.tolist())
    return _ints(first)


# Entries with this many outputs or fewer are made once per arity and kept; past it, per call (a client that
# asked for every arity would otherwise grow the caches, each entry's schema as long as its arity).
_KEEP_ARITY = 64
# Past this many pieces a rule stops listing their shapes (its own time and memory would grow with the
# request): it bounds their elements by the input's (exact=False), with the pieces' objects in temp.
_LIST_PIECES = 4096


def _many(n, what):
    """Charge n operands' or pieces' Python objects and steps before a list or an entry of n is made: an
    entry of n parameters holds about 900 bytes for each (its schema, names, indices, save plans)."""
    _budget.charge(n, 2048, R.PY_STEP * n, what=what)


def _pieces_cost(shape, d, sizes):
    """Views, one per size along d: their elements, and a Python step and objects per piece."""
    k = len(sizes)
    if k > _LIST_PIECES:
        return R.Cost((tuple(shape),), R.PY_STEP * k, R.OBJECT * k, exact=False)
    outs = tuple(tuple(shape[:d]) + (s,) + tuple(shape[d + 1:]) for s in sizes)
    out = outs[0] if k == 1 else outs
    return R.Cost(out, R.PY_STEP * k, R.OBJECT * k if k > 1 else 0)
