"""Plans: a request's structure recorded once (Program), replayed with other leaf values, kept by PlanCache."""
from __future__ import annotations

import threading
from time import monotonic as _monotonic

import numpy as np
import orjson

from engine import _backend as B
from engine import budget as _budget
from engine.autograd import grad_mode
from engine.errors import LimitExceeded
from engine.ops.value_guard import GuardFailed
from engine.printing import format_tensor
from engine.program import wire
from engine.program.bind import convert
from engine.program.lower import lower
from engine.program.respond import Diverged, document, encode, response, tensor_doc
from engine.program.run import Evaluating, Run, Step, _deadline_passed, backward_pass
from engine.program.shapes import output_bound
from engine.program.wire import encode_array, fast_array, fast_leaf, leaf_array, make_tensor, wire_b64, wire_number
from engine.program.writer import make_writer
from engine.tensor import REQUIRES_GRAD_DTYPE_MSG, Tensor


class Program:
    """What a successful evaluation learned about its document's structure: each leaf's dtype and
    requires_grad, each op's function, its arguments with their binding kinds and its outputs' shapes, the
    backward passes, and the response's names. `run` evaluates a document of the same structure with other
    leaf values, calling the same functions in the same order, without the checks that structure alone
    decides (fields, names, signatures, the 413 guard): so its response is the one the full path gives,
    bit for bit (tests/engine/test_plans.py holds the two together). Where anything goes differently (an
    error, a warning with a value-dependent text, an op whose output shape depends on values) it gives up
    and the full path runs, which answers as it always does. `notes`: free for the caller (the service keeps
    its cost estimate and the body's colon count there)."""

    __slots__ = ("leaves", "leaf_total", "steps", "passes", "respond", "fixed", "notes", "lowered", "cost",
                 "stateful", "replays")

    def __init__(self):
        self.leaves: list = []  # (name, dtype or None, requires_grad, loc)
        self.leaf_total = 0  # their elements, as counted against the limits
        self.steps: list[Step] = []
        self.passes: list = []  # (pass spec, loc)
        self.respond = None  # (names, grad_set, encoding)
        self.fixed = None  # what structure decides of the response: (structure rows, graph_nodes nodes)
        self.notes: dict = {}
        # engine.program.lower.Lowered: the same program as a function over arrays; None until a replay tries
        # (evaluate: once the structure has recurred, lower_at), False where it does not lower
        self.lowered = None
        self.replays = 0  # replays answered before it was lowered (evaluate counts them against lower_at)
        # (peak bytes, flops) the recorded run charged to its budget: what a lowered replay charges at once (its
        # ops are the recording's on the same shapes, so the same rules give the same costs)
        self.cost = (0, 0.0)
        self.stateful = False  # an op changes tensors or autograd state (run.is_stateful): never lowered

    def lower_at(self) -> int:
        """The replay of this structure at which it is lowered (LOWER_AT; 1 would be its first replay)."""
        return LOWER_AT + len(self.steps) // LOWER_OPS_PER_REPLAY

    def run(self, spec, arrays, limits, encoded=False):
        """The response document (or, encoded, its JSON bytes where a lowered replay writes them), or None
        where the full path must answer instead. Where it gives up, what it charged the request's budget is
        taken back (_charged_back): the full path charges its own run of the same document, as a request that
        never met the cache, so its answer is the one a cold request gets (a value-sized op, VALUE_SIZED, whose
        outputs differ from the recording's is such a give-up: the full path counts them, Run.recount)."""
        bud = _budget.current()
        mark = (bud.used_flops, bud.small) if bud is not None else None
        if self.lowered:
            try:
                return self._run_lowered(spec, arrays, encoded)
            except LimitExceeded:
                if not self.lowered.guarded:
                    raise  # the cost is the recording's: the full path would pass its limits as well
                # with guards it is the recording's branch's: these values may take another (cumprod's input with
                # a zero), whose cost the replay below charges op by op, as the full path does
                _charged_back(bud, mark)
            except (_budget.DeadlinePassed, _budget.ProcessBusy):
                raise
            except Exception:  # noqa: BLE001 - the replay below answers (or gives up) as it would have
                _charged_back(bud, mark)
        run = Run(spec, limits)
        env = run.env
        try:
            with Evaluating(spec) as caught:
                for (name, dt, rg, loc), arr in zip(self.leaves, arrays):
                    a = leaf_array(arr)
                    if bud is not None:
                        bud.charge(a.size * 8, a.size, "the leaf")
                    t = make_tensor(a, dt, loc, numbers=True)  # (the key's arrays: JSON numbers)
                    if bud is not None:
                        bud.track(t._data)
                    if rg:
                        t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
                    env[name] = t
                run.total = self.leaf_total  # the leaves' shapes are the key's: their count passed before
                for st in self.steps:
                    if bud is not None and _monotonic() > bud._dl:  # every op, as run_op_list (detach, flatten
                        _deadline_passed(bud, st.loc)  # and other ops that charge nothing never reach charge)
                    args = [convert(v, k, env, st.loc) for v, k in st.args]
                    kwargs = {n: convert(v, k, env, st.loc) for n, (v, k) in st.kwargs.items()} if st.kwargs \
                        else NO_KWARGS
                    if st.op is not None:  # the 413 guard, where the bound reads values (bound_reads_values)
                        run.count(output_bound(st.op, args, kwargs), st.loc)
                    grad_mode.enabled = not st.no_grad
                    out = st.fn(*args, **kwargs)
                    grad_mode.enabled = True
                    if caught:
                        run.record_warnings(caught)
                        del caught[:]
                    outs = (list(out) if isinstance(out, tuple | list) else [out]) if st.multi else [out]
                    for n, t, shape in zip(st.names, outs, st.shapes):
                        if type(t) is not Tensor or t._data.shape != shape:
                            raise Diverged
                        env[n] = t
                    for n in st.retain:
                        env[n].retain_grad()
                for p, loc in self.passes:
                    backward_pass(run, p, loc, caught)
                names, grad_set, encode = self.respond
                return response(run, names, grad_set, encode, caught, self.fixed)
        except (_budget.DeadlinePassed, _budget.ProcessBusy):
            raise  # the full path would meet them at its first op
        except Exception:  # noqa: BLE001 - any surprise: the full path answers (and raises what it must)
            del run, env  # the replay's tensors go now (its small arrays are taken back from `live` below)
            _charged_back(bud, mark)
            return None

    def _run_lowered(self, spec, arrays, encoded=False):
        low = self.lowered
        bud = _budget.current()
        if bud is not None:  # the recorded run's cost, at once: the same entries on the same shapes
            flops = self.cost[1]
            if flops > bud.op_max_flops or flops > bud.spill_op_flops:
                # one uninterruptible call of more than one op may cost here: the Program's replay, op by op
                raise Diverged
            bud.charge(self.cost[0], flops, "the program")
        # no random stream to set up: a lowered program draws no random numbers (its ops have array formulas)
        data, grads = _call_lowered(low, arrays)
        if encoded and low.writer is not None:
            return low.writer.write(data, grads)
        return self._lowered_doc(data, grads)

    def _lowered_doc(self, data, grads):
        """The response document of a lowered replay from its function's output."""
        low = self.lowered
        wire = encode_array if self.respond[2] == "json" else wire_b64
        tensors = {}
        for (n, shape, dn, rq, _cls, gf, rg, suffixes), rep, d, g in zip(self.fixed[0], low.reprs, data, grads):
            if rep is not None:  # one value, as JSON: read once, for data and repr (and its grad's one)
                v = d.item()
                tensors[n] = tensor_doc(shape, dn, rq, gf, rg, wire_number(v),
                                         wire_number(g.item()) if g is not None else None, rep(v))
            else:
                tensors[n] = tensor_doc(shape, dn, rq, gf, rg, wire(d), wire(g) if g is not None else None,
                                         format_tensor(d, dn, suffixes))
        return document(tensors, self.fixed[1], [])



