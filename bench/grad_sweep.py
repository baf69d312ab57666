"""Gradient parity sweep with a random upstream gradient (grad17): every OpInfo target the engine covers.

For each covered OpInfo entry, each float dtype torch supports for it (float64, float32, float16) and each of its
`sample_inputs` (plus, for unary ufuncs, one 4000-element sample drawn in the OpInfo's domain), torch's and the
engine's `autograd.grad` are computed with the same seeded standard-normal grad_outputs (not ones: a ones upstream
gradient hides the order of g * (a * b) against (g * a) * b) and compared bit for bit (NaN equal to NaN, -0.0
apart from 0.0). Only where the forward agrees bit for bit:

- an elementwise op (one output of the shape of a leaf, not in ROW_COUPLED) compares the gradient elements
  whose output element is bitwise equal;
- any other op compares its gradients only where every output is bitwise equal (else the sample counts as
  `fwd` and its gradient is not compared).

    .venv/bin/python -m bench.grad_sweep [--dtypes float64,float32] [--only sinh,cosh] [--big 4000] [--json F]

Prints one row per (op id, dtype) with differing gradient elements: compared elements, differing elements,
samples whose forward differs, samples that raised.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np
import torch

import engine
from tests.engine import torch_opinfo as O
from tests.engine.test_opinfo import RANDOM, Case, flatten, is_tensor, seed_of, to_np

DT = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16}

# Ops of one output shaped as their input whose gradient at one element reads the forward's other elements of the
# row (softmax's sum of grad * output): compared only where the whole forward agrees (grad18; grad17 compared
# them per element, which counted a forward's last-bit difference elsewhere in the row as the gradient's).
ROW_COUPLED = ("softmax", "softmin", "cumprod", "logcumsumexp", "nn.functional.normalize")


def row_coupled(name):
    return any(k in name for k in ROW_COUPLED)


def differ(a, b):
    """Elements that differ as bits (NaN equal to NaN; -0.0 apart from 0.0)."""
    with np.errstate(invalid="ignore"):
        same = ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))
    return ~same


def _big_sample(info, tdt, n):
    """A large uniform sample in the unary ufunc's domain (None for other OpInfos)."""
    from torch.testing._internal.opinfo.core import SampleInput, UnaryUfuncInfo  # noqa: PLC0415

    if not isinstance(info, UnaryUfuncInfo):
        return None
    lo, hi = info.domain
    lo = -4.0 if lo is None else float(lo) + 1e-3
    hi = 4.0 if hi is None else float(hi) - 1e-3
    gen = torch.Generator().manual_seed(seed_of(info.name))
    x = (torch.rand(n, generator=gen, dtype=torch.float64) * (hi - lo) + lo).to(tdt).requires_grad_(True)
    return SampleInput(x)


def one(info, fn, sample, seed):
    """(compared, differing, status) for one sample; status '' / 'fwd' / 'skip' / 'error: ...'."""
    try:
        case = Case(info, fn, sample)
    except O.Unsupported:
        return 0, 0, "skip"
    if not case.t_leaves:
        return 0, 0, "skip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            tout = case.torch()
        try:
            eout = case.engine()
        except Exception as e:  # noqa: BLE001 - reported in the table
            return 0, 0, f"error: {type(e).__name__}"
        process = sample.output_process_fn_grad
        touts = [o for o in flatten(process(tout)) if is_tensor(o) and o.requires_grad and o.dtype.is_floating_point]
        eouts = [o for o in flatten(process(eout)) if is_tensor(o) and o.requires_grad and o.dtype.is_floating_point]
        if not touts or len(touts) != len(eouts):
            return 0, 0, "skip" if not touts else "error: outputs"
        fdiff = [differ(to_np(t), to_np(e)) if tuple(t.shape) == tuple(e.shape) else None
                 for t, e in zip(touts, eouts)]
        if any(d is None for d in fdiff):
            return 0, 0, "error: shape"
        rng = np.random.default_rng(seed)
        ws = [rng.standard_normal(tuple(o.shape)).astype(to_np(o).dtype) for o in touts]
        tg = torch.autograd.grad(touts, case.t_leaves, [torch.from_numpy(w.copy()) for w in ws], allow_unused=True)
        try:
            eg = engine.autograd.grad(eouts, case.e_leaves, [engine.tensor(w.copy()) for w in ws], allow_unused=True)
        except Exception as e:  # noqa: BLE001
            return 0, 0, f"error: {type(e).__name__}"
    elementwise = len(touts) == 1 and all(tuple(leaf.shape) == tuple(touts[0].shape) for leaf in case.t_leaves) \
        and not row_coupled(info.name)
    if not elementwise and any(d.any() for d in fdiff):
        return 0, 0, "fwd"
    compared = differing = 0
    for a, b in zip(tg, eg):
        if a is None or b is None:
            continue
        a, b = to_np(a), to_np(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return compared, differing, "error: grad shape/dtype"
        keep = ~fdiff[0] if elementwise else np.ones(a.shape, bool)
        compared += int(keep.sum())
        differing += int((differ(a, b) & keep).sum())
    return compared, differing, ""


def sweep(dtypes, only=None, big=4000):
    rows = []
    for info in O.op_db():
        if info.name in RANDOM or not info.supports_autograd:
            continue
        if only and info.name not in only and O.info_id(info) not in only:
            continue
        fn = O.engine_op(info)
        if fn is None:
            continue
        for dt in dtypes:
            tdt = DT[dt]
            if tdt not in info.supported_backward_dtypes("cpu"):
                continue
            key = f"{O.info_id(info)}-{dt}"
            torch.manual_seed(seed_of(key))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    samples = list(info.sample_inputs("cpu", tdt, requires_grad=True))
                except Exception:  # noqa: BLE001
                    samples = []
                extra = _big_sample(info, tdt, big) if big else None
            if extra is not None:
                samples.append(extra)
            row = {"op": O.info_id(info), "dtype": dt, "samples": 0, "compared": 0, "differing": 0, "fwd": 0,
                   "errors": 0, "diff_samples": 0}
            for i, s in enumerate(samples):
                try:
                    c, d, st = one(info, fn, s, seed_of(f"{key}-{i}"))
                except Exception:  # noqa: BLE001 - torch's side failing on the sample
                    c, d, st = 0, 0, "error: torch"
                if st == "skip":
                    continue
                row["samples"] += 1
                row["compared"] += c
                row["differing"] += d
                row["diff_samples"] += d > 0
                row["fwd"] += st == "fwd"
                row["errors"] += st.startswith("error")
            rows.append(row)
            if row["differing"]:
                print(f"{row['op']:40s} {dt:8s} differ {row['differing']:6d} of {row['compared']:7d} "
                      f"(samples {row['diff_samples']}/{row['samples']}, fwd-differs {row['fwd']}, "
                      f"errors {row['errors']})", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--dtypes", default="float64,float32,float16")
    p.add_argument("--only", default="")
    p.add_argument("--big", type=int, default=4000)
    p.add_argument("--json", default="")
    a = p.parse_args(argv)
    only = set(filter(None, a.only.split(",")))
    rows = sweep(a.dtypes.split(","), only or None, a.big)
    tot = sum(r["differing"] for r in rows)
    print(f"rows {len(rows)}, with differences {sum(r['differing'] > 0 for r in rows)}, differing elements {tot}, "
          f"fwd-differs samples {sum(r['fwd'] for r in rows)}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
