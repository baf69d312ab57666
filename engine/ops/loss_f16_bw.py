"""huber_loss_backward and smooth_l1_loss_backward entries for float16 (redteam14 F5, parity19).

aten's kernels (cpu_kernel_vec) run a vector body over whole pairs of vectors of TensorIterator's inner loop (32
float16 elements at a time on this build, engine/ops/signed_zeros.py) and their scalar op on the tail, and the two
round differently; measured against torch 2.13 (every length 1-127, 1000, 5000):

- huber_backward: the body is Vectorized<Half> arithmetic, half after each step: `norm * output * grad`, output
  x = input - target (half) or +-half(delta) where |x| >= half(delta); the tail is c10::Half arithmetic with delta
  a double: `norm * grad * delta` (the product of halves rounded to half, then times the double delta, rounded once
  to half through float) past the kinks, `norm * x * grad` between them; norm = half(1 / numel).
- smooth_l1_backward: float16 computes in float (x = float(input) - float(target), norm and beta floats), rounded
  once: `norm * output * grad`, output x / beta between the kinks, +-1 past them. The body's order; the tail's
  elements between the kinks follow it too, but for about 1 in 10^4 (random normal inputs), which answer the
  scalar `norm * x * grad / beta`'s rounding or neither (the tail's compiled loop: not modelled).

Past aten's grain size (32,768 elements) the range is split among its threads, each with its own tail: there the
one-range model below answers (the tails' places then depend on the thread count). The entries' own derivatives are
derivatives.yaml's (huber_loss_double_backward / smooth_l1_loss_double_backward, and their grad_output forms).
Only float16 reaches them: float32 / float64 keep loss_elementwise's formulas, bit for bit as before.
"""
from __future__ import annotations

import numpy as np

from engine.ops import rules as C
from engine.ops.jvp import unsupported
from engine.ops.loss_common import MEAN, NONE
from engine.ops.nn_functional import _errstate
from engine.ops.registry import defop
from engine.ops.signed_zeros import _PAIR, _inner

_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def _body(shape, *operands):
    """A bool array over the output (C order): the places aten's vector body computes, the others its scalar tail
    (the inner loop's whole pairs of vectors, where at most one operand is broadcast along it; none otherwise)."""
    n, broadcast = _inner(shape, *operands)
    if broadcast > 1 or n == 0:
        return np.zeros(shape, bool)
    row = np.arange(n) < n - n % _PAIR[_F16]
    return np.broadcast_to(row, (int(np.prod(shape, dtype=np.int64)) // n, n)).reshape(shape)


def _numel_norm(numel_of, reduction):
    return 1.0 / max(numel_of, 1) if reduction == MEAN else 1.0


def huber_f16(g, a, b, reduction, delta, numel_of):
    """huber_loss_backward(g, a, b) for float16 arrays, aten's bits (module docstring)."""
    h = np.float16
    with _errstate():
        norm = h(np.float32(_numel_norm(numel_of, reduction)))  # norm.to<Half>(): double -> float -> half
        x = a - b
        shape = np.broadcast_shapes(np.shape(g), x.shape)
        dh = h(np.float32(delta))
        edge = np.abs(x) >= dh
        out = np.where(edge, np.where(x > 0, dh, -dh), x)
        body = (norm * out) * g
        # c10::Half * double: a double product, then to half through float (one product a sign: -norm * g)
        ng = (norm * g).astype(np.float64)
        ng *= delta
        tail = ng.astype(_F32).astype(_F16)
        del ng
        tail = np.where(x <= -delta, -tail, np.where(x >= delta, tail, (norm * x) * g))
        place = _body(shape, a, b, np.asarray(g))
        return np.where(place, np.broadcast_to(body, shape), np.broadcast_to(tail, shape)).astype(_F16, copy=False)


def smooth_l1_f16(g, a, b, reduction, beta, numel_of):
    """smooth_l1_loss_backward(g, a, b) for float16 arrays: in float, rounded once (module docstring)."""
    f = np.float32
    with _errstate():
        norm = f(_numel_norm(numel_of, reduction))
        bf = f(beta)
        x = a.astype(_F32) - b.astype(_F32)
        out = np.where(np.abs(x) >= bf, np.where(x > 0, f(1), f(-1)), x / bf)
        return (norm * out * np.asarray(g).astype(_F32)).astype(_F16)


def _rule(grad_output, self, target):
    out = C.broadcast(C.shape_of(grad_output), C.shape_of(self), C.shape_of(target))
    n = C.numel(out)
    # float64 / float32 work arrays (4 / 2 elements of the output's each), the masks, the body and tail candidates:
    # huber's 'none' holds ~15 at its peak, smooth_l1's ~8 (tracemalloc, a million halves)
    return C.Cost(out, 8 * n, 20 * n, True, 20 * n)


_rule.tensors_only = True


def _huber_double(grad, input, target, reduction, delta):
    """aten's huber_loss_double_backward."""
    d = input - target
    output = grad * (d.abs() < delta).to(grad.dtype)
    return output / input.numel() if reduction == MEAN else output


def _huber_double_grad_output(grad, grad_output, input, target, reduction, delta):
    if reduction == NONE:
        return huber_loss_backward(grad, input, target, reduction, delta)
    return (huber_loss_backward(grad_output.new_ones(grad_output.shape), input, target, reduction, delta)
            * grad).sum()


huber_loss_backward = defop(
    "huber_loss_backward(Tensor grad_output, Tensor self, Tensor target, int reduction, float delta) -> Tensor",
    lambda g, a, b, reduction, delta: huber_f16(g, a, b, reduction, delta, a.size),
    index=0, rule=_rule, jvp=unsupported("huber_loss_backward"),
    grad_output=lambda grad, grad_output, self, target, reduction, delta: _huber_double_grad_output(
        grad, grad_output, self, target, reduction, delta),
    self=lambda grad, grad_output, self, target, reduction, delta: _huber_double(
        grad * grad_output, self, target, reduction, delta),
    target=lambda grad, grad_output, self, target, reduction, delta: -_huber_double(
        grad * grad_output, self, target, reduction, delta),
)


def _smooth_l1_double(grad, input, target, reduction, beta):
    """aten's smooth_l1_loss_double_backward."""
    if beta == 0:
        return grad.new_zeros(grad.shape)
    d = (input - target).abs()
    grad_input = grad * (d < beta).to(grad.dtype) / beta
    return grad_input / input.numel() if reduction == MEAN else grad_input


def _smooth_l1_double_grad_output(grad, grad_output, input, target, reduction, beta):
    if reduction == NONE:
        return smooth_l1_loss_backward(grad, input, target, reduction, beta)
    return (smooth_l1_loss_backward(grad_output.new_ones(grad_output.shape), input, target, reduction, beta)
            * grad).sum()


smooth_l1_loss_backward = defop(
    "smooth_l1_loss_backward(Tensor grad_output, Tensor self, Tensor target, int reduction, float beta) -> Tensor",
    lambda g, a, b, reduction, beta: smooth_l1_f16(g, a, b, reduction, beta, a.size),
    index=0, rule=_rule, jvp="element_wise",
    grad_output=lambda grad, grad_output, self, target, reduction, beta: _smooth_l1_double_grad_output(
        grad, grad_output, self, target, reduction, beta),
    self=lambda grad, grad_output, self, target, reduction, beta: _smooth_l1_double(
        grad * grad_output, self, target, reduction, beta),
    target=lambda grad, grad_output, self, target, reduction, beta: -_smooth_l1_double(
        grad * grad_output, self, target, reduction, beta),
)
