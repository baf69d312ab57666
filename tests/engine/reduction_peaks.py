"""The reductions' real memory peaks against what they charge, at a large input: each call (forward; then its
backward, a gradient of ones) runs under its own engine.budget.Budget, whose peak is what the entries' rules
and the code around them charged, while tracemalloc (NumPy reports its buffers to it) measures the peak above
what was allocated before the call. Prints a table (docs/runs/split2.md):

    .venv/bin/python -m tests.engine.reduction_peaks            # 1024 x 1024 float32
    .venv/bin/python -m tests.engine.reduction_peaks 2048 float64

Not a test: tests/engine/test_reduction_peaks.py holds the cases fixed after this table to their charge."""
from __future__ import annotations

import sys
import tracemalloc
import warnings

import numpy as np

import engine
from engine import budget as _budget

# (label, function of the (n, n) input)
CASES = [
    ("sum()", lambda x: engine.sum(x)),
    ("sum(dim=0)", lambda x: engine.sum(x, 0)),
    ("sum(dim=1, keepdim)", lambda x: engine.sum(x, 1, keepdim=True)),
    ("sum(dtype=float64)", lambda x: engine.sum(x, dtype=engine.float64)),
    ("sum(dim=[0, 1], dtype=float64)", lambda x: engine.sum(x, [0, 1], dtype=engine.float64)),
    ("sum(x.t(), dim=1)", lambda x: engine.sum(x.t(), 1)),
    ("sum(int32 input, dim=1)", lambda x: engine.sum(_int(x), 1)),
    ("mean()", lambda x: engine.mean(x)),
    ("mean(dim=0)", lambda x: engine.mean(x, 0)),
    ("mean(dim=1, keepdim)", lambda x: engine.mean(x, 1, keepdim=True)),
    ("mean(dtype=float64)", lambda x: engine.mean(x, dtype=engine.float64)),
    ("prod()", lambda x: engine.prod(x)),
    ("prod(dim=1)", lambda x: engine.prod(x, 1)),
    ("prod(int32 input, dim=0, dtype=float64)", lambda x: engine.prod(_int(x), 0, dtype=engine.float64)),
    ("amax(dim=0)", lambda x: engine.amax(x, 0)),
    ("max()", lambda x: engine.max(x)),
    ("max(dim=0)", lambda x: engine.max(x, 0)),
    ("argmax(dim=0)", lambda x: engine.argmax(x, 0)),
    ("var()", lambda x: engine.var(x)),
    ("var(dim=0)", lambda x: engine.var(x, 0)),
    ("var(dim=1, keepdim)", lambda x: engine.var(x, 1, keepdim=True)),
    ("std()", lambda x: engine.std(x)),
    ("std(dim=0, correction=0)", lambda x: engine.std(x, 0, correction=0)),
    ("var_mean()", lambda x: engine.var_mean(x)),
    ("var_mean(dim=1)", lambda x: engine.var_mean(x, 1)),
    ("std_mean(dim=0, keepdim)", lambda x: engine.std_mean(x, 0, keepdim=True)),
    ("norm()", lambda x: engine.norm(x)),
    ("norm(p=1, dim=0)", lambda x: engine.norm(x, 1, 0)),
    ("norm(p=3, dim=1)", lambda x: engine.norm(x, 3, 1)),
    ("norm(p=inf)", lambda x: engine.norm(x, float("inf"))),
    ("linalg.vector_norm(dtype=float64)", lambda x: engine.linalg.vector_norm(x, dtype=engine.float64)),
    ("logsumexp(dim=0)", lambda x: engine.logsumexp(x, 0)),
    ("logsumexp(dim=[0, 1])", lambda x: engine.logsumexp(x, [0, 1])),
    ("logsumexp(dim=1, keepdim)", lambda x: engine.logsumexp(x, 1, keepdim=True)),
    ("cumsum(dim=0)", lambda x: engine.cumsum(x, 0)),
    ("cumsum(dim=1)", lambda x: engine.cumsum(x, 1)),
    ("cumsum(dim=1, dtype=float64)", lambda x: engine.cumsum(x, 1, dtype=engine.float64)),
    ("cumsum(x.t(), dim=1)", lambda x: engine.cumsum(x.t(), 1)),
    ("cumsum(int32 input, dim=0)", lambda x: engine.cumsum(_int(x), 0)),
    ("cumprod(dim=0)", lambda x: engine.cumprod(x, 0)),
    ("cumprod(dim=1)", lambda x: engine.cumprod(x, 1)),
    ("logcumsumexp(dim=1)", lambda x: engine.logcumsumexp(x, 1)),
    ("nansum()", lambda x: engine.nansum(x)),
    ("nansum(dim=0)", lambda x: engine.nansum(x, 0)),
    ("nansum(dim=1, keepdim, dtype=float64)", lambda x: engine.nansum(x, 1, keepdim=True, dtype=engine.float64)),
    ("nanmean(dim=0)", lambda x: engine.nanmean(x, 0)),
    ("median()", lambda x: engine.median(x)),
    ("median(dim=0)", lambda x: engine.median(x, 0)),
    ("median(dim=1, keepdim)", lambda x: engine.median(x, 1, keepdim=True)),
    ("nanmedian(dim=0)", lambda x: engine.nanmedian(x, 0)),
    ("mode(dim=0)", lambda x: engine.mode(x, 0)),
    ("mode(dim=1)", lambda x: engine.mode(x, 1)),
    ("kthvalue(k=3, dim=0)", lambda x: engine.kthvalue(x, 3, 0)),
    ("kthvalue(k=3, dim=1, keepdim)", lambda x: engine.kthvalue(x, 3, 1, keepdim=True)),
    ("quantile(0.3)", lambda x: engine.quantile(x, 0.3)),
    ("quantile(0.3, dim=0)", lambda x: engine.quantile(x, 0.3, dim=0)),
    ("quantile([.1, .5, .9], dim=1)", lambda x: engine.quantile(x, _q(x), dim=1)),
    ("quantile([.1, .5, .9])", lambda x: engine.quantile(x, _q(x))),
    ("quantile(0.3, dim=0, keepdim, 'midpoint')",
     lambda x: engine.quantile(x, 0.3, dim=0, keepdim=True, interpolation="midpoint")),
    ("nanquantile(0.3)", lambda x: engine.nanquantile(x, 0.3)),
    ("nanquantile(0.3, dim=0)", lambda x: engine.nanquantile(x, 0.3, dim=0)),
    ("nanquantile([.1, .5, .9], dim=1)", lambda x: engine.nanquantile(x, _q(x), dim=1)),
]
LABELS = [c[0] for c in CASES]


