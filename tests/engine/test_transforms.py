"""engine.evaluate_functional and engine.evaluate_gradcheck (POST /v1/functional, /v1/gradcheck's documents)
against live torch 2.13:
every transform and option over single and tuple inputs and outputs, float32 and float64, custom Functions,
errors with their class, message and location; gradcheck's verdicts and messages byte for byte; the limits.

The oracle (tests/torch_functional_reference.py) runs the same request document in torch."""
from __future__ import annotations

import copy
import math
import time
import warnings

import pytest

import engine
from engine import budget as _budget
from engine.errors import EngineError
from engine.program.limits import Limits
from tests.engine.test_gradcheck import _FAST_SCALARS
from tests.engine.test_random_programs import _close
from tests.torch_functional_reference import functional as torch_functional
from tests.torch_functional_reference import gradcheck as torch_gradcheck
from tests.torch_reference import TorchFailure


def leaf(data, rg=False, dtype=None):
    d = {"data": data, "requires_grad": rg}
    if dtype:
        d["dtype"] = dtype
    return d


def op(name, fn, *args, **kwargs):
    d = {"name": name, "op": fn, "args": list(args)}
    if kwargs:
        d["kwargs"] = kwargs
    return d


# f = a*b + c*d**2/e, the seed example of API.md
SEED = {
    "leaves": {n: leaf(v, True) for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0), ("d", 8.0), ("e", 10.0))},
    "ops": [op("g", "mul", "a", "b"), op("d2", "pow", "d", 2), op("cd2", "mul", "c", "d2"), op("h", "div", "cd2", "e"),
            op("f", "add", "g", "h")],
    "function": {"inputs": ["a", "b", "c", "d", "e"], "output": "f"},
}


