"""Threads for large elementwise work: a chunk of an array per task, on one small pool per process.

NumPy's ufuncs release the GIL, so an elementwise op over a large array runs in chunks on several threads
(torch splits its CPU kernels the same way). `elementwise(fn, into)` wraps an op's forward or array formula:
where an array argument has at least `min_elements()` elements and the process allows more than one thread,
the output is cut into chunks and each chunk computed by the same NumPy calls on the matching slices of the
arguments; otherwise `fn` runs as it is. The results are the single-threaded path's to the bit: a chunk is
either a run of whole rows (each row one inner loop of NumPy's in both paths) or, where every argument is
C-contiguous or a single value, a flat run of elements starting at a multiple of GRAIN (8192: a multiple of
every SIMD width and of NumPy's buffer size, so that each chunk starts where the whole array's loop had a
vector boundary, with the same alignment); tests/engine/test_parallel.py compares every pointwise op, threaded
and not, bit for bit (NaN included) in float16, float32 and float64.

The pool: `threads()` - 1 helper threads, shared by every request of the process; a request's thread takes
chunks too, so it never waits on a busy pool, and no request uses more than `threads()` threads (under
concurrent requests the helpers are shared, never added). GRADSERVE_ELEMENTWISE_THREADS sets the count;
unset, it is OMP_NUM_THREADS where set (torch's default), else the CPUs this process may use (within a cgroup v2
CPU quota), divided among the server's processes (GRADSERVE_WORKERS), at most 8; 1 turns threading off.
Budgets: the op is charged once by its entry's rule before it runs, as before (a chunk is not charged again);
the request's deadline is checked before every chunk, on whichever thread takes it, so a chunked op stops
within one chunk of it.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import os
import threading
from queue import SimpleQueue

import numpy as np

from engine import budget as _budget

GRAIN = 8192  # chunk boundaries (flat runs) are multiples of this many elements
CHUNK = 1 << 16  # elements per chunk where fn writes into the output (into=)
# elements per chunk where fn's own result is copied: 256 KiB in float16, so that NumPy's temporary elision
# (`x * tmp` computed in place as `tmp * x` from 256 KiB: a NaN's payload follows the operand order) acts in
# every chunk as in the whole array; the last chunk takes the remainder
CHUNK_COPY = 1 << 17
MIN_ELEMENTS = 1 << 16  # arrays below this run on the calling thread
MAX_THREADS = 8

_ndarray = np.ndarray
_SCALARS = (int, float, bool)


def _env_int(name):
    v = os.environ.get(name, "").strip()
    return int(v) if v.isdigit() else None


def _cgroup_cpus(path="/sys/fs/cgroup/cpu.max"):
    """The CPUs a cgroup v2 quota allows (a container's CPU limit, which the affinity mask does not show), or None."""
    try:
        with open(path) as f:
            quota, period = f.read().split()[:2]
        return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):  # no such file, or "max": no quota
        return None


