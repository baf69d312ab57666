"""API.md v1.1 programs: in-place ops, setitem, detach, autograd steps (backward, grad, autograd.grad) and anomaly
mode inside a request, each whole response held to the same program run in torch 2.13."""
from __future__ import annotations

import pytest

import engine
from tests.engine.test_random_programs import check_against_torch
from tests.lowering import sight_until_lowered


def leaf(data, rg=True, **kw):
    return {"data": data, "requires_grad": rg, **kw}


def op(name, fn, *args, no_grad=False, **kwargs):
    d = {"op": fn, "args": list(args)}
    if name is not None:
        d["name"] = name
    if kwargs:
        d["kwargs"] = kwargs
    if no_grad:
        d["no_grad"] = True
    return d


TRAINING_STEP = {
    "leaves": {"w": leaf([0.5, -0.25]), "x": leaf([[1.0, 2.0], [3.0, -1.0]], False), "y": leaf([1.0, 0.0], False)},
    "ops": [op("p", "matmul", "x", "w"), op("d", "sub", "p", "y"), op("sq", "pow", "d", 2), op("loss", "mean", "sq"),
            op(None, "backward", "loss"), op("gw", "grad", "w"), op("step", "mul", "gw", 0.1),
            op("w2", "sub_", "w", "step", no_grad=True), op("z", "zero_", "gw"),
            op("p2", "matmul", "x", "w"), op("loss2", "mean", op_pow := "p2")],
}
del op_pow