def mlp(dtype="float64"):
    """A 3 -> 4 -> 2 MLP on a batch of 2: its outputs as a function of its weights (w1, w2), input constant."""
    return {
        "leaves": {"x": leaf([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], dtype=dtype),
                   "w1": leaf([[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [-0.9, 1.0, 1.1, -1.2]], dtype=dtype),
                   "w2": leaf([[0.3, -0.1], [0.2, 0.4], [-0.5, 0.6], [0.7, -0.8]], dtype=dtype)},
        "ops": [op("h", "matmul", "x", "w1"), op("a", "tanh", "h"), op("y", "matmul", "a", "w2")],
        "function": {"inputs": ["w1", "w2"], "output": "y"},
    }


def vector(dtype="float64"):
    """x (3) -> (sin(x) * x.sum(), exp(x[:2])): two outputs of one input."""
    return {
        "leaves": {"x": leaf([0.5, -1.25, 2.0], dtype=dtype), "k": leaf(1.5, dtype=dtype)},
        "ops": [op("s", "sin", "x"), op("t", "sum", "x"), op("u", "mul", "s", "t"), op("v", "mul", "u", "k"),
                op("x2", "getitem", "x", {"slice": [None, 2]}), op("w", "exp", "x2")],
        "function": {"inputs": "x", "output": ["v", "w"]},
    }


def two_in_two_out(dtype="float64"):
    """(x, y) -> (x * y, (x ** 2).sum() + y.sum()): tuple inputs and outputs."""
    return {
        "leaves": {"x": leaf([1.0, 2.0, 3.0], dtype=dtype), "y": leaf([0.5, -1.0, 4.0], dtype=dtype)},
        "ops": [op("p", "mul", "x", "y"), op("q", "pow", "x", 2), op("r", "sum", "q"), op("t", "sum", "y"),
                op("z", "add", "r", "t")],
        "function": {"inputs": ["x", "y"], "output": ["p", "z"]},
    }


def scalar_fn(dtype="float64", listed=False):
    """A scalar function of x (3): (x ** 3).sum() * sin(x).sum(), for hessian, hvp, vhp."""
    return {
        "leaves": {"x": leaf([0.5, -1.25, 2.0], dtype=dtype)},
        "ops": [op("c", "pow", "x", 3), op("s", "sum", "c"), op("n", "sin", "x"), op("m", "sum", "n"),
                op("f", "mul", "s", "m")],
        "function": {"inputs": ["x"] if listed else "x", "output": "f"},
    }


def scalar_two(dtype="float64"):
    """A scalar function of (x, y): (x * y).sum() ** 2 + y.exp().sum()."""
    return {
        "leaves": {"x": leaf([1.0, -0.5], dtype=dtype), "y": leaf([0.25, 0.75], dtype=dtype)},
        "ops": [op("p", "mul", "x", "y"), op("s", "sum", "p"), op("s2", "pow", "s", 2), op("e", "exp", "y"),
                op("es", "sum", "e"), op("f", "add", "s2", "es")],
        "function": {"inputs": ["x", "y"], "output": "f"},
    }


def compare_value(mine, ref, path="result"):
    if isinstance(ref, list):
        assert isinstance(mine, list) and len(mine) == len(ref), path
        for i, (m, r) in enumerate(zip(mine, ref)):
            compare_value(m, r, f"{path}[{i}]")
        return
    if ref is None:
        assert mine is None, path
        return
    for f in ("shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "retains_grad"):
        assert mine[f] == ref[f], (path, f, mine[f], ref[f])
    _close(mine["data"], ref["data"], f"{path}.data")
    _close(mine["grad"], ref["grad"], f"{path}.grad")
    if mine["data"] == ref["data"]:
        assert mine["repr"] == ref["repr"], path


def same_as_torch(spec, kind="functional"):
    """engine's document equals torch's (values to float tolerance; reprs where values are equal), or both raise
    the same class and message at the same location. Returns the engine's document (or error)."""
    run, oracle = (engine.evaluate_functional, torch_functional) if kind == "functional" else \
        (engine.evaluate_gradcheck, torch_gradcheck)
    try:
        ref = oracle(copy.deepcopy(spec))
    except TorchFailure as f:
        with pytest.raises(EngineError) as info:
            run(copy.deepcopy(spec))
        assert (info.value.type, info.value.msg, info.value.loc) == (f.type, f.msg, f.loc)
        return info.value
    mine = run(copy.deepcopy(spec))
    assert set(mine) == set(ref)
    if kind == "functional":
        compare_value(mine["result"], ref["result"])
        if "output" in ref:
            compare_value(mine["output"], ref["output"], "output")
    else:
        assert same_verdict(mine["gradcheck"], ref["gradcheck"])
        assert same_verdict(mine["gradgradcheck"], ref["gradgradcheck"], random_grad_outputs=True)
    assert mine["warnings"] == ref["warnings"]
    assert mine["device"] == "cpu"
    return mine


def same_verdict(mine, ref, random_grad_outputs=False):
    """Byte for byte, but for fast mode's two scalars (vdot orders: torch's is MKL's), to 1e-12 (float32: 1e-6).
    random_grad_outputs (gradgradcheck without grad_outputs): the engine draws its own, so a failure's message
    compares by its first line only."""
    if mine is None or ref is None or mine["ok"] or ref["ok"]:
        return mine == ref
    a, b = mine["error"]["msg"], ref["error"]["msg"]
    if random_grad_outputs:
        return a.split("\n", 1)[0] == b.split("\n", 1)[0]
    m, r = _FAST_SCALARS.match(a), _FAST_SCALARS.match(b)
    if m is None or r is None:
        return mine == ref
    tol = 1e-12 if "torch.float64" in b else 1e-6
    assert math.isclose(float(m[2]), float(r[2]), rel_tol=tol) and math.isclose(float(m[3]), float(r[3]), rel_tol=tol)
    return a[m.end():] == b[r.end():] and m[1] == r[1]


# ----- every transform and option -----


FUNCTIONS = {"mlp": mlp, "vector": vector, "two_in_two_out": two_in_two_out, "scalar": scalar_fn,
             "scalar_listed": lambda dt: scalar_fn(dt, True), "scalar_two": scalar_two}
JACOBIAN_OPTIONS = [{}, {"vectorize": True}, {"create_graph": True}, {"create_graph": True, "vectorize": True},
                    {"strict": True}]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", JACOBIAN_OPTIONS, ids=lambda o: ",".join(o) or "defaults")
@pytest.mark.parametrize("fn", ["mlp", "vector", "two_in_two_out", "scalar_two"])
def test_jacobian(fn, options, dtype):
    doc = same_as_torch({**FUNCTIONS[fn](dtype), "transform": "jacobian", **options})
    assert isinstance(doc, dict)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{}, {"vectorize": True}, {"create_graph": True}, {"strict": True},
                                     {"outer_jacobian_strategy": "reverse-mode"}],
                         ids=lambda o: ",".join(o) or "defaults")
