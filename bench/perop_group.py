"""Group: the per-op cost of a program (issue 21, goal 1): a chain of 100 and of 1,000 ops on 16-element
tensors through engine.evaluate, uncached, against the torch-backed reference (bench/torch_ref.py) and the
engine's library API running the same ops."""

from __future__ import annotations

import numpy as np

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table

GOAL_TORCH_REF = 0.5  # evaluate / the torch-backed reference
GOAL_LIBRARY = 2.0  # evaluate / the library API on the same ops
WIDTH = 16
CYCLE = ("mul", "add", "tanh", "sin")


def chain_document(n_ops: int, width: int = WIDTH) -> dict:
    """n_ops ops on a [width] float32 leaf x and a 0-d leaf w: (mul by w, add x, tanh, sin) repeated, then
    sum; one backward; the loss and the leaves' grads returned (every op's node in the graph)."""
    rng = np.random.default_rng(21)
    ops, prev = [], "x"
    for i in range(n_ops - 1):
        k = CYCLE[i % 4]
        args = [prev, "w"] if k == "mul" else ([prev, "x"] if k == "add" else [prev])
        ops.append({"name": f"t{i}", "op": k, "args": args})
        prev = f"t{i}"
    ops.append({"name": "loss", "op": "sum", "args": [prev]})
    return {"leaves": {"x": {"data": rng.uniform(-1, 1, width).round(4).tolist(), "requires_grad": True},
                       "w": {"data": 0.9, "requires_grad": True}},
            "ops": ops, "backward": [{"tensor": "loss"}], "outputs": ["loss"]}


def _library(E, doc):
    """The same ops through the engine's library API (no document, no response): leaves, ops, backward."""
    x_data, w_data = doc["leaves"]["x"]["data"], doc["leaves"]["w"]["data"]
    n = len(doc["ops"]) - 1

    def run():
        x = E.tensor(x_data, requires_grad=True)
        w = E.tensor(w_data, requires_grad=True)
        y = x
        for i in range(n):
            k = i & 3
            y = y * w if k == 0 else (y + x if k == 1 else (y.tanh() if k == 2 else y.sin()))
        loss = y.sum()
        loss.backward()
        return [np.asarray(x.grad._data), np.asarray(w.grad._data)]

    return run


def columns(n_ops: int) -> dict:
    import engine as E  # noqa: PLC0415
    from bench.torch_ref import evaluate as torch_evaluate  # noqa: PLC0415

    doc = chain_document(n_ops)

    def grads(r):
        return [np.asarray(r["tensors"][k]["grad"], np.float32) for k in ("x", "w")]

    return {"engine.evaluate": lambda: grads(E.evaluate(doc)),
            "torch": lambda: grads(torch_evaluate(doc)),
            "engine library": _library(E, doc)}


def run(args) -> tuple[str, dict]:
    from bench.workloads import check  # noqa: PLC0415

    rows, notes, results = [], [], {}
    for n in (100, 1000):
        cols = columns(n)
        bad = check(cols)
        s = measure(cols, rounds=args.rounds, target=args.target)
        r_t = paired_ratio(s["engine.evaluate"], s["torch"])
        r_l = paired_ratio(s["engine.evaluate"], s["engine library"])
        ev = s["engine.evaluate"].median
        results[n] = {"evaluate/torch_ref": r_t, "evaluate/library": r_l, **{c: s[c].median for c in cols}}
        rows.append([f"{n:,}-op chain", fmt_time(ev), fmt_time(ev / n if ev else None),
                     fmt_time(s["torch"].median), fmt_time(s["engine library"].median),
                     fmt_ratio(r_t, GOAL_TORCH_REF), fmt_ratio(r_l, GOAL_LIBRARY)])
        if bad:
            notes.append(f"{n} ops: CHECK FAILED: {bad}")
        for c, v in s.items():
            if v.error:
                notes.append(f"{n} ops: {c} failed: {v.error}")
    notes.append(f"the program: x [{WIDTH}] float32 and w 0-d, (mul w, add x, tanh, sin) repeated, sum, one "
                 "backward; outputs the loss, grads of x and w (the graph has every op's node); engine.evaluate "
                 "uncached (no plan cache)")
    notes.append("torch: bench/torch_ref.py, the document interpreted over torch 2.13 (parse, ops, repr, graph); "
                 "engine library: the same ops written against the engine's Python API, no document")
    notes.append(f"goals (issue 21): evaluate ≤ {GOAL_TORCH_REF}× the torch-backed reference and ≤ {GOAL_LIBRARY}× "
                 "the library's cost")
    return table("Per-op cost: engine.evaluate of an N-op program (uncached)",
                 ["program", "engine.evaluate", "per op", "torch reference", "engine library",
                  "evaluate/torch ref", "evaluate/library"], rows, notes), results
