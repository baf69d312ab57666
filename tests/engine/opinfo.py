"""OpInfo-style sample descriptions shared by every op family's table (tests/engine/samples/*.py).

A sample names an op as a request would (`op`), and describes its arguments so that the same inputs can
be built for the engine and for torch 2.13 (the oracle). The runner in test_ops.py turns each sample into
value, gradient, grad_fn-name, next_functions, gradcheck and grad-of-grad checks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class T:
    """A tensor argument: random data of `shape`, built identically in both frameworks.

    dtype None means "the dtype under test" (float32 and float64 runs); give "int64", "bool", ... for
    fixed-dtype arguments (indices, masks). low/high bound the uniform values; `values` gives the
    data literally instead. requires_grad applies to floating tensors only.
    """

    shape: tuple = ()
    dtype: str | None = None
    low: float = -2.0
    high: float = 2.0
    requires_grad: bool = True
    values: object = None

    def array(self, rng: np.random.Generator, float_dtype: str) -> np.ndarray:
        dt = np.dtype(self.dtype or float_dtype)
        if self.values is not None:
            return np.array(self.values, dtype=dt)
        if dt.kind == "b":
            return rng.random(self.shape) < 0.5
        if dt.kind in "iu":
            return rng.integers(int(self.low), int(self.high), self.shape).astype(dt)
        return rng.uniform(self.low, self.high, self.shape).astype(dt)


@dataclass(frozen=True)
class TL:
    """A list-of-tensors argument (cat, stack, ...)."""

    items: tuple


@dataclass
class Sample:
    """One call: `op(*args, **kwargs)`. kind picks the namespace: "function" (torch.<op>),
    "method" (args[0].<op>(...)), "functional" (torch.nn.functional.<op>), "property" (args[0].<op>).

    grad: whether gradients are compared (False for non-differentiable outputs);
    gradcheck: whether a float64 finite-difference check runs (off at kinks, for discrete ops);
    gradgrad: whether the second derivative is compared with torch;
    rtol/atol: value tolerance overrides.
    """

    op: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "function"
    grad: bool = True
    gradcheck: bool = True
    gradgrad: bool = True
    rtol: float | None = None
    atol: float | None = None
    note: str = ""


@dataclass
class ErrorSample:
    """A call torch rejects: the engine must raise the same exception class with the same message."""

    op: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "function"
    note: str = ""