@pytest.mark.parametrize("fn", ["scalar", "scalar_listed", "scalar_two"])
def test_hessian(fn, options, dtype):
    doc = same_as_torch({**FUNCTIONS[fn](dtype), "transform": "hessian", **options})
    assert isinstance(doc, dict)


def test_hessian_of_the_seed_function():
    doc = same_as_torch({**SEED, "transform": "hessian"})
    assert len(doc["result"]) == 5 and all(len(row) == 5 for row in doc["result"])
    assert doc["result"][0][1]["data"] == 1.0  # d2f/da db


V = {"mlp": [[1.0, -1.0], [0.5, 2.0]], "vector": [[1.0, 2.0, 3.0], [0.5, -0.5]],
     "two_in_two_out": [[1.0, 0.0, 2.0], 3.0]}
V_IN = {"mlp": [[[1.0] * 4] * 3, [[0.5, -0.5]] * 4], "vector": [1.0, -2.0, 0.5],
        "two_in_two_out": [[1.0, 2, 3], [0, 1, 0]],
        "scalar": [1.0, 2.0, -1.0], "scalar_listed": [[1.0, 2.0, -1.0]], "scalar_two": [[1, 0], [0.5, 0.5]]}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{}, {"create_graph": True}, {"strict": True}], ids=lambda o: ",".join(o) or "-")
@pytest.mark.parametrize("fn", ["mlp", "vector", "two_in_two_out"])
def test_vjp(fn, options, dtype):
    same_as_torch({**FUNCTIONS[fn](dtype), "transform": "vjp", "v": V[fn], **options})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{}, {"create_graph": True}, {"strict": True}], ids=lambda o: ",".join(o) or "-")
@pytest.mark.parametrize("fn", ["mlp", "vector", "two_in_two_out"])
def test_jvp(fn, options, dtype):
    same_as_torch({**FUNCTIONS[fn](dtype), "transform": "jvp", "v": V_IN[fn], **options})


@pytest.mark.parametrize("transform", ["hvp", "vhp"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{}, {"create_graph": True}, {"strict": True}], ids=lambda o: ",".join(o) or "-")
@pytest.mark.parametrize("fn", ["scalar", "scalar_listed", "scalar_two"])
def test_hvp_vhp(fn, options, dtype, transform):
    same_as_torch({**FUNCTIONS[fn](dtype), "transform": transform, "v": V_IN[fn], **options})


def test_v_omitted_where_torch_allows_it():
    one = {"leaves": {"x": leaf(0.5)}, "ops": [op("y", "sin", "x"), op("z", "mul", "y", "x")],
           "function": {"inputs": "x", "output": "z"}}
    for t in ("vjp", "jvp", "hvp", "vhp"):
        same_as_torch({**one, "transform": t})
        same_as_torch({**one, "transform": t, "v": None})


@pytest.mark.parametrize("transform", ["vjp", "jvp", "hvp", "vhp"])
def test_v_missing_or_wrong(transform):
    base = scalar_fn() if transform in ("hvp", "vhp") else vector()
    err = same_as_torch({**base, "transform": transform})
    assert err.loc == ["body", "transform"] and "v can only be None" in err.msg
    wrong = [1.0, 2.0] if transform != "vjp" else [[1.0, 2.0], [0.5, 0.5]]
    err = same_as_torch({**base, "transform": transform, "v": wrong})
    assert err.loc == ["body", "transform"] and "invalid size" in err.msg
    if transform == "vjp":  # a tuple of the wrong length
        err = same_as_torch({**base, "transform": transform, "v": [[1.0, 2.0, 3.0]]})
        assert "v is a tuple of invalid length" in err.msg


def test_v_with_whole_numbers_takes_the_dtype_beside_it():
    spec = {**vector("float64"), "transform": "vjp", "v": [[1, 2, 3], [1, 0]]}
    doc = same_as_torch(spec)
    assert doc["result"]["dtype"] == "float64"


def test_v_in_base64_keeps_its_dtype():
    import base64

    import numpy as np

    b64 = {"dtype": "float32", "shape": [3], "b64": base64.b64encode(np.array([1, 2, 3], "<f4").tobytes()).decode()}
    same_as_torch({**scalar_fn("float64"), "transform": "hvp", "v": b64})


