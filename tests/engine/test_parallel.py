"""engine/parallel.py: large elementwise calls chunked on the thread pool give the single-threaded path's bits
(every pointwise entry, forward and both backward routes, float16/32/64, NaN included), keep the budget's
charges and deadline, use at most their share of threads, and the knob reads as documented."""
from __future__ import annotations

import collections
import gc
import os
import subprocess
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import engine
from engine import budget as _budget
from engine import parallel
from engine.ops import _torch_sum
from engine.ops.registry import REGISTRY
from tests.engine.counting_budget import CountingBudget

MIN = 2 * parallel.GRAIN  # the tests chunk from 16K elements (the default is 64K): small arrays, many chunks
SHAPE = (300, 900)  # 270,000 elements: flat chunks (multiples of 8192) cut rows; a (900,) operand: row chunks
ENTRIES = sorted((op for op in REGISTRY.values() if hasattr(op.forward, "parallel_into")),
                 key=lambda op: op.qualname)
# entries whose calls below are never chunked, and why: _to_copy takes a dtype (not an array or a number)
NOT_CHUNKED = {"_to_copy"}
ATTRS = {  # attribute values by parameter name (each op's defaults otherwise)
    "alpha": 2, "exponent": 2.5, "rounding_mode": "floor", "decimals": 2, "weight": 0.3, "eps": 1e-3,
    "value": 0.5, "nan": None, "posinf": None, "neginf": None, "dtype": None,
}
SCALAR_ATTRS = {"other": 0.75, "min": -0.5, "max": 0.5}  # where the schema says Scalar, not Tensor


@pytest.fixture
def chunking():
    """Three threads, chunked from MIN elements; run_chunks counted (the real one runs)."""
    calls = []
    real = parallel.run_chunks

    def spy(work, n):
        calls.append(n)
        return real(work, n)

    prev = parallel.configure(threads=3, min_elements=MIN)
    parallel.run_chunks = spy
    try:
        yield calls
    finally:
        parallel.run_chunks = real
        parallel.configure(*prev)


_MADE: collections.OrderedDict = collections.OrderedDict()  # _special's last arrays, by the rng state they came from


def _special(rng, shape, dtype):
    """_make_special's array, and rng left where it leaves it. The pointwise test makes every entry's arguments
    two to four times from the same seed (one thread, three threads; both backward routes), and drawing 270,000
    normals was half its time: a repeat (the same rng state, shape and dtype) gets a copy of the array made the
    first time (bit for bit: the NaN payloads too) and the rng state that followed it, as if drawn again."""
    state = rng.bit_generator.state
    key = (state["state"]["state"], state["state"]["inc"], state["has_uint32"], state["uinteger"], tuple(shape),
           np.dtype(dtype).str)
    if key in _MADE:
        a, after = _MADE[key]
        rng.bit_generator.state = after
        return a.copy()
    a = _make_special(rng, shape, dtype)
    _MADE[key] = (a.copy(), rng.bit_generator.state)
    while len(_MADE) > 8:  # one entry's arguments and weight: a few 2 MB arrays at most
        _MADE.popitem(last=False)
    return a


def _make_special(rng, shape, dtype):
    """Random values with NaNs (both signs, other payloads), infinities, signed zeros, subnormals, huge values,
    at the same places in every array of a shape (so that NaN meets NaN: which payload a result carries shows
    the order of the operands)."""
    a = (rng.standard_normal(shape) * 2).astype(dtype)
    flat = a.reshape(-1)
    n = flat.size
    info = np.finfo(dtype)
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, info.tiny / 4, -info.tiny / 2, info.max,
                         -info.max, 0.5, 1.0, -1.0, 2.0], dtype=dtype)
    idx = np.random.default_rng(n).choice(n, size=min(n, 900), replace=False)
    flat[idx] = specials[(np.arange(idx.size) + rng.integers(0, 3)) % specials.size]
    bits = flat.view(np.dtype(f"u{np.dtype(dtype).itemsize}"))
    nan = np.isnan(flat[idx])
    bits[idx[nan]] |= rng.integers(1, 64, size=int(nan.sum())).astype(bits.dtype)  # other payloads
    return a


