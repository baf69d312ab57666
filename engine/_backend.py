"""The one module that knows which array library runs the math: NumPy by default, CuPy on request."""
from __future__ import annotations

import numpy as np

xp = np  # the active array module; engine modules read it as `_B.xp` so a switch reaches them all
_listeners = []  # called with the backend's name after each switch (the op table swaps its forwards)


def use(name: str) -> None:
    """Switch the process-wide array backend ("numpy" or "cupy")."""
    global xp
    if name == "numpy":
        xp = np
    elif name == "cupy":
        import cupy  # noqa: PLC0415 - only this module imports CuPy

        xp = cupy
    else:
        raise ValueError(f"unknown backend {name!r}")
    for fn in _listeners:
        fn(name)


def on_switch(fn) -> None:
    _listeners.append(fn)


def cupy_available() -> tuple[bool, str]:
    """Whether CuPy imports and sees a CUDA device, with the reason when not."""
    try:
        import cupy  # noqa: PLC0415

        n = cupy.cuda.runtime.getDeviceCount()
        return (n > 0, f"{n} CUDA device(s)" if n else "no CUDA device")
    except Exception as e:  # ImportError, CUDARuntimeError, ...
        return False, f"{type(e).__name__}: {e}"


def reshape_view(a, shape):
    """`a` reshaped without a copy; ValueError where its strides allow no such view (as NumPy's
    reshape(copy=False) says it; CuPy's reshape has no `copy`, so a view's shape is set instead)."""
    if isinstance(a, np.ndarray | np.generic):
        return np.reshape(a, shape, copy=False)
    v = a.view()
    try:
        v.shape = shape
    except AttributeError as e:
        raise ValueError(str(e)) from None
    return v


def to_numpy(a):
    """Host copy of an array of the active backend."""
    if isinstance(a, np.ndarray | np.generic):
        return np.asarray(a)
    return a.get()


# ----- CuPy: vectorized kernels for the pointwise ops that carry big graphs -----
# CuPy's generic elementwise kernels move one element per thread: on an H200 they reach ~1.5 TB/s, where
# torch's vectorized kernels reach ~3.7 (bench/gpu_probe.py: sin 0.35 ms against 0.15 on 64Mi float32).
# Under CuPy the ops that name a C expression in the op table (defop(..., cuda="a * b")) run through these
# kernels instead: 16-byte loads and stores (float4 / double2), CUDA_ILP vectors per thread, for operands of
# one float dtype that are C-contiguous, 16-byte aligned and of one shape, or (binary ops) one such array and
# one value (a Python number, or an array that is one value broadcast, as sum's gradient is). Anything else
# falls back to CuPy's ufunc, which evaluates the same CUDA math functions.

CUDA_ILP = 2  # vectors per thread (bench/gpu_probe.py times 1, 2 and 4)
_VEC = {np.dtype(np.float32): ("float", "float4", 4), np.dtype(np.float64): ("double", "double2", 2)}
_kernels: dict = {}


def _kernel_source(expr: str, modes: str, dtype, ilp: int) -> str:
    """modes: one letter per operand: 'v' a vector array, 'p' one value read through a pointer, 's' one
    value passed by value."""
    t, vt, w = _VEC[dtype]
    names = "ab"[: len(modes)]
    params = []
    setup = []
    for c, m in zip(names, modes):
        if m == "v":
            params.append(f"const {t}* __restrict__ p{c}")
        elif m == "p":
            params.append(f"const {t}* __restrict__ p{c}")
            setup.append(f"const {t} s{c} = p{c}[0];")
        else:
            params.append(f"const {t} s{c}")
    lanes = "xyzw"[:w]

    def call(lane):
        return "f(" + ", ".join(f"v{c}.{lane}" if m == "v" else f"s{c}" for c, m in zip(names, modes)) + ")"

    def scalar_call():
        return "f(" + ", ".join(f"p{c}[j]" if m == "v" else f"s{c}" for c, m in zip(names, modes)) + ")"

    loads = " ".join(f"const {vt} v{c} = *reinterpret_cast<const {vt}*>(p{c} + j);"
                     for c, m in zip(names, modes) if m == "v")
    body = " ".join(f"y.{lane} = {call(lane)};" for lane in lanes)
    return f"""
__device__ __forceinline__ {t} f({", ".join(f"{t} {c}" for c in names)}) {{ return ({expr}); }}
extern "C" __global__ void gs_pointwise({", ".join(params)}, {t}* __restrict__ py, const long long n) {{
  {" ".join(setup)}
  const long long v0 = (long long)blockIdx.x * blockDim.x * {ilp} + threadIdx.x;
#pragma unroll
  for (int k = 0; k < {ilp}; ++k) {{
    long long j = (v0 + (long long)k * blockDim.x) * {w};
    if (j + {w} <= n) {{
      {loads}
      {vt} y; {body}
      *reinterpret_cast<{vt}*>(py + j) = y;
    }} else {{
      for (; j < n; ++j) py[j] = {scalar_call()};
    }}
  }}
}}
"""


def _aligned_vector(a, dtype, shape) -> bool:
    return (isinstance(a, xp.ndarray) and a.dtype == dtype and a.shape == shape and a.flags.c_contiguous
            and a.data.ptr % 16 == 0)


def cuda_pointwise(expr: str, operands: tuple, ilp: int | None = None):
    """`expr` over the operands by a vectorized kernel, or None where this path does not apply."""
    arrays = [a for a in operands if isinstance(a, xp.ndarray) and a.size != 1 and any(a.strides)]
    if not arrays:
        return None
    first = arrays[0]
    dtype, shape = first.dtype, first.shape
    if dtype not in _VEC or first.size == 0 or not all(_aligned_vector(a, dtype, shape) for a in arrays):
        return None
    modes = []
    args = []
    for a in operands:
        if any(a is b for b in arrays):
            modes.append("v")
            args.append(a)
        elif isinstance(a, xp.ndarray):  # one value, broadcast or of size 1: it must not widen the shape
            if a.dtype != dtype or a.ndim > len(shape) or any(
                    s != 1 and s != t for s, t in zip(a.shape[::-1], shape[::-1])):
                return None
            modes.append("p")
            args.append(a)
        elif type(a) in (float, int):  # a weak Python number takes the array's dtype (NumPy, torch)
            modes.append("s")
            args.append(dtype.type(a))
        else:
            return None
    ilp = ilp or CUDA_ILP
    key = (expr, "".join(modes), dtype, ilp)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = xp.RawKernel(_kernel_source(expr, key[1], dtype, ilp), "gs_pointwise")
    out = xp.empty(shape, dtype)
    n = first.size
    w = _VEC[dtype][2]
    per_block = 256 * ilp * w
    kernel(((n + per_block - 1) // per_block,), (256,), (*args, out, np.int64(n)))
    return out