NO_KWARGS: dict = {}


def _charged_back(bud, mark):
    """A replay that gave up: its flops, and the bytes of its small arrays (counted in `live` until the request
    ends, engine.budget.track), taken back from the request's budget, so that the full path, which runs the
    document again from its start, charges the document once (it charged twice: a request that passes its
    limits cold was refused max_flops once its structure was cached, where a value-sized op's outputs
    differed from the recording's). Its bigger arrays are freed with it (their weak references release them).
    The replay's work is bounded as the full path's is (the same limits, one run), and by the deadline."""
    if mark is None:
        return
    flops, small = mark
    bud.used_flops = flops
    extra = bud.small - small
    if extra > 0:
        bud.small = small
        bud.live -= extra


# `with np.errstate(all="ignore"):` around a replay, at a third of its decorator's cost (~0.3 us a call, not ~0.9:
# errstate's wrapper frame and its keyword call of _make_extobj per call): the context variable NumPy's errstate
# sets (numpy/_core/_ufunc_config.py, errstate.__enter__ and __call__), set to the state errstate(all="ignore")
# makes, made once from the state it replaces (another base state, say np.setbufsize's, makes it afresh) and
# reset after, as errstate's own exit does. Where NumPy has no such names, errstate itself.
try:
    from numpy._core._multiarray_umath import _make_extobj
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
except ImportError:  # pragma: no cover - another NumPy's layout
    _ERRSTATE = None
