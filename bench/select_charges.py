"""The selection ops' charge against their CPU (safeM; redteam13 F7/F11): for random and adversarial rows, the
process CPU time of topk / kthvalue / sort and the flops their Budget charged, as ns per charged flop and as a
ratio to an elementwise add's ns per flop measured in the same run (real/charged: <= ~1 means charged at least its
cost). With --old REV the same cases under that revision's engine/ops/sorting_select.py, side by side.

usage: python -m bench.select_charges [--old REV] [--scale S]"""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time

import numpy as np

import engine
from engine import budget as B
from engine.ops import sorting as SORTING


def killer_tied(n):
    """redteam13's closed form of aten's quickselect adversary (qs_killer.py), its k-th value given twice."""
    m = n // 2
    i = np.arange(m - 1)
    a = np.where(i % 2 == 0, i + 2, m + 2 + (i - 1) // 2)
    x = np.concatenate([a, np.arange(1, m + 2, 2), np.arange(3 * m // 2 + 1, n), [0]]).astype(np.float64)
    x[x == m + 1] = m
    return x


def cases(s):
    rng = np.random.default_rng(0)
    n = int(65536 * s)
    yield "topk random [4, n] k=n/64", lambda: engine.topk(engine.tensor(rng.standard_normal((4, n))), n // 64)
    yield "topk random rounded(1) k=n/2", lambda: engine.topk(engine.tensor(rng.standard_normal(n).round(1)), n // 2)
    yield "kthvalue random rounded(1)", lambda: engine.kthvalue(engine.tensor(rng.standard_normal(n).round(1)), n // 2)
    yield "sort random rounded(2)", lambda: engine.sort(engine.tensor(rng.standard_normal(n).round(2)))
    yield "mode randint(0, 50) [64, n/64]", lambda: engine.mode(engine.tensor(rng.integers(0, 50, (64, n // 64))))
    for m in (int(2000 * s), int(4000 * s), int(8000 * s)):
        m -= m % 4
        yield f"kthvalue killer n={m}", lambda m=m: engine.kthvalue(engine.tensor(killer_tied(m)), m // 2 + 1)
    for m in (int(16384 * s), int(65536 * s)):
        yield f"topk sawtooth n={m} k=n/64", lambda m=m: engine.topk(engine.tensor(np.arange(m) % 64.0), m // 64)
    m = int(65536 * s)
    yield f"topk randint(0, 8) n={m} k=n/64", lambda: engine.topk(engine.tensor(rng.integers(0, 8, m) * 1.0), m // 64)
    for m in (int(20000 * s), int(60000 * s)):
        yield f"topk organ n={m} k=n/2", lambda m=m: engine.topk(
            engine.tensor(np.minimum(np.arange(m), m - np.arange(m)) * 1.0), m // 2)


def elementwise_ns():
    a, b = np.random.rand(2_000_000), np.random.rand(2_000_000)
    t = time.process_time()
    for _ in range(20):
        np.add(a, b)
    return (time.process_time() - t) / 20 / 2e6 * 1e9


def measure(fn):
    b = B.Budget()
    t = time.process_time()
    with B.active(b):
        fn()
    return time.process_time() - t, b.used_flops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default=None)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    new_sel = SORTING.SEL
    old_sel = None
    if a.old:
        src = subprocess.run(["git", "show", f"{a.old}:engine/ops/sorting_select.py"], capture_output=True,
                             text=True, check=True).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(src)
        spec = importlib.util.spec_from_file_location("old_sorting_select", f.name)
        old_sel = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old_sel)
    ew = elementwise_ns()
    print(f"elementwise add: {ew:.2f} ns/flop")
    head = "| case | CPU s | charged flops | ns/charged flop | real/charged |"
    if old_sel:
        head += " old: charged flops | old: real/charged |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for name, fn in cases(a.scale):
        SORTING.SEL = new_sel
        dt, fl = measure(fn)
        row = f"| {name} | {dt:.3f} | {fl:.3g} | {dt / fl * 1e9:.2f} | {dt / fl * 1e9 / ew:.2f} |"
        if old_sel:
            SORTING.SEL = old_sel
            odt, ofl = measure(fn)
            row += f" {ofl:.3g} | {odt / ofl * 1e9 / ew:.2f} |"
            SORTING.SEL = new_sel
        print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