def test_create_graph_results_keep_torch_grad_fn_names():
    doc = same_as_torch({**two_in_two_out(), "transform": "jacobian", "create_graph": True})
    assert doc["result"][0][0]["grad_fn"] == "ViewBackward0"
    doc = same_as_torch({**scalar_fn(), "transform": "hvp", "v": [1.0, 0, 0], "create_graph": True})
    assert doc["result"]["requires_grad"] and doc["output"]["requires_grad"]


def test_constant_leaves_that_require_grad_reach_the_results_graph():
    spec = {"leaves": {"x": leaf([1.0, 2.0]), "w": leaf([0.5, 3.0], True)},
            "ops": [op("y", "mul", "x", "w"), op("z", "exp", "y")], "function": {"inputs": "x", "output": "z"}}
    for cg in (False, True):
        same_as_torch({**spec, "transform": "jacobian", "create_graph": cg})
        same_as_torch({**spec, "transform": "vjp", "v": [1.0, 1.0], "create_graph": cg})


def test_output_is_an_input_or_a_constant():
    spec = {"leaves": {"x": leaf([1.0, 2.0]), "c": leaf([3.0, 4.0])}, "ops": [op("y", "mul", "x", "c")]}
    same_as_torch({**spec, "function": {"inputs": "x", "output": "x"}, "transform": "jacobian"})
    same_as_torch({**spec, "function": {"inputs": "x", "output": ["y", "c"]}, "transform": "jacobian"})
    same_as_torch({**spec, "function": {"inputs": "x", "output": ["y", "c"]}, "transform": "jacobian",
                   "strict": True})


def test_custom_function_inside_the_function():
    spec = {"leaves": {"x": leaf([0.5, 1.5, -1.0])},
            "functions": {"Cube": {
                "forward": {"inputs": ["t"], "ops": [op("o", "pow", "t", 3)], "output": "o", "save": ["t"]},
                "backward": {"inputs": ["g"], "ops": [op("t2", "pow", "t", 2), op("k", "mul", "t2", 3),
                                                      op("gx", "mul", "g", "k")], "output": "gx"}}},
            "ops": [op("y", "Cube", "x"), op("s", "sum", "y")], "function": {"inputs": "x", "output": "y"}}
    same_as_torch({**spec, "transform": "jacobian"})
    same_as_torch({**spec, "transform": "jacobian", "vectorize": True})
    same_as_torch({**spec, "transform": "vjp", "v": [1.0, 2.0, 3.0]})
    same_as_torch({**spec, "function": {"inputs": "x", "output": "s"}, "transform": "hessian"})


# ----- errors, located -----


def test_strict_mode_errors_at_the_transform():
    spec = {"leaves": {"x": leaf([1.0, 2.0]), "y": leaf([3.0])}, "ops": [op("z", "mul", "x", 2)],
            "function": {"inputs": ["x", "y"], "output": "z"}}
    err = same_as_torch({**spec, "transform": "jacobian", "strict": True})
    assert err.loc == ["body", "transform"] and "independent of input 1" in err.msg
    err = same_as_torch({**spec, "transform": "jacobian", "strict": True, "vectorize": True})
    assert "`strict=True` and `vectorized=True` are not supported together" in err.msg
    err = same_as_torch({**spec, "transform": "vjp", "v": [1.0, 1.0], "strict": True})
    assert "independent of input 1" in err.msg
    lin = {**spec, "ops": [op("z", "mul", "x", 2), op("s", "sum", "z")], "function": {"inputs": "x", "output": "s"}}
    err = same_as_torch({**lin, "transform": "hessian", "strict": True})
    assert "independent of the input" in err.msg or "is independent of" in err.msg


def test_hessian_of_a_non_scalar():
    err = same_as_torch({**vector(), "function": {"inputs": "x", "output": "v"}, "transform": "hessian"})
    assert err.loc == ["body", "transform"]
    assert err.msg == "The Tensor returned by the function given to hessian should contain a single element"
    err = same_as_torch({**vector(), "transform": "hessian"})
    assert err.msg == "The function given to hessian should return a single Tensor"


