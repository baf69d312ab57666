"""Group 4: peak memory of a request holding a 1000×1000 float32 matmul, each variant in a fresh process.

C = A @ B, s = C.sum(), backward. The tensors the request must hold are A, B, C, A.grad and B.grad
(5 × 4 MB). The peak is the rise of the process's high-water mark (VmHWM, reset at the baseline;
ru_maxrss where /proc does not allow the reset) over a baseline taken once the interpreter, the engine
and the decoded request are loaded, so it counts only what engine.evaluate (and, in one variant, the
response's encoding) adds."""

from __future__ import annotations

import base64
import json
import resource
import statistics
import subprocess
import sys

import numpy as np

from bench.harness import ROOT, fmt_ratio, table

GOAL = 3.0
N = 1000
# key: (label, request encoding, (outputs, grads) or None for the defaults, orjson-encode the response)
VARIANTS = {
    "b64": ("base64 leaves, all tensors returned", "base64", None, False),
    "b64-compute": ("base64 leaves, only s returned (compute alone)", "base64", (["s"], []), False),
    "b64-orjson": ("base64, all returned, + orjson.dumps of the response", "base64", None, True),
    "json": ("JSON-list leaves, all tensors returned", "json", None, False),
}


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak():
    """Linux: writing 5 to clear_refs resets the high-water mark (VmHWM) to the current RSS. ru_maxrss itself
    cannot be reset, and a child inherits its parent's (this bench's, torch loaded) across fork and exec."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(key):
    """Runs in the fresh process: prints {"baseline", "baseline_rss", "peak"} in KiB and the tensor bytes."""
    import gc  # noqa: PLC0415

    import orjson  # noqa: PLC0415

    import engine  # noqa: PLC0415

    _, enc, outputs, dump = VARIANTS[key]
    rng = np.random.default_rng(5)
    mats = {k: rng.standard_normal((N, N), dtype=np.float32) for k in "AB"}
    if enc == "base64":
        leaves = {
            k: {
                "data": {"dtype": "float32", "shape": [N, N], "b64": base64.b64encode(a.tobytes()).decode()},
                "requires_grad": True,
            }
            for k, a in mats.items()
        }
    else:
        leaves = {k: {"data": a.tolist(), "dtype": "float32", "requires_grad": True} for k, a in mats.items()}
    spec = {
        "leaves": leaves,
        "ops": [{"name": "C", "op": "matmul", "args": ["A", "B"]}, {"name": "s", "op": "sum", "args": ["C"]}],
        "backward": [{"tensor": "s"}],
    }
    if enc == "base64":
        spec["encoding"] = "base64"
    if outputs is not None:
        spec["outputs"], spec["grads"] = outputs
    del mats
    warm = {
        "leaves": {"w": {"data": [[1.0, 2.0], [3.0, 4.0]], "requires_grad": True}},  # load the code paths
        "ops": [{"name": "v", "op": "matmul", "args": ["w", "w"]}, {"name": "t", "op": "sum", "args": ["v"]}],
        "backward": [{"tensor": "t"}],
        "encoding": spec.get("encoding", "json"),
    }
    orjson.dumps(engine.evaluate(warm))
    gc.collect()
    hwm = _reset_peak() and _status_kib("VmHWM") is not None
    base = _status_kib("VmHWM") if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base_rss = _status_kib("VmRSS") or base
    resp = engine.evaluate(spec)
    if dump:
        out = orjson.dumps(resp)
        assert out
    peak = _status_kib("VmHWM") if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "baseline": base,
                "baseline_rss": base_rss,
                "peak": peak,
                "tensor_bytes": 5 * N * N * 4,
                "method": "VmHWM after clear_refs" if hwm else "ru_maxrss",
            }
        )
    )


def run(args) -> tuple[str, dict]:
    reps = 2 if args.quick else 3
    rows, notes, figures = [], [], {}
    for key, (label, *_rest) in VARIANTS.items():
        got = []
        for _ in range(reps):
            r = subprocess.run(
                [sys.executable, "-m", "bench.memory_group", key],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if r.returncode != 0:
                notes.append(f"{label}: failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:200]}")
                break
            got.append(json.loads(r.stdout.strip().splitlines()[-1]))
        if not got:
            rows.append([label, "-", "-", "-", "-"])
            continue
        delta = statistics.median((g["peak"] - g["baseline"]) * 1024 for g in got)
        tb = got[0]["tensor_bytes"]
        slack = statistics.median((g["baseline"] - g["baseline_rss"]) * 1024 for g in got)
        if slack > 0.1 * tb:
            notes.append(
                f"{label}: the high-water mark stood {slack / 1e6:.0f} MB above the resident size at the "
                "baseline, so the rise understates the peak by up to that much"
            )
        figures[key] = {
            "peak_delta_bytes": delta,
            "tensor_bytes": tb,
            "ratio": delta / tb,
            "method": got[0].get("method"),
        }
        rows.append(
            [
                label,
                f"{delta / 1e6:.1f} MB",
                f"{tb / 1e6:.1f} MB",
                fmt_ratio(delta / tb, GOAL if key == "b64" else None),
            ]
        )
    method = next((f["method"] for f in figures.values()), "ru_maxrss")
    notes.insert(
        0,
        f"C = A @ B ({N}×{N} float32), s = C.sum(), backward; tensor bytes = A, B, C, A.grad, B.grad; "
        f"peak = rise of the high-water mark ({method}) over the baseline, median of {reps} fresh "
        "processes (ru_maxrss is inherited from the parent across fork/exec and cannot be reset, so the "
        "kernel's resettable VmHWM is used where /proc allows)",
    )
    notes.append(
        f"goal: peak ≤ {GOAL:g}× tensor bytes (first row; base64 response strings are 4/3 of the bytes "
        "they carry and are part of what the request holds)"
    )
    return table(
        f"Memory: one request with a {N}×{N} matmul",
        ["variant", "peak rise", "tensor bytes", "peak/tensors"],
        rows,
        notes,
    ), figures


if __name__ == "__main__":
    child(sys.argv[1])
