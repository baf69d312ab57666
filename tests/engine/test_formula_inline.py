"""engine/ops/formula_inline.py: an array formula of one expression is read back from its bytecode and written
inline in the generated array backward (with one elementwise thread, not tracing). The expression must do what the
function does, operand for operand: checked here on the functions themselves (values and bits, NaN payloads
included, for every formula of the op table that inlines) and through evaluate (tests/engine/test_one_thread_direct.py
compares one thread, inline, with three, where the formula is called)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.ops.formula_inline import expression, typed_constants
from engine.ops.registry import REGISTRY


def _expr(fn, n):
    return expression(fn, ["g", *(f"v{j}" for j in range(n - 1))], {}, "k")


def test_expressions():
    assert _expr(lambda grad, other: grad * other, 2) == "(g * v0)"
    assert _expr(lambda grad: grad, 1) == "g"
    assert _expr(lambda grad, result: (1 - result * result) * grad, 2) == "((k0 - (v0 * v0)) * g)"
    assert _expr(lambda grad, self: -np.sin(self) * grad, 2) == "((-k0.sin(v0)) * g)"
    assert _expr(lambda grad, a, b: grad / (a - b) ** 2, 3) == "(g / ((v0 - v1) ** k0))"


def _not_one(x):
    return x


@pytest.mark.parametrize("fn", [
    lambda grad, alpha: grad if alpha == 1 else -grad,  # a condition
    lambda grad: grad.sum(),  # a method
    lambda grad, x=2: grad * x,  # a default
    lambda grad: _not_one(grad),  # a global that is no module
    lambda grad: np.add(grad, grad, out=grad),  # keywords
    lambda grad: grad[0],  # a subscript
    lambda grad: grad * "s",  # a constant that is no number
])
def test_not_inlined(fn):
    assert _expr(fn, fn.__code__.co_argcount) is None


def test_closure_not_inlined():
    k = 2.0
    assert _expr(lambda grad: grad * k, 1) is None


def _inlined():
    for op in REGISTRY.values():
        for i, (fn, spec) in enumerate(getattr(op, "vjp_plan", None) or ()):
            f = getattr(fn, "__wrapped__", None)
            if f is not None and expression(f, ["g", *(f"v{j}" for j in range(len(spec)))], {}, "k") is not None:
                yield f"{op.qualname}-{i}", f, len(spec) + 1


INLINED = {name: (f, n) for name, f, n in _inlined()}


def test_chain_formulas_inline():
    assert {"mul.Tensor-0", "mul.Tensor-1", "add.Tensor-0", "tanh-0", "sin-0"} <= set(INLINED)


@pytest.mark.parametrize("name", sorted(INLINED))
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_inline_is_the_function(name, dtype):
    """The inline expression, evaluated over the same operands (arrays with NaNs of distinct payloads, infinities,
    zeros of both signs, 0-d arrays and NumPy scalars), gives the function's result bit for bit."""
    f, n = INLINED[name]
    rng = np.random.default_rng(len(name))
    dt = np.dtype(dtype)
    ns: dict = {}
    consts: dict = {}
    names = ["g", *(f"v{j}" for j in range(n - 1))]
    src = expression(f, names, ns, "k", consts)
    code = compile(f"lambda {', '.join(names)}: {src}", "<inline>", "eval")
    inline = eval(code, ns)  # noqa: S307 - the expression under test
    # its constants as the generated backward writes them where every operand is of the gradient's dtype
    typed_ns = {**ns, **{c: typed_constants(v)[dt] for c, v in consts.items() if typed_constants(v) is not None}}
    typed = eval(code, typed_ns)  # noqa: S307
    special = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 1.0, -1.0, 0.5], dt)
    payload = special.copy()
    payload.view(np.uint16 if dtype == "float16" else (np.uint32 if dtype == "float32" else np.uint64))[0] += 3
    for shape in [(8,), (3, 8), ()]:
        operands = []
        for j in range(n):
            a = rng.uniform(-2, 2, shape).astype(dt) if shape != (8,) else (special if j % 2 else payload).copy()
            operands.append(a[()] if shape == () and j == 1 else a)
        with np.errstate(all="ignore"):
            want = f(*operands)
            results = [inline(*operands), typed(*operands)]
        for got in results:
            assert type(got) is type(want) and got.dtype == want.dtype and np.shape(got) == np.shape(want)
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


def test_typed_constants():
    one = typed_constants(1)
    assert {str(k): (v.dtype, float(v), v.flags.writeable) for k, v in one.items()} == {
        "float16": (np.float16, 1.0, False), "float32": (np.float32, 1.0, False), "float64": (np.float64, 1.0, False)}
    assert typed_constants(0.1) is None and typed_constants(1e6) is None and typed_constants(True) is None
    assert typed_constants(-0.5)[np.dtype(np.float16)] == -0.5


def test_typed_constant_only_over_arrays():
    """A formula whose operands include a saved input or an attribute (possibly a Python number, which a Python
    constant would meet in double precision) keeps its Python constants: only all-result formulas get typed ones."""
    from engine.ops.array_vjp import _make_raw  # noqa: PLC0415

    typed_ops = []
    for op in REGISTRY.values():
        plan = getattr(op, "vjp_plan", None) or ()
        if not plan or not all(hasattr(fn, "parallel_into") for fn, _ in plan):
            continue
        raw = _make_raw(op)
        names = [k for k in raw.__globals__ if k.endswith("_of")]
        if names:
            typed_ops.append(op.qualname)
            for i, (_, spec) in enumerate(plan):
                if any(k.startswith(f"c{i}_") for k in names):
                    assert all(kind == 1 for kind, _ in spec), op.qualname
    assert "tanh" in typed_ops
    # a formula of a saved input and a constant: inlined, its constant kept a Python number
    from types import SimpleNamespace  # noqa: PLC0415

    from engine.parallel import elementwise  # noqa: PLC0415

    fake = SimpleNamespace(qualname="fake", defaults={}, vjp_plan=[
        (elementwise(lambda grad, self: (1 - self) * grad, None), ((0, "self"),)),
        (elementwise(lambda grad, result: (1 - result) * grad, None), ((1, "result"),))])
    g = _make_raw(fake).__globals__
    assert "c0_0" in g and "c0_0_of" not in g and "c1_0_of" in g
