"""Vectorized batches (POST /v1/evaluate/batch): documents of one structure answered by one call of their lowered
function over their leaf values stacked along a new leading axis.

A Program lowered to a function over arrays (engine.program.lower) computes every document of its structure
with the same calls on arrays of the same shapes. Where each of those calls is elementwise (an op of
ELEMENTWISE, whose forward and array formulas act on each element alone, with scalar constants), the same
function run on arrays with a leading batch axis computes every document at once: leaves of rank r are stacked
to shape (B,) + (1,) * (R - r) + shape (R the highest leaf rank), so that broadcasting aligns each document's
dims exactly as it does alone, and the batch axis meets only itself. Each document's response is then written
from its slice by the Program's own writer (or response document), the bytes the per-document path writes:
elementwise NumPy loops compute an element the same way in an array of one or of many, which `run` checks on
one document of every call (its per-document bytes against its slice's) before it answers; a Program that
ever disagrees is marked and never vectorized again. Anything else (a reduction, a matmul, a broadcast
gradient summed back to its shape, a program that did not lower) is not vectorized: the caller runs those
documents one by one, never to a different answer.

The leaf values come as each document's arrays, or already stacked (Stacked: a batch read as text,
engine.program.batch_text). An all-scalar program's answers are written a hole at a time over all documents
(engine.program.batch_write.FastWriter, a Written of pieces); the others by the writer, document by document.
"""
from __future__ import annotations

import re

import numpy as np
import orjson

from engine import _backend as B
from engine import budget as _budget
from engine.ops.registry import REGISTRY
from engine.program.batch_write import fast_writer
from engine.program.respond import encode
from engine.program.wire import cast, check_int_range, fast_leaf

# Lowerable entries whose forward and array formulas are elementwise: each output element is a function of the
# operands' elements at its (broadcast) position and of scalar constants.
ELEMENTWISE = frozenset(("add.Tensor", "sub.Tensor", "mul.Tensor", "mul.Scalar", "div.Tensor", "pow.Tensor_Scalar",
                         "neg", "exp", "log", "sqrt", "sin", "cos", "tanh"))
_FORWARD = re.compile(r"^    y\d+ = (k\d+)\((.*)\)  # (\S+)$")
_BACKWARD = re.compile(r"^    g\d+ = (k\d+)\((.*)\)  # (\w+): \w+$")
_SUMMED = re.compile(r"^    g\d+ = g\d+ \+ g\d+  # summed in the buffer$")
_IMPLICIT = re.compile(r"^    g\d+ = (k\d+)\.copy\(\)  # the implicit gradient$")
_SCALARS = (bool, int, float, type(None))
NOTE = "vectorized"  # Program.notes[NOTE]: False once the program is found not to vectorize


def vectorizable(program) -> bool:
    """Whether the Program's lowered function runs batched (see the module); decided once, kept in its notes."""
    known = program.notes.get(NOTE)
    if known is None:
        known = program.notes[NOTE] = _elementwise(program)
    return known


def _elementwise(program) -> bool:
    low = program.lowered
    if not low or B.xp is not np or program.respond is None:
        return False
    ns = low.fn.__globals__
    lines = low.source.splitlines()
    nodes = set()
    for line in lines[1:-1]:
        m = _FORWARD.match(line)
        if m is not None:
            op = REGISTRY.get(m[3])
            if m[3] not in ELEMENTWISE or op is None or ns.get(m[1]) is not op.forward:
                return False
            nodes.add(op.grad_fn_name)
            if not _scalar_constants(m[2], ns):
                return False
            continue
        m = _BACKWARD.match(line)
        if m is not None:
            if m[3] not in nodes or not _scalar_constants(m[2], ns):
                return False
            continue
        m = _IMPLICIT.match(line)
        if m is not None:
            if getattr(ns.get(m[1]), "size", 0) != 1:
                return False
            continue
        if _SUMMED.match(line) is None:
            return False  # a gradient summed to an input's shape (`# to ...`), or anything unforeseen
    return lines[-1].startswith("    return (")