_IGNORING = (None, None)  # (the error state it was made from, errstate(all="ignore")'s state made from it)


def _call_lowered(low, arrays):
    """A lowered program's function on a replay's leaf values, under np.errstate(all="ignore"): (data, grads)."""
    global _IGNORING
    if _ERRSTATE is None:  # pragma: no cover
        with np.errstate(all="ignore"):
            return _call_lowered_in(low, arrays)
    base = _ERRSTATE.get()
    was, ignoring = _IGNORING  # (one tuple: another thread's update replaces it whole)
    if base is not was:
        ignoring = _make_extobj(all="ignore")
        _IGNORING = (base, ignoring)
    token = _ERRSTATE.set(ignoring)
    try:
        return _call_lowered_in(low, arrays)
    finally:
        _ERRSTATE.reset(token)


def _call_lowered_in(low, arrays):
    caller = low.caller
    if caller is None:
        caller = low.caller = _caller(low.leaf_np, low.scalar_leaves)
    return caller(low, arrays)


def _call_generic(low, arrays):
    # as make_tensor converts a leaf's data; a float leaf as a NumPy scalar of its dtype, what the formulas
    # give for a 0-d array anyway (NumPy's scalar arithmetic: ~1.5 us less for the seed). That holds for
    # ufuncs and + - * /, not for `**`: on a scalar it is libm's pow, on an array NumPy's (other roundings at
    # some values); array formulas call np.power, never `**`.
    scalars = low.scalar_leaves
    xs = [d.type(a) if scalars and type(a) is float and d is not _F16 else _leaf(a, d)
          for a, d in zip(arrays, low.leaf_np)]
    for a, d in zip(arrays, low.leaf_np):  # the range check make_tensor makes: Program.run falls back to the
        if d.kind in "iu":  # replay, which raises its error (not a wrapped value: redteam7 F2)
            wire.check_int_range(a, d)
    return low.single(*xs)


_CALLERS: dict = {}  # (leaf dtypes, scalar_leaves) -> its caller
_CALLERS_MAX = 256


def _caller(leaf_np, scalars):
    """caller(low, arrays): _call_generic's work for leaves of these dtypes written out, one expression a leaf (no
    list, no loops, no call a leaf: ~7k instructions less a request for one leaf); _call_generic itself where a
    leaf is an integer or float16 one (its conversion and range check as there)."""
    key = (leaf_np, scalars)
    fn = _CALLERS.get(key)
    if fn is not None:
        return fn
    if not leaf_np or any(d.kind != "f" or d == _F16 for d in leaf_np):
        fn = _call_generic
    else:
        ns = {"array": np.array, "asarray": np.asarray, "cast": wire.cast, "_leaf": _leaf}
        names, exprs = [], []
        for i, d in enumerate(leaf_np):
            ns[f"D{i}"] = d
            x = f"x{i}"
            names.append(x)
            # _leaf's steps for a float dtype other than float16 (np.array, or wire.cast of an integer array)
            leaf = f'(array({x}, D{i}) if type({x}) is float or {x}.dtype.kind != "i" else cast(asarray({x}), D{i}))'
            exprs.append(f"(D{i}.type({x}) if type({x}) is float else {leaf})" if scalars else leaf)
        src = (f"def caller(low, arrays):\n    {', '.join(names)}, = arrays\n"
               f"    return low.single({', '.join(exprs)})\n")
        exec(compile(src, "<engine.program.plans caller>", "exec"), ns)  # noqa: S102 - our own source
        fn = ns["caller"]
    if len(_CALLERS) >= _CALLERS_MAX:
        _CALLERS.clear()
    _CALLERS[key] = fn
    return fn


def _leaf(a, d):
    """A replay's leaf array, a copy in its dtype `d`, as make_tensor converts the leaf's JSON numbers (wire.cast: an
    int through a double into float32, a double into float16 through float32)."""
    if d is not _F16 and (type(a) is float or a.dtype.kind != "i"):
        return np.array(a, d)
    return wire.cast(np.asarray(a), d)


_F16 = np.dtype(np.float16)
_FLOAT_LEAF = ((), "f")  # a leaf whose data is one Python float: its shape and kind, without an array


