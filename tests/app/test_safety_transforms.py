"""redteam7 F4: a transform whose interpreter work grows with (input elements x program steps) but whose flops
are tiny (gradcheck of n scalar inputs and n outputs: O(n^2) steps) runs in a killable compute worker once past
offload_min_steps, not in a server thread for the whole time limit. A real server; placements from /metrics."""
from __future__ import annotations

import pytest

from tests.app.conftest import Server

NAME = "gradserve_evaluations_by_placement_total"


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_OFFLOAD_MIN_STEPS": "5000"})
    yield s
    s.stop()


def _placed(s, where):
    for line in s.client.get("/metrics").text.splitlines():
        if line.startswith(f'{NAME}{{placement="{where}"}}'):
            return float(line.split()[-1])
    return 0.0


def _gradcheck(n):
    leaves = {f"x{i}": {"data": 0.5, "dtype": "float64", "requires_grad": True} for i in range(n)}
    ops = [{"name": f"y{i}", "op": "mul", "args": [f"x{i}", 2.0]} for i in range(n)]
    return {"leaves": leaves, "ops": ops, "function": {"inputs": list(leaves), "output": [f"y{i}" for i in range(n)]}}


def _jacobian(n):
    return {"leaves": {"x": {"data": [0.5] * n, "dtype": "float64"}},
            "ops": [{"name": f"y{i}", "op": "mul", "args": ["x" if i == 0 else f"y{i - 1}", 1.5]} for i in range(n)],
            "transform": "jacobian", "function": {"inputs": "x", "output": f"y{n - 1}"}}


def _gradcheck_functions(n):
    """One op that applies a custom Function of n ops, on n inputs (its ops counted expanded)."""
    leaves = {"x": {"data": [0.5] * n, "dtype": "float64", "requires_grad": True}}
    fwd = [{"name": "y0", "op": "mul", "args": ["a", 2.0]},
           *({"name": f"y{i}", "op": "mul", "args": [f"y{i - 1}", 1.0]} for i in range(1, n))]
    fns = {"F": {"forward": {"inputs": ["a"], "ops": fwd, "output": f"y{n - 1}"},
                 "backward": {"inputs": ["g"], "ops": [{"name": "h", "op": "mul", "args": ["g", 2.0]}],
                              "output": "h"}}}
    return {"leaves": leaves, "functions": fns, "ops": [{"name": "out", "op": "F", "args": ["x"]}],
            "function": {"inputs": ["x"], "output": "out"}}


@pytest.mark.parametrize("path, body, where", [
    ("/v1/gradcheck", _gradcheck_functions(60), "worker"),
    ("/v1/gradcheck", _gradcheck_functions(5), "thread"),
], ids=["gradcheck-function-60", "gradcheck-function-5"])
def test_a_custom_function_is_placed_by_its_expanded_ops(srv, path, body, where):
    """The session review's finding: a transform's steps counted its top-level ops only (1 here)."""
    test_transform_steps_place_it(srv, path, body, where)


@pytest.mark.parametrize("path, body, where", [
    ("/v1/gradcheck", _gradcheck(60), "worker"),  # 60 inputs x 2 x 60 ops: 7,260 steps
    ("/v1/gradcheck", _gradcheck(10), "thread"),  # 210 steps
    ("/v1/functional", _jacobian(60), "worker"),  # a 60-element input through 60 ops
    ("/v1/functional", _jacobian(5), "thread"),
], ids=["gradcheck-60", "gradcheck-10", "jacobian-60", "jacobian-5"])
def test_transform_steps_place_it(srv, path, body, where):
    before = {w: _placed(srv, w) for w in ("thread", "worker")}
    r = srv.client.post(path, json=body)
    assert r.status_code == 200, r.text
    if path == "/v1/gradcheck":
        assert r.json()["gradcheck"]["ok"] is True
    after = {w: _placed(srv, w) for w in ("thread", "worker")}
    assert after[where] == before[where] + 1, (before, after)
