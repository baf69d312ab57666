"""Glue: which Python code ran between the entries' forwards (catalog functions, Tensor formulas, helpers), and
whether any of it reads tensor values.

A lowered program (engine.program.lower) calls the entries' forwards again on new arrays, so a decision a forward
takes on values is taken again; the code around them, which chose those entries and their constants, is not run
again: it is written down as the recording ran it. Where that code looked at values (`if (x == 0).any():`, a
constant from `.item()`, `if a[0] > 0:`, an array it computed itself), the lowered program would answer for the
recording's values, not the request's (cumprod's backward takes another formula where its input has a zero). Such
a decision made through engine.ops.value_guard's `decide` is no read here: its test is not glue (a watch does not
look into it), and the lowered program makes the decision again, as a guard.

`watch` records, with the interpreter's trace hook, every line of the engine's Python code a call runs outside the
forwards, the array formulas (defop's vjp=: a lowered program calls them again) and the entries' cost rules (which
read shapes). Glue can only reach values through an array, so besides the lines it notes, by construction, every
line at which glue code holds one: an array (or NumPy scalar) among a frame's variables (its arguments included),
or returned to it by the engine's code. `first_value_read` declines such a line unless it is reviewed
(ARRAYS_REVIEWED: the line's text, so an edited line counts as unreviewed again), and any line that names an
array's `._data` other than for its shape, dtype or size (a temporary: `if (t._data > 0).any():`), or that matches
the readers' pattern (`.item()`, `bool(...)`: a tensor's own __bool__ is a Python method whose lines are glue).
A false alarm only keeps a program from lowering. What it cannot see: an array used within one line without
being named, `._data`, or returned by the engine's own code (`getattr(t, "_data")[0] > 0`, or an attribute of
some other object read and compared on one line); the engine's glue reads arrays as `._data` (a tensor has
__slots__), and its helpers hand them around as arguments, which the variables show.
"""
from __future__ import annotations

import linecache
import re
import sys

import numpy as np

from engine.ops.registry import ENTRY_CODES, REGISTRY
from engine.ops.value_guard import TESTS

# reading tensor values into Python: a truth value, a number, a list, the positions of nonzeros (a Tensor's
# __bool__ / __float__ are Python methods: a watch sees their lines run). Calls of int/float/bool are most often
# of attributes and shapes: those lines are listed in STRUCTURAL once read
_READS = re.compile(r"\.(any|all|item|tolist|nonzero)\(|\bnp\.(any|all|allclose|array_equal|nonzero|flatnonzero|"
                    r"argwhere|unique|isclose|count_nonzero)\(|\b(int|float|bool|complex|index)\(")
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
# a tensor's array named for its shape, dtype or size only (structure); any other `._data` on a line is its values
_DATA_STRUCTURE = re.compile(r"\._data\.(shape|dtype|ndim|size|itemsize|nbytes)\b")
# modules whose code is the engine's machinery around every call, never a decision on values (its charges, records,
# graph), read once here
_MACHINERY = ("engine/budget.py", "engine/ops/rules.py", "engine/ops/registry.py", "engine/autograd/__init__.py",
              "engine/program/glue.py", "engine/program/lower.py", "engine/dtypes.py", "engine/_backend.py",
              # split out of engine/ops/registry.py (the same machinery, in modules of one job each)
              "engine/ops/array_vjp.py", "engine/ops/catalog_entry.py", "engine/ops/charging.py",
              "engine/ops/promotion.py", "engine/ops/saved.py", "engine/ops/schema.py", "engine/ops/tracing.py",
              "engine/ops/opnode.py", "engine/ops/fastcall.py", "engine/ops/value_guard.py",
              # split out of engine/autograd/__init__.py
              "engine/autograd/modes.py", "engine/autograd/nodes.py", "engine/autograd/backward_loop.py")

_opaque: dict = {"key": None, "codes": frozenset()}
_verdicts: dict = {}