class PlanCache:
    """Programs by structure: the leaves' names, shapes, kinds (bool/int/float, as dtype inference sees them)
    and their other fields; every other field of the document; the limits and the array backend. The key is
    all of that as one JSON text (bytes hash once and compare by memcmp: a tuple key was hashed afresh by
    every dict operation). For documents as a JSON parser gives them (dicts, lists, str, int, float, bool,
    None): where a tuple and a list, or a float NaN and None, would read alike. Bounded: max_entries
    programs and max_bytes of key text (the least recently used dropped first); a document whose key passes
    max_key_bytes is not kept. Threads may share one: a Program is never changed after it is stored (but
    for its notes), and holds copies of the document's parts, none of the caller's objects. hits/misses
    are counted without a lock (metrics, not accounts)."""

    def __init__(self, max_entries: int = 256, max_key_bytes: int = 16384, max_bytes: int = 1 << 20):
        self.max_entries = max_entries
        self.max_key_bytes = max_key_bytes
        self.max_bytes = max_bytes  # of key text in all; a program holds ~20x its key's size
        self._programs: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def key(self, spec, limits):
        """(key, leaf arrays), or None where this document cannot be cached (b64 or special-number data,
        a value that is not JSON, a document over max_key_bytes, a cache of no entries). A leaf of one float
        gives that float as its array (leaf_array makes it one where an array is needed)."""
        if self.max_entries <= 0:
            return None
        leaves = spec.get("leaves", NO_KWARGS) if type(spec) is dict else None
        if type(leaves) is not dict:
            return None
        sig = []
        arrays = []
        for name, lspec in leaves.items():
            if type(lspec) is not dict:
                return None
            raw = lspec.get("data")
            if type(raw) is float:
                sig += (name, _FLOAT_LEAF, len(lspec))
                arrays.append(raw)
            else:
                if type(raw) is not list and type(raw) not in (int, bool):
                    return None
                arr = fast_leaf(raw, lspec)
                if arr is None:
                    return None
                sig += (name, (arr.shape, arr.dtype.kind), len(lspec))
                arrays.append(arr)
            for k, v in lspec.items():  # len(lspec) above: where a leaf's fields end
                if k != "data":
                    sig += (k, v)  # as JSON: 1, 1.0 and true are equal in Python, not equal requests
        try:
            key = orjson.dumps((sig, [[k, v] for k, v in spec.items() if k != "leaves"], limits,
                                B.xp.__name__))
        except (TypeError, orjson.JSONEncodeError):
            return None
        if len(key) > self.max_key_bytes:
            return None
        return key, arrays

    def lookup(self, spec, limits):
        """(key, Program or None, leaf arrays), or None where the document cannot be cached."""
        k = self.key(spec, limits)
        if k is None:
            return None
        key, arrays = k
        program = self._programs.get(key)
        if program is None:
            self.misses += 1
        else:
            self.hits += 1
            with self._lock:  # least recently used goes first: a hit moves to the end
                if self._programs.pop(key, None) is not None:
                    self._programs[key] = program
        return key, program, arrays

    def get(self, key):
        return self._programs.get(key)

    def touch(self, key):
        """lookup's bookkeeping for a document whose key the caller found itself (its text: app/services/bytext.py):
        a hit counted and moved to the end, or a miss; the Program or None."""
        programs = self._programs
        program = programs.get(key)
        if program is None:
            self.misses += 1
        else:
            self.hits += 1
            try:  # the most recently used already (a structure that recurs): nothing to move
                last = next(reversed(programs))
            except (RuntimeError, StopIteration):  # changed by another thread meanwhile
                last = None
            if last != key:
                with self._lock:
                    if programs.pop(key, None) is not None:
                        programs[key] = program
        return program

    def store(self, key, program, replace=False):
        if self.max_entries <= 0:
            return
        size = len(key)  # the key's text
        with self._lock:
            programs = self._programs
            if key in programs:
                if replace:  # the same structure, lowered now: what the caller noted of it stays
                    notes = programs[key].notes
                    notes.update(program.notes)  # (and what lowering noted: lower.declined)
                    program.notes = notes
                    programs[key] = program
                return
            while programs and (len(programs) >= self.max_entries or self._bytes + size > self.max_bytes):
                oldest = next(iter(programs))
                self._bytes -= len(oldest)
                del programs[oldest]
            programs[key] = program
            self._bytes += size

    def clear(self):
        with self._lock:
            self._programs.clear()
            self._bytes = 0

    def __len__(self):
        return len(self._programs)


