"""Request examples for POST /v1/evaluate, /v1/functional, /v1/gradcheck and /v1/evaluate/batch, selectable in
Swagger UI (and run by the tests).

A browser's JSON writes 2.0 as 2: since API v1.1 a leaf that requires grad reads whole numbers as floats, and
the v1 examples name their dtype anyway.
"""
from __future__ import annotations

EXAMPLES: dict[str, dict] = {
    "scalar_add": {
        "summary": "a + b",
        "description": "Two scalar leaves, their sum, one backward pass: both grads are 1.",
        "value": {
            "leaves": {"a": {"data": 2.0, "dtype": "float32", "requires_grad": True},
                       "b": {"data": 3.0, "dtype": "float32", "requires_grad": True}},
            "ops": [{"name": "c", "op": "add", "args": ["a", "b"]}],
            "backward": [{"tensor": "c"}],
        },
    },
    "leaf_grads": {
        "summary": "f = a*b + c*d**2/e, with leaf gradients",
        "description": "With a=2, b=4, c=6, d=8, e=10: f = 46.4 and df/da = 4, df/db = 2, df/dc = 6.4, "
                       "df/dd = 9.6, df/de = -3.84.",
        "value": {
            "leaves": {n: {"data": v, "dtype": "float32", "requires_grad": True}
                       for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0), ("d", 8.0), ("e", 10.0))},
            "ops": [
                {"name": "ab", "op": "mul", "args": ["a", "b"]},
                {"name": "d2", "op": "pow", "args": ["d", 2]},
                {"name": "cd2", "op": "mul", "args": ["c", "d2"]},
                {"name": "q", "op": "div", "args": ["cd2", "e"]},
                {"name": "f", "op": "add", "args": ["ab", "q"]},
            ],
            "backward": [{"tensor": "f"}],
            "grads": ["a", "b", "c", "d", "e"],
            "outputs": ["f", "a", "b", "c", "d", "e"],
        },
    },
    "matrix_gradient": {
        "summary": "3x3 matrix, backward with an explicit `gradient`",
        "description": "y = x**2 is not a scalar, so backward needs `gradient` (the vector of the "
                       "vector-Jacobian product): x.grad = 2 * x * gradient.",
        "value": {
            "leaves": {"x": {"data": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], "dtype": "float32",
                             "requires_grad": True}},
            "ops": [{"name": "y", "op": "pow", "args": ["x", 2]}],
            "backward": [{"tensor": "y", "gradient": [[1.0, 0.1, 0.01], [1.0, 0.1, 0.01], [1.0, 0.1, 0.01]]}],
        },
    },
    "x_matmul_x": {
        "summary": "x @ x (1-D: a dot product)",
        "description": "matmul of two vectors is their dot product, a scalar (DotBackward0); x.grad = 2 * x.",
        "value": {
            "leaves": {"x": {"data": [1.0, 2.0, 3.0], "dtype": "float32", "requires_grad": True}},
            "ops": [{"name": "y", "op": "matmul", "args": ["x", "x"]}],
            "backward": [{"tensor": "y"}],
        },
    },
    "xT_matmul_x": {
        "summary": "x.T @ x, with PyTorch's warning",
        "description": "`x.T` on a tensor that is not 2-D is deprecated: the response carries PyTorch's "
                       "UserWarning, and the result is still the dot product.",
        "value": {
            "leaves": {"x": {"data": [1.0, 2.0, 3.0], "dtype": "float32", "requires_grad": True}},
            "ops": [{"name": "xt", "op": "T", "args": ["x"]},
                    {"name": "y", "op": "matmul", "args": ["xt", "x"]}],
            "backward": [{"tensor": "y"}],
        },
    },
    "bce_with_logits": {
        "summary": "One-layer network, binary_cross_entropy_with_logits (the autograd tutorial)",
        "description": "x = ones(5), y = zeros(3), w (5x3) and b (3) are parameters: "
                       "z = matmul(x, w) + b, loss = binary_cross_entropy_with_logits(z, y); "
                       "the response has loss.grad_fn (BinaryCrossEntropyWithLogitsBackward0), w.grad and "
                       "b.grad.",
        "value": {
            "leaves": {
                "x": {"data": [1.0, 1.0, 1.0, 1.0, 1.0], "dtype": "float32"},
                "y": {"data": [0.0, 0.0, 0.0], "dtype": "float32"},
                "w": {"data": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9],
                               [1.0, -1.1, 1.2], [-1.3, 1.4, 0.15]],
                      "dtype": "float32", "requires_grad": True},
                "b": {"data": [0.1, -0.1, 0.2], "dtype": "float32", "requires_grad": True},
            },
            "ops": [
                {"name": "xw", "op": "matmul", "args": ["x", "w"]},
                {"name": "z", "op": "add", "args": ["xw", "b"]},
                {"name": "loss", "op": "binary_cross_entropy_with_logits", "args": ["z", "y"]},
            ],
            "backward": [{"tensor": "loss"}],
            "grads": ["w", "b"],
            "outputs": ["z", "loss", "w", "b"],
        },
    },
    "error_shape_mismatch": {
        "summary": "An error: shapes that do not broadcast (422)",
        "description": "Adding a 3-vector to a 2-vector fails as in PyTorch: 422 with type RuntimeError, "
                       "PyTorch's message, and loc [\"body\", \"ops\", 0].",
        "value": {
            "leaves": {"a": {"data": [1.0, 2.0, 3.0], "dtype": "float32"},
                       "b": {"data": [1.0, 2.0], "dtype": "float32"}},
            "ops": [{"name": "c", "op": "add", "args": ["a", "b"]}],
        },
    },
    "training_step": {
        "summary": "A gradient-descent step inside the program (v1.1)",
        "description": "Forward, `backward` as a step, the `grad` of w (the same tensor object), `w -= lr * grad` "
                       "under no_grad (`sub_`: w2 is w), `zero_` of the grad, then the loss again. Whole numbers "
                       "are floats for leaves that require grad.",
        "value": {
            "leaves": {"w": {"data": [1, -2], "requires_grad": True},
                       "x": {"data": [[1.0, 2.0], [3.0, -1.0]], "dtype": "float32"},
                       "y": {"data": [1.0, 0.0], "dtype": "float32"}},
            "ops": [
                {"name": "p", "op": "matmul", "args": ["x", "w"]},
                {"name": "d", "op": "sub", "args": ["p", "y"]},
                {"name": "loss", "op": "mean", "args": ["d"]},
                {"op": "backward", "args": ["loss"]},
                {"name": "gw", "op": "grad", "args": ["w"]},
                {"name": "step", "op": "mul", "args": ["gw", 0.1]},
                {"name": "w2", "op": "sub_", "args": ["w", "step"], "no_grad": True},
                {"name": "z", "op": "zero_", "args": ["gw"]},
                {"name": "p2", "op": "matmul", "args": ["x", "w"]},
                {"name": "loss2", "op": "mean", "args": ["p2"]},
            ],
            "outputs": ["loss", "w", "loss2"],
        },
    },
    "error_version": {
        "summary": "An in-place change of a saved tensor fails at backward (422)",
        "description": "exp saves its result; add_ changes it in place (version 0 -> 1), so backward fails with "
                       "PyTorch's message, at [\"body\", \"backward\", 0].",
        "value": {
            "leaves": {"x": {"data": [1.0, 2.0, 3.0], "requires_grad": True}},
            "ops": [{"name": "y", "op": "exp", "args": ["x"]}, {"name": "y2", "op": "add_", "args": ["y", 1]},
                    {"name": "s", "op": "sum", "args": ["y"]}],
            "backward": [{"tensor": "s"}],
        },
    },
    "copy_slices": {
        "summary": "An in-place op on a view: CopySlices (v1.1)",
        "description": "v is a view of b; v.mul_(2) rewrites b's history: b's grad_fn becomes CopySlices (wrapping "
                       "MulBackward0) and v's AsStridedBackward0. x.grad doubles where the view lies.",
        "value": {
            "leaves": {"x": {"data": [1.0, 2.0, 3.0, 4.0], "requires_grad": True}},
            "ops": [{"name": "b", "op": "mul", "args": ["x", 1]},
                    {"name": "v", "op": "getitem", "args": ["b", {"slice": [1, 3]}]},
                    {"name": "v2", "op": "mul_", "args": ["v", 2]},
                    {"name": "s", "op": "sum", "args": ["b"]}],
            "backward": [{"tensor": "s"}],
        },
    },
    "grad_of_grad": {
        "summary": "A gradient used inside the program: grad of grad (v1.1)",
        "description": "autograd.grad with create_graph gives g = 3x², itself differentiable; the second "
                       "autograd.grad gives 6x.",
        "value": {
            "leaves": {"x": {"data": [1.0, 2.0], "requires_grad": True}},
            "ops": [{"name": "y", "op": "pow", "args": ["x", 3]}, {"name": "s", "op": "sum", "args": ["y"]},
                    {"name": ["g"], "op": "autograd.grad", "args": ["s", "x"], "kwargs": {"create_graph": True}},
                    {"name": "gs", "op": "sum", "args": ["g"]},
                    {"name": ["gg"], "op": "autograd.grad", "args": ["gs", "x"]}],
        },
    },
    "custom_function": {
        "summary": "A custom autograd.Function: LegendreP3 from PyTorch's tutorial (v1.1)",
        "description": "forward: y = ½(5x³ − 3x), saving x; backward: grad · 1.5(5x² − 1). The node is "
                       "LegendreP3Backward, as PyTorch names it.",
        "value": {
            "leaves": {"x": {"data": [0.5, 2.0], "requires_grad": True}},
            "functions": {"LegendreP3": {
                "forward": {"inputs": ["x"], "output": "y", "save": ["x"], "ops": [
                    {"name": "x3", "op": "pow", "args": ["x", 3]}, {"name": "a", "op": "mul", "args": ["x3", 5]},
                    {"name": "b", "op": "mul", "args": ["x", 3]}, {"name": "c", "op": "sub", "args": ["a", "b"]},
                    {"name": "y", "op": "mul", "args": ["c", 0.5]}]},
                "backward": {"inputs": ["gy"], "output": "gx", "ops": [
                    {"name": "x2", "op": "pow", "args": ["x", 2]}, {"name": "d", "op": "mul", "args": ["x2", 5]},
                    {"name": "e", "op": "sub", "args": ["d", 1]}, {"name": "f", "op": "mul", "args": ["e", 1.5]},
                    {"name": "gx", "op": "mul", "args": ["gy", "f"]}]}}},
            "ops": [{"name": "y", "op": "LegendreP3", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
            "backward": [{"tensor": "s"}],
        },
    },
}


def _leaf(data, dtype="float64", requires_grad=False) -> dict:
    d = {"data": data, "dtype": dtype}
    if requires_grad:
        d["requires_grad"] = True
    return d


# f = a*b + c*d**2/e, the seed example, as ops
_SEED_OPS = [
    {"name": "ab", "op": "mul", "args": ["a", "b"]},
    {"name": "d2", "op": "pow", "args": ["d", 2]},
    {"name": "cd2", "op": "mul", "args": ["c", "d2"]},
    {"name": "q", "op": "div", "args": ["cd2", "e"]},
    {"name": "f", "op": "add", "args": ["ab", "q"]},
]
_SEED_LEAVES = {n: _leaf(v, "float32") for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0), ("d", 8.0), ("e", 10.0))}