def _opaque_codes():
    """Code of every entry's forward, array formula and cost rule: what a watch does not look into (a forward and
    an array formula run again at replay; a rule reads shapes). Recomputed when entries are added or their
    forwards replaced (a test's wrappers, put back: a stale set would count the forwards' own lines as glue)."""
    key = (hash(tuple([op.forward for op in REGISTRY.values()])), len(ENTRY_CODES), len(TESTS))  # ~20 us
    if _opaque["key"] != key:
        codes = set(ENTRY_CODES)  # also the entries REGISTRY no longer names (split's per number of pieces)
        codes.update(f.__code__ for f in TESTS)  # value_guard's tests: run again at replay
        for op in REGISTRY.values():
            fns = [op.forward, op.array_forward, getattr(op.rule, "fn", None)]
            fns += [fn for fn, _spec in (op.vjp_plan or ())]
            for f in fns:
                c = getattr(f, "__code__", None)
                if c is not None:
                    codes.add(c)
        _opaque["codes"] = frozenset(codes)
        _opaque["key"] = key
    return _opaque["codes"]


_VALUES = (np.ndarray, np.generic)
_glue_code: dict = {}  # code -> whether it is glue (the engine's, not machinery): its frames' variables are looked at


def _is_glue(code) -> bool:
    v = _glue_code.get(code)
    if v is None:
        path = code.co_filename.replace("\\", "/")
        v = _glue_code[code] = "/engine/" in path and not any(path.endswith(m) for m in _MACHINERY)
    return v


_SCANNED = frozenset((list, tuple, dict))  # what _holds_values looks into, an item at a time


def _holds_values(obj) -> bool:
    """An array or NumPy scalar, or a list, tuple or dict holding one (one level down)."""
    if isinstance(obj, _VALUES):
        return True
    t = type(obj)
    if t is list or t is tuple:
        return any(isinstance(x, _VALUES) for x in obj)
    if t is dict:
        return any(isinstance(x, _VALUES) for x in obj.values())
    return False


RETURNED = frozenset()  # a watch entry's third item where the engine's code returned an array to glue's line
OVERFLOW = frozenset(("\x00",))  # a watch entry's third item where its work passed its budget (value_read: a read)
# A watch's work (a line seen, and each item of its glue frame's variables looked into) for one lowering run, all its
# watches together: a glue frame holding a list of K tensors made every line of it look at K items, so an einsum of
# K operands or an index list of K ints cost O(K^2) under the trace (K = 600 froze the event loop 19 s, redteam16
# F11). Past it the watch stops tracing and the run is not lowered (its Program's replay stays).
WATCH_WORK = 200_000  # the corpus's largest run takes ~51,000 (32_einsum_bilinear); cat of 100 tensors 42,000


