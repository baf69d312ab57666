"""Per-kernel times behind bench.gpu's elementwise row: each CuPy call against torch's on one 64Mi float32
array, to see where the engine on CuPy loses to torch on CUDA.  python -m bench.gpu_probe"""
from __future__ import annotations

import statistics
import time


def _time(fn, sync, reps=30):
    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    import cupy as cp  # noqa: PLC0415
    import torch  # noqa: PLC0415

    n = 64 * 2 ** 20
    x = cp.random.default_rng(0).uniform(-1, 1, size=(n // 8192, 8192), dtype=cp.float32)
    y = cp.exp(x)
    tx, ty = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
    one = cp.broadcast_to(cp.ones((), cp.float32), x.shape)
    tone = torch.ones((), device="cuda").expand(tx.shape)

    def sync():
        cp.cuda.Device().synchronize()
        torch.cuda.synchronize()

    def sum_cub():
        prev = cp._core.get_reduction_accelerators()
        cp._core.set_reduction_accelerators(["cub"])
        try:
            return x.sum()
        finally:
            cp._core.set_reduction_accelerators(prev)

    from engine import _backend as B  # noqa: PLC0415

    B.use("cupy")
    gcos = cp.ElementwiseKernel("T g, T x", "T y", "y = g * cos(x)", "gcos")
    vec = []
    for ilp in (1, 2, 4):
        vec += [(f"sin, engine kernel, ILP {ilp}", lambda ilp=ilp: B.cuda_pointwise("sin(a)", (x,), ilp),
                 lambda: torch.sin(tx)),
                (f"mul, engine kernel, ILP {ilp}", lambda ilp=ilp: B.cuda_pointwise("a * b", (x, y), ilp),
                 lambda: tx * ty)]
    vec.append(("mul, one operand expanded, engine kernel", lambda: B.cuda_pointwise("a * b", (one, y)),
                lambda: tone * ty))
    for name, c, _ in vec[:1] + vec[-1:]:  # the kernels compute what CuPy's ufuncs do, to the bit
        ref = cp.sin(x) if name.startswith("sin") else one * y
        print(f"{name}: equal to CuPy's ufunc to the bit: {bool((c() == ref).all())}")

    rows = vec + [
        ("g * cos(x), one fused ElementwiseKernel", lambda: gcos(y, x), lambda: ty * torch.cos(tx)),
        ("sin", lambda: cp.sin(x), lambda: torch.sin(tx)),
        ("exp", lambda: cp.exp(x), lambda: torch.exp(tx)),
        ("cos", lambda: cp.cos(x), lambda: torch.cos(tx)),
        ("mul", lambda: x * y, lambda: tx * ty),
        ("mul, one operand expanded (stride 0)", lambda: one * y, lambda: tone * ty),
        ("sum (CuPy's default accelerators)", lambda: x.sum(), lambda: tx.sum()),
        ("sum (CUB)", sum_cub, lambda: tx.sum()),
        ("copy", lambda: x.copy(), lambda: tx.clone()),
    ]
    print(f"# per kernel, 64Mi float32, medians of 30; CuPy accelerators: {cp._core.get_reduction_accelerators()}, "
          f"{cp._core.get_routine_accelerators()}")
    print("| kernel | CuPy ms | torch ms | CuPy/torch | CuPy GB/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, c, t in rows:
        tc, tt = _time(c, sync), _time(t, sync)
        nbytes = x.nbytes * (3 if name.startswith(("mul", "g *")) and "expanded" not in name else 2)
        nbytes = x.nbytes if name.startswith("sum") else nbytes
        print(f"| {name} | {tc * 1e3:.3f} | {tt * 1e3:.3f} | {tc / tt:.2f} | {nbytes / tc / 1e9:.0f} |")


if __name__ == "__main__":
    main()
