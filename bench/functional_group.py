"""Group: Jacobians and Hessians, engine.autograd.functional against torch.autograd.functional, vectorize off
(one backward pass per output element) and on (one batched pass: autograd.grad's is_grads_batched)."""

from __future__ import annotations

import numpy as np

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table

COLS = ("engine rows", "engine vectorized", "torch rows", "torch vectorized")


def _workloads():
    """(key, label, fn(m) -> (transform, func, inputs)), built once per framework from the same arrays."""
    rng = np.random.default_rng(16)
    x16 = rng.standard_normal(16)
    w1 = rng.standard_normal((16, 64)) / 4
    w2 = rng.standard_normal((64, 16)) / 8
    x256 = rng.uniform(0.5, 1.5, 256)
    xb = rng.standard_normal((8, 16))
    x32 = rng.standard_normal(32)
    s = rng.standard_normal((24, 24)) / 5

    def t(m, a):
        return m.tensor(a.tolist(), dtype=m.float64)

    def mlp_input(m):
        W1, W2 = t(m, w1), t(m, w2)
        return "jacobian", lambda x: (x.unsqueeze(0).mm(W1).tanh().mm(W2)).squeeze(0), t(m, x16)

    def elementwise(m):
        return "jacobian", lambda x: (x.sin() * x.exp() + x.sqrt() / (x * x + 1)).tanh(), t(m, x256)

    def mlp_weights(m):
        X = t(m, xb)
        return ("jacobian", lambda a, b: (X.mm(a).relu().mm(b)).sum(1), (t(m, w1), t(m, w2)))

    def hessian(m):
        return "hessian", lambda x: (x.pow(3).sum() * x.sin().sum() + (x * x).exp().sum()), t(m, x32)

    def softmax_rows(m):
        S = t(m, s)
        return ("jacobian", lambda x: S.mm(x.reshape(24, 1)).reshape(1, 24).softmax(1).reshape(24),
                t(m, np.tile(x16[:8], 3)))

    def fallback(m):
        return "jacobian", lambda x: (x.sin().cumsum(0) * x).flip(0), t(m, x32)

    return [
        ("mlp_input", "jacobian: MLP 16→64→16 w.r.t. its input (16×16)", mlp_input),
        ("elementwise", "jacobian: elementwise chain of 256 (256×256)", elementwise),
        ("mlp_weights", "jacobian: MLP outputs (8) w.r.t. both weight matrices (1,024 + 1,024)", mlp_weights),
        ("hessian", "hessian: scalar function of 32 inputs (32×32)", hessian),
        ("softmax", "jacobian: softmax(S x), 24 outputs", softmax_rows),
        ("fallback", "jacobian: flip(cumsum(sin x) * x), 32 (cumsum, flip: no batch rule, their nodes per row)",
         fallback),
    ]


def _column(m, build, vectorize):
    transform, func, inputs = build(m)
    fn = getattr(m.autograd.functional, transform)

    def call():
        r = fn(func, inputs, vectorize=vectorize)
        return [np.asarray(j.detach().numpy()) for j in (r if isinstance(r, tuple) else (r,))]

    return call


def run(args) -> tuple[str, dict]:
    import torch  # noqa: PLC0415

    import engine  # noqa: PLC0415
    import engine.autograd.functional  # noqa: F401, PLC0415

    rows, notes, results = [], [], {}
    for key, label, build in _workloads():
        if args.only and key not in args.only:
            continue
        fns = {
            "engine rows": _column(engine, build, False),
            "engine vectorized": _column(engine, build, True),
            "torch rows": _column(torch, build, False),
            "torch vectorized": _column(torch, build, True),
        }
        ref = fns["torch rows"]()
        for name, fn in fns.items():
            got = fn()
            if any(not np.allclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(got, ref)):
                notes.append(f"{label}: CHECK FAILED: {name} differs from torch's Jacobian")
        s = measure(fns, rounds=args.rounds, target=args.target)
        med = {c: s[c].median for c in COLS}
        speedup = paired_ratio(s["engine rows"], s["engine vectorized"])
        vs_torch_vec = paired_ratio(s["engine vectorized"], s["torch vectorized"])
        vs_torch_rows = paired_ratio(s["engine rows"], s["torch rows"])
        results[key] = {**med, "engine rows/vectorized": speedup, "engine/torch vectorized": vs_torch_vec,
                        "engine/torch rows": vs_torch_rows}
        rows.append([label, *(fmt_time(med[c]) for c in COLS), fmt_ratio(speedup), fmt_ratio(vs_torch_vec),
                     fmt_ratio(vs_torch_rows)])
    notes.append(
        "rows: one backward pass per output element (vectorize=False); vectorized: one pass over the whole "
        "standard basis (vectorize=True; torch vmaps its backward, the engine runs each node's formula on the "
        "batch, or per row where a node has no batch rule). float64; every column's Jacobian is checked "
        "against torch's rows before timing. Speedup = engine rows / engine vectorized (higher is better); the "
        "other two ratios are engine / torch (lower is better)."
    )
    return table(
        "Jacobians and Hessians (torch.autograd.functional)",
        ["workload", *COLS, "engine speedup", "engine/torch vec", "engine/torch rows"],
        rows,
        notes,
    ), results
