"""engine.cuda: whether the GPU (CuPy) backend can run here, and how many devices it sees."""
from __future__ import annotations

from engine import _backend as B


def is_available() -> bool:
    """True where CuPy imports and sees a CUDA device (engine.set_default_device("cuda") then works)."""
    return B.cupy_available()[0]


def device_count() -> int:
    """The devices the engine can use: it computes on one GPU (cuda:0) at most."""
    return 1 if is_available() else 0


def current_device() -> int:
    if not is_available():
        raise AssertionError("Torch not compiled with CUDA enabled")
    return 0


def manual_seed(seed: int) -> None:
    """The engine has one generator (engine.manual_seed): CUDA has no separate one."""
    from engine.ops.factory import manual_seed as _seed  # noqa: PLC0415

    _seed(seed)


manual_seed_all = manual_seed
