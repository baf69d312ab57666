"""A handful of engine ops and engine.evaluate under CuPy, where a CUDA GPU is usable; skipped (with the
reason) elsewhere. The results are compared with the NumPy backend's."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import _backend

_OK, _WHY = _backend.cupy_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"CuPy/CUDA not usable here: {_WHY}")

PROGRAM = {
    "leaves": {"a": {"data": [[1.0, 2.0], [3.0, 4.0]], "requires_grad": True},
               "b": {"data": [0.5, -1.0], "requires_grad": True}},
    "ops": [{"name": "m", "op": "matmul", "args": ["a", "b"]},
            {"name": "e", "op": "exp", "args": ["m"]},
            {"name": "s", "op": "softmax", "args": ["e"], "kwargs": {"dim": 0}},
            {"name": "l", "op": "sum", "args": ["s"]}],
    "backward": [{"tensor": "l"}],
}


@pytest.fixture
def cupy_backend():
    print(f"CuPy backend: {_WHY}")
    _backend.use("cupy")
    try:
        yield
    finally:
        _backend.use("numpy")


def test_ops_and_backward(cupy_backend):
    x = engine.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x @ x.T).exp().sum()
    y.backward()
    assert type(x._data).__module__.startswith("cupy")
    xn = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    want = np.exp(xn @ xn.T)
    np.testing.assert_allclose(_backend.to_numpy(y._data), want.sum(), rtol=1e-5)
    g = want + want.T
    np.testing.assert_allclose(_backend.to_numpy(x.grad._data), g @ xn, rtol=1e-5)


def test_evaluate_matches_numpy(cupy_backend):
    gpu = engine.evaluate({**PROGRAM, "device": "cuda"})
    _backend.use("numpy")
    cpu = engine.evaluate({**PROGRAM, "device": "cpu"})
    assert gpu["device"] == "cuda" and cpu["device"] == "cpu"
    for name, t in cpu["tensors"].items():
        np.testing.assert_allclose(np.array(gpu["tensors"][name]["data"]), np.array(t["data"]), rtol=1e-5)
        if t["grad"] is not None:
            np.testing.assert_allclose(np.array(gpu["tensors"][name]["grad"]), np.array(t["grad"]), rtol=1e-5)
        assert gpu["tensors"][name]["grad_fn"] == t["grad_fn"]
    assert gpu["graph"] == cpu["graph"]


def test_no_cuda_message():
    """Runs everywhere the module runs; documents what a NumPy engine says to device cuda."""
    with pytest.raises(Exception, match="no CUDA backend"):
        engine.evaluate({**PROGRAM, "device": "cuda"})
