"""Glue: which Python code ran between the entries' forwards (catalog functions, Tensor formulas, helpers), and
whether any of it reads tensor values.

A lowered program (engine.program.lower) calls the entries' forwards again on new arrays, so a decision a forward
takes on values is taken again; the code around them, which chose those entries and their constants, is not run
again: it is written down as the recording ran it. Where that code looked at values (`if (x == 0).any():`, a
constant from `.item()`), the lowered program would answer for the recording's values, not the request's (cumprod's
backward takes another formula where its input has a zero). `watch` records, with the interpreter's profile hook,
every Python function a call runs outside the forwards (and outside the entries' cost rules, which read shapes);
`reads_values` says whether a function's source reads values, conservatively (a pattern, not a proof: a false
alarm only keeps a program from lowering).
"""
from __future__ import annotations

import linecache
import re
import sys

from engine.ops.registry import REGISTRY

# reading tensor values into Python: a truth value, a number, a list, the positions of nonzeros (a Tensor's
# __bool__ / __float__ are Python methods: a watch sees their lines run). Calls of int/float/bool are most often
# of attributes and shapes: those lines are listed in STRUCTURAL once read
_READS = re.compile(r"\.(any|all|item|tolist|nonzero)\(|\bnp\.(any|all|allclose|array_equal|nonzero|flatnonzero|"
                    r"argwhere|unique|isclose|count_nonzero)\(|\b(int|float|bool|complex|index)\(")
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
# modules whose code is the engine's machinery around every call, never a decision on values (its charges, records,
# graph), read once here
_MACHINERY = ("engine/budget.py", "engine/ops/rules.py", "engine/ops/registry.py", "engine/autograd/__init__.py",
              "engine/program/glue.py", "engine/program/lower.py", "engine/dtypes.py", "engine/_backend.py",
              # split out of engine/ops/registry.py (the same machinery, in modules of one job each)
              "engine/ops/array_vjp.py", "engine/ops/catalog_entry.py", "engine/ops/charging.py",
              "engine/ops/promotion.py", "engine/ops/saved.py", "engine/ops/schema.py", "engine/ops/tracing.py",
              # split out of engine/autograd/__init__.py
              "engine/autograd/modes.py", "engine/autograd/nodes.py")

_opaque: dict = {"n": -1, "codes": frozenset()}
_verdicts: dict = {}


def _opaque_codes():
    """Code of every entry's forward and cost rule: what a watch does not look into (a forward runs again at
    replay; a rule reads shapes). Recomputed when entries are added."""
    if _opaque["n"] != len(REGISTRY):
        codes = set()
        for op in REGISTRY.values():
            for f in (op.forward, op.array_forward, getattr(op.rule, "fn", None)):
                c = getattr(f, "__code__", None)
                if c is not None:
                    codes.add(c)
        _opaque["codes"] = frozenset(codes)
        _opaque["n"] = len(REGISTRY)
    return _opaque["codes"]


class watch:  # noqa: N801 - a context manager
    """`with watch() as lines:` the (code, line number) pairs of the engine's Python code run on this thread
    meanwhile, outside the entries' forwards and rules and what they call. It borrows the thread's trace hook
    (sys.settrace), and gives back the one it found."""

    def __enter__(self):
        self.lines: set = set()
        self.inside = None  # the frame of the forward or rule being run, while one is
        self.prev = sys.gettrace()
        opaque = _opaque_codes()
        lines = self.lines

        def local(frame, event, arg):
            if event == "line":
                lines.add((frame.f_code, frame.f_lineno))
            return local

        def leave(frame, event, arg):  # in a forward or rule: only its return matters
            if event == "return" and frame is self.inside:
                self.inside = None
            return leave

        def hook(frame, event, arg):
            if self.inside is not None:
                return None
            code = frame.f_code
            if code in opaque:
                self.inside = frame
                frame.f_trace_lines = False
                return leave
            if "/engine/" not in code.co_filename.replace("\\", "/"):
                return None  # a library's code (NumPy's): a kernel; the engine line that called it is seen
            return local

        sys.settrace(hook)
        return lines

    def __exit__(self, *exc):
        sys.settrace(self.prev)
        return False


# Lines that match _READS but read no tensor value (reviewed): a number of the document or of an attribute, a
# shape. A line changed since no longer matches its entry here, and counts as a read again (a program then only
# keeps its Program's replay).
STRUCTURAL = frozenset((
    "return (as_device(dev) if dev is not None else None), dt, bool(copy)",  # Tensor.to's copy flag
    "shape = [int(s) for s in shape]",  # a size argument (a size given as a tensor is checked per replay)
    "step = max(min(int(step), _INT64_MAX), -_INT64_MAX)",  # a slice's bounds: the document's integers
    "start = max(min(int(start), _INT64_MAX), _INT64_MIN)",
    "stop = max(min(int(stop), _INT64_MAX), _INT64_MIN)",
    "return _apply_select(self, 0, int(index), 0), []",  # an integer index (_is_int: no tensor)
    "result = _apply_select(result, dim, int(obj), i)",
    "return layer_norm_op(input, [int(s) for s in normalized_shape], weight, bias, eps)",
    "return batch_norm_op(input, weight, bias, running_mean, running_var, bool(training), float(momentum),",
    "float(eps))",
    "p = float(ord)",  # a norm's order
    "return int(self._data.size)",  # numel
    "return [int(v)] * n",  # a convolution's stride, padding, dilation
    "return [int(i) for i in v]",
    "split_size = int(split_size)",  # split's piece size
    "return _split_tensor(tensor, int(split_size_or_sections), dim)",
))


def value_read(code, lineno) -> str | None:
    """Where this line reads tensor values, as 'file:line: text', or None."""
    key = (code.co_filename, lineno)
    verdict = _verdicts.get(key, 0)
    if verdict != 0:
        return verdict
    found = None
    path = code.co_filename.replace("\\", "/")
    if not any(path.endswith(m) for m in _MACHINERY):
        line = linecache.getline(code.co_filename, lineno)
        text = _STRINGS.sub('""', line).split("#", 1)[0].strip()
        if _READS.search(text) and text not in STRUCTURAL:
            found = f"{path.rsplit('/engine/', 1)[-1]}:{lineno}: {text}"
    _verdicts[key] = found
    return found


def first_value_read(lines) -> str | None:
    """The first of these lines that reads values (in file order, for a stable answer), or None."""
    for code, lineno in sorted(lines, key=lambda cl: (cl[0].co_filename, cl[1])):
        found = value_read(code, lineno)
        if found is not None:
            return found
    return None
