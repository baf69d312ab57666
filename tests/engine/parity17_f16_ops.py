"""The ops where a float16 tensor meets a Python number (parity17), run the same way on torch and on the engine:
`python -m tests.engine.parity17_f16_ops torch > t; python -m tests.engine.parity17_f16_ops engine > g; diff t g`.

torch stores a double into float16 through float32 (c10::Half's constructor takes a float: two roundings), so a
number just past a float16 tie (1 + 2**-11 + 2**-40) is the tie's even neighbour there (1.0), and NumPy, rounding
once, answers the other (1.0009765625). NUMBERS holds such numbers both ways, in the subnormal range and at the
overflow threshold (65520 - 2**-20 is inf in torch, 65504 in NumPy), and a few that float32 keeps but float16 does
not (what a kernel reading the number in float32, its opmath, shows)."""
from __future__ import annotations

import math
import sys
import warnings

NUMBERS = [
    1 + 2**-11 + 2**-40, -(1 + 2**-11 + 2**-40), 1 + 3 * 2**-11 - 2**-40, -(1 + 3 * 2**-11 - 2**-40),
    2048 + 1 + 2**-30, 0.5 + 2**-12 + 2**-41, 201 * 2**-25 + 2**-60, -(203 * 2**-25 - 2**-60), 2**-25 + 2**-60,
    65520 - 2**-20, -(65520 - 2**-20), 1 + 2**-12, 0.1, 2.7, -0.7, 0.3333333333333333, 1e-8, 1e39,
    2049, 4097, 65519, 70000, -3,
]


DTYPE = ["float16"]  # the tensors' dtype (run's dtype=)


def _x(L):
    return L.tensor([0.0, -0.0, 1.0, -1.0, 1.0009765625, 1.001953125, -2.0, 0.5, 0.50048828125, 2048.0, 2050.0,
                     5.960464477539063e-06, 6.020069122314453e-06, 65504.0, -65504.0, 0.0999755859375, 3.0, -0.75,
                     math.inf, -math.inf, math.nan], dtype=getattr(L, DTYPE[0]))


def _y(L):  # a second float16 operand (no zeros, no NaN)
    return L.tensor([1.5, 2.0, -3.0, 0.25, 7.0, -1.0, 1.0009765625, 0.5, 4.0, 3.0, -2.5, 1.0, 2.0, 0.125, 0.5, 9.0,
                     -1.0, 6.0, 2.0, 1.0, 3.0], dtype=getattr(L, DTYPE[0]))


def _m(L):
    return L.tensor([i % 3 == 0 for i in range(21)])


def _f(L):
    return L.nn.functional


