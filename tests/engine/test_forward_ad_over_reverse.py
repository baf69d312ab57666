"""Forward-over-reverse against live torch 2.13: gradients taken inside a dual level carry tangents (torch's backward
formulas run as differentiable ops on dual tensors), through autograd.grad (with and without create_graph, at a leaf
and at a non-leaf), backward into a leaf's .grad (torch's AccumulateGrad: a stolen gradient has no tangent, a copied
one keeps it, one added in place adds its tangent) and into a retained .grad (cloned: the tangent kept).

Each case returns (gradient, its tangent); it runs on both modules and is compared as a nested structure (values,
shapes, dtypes, requires_grad, whether a grad_fn) by tests.engine.test_functional's `same`.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.engine.test_functional import same

RNG = np.random.default_rng(1617)
A = RNG.uniform(-1, 1, (3, 4))
T = RNG.uniform(-1, 1, (3, 4))
W = RNG.uniform(-1, 1, (4, 2))
CW = RNG.uniform(-1, 1, (2, 3, 2))


def mk(m, a, rg=False):
    return m.tensor(np.asarray(a).tolist(), dtype=m.float64, requires_grad=rg)


OPS = {
    "sin": lambda m, x: x.sin().sum(),
    "exp_mean": lambda m, x: x.exp().mean(),
    "matmul": lambda m, x: (x @ mk(m, W)).pow(2).sum(),
    "softmax": lambda m, x: (x.softmax(1) * mk(m, T)).sum(),
    "log_softmax": lambda m, x: (x.log_softmax(1) * mk(m, T)).sum(),
    "slice": lambda m, x: (x[1:, ::2] ** 3).sum(),
    "index": lambda m, x: (x[[0, 2, 0]] ** 2).sum(),
    "max": lambda m, x: x.max(),
    "amax": lambda m, x: (x.amax(1) ** 2).sum(),
    "norm": lambda m, x: x.norm(),
    "conv1d": lambda m, x: m.nn.functional.conv1d(x.reshape(1, 3, 4), mk(m, CW)).pow(2).sum(),
    "tanh": lambda m, x: x.tanh().sum(),
    "sigmoid": lambda m, x: x.sigmoid().sum(),
    "relu": lambda m, x: (m.relu(x) * x).sum(),
    "inplace": lambda m, x: x.clone().mul_(x).sin_().sum(),
    "cumsum": lambda m, x: (x.cumsum(1) ** 2).sum(),
    "prod": lambda m, x: x.prod(),
    "linear": lambda m, x: m.nn.functional.linear(x, mk(m, W.T)).tanh().sum(),
    "layer_norm": lambda m, x: (m.nn.functional.layer_norm(x, (4,)) * mk(m, T)).sum(),
    "cross_entropy": lambda m, x: m.nn.functional.cross_entropy(x, m.tensor([0, 3, 1])),
}
# torch's tangent requires grad here under create_graph though it does not depend on x: its formulas multiply a
# missing tangent (a ZeroTensor) by a primal that requires grad (mul's `self_t * other_p`); engine/ops/jvp.py's
# _linked does the same
OPS["mul"] = lambda m, x: (x * x).sum()
OPS["var"] = lambda m, x: x.var()
OPS["sub_rsub"] = lambda m, x: ((1 - x) * (x - 2)).sum()
OPS["flip"] = lambda m, x: (x.flip(0) * x).sum()
OPS["threshold"] = lambda m, x: m.nn.functional.threshold(x, 0.1, 0.5).sum()
OPS["hardswish"] = lambda m, x: m.nn.functional.hardswish(x).sum()
OPS["max_pool"] = lambda m, x: m.nn.functional.max_pool1d(x.unsqueeze(0), 2).sum()
OPS["l1_loss"] = lambda m, x: m.nn.functional.l1_loss(x, mk(m, T))
OPS["smooth_l1_loss"] = lambda m, x: m.nn.functional.smooth_l1_loss(x, mk(m, T))
OPS["mse_loss_sum"] = lambda m, x: m.nn.functional.mse_loss(x, mk(m, T), reduction="sum")
OPS["bce_with_logits"] = lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(x, mk(m, T).abs())
OPS["kl_div"] = lambda m, x: m.nn.functional.kl_div(x.log_softmax(1), mk(m, T).abs(), reduction="batchmean")
OPS["batch_norm"] = lambda m, x: (m.nn.functional.batch_norm(x, None, None, training=True) * mk(m, T)).sum()
OPS["gelu"] = lambda m, x: m.nn.functional.gelu(x).sum()
OPS["elu"] = lambda m, x: m.nn.functional.elu(x).sum()
OPS["where"] = lambda m, x: (m.where(x > 0, x, x * x) ** 2).sum()
OPS["sort"] = lambda m, x: (x.sort(1)[0] * mk(m, T)).sum()
OPS["cdist"] = lambda m, x: m.cdist(x, mk(m, T)).sum()
OPS["einsum"] = lambda m, x: (m.einsum("ij,kj->ik", x, x) ** 2).sum()
# torch raises here: its mse_loss_backward (mean) writes into a ZeroTensor; silu, mish and native_group_norm's
# backward without grad mode have no forward formula (with create_graph their composites do)
OPS["mse_loss"] = lambda m, x: m.nn.functional.mse_loss(x, mk(m, T))
OPS["silu"] = lambda m, x: m.nn.functional.silu(x).sum()
OPS["mish"] = lambda m, x: m.nn.functional.mish(x).sum()
OPS["group_norm"] = lambda m, x: (m.nn.functional.group_norm(x.unsqueeze(0), 3) * mk(m, T)).sum()


def _grad(m, fa, x, xd, y):
    return m.autograd.grad(y, x)[0]


def _grad_create_graph(m, fa, x, xd, y):
    return m.autograd.grad(y, x, create_graph=True)[0]


def _grad_at_the_dual(m, fa, x, xd, y):
    return m.autograd.grad(y, xd)[0]


def _backward(m, fa, x, xd, y):
    y.backward()
    return x.grad


def _backward_retained(m, fa, x, xd, y):
    y.backward()
    return xd.grad


MODES = {"grad": _grad, "grad_create_graph": _grad_create_graph, "grad_at_the_dual": _grad_at_the_dual,
         "backward": _backward, "backward_retained": _backward_retained}


def _op_case(op, mode):
    def f(m):
        fa = m.autograd.forward_ad
        x = mk(m, A, True)
        with fa.dual_level():
            xd = fa.make_dual(x, mk(m, T))
            if mode == "backward_retained":
                xd.retain_grad()
            g = MODES[mode](m, fa, x, xd, OPS[op](m, xd))
            return tuple(fa.unpack_dual(g))
    return f


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("op", list(OPS))
def test_gradient_tangents(op, mode):
    if op == "einsum" and mode == "backward":
        pytest.skip("torch copies (so keeps the tangent of) a gradient whose strides are not the leaf's: einsum's "
                    "gradient layout is torch's kernels', not the engine's arrays'")
    same(_op_case(op, mode), names=False)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_zero_tensor_error(reduction):
    """torch 2.13's mse_loss (mean) under forward-over-reverse raises unless both self and target have tangents,
    whatever the gradient's own tangent: every combination, with and without create_graph."""
    import itertools

    def f(m):
        fa = m.autograd.forward_ad
        out = []
        for go_d, s_d, t_d in itertools.product([False, True], repeat=3):
            x, y = mk(m, A[0], True), mk(m, T[0], True)
            try:
                with fa.dual_level():
                    xs = fa.make_dual(x, mk(m, T[1])) if s_d else x
                    ys = fa.make_dual(y, mk(m, T[2])) if t_d else y
                    loss = m.nn.functional.mse_loss(xs, ys, reduction=reduction)
                    go = fa.make_dual(mk(m, 1.0), mk(m, 2.0)) if go_d else mk(m, 1.0)
                    for cg in (False, True):
                        gs = m.autograd.grad(loss, [x, y], go, retain_graph=True, create_graph=cg)
                        out.append([fa.unpack_dual(g).tangent for g in gs])
            except RuntimeError as e:
                out.append(str(e))
        return out
    same(f, names=False)


