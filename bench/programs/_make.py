"""Wrote bench/programs/*.json (run it again to rewrite them all): realistic requests, numbers from a seeded RNG.

Each program is what a user sends: tutorial snippets, losses, small networks, an attention block, a GP kernel,
indexing, reductions, in-place training steps, autograd.grad steps, custom Functions. `python -m
bench.programs._make`; tests/test_bench_programs.py holds every one to torch."""

import json
import math
import os

import numpy as np

rng = np.random.default_rng(2121)
OUT = os.path.dirname(os.path.abspath(__file__))


def r(*shape, scale=1.0, lo=None, hi=None, digits=3):
    if lo is not None:
        a = rng.uniform(lo, hi, shape)
    else:
        a = rng.standard_normal(shape) * scale
    a = np.round(a, digits)
    return a.tolist() if shape else float(a)


def leaf(data, rg=False, dtype=None):
    d = {"data": data}
    if dtype:
        d["dtype"] = dtype
    if rg:
        d["requires_grad"] = True
    return d


def op(name, o, *args, **kwargs):
    d = {"name": name, "op": o, "args": list(args)}
    if kwargs:
        d["kwargs"] = kwargs
    return d


P = {}

# 1-5: tutorial snippets
P["seed"] = {
    "leaves": {k: leaf(v, True) for k, v in zip("abcde", (2.0, 4.0, 6.0, 8.0, 10.0))},
    "ops": [
        op("g", "mul", "a", "b"),
        op("d2", "pow", "d", 2),
        op("cd2", "mul", "c", "d2"),
        op("h", "div", "cd2", "e"),
        op("f", "add", "g", "h"),
    ],
    "backward": [{"tensor": "f"}],
}
P["seed_nonleaf_grads"] = {**P["seed"], "retain_grad": ["g", "h"], "grads": ["a", "b", "g", "h"]}
P["tutorial_square"] = {
    "leaves": {"x": leaf(r(5), True)},
    "ops": [op("x2", "pow", "x", 2), op("x3", "mul", "x", 3.0), op("y", "add", "x2", "x3"), op("out", "sum", "y")],
    "backward": [{"tensor": "out"}],
}
P["tutorial_mean"] = {
    "leaves": {"x": leaf(r(2, 2), True), "y": leaf(r(2, 2), True)},
    "ops": [op("xy", "mul", "x", "y"), op("y2", "mul", "y", "y"), op("z", "add", "xy", "y2"), op("out", "mean", "z")],
    "backward": [{"tensor": "out"}],
}
P["sigmoid_scalar"] = {
    "leaves": {"w": leaf(0.5, True), "x": leaf(1.5), "b": leaf(-0.25, True)},
    "ops": [
        op("wx", "mul", "w", "x"),
        op("z", "add", "wx", "b"),
        op("p", "sigmoid", "z"),
        op("l", "log", "p"),
        op("loss", "neg", "l"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["vector_sum"] = {
    "leaves": {"x": leaf(r(8), True)},
    "ops": [op("s", "sin", "x"), op("e", "exp", "s"), op("loss", "sum", "e")],
    "backward": [{"tensor": "loss"}],
}
P["rosenbrock"] = {
    "leaves": {"x": leaf(-1.2, True), "y": leaf(1.0, True)},
    "expression": "a = 1 - x; b = y - x * x; out = a * a + 100 * b * b",
    "backward": [{"tensor": "out"}],
}
P["expression_mix"] = {
    "leaves": {"x": leaf(r(6), True), "w": leaf(r(6), True)},
    "expression": "h = (x * w).tanh(); out = (h * h + x.exp() / 4).sum()",
    "backward": [{"tensor": "out"}],
}
# regression and classification losses
X = r(32, 4)
P["linear_regression"] = {
    "leaves": {"X": leaf(X), "y": leaf(r(32)), "w": leaf(r(4, 1), True), "b": leaf(0.1, True)},
    "ops": [
        op("Xw", "matmul", "X", "w"),
        op("p", "reshape", "Xw", [32]),
        op("pb", "add", "p", "b"),
        op("loss", "mse_loss", "pb", "y"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["polynomial_fit"] = {
    "leaves": {"x": leaf(r(16, lo=-1, hi=1)), "t": leaf(r(16)), "c": leaf(r(3), True)},
    "ops": [
        op("c0", "getitem", "c", 0),
        op("c1", "getitem", "c", 1),
        op("c2", "getitem", "c", 2),
        op("x2", "mul", "x", "x"),
        op("a", "mul", "x", "c1"),
        op("q", "mul", "x2", "c2"),
        op("p1", "add", "a", "q"),
        op("p", "add", "p1", "c0"),
        op("d", "sub", "p", "t"),
        op("d2", "pow", "d", 2),
        op("loss", "mean", "d2"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["logistic_regression"] = {
    "leaves": {"X": leaf(X), "y": leaf(r(32, lo=0, hi=1, digits=0)), "w": leaf(r(4), True), "b": leaf(0.0, True)},
    "ops": [
        op("z0", "mv", "X", "w"),
        op("z", "add", "z0", "b"),
        op("loss", "binary_cross_entropy_with_logits", "z", "y"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["softmax_classifier"] = {
    "leaves": {
        "X": leaf(r(16, 8)),
        "W": leaf(r(8, 5, scale=0.3), True),
        "b": leaf(r(5, scale=0.1), True),
        "t": leaf([int(v) for v in rng.integers(0, 5, 16)]),
    },
    "ops": [op("z0", "matmul", "X", "W"), op("z", "add", "z0", "b"), op("loss", "cross_entropy", "z", "t")],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["log_softmax_nll"] = {
    "leaves": {"z": leaf(r(8, 4), True), "t": leaf([int(v) for v in rng.integers(0, 4, 8)])},
    "ops": [op("ls", "log_softmax", "z", 1), op("loss", "nll_loss", "ls", "t")],
    "backward": [{"tensor": "loss"}],
}
P["huber_loss"] = {
    "leaves": {"p": leaf(r(10), True), "t": leaf(r(10))},
    "ops": [op("loss", "huber_loss", "p", "t", delta=0.5)],
    "backward": [{"tensor": "loss"}],
}
P["l1_smooth_l1"] = {
    "leaves": {"p": leaf(r(10), True), "t": leaf(r(10))},
    "ops": [op("a", "l1_loss", "p", "t"), op("b", "smooth_l1_loss", "p", "t"), op("loss", "add", "a", "b")],
    "backward": [{"tensor": "loss"}],
}
P["kl_div"] = {
    "leaves": {"z": leaf(r(4, 6), True), "q": leaf(r(4, 6))},
    "ops": [
        op("lp", "log_softmax", "z", 1),
        op("qq", "softmax", "q", 1),
        op("loss", "kl_div", "lp", "qq", reduction="batchmean"),
    ],
    "backward": [{"tensor": "loss"}],
}
# networks
P["mlp_tanh_mse"] = {
    "leaves": {
        "x": leaf(r(8, 4)),
        "t": leaf(r(8, 2)),
        "W1": leaf(r(4, 16, scale=0.5), True),
        "b1": leaf(r(16, scale=0.1), True),
        "W2": leaf(r(16, 2, scale=0.25), True),
        "b2": leaf(r(2, scale=0.1), True),
    },
    "ops": [
        op("h0", "matmul", "x", "W1"),
        op("h1", "add", "h0", "b1"),
        op("h", "tanh", "h1"),
        op("y0", "matmul", "h", "W2"),
        op("y", "add", "y0", "b2"),
        op("loss", "mse_loss", "y", "t"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["mlp_relu_ce"] = {
    "leaves": {
        "x": leaf(r(16, 10)),
        "t": leaf([int(v) for v in rng.integers(0, 3, 16)]),
        "W1": leaf(r(32, 10, scale=0.3), True),
        "b1": leaf(r(32, scale=0.1), True),
        "W2": leaf(r(3, 32, scale=0.2), True),
        "b2": leaf(r(3, scale=0.1), True),
    },
    "ops": [
        op("h1", "linear", "x", "W1", "b1"),
        op("h", "relu", "h1"),
        op("z", "linear", "h", "W2", "b2"),
        op("loss", "cross_entropy", "z", "t"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
D = 8
P["attention_block"] = {
    "leaves": {
        "X": leaf(r(6, D)),
        "Wq": leaf(r(D, D, scale=0.35), True),
        "Wk": leaf(r(D, D, scale=0.35), True),
        "Wv": leaf(r(D, D, scale=0.35), True),
    },
    "ops": [
        op("Q", "matmul", "X", "Wq"),
        op("K", "matmul", "X", "Wk"),
        op("V", "matmul", "X", "Wv"),
        op("Kt", "transpose", "K", 0, 1),
        op("S0", "matmul", "Q", "Kt"),
        op("S", "div", "S0", math.sqrt(D)),
        op("A", "softmax", "S", -1),
        op("O", "matmul", "A", "V"),
        op("loss", "sum", "O"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss", "A"],
}
P["layer_norm_linear"] = {
    "leaves": {
        "x": leaf(r(4, 8)),
        "g": leaf(r(8, lo=0.5, hi=1.5), True),
        "be": leaf(r(8, scale=0.1), True),
        "W": leaf(r(3, 8, scale=0.3), True),
    },
    "ops": [op("n", "layer_norm", "x", [8], "g", "be"), op("y", "linear", "n", "W"), op("loss", "mean", "y")],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["gp_rbf_kernel"] = {
    "leaves": {"x": leaf(r(6, 1, lo=-2, hi=2)), "y": leaf(r(6)), "ls": leaf(0.8, True), "sf": leaf(1.3, True)},
    "ops": [
        op("xt", "transpose", "x", 0, 1),
        op("d", "sub", "x", "xt"),
        op("d2", "mul", "d", "d"),
        op("l2", "mul", "ls", "ls"),
        op("s", "div", "d2", "l2"),
        op("e", "mul", "s", -0.5),
        op("k0", "exp", "e"),
        op("sf2", "mul", "sf", "sf"),
        op("K", "mul", "k0", "sf2"),
        op("Ky", "mv", "K", "y"),
        op("fit", "dot", "y", "Ky"),
        op("tr", "sum", "K"),
        op("loss", "add", "fit", "tr"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss", "K"],
}
P["conv1d"] = {
    "leaves": {"x": leaf(r(1, 2, 12)), "w": leaf(r(3, 2, 3, scale=0.4), True), "b": leaf(r(3, scale=0.1), True)},
    "ops": [op("y", "conv1d", "x", "w", "b"), op("a", "relu", "y"), op("loss", "sum", "a")],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["small_cnn"] = {
    "leaves": {"x": leaf(r(1, 1, 6, 6)), "w": leaf(r(2, 1, 3, 3, scale=0.4), True)},
    "ops": [op("c", "conv2d", "x", "w"), op("a", "relu", "c"), op("p", "max_pool2d", "a", 2), op("loss", "mean", "p")],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["embedding_mean"] = {
    "leaves": {"idx": leaf([1, 3, 0, 3, 2]), "E": leaf(r(4, 3), True)},
    "ops": [op("v", "embedding", "idx", "E"), op("m", "mean", "v", 0), op("loss", "norm", "m")],
    "backward": [{"tensor": "loss"}],
}
P["batch_norm_train"] = {
    "leaves": {"x": leaf(r(6, 3), True), "g": leaf([1.0, 1.0, 1.0], True), "b": leaf([0.0, 0.0, 0.0], True)},
    "ops": [op("y", "batch_norm", "x", None, None, "g", "b", True), op("y2", "mul", "y", "y"), op("loss", "sum", "y2")],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["addmm_outer"] = {
    "leaves": {
        "M": leaf(r(3, 4), True),
        "a": leaf(r(3), True),
        "b": leaf(r(4), True),
        "A": leaf(r(3, 2)),
        "B": leaf(r(2, 4), True),
    },
    "ops": [
        op("o", "outer", "a", "b"),
        op("y", "addmm", "M", "A", "B"),
        op("z", "add", "y", "o"),
        op("loss", "sum", "z"),
    ],
    "backward": [{"tensor": "loss"}],
}
# indexing and reductions
P["indexing_slices"] = {
    "leaves": {"x": leaf(r(6, 4), True)},
    "ops": [
        op("a", "getitem", "x", [{"slice": [1, 4, None]}, {"slice": [None, None, 2]}]),
        op("b", "getitem", "x", [-1]),
        op("s", "sum", "a"),
        op("t", "mul", "b", "b"),
        op("u", "sum", "t"),
        op("loss", "add", "s", "u"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["gather_index_select"] = {
    "leaves": {"x": leaf(r(4, 5), True), "i": leaf([[0, 2], [1, 1], [4, 3], [0, 0]]), "j": leaf([3, 0])},
    "ops": [
        op("g", "gather", "x", 1, "i"),
        op("s", "index_select", "x", 0, "j"),
        op("a", "sum", "g"),
        op("b", "sum", "s"),
        op("loss", "mul", "a", "b"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["reductions"] = {
    "leaves": {"x": leaf(r(5, 6), True)},
    "ops": [
        op("m", "mean", "x", 1),
        op("v", "var", "x", 0),
        op("lse", "logsumexp", "x", 1),
        op(["mx", "am"], "max", "x", 0),
        op("a", "sum", "m"),
        op("b", "sum", "v"),
        op("c", "sum", "lse"),
        op("d", "sum", "mx"),
        op("ab", "add", "a", "b"),
        op("cd", "add", "c", "d"),
        op("loss", "add", "ab", "cd"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["cumsum_cumprod"] = {
    "leaves": {"x": leaf(r(8, lo=0.5, hi=1.5), True)},
    "ops": [op("c", "cumsum", "x", 0), op("p", "cumprod", "x", 0), op("s", "add", "c", "p"), op("loss", "sum", "s")],
    "backward": [{"tensor": "loss"}],
}
P["norms_cosine"] = {
    "leaves": {"a": leaf(r(3, 5), True), "b": leaf(r(3, 5), True)},
    "ops": [
        op("cs", "cosine_similarity", "a", "b"),
        op("na", "normalize", "a"),
        op("s", "sum", "na"),
        op("c", "sum", "cs"),
        op("loss", "sub", "c", "s"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["einsum_bilinear"] = {
    "leaves": {"x": leaf(r(4, 3)), "y": leaf(r(4, 2)), "W": leaf(r(3, 2), True)},
    "ops": [op("s", "einsum", "bi,ij,bj->b", "x", "W", "y"), op("loss", "sum", "s")],
    "backward": [{"tensor": "loss"}],
}
P["activations"] = {
    "leaves": {"x": leaf(r(12, scale=2), True)},
    "ops": [
        op("a", "relu6", "x"),
        op("b", "gelu", "x"),
        op("c", "silu", "x"),
        op("d", "softplus", "x"),
        op("e", "clamp", "x", -1.0, 1.0),
        op("ab", "add", "a", "b"),
        op("cd", "add", "c", "d"),
        op("s", "add", "ab", "cd"),
        op("t", "add", "s", "e"),
        op("loss", "sum", "t"),
    ],
    "backward": [{"tensor": "loss"}],
    "outputs": ["loss"],
}
P["where_masking"] = {
    "leaves": {"x": leaf(r(10), True), "y": leaf(r(10), True)},
    "ops": [op("m", "gt", "x", 0.0), op("w", "where", "m", "x", "y"), op("s", "mul", "w", "w"), op("loss", "sum", "s")],
    "backward": [{"tensor": "loss"}],
}
# autograd steps and state
P["sgd_step_inplace"] = {
    "leaves": {"w": leaf(r(3), True), "x": leaf(r(3))},
    "ops": [
        op("p", "mul", "w", "x"),
        op("l", "sum", "p"),
        {"op": "backward", "args": ["l"]},
        op("gw", "grad", "w"),
        op("step", "mul", "gw", 0.1),
        {"name": "w2", "op": "sub_", "args": ["w", "step"], "no_grad": True},
        {"name": "z", "op": "zero_", "args": ["gw"]},
        op("p2", "mul", "w", "x"),
        op("l2", "sum", "p2"),
    ],
    "backward": [{"tensor": "l2"}],
}
P["two_backward_passes"] = {
    "leaves": {"x": leaf(r(4), True)},
    "ops": [op("y", "exp", "x"), op("a", "sum", "y"), op("b", "mean", "y")],
    "backward": [{"tensor": "a", "retain_graph": True}, {"tensor": "b"}],
}
P["retain_grad_chain"] = {
    "leaves": {"x": leaf(r(5), True)},
    "ops": [op("h", "tanh", "x"), op("h2", "mul", "h", "h"), op("s", "sum", "h2")],
    "retain_grad": ["h", "h2"],
    "backward": [{"tensor": "s"}],
}
P["gradient_penalty"] = {
    "leaves": {"x": leaf(r(4), True), "w": leaf(r(4), True)},
    "ops": [
        op("y0", "mul", "x", "w"),
        op("y1", "sin", "y0"),
        op("y", "sum", "y1"),
        {"name": ["gx"], "op": "autograd.grad", "args": ["y", "x"], "kwargs": {"create_graph": True}},
        op("g2", "mul", "gx", "gx"),
        op("pen", "sum", "g2"),
        op("loss", "add", "y", "pen"),
    ],
    "backward": [{"tensor": "loss"}],
}
P["hessian_vector"] = {
    "leaves": {"x": leaf(r(3), True), "v": leaf(r(3))},
    "ops": [
        op("x3", "pow", "x", 3),
        op("f", "sum", "x3"),
        {"name": ["g"], "op": "autograd.grad", "args": ["f", "x"], "kwargs": {"create_graph": True}},
        op("gv", "mul", "g", "v"),
        op("s", "sum", "gv"),
    ],
    "backward": [{"tensor": "s"}],
}
P["custom_function_legendre"] = {
    "leaves": {"x": leaf(r(4, lo=-1, hi=1), True)},
    "functions": {
        "LegendreP3": {
            "forward": {
                "inputs": ["x"],
                "ops": [
                    op("x3", "pow", "x", 3),
                    op("a", "mul", "x3", 5.0),
                    op("b", "mul", "x", 3.0),
                    op("d", "sub", "a", "b"),
                    op("y", "div", "d", 2.0),
                ],
                "output": "y",
                "save": ["x"],
            },
            "backward": {
                "inputs": ["gy"],
                "ops": [
                    op("x2", "pow", "x", 2),
                    op("a", "mul", "x2", 7.5),
                    op("p", "sub", "a", 1.5),
                    op("gx", "mul", "gy", "p"),
                ],
                "output": "gx",
            },
        }
    },
    "ops": [op("y", "LegendreP3", "x"), op("loss", "sum", "y")],
    "backward": [{"tensor": "loss"}],
}
P["custom_function_ste"] = {
    "leaves": {"x": leaf(r(6), True)},
    "functions": {
        "RoundSTE": {
            "forward": {"inputs": ["x"], "ops": [op("y", "round", "x")], "output": "y"},
            "backward": {"inputs": ["g"], "ops": [op("gx", "mul", "g", 1.0)], "output": "gx"},
        }
    },
    "ops": [op("q", "RoundSTE", "x"), op("d", "sub", "x", "q"), op("d2", "mul", "d", "d"), op("loss", "sum", "d2")],
    "backward": [{"tensor": "loss"}],
}

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    if f.endswith(".json"):
        os.remove(os.path.join(OUT, f))
for i, (name, doc) in enumerate(P.items(), 1):
    with open(os.path.join(OUT, f"{i:02d}_{name}.json"), "w") as fh:
        fh.write(json.dumps(doc, separators=(", ", ": ")) + "\n")
print(len(P))
