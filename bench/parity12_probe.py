"""Probe: how many (dtype, value) cases of each op with a number differ from live torch 2.13 (parity10's method:
9 dtypes x 47 values, tests/engine/test_parity10_scalar_fill.py). Prints one line per op: differing / total.

    .venv/bin/python -m bench.parity12_probe [substring ...]
"""
from __future__ import annotations

import sys
import warnings

import torch

import engine
from tests.engine.test_parity10_scalar_fill import DTYPES, VALUES, answer


def _a(lib, d):
    return lib.tensor([-3, -1, 0, 2, 5]).to(d)


def _b(lib, d):
    return lib.tensor([2, -2, 3, -4, 0]).to(d)


OPS = {
    "lerp(w=v)": lambda lib, d, v: _a(lib, d).lerp(_b(lib, d), v),
    "lerp_(w=v)": lambda lib, d, v: _a(lib, d).lerp_(_b(lib, d), v),
    "lerp(w=full(v))": lambda lib, d, v: _a(lib, d).lerp(_b(lib, d), lib.full((5,), v, dtype=d)),
    "div(v, floor)": lambda lib, d, v: _a(lib, d).div(v, rounding_mode="floor"),
    "div(v, trunc)": lambda lib, d, v: _a(lib, d).div(v, rounding_mode="trunc"),
    "div_(v, floor)": lambda lib, d, v: _a(lib, d).div_(v, rounding_mode="floor"),
    "div(t, floor)": lambda lib, d, v: lib.full((5,), v, dtype=d).div(_b(lib, d), rounding_mode="floor"),
    "div(t, trunc)": lambda lib, d, v: lib.full((5,), v, dtype=d).div(_b(lib, d), rounding_mode="trunc"),
    "floor_divide(v)": lambda lib, d, v: _a(lib, d).floor_divide(v),
    "t // v": lambda lib, d, v: _a(lib, d) // v,
    "v // t": lambda lib, d, v: v // _a(lib, d),
    "floor_divide(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).floor_divide(_b(lib, d)),
    "fmod(v)": lambda lib, d, v: _a(lib, d).fmod(v),
    "fmod_(v)": lambda lib, d, v: _a(lib, d).fmod_(v),
    "fmod(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).fmod(_b(lib, d)),
    "remainder(v)": lambda lib, d, v: _a(lib, d).remainder(v),
    "t % v": lambda lib, d, v: _a(lib, d) % v,
    "v % t": lambda lib, d, v: v % _a(lib, d),
    "remainder(t)": lambda lib, d, v: lib.full((5,), v, dtype=d).remainder(_b(lib, d)),
    "div(v)": lambda lib, d, v: _a(lib, d).div(v),
    "div_(v)": lambda lib, d, v: _a(lib, d).div_(v),
    "pow(v)": lambda lib, d, v: _a(lib, d).pow(v),
    "pow_(v)": lambda lib, d, v: _a(lib, d).pow_(v),
    "v ** t": lambda lib, d, v: v ** _a(lib, d),
    "pow(t, full(v))": lambda lib, d, v: _a(lib, d).pow(lib.full((5,), v, dtype=d)),
    "index_put_(0-d)": lambda lib, d, v: lib.zeros(3, dtype=d).index_put_((lib.tensor([0, 2]),), lib.tensor(v)),
    "t[0] = v": lambda lib, d, v: _setitem(lib, d, v, 0),
    "t[1:] = v": lambda lib, d, v: _setitem(lib, d, v, slice(1, None)),
    "t[mask] = v": lambda lib, d, v: _setitem(lib, d, v, lib.tensor([True, False, True])),
    "t[idx] = v": lambda lib, d, v: _setitem(lib, d, v, lib.tensor([0, 2])),
    "eq(v)": lambda lib, d, v: _a(lib, d).eq(v),
    "add(v)": lambda lib, d, v: _a(lib, d).add(v),
    "mul(v)": lambda lib, d, v: _a(lib, d).mul(v),
    "sub(v)": lambda lib, d, v: _a(lib, d).sub(v),
    "add(alpha=v)": lambda lib, d, v: _a(lib, d).add(_b(lib, d), alpha=v),
}


def _setitem(lib, d, v, key):
    t = lib.zeros(3, dtype=d)
    t[key] = v
    return t


def main(argv):
    picks = [k for k in OPS if not argv or any(s in k for s in argv)]
    total = 0
    for name in picks:
        bad = 0
        for dtype in DTYPES:
            for value in VALUES:
                def fn(lib, dtype=dtype, value=value, name=name):
                    return OPS[name](lib, getattr(lib, dtype), value)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if answer(torch, fn) != answer(engine, fn):
                        bad += 1
        total += bad
        print(f"{name:20s} {bad:4d} / {len(DTYPES) * len(VALUES)}", flush=True)
    print(f"{'total':20s} {total:4d}")


if __name__ == "__main__":
    main(sys.argv[1:])
