"""autograd.grad(is_grads_batched=True) over the whole op table: for every float64 sample of
tests/engine/samples (the generic runner's table), one batched backward pass must give, row by row, what
separate backward passes give, and so must its create_graph pass and the gradients through that. Nodes
with a batch rule (engine/autograd/batched.py) and nodes that fall back to rows are both covered; the
comparison is within the last bits of a matrix product (BLAS may sum a batched product in another order)."""
from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

import engine
import engine.autograd.batched as batched_module
from tests.engine.test_ops import ENGINE, SAMPLE_PARAMS, flatten, is_tensor, materialize, run

BATCH = 3
PARAMS = [p for p in SAMPLE_PARAMS if p.values[1] == "float64" and p.values[0].grad]


def _outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", fn())
    except Exception as e:  # noqa: BLE001
        return ("raise", type(e).__name__, str(e))


def _setup(sample, request):
    seed = zlib.crc32(request.node.callspec.id.encode())
    rng = np.random.default_rng(seed)
    spec_args = materialize(tuple(sample.args), rng, "float64")
    spec_kwargs = materialize(dict(sample.kwargs), rng, "float64")
    out, leaves = run(ENGINE, sample, spec_args, spec_kwargs)
    outs = [o for o in flatten(out) if is_tensor(o) and o.requires_grad]
    if not outs or not leaves:
        pytest.skip("no differentiable output")
    gos = [engine.tensor(rng.uniform(-1, 1, (BATCH, *o.shape)), dtype=o.dtype) for o in outs]
    return outs, leaves, gos, rng


def _tol(single, scale):
    """Mixed-precision samples (a float32 leaf or output in the float64 run) sum rows in float32 somewhere."""
    if not single:
        return dict(rtol=1e-12 * scale, atol=1e-13 * scale)
    return dict(rtol=1e-6 * scale, atol=1e-7 * scale)


def _single(outs, leaves):
    return any(t.dtype != engine.float64 for t in list(outs) + list(leaves))


def _compare(batched, rows, what, single):
    for k, b in enumerate(batched):
        per = [r[k] for r in rows]
        if all(p is None for p in per):
            assert b is None, f"{what}: leaf {k}: batched pass gave a gradient, rows none"
            continue
        assert b is not None, f"{what}: leaf {k}: rows gave a gradient, batched pass none"
        ref = np.stack([p.detach().numpy() if p is not None else np.zeros(b.shape[1:]) for p in per])
        assert b.dtype == per[0].dtype, f"{what}: leaf {k}: dtype {b.dtype} != {per[0].dtype}"
        np.testing.assert_allclose(b.detach().numpy(), ref, **_tol(single, 1), equal_nan=True,
                                   err_msg=f"{what}: leaf {k}")


@pytest.fixture
def fallbacks(monkeypatch):
    """The entries (aten qualnames) whose nodes ran row by row in the batched passes of a test."""
    seen = []
    real = batched_module._per_row

    def recording(node, *a):
        op = getattr(type(node), "op", None)
        seen.append(op.qualname if op is not None else type(node).__name__)
        return real(node, *a)

    monkeypatch.setattr(batched_module, "_per_row", recording)
    return seen


@pytest.mark.parametrize("sample, dtype", PARAMS)
def test_batched_equals_rows(sample, dtype, request, fallbacks):
    outs, leaves, gos, _ = _setup(sample, request)
    batched = _outcome(lambda: engine.autograd.grad(outs, leaves, gos, retain_graph=True, allow_unused=True,
                                                    is_grads_batched=True))
    # a node whose entry has a batch rule runs once on the whole batch, never row by row
    assert not [q for q in fallbacks if q in batched_module.RULES], fallbacks
    rows = _outcome(lambda: [engine.autograd.grad(outs, leaves, [g[b] for g in gos], retain_graph=True,
                                                  allow_unused=True) for b in range(BATCH)])
    assert batched[0] == rows[0], f"batched {batched[:3]}, rows {rows[:3]}"
    if batched[0] == "raise":
        assert batched[1:] == rows[1:]
        return
    _compare(batched[1], rows[1], "first order", _single(outs, leaves))


@pytest.mark.parametrize("sample, dtype", [p for p in PARAMS if p.values[0].gradgrad])
def test_batched_create_graph_equals_rows(sample, dtype, request):
    """create_graph=True: the batched pass's results are differentiable like the rows', and the gradient of
    a weighted sum of them (through the batch rules' own nodes) is the rows' summed."""
    outs, leaves, gos, rng = _setup(sample, request)
    for g in gos:
        g.requires_grad_()

    def batched():
        r = engine.autograd.grad(outs, leaves, gos, create_graph=True, allow_unused=True, is_grads_batched=True)
        return r, _second(r)

    def rows():
        res = [engine.autograd.grad(outs, leaves, [g[b] for g in gos], create_graph=True, allow_unused=True)
               for b in range(BATCH)]
        return res, _second([engine.stack(list(col)) if all(c is not None for c in col) else None
                             for col in zip(*res)])

    weights = [None] * len(leaves)

    def _second(firsts):
        terms = []
        for k, f in enumerate(firsts):
            if f is None or not f.requires_grad:
                continue
            if weights[k] is None:
                weights[k] = engine.tensor(rng.uniform(-1, 1, tuple(f.shape)), dtype=f.dtype)
            terms.append((f * weights[k]).sum())
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return engine.autograd.grad(total, leaves + gos, allow_unused=True, retain_graph=True)

    b, r = _outcome(batched), _outcome(rows)
    assert b[0] == r[0], f"batched {b[:3]}, rows {r[:3]}"
    if b[0] == "raise":
        assert b[1:] == r[1:]
        return
    _compare(b[1][0], r[1][0], "create_graph first order", _single(outs, leaves))
    for k, (x, y) in enumerate(zip(b[1][0], zip(*r[1][0]))):
        if x is not None:
            assert x.requires_grad == any(t is not None and t.requires_grad for t in y), f"leaf {k} requires_grad"
    if b[1][1] is None or r[1][1] is None:
        assert b[1][1] is None and r[1][1] is None
        return
    for k, (x, y) in enumerate(zip(b[1][1], r[1][1])):
        if x is None or y is None:
            assert (x is None or not np.any(x.numpy())) and (y is None or not np.any(y.numpy())), f"second {k}"
            continue
        np.testing.assert_allclose(x.numpy(), y.numpy(), **_tol(_single(outs, leaves), 10), equal_nan=True,
                                   err_msg=f"second order, leaf {k}")
