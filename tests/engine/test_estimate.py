"""engine.program.estimate (the service's routing cost) and the 413 guard share one set of shape rules:
the estimate's output shapes are checked against what evaluate really produces, its flops on known
programs, and the guard on an op whose output outgrows its inputs."""
from __future__ import annotations

import pytest

import engine
from engine.errors import LimitExceeded
from engine.program.shapes import estimate
from engine.program.shapes import estimate_op as _estimate_op

LEAF_SHAPES = {"v": (5,), "w": (3,), "m": (4, 5), "n": (5, 3), "b3": (2, 4, 5), "c3": (2, 5, 3), "sq": (5, 5),
               "lw": (6, 5), "lb": (6,), "idx": (7,)}


def _data(shape, k=0):
    if not shape:
        return 0.5
    n = 1
    for s in shape:
        n *= s
    flat = [((i * 7 + k) % 11) / 10 for i in range(n)]

    def nest(xs, dims):
        if len(dims) == 1:
            return xs
        step = len(xs) // dims[0]
        return [nest(xs[i * step:(i + 1) * step], dims[1:]) for i in range(dims[0])]

    return nest(flat, list(shape))


OPS = [
    ("matmul", ["m", "n"], {}), ("matmul", ["v", "n"], {}), ("matmul", ["m", "v"], {}), ("matmul", ["b3", "c3"], {}),
    ("matmul", ["b3", "n"], {}), ("mm", ["m", "n"], {}), ("bmm", ["b3", "c3"], {}), ("mv", ["m", "v"], {}),
    ("dot", ["v", "v"], {}), ("linear", ["m", "lw"], {}),
    ("linear", ["m", "lw", "lb"], {}), ("addmm", ["w", "m", "n"], {}), ("outer", ["v", "w"], {}),
    ("cat", [["m", "m"]], {}), ("cat", [["m", "sq"], 0], {}), ("cat", [["b3", "b3"]], {"dim": -1}),
    ("stack", [["v", "v", "v"]], {}), ("stack", [["m", "m"]], {"dim": 2}), ("expand", ["w", [4, 3]], {}),
    ("repeat", ["m", [2, 1, 3]], {}), ("tile", ["v", [2, 2]], {}), ("zeros", [2, 3], {}), ("ones", [[4, 2]], {}),
    ("full", [[3, 2], 1.5], {}), ("arange", [0, 10, 3], {}), ("linspace", [0, 1], {"steps": 7}),
    ("logspace", [0, 2, 9], {}), ("logspace", [0, 1], {"steps": 5, "base": 2.0}),
    ("eye", [3, 4], {}), ("zeros_like", ["m"], {}), ("sum", ["b3"], {"dim": 1}),
    ("mean", ["b3"], {"dim": [0, 2], "keepdim": True}), ("reshape", ["m", [10, 2]], {}),
    ("reshape", ["b3", [-1, 5]], {}), ("view", ["m", 5, 4], {}), ("transpose", ["b3", 0, 2], {}),
    ("permute", ["b3", [2, 0, 1]], {}), ("t", ["m"], {}), ("unsqueeze", ["m", -1], {}), ("flatten", ["b3", 1], {}),
    ("add", ["m", "v"], {}), ("exp", ["b3"], {}), ("pad", ["m", [1, 2]], {}), ("expand", ["w", 2, 4, 3], {}),
]


@pytest.mark.parametrize("op, args, kwargs", OPS, ids=[f"{o}-{i}" for i, (o, *_) in enumerate(OPS)])
def test_estimated_shape_is_the_real_shape(op, args, kwargs):
    spec = {"leaves": {n: {"data": _data(s, i)} for i, (n, s) in enumerate(LEAF_SHAPES.items())},
            "ops": [{"name": "out", "op": op, "args": args, "kwargs": kwargs}], "outputs": ["out"]}
    real = engine.evaluate(spec)["tensors"]["out"]["shape"]
    out, flops, _ = _estimate_op(spec["ops"][0], dict(LEAF_SHAPES))
    assert list(out) == real
    assert flops >= 1


def test_matmul_flops_and_elements():
    spec = {"ops": [{"name": "a", "op": "randn", "args": [64, 32]}, {"name": "b", "op": "randn", "args": [32, 16]},
                    {"name": "c", "op": "matmul", "args": ["a", "b"]}]}
    e = estimate(spec)
    assert e["flops"] == 64 * 32 + 32 * 16 + 2 * 64 * 16 * 32
    assert e["elements"] == 64 * 32 + 32 * 16 + 64 * 16
    assert e["ops"] == 3 and e["heavy_ops"] == 1
    with_backward = estimate({**spec, "ops": [*spec["ops"], {"name": "s", "op": "sum", "args": ["c"]}],
                              "backward": [{"tensor": "s"}]})
    assert with_backward["flops"] == 3 * (e["flops"] + 64 * 16)


def test_linear_outgrowing_its_inputs_is_refused_before_it_allocates():
    """x (100000, 1) and weight (100000, 1): linear's output has 10^10 elements, from 2*10^5 in."""
    spec = {"ops": [{"name": "x", "op": "ones", "args": [100000, 1]}, {"name": "w", "op": "ones", "args": [100000, 1]},
                    {"name": "y", "op": "linear", "args": ["x", "w"]}], "outputs": []}
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(spec)
    assert e.value.loc == ["body", "ops", 2]
    assert "10000000000" in e.value.msg
    assert estimate(spec)["elements"] >= 10 ** 10  # and the estimate sees it as well