def _offset(a):
    """The same values in a C-contiguous array that starts 3 elements into its buffer (misaligned)."""
    buf = np.empty(a.size + 3, a.dtype)
    v = buf[3:].reshape(a.shape)
    v[...] = a
    return v


def _arguments(op, rng, dtype, layout):
    """Positional values for op: its tensor parameters as Tensors of SHAPE (the second one (900,) under
    "broadcast", the first a broadcast single value under "expand"), its attributes from ATTRS."""
    vals = []
    k = 0
    types = {p.partition(" ")[2].split("=")[0].strip(): p.partition(" ")[0]
             for p in op.schema[op.schema.index("(") + 1: op.schema.rindex(") ->")].split(", ")}
    for name in op.params:
        typ = types.get(name, "")
        if name in op.tensor_params or typ.startswith("BoolTensor"):
            shape = SHAPE
            if layout == "broadcast" and k == 1:
                shape = SHAPE[1:]
            if typ.startswith("BoolTensor"):
                arr = rng.random(SHAPE) < 0.5
                vals.append(engine.tensor(arr))
                continue
            arr = _special(rng, shape, dtype)
            if layout == "offset":
                arr = _offset(arr)
            if layout == "expand" and k == 0:
                arr = np.broadcast_to(arr.reshape(-1)[:1].reshape(()), shape)
            vals.append(engine.from_numpy(arr).requires_grad_(op.differentiable))
            k += 1
        elif name in SCALAR_ATTRS and typ.startswith("Scalar"):
            vals.append(SCALAR_ATTRS[name])
        elif name in ATTRS:
            vals.append(ATTRS[name])
        elif name == "self":  # pow.Scalar: a Scalar base
            vals.append(1.7)
        else:
            vals.append(op.defaults.get(name))
    return vals


def _bits(x):
    if x is None:
        return None
    a = x._data if isinstance(x, engine.Tensor) else x
    a = np.asarray(a)
    return (a.dtype.str, a.shape, a.flags.c_contiguous, a.tobytes())


def _run(op, dtype, layout, seed, create_graph):
    """Forward (and, where it records a graph, backward with a random weight): every result's bits, or the
    error's type and text."""
    rng = np.random.default_rng(seed)
    vals = _arguments(op, rng, dtype, layout)
    leaves = [v for v in vals if isinstance(v, engine.Tensor) and v.requires_grad]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            out = op(*vals)
        except Exception as e:  # noqa: BLE001 - both paths must raise the same
            return [(type(e).__name__, str(e))]
        res = [_bits(o) for o in (out if isinstance(out, tuple) else (out,))]
        if isinstance(out, engine.Tensor) and out.requires_grad and leaves:
            w = engine.from_numpy(_special(rng, out.shape, out._data.dtype))
            try:
                grads = engine.autograd.grad([out], leaves, [w], allow_unused=True, create_graph=create_graph)
            except Exception as e:  # noqa: BLE001 - (acosh_'s: torch's not-implemented derivative) the same
                return [*res, (type(e).__name__, str(e))]
            res += [_bits(g) for g in grads]
    return res


FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"  # make test-full: every layout in every dtype, both routes
DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
CASES = [(lay, dt, routes) for lay in ("contiguous", "broadcast", "offset", "expand") for dt in DTYPES
         for routes in [(False, True) if FULL or lay == "contiguous" else (False,)]
         if FULL or lay == "contiguous" or dt == "float16"]