def test_an_op_error_is_located_at_the_op():
    spec = {"leaves": {"x": leaf([1.0, 2.0]), "m": leaf([[1.0, 2.0, 3.0]])},
            "ops": [op("y", "exp", "x"), op("z", "matmul", "m", "y")], "function": {"inputs": "x", "output": "z"}}
    for t in ("jacobian", "hessian", "vjp", "jvp"):
        err = same_as_torch({**spec, "transform": t, **({"v": [1.0, 1.0]} if t in ("jvp",) else {})})
        assert err.loc == ["body", "ops", 1] and err.type == "RuntimeError"
    err = same_as_torch({**spec, "leaves": {"x": leaf([1.0, 2.0], True), "m": spec["leaves"]["m"]}}, "gradcheck")
    assert err.loc == ["body", "ops", 1]


def test_forward_mode():
    spec = {**scalar_fn(), "function": {"inputs": "x", "output": "c"}}
    # vectorize=False: torch's own NotImplementedError
    err = same_as_torch({**spec, "transform": "jacobian", "strategy": "forward-mode"})
    assert err.type == "NotImplementedError" and err.loc == ["body", "transform"]
    same_as_torch({**spec, "transform": "jacobian", "strategy": "forward-mode", "create_graph": True})
    same_as_torch({**spec, "transform": "jacobian", "strategy": "forward-mode", "strict": True})
    # vectorize=True: forward-mode AD (a batched dual level), as torch's; the Hessian forward-over-reverse.
    # torch's first make_dual in a process imports its jvp decompositions, which warn (torch.jit.script is
    # deprecated): that import is made here, so the oracle's warnings are the transform's own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch._decomp.decompositions_for_jvp  # noqa: F401
    same_as_torch({**spec, "transform": "jacobian", "strategy": "forward-mode", "vectorize": True})
    same_as_torch({**spec, "transform": "hessian", "outer_jacobian_strategy": "forward-mode", "vectorize": True})


@pytest.mark.parametrize(("patch", "loc", "type_"), [
    ({"transform": "gradient"}, ["body", "transform"], "enum"),
    ({"transform": None}, ["body", "transform"], "enum"),
    ({"function": {"inputs": "nope", "output": "f"}}, ["body", "function", "inputs"], "value_error"),
    ({"function": {"inputs": ["x", "g"], "output": "f"}}, ["body", "function", "inputs", 1], "value_error"),
    ({"function": {"inputs": ["x", "x"], "output": "f"}}, ["body", "function", "inputs", 1], "value_error"),
    ({"function": {"inputs": [], "output": "f"}}, ["body", "function", "inputs"], "too_short"),
    ({"function": {"inputs": "x", "output": "nope"}}, ["body", "function", "output"], "value_error"),
    ({"function": {"inputs": "x"}}, ["body", "function", "output"], "missing"),
    ({"function": {"inputs": "x", "output": "f", "extra": 1}}, ["body", "function", "extra"], "extra_forbidden"),
    ({"function": None}, ["body", "function"], "dict_type"),
    ({"vectorize": True, "transform": "vjp"}, ["body", "vectorize"], "TypeError"),
    ({"v": [1.0], "transform": "jacobian"}, ["body", "v"], "TypeError"),
    ({"outer_jacobian_strategy": "reverse-mode"}, ["body", "outer_jacobian_strategy"], "TypeError"),
    ({"strategy": "sideways"}, ["body", "strategy"], "enum"),
    ({"create_graph": "yes"}, ["body", "create_graph"], "bool_type"),
    ({"backward": []}, ["body", "backward"], "extra_forbidden"),
    ({"encoding": "xml"}, ["body", "encoding"], "enum"),
])
def test_request_errors(patch, loc, type_):
    spec = {**scalar_fn(), "transform": "jacobian", **patch}
    spec = {k: v for k, v in spec.items() if not (k == "transform" and v is None)}
    if "transform" not in spec:
        loc, type_ = ["body", "transform"], "missing"
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(spec)
    assert (info.value.loc, info.value.type) == (loc, type_), info.value.msg


def test_typeerror_for_an_option_reads_as_python():
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional({**scalar_fn(), "transform": "vjp", "vectorize": True})
    assert info.value.msg == "vjp() got an unexpected keyword argument 'vectorize'"


def test_base64_encoding():
    doc = engine.evaluate_functional({**scalar_fn(), "transform": "hessian", "encoding": "base64"})
    assert doc["result"]["data"]["shape"] == [3, 3] and doc["result"]["data"]["dtype"] == "float64"
    plain = engine.evaluate_functional({**scalar_fn(), "transform": "hessian"})
    assert doc["result"]["repr"] == plain["result"]["repr"]