def _square(scale: float) -> dict:
    """A custom Function x -> x*x whose backward is `scale * x * grad`: right with scale 2."""
    return {"Square": {
        "forward": {"inputs": ["x"], "ops": [{"name": "y", "op": "mul", "args": ["x", "x"]}], "output": "y",
                    "save": ["x"]},
        "backward": {"inputs": ["gy"], "ops": [{"name": "k", "op": "mul", "args": ["x", scale]},
                                                {"name": "gx", "op": "mul", "args": ["gy", "k"]}], "output": "gx"}}}


# Request examples for POST /v1/functional.
FUNCTIONAL_EXAMPLES: dict[str, dict] = {
    "hessian_seed": {
        "summary": "Hessian of f = a*b + c*d**2/e",
        "description": "`torch.autograd.functional.hessian(f, (a, b, c, d, e))`: a tuple of tuples, so `result` "
                       "is a 5x5 list of lists of 0-d tensors (d2f/da db = 1, d2f/dd2 = 2c/e = 1.2, ...).",
        "value": {"leaves": _SEED_LEAVES, "ops": _SEED_OPS, "transform": "hessian",
                  "function": {"inputs": ["a", "b", "c", "d", "e"], "output": "f"}},
    },
    "jacobian_mlp_weights": {
        "summary": "Jacobian of a small MLP w.r.t. its weights",
        "description": "y = tanh(x @ w1) @ w2 for a batch of 2 inputs of 3 features (w1: 3x4, w2: 4x2); the "
                       "function's inputs are (w1, w2), x a constant it closes over: `result` is [dy/dw1 "
                       "(2x2x3x4), dy/dw2 (2x2x4x2)], computed in one batched backward pass (`vectorize`).",
        "value": {
            "leaves": {"x": _leaf([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]),
                       "w1": _leaf([[0.1, -0.2, 0.3, 0.4], [0.5, 0.6, -0.7, 0.8], [-0.9, 1.0, 1.1, -1.2]]),
                       "w2": _leaf([[0.3, -0.1], [0.2, 0.4], [-0.5, 0.6], [0.7, -0.8]])},
            "ops": [{"name": "h", "op": "matmul", "args": ["x", "w1"]},
                    {"name": "a", "op": "tanh", "args": ["h"]},
                    {"name": "y", "op": "matmul", "args": ["a", "w2"]}],
            "transform": "jacobian", "vectorize": True,
            "function": {"inputs": ["w1", "w2"], "output": "y"},
        },
    },
    "hvp": {
        "summary": "Hessian-vector product",
        "description": "`hvp(f, x, v)` of f(x) = sum(x**3): returns (f(x), H v) as `output` and `result`; "
                       "H = diag(6x), so H v = 6 x v.",
        "value": {"leaves": {"x": _leaf([1.0, 2.0, 3.0])},
                  "ops": [{"name": "c", "op": "pow", "args": ["x", 3]}, {"name": "f", "op": "sum", "args": ["c"]}],
                  "transform": "hvp", "v": [1.0, 0.5, 0.0], "function": {"inputs": "x", "output": "f"}},
    },
    "error_hessian_not_scalar": {
        "summary": "An error: hessian of a non-scalar (422)",
        "description": "PyTorch's RuntimeError, located at [\"body\", \"transform\"].",
        "value": {"leaves": {"x": _leaf([1.0, 2.0])}, "ops": [{"name": "y", "op": "exp", "args": ["x"]}],
                  "transform": "hessian", "function": {"inputs": "x", "output": "y"}},
    },
}