def _scalar_constants(args: str, ns) -> bool:
    for a in args.split(", "):
        if a.startswith("k") and not isinstance(ns.get(a), _SCALARS):
            return False
    return True


def run(program, arrays_list: list) -> list[bytes] | None:
    """Each document's response bytes, as Program.run(..., encoded=True) gives them, for documents of the
    program's structure given by their leaf arrays (PlanCache.key's); None where it does not vectorize (then
    nothing was charged but the check's run, and the caller answers each document alone). The documents'
    cost, the recorded run's times their number, is charged to the current budget first."""
    if not len(arrays_list) or not vectorizable(program):
        return None
    low = program.lowered
    n = len(arrays_list)
    bud = _budget.current()
    if bud is not None:
        bud.charge(n * program.cost[0], n * program.cost[1], "the batch's documents")
    try:
        out = _run(program, low, arrays_list, n)
    except _ValuesDoNotConvert:  # these documents' values, not the structure: it stays vectorizable for the next
        if bud is not None:  # nothing was computed; each document is charged again when it runs alone
            bud.used_flops -= n * program.cost[1]
        return None
    except Exception:  # noqa: BLE001 - shapes that do not stack or broadcast as foreseen: not vectorized
        out = None
    if out is None:
        program.notes[NOTE] = False
    return out


class _ValuesDoNotConvert(Exception):
    """A document's value does not fit its leaf's dtype (3e9 for an int32 leaf): that document's own error (its
    separate request's 422), found while stacking, before anything is computed."""


class Stacked:
    """Documents of one structure given by their leaf values already stacked (engine.program.batch_text):
    `columns` per leaf, (documents,) + its shape; `first`: the first document's leaf arrays as PlanCache.key
    gives them (for the check); `cap`: the most bytes the C filler may make of their answers, the wraps included
    (batch_write.FastWriter.write_all; past it the pieces are made, as without the filler); None: no cap."""

    __slots__ = ("columns", "first", "n", "wrap", "cap")

    def __init__(self, columns: list, first: list, n: int, wrap: tuple = (b"", b""), cap: int | None = None):
        self.columns, self.first, self.n = columns, first, n
        self.wrap = wrap  # texts around each document's response (batch_write.Written), where the fast writer runs
        self.cap = cap

    def __len__(self):
        return self.n


def _run(program, low, arrays_list, n):
    stacked = type(arrays_list) is Stacked
    first = arrays_list.first if stacked else arrays_list[0]
    ranks = [np.ndim(a) for a in first]
    rank = max(ranks, default=0)
    xs = []
    for i, dt in enumerate(low.leaf_np):
        if stacked:
            try:
                check_int_range(arrays_list.columns[i], dt)  # make_tensor's check (redteam7 F2: no wrap-around)
            except OverflowError as e:
                raise _ValuesDoNotConvert from e
            with np.errstate(all="ignore"):  # a float16 leaf's overflow is inf, as its conversion alone gives
                x = cast(arrays_list.columns[i], dt, copy=False)
        else:
            column = [arrays[i] for arrays in arrays_list]
            try:
                x = column if type(column[0]) is float else np.stack(column)
                check_int_range(x, dt)  # make_tensor's check (redteam7 F2: 3e9 into int32 wrapped)
                x = np.array(x, dt) if type(x) is list or x.dtype.kind != "i" else cast(x, dt)
            except OverflowError as e:
                raise _ValuesDoNotConvert from e
        xs.append(x.reshape((n,) + (1,) * (rank - ranks[i]) + x.shape[1:]))
    with np.errstate(all="ignore"):
        data, grads = low.fn(*xs)
    rows = program.fixed[0]
    floats = low.writer is not None  # the writer reads a 0-d float as float(v): Python floats will do
    fast = fast_writer(program, low, rows, grads)
    if fast is not None:  # every row 0-d: per row one (n,) column
        data = [_per_document(d, (), n, rank, None) for d in data]
        grads = [None if g is None else _per_document(g, (), n, rank, None) for g in grads]
        out = fast.write_all(data, grads, n, *((arrays_list.wrap, arrays_list.cap) if stacked else ()))
        if out.left:  # the documents left to the writer, which reads their values as Python floats
            data = [d.tolist() for d in data]
            grads = [None if g is None else g.tolist() for g in grads]
            for j in out.left:
                out.put(j, _write(low, program, [d[j] for d in data], [None if g is None else g[j] for g in grads]))
    else:
        data = [_per_document(d, row[1], n, rank, floats) for d, row in zip(data, rows)]
        grads = [None if g is None else _per_document(g, row[1], n, rank, floats) for g, row in zip(grads, rows)]
        out = [_write(low, program, [d[j] for d in data], [None if g is None else g[j] for g in grads])
               for j in range(n)]  # the writer, document by document
    # the check: one document of every call, alone, as the per-document path answers it
    alone = program._run_lowered(None, first, encoded=True)
    return out if (encode(alone) if type(alone) is dict else alone) == out[0] else None


