"""The padding modules: ConstantPad, ZeroPad, ReflectionPad, ReplicationPad and CircularPad, 1d to 3d, over
F.pad (torch.nn.modules.padding)."""
from __future__ import annotations

from engine.nn.modules.module import Module
from engine.nn.modules.utils import _ntuple


class _PadNd(Module):
    """F.pad(input, self.padding, mode); `n` padded dims, `padding` an int (every side) or 2n ints."""

    mode = "constant"
    n = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * self.n)(padding)

    def forward(self, input):
        from engine.nn import functional as F  # noqa: PLC0415

        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        from engine.nn import functional as F  # noqa: PLC0415

        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    mode = "circular"

    def forward(self, input):
        if input.dim() not in (self.n + 1, self.n + 2):
            raise ValueError(f"expected {self.n + 1}D or {self.n + 2}D input (got {input.dim()}D input)")
        return super().forward(input)


def _make(base, prefix, mode=None):
    out = []
    for n in (1, 2, 3):
        attrs = {"n": n, "__doc__": f"torch.nn.{prefix}{n}d"}
        if mode is not None:
            attrs["mode"] = mode
        out.append(type(f"{prefix}{n}d", (base,), attrs))
    return out


ConstantPad1d, ConstantPad2d, ConstantPad3d = _make(_ConstantPadNd, "ConstantPad")
ZeroPad1d, ZeroPad2d, ZeroPad3d = _make(_ZeroPadNd, "ZeroPad")
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _make(_PadNd, "ReflectionPad", "reflect")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _make(_PadNd, "ReplicationPad", "replicate")
CircularPad1d, CircularPad2d, CircularPad3d = _make(_CircularPadNd, "CircularPad")
