"""Every catalog op's charges at run time against what it made (red team 14 F6's scan, finished): each op of
engine.catalog.BY_NAME is called under a fresh Budget on small inputs (simple argument patterns, and PyTorch's
OpInfo samples where the op has one), and what it charged (flops, bytes at its peak) is set beside the bytes of
its fresh outputs (output arrays that share no memory with an input). An op whose fresh output was charged
nothing at all (no flops, no bytes) is a gap: max_request_bytes / max_flops / the spill caps never saw it.

`python -m tests.engine.charge_scan [--timeout S] [names...]` runs each op in a worker process with a timeout
per op and prints the table (op, calls that ran, charged flops / bytes of the worst call, fresh bytes);
tests/engine/test_safety_o_charges.py holds every op to it on the simple patterns (no torch, no OpInfo)."""
from __future__ import annotations

import json
import sys
import warnings

import numpy as np

import engine
from engine import budget as _budget
from engine.catalog import BY_NAME, OPS

# Steps of a program (no function of a tensor), and names whose answer is no tensor (Python values, attributes).
SKIP = {"backward", "grad", "autograd.grad", "setitem", "retain_grad", "requires_grad_", "detach_"}


def _x(shape=(4, 4), dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) + 2.0 * np.eye(*shape[-2:]) if len(shape) >= 2 else rng.standard_normal(shape)
    return engine.from_numpy(np.ascontiguousarray(a).astype(dtype))


def patterns(s=4):
    """Argument lists tried on every op at size s (s = 4: the small sweep), made afresh per call (an in-place op
    may change its input)."""
    x = lambda shape=(s, s), seed=0: _x(shape, seed=seed)  # noqa: E731
    i = lambda: engine.from_numpy(np.random.default_rng(3).integers(0, s, (s, s)))  # noqa: E731
    v = lambda: _x((s,))  # noqa: E731
    m = lambda: engine.from_numpy(np.eye(s, dtype=bool) | np.eye(s, k=1, dtype=bool))  # noqa: E731
    b3 = lambda: _x((2, s, s))  # noqa: E731
    one = lambda: _x((1,))  # noqa: E731
    img = lambda c=2: _x((1, c, s, s))  # noqa: E731
    sig = lambda c=2: _x((1, c, 2 * s))  # noqa: E731
    return [
        lambda: ([x()], {}),
        lambda: ([x(), x(seed=1)], {}),
        lambda: ([x(), 0], {}),
        lambda: ([x(), 1], {}),
        lambda: ([x(), 2.0], {}),
        lambda: ([x(), x(seed=1), x(seed=2)], {}),
        lambda: ([x(), 0, 1], {}),
        lambda: ([x(), 0, i()], {}),
        lambda: ([x(), 0, i(), x(seed=1)], {}),
        lambda: ([x(), m()], {}),
        lambda: ([x(), m(), 1.5], {}),
        lambda: ([x(), m(), x(seed=1)], {}),
        lambda: ([m(), x(), x(seed=1)], {}),
        lambda: ([x(), [0]], {}),
        lambda: ([x(), [2, 2 * s]], {}),
        lambda: ([x(), [s, s]], {}),
        lambda: ([x(), (1, 1)], {}),
        lambda: ([x(), (1, 1, 1, 1)], {}),
        lambda: ([[x(), x(seed=1)]], {}),
        lambda: ([[x(), x(seed=1)], 0], {}),
        lambda: (["ij,jk->ik", x(), x(seed=1)], {}),
        lambda: ([x(), v()], {}),
        lambda: ([v()], {}),
        lambda: ([v(), v()], {}),
        lambda: ([v(), 2], {}),
        lambda: ([one()], {}),
        lambda: ([i()], {}),
        lambda: ([i(), i()], {}),
        lambda: ([i().flatten()], {}),
        lambda: ([i().flatten(), v()], {}),
        lambda: ([m()], {}),
        lambda: ([b3()], {}),
        lambda: ([b3(), b3()], {}),
        lambda: ([b3(), b3(), b3()], {}),
        lambda: ([x(), 2], {}),
        lambda: ([x(), 4], {}),
        lambda: ([1, x()], {}),
        lambda: ([x(), x(seed=1), 1], {}),
        lambda: ([x(), x(seed=1), 0], {}),
        lambda: ([x(), 0.5], {}),
        lambda: ([x(), 0.5, True], {}),
        lambda: ([x()], {"training": True}),
        lambda: ([x(), 0, 0.5], {}),
        lambda: ([x(), 0, 2, 1], {}),
        lambda: ([img(), _x((3, 2, 3, 3), seed=1)], {}),
        lambda: ([sig(), _x((3, 2, 3), seed=1)], {}),
        lambda: ([img(), 2], {}),
        lambda: ([sig(), 2], {}),
        lambda: ([_x((1, 2, 2, s, s)), 2], {}),
        lambda: ([img(4), 2], {}),
        lambda: ([_x((s, 3)), i().flatten() % 3], {}),
        lambda: ([x(), i().flatten() % s], {}),
        lambda: ([s], {}),
        lambda: ([s, s], {}),
        lambda: ([[s, s]], {}),
        lambda: ([0, s, s], {}),
        lambda: ([s, s, 1], {}),
        lambda: ([x(), x(seed=1), x(seed=2), x(seed=3)], {}),
        lambda: ([x(), x(seed=1), x(seed=2), 1], {}),
    ]