# ----- .grad: what torch's AccumulateGrad and retain_grad do with tangents -----


def _t(m, v, rg=False):
    return m.tensor(v, dtype=m.float64, requires_grad=rg)


def _leaf_twice(m, fa):
    x = _t(m, [1.0, 2.0], True)
    xd = fa.make_dual(x, _t(m, [1.0, 1.0]))
    y = (xd * xd).sum()
    y.backward(retain_graph=True)  # stolen: no tangent
    first = fa.unpack_dual(x.grad).tangent
    y.backward()  # added in place: the grad takes the new tangent
    return x.grad, first, fa.unpack_dual(x.grad).tangent


def _leaf_prior_dual_grad(m, fa):
    x = _t(m, [1.0, 2.0], True)
    x.grad = fa.make_dual(_t(m, [5.0, 5.0]), _t(m, [3.0, 3.0]))
    xd = fa.make_dual(x, _t(m, [1.0, 1.0]))
    (xd * xd).sum().backward()
    return x.grad, fa.unpack_dual(x.grad).tangent


def _dual_leaf(m, fa):
    x = fa.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 1.0])).requires_grad_()
    (x * x).sum().backward()
    return x.grad, fa.unpack_dual(x.grad).tangent


def _shared_gradient(m, fa):
    """add's backward hands one gradient to both leaves: torch cannot steal it, so it copies it (tangent kept)."""
    x, z = _t(m, [1.0, 2.0], True), _t(m, [3.0, 4.0], True)
    xd = fa.make_dual(x, _t(m, [1.0, -1.0]))
    ((xd * xd) + z).backward(fa.make_dual(_t(m, [1.0, 1.0]), _t(m, [0.5, 2.0])))
    return x.grad, z.grad, fa.unpack_dual(z.grad).tangent


