"""The op table's nodes: `OpNode` (each entry's grad_fn class subclasses it), its saved-value accessors
(`grad_fn._saved_<name>`), and torch's validate_outputs (`_conform`). engine.ops.registry builds one node class per
entry and re-exports these names.

The runtime flags (`_dual`: forward AD; `_SUM_TO`: set by reduction.py) are registry's globals, read here as
`_R.<name>` (the writers set them on engine.ops.registry)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import FREED_MSG, Node
from engine.autograd import graph as _graph
from engine.autograd.graph import PackedSaved as _PackedSaved
from engine.errors import TorchRuntimeError
from engine.ops.saved import _unpack_other, check_saved_output, check_saved_version
from engine.tensor import Tensor

if TYPE_CHECKING:
    from engine.ops.registry import OpDef

_EMPTY: dict = {}  # the attrs / saved tensors of every node that has none (never written to)


class OpNode(Node):
    """grad_fn of one op application; subclassed once per entry so type(node).__name__ is torch's."""

    __slots__ = ("_saved", "_attrs", "_needs", "_in_meta", "_released", "_bwd")
    op: OpDef = None
    num_outputs = 1  # each entry's node class sets its own (a class attribute: read per node in backward)

    def release(self):
        if self.op.saves_tensors:
            self._released = True
            self._saved = None

    def _resolve(self, name):
        op = self.op
        kind = op.argkind[name]
        if kind == 0:  # tensor input
            if self._released:
                raise TorchRuntimeError(FREED_MSG)
            t = self._saved[name]
            if type(t) is not Tensor:
                return _unpack_other(self, name, t)
            if t._vc is not None:
                check_saved_version(t, self._saved.get(("v", name), 0))
            return t
        if kind == 1:  # an output
            if self._released:
                raise TorchRuntimeError(FREED_MSG)
            arr = self._saved[name]
            if type(arr) is _graph.Packed:
                return arr.unpack(self)
            nr = 0 if name == "result" else int(name[6:])
            out = self._saved.get(("out", nr))
            if out is not None:
                check_saved_output(self, nr, *out)
            return _unpack_output(self, arr, nr)
        if kind == 2:
            return self._in_meta[op.tensor_index[name[:-6]]][0]
        if kind == 3:
            return D.FROM_NP[self._in_meta[op.tensor_index[name[:-6]]][1]]
        attrs = self._attrs
        return attrs[name] if name in attrs else op.defaults.get(name)

    def apply(self, grads, create_graph):
        if type(self._saved) is _PackedSaved:  # saved through hooks: each unpacked once a call, as torch does
            return _graph.apply_unpacked(self, grads, create_graph)
        op = self.op
        plan = op.vjp_plan
        if plan is not None and not create_graph and B.xp is np and not self._released and not _R._dual:
            out = self._apply_arrays(plan, grads[0])
            if out is not None:
                return out
        g = grads[0] if op.nout == 1 else grads
        needs = self._needs
        out = [None] * len(needs)
        # nothing records (and no tangent propagates): broadcast sums may run on the arrays
        arrays = not create_graph and B.xp is np and not _R._dual
        for f in op.formulas:
            inputs = f.inputs
            if len(inputs) == 1:
                i = inputs[0]
                if needs[i]:
                    out[i] = f.fn(g, *[self._resolve(n) for n in f.argnames])
                continue
            if not any(needs[i] for i in inputs):
                continue
            args = [self._resolve(n) for n in f.argnames]
            res = f.fn(g, *args, output_mask=needs) if op.joint_mask else f.fn(g, *args)
            for i, r in zip(inputs, res):
                out[i] = r
        meta = self._in_meta
        for i, gi in enumerate(out):
            if gi is not None and needs[i]:
                out[i] = _conform(gi, meta[i], arrays)
            elif not needs[i]:
                out[i] = None
        diff = op.diff_index
        return out if diff is None else [out[i] for i in diff]

    def _apply_arrays(self, plan, g):
        """apply without create_graph, where the entry has array formulas (defop's vjp=): nothing records
        the formulas, so they run on the arrays (the same operations in the same order, so the same bits)
        instead of dispatching engine ops per term, with their arguments resolved ahead (OpDef.vjp_plan).
        Only where every operand has the gradient's dtype: None sends a mixed-dtype node to the Tensor
        route, where torch's promotion rules apply."""
        if type(g) is not Tensor:
            return None
        out = self._raw(g._data)
        if out is None:
            return None
        make = Tensor._make
        return [None if r is None else make(r) for r in out]

    def _saved_attr(self, key):
        """torch's grad_fn._saved_<name>: a saved input or output (version-checked, as torch unpacks it), an
        attribute (`_saved_exponent`), an input's shape (`_saved_self_sym_sizes`: key `self_shape`); None where
        this node did not need to save it."""
        op = type(self).op
        kind = op.argkind.get(key, 4)
        if kind in (0, 1) and key not in (self._saved or {}) and not self._released:
            return None
        value = self._resolve(key)
        return tuple(value) if key.endswith("_shape") else value


def _saved_accessors(op) -> dict:
    """The node class's `_saved_<name>` and `_raw_saved_<name>` properties, one per name its entry has (its
    arguments and attributes; `<input>_sym_sizes` for an `<input>_shape`). Properties, not a __getattr__: a class
    with one pays a slower lookup on every attribute read of every node (Python's attribute fast paths skip it)."""
    out = {}
    for key in (*op.argkind, *op.params):
        name = "_saved_" + key
        if name.endswith("_sym_sizes"):  # read as <input>_shape (never as itself)
            continue
        out[name] = property(lambda self, key=key: self._saved_attr(key))
        if key.endswith("_shape"):
            out["_saved_" + key[:-6] + "_sym_sizes"] = out[name]
        if op.argkind.get(key) in (0, 1):
            out["_raw_saved_" + key] = property(lambda self, key=key: _raw_saved(self, key))
    return out


def _raw_saved(node, key):
    raw = _graph.raw_saved(node, key)
    if raw is None:
        raise AttributeError(f"'{type(node).__name__}' object has no attribute '_raw_saved_{key}'")
    return raw


def _unpack_output(node, arr, nr):
    t = Tensor._make(arr)
    t._req = True
    t.grad_fn = node
    t._output_nr = nr
    if _R._dual:  # the output's tangent where forward-mode AD gave it one (engine.ops.jvp.attach saved it)
        fw = node._saved.get(("fw", nr)) if node._saved else None
        if fw is not None:
            t._fw = fw
    return t


def _conform(g, meta, arrays=False):
    """torch's validate_outputs: sum a broadcast gradient down to the input's shape, cast its dtype.
    arrays: nothing records (no create_graph, NumPy): the sums run on the array, through the same
    forward as the engine's sum op."""
    shape, dt = meta
    if not isinstance(g, Tensor):
        return Tensor._make(B.xp.full(shape, g, dtype=dt))
    if g._data.shape != shape:
        sum_to_shape, sum_to_shape_array = _R._SUM_TO
        g = Tensor._make(sum_to_shape_array(g._data, shape)) if arrays else sum_to_shape(g, shape)
    if g._data.dtype != dt:
        g = g.to(D.FROM_NP[dt])
    return g


from engine.ops import registry as _R  # noqa: E402 - last: registry imports this module while it loads