PROGRAMS = {
    "training_step": TRAINING_STEP,
    "training_loop": {
        "leaves": {"w": leaf([0.5, -0.25]), "x": leaf([[1.0, 2.0], [3.0, -1.0]], False), "y": leaf([1.0, 0.0], False)},
        "ops": [op_ for k in range(3) for op_ in (
            op(f"p{k}", "matmul", "x", "w"), op(f"d{k}", "sub", f"p{k}", "y"), op(f"s{k}", "pow", f"d{k}", 2),
            op(f"l{k}", "mean", f"s{k}"), op(None, "backward", f"l{k}"), op(f"g{k}", "grad", "w"),
            op(f"u{k}", "mul", f"g{k}", 0.1), op(f"w{k}", "sub_", "w", f"u{k}", no_grad=True),
            op(f"z{k}", "zero_", f"g{k}"))],
    },
    "version_error": {
        "leaves": {"x": leaf([1.0, 2.0, 3.0])},
        "ops": [op("y", "exp", "x"), op("y2", "add_", "y", 1), op("s", "sum", "y")],
        "backward": [{"tensor": "s"}],
    },
    "leaf_in_place": {"leaves": {"x": leaf([1.0, 2.0])}, "ops": [op("y", "mul_", "x", 2)]},
    "copy_slices": {
        "leaves": {"x": leaf([1.0, 2.0, 3.0, 4.0])},
        "ops": [op("b", "mul", "x", 1), op("v", "getitem", "b", {"slice": [1, 3]}), op("v2", "mul_", "v", 2),
                op("s", "sum", "b")],
        "backward": [{"tensor": "s"}],
    },
    "setitem": {
        "leaves": {"x": leaf([1.0, 2.0, 3.0, 4.0]), "v": leaf(7.0)},
        "ops": [op("b", "mul", "x", 2), op(None, "setitem", "b", 0, 5.0), op(None, "setitem", "b", 2, "v"),
                op("sq", "mul", "b", "b"), op("s", "sum", "sq")],
        "backward": [{"tensor": "s"}],
    },
    "setitem_advanced": {
        "leaves": {"x": leaf([1.0, 2.0, 3.0, 4.0]), "i": leaf([0, 3], False), "v": leaf(7.0)},
        "ops": [op("b", "mul", "x", 1), op(None, "setitem", "b", "i", "v"), op("s", "sum", "b")],
        "backward": [{"tensor": "s"}],
    },
    "detach_shares": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("b", "mul", "x", 3), op("d", "detach", "b"), op("d2", "add_", "d", 1), op("s", "sum", "b")],
        "backward": [{"tensor": "s"}],
    },
    "grad_of_grad": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "pow", "x", 3), op("s", "sum", "y"),
                op(["g"], "autograd.grad", "s", "x", create_graph=True), op("gs", "sum", "g"),
                op(["gg"], "autograd.grad", "gs", ["x"])],
    },
    "autograd_grad_unused": {
        "leaves": {"x": leaf([1.0, 2.0]), "u": leaf(3.0)},
        "ops": [op("s", "sum", "x"), op(["gx", "gu"], "autograd.grad", ["s"], ["x", "u"], allow_unused=True)],
    },
    "autograd_grad_unused_refused": {
        "leaves": {"x": leaf([1.0, 2.0]), "u": leaf(3.0)},
        "ops": [op("s", "sum", "x"), op(["gx", "gu"], "autograd.grad", ["s"], ["x", "u"])],
    },
    "autograd_grad_materialize": {
        "leaves": {"x": leaf([1.0, 2.0]), "u": leaf(3.0)},
        "ops": [op("s", "sum", "x"), op(["gx", "gu"], "autograd.grad", ["s"], ["x", "u"], materialize_grads=True)],
    },
    "autograd_grad_outputs_data": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "mul", "x", "x"), op(["g"], "autograd.grad", "y", "x", grad_outputs=[[2.0, "NaN"]])],
    },
    "backward_op_with_gradient": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "mul", "x", 3), op(None, "backward", "y", gradient=[1.0, 0.5], retain_graph=True),
                op(None, "backward", "y", gradient=[1.0, 1.0])],
    },
    "grad_of_non_leaf": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "mul", "x", 3), op("s", "sum", "y"), op(None, "backward", "s"), op("gy", "grad", "y")],
    },
    "retain_grad_step": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "mul", "x", 3), op(None, "retain_grad", "y"), op("s", "sum", "y"), op(None, "backward", "s"),
                op("gy", "grad", "y")],
    },
    "requires_grad_step": {
        "leaves": {"x": leaf([1.0, 2.0], False)},
        "ops": [op("x2", "requires_grad_", "x"), op("s", "sum", "x"), op(None, "backward", "s")],
    },
    "anomaly_nan": {
        "leaves": {"x": leaf([0.0, 1.0])},
        "ops": [op("y", "div", "x", "x"), op("s", "sum", "y")],
        "backward": [{"tensor": "s"}], "detect_anomaly": True,
    },
    "anomaly_version": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "ops": [op("y", "exp", "x"), op("y2", "add_", "y", 1), op("s", "sum", "y")],
        "backward": [{"tensor": "s"}], "detect_anomaly": True,
    },
    "whole_numbers": {
        "leaves": {"a": leaf(2), "b": leaf([[1, 2], [3, 4]]), "i": leaf([1, 2], False)},
        "ops": [op("c", "mul", "a", "b"), op("s", "sum", "c")],
        "backward": [{"tensor": "s"}],
    },
    "whole_numbers_int64_refused": {"leaves": {"a": leaf(2, dtype="int64")}},
    "clamp_sigmoid_in_place": {
        "leaves": {"x": leaf([-1.0, 0.5, 2.0])},
        "ops": [op("a", "mul", "x", 1), op("a2", "clamp_", "a", 0.0, 1.0), op("b", "mul", "x", 2),
                op("b2", "sigmoid_", "b"), op("c", "add", "a", "b"), op("s", "sum", "c")],
        "backward": [{"tensor": "s"}],
    },
    "copy_and_fill": {
        "leaves": {"x": leaf([1.0, 2.0, 3.0]), "y": leaf([4.0, 5.0, 6.0])},
        "ops": [op("a", "mul", "x", 1), op("a2", "copy_", "a", "y"), op("b", "mul", "x", 1),
                op("b2", "fill_", "b", 2.5), op("c", "add", "a", "b"), op("s", "sum", "c")],
        "backward": [{"tensor": "s"}],
    },
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_like_torch(name):
    check_against_torch(PROGRAMS[name], engine.evaluate)


def test_in_place_programs_are_never_lowered():
    cache = engine.PlanCache()
    spec = PROGRAMS["clamp_sigmoid_in_place"]
    sight_until_lowered(lambda: check_against_torch(spec, lambda s: engine.evaluate(s, cache=cache)), cache, after=1)
    (program,) = cache._programs.values()
    assert program.stateful and program.lowered is False


def _ops(*specs):
    return [op(*s[:-1], **s[-1]) if isinstance(s[-1], dict) else op(*s) for s in specs]


