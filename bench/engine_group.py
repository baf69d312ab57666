"""Group 1: engine workloads, forward + backward, against torch eager, HIPS autograd and the NumPy floor."""

from __future__ import annotations

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table
from bench.workloads import WORKLOADS, check

GOAL_TORCH = {"scalar": 1.0, "mlp": 1.0, "matmul": 1.0, "elementwise": 1.0}  # engine/torch goals (issues 5, 21.4)
GOAL_FLOOR = 1.10  # engine / NumPy floor, for the large workloads


def _one_thread(parallel):
    def setup():
        prev = parallel.configure(threads=1)
        return lambda: parallel.configure(*prev)

    return setup


def run(args) -> tuple[str, dict]:
    from engine import parallel  # noqa: PLC0415

    rows, notes, results = [], [], {}
    threads = parallel.threads()
    # the large workloads also run with the engine's elementwise pool off, interleaved with the rest: what the
    # threads (engine/parallel.py) change, on this machine, in this run
    one = "engine, 1 thread" if threads > 1 else None
    cols = ["engine", *([one] if one else []), "torch", "autograd", "numpy floor"]
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
        if one and floor_goal:
            fns = dict(fns)
            fns[one] = (fns["engine"], _one_thread(parallel))
        s = measure(fns, rounds=args.rounds, target=args.target)
        r_t = paired_ratio(s["engine"], s["torch"]) if "torch" in s else None
        r_f = paired_ratio(s["engine"], s["numpy floor"]) if "numpy floor" in s else None
        results[key] = {"engine/torch": r_t, "engine/floor": r_f, **{c: s[c].median for c in cols if c in s}}
        if one and one in s:
            results[key]["engine 1 thread/torch"] = paired_ratio(s[one], s["torch"])
        rows.append(
            [
                label,
                *(fmt_time(s[c].median) if c in s else "-" if c == one else "n/a" for c in cols),
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
    if one:
        notes.append(
            f"{one}: the engine column with GRADSERVE_ELEMENTWISE_THREADS' pool off (the engine runs {threads} "
            "elementwise threads here), for the large workloads; engine 1 thread/torch: "
            + ", ".join(f"{k} {v['engine 1 thread/torch']:.2f}×" for k, v in results.items()
                        if v.get("engine 1 thread/torch") is not None)
        )
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
