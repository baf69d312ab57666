"""Group 1: engine workloads, forward + backward, against torch eager, HIPS autograd and the NumPy floor."""

from __future__ import annotations

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table
from bench.workloads import WORKLOADS, check

GOAL_TORCH = {"scalar": 1.0, "mlp": 1.0, "matmul": 1.0, "elementwise": 1.0}  # engine/torch goals (issues 5, 21.4)
GOAL_FLOOR = 1.10  # engine / NumPy floor, for the large workloads


def run(args) -> tuple[str, dict]:
    rows, notes, results = [], [], {}
    cols = ["engine", "torch", "autograd", "numpy floor"]
    for key, label, build, floor_goal in WORKLOADS:
        if args.only and key not in args.only:
            continue
        try:
            fns, desc = build()
        except Exception as e:  # noqa: BLE001 - an engine under construction may lack an op
            rows.append([label] + ["-"] * 6)
            notes.append(f"{label}: not run ({type(e).__name__}: {e})"[:200])
            continue
        bad = check(fns)
        s = measure(fns, rounds=args.rounds, target=args.target)
        r_t = paired_ratio(s["engine"], s["torch"]) if "torch" in s else None
        r_f = paired_ratio(s["engine"], s["numpy floor"]) if "numpy floor" in s else None
        results[key] = {"engine/torch": r_t, "engine/floor": r_f, **{c: s[c].median for c in cols if c in s}}
        rows.append(
            [
                label,
                *(fmt_time(s[c].median) if c in s else "n/a" for c in cols),
                fmt_ratio(r_t, GOAL_TORCH.get(key)),
                fmt_ratio(r_f, GOAL_FLOOR if floor_goal else None),
            ]
        )
        notes.append(f"{label}: {desc}")
        for c in s.values():
            if c.error:
                notes.append(f"{label}: a column failed: {c.error}")
        if bad:
            notes.append(f"{label}: CHECK FAILED: {bad}")
    notes.append(
        "✓/✗: goal met or not (each ≤ 1.0× torch eager, issue 21.4, judged at torch's default thread count: "
        "`--threads default`; the two large chains also ≤ 1.10× NumPy floor). Times are per forward+backward "
        "call, leaves built fresh each call. numpy floor: the same "
        "arithmetic written by hand in NumPy, no autograd (for the small workloads it shows what the "
        "per-op Python machinery costs; only the large ones carry a floor goal)."
    )
    return table(
        "Engine workloads (forward + backward)",
        ["workload", *cols, "engine/torch", "engine/numpy floor"],
        rows,
        notes,
    ), results
