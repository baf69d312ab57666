"""The engine on CuPy against PyTorch on CUDA, side by side in one run (issue 4's GPU goal: <= 1.10x torch).

    python -m bench.gpu [--rounds N] [--json FILE]

Workloads, forward + backward, float32, all on the device before the clock starts:
- five 4096² matmuls: x@W1@...@W5, all six require grad, .sum().backward();
- a 64M-element exp/sin chain: x.sin().exp().sin().exp().sum().backward().
Columns: the engine on CuPy, torch eager on CUDA, and the CuPy floor (the same arithmetic by hand, no
autograd). Each round times every column once, in a rotated order; a sample is one call between two device
synchronizations; the table gives medians. Gradients are checked against torch's (relative L2 error).
Needs CuPy and a CUDA torch; it says why and exits 2 where either is missing.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

from bench.workloads import elementwise_chain_floor, matmul_chain_floor


def _setup():
    import cupy  # noqa: PLC0415
    import torch  # noqa: PLC0415

    if not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device")
    import engine  # noqa: PLC0415
    from engine import _backend  # noqa: PLC0415

    ok, why = _backend.cupy_available()
    if not ok:
        raise RuntimeError(f"CuPy not usable: {why}")
    _backend.use("cupy")
    # Full float32 on both sides (torch's default for matmul is no TF32; CuPy's too unless CUPY_TF32=1).
    torch.backends.cuda.matmul.allow_tf32 = False
    return cupy, torch, engine


def matmul_chain(cp, torch, E, n=4096, k=5):
    rng = cp.random.default_rng(1)
    mats = [(rng.standard_normal((n, n), dtype=cp.float32) / cp.float32(n ** 0.5)) for _ in range(k + 1)]
    tmats = [torch.as_tensor(m, device="cuda") for m in mats]  # shares the device memory (DLPack/CAI)

    def eng():
        p = [E.as_tensor(a).requires_grad_() for a in mats]
        y = p[0]
        for w in p[1:]:
            y = y @ w
        y.sum().backward()
        return [t.grad._data for t in p]

    def tch():
        p = [a.detach().requires_grad_() for a in tmats]
        y = p[0]
        for w in p[1:]:
            y = y @ w
        y.sum().backward()
        return [t.grad for t in p]

    def floor():
        return matmul_chain_floor(cp, mats)

    flops = 2 * n ** 3 * (k + 2 * k)  # k forward products, 2k backward
    return {"engine (CuPy)": eng, "torch CUDA": tch, "CuPy floor": floor}, f"x@W1@…@W{k}, {n}², float32", flops


def elementwise_chain(cp, torch, E, n=64 * 2 ** 20):
    rng = cp.random.default_rng(2)
    x0 = rng.uniform(-1, 1, size=(n // 8192, 8192), dtype=cp.float32)
    tx0 = torch.as_tensor(x0, device="cuda")

    def eng():
        x = E.as_tensor(x0).requires_grad_()
        x.sin().exp().sin().exp().sum().backward()
        return [x.grad._data]

    def tch():
        x = tx0.detach().requires_grad_()
        x.sin().exp().sin().exp().sum().backward()
        return [x.grad]

    def floor():
        return elementwise_chain_floor(cp, x0)

    return ({"engine (CuPy)": eng, "torch CUDA": tch, "CuPy floor": floor},
            f"{n / 2 ** 20:.0f}Mi float32: sin, exp, sin, exp, sum", None)


def _rel_err(cp, got, want):
    a = cp.asarray(got, dtype=cp.float64)
    b = cp.asarray(want, dtype=cp.float64)
    return float(cp.linalg.norm(a - b) / max(float(cp.linalg.norm(b)), 1e-30))


def run(rounds: int) -> dict:
    cp, torch, E = _setup()
    dev = cp.cuda.runtime.getDeviceProperties(0)
    header = {
        "gpu": dev["name"].decode() if isinstance(dev["name"], bytes) else str(dev["name"]),
        "cupy": cp.__version__, "torch": torch.__version__, "numpy": __import__("numpy").__version__,
        "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(), "python": platform.python_version(),
    }
    results = []
    for build in (matmul_chain, elementwise_chain):
        cols, desc, flops = build(cp, torch, E)
        names = list(cols)
        ref = [cp.asarray(g) for g in cols["torch CUDA"]()]  # also a warm-up
        errs = {}
        for name in names:
            for _ in range(2):  # warm-up: kernel compilation, allocator pools
                out = cols[name]()
            errs[name] = max(_rel_err(cp, cp.asarray(g), r) for g, r in zip(out, ref))
        times = {name: [] for name in names}
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                cp.cuda.Device().synchronize()
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                cols[name]()
                cp.cuda.Device().synchronize()
                torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        spread = {name: (min(ts), max(ts)) for name, ts in times.items()}
        results.append({"workload": desc, "median_s": med, "min_max_s": spread, "rel_err_vs_torch": errs,
                        "tflops": {n: flops / t / 1e12 for n, t in med.items()} if flops else None,
                        "engine_over_torch": med["engine (CuPy)"] / med["torch CUDA"],
                        "engine_over_floor": med["engine (CuPy)"] / med["CuPy floor"]})
    return {"header": header, "rounds": rounds, "results": results}


def print_table(doc: dict) -> None:
    h = doc["header"]
    print(f"# gradserve GPU bench: {h['gpu']}; CuPy {h['cupy']}, torch {h['torch']}, NumPy {h['numpy']}, "
          f"CUDA runtime {h['cuda_runtime']}, Python {h['python']}; {doc['rounds']} rounds, medians")
    print("| workload | engine (CuPy) ms | torch CUDA ms | CuPy floor ms | engine/torch | engine/floor "
          "| max rel. err. vs torch (engine, floor) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in doc["results"]:
        m = r["median_s"]
        e = r["rel_err_vs_torch"]
        print(f"| {r['workload']} | {m['engine (CuPy)'] * 1e3:.2f} | {m['torch CUDA'] * 1e3:.2f} "
              f"| {m['CuPy floor'] * 1e3:.2f} | **{r['engine_over_torch']:.3f}×** | {r['engine_over_floor']:.3f}× "
              f"| {e['engine (CuPy)']:.1e}, {e['CuPy floor']:.1e} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args(argv)
    try:
        doc = run(a.rounds)
    except (ImportError, RuntimeError) as e:
        print(f"bench.gpu: not run: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print_table(doc)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
