"""The generated array backward: an op entry's array formulas (defop's vjp=) as one function per entry.

OpNode._raw is _lazy_raw until a node of the entry first runs backward without create_graph; _make_raw then writes
out the entry's plan (OpDef.vjp_plan) as Python source, compiles it once and keeps it on the node class. Moved out of
engine.ops.registry, which re-exports both names.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine import parallel as _P
from engine.autograd import graph as _graph
from engine.autograd.graph import PackedSaved as _PackedSaved
from engine.ops._torch_sum import vector_sum
from engine.ops.formula_inline import expression, typed_constants
from engine.ops.saved import _unpack_other, check_saved_output, check_saved_version
from engine.tensor import Tensor


def _lazy_raw(node, g):
    """A node class's `_raw` until first called: generates the entry's (_make_raw), keeps it on the class."""
    cls = type(node)
    cls._raw = _make_raw(cls.op)
    return node._raw(g)


def _make_raw(op):
    """`node._raw(g)`: OpNode.apply(grads=[Tensor(g)], create_graph=False) for an entry with array formulas
    (OpDef.vjp_plan), over arrays: each input's gradient as an array, summed to its shape and cast to its
    dtype as _conform does (None where the input needs none), or None where the node must take the Tensor
    route (freed saved tensors, another backend than NumPy, an operand of another dtype than the gradient's,
    where torch's promotion applies). Written out per entry, its plan unrolled: the saved values read, their
    version counters checked, in the order the loop over the plan did (tests/engine/test_array_vjp.py)."""
    from engine.ops import registry  # noqa: PLC0415 - its _SUM_TO is set by engine.ops.reduction at import

    ns = {"Tensor": Tensor, "np": np, "B": B, "check_saved_version": check_saved_version,
          "check_saved_output": check_saved_output, "SUM_TO": registry._SUM_TO[1], "D": D,
          "VSUM": vector_sum, "ndarray": np.ndarray, "F16": np.dtype(np.float16),
          "unpack_other": _unpack_other, "Packed": _graph.Packed, "PackedSaved": _PackedSaved}
    lines = ["def raw(self, g):",
             "    # saved through hooks: OpNode.apply unpacks each saved tensor once a call (graph.apply_unpacked)",
             "    if self._released or B.xp is not np or type(self._saved) is PackedSaved:",
             "        return None",
             "    dt = g.dtype",
             "    needs = self._needs",
             "    saved = self._saved",
             "    meta = self._in_meta"]
    results = []
    for i, (fn, spec) in enumerate(op.vjp_plan):
        ns[f"f{i}"] = fn
        # an elementwise formula (engine.parallel.elementwise) with one thread is its function's own call: that
        # function is called, one frame less (the threads are read at every call: engine.parallel.configure); not
        # while tracing (a lowering's watch, engine/program/glue.py, knows the wrapper's code as the entry's)
        call = f"f{i}"
        if hasattr(fn, "parallel_into"):
            ns["P"], ns["R"], ns[f"f{i}_fn"] = _P, registry, fn.__wrapped__
            call = f"(f{i}_fn if P._threads == 1 and not R._tracing else f{i})"
        lines.append(f"    if needs[{i}]:")
        args = []
        for j, (kind, name) in enumerate(spec):
            v = f"v{i}_{j}"
            if kind == 0:
                lines += [f"        {v} = saved[{name!r}]",
                          f"        if type({v}) is Tensor:",
                          f"            if {v}._vc is not None:",
                          f"                check_saved_version({v}, saved.get(('v', {name!r}), 0))",
                          f"            {v} = {v}._data",
                          # `is` first: an operand's dtype is most often the gradient's very object, and `!=`
                          # alone costs ~590 instructions against ~310 (callgrind, docs/runs/opcost2.md)
                          f"            if {v}.dtype is not dt and {v}.dtype != dt:",
                          "                return None",
                          "        else:  # a Parameter, a packed tensor (engine.autograd.graph), a number",
                          f"            {v} = unpack_other(self, {name!r}, {v})",
                          f"            if isinstance({v}, Tensor):",
                          f"                {v} = {v}._data",
                          # a number beside float16: torch's kernels read it in float32 (opmath), the Tensor
                          # formulas' ops (mul / div) do too; NumPy would round it to half first (parity19)
                          f"            elif dt is F16 and (type({v}) is float or type({v}) is int):",
                          "                return None",
                          f"            if getattr({v}, 'dtype', dt) != dt:",
                          "                return None"]
            elif kind == 1:
                nr = 0 if name == "result" else int(name[6:])
                lines += [f"        {v} = saved[{name!r}]",
                          f"        if type({v}) is Packed:",
                          f"            {v} = {v}.unpack(self)._data",
                          f"        elif ('out', {nr}) in saved:",
                          f"            check_saved_output(self, {nr}, *saved[('out', {nr})])"]
            elif kind == 4:  # an attribute (alpha): OpNode._resolve's last case, inline (a method call less a node)
                ns["defaults"] = op.defaults
                lines.append(f"        {v} = attrs[{name!r}] if {name!r} in (attrs := self._attrs) "
                             f"else defaults.get({name!r})")
            else:
                lines.append(f"        {v} = self._resolve({name!r})")
            if kind != 0:
                lines += [f"        {v}_dt = getattr({v}, 'dtype', dt)",
                          f"        if {v}_dt is not dt and {v}_dt != dt:",
                          "            return None"]
            args.append(v)
        r = f"r{i}"
        # a formula of one expression (engine/ops/formula_inline.py) written inline where its function would be
        # called (one thread, not tracing): no frame for it
        consts: dict = {}
        inline = (expression(fn.__wrapped__, ["g", *args], ns, f"c{i}_", consts) if hasattr(fn, "parallel_into")
                  else None)
        if inline is not None:
            # a number as a 0-d array of the gradient's float dtype (typed_constants), where every operand is an
            # array of that dtype: the gradient and saved results (a saved input or an attribute may be a number)
            for c, value in consts.items() if all(kind == 1 for kind, _ in spec) else ():
                if (typed := typed_constants(value)) is not None:
                    ns[f"{c}_of"] = typed
                    lines.append(f"        {c} = {c}_of.get(dt, {value!r})")
            lines.append(f"        {r} = {inline} if P._threads == 1 and not R._tracing else "
                         f"f{i}(g{''.join(', ' + a for a in args)})")
        else:
            lines.append(f"        {r} = {call}(g{''.join(', ' + a for a in args)})")
        lines += [f"        shape, want = meta[{i}]",
                  f"        if {r}.shape != shape:",
                  # a 0-d input's gradient from a small vector (mul by a 0-d w): SUM_TO's first case (vector_sum),
                  # its frame skipped (shape is an array's: () alone is falsy)
                  f"            if (shape or type({r}) is not ndarray or {r}.ndim != 1"
                  f" or ({r}s := VSUM({r})) is None):",
                  f"                {r} = SUM_TO({r}, shape)",
                  "            else:",
                  f"                {r} = {r}s",
                  f"        if {r}.dtype is not want and {r}.dtype != want:",
                  f"            {r} = Tensor._make({r}).to(D.FROM_NP[want])._data",
                  "    else:",
                  f"        {r} = None"]
        results.append(r)
    lines.append(f"    return [{', '.join(results)}]")
    exec(compile("\n".join(lines) + "\n", f"<array backward of {op.qualname}>", "exec"), ns)  # noqa: S102
    return ns["raw"]