def _per_document(col, shape, n, rank, floats):
    """A batched output as a sequence of per-document values: each document's array of `shape`, or for 0-d
    outputs its NumPy scalar (a Python float where `floats`, for the writer). An output that does not depend on
    the batch (a constant gradient) is broadcast to it."""
    padded = (n,) + (1,) * (rank - len(shape)) + tuple(shape)
    if col.shape != padded:
        col = np.broadcast_to(col, padded)  # raises where the shapes disagree: the caller falls back
    if not shape:
        flat = col.reshape(n)
        if floats is None:
            return flat  # the column itself
        return flat.tolist() if floats and flat.dtype.kind == "f" else list(flat)
    return [c.reshape(shape) for c in col]


def _write(low, program, data, grads) -> bytes:
    if low.writer is not None:
        return low.writer.write(data, grads)
    return encode(program._lowered_doc(data, grads))


# ----- grouping: which documents of a batch share a structure -----


def keys(specs: list, cache, limits) -> list:
    """Per document, cache.key(spec, limits) (its PlanCache key and leaf arrays), or None where it has none;
    computed once per structure: a document whose text, its leaves' data masked, equals one seen before, and
    whose data have that one's kinds and shapes, has its key (what PlanCache.key reads of a document is its
    text but for the data's values, and of the data their kinds and shapes)."""
    seen: dict = {}  # masked text -> (key, the data's kinds and shapes)
    out = []
    for spec in specs:
        text, sig, arrays = _masked(spec)
        ref = seen.get(text) if sig is not None else None
        if ref is not None and ref[1] == sig:
            out.append((ref[0], arrays))
            continue
        k = cache.key(spec, limits)
        if k is not None and sig is not None:
            seen[text] = (k[0], sig)
        out.append(k)
    return out


_NONE = (None, None, None)


def _masked(spec):
    """(the document's JSON with every leaf's data replaced by 0, the data's kinds and shapes as PlanCache.key
    reads them, the leaf arrays as it gives them); _NONE for a document it would not key that way. The leaves
    are changed in place for the moment of the dump, and restored."""
    try:
        lspecs = list(spec["leaves"].values())
        values = [lspec["data"] for lspec in lspecs]
    except (TypeError, KeyError, AttributeError):
        return _NONE
    sig, arrays = [], []
    for v, lspec in zip(values, lspecs):
        if type(v) is float:
            sig.append(None)
            arrays.append(v)
            continue
        a = fast_leaf(v, lspec) if type(v) in (list, int, bool) else None
        if a is None:
            return _NONE
        sig.append((a.shape, a.dtype.kind))
        arrays.append(a)
    try:
        for lspec in lspecs:
            lspec["data"] = 0
        return orjson.dumps(spec), sig, arrays
    except (TypeError, orjson.JSONEncodeError):
        return _NONE
    finally:
        for lspec, v in zip(lspecs, values):
            lspec["data"] = v
