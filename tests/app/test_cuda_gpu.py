"""CUDA in-process, for real: a server started with GRADSERVE_BACKEND=cupy on a machine with a usable GPU runs
`cuda` (and big `auto`) requests on CuPy in its compute workers. Skipped, with the reason, without a GPU;
tests/app/test_cuda_routing.py covers routing and fallback everywhere."""
from __future__ import annotations

import numpy as np
import pytest

from engine import _backend
from tests.app.conftest import TEST_KEY, Server
from tests.app.test_cuda_routing import big_program

_OK, _WHY = _backend.cupy_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"CuPy/CUDA not usable here: {_WHY}")

PROGRAM = {
    "leaves": {"x": {"data": [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], "requires_grad": True},
               "w": {"data": [[1.0, 2.0], [-1.0, 0.5], [0.25, -2.0]], "requires_grad": True}},
    "ops": [{"name": "h", "op": "matmul", "args": ["x", "w"]},
            {"name": "t", "op": "tanh", "args": ["h"]},
            {"name": "l", "op": "log_softmax", "args": ["t"], "kwargs": {"dim": 1}},
            {"name": "s", "op": "sum", "args": ["l"]}],
    "backward": [{"tensor": "s"}],
}


@pytest.fixture(scope="module")
def gpu_server():
    s = Server({"GRADSERVE_BACKEND": "cupy", "GRADSERVE_COMPUTE_WORKERS": "1",
                "GRADSERVE_CUDA_MIN_FLOPS": "1e5", "GRADSERVE_CUDA_MIN_BYTES": "1000000000"}, api_key=TEST_KEY)
    yield s
    s.stop()


def test_readyz_reports_cuda_in_process(gpu_server):
    r = gpu_server.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["backends"]["cuda"]["in_process"] is True, r.text


def test_cuda_request_matches_cpu(gpu_server):
    gpu = gpu_server.client.post("/v1/evaluate", json={**PROGRAM, "device": "cuda"})
    cpu = gpu_server.client.post("/v1/evaluate", json={**PROGRAM, "device": "cpu"})
    assert gpu.status_code == 200 and cpu.status_code == 200, (gpu.text, cpu.text)
    g, c = gpu.json(), cpu.json()
    assert g["device"] == "cuda" and c["device"] == "cpu"
    assert g["graph"] == c["graph"]
    for name, t in c["tensors"].items():
        assert g["tensors"][name]["grad_fn"] == t["grad_fn"]
        np.testing.assert_allclose(np.array(g["tensors"][name]["data"]), np.array(t["data"]), rtol=1e-5, atol=1e-6)
        if t["grad"] is not None:
            np.testing.assert_allclose(np.array(g["tensors"][name]["grad"]), np.array(t["grad"]),
                                       rtol=1e-5, atol=1e-6)


def test_auto_big_graph_runs_on_cuda_small_on_cpu(gpu_server):
    big = gpu_server.client.post("/v1/evaluate", json=big_program("auto"))
    assert big.status_code == 200 and big.json()["device"] == "cuda", big.text
    assert big.json()["tensors"]["s"]["data"] == 64.0 ** 3
    small = gpu_server.client.post("/v1/evaluate", json=PROGRAM)
    assert small.status_code == 200 and small.json()["device"] == "cpu", small.text


def test_engine_error_on_cuda_is_the_same_422(gpu_server):
    bad = {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},
           "ops": [{"name": "c", "op": "add", "args": ["a", "b"]}]}
    g = gpu_server.client.post("/v1/evaluate", json={**bad, "device": "cuda"})
    c = gpu_server.client.post("/v1/evaluate", json={**bad, "device": "cpu"})
    assert g.status_code == 422 and c.status_code == 422, (g.text, c.text)  # API.md: torch errors are 422
    assert g.json() == c.json()