OPS = {
    # wrapped numbers (a number in a Tensor argument): cast to float16 through float32, then computed
    "add": lambda L, v: _x(L) + v, "radd": lambda L, v: v + _x(L), "sub": lambda L, v: _x(L) - v,
    "rsub": lambda L, v: v - _x(L), "torch.rsub": lambda L, v: L.rsub(_x(L), v),
    "torch.add": lambda L, v: L.add(_x(L), v), "add.method": lambda L, v: _x(L).add(v),
    "sub.method": lambda L, v: _x(L).sub(v), "add.alpha2": lambda L, v: L.add(_x(L), v, alpha=2),
    "sub.alpha2": lambda L, v: L.sub(_x(L), v, alpha=2), "rsub.alpha2": lambda L, v: L.rsub(_x(L), v, alpha=2),
    "add_": lambda L, v: _x(L).add_(v), "sub_": lambda L, v: _x(L).sub_(v), "iadd": lambda L, v: _iadd(L, v),
    "add_.alpha2": lambda L, v: _x(L).add_(v, alpha=2),
    "add.alpha": lambda L, v: L.add(_x(L), _y(L), alpha=v), "sub.alpha": lambda L, v: L.sub(_x(L), _y(L), alpha=v),
    "rsub.alpha": lambda L, v: L.rsub(_x(L), _y(L), alpha=v), "add_.alpha": lambda L, v: _x(L).add_(_y(L), alpha=v),
    "add.alpha_number": lambda L, v: L.add(_x(L), 3.0, alpha=v),
    "torch.mul.left": lambda L, v: L.mul(v, _x(L)), "torch.add.left": lambda L, v: L.add(v, _x(L)),
    "torch.sub.left": lambda L, v: L.sub(v, _x(L)), "torch.div.left": lambda L, v: L.div(v, _y(L)),
    "mul": lambda L, v: _x(L) * v, "rmul": lambda L, v: v * _x(L), "mul_": lambda L, v: _x(L).mul_(v),
    "div": lambda L, v: _x(L) / v, "rdiv": lambda L, v: v / _y(L), "div_": lambda L, v: _x(L).div_(v),
    "true_divide": lambda L, v: L.true_divide(_x(L), v),
    "div.floor": lambda L, v: L.div(_x(L), v, rounding_mode="floor"),
    "div.trunc": lambda L, v: L.div(_x(L), v, rounding_mode="trunc"),
    "floor_divide": lambda L, v: L.floor_divide(_x(L), v), "rfloordiv": lambda L, v: v // _y(L),
    "fmod": lambda L, v: L.fmod(_x(L), v), "fmod_": lambda L, v: _x(L).fmod_(v),
    "remainder": lambda L, v: L.remainder(_x(L), v), "rmod": lambda L, v: v % _y(L),
    "remainder_": lambda L, v: _x(L).remainder_(v),
    "pow": lambda L, v: _y(L) ** v, "rpow": lambda L, v: v ** _x(L), "pow_": lambda L, v: _y(L).pow_(v),
    "eq": lambda L, v: _x(L) == v, "ne": lambda L, v: _x(L) != v, "lt": lambda L, v: _x(L) < v,
    "le": lambda L, v: _x(L) <= v, "gt": lambda L, v: _x(L) > v, "ge": lambda L, v: _x(L) >= v,
    "rlt": lambda L, v: v < _x(L), "req": lambda L, v: v == _x(L), "torch.eq": lambda L, v: L.eq(_x(L), v),
    "torch.le": lambda L, v: L.le(_x(L), v), "eq_": lambda L, v: _x(L).eq_(v), "lt_": lambda L, v: _x(L).lt_(v),
    "where.other": lambda L, v: L.where(_m(L), _x(L), v), "where.self": lambda L, v: L.where(_m(L), v, _x(L)),
    "xlogy": lambda L, v: L.xlogy(_y(L).abs(), v), "xlogy.self": lambda L, v: L.xlogy(v, _y(L).abs()),
    "xlogy_": lambda L, v: _y(L).abs().xlogy_(v),
    "xlog1py": lambda L, v: L.special.xlog1py(_y(L).abs(), v),
    "xlog1py.self": lambda L, v: L.special.xlog1py(v, _y(L).abs()),
    "copysign": lambda L, v: L.copysign(_x(L), v), "copysign_": lambda L, v: _x(L).copysign_(v),
    "nextafter": lambda L, v: L.nextafter(_x(L), L.tensor(v, dtype=getattr(L, DTYPE[0]))),
    # Scalar arguments: each kernel's own reading (Scalar::to<Half> through float32, or to<float> as opmath)
    "clamp.min": lambda L, v: L.clamp(_x(L), min=v), "clamp.max": lambda L, v: L.clamp(_x(L), max=v),
    "clamp.both": lambda L, v: L.clamp(_x(L), -abs(v), abs(v)), "clamp_": lambda L, v: _x(L).clamp_(min=v),
    "clamp_min": lambda L, v: L.clamp_min(_x(L), v), "clamp_max": lambda L, v: L.clamp_max(_x(L), v),
    "hardtanh": lambda L, v: _f(L).hardtanh(_x(L), -abs(v), abs(v)),
    "hardtanh.max": lambda L, v: _f(L).hardtanh(_x(L), -70000, v),
    "hardtanh.min": lambda L, v: _f(L).hardtanh(_x(L), v, 70000),
    "hardtanh_": lambda L, v: _f(L).hardtanh(_x(L), -abs(v), abs(v), inplace=True),
    "threshold.value": lambda L, v: _f(L).threshold(_x(L), 0.7, v),
    "threshold.threshold": lambda L, v: _f(L).threshold(_x(L), v, -5.0),
    "threshold_": lambda L, v: _f(L).threshold(_x(L), 0.7, v, inplace=True),
    "leaky_relu": lambda L, v: _f(L).leaky_relu(_x(L), v), "elu": lambda L, v: _f(L).elu(_x(L), v),
    "celu": lambda L, v: _f(L).celu(_x(L), v if v else 1.0),
    "softplus.beta": lambda L, v: _f(L).softplus(_x(L), beta=v),
    "softplus.threshold": lambda L, v: _f(L).softplus(_x(L), threshold=v),
    "hardshrink": lambda L, v: _f(L).hardshrink(_x(L), v), "softshrink": lambda L, v: _f(L).softshrink(_x(L), v),
    "rrelu.eval": lambda L, v: _f(L).rrelu(_x(L), min(v, 1), max(v, 1)),
    "nan_to_num.nan": lambda L, v: L.nan_to_num(_x(L), nan=v),
    "nan_to_num.posinf": lambda L, v: L.nan_to_num(_x(L), posinf=v),
    "nan_to_num.neginf": lambda L, v: L.nan_to_num(_x(L), neginf=v),
    "nan_to_num_": lambda L, v: _x(L).nan_to_num_(v, v, v),
    "lerp": lambda L, v: L.lerp(_x(L), _y(L), v), "lerp_": lambda L, v: _x(L).lerp_(_y(L), v),
    "addcmul": lambda L, v: L.addcmul(_x(L), _y(L), _y(L), value=v),
    "addcdiv": lambda L, v: L.addcdiv(_x(L), _y(L), _y(L), value=v),
    "addcmul_": lambda L, v: _x(L).addcmul_(_y(L), _y(L), value=v),
    "masked_fill": lambda L, v: _x(L).masked_fill(_m(L), v), "fill_": lambda L, v: _x(L).fill_(v),
    "index_fill": lambda L, v: _x(L).index_fill(0, L.tensor([1, 4]), v),
    "scatter.value": lambda L, v: _x(L).scatter(0, L.tensor([1, 4]), v),
    "pad.constant": lambda L, v: _f(L).pad(_x(L), (1, 2), value=v),
    "full_like": lambda L, v: L.full_like(_x(L), v), "logit.eps": lambda L, v: L.logit(_y(L) / 10, eps=abs(v) % 0.5),
}


def _iadd(L, v):
    x = _x(L)
    x += v
    return x


def run(L, ops=OPS, numbers=NUMBERS, dtype="float16"):
    """Each (op, number)'s answer as a line: its values, or its error's type and first line."""
    warnings.simplefilter("ignore")
    DTYPE[0] = dtype
    out = []
    for k, f in ops.items():
        for v in numbers:
            try:
                r = f(L, v)
                s = f"{r.dtype} {r.tolist()}"
            except Exception as e:  # noqa: BLE001
                s = f"ERR {type(e).__name__} {str(e).splitlines()[0][:80] if str(e) else ''}"
            out.append(f"{k} {v!r} {s}")
    return out


if __name__ == "__main__":
    print("\n".join(run(__import__(sys.argv[1]), dtype=sys.argv[2] if len(sys.argv) > 2 else "float16")))
