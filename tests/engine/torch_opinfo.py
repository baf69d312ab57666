"""PyTorch's OpInfo database seen from the engine: which target names the engine covers, and how a torch
SampleInput becomes the same call on engine tensors.

The targets are the 408 real-valued autograd entries of `op_db` (tests/engine/opinfo_targets.txt, a copy
of the project's list). A name is *covered* when the engine resolves it: `engine.<name>`,
`engine.linalg.<x>`, `engine.special.<x>`, `engine.nn.functional.<x>`, or, for an OpInfo whose op is a
small Python function of torch's test suite (`lambda x: x.T`, `lambda tensors, eq: torch.einsum(eq, tensors)`),
that same function run with `torch` meaning the engine (every name it reaches must exist in the engine).
tests/engine/test_opinfo.py drives the covered names; tests/engine/opinfo_coverage.py prints the table.
"""
from __future__ import annotations

import functools
import pathlib
import random
import sys
import types
import unittest
import warnings

import numpy as np
import torch

import engine
import engine.linalg
import engine.nn.functional

TARGETS_FILE = pathlib.Path(__file__).with_name("opinfo_targets.txt")
TARGETS: tuple[str, ...] = tuple(n.strip() for n in TARGETS_FILE.read_text().splitlines() if n.strip())


@functools.cache
def op_db():
    """op_db's entries for the targets, in op_db's order (several per name where OpInfo has variants)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db as db  # noqa: PLC0415
    _cheap_sample_iterators()
    names = set(TARGETS)
    return tuple(o for o in db if o.name in names)


def _cheap_sample_iterators():
    """The same samples from OpInfo's iterators (TrackedInputIter), without their two costs under pytest, which
    were most of test_opinfo.py's time:

    - each iterator looks for the unittest.TestCase running it with `inspect.stack()`, which reads the source
      lines of every frame of pytest's deep stack (and scans sys.modules for each): a frame walk finds the
      same TestCase (none, under pytest) without the source. OpInfo's own sample_inputs / error_inputs
      (opinfo/core.py's _sample_callback_fn) look too, through their own imported name, so both names are
      replaced (core's alone was ~0.2 s a call here: 68 s of test_opinfo_errors' 434 tests under load);
    - before every sample it reseeds with torch.manual_seed, which queues a seed for each lazy device (CUDA,
      XPU, MTIA) with a formatted stack trace each: the samples are made on the CPU, whose generator (and
      Python's, NumPy's) get the same seed as before; where CUDA is initialized torch's own function runs.
    """
    from torch.testing._internal import common_utils as cu  # noqa: PLC0415
    from torch.testing._internal.opinfo import core  # noqa: PLC0415

    if getattr(cu, "_gradserve_cheap", False):
        return
    real_seed = cu.set_rng_seed

    def extract_test_fn():
        frame = sys._getframe(1)
        while frame is not None:
            self_val = frame.f_locals.get("self")
            if isinstance(self_val, unittest.TestCase):
                *_, cls_name, test_name = self_val.id().rsplit(".", 2)
                if cls_name == type(self_val).__name__ and test_name.startswith("test"):
                    return getattr(self_val, test_name).__func__
            frame = frame.f_back
        return None

    def set_rng_seed(seed=None):
        if torch.cuda.is_initialized():
            return real_seed(seed)
        seed = cu.SEED if seed is None else seed
        torch.random.default_generator.manual_seed(seed)
        random.seed(seed)
        if cu.TEST_NUMPY:
            np.random.seed(seed)
        return None

    cu.extract_test_fn, cu.set_rng_seed, cu._gradserve_cheap = extract_test_fn, set_rng_seed, True
    core.extract_test_fn = extract_test_fn


def info_id(info) -> str:
    return info.name + ("." + info.variant_test_name if info.variant_test_name else "")


# ----- torch -> engine -----


class Unsupported(Exception):
    """An argument the engine does not model (complex or bfloat16 data, a memory format, a generator):
    the sample is skipped with this reason."""


_DTYPES = {torch.float32: engine.float32, torch.float64: engine.float64, torch.float16: engine.float16,
           torch.int64: engine.int64, torch.int32: engine.int32, torch.int16: engine.int16,
           torch.int8: engine.int8, torch.uint8: engine.uint8, torch.bool: engine.bool}


class _Namespace:
    """`torch` as the engine sees it: engine's top level, with torch's sub-namespaces mapped to the engine's.
    A name the engine lacks raises AttributeError (the op is then not covered)."""

    def __init__(self, mod, subs=None):
        self._mod = mod
        self._subs = subs or {}

    def __getattr__(self, name):
        if name in self._subs:
            return self._subs[name]
        return getattr(self._mod, name)


def _special():
    return getattr(engine, "special", None)


ENGINE_TORCH = _Namespace(engine, {
    "nn": _Namespace(engine.nn, {"functional": engine.nn.functional}),
    "linalg": engine.linalg,
    "Tensor": engine.Tensor,
})


def _engine_globals(fn):
    g = dict(fn.__globals__)
    special = _special()
    if special is not None:
        ENGINE_TORCH._subs["special"] = special
    g["torch"] = ENGINE_TORCH
    g["F"] = engine.nn.functional
    return g


def rebind(fn):
    """A Python function of torch's test suite, with `torch` (and `F`) meaning the engine."""
    if not isinstance(fn, types.FunctionType):
        return fn
    new = types.FunctionType(fn.__code__, _engine_globals(fn), fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def _lookup(path):
    head, _, rest = path.rpartition(".")
    if head == "nn.functional":
        ns = engine.nn.functional
    elif head == "linalg":
        ns = engine.linalg
    elif head == "special":
        ns = _special()
    elif head == "":
        ns = engine
    else:
        return None
    fn = getattr(ns, rest, None) if ns is not None else None
    return fn if callable(fn) else None


def _names_reached(code):
    """The global and attribute names a function's code (and the lambdas inside it) reads."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names_reached(c)
    return names


# Names a test-suite function reads that are not torch's (the suite's own helpers, Python's).
_HELPERS = {"wrapper_set_seed", "args", "kwargs", "mT", "T", "clone", "len", "tuple", "list", "isinstance",
            "min", "max", "ones_like", "functional", "nn", "linalg", "special", "manual_seed"}


def engine_op(info):
    """The engine's callable for an OpInfo, or None where the engine does not have it."""
    op = info.op
    if isinstance(op, types.FunctionType) and op.__module__.startswith("torch.testing"):
        spaces = (ENGINE_TORCH, engine.nn.functional, engine.linalg, engine.Tensor, _special())
        missing = [n for n in _names_reached(op.__code__) - _HELPERS
                   if n not in op.__globals__ and not any(s is not None and hasattr(s, n) for s in spaces)]
        if missing:
            return None
        # torch.<name> the function calls (torch.einsum, torch.nn.functional.embedding) must be the engine's
        inner = _lookup(info.name)
        if inner is None and not _method_only(info):
            return None
        return rebind(op)
    fn = _lookup(info.name)
    if fn is not None:
        return fn
    return None


def _method_only(info):
    """An OpInfo exercised through a Tensor method or property only (`x.T`, `x.double()`, `x.view(shape)`)."""
    name = info.name
    return "." not in name and hasattr(engine.Tensor, name)


def engine_method(info):
    """Tensor.<name> where the OpInfo has a method variant and the engine's Tensor has it, else None."""
    if info.method_variant is None or "." in info.name:
        return None
    return getattr(engine.Tensor, info.name, None)


@functools.cache
def covered() -> dict[str, bool]:
    """target name -> whether the engine resolves at least one of its OpInfo entries."""
    out = {n: False for n in TARGETS}
    for info in op_db():
        if engine_op(info) is not None:
            out[info.name] = True
    return out


def _same_layout(x):
    """x's values as a NumPy array with x's strides (a copy of its storage, viewed as x views it), so that the
    engine sees a transposed or sliced sample as torch does (reshape copies it, contiguous() clones it)."""
    x = x.detach()
    if x.is_contiguous() or x.numel() == 0 or any(s < 0 for s in x.stride()):
        return np.array(x.numpy(), copy=True)
    span = x.storage_offset() + 1 + sum((n - 1) * s for n, s in zip(x.shape, x.stride()))
    storage = torch.as_strided(x, (span,), (1,), 0).numpy().copy()
    item = storage.dtype.itemsize
    return np.lib.stride_tricks.as_strided(storage[x.storage_offset():], tuple(x.shape),
                                           tuple(s * item for s in x.stride()))


def storage_exact(x) -> bool:
    """x is its whole storage, in order: what as_strided sees is then what the engine's copy holds."""
    return (x.is_contiguous() and x.storage_offset() == 0
            and x.untyped_storage().nbytes() == x.numel() * x.element_size())


def to_engine(x, memo):
    """A torch argument as the engine's: tensors (same values, dtype, requires_grad; one engine tensor
    per torch tensor object), dtypes, sizes; containers recursively."""
    if isinstance(x, torch.Tensor):
        key = id(x)
        if key in memo:
            return memo[key]
        if x.device.type != "cpu":
            raise Unsupported(f"a tensor on the {x.device.type} device")
        if x.layout != torch.strided:
            raise Unsupported(f"{x.layout} tensors")
        if x.ndim > 64:
            raise Unsupported("a tensor of more than 64 dims (NumPy cannot make one; torch refuses most ops on it)")
        dt = _DTYPES.get(x.dtype)
        if dt is None:
            raise Unsupported(f"{x.dtype} tensors (the engine is real-valued: complex dtypes are a later step)")
        t = engine.from_numpy(_same_layout(x))  # shares the array: its strides are kept
        if x.requires_grad:
            t.requires_grad_(True)
        memo[key] = t
        return t
    if isinstance(x, complex):
        raise Unsupported("a complex number (complex dtypes are a later step)")
    if isinstance(x, torch.dtype):
        dt = _DTYPES.get(x)
        if dt is None:
            raise Unsupported(f"dtype {x}")
        return dt
    if isinstance(x, torch.Size):
        return tuple(x)
    if isinstance(x, torch.memory_format):
        if x in (torch.contiguous_format, torch.preserve_format):
            return x  # the engine takes and ignores these (its arrays are always dense)
        raise Unsupported(f"memory_format={x}")
    if isinstance(x, torch.device):
        return str(x)
    if isinstance(x, torch.Generator):
        raise Unsupported("a torch.Generator argument")
    if isinstance(x, list):
        return [to_engine(i, memo) for i in x]
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(to_engine(i, memo) for i in x)
    if isinstance(x, dict):
        if "out" in x:
            raise Unsupported("out= (the engine has no out= variants)")
        return {k: to_engine(v, memo) for k, v in x.items()}
    if isinstance(x, torch.nn.PairwiseDistance):  # a distance_function: the same distance, the engine's
        return functools.partial(engine.nn.functional.pairwise_distance, p=x.norm, eps=x.eps, keepdim=x.keepdim)
    if isinstance(x, types.FunctionType | types.BuiltinFunctionType):
        raise Unsupported("a function argument")
    if type(x).__module__.startswith("torch"):
        raise Unsupported(f"a {type(x).__name__} argument")
    return x


def torch_leaves(x, memo):
    """The torch side of a sample with its tensors that require grad made leaves (detached views of the same
    storage, strides kept): a sample built as `make_tensor(...).transpose(0, 1)` would otherwise bring its
    own TransposeBackward0 into the graph compared."""
    if isinstance(x, torch.Tensor):
        key = id(x)
        if key not in memo:
            memo[key] = x.detach().requires_grad_(True) if x.requires_grad else x
        return memo[key]
    if isinstance(x, list):
        return [torch_leaves(i, memo) for i in x]
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return tuple(torch_leaves(i, memo) for i in x)
    if isinstance(x, dict):
        return {k: torch_leaves(v, memo) for k, v in x.items()}
    return x