class watch:  # noqa: N801 - a context manager
    """`with watch() as lines:` the (code, line number) pairs of the engine's Python code run on this thread
    meanwhile, outside the entries' forwards, array formulas and rules and what they call; and for each line of
    glue code (the engine's, not its machinery) that ran with arrays or NumPy scalars among its frame's variables
    (arguments and closures included), (code, line number, the names holding them); (code, line number, RETURNED)
    where the engine's code returned one to that line. It borrows the thread's trace hook (sys.settrace), and
    gives back the one it found. `work`: a one-item list, the work left to the watches of one run (WATCH_WORK
    where not given); past it, (code, line number, OVERFLOW) and no more tracing."""

    def __init__(self, work: list | None = None):
        self.work = work if work is not None else [WATCH_WORK]

    def __enter__(self):
        self.lines: set = set()
        self.inside = None  # the frame of the forward or rule being run, while one is
        self.prev = sys.gettrace()
        opaque = _opaque_codes()
        lines = self.lines
        add = lines.add
        work = self.work

        def spent(frame, n) -> bool:
            work[0] -= n
            if work[0] >= 0:
                return False
            add((frame.f_code, frame.f_lineno, OVERFLOW))
            sys.settrace(None)  # no more calls of this hook on this thread (__exit__ puts the previous one back)
            return True

        def local(frame, event, arg):
            if work[0] < 0:
                return None
            if event == "line":
                code = frame.f_code
                add((code, frame.f_lineno))
                if _is_glue(code):
                    f_locals = frame.f_locals
                    if spent(frame, 1 + sum(len(v) for v in f_locals.values() if type(v) in _SCANNED)):
                        return None
                    names = frozenset(k for k, v in f_locals.items() if _holds_values(v))
                    if names:
                        add((code, frame.f_lineno, names))
                elif spent(frame, 1):
                    return None
            elif event == "return" and arg is not None and not (type(arg) in _SCANNED and spent(frame, len(arg))) \
                    and _holds_values(arg):
                back = frame.f_back  # an array the engine's code hands to glue, as a temporary of its line
                if back is not None and _is_glue(back.f_code) and back.f_code not in opaque:
                    add((back.f_code, back.f_lineno, RETURNED))
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
            return local  # (an array among its arguments shows at its first line)

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
    "v = max(min(int(v), _INT64_MAX), _INT64_MIN)",  # a slice's bounds: the document's integers (_clip_slice_value)
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
    # mse_loss's backward alpha: 2 / numel, rounded to half for a float16 tensor (its dtype, not its values)
    "return float(np.float16(alpha)) if self._data.dtype == np.float16 else alpha",
    # scalar_fit.f16_value: a Python number (a Scalar, never a tensor's value) into float16's double rounding
    "return float(np.float32(v))",
))


# Glue lines that hold an array, or name a tensor's `._data`, without reading its values (reviewed): they store it,
# wrap it in a Tensor, or read its layout (memory, contiguity, shape, dtype). By file, the line's text; a line changed
# since no longer matches its entry here, and counts as a read again. Not here, on purpose: an array computed outside
# the entries and stored (cosine_similarity's `n1._data = np.maximum(n1._data, eps)` was one: a lowered replay
# skipped it; it is clamp_min.nn's output now), a mask made from indices' values (max/min.dim's backward was one:
# `idx = result1._data`; now unsqueeze and scatter entries), in-place writes (never lowered).
ARRAYS_REVIEWED = {
    "tensor.py": frozenset((  # Tensor._make: a new Tensor of an array; detach; _storage; ones_like_data
        "t = object.__new__(cls)", "t._data = data", "t._req = False", "t.grad_fn = None", "t._grad = None",
        "t._output_nr = 0", "t._retains_grad = False", "t._acc = None", "t._vc = None", "t._base = None",
        "t._vflags = 0", "return t",
        "t = Tensor._make(self._data)", "t._vc = self._storage()",
        "if isinstance(self._data, np.generic):", "self._data = np.array(self._data)",
        "return B.xp.ones(a.shape, dtype=a.dtype)",
    )),
    "ops/indexing.py": frozenset((  # gather's and index_select's backward: a zero buffer of the input's shape
        "Tensor._make(_zeros(self.shape, grad._data.dtype)), dim, index, grad))",
    )),
    "autograd/views.py": frozenset((  # mark_views: whether an output shares its base's memory (a view or a copy)
        "bdata = base._data",
        "for o in outs:",
        "if type(o) is not Tensor or (o._data.size and not np.may_share_memory(o._data, bdata)):",
        "continue", "o._vc = st", "o._base = base", "o._vflags = flags", "if st.views is None:", "st.views = []",
        "st.views.append(weakref.ref(o))",
    )),
    "ops/_window.py": frozenset(("return Tensor._make(t._data)",)),
    "ops/join.py": frozenset((  # split's checks of the array's ndim and shape (a glue function: watched itself)
        "_, size = _check_split(input._data, split_size, dim)",
        "_check_split_with_sizes(input._data, sizes, dim)",
    )),
    "ops/loss.py": frozenset((  # _nll_loss_nd: the target's ndim, dtype and length
        "t = target._data",
        "if input.ndim == 1 and t.ndim == 1 and t.dtype in (np.int64, np.uint8) and t.shape[0] != 1:",
        "return nll_loss_forward(input, target, weight, reduction, ignore_index)",
    )),
    "ops/nn_normalization.py": frozenset((  # cosine_similarity's clamp of the norms: an entry's output (clamp_min.nn,
        # run again at replay) stored as the clone's data, as torch's clamp_min_ under no_grad leaves no node
        "n1._data = clamp_min(n1, eps)._data", "n2._data = clamp_min(n2, eps)._data",
    )),
    "ops/nn_functional.py": frozenset((  # addmm's bias checked by expand's own message (a shape check)
        "S._expand(bias._data, (mat1.shape[0], mat2.shape[1]))",
    )),
    "ops/shape.py": frozenset((  # reshape: a view or a copy, by the array's size and layout
        "a = input._data", "new = infer_size(shape, a.size)", "if a.flags.c_contiguous:",
        "return view_op(input, size=new)", "try:", "B.reshape_view(a, new)", "except ValueError:",
        "return unsafe_view(input.clone(), size=new)", "return reshape_alias(input, size=new, stride=None)",
    )),
}