def extra(name, s=4):
    """Calls for the ops that none of `patterns` runs (their arguments are of particular kinds)."""
    x = lambda shape=(s, s), seed=0: _x(shape, seed=seed)  # noqa: E731
    idx = lambda: engine.from_numpy(np.random.default_rng(3).integers(0, s, (s,)))  # noqa: E731
    pos = lambda: engine.from_numpy(np.abs(np.random.default_rng(4).standard_normal((s, s))) + 2.0)  # noqa: E731
    unit = lambda: engine.from_numpy(np.random.default_rng(5).uniform(0.1, 0.9, (s, s)))  # noqa: E731
    spd = lambda: engine.from_numpy(np.eye(s) * s + np.full((s, s), 0.5))  # noqa: E731
    sign = lambda: engine.from_numpy(np.where(np.arange(s) % 2, 1.0, -1.0))  # noqa: E731
    lu = lambda: engine.linalg.lu_factor(x())  # noqa: E731
    calls = {
        "addbmm": lambda: ([x(), _x((2, s, s)), _x((2, s, s), seed=1)], {}),
        "addmv": lambda: ([_x((s,)), x(), _x((s,), seed=1)], {}),
        "addr": lambda: ([x(), _x((s,)), _x((s,), seed=1)], {}),
        "as_strided": lambda: ([x(), [2, 2], [1, 1]], {}),
        "as_strided_copy": lambda: ([x(), [2, 2], [1, 1]], {}),
        "as_strided_scatter": lambda: ([x(), _x((2, 2)), [2, 2], [1, 1]], {}),
        "batch_norm": lambda: ([x(), None, None], {"training": True}),
        "binary_cross_entropy": lambda: ([unit(), unit()], {}),
        "conv_transpose1d": lambda: ([_x((1, 2, 2 * s)), _x((2, 3, 3), seed=1)], {}),
        "conv_transpose2d": lambda: ([_x((1, 2, s, s)), _x((2, 3, 3, 3), seed=1)], {}),
        "cosine_embedding_loss": lambda: ([x(), x(seed=1), sign()], {}),
        "cross": lambda: ([_x((s, 3)), _x((s, 3), seed=1)], {}),
        "linalg.cross": lambda: ([_x((s, 3)), _x((s, 3), seed=1)], {}),
        "index_add": lambda: ([x(), 0, idx(), x(seed=1)], {}),
        "index_copy": lambda: ([x(), 0, engine.from_numpy(np.arange(s)[::-1].copy()), x(seed=1)], {}),
        "index_fill": lambda: ([x(), 0, idx(), 1.5], {}),
        "index_put": lambda: ([x(), (idx(),), x(seed=1)], {}),
        "index_reduce": lambda: ([x(), 0, idx(), x(seed=1), "prod"], {}),
        "index_select": lambda: ([x(), 0, idx()], {}),
        "linalg.cholesky": lambda: ([spd()], {}),
        "linalg.solve_triangular": lambda: ([x(), x(seed=1)], {"upper": True}),
        "lu_solve": lambda: ([x(seed=1), *lu()], {}),
        "lu_unpack": lambda: ([*lu()], {}),
        "multi_margin_loss": lambda: ([x(), idx()], {}),
        "multilabel_margin_loss": lambda: ([x(), engine.from_numpy(np.full((s, s), -1, dtype=np.int64))], {}),
        "nll_loss": lambda: ([x(), idx()], {}),
        "mvlgamma": lambda: ([pos(), 2], {}),
        "special.multigammaln": lambda: ([pos(), 2], {}),
        "native_batch_norm": lambda: ([x(), None, None, None, None, True, 0.1, 1e-5], {}),
        "native_group_norm": lambda: ([_x((1, 2, s, s)), None, None, 1, 2, s * s, 1, 1e-5], {}),
        "native_layer_norm": lambda: ([x(), [s], None, None, 1e-5], {}),
        "permute_copy": lambda: ([x(), [1, 0]], {}),
        "put": lambda: ([x(), idx(), _x((s,))], {}),
        "randint": lambda: ([s, [s, s]], {}),
        "renorm": lambda: ([x(), 2, 0, 1.0], {}),
        "scatter_reduce": lambda: ([x(), 0, engine.from_numpy(np.random.default_rng(3).integers(0, s, (s, s))),
                                    x(seed=1), "sum"], {}),
        "select_scatter": lambda: ([x(), _x((s,)), 0, 0], {}),
        "unflatten": lambda: ([x(), 1, (2, s // 2)], {}),
    }
    base = name[:-1] if name.endswith("_") and name[:-1] in calls else name
    return [calls[base]] if base in calls else []


def _arrays(obj, out):
    """Every NumPy array held by the engine tensors in obj (nested tuples, lists, dicts, named tuples)."""
    if isinstance(obj, engine.Tensor):
        out.append(obj._data)
    elif isinstance(obj, tuple | list):
        for o in obj:
            _arrays(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _arrays(o, out)
    return out


def _owner(a):
    while getattr(a, "base", None) is not None and isinstance(a.base, np.ndarray):
        a = a.base
    return a


def fresh_bytes(out, args) -> int:
    """The bytes of out's arrays that share no memory with an input's (each base counted once)."""
    ins = [np.asarray(a) for a in _arrays(args, [])]
    owners = {id(_owner(b)) for b in ins}
    seen, total = set(), 0
    for a in _arrays(out, []):
        a = np.asarray(a)
        o = _owner(a)
        if id(o) in owners or any(np.may_share_memory(a, b) for b in ins):
            continue
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += o.nbytes
    return total


def measure_call(fn, args, kwargs):
    """fn(*args, **kwargs) under a fresh Budget: None where it raised, else (fresh bytes, flops, peak bytes)."""
    bud = _budget.Budget()
    try:
        with warnings.catch_warnings(), _budget.active(bud):
            warnings.simplefilter("ignore")
            out = fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a pattern the op refuses is skipped
        return None
    return fresh_bytes(out, (args, kwargs)), bud.used_flops, bud.peak


def scan(name, calls):
    """op `name` over `calls` (thunks giving (args, kwargs)): (calls that ran, the worst row) where the worst is
    a call with fresh output charged nothing, else the call with the least charged bytes per fresh byte."""
    fn = OPS[name]
    ran, worst, key = 0, None, None
    for make in calls:
        try:
            args, kwargs = make()
        except Exception:  # noqa: BLE001 - a sample this engine cannot hold
            continue
        r = measure_call(fn, args, kwargs)
        if r is None:
            continue
        ran += 1
        fresh, flops, peak = r
        if not fresh:
            k = (2, 0)
        elif not flops and not peak:
            k = (0, -fresh)
        else:
            k = (1, peak / fresh)
        if key is None or k < key:
            key, worst = k, r
    return ran, worst


def uncharged(row) -> bool:
    """A row whose fresh output was charged nothing."""
    return row is not None and row[0] > 0 and row[1] == 0 and row[2] == 0


# ----- big inputs: CPU time and traced memory against the charges (the command line's --big S) -----

LIMITS = {"max_bytes": 1 << 30, "max_flops": 2e10}  # a call charged past these is refused before it runs


def measure_big(fn, args, kwargs):
    """fn(*args, **kwargs) under a Budget of LIMITS, twice (CPU time, then tracemalloc's peak): None where it
    raised, else (fresh bytes, flops, peak bytes, CPU seconds, traced bytes)."""
    import time  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415

    bud = _budget.Budget(**LIMITS)
    try:
        with warnings.catch_warnings(), _budget.active(bud):
            warnings.simplefilter("ignore")
            t = time.process_time()
            out = fn(*args, **kwargs)
            t = time.process_time() - t
    except Exception:  # noqa: BLE001 - refused or a pattern the op does not take
        return None
    fresh = fresh_bytes(out, (args, kwargs))
    del out
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with warnings.catch_warnings(), _budget.active(_budget.Budget(**LIMITS)):
            warnings.simplefilter("ignore")
            fn(*args, **kwargs)
        traced = tracemalloc.get_traced_memory()[1] - base
    except Exception:  # noqa: BLE001 - an in-place op's second call may fail: its memory unmeasured
        traced = 0
    finally:
        tracemalloc.stop()
    return fresh, bud.used_flops, bud.peak, t, traced


def scan_big(name, s, ns_per_flop, mem_floor=1 << 20, cpu_floor=0.005):
    """op `name` at size s: (calls that ran, the call of the worst memory ratio, the call of the worst time
    ratio), each (fresh, flops, peak, cpu, traced, ratio); ratio: traced / charged bytes (memory; only where
    traced passes charged by mem_floor), CPU per charged flop / ns_per_flop (time; only past cpu_floor)."""
    fn = OPS[name]
    ran, mem, cpu = 0, None, None
    for make in patterns(s) + extra(name, s):
        try:
            args, kwargs = make()
        except Exception:  # noqa: BLE001
            continue
        r = measure_big(fn, args, kwargs)
        if r is None:
            continue
        ran += 1
        fresh, flops, peak, t, traced = r
        if traced - peak > mem_floor:
            ratio = traced / max(peak, 1)
            if mem is None or ratio > mem[-1]:
                mem = (*r, ratio)
        if t > cpu_floor:
            ratio = t * 1e9 / max(flops, 1) / ns_per_flop
            if cpu is None or ratio > cpu[-1]:
                cpu = (*r, ratio)
    return ran, mem, cpu


def add_ns_per_flop():
    """The CPU an elementwise add takes a charged flop, here (the yardstick of the time ratios)."""
    import time  # noqa: PLC0415

    x = _x((1 << 21,))
    best = float("inf")
    for _ in range(5):
        bud = _budget.Budget()
        with _budget.active(bud):
            t = time.process_time()
            engine.add(x, x)
            t = time.process_time() - t
        best = min(best, t * 1e9 / bud.used_flops)
    return best


# ----- OpInfo samples (torch's test suite; the scan's command line only) -----


def opinfo_calls(name, limit=24):
    import torch  # noqa: PLC0415

    from tests.engine import torch_opinfo as O  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db  # noqa: PLC0415
    O._cheap_sample_iterators()
    base = name[:-1] if name.endswith("_") and not name.endswith("__") else name
    want = {base, "nn.functional." + base, "special." + base, "linalg." + base, "_refs." + base}
    infos = [o for o in op_db if o.name in want or any(a.name in want for a in getattr(o, "aliases", ()))]
    out = []
    for info in infos:
        for dt in (torch.float64, torch.int64, torch.bool):
            if dt not in info.supported_dtypes("cpu"):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    samples = list(info.sample_inputs("cpu", dt, requires_grad=False))[:limit]
            except Exception:  # noqa: BLE001
                continue
            for s in samples:
                def make(s=s):
                    memo = {}
                    args = [O.to_engine(s.input, memo), *(O.to_engine(a, memo) for a in s.args)]
                    return args, O.to_engine(dict(s.kwargs), memo)
                out.append(make)
            break
    return out


def _worker(conn, use_opinfo, big=0, ns=1.0):
    while True:
        name = conn.recv()
        if name is None:
            return
        if big:
            conn.send(scan_big(name, big, ns))
            continue
        calls = patterns() + extra(name) + (opinfo_calls(name) if use_opinfo else [])
        conn.send(scan(name, calls))


def main(argv):
    import multiprocessing as mp  # noqa: PLC0415

    timeout, names, use_opinfo, as_json, rows, big = 60.0, [], True, False, {}, 0
    it = iter(argv)
    for a in it:
        if a == "--timeout":
            timeout = float(next(it))
        elif a == "--no-opinfo":
            use_opinfo = False
        elif a == "--json":
            as_json = True
        elif a == "--big":
            big = int(next(it))
        else:
            names.append(a)
    names = names or sorted(n for n in BY_NAME if n not in SKIP)
    if big:
        return main_big(names, big, timeout)
    ctx = mp.get_context("fork")
    proc = conn = None
    out = (lambda line: None) if as_json else (lambda line: print(line, flush=True))
    out(f"{'op':32} {'ran':>4} {'fresh B':>9} {'flops':>9} {'peak B':>9}  verdict")
    for name in names:
        if proc is None:
            conn, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, use_opinfo), daemon=True)
            proc.start()
        conn.send(name)
        if not conn.poll(timeout):
            proc.kill()
            proc.join()
            proc = None
            rows[name] = "timed out"
            out(f"{name:32} timed out after {timeout:g} s")
            continue
        try:
            ran, row = conn.recv()
        except EOFError:
            proc.join()
            proc = None
            rows[name] = "worker died"
            out(f"{name:32} worker died")
            continue
        if row is None:
            rows[name] = "no call ran"
            out(f"{name:32} {ran:4} {'-':>9} {'-':>9} {'-':>9}  no call ran")
            continue
        fresh, flops, peak = row
        verdict = ("UNCHARGED" if uncharged(row) else "under" if fresh and peak * 2 < fresh
                   else "no fresh output" if not fresh else "ok")
        rows[name] = verdict
        out(f"{name:32} {ran:4} {fresh:9} {flops:9.3g} {peak:9}  {verdict}")
    if proc is not None:
        conn.send(None)
        proc.join()
    if as_json:
        print(json.dumps(rows))


def main_big(names, s, timeout):
    """The table at size s: each op's worst traced / charged bytes and CPU per charged flop against an add's."""
    import multiprocessing as mp  # noqa: PLC0415

    ns = add_ns_per_flop()
    print(f"size {s}: an add takes {ns:.3g} ns of CPU a charged flop; mem = traced / charged bytes where traced "
          "passes charged by 1 MiB, time = CPU per charged flop / an add's past 5 ms", flush=True)
    print(f"{'op':32} {'ran':>4} {'mem':>6} {'traced B':>10} {'charged B':>10} {'time':>7} {'cpu s':>7} "
          f"{'flops':>9}", flush=True)
    ctx = mp.get_context("fork")
    proc = conn = None
    for name in names:
        if proc is None:
            conn, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, False, s, ns), daemon=True)
            proc.start()
        conn.send(name)
        if not conn.poll(timeout):
            proc.kill()
            proc.join()
            proc = None
            print(f"{name:32} timed out after {timeout:g} s", flush=True)
            continue
        try:
            ran, mem, cpu = conn.recv()
        except EOFError:
            proc.join()
            proc = None
            print(f"{name:32} worker died", flush=True)
            continue
        m = f"{mem[-1]:6.2f} {mem[4]:10} {mem[2]:10}" if mem else f"{'-':>6} {'-':>10} {'-':>10}"
        c = f"{cpu[-1]:7.2f} {cpu[3]:7.3f} {cpu[1]:9.3g}" if cpu else f"{'-':>7} {'-':>7} {'-':>9}"
        flag = "  <-" if (mem and mem[-1] > 2) or (cpu and cpu[-1] > 2) else ""
        print(f"{name:32} {ran:4} {m} {c}{flag}", flush=True)
    if proc is not None:
        conn.send(None)
        proc.join()


if __name__ == "__main__":
    main(sys.argv[1:])
