"""engine.device, moving tensors between devices, and the default device.

The engine computes on one array library per process (engine._backend: NumPy, or CuPy on a GPU). A tensor's
device is where its array lives: a NumPy array is on "cpu", a CuPy array on "cuda:0". A tensor moves to the
device the process computes on (`.to("cuda")` once `set_default_device("cuda")` has switched to CuPy); a
copy to the host (`.cpu()`) is always possible, for `.numpy()`, printing and saving. What the engine cannot
do, it refuses with an error rather than pretending: no second device in one process, no moving a tensor
that requires grad across devices (torch records ToCopyBackward0 there), no device types but cpu and cuda.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchRuntimeError, TorchTypeError

DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
NO_CUDA = "Torch not compiled with CUDA enabled"


class device:  # noqa: N801 - torch's name
    """torch.device: a type ("cpu", "cuda", ...) and an optional index."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's parameter name
        if isinstance(type, device):
            if index is not None:
                raise TorchTypeError("device(): a torch.device takes no index")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):  # an index alone names the accelerator
            if not _cuda_usable():
                raise TorchRuntimeError("Cannot access accelerator device when none is available.")
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TorchTypeError(
                f"device() received an invalid combination of arguments - got ({_typename(type)}), but expected "
                "one of:\n * (torch.device device)\n      didn't match because some of the arguments have invalid "
                f"types: (!{_typename(type)}!)\n * (str type, int index = -1)\n")
        kind, idx = _parse(type)
        if kind not in DEVICE_TYPES:
            raise TorchRuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                                    f"string: {kind}")
        if idx is not None:
            if index is not None:
                raise TorchTypeError("device(): the index is given twice (in the string and as an argument)")
            index = idx
        if index is not None and index < 0:
            raise TorchRuntimeError("Device index must not be negative")
        self.type, self.index = kind, index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


def _parse(text: str):
    """c10::Device's string parser: a name of letters, digits and '_', then optionally ':' and an index of
    digits without a leading zero; anything else is an invalid device string."""
    if not text:
        raise TorchRuntimeError("Device string must not be empty")
    name, sep, idx = text.partition(":")
    ok = bool(name) and all(c.isascii() and (c.isalnum() or c == "_") for c in name)
    if sep:
        ok = ok and idx.isascii() and idx.isdigit() and not (len(idx) > 1 and idx[0] == "0")
    if not ok:
        raise TorchRuntimeError(f"Invalid device string: '{text}'")
    return name, (int(idx) if sep else None)


def _typename(x) -> str:
    return type(x).__name__


CPU = device("cpu")
CUDA0 = device("cuda", 0)


def _cuda_usable() -> bool:
    return B.cupy_available()[0]


def of_array(a) -> device:
    """Where an array lives."""
    return CPU if isinstance(a, np.ndarray | np.generic) else CUDA0


def as_device(d) -> device:
    return d if isinstance(d, device) else device(d)


def check_target(d: device) -> None:
    """torch's errors for a device this process cannot put a tensor on."""
    if d.type == "cuda":
        if not _cuda_usable():
            raise AssertionError(NO_CUDA)
        if d.index not in (None, 0):
            raise TorchRuntimeError(f"CUDA error: invalid device ordinal (the engine uses one GPU: cuda:0, not {d})")
        if B.xp is np:
            raise TorchRuntimeError(
                "The engine computes on one device per process and this one computes on the CPU (NumPy): call "
                "engine.set_default_device('cuda') before building tensors and modules to compute on the GPU")
    elif d.type != "cpu":
        raise TorchRuntimeError(f"PyTorch is not linked with support for {d.type} devices")


def move_array(a, d: device):
    """`a` on device `d` (the same array where it already is)."""
    if d.type == "cpu":
        return B.to_numpy(a) if not isinstance(a, np.ndarray | np.generic) else a
    return a if not isinstance(a, np.ndarray | np.generic) else B.xp.asarray(a)


