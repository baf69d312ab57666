"""Parts of engine.program.lower: `Lowered` (a lowered program: its function, source and what its callers read),
and the walk's small predicates on values (`_plain` constants, `_same` bits, `_only_retains` hooks). Split out of
lower.py (kept under ~600 lines); lower.py re-exports `Lowered`."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D


class Lowered:
    """A lowered program: fn(leaf arrays...) -> (data per response name, grad per response name)."""

    __slots__ = ("fn", "source", "leaf_np", "reprs", "writer", "scalar_leaves", "caller", "single", "guarded")

    def __init__(self, fn, source, leaf_np, reprs, scalar_leaves=True, single=None):
        self.fn = fn
        # a single request's function: fn with its lines over constants alone computed once (lower_fold), or fn
        self.single = single if single is not None else fn
        self.source = source  # the generated Python, for reading (docs/ENGINE.md, "Lowering")
        self.leaf_np = leaf_np  # each leaf's NumPy dtype, as _make_tensor converts its data
        self.reprs = reprs  # per response row, its repr as a function of its one value (JSON, 0-d), or None
        self.writer = None  # engine.program.writer.Writer: the response as JSON bytes (JSON encoding only)
        # a one-value float leaf may be passed as a NumPy scalar (NumPy's scalar arithmetic is faster than a 0-d
        # array's): only where every call is an elementwise array formula, for which the two agree (Program.
        # _run_lowered); elsewhere each leaf is the array make_tensor makes, as the full path has it
        self.scalar_leaves = scalar_leaves
        self.caller = None  # plans._call_lowered's conversion of the leaves and call of fn, made on first use
        # it has guards (value_guard): documents that take another branch cost what that branch costs, not the
        # recording's cost its replay charges at its start, so a refusal by that charge is not final (Program.run)
        self.guarded = False


_CONSTANT_TYPES = (type(None), bool, int, float, str)
_ARRAYS = (np.ndarray, np.generic)


def _plain(v) -> bool:
    """A constant the generated code may hold: plain data (numbers, strings, None, dtypes, and lists, tuples
    and slices of them). Whether a number is the structure's or was derived from values is for the checks at
    other values to show."""
    if isinstance(v, _CONSTANT_TYPES) or isinstance(v, D.dtype) or v is Ellipsis:
        return True
    if isinstance(v, tuple | list):
        return all(_plain(x) for x in v)
    if isinstance(v, slice):
        return _plain(v.start) and _plain(v.stop) and _plain(v.step)
    return False


def _only_retains(hk) -> bool:
    """A node's hooks (engine.autograd.hooks.NodeHooks) hold nothing but retain_grad captures: no tensor hook, pre-,
    post- or post-accumulate hook, whose code a lowered function would not run."""
    return hk is None or (not any(hooks for _ref, _nr, hooks in hk.tensor_pre) and not hk.pre and not hk.post
                          and not hk.post_acc)


def _same(a, b) -> bool:
    """Bit for bit: the same type of value (array or NumPy scalar), shape, dtype and bytes."""
    return (type(a) is type(b) and getattr(a, "shape", None) == getattr(b, "shape", None)
            and getattr(a, "dtype", None) == getattr(b, "dtype", None)
            and np.asarray(a).tobytes() == np.asarray(b).tobytes())
