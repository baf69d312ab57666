"""Factories honour `device=` (and `pin_memory=`) as torch 2.13 does where the engine can, and refuse the rest as
Tensor.to refuses it: on this CPU, "cpu" in all its spellings works, "cuda" fails as torch without CUDA fails,
a bad device string or index is torch's error, pinned memory is torch's error; devices the engine has no
arrays for (mps, meta, xla) raise NotImplementedError (torch's class; the message is the engine's)."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import engine

_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)
CUDA_OK = engine.cuda.is_available()


def outcome(fn, m):
    try:
        out = fn(m)
        return ("ok", str(out.dtype), tuple(out.shape), str(out.device), out.requires_grad)
    except Exception as e:  # noqa: BLE001
        builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
        return ("raise", builtin, _TRIGGERED.sub("", str(e)).split("\n")[0])


FACTORIES = {
    "zeros": lambda m, **k: m.zeros(2, 3, **k),
    "ones": lambda m, **k: m.ones((2,), **k),
    "empty": lambda m, **k: m.empty(4, **k),
    "full": lambda m, **k: m.full((2, 2), 1.5, **k),
    "arange": lambda m, **k: m.arange(0, 3, 0.5, **k),
    "linspace": lambda m, **k: m.linspace(0, 1, 5, **k),
    "eye": lambda m, **k: m.eye(3, **k),
    "rand": lambda m, **k: m.rand(3, **k),
    "randn": lambda m, **k: m.randn(2, 2, **k),
    "randint": lambda m, **k: m.randint(0, 5, (3,), **k),
    "zeros_like": lambda m, **k: m.zeros_like(m.ones(2, dtype=m.float64), **k),
    "ones_like": lambda m, **k: m.ones_like(m.ones(2), **k),
    "full_like": lambda m, **k: m.full_like(m.ones(2), 3.0, **k),
    "empty_like": lambda m, **k: m.empty_like(m.ones(2), **k),
    "rand_like": lambda m, **k: m.rand_like(m.ones(2), **k),
    "randn_like": lambda m, **k: m.randn_like(m.ones(2), **k),
    "tensor": lambda m, **k: m.tensor([1.0, 2.0], **k),
    "as_tensor": lambda m, **k: m.as_tensor([1.0, 2.0], **k),
    "new_zeros": lambda m, **k: m.ones(2, dtype=m.float64).new_zeros(2, 3, **k),
    "new_ones": lambda m, **k: m.ones(2, dtype=m.float64).new_ones((2,), **k),
    "new_empty": lambda m, **k: m.ones(2).new_empty(0, **k),
    "new_full": lambda m, **k: m.ones(2, dtype=m.float64).new_full((2, 2), 3, **k),
    "new_tensor": lambda m, **k: m.ones(2, dtype=m.float64).new_tensor([1, 2], **k),
}
HONEST = ["none", "cpu", "cpu:0", "device-cpu", "cuda", "cuda:1", "int-0", "bad-string", "bad-index",
          "pin_memory", "requires_grad-cpu"]


def _kwargs(m, case):
    return {
        "none": {"device": None}, "cpu": {"device": "cpu"}, "cpu:0": {"device": "cpu:0"},
        "device-cpu": {"device": m.device("cpu")}, "cuda": {"device": "cuda"}, "cuda:1": {"device": "cuda:1"},
        "int-0": {"device": 0}, "bad-string": {"device": "foo"}, "bad-index": {"device": "cuda:-1"},
        "pin_memory": {"pin_memory": True}, "requires_grad-cpu": {"device": "cpu", "requires_grad": True},
    }[case]


@pytest.mark.skipif(CUDA_OK, reason="compares with torch built without CUDA: here the engine has a GPU")
@pytest.mark.parametrize("case", HONEST)
@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_device_arguments_as_torch_without_cuda(factory, case):
    if case == "pin_memory" and factory == "as_tensor":
        pytest.skip("torch.as_tensor has no pin_memory")
    if case == "requires_grad-cpu" and factory in ("as_tensor", "randint"):
        pytest.skip("no requires_grad argument / an integer dtype")
    fn = FACTORIES[factory]
    t = outcome(lambda m: fn(m, **_kwargs(m, case)), torch)
    e = outcome(lambda m: fn(m, **_kwargs(m, case)), engine)
    assert e == t


@pytest.mark.parametrize("device", ["mps", "meta", "xla"])
@pytest.mark.parametrize("factory", ["zeros", "tensor", "arange", "zeros_like"])
def test_devices_the_engine_has_no_arrays_for_are_refused(factory, device):
    with pytest.raises(NotImplementedError, match=f"no {device} tensors"):
        FACTORIES[factory](engine, device=device)


def test_device_is_parsed_before_the_size_is_checked():
    for m in (torch, engine):
        with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
            m.zeros(-1, device="foo")


def test_modules_place_their_parameters_as_the_factories_do():
    for m in (torch, engine):
        lin = m.nn.Linear(3, 2, device="cpu", dtype=m.float64)
        assert [str(p.device) for p in lin.parameters()] == ["cpu", "cpu"]
        assert lin.weight.dtype == m.float64
    with pytest.raises(NotImplementedError):
        engine.nn.Linear(3, 2, device="meta")


@pytest.mark.skipif(not CUDA_OK, reason="needs the CuPy backend (a GPU)")
def test_under_cupy_cpu_and_cuda_tensors_are_made_where_asked():
    engine.set_default_device("cuda")
    try:
        assert str(engine.zeros(2).device) == "cuda:0"
        host = engine.zeros(2, device="cpu")
        assert str(host.device) == "cpu" and isinstance(host._data, np.ndarray)
        assert str(engine.ones_like(host).device) == "cpu"
        assert str(engine.ones_like(host, device="cuda").device) == "cuda:0"
        assert str(engine.tensor([1.0], device="cpu").device) == "cpu"
        assert str(engine.tensor(np.ones(2), device="cuda").device) == "cuda:0"
        assert str(engine.randn(3, device="cpu").device) == "cpu"
        assert [str(p.device) for p in engine.nn.Linear(2, 2, device="cpu").parameters()] == ["cpu", "cpu"]
        with pytest.raises(RuntimeError, match="invalid device ordinal"):
            engine.zeros(2, device="cuda:1")
        with pytest.raises(NotImplementedError, match="pinned"):
            engine.zeros(2, pin_memory=True)
    finally:
        engine.set_default_device("cpu")


NEW = {
    "zeros-int-self": lambda m: m.arange(3).new_zeros(2, 2),
    "zeros-tuple": lambda m: m.ones(1, dtype=m.float64).new_zeros((3, 1)),
    "zeros-list": lambda m: m.ones(1).new_zeros([2]),
    "zeros-scalar": lambda m: m.ones(1).new_zeros([]),
    "zeros-dtype": lambda m: m.ones(1).new_zeros(2, dtype=m.int64),
    "zeros-of-a-leaf": lambda m: m.ones(2, requires_grad=True).new_zeros(2),
    "ones-negative": lambda m: m.ones(1).new_ones(-1),
    "full-int-size": lambda m: m.ones(1).new_full(2, 3.0),
    "full-value-cast": lambda m: m.arange(2).new_full((2,), 2.5),
    "tensor-float-data-int-self": lambda m: m.arange(2).new_tensor([1.5, 2.5]),
    "tensor-scalar": lambda m: m.ones(1, dtype=m.float64).new_tensor(3.5),
    "tensor-grad": lambda m: m.ones(1).new_tensor([1.0], requires_grad=True),
}


@pytest.mark.parametrize("case", sorted(NEW))
def test_tensor_new_factories_as_torch(case):
    """Tensor.new_zeros / new_ones / new_empty / new_full / new_tensor: the tensor's dtype and device unless given,
    no history, torch's errors; values as torch's."""
    t = outcome(NEW[case], torch)
    e = outcome(NEW[case], engine)
    assert e == t
    if t[0] == "ok" and "empty" not in case:
        assert NEW[case](engine).tolist() == NEW[case](torch).tolist()


def test_new_tensor_of_a_tensor_copies_and_warns_as_torch():
    for m in (torch, engine):
        src = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.warns(UserWarning, match=r"rather than tensor\.new_tensor\(sourceTensor\)"):
            out = m.ones(1, dtype=m.float64).new_tensor(src)
        assert str(out.dtype).endswith("float64") and not out.requires_grad and out.grad_fn is None
