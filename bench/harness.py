"""Timing and table helpers: interleaved rounds, medians, paired ratios, and the run's header."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# ----- timing -----


@dataclass
class Samples:
    """Per-call seconds of one column, one sample per round (each sample the mean of `loops` calls)."""

    loops: int = 1
    times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def _time_loops(fn, loops):
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / loops


def _calibrate(fn, target):
    """Loops per sample so that one sample lasts about `target` seconds (first call is the warm-up)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first >= target:
        return 1
    one = _time_loops(fn, 1)
    return max(1, min(10_000, int(target / max(one, 1e-7))))


def measure(columns: dict, *, rounds: int, target: float) -> dict[str, Samples]:
    """Time every column `rounds` times, interleaved (round r runs each column once, in a rotated order),
    so that the machine's drifts hit all columns alike. A column that raises is reported, not timed.
    A column may be (fn, setup): setup() runs before each of its samples and returns the undo."""
    out = {}
    fns = {}
    for name, col in columns.items():
        fn, setup = col if isinstance(col, tuple) else (col, None)
        s = out[name] = Samples()
        try:
            with _setup(setup):
                s.loops = _calibrate(fn, target)
            fns[name] = (fn, setup)
        except Exception as e:  # noqa: BLE001 - a broken workload is a row note, not a crash
            s.error = f"{type(e).__name__}: {e}"[:160]
    names = list(fns)
    for r in range(rounds):
        k = r % len(names) if names else 0
        for name in names[k:] + names[:k]:
            fn, setup = fns[name]
            gc.collect()
            with _setup(setup):
                out[name].times.append(_time_loops(fn, out[name].loops))
    return out


class _setup:
    def __init__(self, setup):
        self.setup, self.undo = setup, None

    def __enter__(self):
        if self.setup is not None:
            self.undo = self.setup()

    def __exit__(self, *exc):
        if self.undo is not None:
            self.undo()
        return False


def paired_ratio(a: Samples, b: Samples) -> float | None:
    """Median over rounds of a/b, each round's two samples taken back to back."""
    if not a.times or not b.times:
        return None
    return statistics.median(x / y for x, y in zip(a.times, b.times))


# ----- formatting -----


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_ratio(r: float | None, goal: float | None = None, *, higher_is_better=False) -> str:
    if r is None:
        return "-"
    text = f"{r:.2f}×"
    if goal is not None:
        ok = r >= goal if higher_is_better else r <= goal
        text += " ✓" if ok else " ✗"
    return text


def table(title: str, header: list[str], rows: list[list[str]], notes: list[str] = ()) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [f"### {title}", "", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    if notes:
        out.append("")
        out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


# ----- the header -----


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "?"


def _version(mod):
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version(mod)
    except Exception:  # noqa: BLE001
        return "not installed"


def blas_threads() -> str:
    try:
        import numpy  # noqa: F401, PLC0415 - load NumPy's BLAS so threadpoolctl sees it
        from threadpoolctl import threadpool_info  # noqa: PLC0415

        parts = [
            f"{i['internal_api']} {i.get('version') or ''} ({i['prefix']}): {i['num_threads']} threads"
            for i in threadpool_info()
        ]
        return "; ".join(parts) or "threadpoolctl saw no pool"
    except ImportError:
        import io  # noqa: PLC0415
        from contextlib import redirect_stdout  # noqa: PLC0415

        import numpy  # noqa: PLC0415

        buf = io.StringIO()
        with redirect_stdout(buf):
            numpy.show_config()
        env = {
            k: os.environ[k]
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if k in os.environ
        }
        blas = [ln.strip() for ln in buf.getvalue().splitlines() if "name" in ln][:2]
        return (
            f"numpy.show_config: {', '.join(blas)}; env {env or 'unset'} (install threadpoolctl for counts)"
        )


def _git():
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{rev}{' + uncommitted changes' if dirty else ''}" if rev else "?"
    except Exception:  # noqa: BLE001
        return "?"


def _text_writer() -> str:
    """Which path the batch fast writer takes (engine/program/_textfill.c or pure Python; GRADSERVE_TEXT_ACCEL)."""
    try:
        from engine.program.batch_write import accel_state  # noqa: PLC0415

        return accel_state()
    except ImportError:
        return "?"


def header(args) -> str:
    try:
        import torch  # noqa: PLC0415

        torch_threads = f"torch intra-op threads {torch.get_num_threads()}"
    except ImportError:
        torch_threads = "torch not installed"
    try:
        from engine import parallel  # noqa: PLC0415

        torch_threads += f"; engine elementwise threads {parallel.threads()} (from {parallel.min_elements()} elements)"
    except ImportError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    rows = [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("command", "python -m bench " + " ".join(sys.argv[1:])),
        (
            "machine",
            f"{_cpu_model()}, {os.cpu_count()} logical cores, {_mem_total_gib()} RAM, "
            f"{platform.system()} {platform.release()}; load avg at start {load[0]:.2f}"
            if load[0] != "?"
            else f"{_cpu_model()}, {os.cpu_count()} cores",
        ),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        (
            "versions",
            ", ".join(
                f"{m} {_version(m)}"
                for m in ("numpy", "torch", "autograd", "fastapi", "uvicorn", "httptools", "uvloop", "orjson",
                          "pydantic")
            ),
        ),
        ("threads", f"--threads {args.threads}: {blas_threads()}; {torch_threads}"),
        ("gradserve", f"git {_git()}; batch text writer: {_text_writer()}"),
        (
            "method",
            f"{args.rounds} interleaved rounds per row, each sample >= {args.target * 1e3:.0f} ms of "
            "repeated calls; figures are medians, ratios are medians of per-round paired ratios",
        ),
    ]
    w = max(len(k) for k, _ in rows)
    return "## gradserve benchmarks\n\n```\n" + "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows) + "\n```\n"


def warm_sightings(steps: int = 88) -> int:
    """How many times a bench sends one structure before timing it, so that the plan cache has lowered it
    (engine.program.plans lowers a structure at its LOWER_AT + steps // LOWER_OPS_PER_REPLAY-th replay); 88 steps
    cover the corpus and the seed."""
    from engine.program.plans import LOWER_AT, LOWER_OPS_PER_REPLAY  # noqa: PLC0415

    return 2 + LOWER_AT + steps // LOWER_OPS_PER_REPLAY