def _text(code, lineno) -> tuple[str, str]:
    path = code.co_filename.replace("\\", "/")
    line = linecache.getline(code.co_filename, lineno)
    return path, _STRINGS.sub('""', line).split("#", 1)[0].strip()


def _reviewed(path, text) -> bool:
    rel = path.rsplit("/engine/", 1)[-1]
    return text in ARRAYS_REVIEWED.get(rel, ())


# an array's name where the line uses it for more than its layout: not assigned to (`a = ...`), not a keyword's
# name (`f(a=...)`), not followed by a structural attribute
_LAYOUT = r"(?!\s*=(?!=))(?!\s*\.\s*(?:shape|ndim|dtype|size|itemsize|nbytes|flags)\b)"


def _uses_values(text: str, names) -> str | None:
    """The first of `names` (variables holding arrays) that this line's text uses for more than the array's layout."""
    for n in sorted(names):
        if re.search(rf"(?<![.\w]){re.escape(n)}\b{_LAYOUT}", text):
            return n
    return None


def value_read(code, lineno, held=None) -> str | None:
    """Where this line reads tensor values, as 'file:line: text', or None. `held`: the names of the line's
    variables that held arrays as it ran, or RETURNED (the engine's code returned one to it): watch's entries."""
    key = (code.co_filename, lineno, held)
    verdict = _verdicts.get(key, 0)
    if verdict != 0:
        return verdict
    found = None
    path, text = _text(code, lineno)
    if not any(path.endswith(m) for m in _MACHINERY):
        where = f"{path.rsplit('/engine/', 1)[-1]}:{lineno}: {text}"
        if held is OVERFLOW:
            found = f"{where} (the trace's work passed WATCH_WORK={WATCH_WORK}: not lowered)"
        elif held is not None:
            if _reviewed(path, text):
                pass
            elif held is RETURNED or not held:
                found = f"{where} (an array returned to it)"
            else:
                # its raw text (strings included: an f-string reads values too); comments dropped
                raw = linecache.getline(code.co_filename, lineno).split("#", 1)[0]
                name = _uses_values(raw, held)
                if name is not None:
                    found = f"{where} (`{name}` holds a tensor's values)"
        elif _READS.search(text) and text not in STRUCTURAL:
            found = where
        elif "._data" in _DATA_STRUCTURE.sub("", text) and not _reviewed(path, text):
            found = f"{where} (a tensor's values)"
    _verdicts[key] = found
    return found


def first_value_read(lines) -> str | None:
    """The first of these lines (watch's entries) that reads values (in file order, for a stable answer), or None."""
    for entry in sorted(lines, key=lambda cl: (cl[0].co_filename, cl[1], len(cl))):
        found = value_read(*entry)
        if found is not None:
            return found
    return None