# Request examples for POST /v1/gradcheck.
GRADCHECK_EXAMPLES: dict[str, dict] = {
    "wrong_custom_backward": {
        "summary": "A custom Function with a wrong backward: the check fails",
        "description": "Square's forward is x*x, its backward returns 3*x*grad instead of 2*x*grad: `ok` is false "
                       "and `msg` is PyTorch's GradcheckError, the numerical and analytical Jacobians side by side.",
        "value": {"leaves": {"x": _leaf([0.5, -1.0, 2.0], requires_grad=True)}, "functions": _square(3.0),
                  "ops": [{"name": "y", "op": "Square", "args": ["x"]}], "function": {"inputs": "x", "output": "y"}},
    },
    "right_custom_backward": {
        "summary": "The same Function with the right backward, and gradgradcheck",
        "description": "2*x*grad: both checks pass (the backward is itself differentiable).",
        "value": {"leaves": {"x": _leaf([0.5, -1.0, 2.0], requires_grad=True)}, "functions": _square(2.0),
                  "ops": [{"name": "y", "op": "Square", "args": ["x"]}], "function": {"inputs": "x", "output": "y"},
                  "gradgrad": True},
    },
}

# Request examples for POST /v1/evaluate/batch.
BATCH_EXAMPLES: dict[str, dict] = {
    "seed_at_three_points": {
        "summary": "One program at three points, and a document that fails alone",
        "description": "Documents of one structure run together; the fourth adds shapes that do not broadcast "
                       "and answers 422 in its place, the others 200.",
        "value": {"requests": [
            {"leaves": {**_SEED_LEAVES, "a": _leaf(a, "float32", True)}, "ops": _SEED_OPS,
             "backward": [{"tensor": "f"}]}
            for a in (1.0, 2.0, 3.0)
        ] + [EXAMPLES["error_shape_mismatch"]["value"]]},
    },
}
