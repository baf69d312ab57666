"""Group: a tensor's repr, engine.printing.format_tensor (its fast path) against the port of torch's code it
replaced and against torch 2.13's own repr() of the same tensor; every text checked equal to torch's first."""

from __future__ import annotations

import numpy as np

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table

# (row name, shape, dtype, suffix mode): suffix mode None, "requires_grad" or "grad_fn"
CASES = [
    ("0-d", (), "float32", None),
    ("3", (3,), "float32", None),
    ("4x4", (4, 4), "float32", None),
    ("16x16", (16, 16), "float32", None),
    ("100x100", (100, 100), "float32", None),
    ("2x2 grad_fn", (2, 2), "float32", "grad_fn"),
    ("4x4 float64", (4, 4), "float64", None),
    ("4x4 int64", (4, 4), "int64", None),
]
SUFFIXES = {None: [], "requires_grad": ["requires_grad=True"], "grad_fn": ["grad_fn=<MulBackward0>"]}


def _data(shape, dtype):
    rng = np.random.default_rng(sum(shape) + 1)
    if dtype == "int64":
        return rng.integers(-500, 500, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def columns(shape, dtype, mode) -> dict:
    import torch  # noqa: PLC0415

    from engine import printing  # noqa: PLC0415

    arr = _data(shape, dtype)
    suffixes = SUFFIXES[mode]
    t = torch.tensor(arr)
    if mode == "grad_fn":
        t = t.requires_grad_(True) * 1
    floating = dtype.startswith("float")
    opts = printing.DEFAULT_OPTIONS
    return {"engine": lambda: printing.format_tensor(arr, dtype, suffixes),
            "port": lambda: printing._format_array(arr, dtype, floating, suffixes, opts, fast=False),
            "torch": lambda: repr(t)}


def run(args) -> tuple[str, dict]:
    rows, notes, results = [], [], {}
    for name, shape, dtype, mode in CASES:
        if args.only and name not in args.only:
            continue
        cols = columns(shape, dtype, mode)
        texts = {c: fn() for c, fn in cols.items()}
        if len(set(texts.values())) != 1:
            notes.append(f"{name}: CHECK FAILED: the texts differ from torch's: {texts}")
        s = measure(cols, rounds=args.rounds, target=min(args.target, 0.05))
        r_torch = paired_ratio(s["engine"], s["torch"])
        r_port = paired_ratio(s["port"], s["engine"])
        results[name] = {"engine/torch": r_torch, "port/engine": r_port, **{c: s[c].median for c in cols}}
        spread = ", ".join(f"{c} {fmt_time(min(v.times))}–{fmt_time(max(v.times))}" for c, v in s.items() if v.times)
        rows.append([name, dtype, fmt_time(s["engine"].median), fmt_time(s["port"].median),
                     fmt_time(s["torch"].median), fmt_ratio(r_torch), fmt_ratio(r_port), spread])
        for c, v in s.items():
            if v.error:
                notes.append(f"{name}: {c} failed: {v.error}")
    notes.append("engine: engine.printing.format_tensor (printing_fast where it applies); port: printing's port "
                 "of torch's _tensor_str alone (_format_array(fast=False), what format_tensor ran before); "
                 "torch: repr() of torch.tensor of the same array, torch 2.13")
    notes.append("ratios: median over rounds of the paired samples; spread: min–max of the per-round samples; "
                 "100x100 is summarized (threshold 1000): 36 numbers printed; samples of ≥ "
                 f"{min(args.target, 0.05) * 1e3:g} ms")
    notes.append("0-d: format_tensor printed a lone value without the Formatter before this work too "
                 "(printing.format_value): its port column is the Formatter's cost, not the old format_tensor's")
    return table("repr: engine.printing.format_tensor against the port and torch",
                 ["tensor", "dtype", "engine", "port", "torch", "engine/torch", "port/engine", "spread"],
                 rows, notes), results