def default_threads() -> int:
    """GRADSERVE_ELEMENTWISE_THREADS, else OMP_NUM_THREADS or the CPUs allowed, shared among GRADSERVE_WORKERS."""
    n = _env_int("GRADSERVE_ELEMENTWISE_THREADS")
    if n is not None:
        return max(1, min(n, MAX_THREADS))
    cpus = _env_int("OMP_NUM_THREADS") or 0
    if cpus <= 0:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = os.cpu_count() or 1
        cpus = min(cpus, _cgroup_cpus() or cpus)
    workers = _env_int("GRADSERVE_WORKERS") or 1
    return max(1, min(cpus // max(1, workers), MAX_THREADS))


class _Pool:
    __slots__ = ("helpers", "queue", "lock")

    def __init__(self):
        self.helpers = 0  # helper threads started (on first use)
        self.queue = SimpleQueue()
        self.lock = threading.Lock()


_pool = _Pool()
# read by every wrapped call (module globals: the cheapest reads)
_threads = default_threads()
_min = MIN_ELEMENTS


def threads() -> int:
    """Threads one elementwise call may use (the caller's included); 1: no threading."""
    return _threads


def min_elements() -> int:
    return _min


def configure(threads: int | None = None, min_elements: int | None = None) -> tuple[int, int]:
    """Set the thread count (1: none) and the size from which a call is chunked; returns the previous pair."""
    global _threads, _min
    prev = (_threads, _min)
    if threads is not None:
        _threads = max(1, min(int(threads), MAX_THREADS))
        with _pool.lock:  # retire the helpers past the new count (each takes one None and exits)
            while _pool.helpers > _threads - 1:
                _pool.queue.put(None)
                _pool.helpers -= 1
    if min_elements is not None:
        _min = max(2 * GRAIN, int(min_elements))
    return prev


def _helper(queue):
    while True:
        job = queue.get()
        if job is None:
            return
        with np.errstate(**job.err):  # the request's floating-point error handling (a context variable)
            job.run()
        job = None  # not held while waiting for the next one


def _ensure_helpers(want):
    if _pool.helpers >= want:
        return
    with _pool.lock:
        while _pool.helpers < want:
            threading.Thread(target=_helper, args=(_pool.queue,), name="gradserve-elementwise", daemon=True).start()
            _pool.helpers += 1


def _after_fork():  # a forked child has none of its parent's threads
    global _pool
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class _Job:
    """n chunks, claimed in order by the threads that run it; errors kept by chunk index."""

    __slots__ = ("work", "n", "claim", "settled", "lock", "done", "stop", "errors", "budget", "err")

    def __init__(self, work, n, budget):
        self.work = work
        self.n = n
        self.claim = itertools.count().__next__  # atomic under the GIL
        self.settled = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.stop = False
        self.errors = {}
        self.budget = budget
        self.err = np.geterr()

    def run(self):
        n, claim, k = self.n, self.claim, 0
        work, budget = self.work, self.budget
        while True:
            i = claim()
            if i >= n:
                break
            k += 1
            if self.stop:
                continue
            try:
                if budget is not None:
                    budget.check()  # the deadline, before every chunk
                work(i)
            except BaseException as e:  # noqa: BLE001 - re-raised on the request's thread
                self.errors[i] = e
                self.stop = True
        if k:
            with self.lock:
                self.settled += k
                if self.settled == n:
                    self.done.set()


def run_chunks(work, n: int) -> None:
    """work(i) for i in range(n), on the calling thread and up to threads() - 1 helpers; returns when every
    chunk is done. The first chunk's error (by index) is raised, after every chunk taken has finished."""
    helpers = min(_threads - 1, n - 1)
    if helpers <= 0:
        for i in range(n):
            _budget.check()
            work(i)
        return
    job = _Job(work, n, _budget._local.budget)
    _ensure_helpers(helpers)
    put = _pool.queue.put
    for _ in range(helpers):
        put(job)
    job.run()
    job.done.wait()
    # nothing of the request stays with the job (a helper may still hold it, or find it in the queue later and
    # find no chunk left): not its arrays (the work's closure, an error's traceback), which would keep them
    # counted in the process's memory budget (engine.budget) after the request has let them go
    errors = job.errors
    job.work = job.budget = job.errors = None
    if errors:
        try:
            raise errors[min(errors)]
        finally:
            errors.clear()  # this frame's dict would hold the exception, whose traceback holds this frame


# ----- elementwise ops -----


def _layout(args):
    """How to cut the output of an elementwise call: (shape, size, row, views), size the output's elements. row 1:
    views(lo, hi) gives the arguments for the elements [lo, hi) of the flattened output; else row is the length
    of the output's rows and views(lo, hi) gives the arguments for its rows [lo, hi). None where the arguments
    are not laid out so that chunks give the same bits (a transposed or strided operand), or are not all arrays
    and plain values."""
    arrays = []
    for a in args:
        if type(a) is _ndarray:
            if a.dtype.hasobject:
                return None
            arrays.append(a)
        elif not (a is None or type(a) in _SCALARS or isinstance(a, (np.generic, str))):
            return None  # a Tensor, a CuPy array, a dtype: this call is not chunked
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        return None  # the forward raises torch's error
    if not shape:
        return None
    n = 1
    for d in shape:
        n *= d
    kinds = []  # per argument: 0 passed as it is, 1 a flat run of it, 2 its one value as a stride-0 run
    for a in args:
        if type(a) is not _ndarray:
            kinds.append(0)
        elif a.shape == shape and a.flags.c_contiguous:
            kinds.append(1)
        elif a.size == 1 or not any(np.broadcast_to(a, shape).strides):
            kinds.append(2)
        else:
            kinds = None
            break
    if kinds is not None:
        flats = [a.reshape(-1) if k == 1 else a for a, k in zip(args, kinds)]
        strided = np.lib.stride_tricks.as_strided

        def runs(lo, hi):
            return [f[lo:hi] if k == 1 else strided(f, (hi - lo,), (0,)) if k == 2 else f
                    for f, k in zip(flats, kinds)]

        return shape, n, 1, runs
    # rows: every argument of the output's shape is C-contiguous (a block of its rows is a contiguous slice); the
    # others broadcast along the first axis. Each row is one inner loop of NumPy's, chunked or not.
    if len(shape) < 2 or shape[0] < 2:
        return None
    cut = []
    for a in args:
        if type(a) is not _ndarray or a.ndim < len(shape) or a.shape[0] == 1:
            cut.append(False)
        elif a.flags.c_contiguous:
            cut.append(True)
        else:
            return None

    def rows(lo, hi):
        return [a[lo:hi] if c else a for a, c in zip(args, cut)]

    return shape, n, n // shape[0], rows


def _same_float(args):
    """The one float dtype of every array argument, where the others are Python numbers (NumPy's weak
    scalars): then an `into` ufunc's result has that dtype; else None."""
    dt = None
    for a in args:
        if type(a) is _ndarray:
            if dt is None:
                dt = a.dtype
                if dt.kind != "f":
                    return None
            elif a.dtype != dt:
                return None
        elif not (a is None or type(a) in _SCALARS or isinstance(a, str)):
            return None
    return dt


def _chunked(fn, into, args):
    """fn(*args) computed in chunks on the pool, or None where it is not (then the caller runs fn)."""
    lay = _layout(args)
    if lay is None:
        return None
    shape, size, row, views = lay
    dt = _same_float(args) if into is not None else None
    per = CHUNK if dt is not None else CHUNK_COPY
    threads = _threads
    if row == 1:  # flat runs starting at multiples of GRAIN, at most `per` elements, at least one per thread
        unit = max(GRAIN, min(per, -(-size // (threads * GRAIN)) * GRAIN))
        total = size
    else:  # whole rows
        unit = max(1, min(per, -(-size // threads)) // row)
        total = shape[0]
    if dt is None:  # chunks of at least CHUNK_COPY elements, the remainder in the last one
        unit = max(unit, -(-CHUNK_COPY // row))
        n = total // unit
    else:
        n = -(-total // unit)
    if n < 2:
        return None
    if dt is not None:
        out = np.empty(shape, dt)
        dest = out.reshape(-1) if row == 1 else out

        def work(i):
            lo = i * unit
            hi = min(total, lo + unit)
            into(dest[lo:hi], *views(lo, hi))

        run_chunks(work, n)
        return out
    # fn's own result per chunk, copied into the output; the first chunk here first, which gives the dtype
    hi = unit
    first = views(0, hi)
    r0 = fn(*first)
    want = (hi,) if row == 1 else (hi,) + shape[1:]
    if type(r0) is not _ndarray or r0.base is not None or r0.shape != want or any(r0 is a for a in first):
        return None  # not a fresh array of the chunk's shape (fn gave back an argument, a view, a tuple)
    # the chunks' own results, one per thread at a time, beside what the entry's rule charged for the whole call
    _budget.charge(min(threads, n) * unit * row, r0.itemsize, what="the op's chunks")
    out = np.empty(shape, r0.dtype)
    dest = out.reshape(-1) if row == 1 else out
    dest[:hi] = r0
    del r0, first
    odd = []

    def work_copy(i):
        lo = (i + 1) * unit
        hi = total if i == n - 2 else lo + unit
        r = fn(*views(lo, hi))
        if type(r) is not _ndarray or r.dtype != out.dtype or r.shape != dest[lo:hi].shape:
            odd.append(i)  # not what the first chunk gave: the whole call runs unchunked instead
            return
        dest[lo:hi] = r

    run_chunks(work_copy, n - 1)
    return None if odd else out


_EMPTY = inspect.Parameter.empty
_makers: dict = {}


def _positional(fn, nargs):
    """fn's parameters as (has_default, default) pairs, where it takes positional ones only; else None."""
    if nargs is not None:
        return [(False, None)] * nargs
    try:
        ps = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in ps):
        return None
    return [(p.default is not _EMPTY, p.default) for p in ps]


def _maker(spec):
    """A function making wrappers of one arity (written out: no *args tuple, ~0.3 us a call less on 0-d arrays,
    which the scalar chain calls hundreds of times)."""
    key = tuple(d for d, _ in spec)
    make = _makers.get(key)
    if make is None:
        names = [f"a{i}" for i in range(len(spec))]
        sig = ", ".join(f"{n}=d{i}" if has else n for i, (n, (has, _)) in enumerate(zip(names, spec)))
        big = " or ".join(f"(type({n}) is _ndarray and {n}.size >= _min)" for n in names) or "False"
        args = ", ".join(names)
        defaults = ", ".join(f"d{i}" for i, (has, _) in enumerate(spec) if has)
        src = (f"def make(fn, into{', ' + defaults if defaults else ''}):\n"
               f"    def f({sig}):\n"
               f"        if _threads > 1 and ({big}):\n"
               f"            r = _chunked(fn, into, ({args}{',' if len(names) == 1 else ''}))\n"
               f"            if r is not None:\n"
               f"                return r\n"
               f"        return fn({args})\n"
               f"    return f\n")
        ns: dict = {}
        exec(compile(src, f"<engine.parallel wrapper {len(spec)}>", "exec"), globals(), ns)  # noqa: S102
        make = _makers[key] = ns["make"]
    return make


def elementwise(fn, into=None, nargs=None):
    """fn (elementwise over its array arguments, which broadcast; other arguments pass as they are), computed in
    chunks on the pool where an array argument has min_elements() or more. into(out, *args), where given:
    the same values written into `out` (what fn gives where every array argument has one float dtype and the
    others are Python numbers), which saves each chunk's copy. nargs: fn's number of arguments, for a builtin
    (operator.mul) whose signature cannot be read."""
    spec = _positional(fn, nargs)
    if spec is not None:
        f = _maker(spec)(fn, into, *(d for has, d in spec if has))
    else:

        def f(*args):
            if _threads > 1:
                for a in args:
                    if type(a) is _ndarray and a.size >= _min:
                        r = _chunked(fn, into, args)
                        if r is not None:
                            return r
                        break
            return fn(*args)

    f = functools.wraps(fn)(f)
    f.parallel_into = into
    return f