@pytest.mark.parametrize(("layout", "dtype", "routes"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_pointwise_entry_gives_the_same_bits_threaded(layout, dtype, routes, chunking):
    """Each entry's forward, and its input gradients by the array formulas (create_graph=False) and by the
    Tensor formulas (True), threaded (3 threads) and not, byte for byte; the contiguous layout in every dtype,
    the others in float16 (whose 2-byte elements put the most elements under NumPy's size thresholds)."""
    not_chunked = set()
    for i, op in enumerate(ENTRIES):
        for create_graph in routes:
            parallel.configure(threads=1)
            one = _run(op, DTYPES[dtype], layout, i, create_graph)
            parallel.configure(threads=3)
            before = len(chunking)
            many = _run(op, DTYPES[dtype], layout, i, create_graph)
            assert one == many, f"{op.qualname} ({layout}, create_graph={create_graph}): threaded bits differ"
            if len(chunking) == before and len(one[0]) == 4:  # a result (not an error) made without chunks
                not_chunked.add(op.qualname)
    # chunking really happened: every entry that gave a result was chunked, but those that cannot be
    assert not_chunked <= NOT_CHUNKED, sorted(not_chunked)


# ----- the torch-order sum's ranges on the pool -----


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_torch_order_sums_give_the_same_bits_threaded(dtype, chunking):
    """A full sum's thread ranges computed on the pool: the same additions. (A sum over rows is not split: NumPy's
    reductions give a NaN + NaN the payload of one operand or the other depending on the array's layout.)"""
    rng = np.random.default_rng(5)
    for shape, axes in [((1_000_003,), (0,)), ((300, 900), (0, 1)), ((3, 40_000), (0, 1))]:
        a = _special(rng, shape, dtype)
        parallel.configure(threads=1)
        one = _torch_sum.torch_sum(a, axes)
        parallel.configure(threads=3)
        before = len(chunking)
        many = _torch_sum.torch_sum(a, axes)
        assert one.tobytes() == many.tobytes() and one.shape == many.shape, (shape, axes)
        assert len(chunking) > before, f"{shape} over {axes}: not run on the pool"


# ----- budgets, deadlines, threads, errors -----


def _big(n=1 << 20, dtype=np.float32, seed=0):
    return engine.from_numpy(np.random.default_rng(seed).uniform(-1, 1, n).astype(dtype)).requires_grad_(True)


def test_a_chunked_op_checks_the_deadline_before_every_chunk_and_stops(chunking):
    x = _big()
    counting = CountingBudget()
    with _budget.active(counting):
        x.sin()
    assert chunking and counting.checks >= chunking[-1] >= 8, (counting.checks, chunking)
    for stop in (2, 5):  # the deadline passes on the request's thread or a helper's: the request stops
        with _budget.active(CountingBudget(stop=stop)), pytest.raises(_budget.DeadlinePassed):
            x.sin()


def test_threads_charge_the_same_as_one_thread(chunking):
    """A chunked op is charged once, by its entry's rule, as the single-threaded one: the same flops, the same
    peak of live bytes (no chunk charged again, none missed)."""
    used = {}
    for threads in (1, 3):
        parallel.configure(threads=threads)
        b = _budget.Budget()
        with _budget.active(b):
            x = _big()
            y = (x.sin() * 2.5).exp()
            y.sum().backward()
        used[threads] = (b.used_flops, b.peak)
    assert chunking, "nothing was chunked"
    assert used[1] == used[3]


def test_a_request_uses_at_most_its_share_of_threads_and_concurrent_requests_share_the_pool(chunking):
    """Four request threads at once, each chunking large ops: each job runs on at most threads() threads; all
    the helpers together are threads() - 1 threads, shared."""
    seen = []
    real = parallel.run_chunks

    def spy(work, n):
        job = object()  # kept in `seen`: no other job reuses its id

        def traced(i):
            seen.append((job, threading.get_ident(), threading.current_thread().name))
            return work(i)

        return real(traced, n)

    parallel.run_chunks = spy
    try:
        errors = []

        def request(seed):
            try:
                for _ in range(3):
                    x = _big(seed=seed)
                    x.exp().sin().sum().backward()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=request, args=(s,)) for s in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors
    finally:
        parallel.run_chunks = real
    per_job = {}
    for job, ident, _ in seen:
        per_job.setdefault(id(job), set()).add(ident)
    assert per_job and max(len(v) for v in per_job.values()) <= parallel.threads() == 3
    helpers = {ident for _, ident, name in seen if name == "gradserve-elementwise"}
    assert 1 <= len(helpers) <= parallel.threads() - 1
    alive = [t for t in threading.enumerate() if t.name == "gradserve-elementwise"]
    assert len(alive) <= parallel.threads() - 1


def test_fewer_threads_retire_helpers(chunking):
    _big().sin()
    parallel.configure(threads=2)
    _big().sin()
    deadline = 50
    while deadline and len([t for t in threading.enumerate() if t.name == "gradserve-elementwise"]) > 1:
        threading.Event().wait(0.02)
        deadline -= 1
    assert len([t for t in threading.enumerate() if t.name == "gradserve-elementwise"]) <= 1


def test_helpers_run_under_the_requests_floating_point_handling(chunking):
    """NumPy's error state is per thread (a context variable): the helpers take the request's, so that the
    service's errstate(all="ignore") records no warning, and errstate(all="raise") raises, as on one thread."""
    x = engine.from_numpy(np.linspace(-1, 1, 1 << 20, dtype=np.float32))
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        x.log()
    assert not caught
    with np.errstate(all="raise"), pytest.raises(FloatingPointError):
        x.log()
    assert chunking


def test_an_error_in_a_chunk_is_the_single_threaded_error(chunking):
    """remainder on integers with a zero divisor past the first chunk: torch's error, from whichever thread."""
    a = np.arange(1 << 20, dtype=np.int64) + 1
    b = np.ones(1 << 20, dtype=np.int64)
    b[-5] = 0
    errors = []
    for threads in (1, 3):
        parallel.configure(threads=threads)
        with pytest.raises(engine.errors.EngineError) as e:
            engine.remainder(engine.from_numpy(a), engine.from_numpy(b))
        errors.append((type(e.value), str(e.value)))
    assert errors[0] == errors[1]
    assert chunking


@pytest.mark.parametrize(("env", "want"), [
    ({"GRADSERVE_ELEMENTWISE_THREADS": "3"}, 3),
    ({"GRADSERVE_ELEMENTWISE_THREADS": "1"}, 1),
    ({"GRADSERVE_ELEMENTWISE_THREADS": "99"}, parallel.MAX_THREADS),
    ({"OMP_NUM_THREADS": "4"}, 4),
    ({"OMP_NUM_THREADS": "4", "GRADSERVE_WORKERS": "2"}, 2),
    ({"OMP_NUM_THREADS": "2", "GRADSERVE_WORKERS": "4"}, 1),
])
def test_the_thread_count_is_read_from_the_environment(env, want):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GRADSERVE_ELEMENTWISE_THREADS", "OMP_NUM_THREADS", "GRADSERVE_WORKERS")}
    out = subprocess.run([sys.executable, "-c", "from engine import parallel; print(parallel.threads())"],
                         env={**clean, **env}, capture_output=True, text=True, timeout=120, check=True)
    assert int(out.stdout) == want


def test_a_stopped_op_keeps_none_of_the_requests_arrays_alive(chunking):
    """After a chunked op stops (its deadline passed in a chunk) and the request lets go of the error, nothing of
    the pool holds its arrays (a job, a helper, an error's traceback): without the cyclic GC they are freed, as
    the process's memory budget needs (engine.budget counts a tracked array until NumPy frees it)."""
    gc.disable()
    try:
        for stop in (2, 5):
            x = _big()
            ref = weakref.ref(x._data)
            caught = None
            try:
                with _budget.active(CountingBudget(stop=stop)):
                    x.sin()
            except _budget.DeadlinePassed as e:
                caught = type(e)
            assert caught is _budget.DeadlinePassed
            del x
            for _ in range(50):  # a helper may still be leaving the job's loop
                if ref() is None:
                    break
                threading.Event().wait(0.02)
            assert ref() is None, "the stopped op's input is still referenced"
    finally:
        gc.enable()


def test_a_cgroup_cpu_quota_bounds_the_default(tmp_path):
    """A container's CPU limit (cgroup v2 cpu.max: quota and period in microseconds) is read; "max" is none."""
    f = tmp_path / "cpu.max"
    for text, want in [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)]:
        f.write_text(text)
        assert parallel._cgroup_cpus(str(f)) == want
    assert parallel._cgroup_cpus(str(tmp_path / "missing")) is None