def _transposed_gradient(m, fa):
    """a gradient whose layout is not the leaf's is copied (torch's layout contract): its tangent is kept."""
    x = _t(m, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], True)
    xd = fa.make_dual(x, _t(m, [[1.0, 0.0, 2.0], [0.5, 1.0, 3.0]]))
    (xd.t().exp() * _t(m, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    return x.grad, fa.unpack_dual(x.grad).tangent


def _retained(m, fa):
    x = _t(m, [1.0, 2.0], True)
    h = fa.make_dual(x, _t(m, [1.0, 1.0])) * 3
    h.retain_grad()
    (h * h).sum().backward()
    return h.grad, fa.unpack_dual(h.grad).tangent


def _grad_outputs_dual(m, fa):
    x = _t(m, [1.0, 2.0], True)
    go = fa.make_dual(_t(m, [1.0, 1.0]), _t(m, [2.0, 3.0]))
    (g,) = m.autograd.grad(x * x, x, go)
    return g, fa.unpack_dual(g).tangent


def _backward_grad_outputs_dual(m, fa):
    x = _t(m, [1.0, 2.0], True)
    (x * x).backward(fa.make_dual(_t(m, [1.0, 1.0]), _t(m, [2.0, 3.0])))
    return x.grad, fa.unpack_dual(x.grad).tangent


def _backward_inputs(m, fa):
    x = _t(m, [1.0, 2.0], True)
    xd = fa.make_dual(x, _t(m, [1.0, 1.0]))
    (xd * xd).sum().backward(inputs=[x])
    return x.grad, fa.unpack_dual(x.grad).tangent


def _grad_of_itself(m, fa):
    x = _t(m, [1.0, 2.0], True)
    y = fa.make_dual(x, _t(m, [1.0, 1.0])).exp()
    (g,) = m.autograd.grad(y, y, _t(m, [1.0, 1.0]))
    return g, fa.unpack_dual(g).tangent


def _hvp_forward_over_reverse(m, fa):
    """The Hessian-vector product as forward-over-reverse: the tangent of the gradient."""
    x = mk(m, A, True)
    with m.enable_grad():
        xd = fa.make_dual(x, mk(m, T))
        (g,) = m.autograd.grad((xd.sin() * xd).sum() + (xd @ mk(m, W)).tanh().sum(), x)
    return g, fa.unpack_dual(g).tangent


def _batched_grad(m, fa):
    """autograd.grad(..., is_grads_batched=True) under a level: the rows of the Jacobian keep their tangents."""
    x = _t(m, [1.0, 2.0, 3.0], True)
    y = fa.make_dual(x, _t(m, [1.0, -1.0, 0.5])).sin() * x
    (g,) = m.autograd.grad(y, x, m.eye(3, dtype=m.float64), is_grads_batched=True)
    return g, fa.unpack_dual(g).tangent


GRAD_CASES = {"leaf_twice": _leaf_twice, "leaf_prior_dual_grad": _leaf_prior_dual_grad, "dual_leaf": _dual_leaf,
              "shared_gradient": _shared_gradient, "transposed_gradient": _transposed_gradient,
              "retained": _retained, "grad_outputs_dual": _grad_outputs_dual,
              "backward_grad_outputs_dual": _backward_grad_outputs_dual, "backward_inputs": _backward_inputs,
              "grad_of_itself": _grad_of_itself, "hvp_forward_over_reverse": _hvp_forward_over_reverse,
              "batched_grad": _batched_grad}


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_grad_fields(case):
    def f(m):
        with m.autograd.forward_ad.dual_level():
            return GRAD_CASES[case](m, m.autograd.forward_ad)
    same(f, names=False)


def test_clone_does_not_share_its_tangent():
    """clone's tangent is a copy (torch: self_t.clone()): an in-place op on the clone leaves the input's tangent."""
    def f(m):
        fa = m.autograd.forward_ad
        with fa.dual_level():
            xd = fa.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 3.0]))
            c = xd.clone()
            c.mul_(xd)
            return fa.unpack_dual(xd).tangent, fa.unpack_dual(c).tangent
    same(f)
