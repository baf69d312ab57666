"""The one module that knows which array library runs the math: NumPy by default, CuPy on request."""
from __future__ import annotations

import numpy as np

xp = np  # the active array module; engine modules read it as `_B.xp` so a switch reaches them all


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