LEGENDRE = {"LegendreP3": {
    "forward": {"inputs": ["x"], "ops": _ops(("x3", "pow", "x", 3), ("a", "mul", "x3", 5), ("b", "mul", "x", 3),
                                            ("c", "sub", "a", "b"), ("y", "mul", "c", 0.5)),
                "output": "y", "save": ["x"]},
    "backward": {"inputs": ["gy"], "ops": _ops(("x2", "pow", "x", 2), ("d", "mul", "x2", 5), ("e", "sub", "d", 1),
                                               ("f", "mul", "e", 1.5), ("gx", "mul", "gy", "f")),
                 "output": "gx"}}}

FUNCTION_PROGRAMS = {
    "legendre": {"leaves": {"x": leaf([0.5, 2.0])}, "functions": LEGENDRE,
                 "ops": [op("y", "LegendreP3", "x"), op("s", "sum", "y")], "backward": [{"tensor": "s"}]},
    "legendre_double_backward": {
        "leaves": {"x": leaf([0.5, 2.0])}, "functions": LEGENDRE,
        "ops": [op("y", "LegendreP3", "x"), op("s", "sum", "y"),
                op(["g"], "autograd.grad", "s", "x", create_graph=True), op("gs", "sum", "g"),
                op(None, "backward", "gs")]},
    "wrong_number_of_gradients": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "functions": {"Bad": {"forward": {"inputs": ["x"], "ops": _ops(("y", "mul", "x", 2)), "output": "y"},
                              "backward": {"inputs": ["g"], "ops": [], "output": ["g", "g"]}}},
        "ops": [op("y", "Bad", "x"), op("s", "sum", "y")], "backward": [{"tensor": "s"}]},
    "wrong_gradient_shape": {
        "leaves": {"x": leaf([1.0, 2.0]), "o": leaf([1.0, 1.0, 1.0], False)},
        "functions": {"Bad2": {"forward": {"inputs": ["x"], "ops": _ops(("y", "mul", "x", 2)), "output": "y"},
                               "backward": {"inputs": ["g"], "ops": _ops(("z", "ones", 3)), "output": "z"}}},
        "ops": [op("y", "Bad2", "x"), op("s", "sum", "y")], "backward": [{"tensor": "s"}]},
    "two_outputs_and_a_number": {
        "leaves": {"a": leaf([1.0, 2.0]), "b": leaf([3.0, 4.0])},
        "functions": {"Two": {
            "forward": {"inputs": ["a", "b", "k"], "ops": _ops(("p", "mul", "a", "b"), ("q", "mul", "a", "k")),
                        "output": ["p", "q"], "save": ["a", "b"]},
            "backward": {"inputs": ["gp", "gq"], "ops": _ops(("u", "mul", "gp", "b"), ("v", "mul", "gp", "a")),
                         "output": ["u", "v", None]}}},
        "ops": [op(["p", "q"], "Two", "a", "b", 2.0), op("s", "sum", "p")], "backward": [{"tensor": "s"}]},
    "saved_output_modified": {
        "leaves": {"x": leaf([1.0, 2.0])},
        "functions": {"Sv": {"forward": {"inputs": ["x"], "ops": _ops(("y", "exp", "x")), "output": "y",
                                         "save": ["y"]},
                             "backward": {"inputs": ["g"], "ops": _ops(("gx", "mul", "g", "y")), "output": "gx"}}},
        "ops": [op("z", "Sv", "x"), op("z2", "add_", "z", 1), op("s", "sum", "z")], "backward": [{"tensor": "s"}]},
    "error_inside_forward": {
        "leaves": {"x": leaf([1.0, 2.0]), "w": leaf([1.0, 2.0, 3.0], False)},
        "functions": {"F": {"forward": {"inputs": ["x", "w"], "ops": _ops(("y", "mul", "x", "w")), "output": "y"},
                            "backward": {"inputs": ["g"], "ops": [], "output": ["g", None]}}},
        "ops": [op("y", "F", "x", "w")]},
}


@pytest.mark.parametrize("name", sorted(FUNCTION_PROGRAMS))
def test_custom_function_like_torch(name):
    check_against_torch(FUNCTION_PROGRAMS[name], engine.evaluate)


def test_a_function_may_not_shadow_a_catalog_op():
    spec = {**FUNCTION_PROGRAMS["legendre"], "functions": {"exp": LEGENDRE["LegendreP3"]}}
    with pytest.raises(engine.EngineError) as e:
        engine.evaluate(spec)
    assert e.value.loc == ["body", "functions", "exp"] and "shadows" in e.value.msg