def test_warnings_in_torch_order():
    spec = {"leaves": {"x": leaf([[1.0, 2.0], [3.0, 4.0]])},
            "ops": [op("y", "mul", "x", 2), op("g", "grad", "y"), op("s", "sum", "y")],
            "function": {"inputs": "x", "output": "s"}}
    doc = same_as_torch({**spec, "transform": "hessian"})
    assert doc["warnings"] and all("grad attribute" in w["message"] for w in doc["warnings"])


# ----- gradcheck -----


def wrong_backward(factor=2, dtype="float64"):
    """A custom Function x -> x ** 2 whose backward returns factor * x * g (right with factor 2)."""
    return {"leaves": {"x": leaf([0.5, -1.0, 2.0], True, dtype)},
            "functions": {"Square": {"forward": {"inputs": ["t"], "ops": [op("o", "mul", "t", "t")], "output": "o",
                                                 "save": ["t"]},
                                     "backward": {"inputs": ["g"], "ops": [op("k", "mul", "t", factor),
                                                                           op("gx", "mul", "g", "k")],
                                                  "output": "gx"}}},
            "ops": [op("y", "Square", "x")], "function": {"inputs": "x", "output": "y"}}


@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_of_a_custom_backward(factor, fast_mode):
    doc = same_as_torch({**wrong_backward(factor), "fast_mode": fast_mode}, "gradcheck")
    assert doc["gradcheck"]["ok"] is (factor == 2)
    if factor != 2:
        assert doc["gradcheck"]["error"]["msg"].startswith("Jacobian mismatch for output 0 with respect to input 0")


def test_gradcheck_float32_warns_and_fails_as_torch():
    doc = same_as_torch(wrong_backward(2, "float32"), "gradcheck")
    assert doc["warnings"][0]["message"].startswith("Input #0 requires gradient and is not a double precision")


@pytest.mark.parametrize("options", [{}, {"eps": 1e-3}, {"atol": 0.5, "rtol": 0.1}, {"gradgrad": True},
                                     {"fast_mode": True, "gradgrad": True}], ids=lambda o: ",".join(o) or "-")
@pytest.mark.parametrize("fn", ["mlp", "two_in_two_out", "scalar_two"])
def test_gradcheck_programs(fn, options):
    spec = FUNCTIONS[fn]("float64")
    for n in spec["function"]["inputs"]:
        spec["leaves"][n]["requires_grad"] = True
    doc = same_as_torch({**spec, **options}, "gradcheck")
    assert doc["gradcheck"]["ok"]


def test_gradgradcheck_of_a_wrong_double_backward():
    # right first derivative, backward not differentiable in t (detach): gradgradcheck fails; its message
    # prints random grad_outputs, which are the engine's own, so only the verdict and the head compare
    spec = wrong_backward(2)
    spec["functions"]["Square"]["backward"]["ops"] = [op("td", "detach", "t"), op("k", "mul", "td", 2),
                                                      op("gx", "mul", "g", "k")]
    doc = engine.evaluate_gradcheck({**spec, "gradgrad": True})
    ref = torch_gradcheck({**spec, "gradgrad": True})
    assert doc["gradcheck"] == ref["gradcheck"] == {"ok": True, "error": None}
    assert doc["gradgradcheck"]["ok"] is ref["gradgradcheck"]["ok"] is False
    head = "Jacobian mismatch for output 0 with respect to input 0,\nnumerical:"
    assert doc["gradgradcheck"]["error"]["msg"].startswith(head)
    assert ref["gradgradcheck"]["error"]["msg"].startswith(head)


def test_gradcheck_invalid_call():
    spec = wrong_backward(2)
    spec["leaves"]["x"]["requires_grad"] = False
    err = same_as_torch(spec, "gradcheck")
    assert (err.type, err.loc) == ("ValueError", ["body", "function"])


@pytest.mark.parametrize(("patch", "loc"), [({"eps": 0}, ["body", "eps"]), ({"atol": -1}, ["body", "atol"]),
                                            ({"rtol": "x"}, ["body", "rtol"]), ({"gradgrad": 1}, ["body", "gradgrad"]),
                                            ({"transform": "jacobian"}, ["body", "transform"])])
def test_gradcheck_request_errors(patch, loc):
    with pytest.raises(EngineError) as info:
        engine.evaluate_gradcheck({**wrong_backward(2), **patch})
    assert info.value.loc == loc


