"""Random programs of 20+ ops: the whole engine.evaluate response equals the same program run in torch 2.13."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.errors import EngineError
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate

UNARY = ["sin", "cos", "tanh", "sigmoid", "neg", "exp", "abs", "square", "relu_like"]
BINARY = ["add", "sub", "mul", "maximum", "div_pos"]


@st.composite
def programs(draw, min_ops=20, max_ops=28, stateful=False):
    """A request document: leaves of small float64 shapes, then a chain of ops over earlier tensors; stateful:
    with in-place ops (on tensors, on views of them, by setitem) and autograd steps among them (API.md v1.1),
    which may also fail as torch fails (a leaf modified in place, a saved tensor changed)."""
    n_leaves = draw(st.integers(2, 4))
    shapes = [(), (3,), (2, 3), (4, 3), (3, 4), (2, 1, 3)]
    dtype = "float64"  # float32 chains amplify last-ulp differences of libm past any fixed tolerance
    leaves, avail = {}, []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for i in range(n_leaves):
        shape = draw(st.sampled_from(shapes))
        data = np.round(rng.uniform(-1.5, 1.5, shape), 3).tolist()
        leaves[f"x{i}"] = {"data": data, "dtype": dtype, "requires_grad": draw(st.booleans()) or i == 0}
        avail.append((f"x{i}", shape))
    ops = []
    k = 0

    def new():
        nonlocal k
        k += 1
        return f"t{k}"

    n_ops = draw(st.integers(min_ops, max_ops))
    while len(ops) < n_ops:
        kinds = ["unary", "unary", "binary", "binary", "reduce", "shape", "matmul", "scalar"]
        if stateful:
            kinds += ["inplace", "inplace", "view_inplace", "setitem", "grad_step"]
        kind = draw(st.sampled_from(kinds))
        src, shape = draw(st.sampled_from(avail[-6:]))
        name = new()
        if kind == "inplace":
            if draw(st.booleans()):
                op, c = draw(st.sampled_from(["add_", "mul_", "sub_", "div_"])), draw(st.sampled_from([0.5, -1.25]))
                ops.append({"name": name, "op": op, "args": [src, c]})
            else:
                ops.append({"name": name, "op": draw(st.sampled_from(["tanh_", "sigmoid_", "neg_", "abs_"])),
                            "args": [src]})
            avail.append((name, shape))
            continue
        if kind == "view_inplace":
            if not shape or shape[0] < 2:
                continue
            v = new()
            ops.append({"name": v, "op": "getitem", "args": [src, {"slice": [0, 1]}]})
            ops.append({"name": name, "op": draw(st.sampled_from(["mul_", "add_"])), "args": [v, 1.5]})
            avail.append((name, (1, *shape[1:])))
            continue
        if kind == "setitem":
            if not shape:
                continue
            ops.append({"op": "setitem", "args": [src, 0, draw(st.sampled_from([0.25, -2.0]))]})
            continue
        if kind == "grad_step":
            leaf = draw(st.sampled_from([n for n, spec in leaves.items() if spec["requires_grad"]]))
            t = new()
            ops.append({"name": t, "op": "sum", "args": [src]})
            ops.append({"name": [name], "op": "autograd.grad", "args": [t, leaf],
                        "kwargs": {"allow_unused": True, "retain_graph": True, "create_graph": draw(st.booleans())}})
            continue
        if kind == "unary":
            op = draw(st.sampled_from(UNARY))
            if op == "square":  # of a tanh: repeated squaring of unbounded values makes the program chaotic
                t = new()
                ops.append({"name": t, "op": "tanh", "args": [src]})
                ops.append({"name": name, "op": "pow", "args": [t, 2]})
            elif op == "relu_like":
                ops.append({"name": name, "op": "clamp", "args": [src], "kwargs": {"min": -0.5}})
            elif op == "exp":
                t = new()
                ops.append({"name": t, "op": "tanh", "args": [src]})
                ops.append({"name": name, "op": "exp", "args": [t]})
            else:
                ops.append({"name": name, "op": op, "args": [src]})
            avail.append((name, shape))
        elif kind == "scalar":
            op = draw(st.sampled_from(["mul", "add", "sub", "rsub_py", "div"]))
            c = draw(st.sampled_from([0.5, 1.5, -1.25, 0.75]))
            if op == "rsub_py":
                ops.append({"name": name, "op": "rsub", "args": [src, c]})
            else:
                ops.append({"name": name, "op": op, "args": [src, c]})
            avail.append((name, shape))
        elif kind == "binary":
            others = [(n, s) for n, s in avail if _broadcastable(s, shape)]
            other, oshape = draw(st.sampled_from(others))
            op = draw(st.sampled_from(BINARY))
            out_shape = tuple(np.broadcast_shapes(shape, oshape))
            if op == "div_pos":  # by sigmoid + 0.5, in [0.5, 1.5]: a tiny denominator makes it chaotic
                t, t2 = new(), new()
                ops.append({"name": t, "op": "sigmoid", "args": [other]})
                ops.append({"name": t2, "op": "add", "args": [t, 0.5]})
                ops.append({"name": name, "op": "div", "args": [src, t2]})
            elif op == "mul":  # by a tanh: products of growing values grow exponentially
                t = new()
                ops.append({"name": t, "op": "tanh", "args": [other]})
                ops.append({"name": name, "op": "mul", "args": [src, t]})
            else:
                ops.append({"name": name, "op": op, "args": [src, other]})
            avail.append((name, out_shape))
        elif kind == "reduce":
            if not shape:
                t = new()
                ops.append({"name": t, "op": "tanh", "args": [src]})
                ops.append({"name": name, "op": "mul", "args": [t, t]})
                avail.append((name, shape))
                continue
            dim = draw(st.integers(-len(shape), len(shape) - 1))
            keep = draw(st.booleans())
            op = draw(st.sampled_from(["sum", "mean"]))
            ops.append({"name": name, "op": op, "args": [src], "kwargs": {"dim": dim, "keepdim": keep}})
            out = list(shape)
            if keep:
                out[dim] = 1
            else:
                out.pop(dim)
            avail.append((name, tuple(out)))
        elif kind == "shape":
            if len(shape) == 2:
                op = draw(st.sampled_from(["t", "T", "transpose"]))
                if op == "transpose":
                    ops.append({"name": name, "op": "transpose", "args": [src, 0, 1]})
                else:
                    ops.append({"name": name, "op": op, "args": [src]})
                avail.append((name, shape[::-1]))
            elif len(shape) >= 1:
                ops.append({"name": name, "op": "reshape", "args": [src, [-1]]})
                avail.append((name, (int(np.prod(shape)),)))
            else:
                ops.append({"name": name, "op": "unsqueeze", "args": [src, 0]})
                avail.append((name, (1,)))
        else:  # matmul against a fresh compatible operand built from an existing one
            if not shape:
                continue
            others = [(n, s) for n, s in avail if s and s[0] == shape[-1] and len(s) <= 2]
            if not others:
                ops.append({"name": name, "op": "sum", "args": [src]})
                avail.append((name, ()))
                continue
            other, oshape = draw(st.sampled_from(others))
            ops.append({"name": name, "op": "matmul", "args": [src, other]})
            out = tuple(shape[:-1]) + tuple(oshape[1:])
            avail.append((name, out))
    last, _ = avail[-1]
    loss = new()
    ops.append({"name": loss, "op": "sum", "args": [last]})
    retain = [n for n, _ in draw(st.lists(st.sampled_from(avail[n_leaves:]), max_size=2, unique=True))]
    return {"leaves": leaves, "ops": ops, "backward": [{"tensor": loss}], "retain_grad": retain,
            "grads": [*leaves, *retain]}


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _close(a, b, path):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
        return
    if isinstance(a, str) or isinstance(b, str):
        assert a == b, path
        return
    if a is None or b is None:
        assert a is b, path
        return
    assert math.isclose(a, b, rel_tol=2e-5, abs_tol=1e-6), f"{path}: {a} != {b}"


def compare(mine, ref):
    assert list(mine["tensors"]) == list(ref["tensors"])
    for name, t in ref["tensors"].items():
        m = mine["tensors"][name]
        if t is None or m is None:  # a name bound to null (a grad that is None)
            assert m is t is None, name
            continue
        for f in ("shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "retains_grad"):
            assert m[f] == t[f], (name, f, m[f], t[f])
        _close(m["data"], t["data"], f"{name}.data")
        _close(m["grad"], t["grad"], f"{name}.grad")
        if m["data"] == t["data"] and m["grad_fn"] == t["grad_fn"]:
            # repr is a function of the values (and printing is checked to the character against torch in
            # test_printing.py); where a last-bit difference in a cancellation separates the values, the
            # printed text can legitimately differ (0. against -1.1102e-16), so only equal values compare.
            assert m["repr"] == t["repr"], name
    assert mine["graph"] == ref["graph"]
    assert mine["warnings"] == ref["warnings"]


# derandomize: CI sees the same programs every run (a failure reproduces); more exploration is a matter of
# raising max_examples locally.
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_program_matches_torch(spec):
    check_against_torch(spec, engine.evaluate)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs(min_ops=12, max_ops=20, stateful=True))
def test_random_stateful_program_matches_torch(spec):
    """In-place ops, views written through, setitem and autograd.grad steps among the ops: the whole response,
    or the same error (class, message, location), as torch."""
    check_against_torch(spec, engine.evaluate)


def check_against_torch(spec, run):
    """Same response as torch, or the same error (class, message, location) where torch raises."""
    try:
        ref = torch_evaluate(spec)
    except TorchFailure as f:
        with pytest.raises(EngineError) as info:
            run(spec)
        assert (info.value.type, info.value.msg, info.value.loc) == (f.type, f.msg, f.loc)
        return
    compare(run(spec), ref)


@pytest.mark.parametrize("seed", range(3))
def test_random_program_warns_on_T(seed):
    spec = {"leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [{"name": "y", "op": "T", "args": ["x"]}, {"name": "z", "op": "T", "args": ["y"]},
                    {"name": "w", "op": "matmul", "args": ["z", "x"]}],
            "backward": [{"tensor": "w"}], "grads": ["x", "w"], "seed": seed}
    compare(engine.evaluate(spec), torch_evaluate(spec))