def _int(x):
    """x as int32 (the cast is in the measured call, and charged by its entry)."""
    return x.detach().to(engine.int32)


def _q(x):
    return engine.tensor([0.1, 0.5, 0.9], dtype=x.dtype)


def _outputs(out):
    if isinstance(out, tuple | list):
        return [o for item in out for o in _outputs(item)]
    return [out] if isinstance(out, engine.Tensor) else []


def _measured(fn):
    """(charged bytes, measured peak bytes) of fn() under a fresh budget; fn's result is dropped after."""
    b = _budget.Budget()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    with _budget.active(b), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    _, peak = tracemalloc.get_traced_memory()
    return b.peak, peak - start, out


def measure(label, n=1024, dtype="float32", backward=True, seed=0):
    """{'fwd': (charged, peak), 'bwd': (charged, peak) or None} for CASES' `label` at an (n, n) input."""
    fn = dict(CASES)[label]
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n, n)).astype(dtype)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        x = engine.tensor(data, requires_grad=backward)
        del data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(engine.tensor(np.ones((3, 3), dtype), requires_grad=backward))  # first-call imports, caches
        charged, peak, out = _measured(lambda: fn(x))
        res = {"fwd": (charged, peak), "bwd": None}
        outs = [o for o in _outputs(out) if o.requires_grad and o.dtype.is_floating_point]
        if backward and outs:
            grads = [engine.ones_like(o) for o in outs]
            charged, peak, _ = _measured(lambda: engine.autograd.grad(outs, [x], grads, allow_unused=True))
            res["bwd"] = (charged, peak)
        return res
    finally:
        if started:
            tracemalloc.stop()


def _mb(b):
    return f"{b / 2**20:.1f}"


def main(argv):
    n = int(argv[0]) if argv else 1024
    dtype = argv[1] if len(argv) > 1 else "float32"
    item = np.dtype(dtype).itemsize
    print(f"input: ({n}, {n}) {dtype}, {_mb(n * n * item)} MB; MB charged / measured peak (ratio)")
    print("| op | forward charged | forward peak | ratio | backward charged | backward peak | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label in LABELS:
        r = measure(label, n, dtype)
        cells = []
        for part in ("fwd", "bwd"):
            if r[part] is None:
                cells += ["-", "-", "-"]
                continue
            charged, peak = r[part]
            cells += [_mb(charged), _mb(peak), f"{peak / max(charged, 1):.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