# ----- limits -----


def zeros_leaf(n, rg=False):
    import base64

    return {"data": {"dtype": "float64", "shape": [n], "b64": base64.b64encode(bytes(8 * n)).decode()},
            "requires_grad": rg}


def test_a_vectorized_jacobian_too_big_is_refused_before_it_is_built():
    spec = {"leaves": {"x": zeros_leaf(100_000)}, "ops": [op("y", "sin", "x")],
            "function": {"inputs": "x", "output": "y"}, "transform": "jacobian", "vectorize": True}
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(spec)
    assert info.value.type == "limit_exceeded" and "max_request_bytes" in info.value.msg


@pytest.mark.parametrize("spec", [
    {"transform": "jacobian"},  # 10^5 backward passes, one per row
    {"transform": "hessian"},
], ids=["jacobian_rows", "hessian_rows"])
def test_row_by_row_transforms_stop_at_the_deadline_or_a_limit(spec):
    doc = {"leaves": {"x": zeros_leaf(100_000)}, "ops": [op("y", "sin", "x"), op("s", "sum", "y")],
           "function": {"inputs": "x", "output": "y" if spec["transform"] == "jacobian" else "s"}, **spec}
    b = Limits().budget(deadline=time.monotonic() + 1.0)
    t0 = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(doc, budget=b)
    assert info.value.type in ("timeout", "limit_exceeded")
    assert time.monotonic() - t0 < 30  # stopped, not run to the end (a bound, not a timing)


def test_gradcheck_of_a_huge_input_stops():
    doc = {"leaves": {"x": zeros_leaf(200_000, True)}, "ops": [op("y", "sin", "x")],
           "function": {"inputs": "x", "output": "y"}}
    with pytest.raises(EngineError) as info:
        engine.evaluate_gradcheck(doc)
    assert info.value.type == "limit_exceeded"  # the numerical Jacobian (4e10 elements) is refused
    doc["ops"].append(op("s", "sum", "y"))
    doc["function"]["output"] = "s"
    b = Limits().budget(deadline=time.monotonic() + 1.0)
    with pytest.raises(EngineError) as info:
        engine.evaluate_gradcheck(doc, budget=b)
    assert info.value.type in ("timeout", "limit_exceeded")


def test_the_response_size_is_bounded():
    spec = {"leaves": {"x": zeros_leaf(3000)}, "ops": [op("y", "sin", "x")],
            "function": {"inputs": "x", "output": "y"}, "transform": "jacobian", "vectorize": True}
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(spec, limits=Limits(max_response_bytes=1 << 20))
    assert info.value.type == "limit_exceeded" and "max_response_bytes" in info.value.msg


def test_a_call_counts_its_tensors_against_the_limits():
    spec = {**scalar_fn(), "transform": "jacobian"}
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(spec, limits=Limits(max_total_elements=8))
    assert info.value.loc == ["body", "ops", 1] or info.value.loc[:2] == ["body", "ops"]
    # per call, not summed over calls: gradcheck calls the function 2 * 3 + more times
    gc = {**scalar_fn(), "leaves": {"x": leaf([0.5, -1.25, 2.0], True, "float64")}}
    assert engine.evaluate_gradcheck(gc, limits=Limits(max_total_elements=20))["gradcheck"]["ok"]


def test_budget_is_charged_and_released():
    b = Limits().budget()
    engine.evaluate_functional({**mlp(), "transform": "jacobian"}, budget=b)
    assert b.used_flops > 0
    assert _budget.current() is None


def test_v_counts_against_the_limits():
    spec = {**scalar_fn(), "transform": "hvp", "v": [1.0, 2.0, 3.0, 4.0]}
    with pytest.raises(EngineError) as info:
        engine.evaluate_functional(spec, limits=Limits(max_tensor_elements=3))
    assert (info.value.type, info.value.loc) == ("limit_exceeded", ["body", "v"])


def test_max_ops():
    for run in (engine.evaluate_functional, engine.evaluate_gradcheck):
        spec = {**wrong_backward(2), "transform": "jacobian"} if run is engine.evaluate_functional \
            else wrong_backward(2)
        with pytest.raises(EngineError) as info:
            run(spec, limits=Limits(max_ops=0))
        assert (info.value.type, info.value.loc) == ("limit_exceeded", ["body", "ops"])
