"""Where CUDA starts to pay: engine.evaluate of one program family at growing sizes, on the CPU (NumPy) and
on CUDA (CuPy) in the same process, with the shape-based estimate that `device: auto` compares against
GRADSERVE_CUDA_MIN_FLOPS / _MIN_BYTES.  python -m bench.gpu_crossover"""
from __future__ import annotations

import statistics
import sys
import time


def _programs():
    for n in (32, 128, 256, 512, 1024, 2048):
        yield f"matmul {n}², tanh, sum", {
            "ops": [{"name": "a", "op": "randn", "args": [n, n], "kwargs": {"requires_grad": True}},
                    {"name": "m", "op": "matmul", "args": ["a", "a"]},
                    {"name": "t", "op": "tanh", "args": ["m"]},
                    {"name": "s", "op": "sum", "args": ["t"]}],
            "backward": [{"tensor": "s"}], "outputs": ["s"], "grads": []}
    for k in (12, 16, 19, 22, 24):
        n = 1 << k
        yield f"2^{k} elements: sin, exp, sin, exp, sum", {
            "ops": [{"name": "x", "op": "randn", "args": [n], "kwargs": {"requires_grad": True}},
                    {"name": "a", "op": "sin", "args": ["x"]}, {"name": "b", "op": "exp", "args": ["a"]},
                    {"name": "c", "op": "sin", "args": ["b"]}, {"name": "d", "op": "exp", "args": ["c"]},
                    {"name": "s", "op": "sum", "args": ["d"]}],
            "backward": [{"tensor": "s"}], "outputs": ["s"], "grads": []}


def _median_ms(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()  # evaluate returns host values: it has synchronized
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main() -> int:
    import engine  # noqa: PLC0415
    from engine import _backend  # noqa: PLC0415
    from engine.program import Limits, estimate  # noqa: PLC0415

    ok, why = _backend.cupy_available()
    if not ok:
        print(f"bench.gpu_crossover: not run: {why}", file=sys.stderr)
        return 2
    limits = Limits(max_tensor_elements=1 << 26, max_total_elements=1 << 28, max_ops=100)
    print("| program | est. flops | est. bytes | CPU ms | CUDA ms | CUDA/CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, spec in _programs():
        cost = estimate(spec)
        _backend.use("numpy")
        cpu = _median_ms(lambda spec=spec: engine.evaluate({**spec, "device": "cpu"}, limits=limits), 3)
        _backend.use("cupy")
        gpu = _median_ms(lambda spec=spec: engine.evaluate({**spec, "device": "cuda"}, limits=limits), 5)
        _backend.use("numpy")
        print(f"| {name} | {cost['flops']:.2e} | {cost['bytes']:.2e} | {cpu:.2f} | {gpu:.2f} | {gpu / cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