# ----- lowering: a plan as one function over arrays (engine.program.lower), checked before it is kept -----

# Programs that lower: up to this many elements in all their tensors (as the limits count them) and ops.
# Lowering costs its one request a few times a full run (the traced run, the walk, the check at other
# values: time and memory outside what the limits bound), and saves only per-op Python: worth it for the
# small programs that are most requests, not for large tensors, whose time is the arrays'.
LOWER_MAX_ELEMENTS = 1 << 16
LOWER_MAX_OPS = 1024
# Lowering (evaluate._lower: a traced run, the lowering walk, two full runs and two lowered ones, the writer)
# costs ~11-32 ms for the corpus and random programs, where a lowered replay saves ~0.2 ms over the Program's
# own (docs/runs/lowerlate.md, bench/lowering_cost.py): wasted on structures that do not recur. So a structure
# is lowered only once it has recurred: at its LOWER_AT-th replay (its LOWER_AT + 1-th sighting), one replay
# later for every LOWER_OPS_PER_REPLAY steps (big programs' lowering costs more). Soon still: the text route
# (app/services/bytext.py) and a batch's vectorized run need a lowered program.
LOWER_AT = 4
LOWER_OPS_PER_REPLAY = 8


def lowered_checked(run, full_path):
    """The run's Program lowered (engine.program.lower), and checked at two sets of other leaf values against
    the full path (`full_path(spec)` gives its response document), response against response: a constant
    that depended on values after all, or anything else that only the values decide, shows there. False
    where it does not lower, or disagrees; None where the request's deadline or limits stopped the check."""
    program = run.program
    try:
        with np.errstate(all="ignore"):  # the walk runs the forwards and formulas again, on the recording's values
            low = lower(program, run, run.traces)
        if low is None:
            return False
        program.lowered = low
        with np.errstate(all="ignore"):
            data, grads = low.fn(*[run.env[name]._data for name, *_ in program.leaves])
        low.writer = make_writer(program, data, grads)
        checked = 0
        for k in range(len(MOVES)):
            twin, arrays = other_values(run.spec, k)
            try:
                got = program._run_lowered(twin, arrays)
            except GuardFailed:  # values that take a branch the recording did not (cumprod's input -0.5 moved to
                continue  # 0): a replay of them is the Program's own, as every such document's; not checked here
            checked += 1
            full = encode(full_path(twin))
            if encode(got) != full:
                program.notes["declined"] = "its response at other leaf values differed from the full path's"
                return False
            if low.writer is not None and program._run_lowered(twin, arrays, encoded=True) != full:
                low.writer = None
        if not checked:
            program.notes["declined"] = "its guards declined both sets of other leaf values: not checked"
            return False
        return low
    except (_budget.DeadlinePassed, _budget.ProcessBusy, LimitExceeded):
        program.lowered = None  # the request's time or memory ran out, not the program's doing (a loaded server):
        return None  # not now, and not never: a later document of this structure tries again
    except Exception as e:  # noqa: BLE001 - lowering is an optimization: the Program's own replay stays
        program.notes["declined"] = f"lowering raised {type(e).__name__}: {e}"[:200]
        return False


# How lowered_checked moves a document's leaf values for its checks: floats, ints, bools. Two moves, so that a
# constant a function derived from values (a sign, a magnitude, a maximum) differs under one of them.
# Integers are often indices (a class target, a gather's positions): they are moved among their own values (rolled,
# reversed), so that the moved document stays a valid one.
MOVES = ((lambda a: a * -0.75 + 0.3125, lambda a: np.roll(a.reshape(-1), 1).reshape(a.shape), lambda a: ~a),
         (lambda a: a * 1.5 + 0.75, lambda a: a.reshape(-1)[::-1].reshape(a.shape), lambda a: ~a))


def other_values(spec, k=0):
    """The document with every leaf's numbers moved by MOVES[k], so its key stays the same; and its leaf
    arrays, as PlanCache.key gives them."""
    moves = MOVES[k]
    leaves, arrays = {}, []
    for name, lspec in spec["leaves"].items():
        a = fast_array(lspec["data"])
        b = moves[0](a) if a.dtype.kind == "f" else (moves[1](a) if a.dtype.kind == "i" else moves[2](a))
        leaves[name] = {**lspec, "data": b.tolist()}
        v = leaves[name]["data"]
        arrays.append(v if type(v) is float else np.array(v))  # a float leaf's is the float (PlanCache.key)
    return {**spec, "leaves": leaves}, arrays