def set_default_device(d) -> None:
    """torch.set_default_device: here it selects the array library the process computes on ("cpu": NumPy,
    "cuda": CuPy). Process-wide, as the engine's backend is; tensors made before keep their arrays."""
    if d is None:
        d = CPU
    d = as_device(d)
    if d.type == "cuda":
        if not _cuda_usable():
            raise AssertionError(NO_CUDA)
        B.use("cupy")
    elif d.type == "cpu":
        B.use("numpy")
    else:
        raise TorchRuntimeError(f"PyTorch is not linked with support for {d.type} devices")


def get_default_device() -> device:
    return CPU if B.xp is np else CUDA0


# ----- Tensor.to / .cpu() / .cuda() -----

_TO_SIGNATURES = (
    " * (torch.device device = None, torch.dtype dtype = None, bool non_blocking = False, bool copy = False, *, "
    "torch.memory_format memory_format = None)\n"
    " * (torch.dtype dtype, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = "
    "None)\n"
    " * (Tensor tensor, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = None)\n"
)


def _described(args, kwargs) -> str:
    def name(x):
        from engine.dtypes import dtype as _dtype  # noqa: PLC0415

        if isinstance(x, _dtype):
            return "torch.dtype"
        if isinstance(x, device):
            return "torch.device"
        return type(x).__name__

    parts = [name(a) for a in args] + [f"{k}={name(v)}" for k, v in kwargs.items()]
    return ", ".join(parts) + (", " if kwargs else "")


def parse_to(args, kwargs):
    """torch's Tensor.to / Module.to overloads: (device, dtype, non_blocking, copy), (dtype, non_blocking,
    copy), (tensor, non_blocking, copy); returns (device or None, dtype or None, copy)."""
    from engine.dtypes import dtype as _dtype  # noqa: PLC0415
    from engine.tensor import Tensor  # noqa: PLC0415

    def bad():
        return TorchTypeError(f"to() received an invalid combination of arguments - got ({_described(args, kwargs)})"
                              f", but expected one of:\n{_TO_SIGNATURES}")

    known = {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if set(kwargs) - known:
        raise bad()
    dev = kwargs.get("device")
    dt = kwargs.get("dtype")
    copy = kwargs.get("copy", False)
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        other = rest.pop(0)
        dev, dt = of_array(other._data), other.dtype
    elif rest and isinstance(rest[0], _dtype):
        dt = rest.pop(0)
    elif rest and (rest[0] is None or isinstance(rest[0], str | device | int)) and not isinstance(rest[0], bool):
        dev = rest.pop(0)
        if rest and (rest[0] is None or isinstance(rest[0], _dtype)):
            dt = rest.pop(0)
    if rest and isinstance(rest[0], bool):  # non_blocking
        rest.pop(0)
    if rest and isinstance(rest[0], bool):
        copy = rest.pop(0)
    if rest or (dt is not None and not isinstance(dt, _dtype)):
        raise bad()
    if isinstance(dev, int) and not isinstance(dev, bool):
        dev = device(dev)
    return (as_device(dev) if dev is not None else None), dt, bool(copy)


def move(t, dev, dt, copy=False):
    """Tensor.to: `t` itself where nothing changes (and copy is False), else a converted tensor."""
    from engine.autograd import grad_mode  # noqa: PLC0415
    from engine.errors import TorchNotImplementedError  # noqa: PLC0415
    from engine.tensor import Tensor  # noqa: PLC0415

    out = t
    if dev is not None:
        here = of_array(t._data)
        if dev.type != here.type:
            if dev.type != "cpu":
                check_target(dev)
            if t.requires_grad and grad_mode.enabled:
                raise TorchNotImplementedError(
                    f"the engine does not record a device copy (ToCopyBackward0): move the leaves to {dev} "
                    "before computing with them, or detach() first")
            out = Tensor._make(move_array(t._data, dev))
        elif dev.type == "cuda" and dev.index not in (None, 0):
            check_target(dev)
    if dt is not None and dt.np != out._data.dtype:
        from engine.ops.pointwise import to_dtype  # noqa: PLC0415

        out = to_dtype(out, dt)
    elif copy and out is t:
        out = t.clone() if (t.requires_grad and grad_mode.enabled) else Tensor._make(t._data.copy())
    return out
