"""linalg.lstsq of empty batches, matrices and right-hand sides against live torch 2.13 (redteam9 F6): the solution
(zeros where m == 0), rank (the input's own batch shape; none for gels), singular values (gelsd / gelss), and the
residuals torch's LAPACK calls leave (gels: zeros; gelsd / gelss: the right-hand side's squared norms when n == 0),
for every driver; also the non-empty shapes those rules share (a vector right-hand side keeps residuals (*, 1);
rank and singular values of a broadcast input keep its own batch) and the residuals' backward. gelss with a
0-column right-hand side is not sent to torch (it segfaults there); gradserve refuses it with a clear message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.errors import EngineError
from tests.engine.both import outcome

assert torch.__version__.startswith("2.13"), torch.__version__

SHAPES = [  # (A, B)
    ((3, 0, 0), (3, 0, 0)), ((3, 0, 0), (3, 0, 2)), ((3, 0, 0), (3, 0)), ((3, 0, 2), (3, 0, 0)), ((3, 0, 2), (3, 0, 2)),
    ((3, 0, 2), (3, 0)), ((3, 2, 0), (3, 2, 0)), ((3, 2, 0), (3, 2, 2)), ((3, 2, 0), (3, 2)), ((0, 2, 2), (0, 2, 0)),
    ((0, 2, 2), (0, 2, 2)), ((0, 2, 2), (0, 2)), ((0, 3, 2), (0, 3, 1)), ((2, 0), (2, 0)), ((2, 0), (2, 2)),
    ((2, 0), (2,)), ((0, 2), (0, 0)), ((0, 2), (0, 2)), ((0, 2), (0,)), ((0, 0), (0, 0)), ((0, 0), (0, 3)),
    ((0, 0), (0,)), ((1, 0, 0), (3, 0, 2)), ((3, 0, 0), (1, 0, 2)), ((3, 2, 0), (1, 2, 2)),
    ((2, 1, 3, 0), (1, 4, 3, 2)),    ((3, 3, 2), (3, 3, 0)), ((3, 2), (3, 0)), ((2, 2), (2, 0)),
    # non-empty: a vector right-hand side, broadcast batches
    ((3, 2), (3,)), ((4, 3, 2), (4, 3)), ((3, 3, 2), (3, 3, 1)), ((1, 3, 2), (4, 3, 2)), ((2, 1, 3, 2), (1, 3, 3, 2)),
]
DRIVERS = [None, "gels", "gelsy", "gelsd", "gelss"]


def _crashes_torch(a_shape, b_shape, driver):
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2] if len(b_shape) == len(a_shape) else b_shape[:-1])
    k = b_shape[-1] if len(b_shape) == len(a_shape) else 1
    return driver == "gelss" and k == 0 and a_shape[-1] and a_shape[-2] and int(np.prod(batch))


def _data(lib, shape, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(shape) + 2
    return lib.tensor(x.tolist(), dtype=getattr(lib, dtype)) if x.ndim else lib.tensor(x, dtype=getattr(lib, dtype))


def _answer(lib, fn):
    out = outcome(fn, lib)
    if out[0] == "ok":
        return ("ok", [(str(t.dtype), tuple(t.shape), np.asarray(t.detach().numpy(), dtype=np.float64))
                       for t in out[1]])
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
def test_lstsq_empty_and_shapes_are_torchs(a_shape, b_shape, dtype):
    for driver in DRIVERS:
        if _crashes_torch(a_shape, b_shape, driver):
            continue

        def fn(lib, driver=driver):
            return tuple(lib.linalg.lstsq(_data(lib, a_shape, dtype, 1), _data(lib, b_shape, dtype, 2), driver=driver))
        t, e = _answer(torch, fn), _answer(engine, fn)
        where = f"lstsq({a_shape}, {b_shape}, driver={driver}, {dtype})\nengine: {e}\ntorch:  {t}"
        assert e[0] == t[0], where
        if t[0] != "ok":
            assert e == t, where
            continue
        for (edt, esh, ev), (tdt, tsh, tv) in zip(e[1], t[1]):
            assert (edt, esh) == (tdt, tsh), where
            np.testing.assert_allclose(ev, tv, rtol=2e-4 if dtype == "float32" else 1e-9, atol=1e-4, err_msg=where)


def test_lstsq_gelss_of_an_empty_right_hand_side_is_refused_clearly():
    with pytest.raises(EngineError, match="gelss.*crashes torch 2.13"):
        engine.linalg.lstsq(engine.ones(3, 3, 2, dtype=engine.float64), engine.ones(3, 3, 0, dtype=engine.float64),
                            driver="gelss")


@pytest.mark.parametrize("driver", ["gels", "gelsd"])
@pytest.mark.parametrize("a_shape,b_shape", [((4, 2), (4,)), ((3, 4, 2), (3, 4))])
def test_lstsq_vector_residuals_backward_is_torchs(driver, a_shape, b_shape):
    grads = []
    for lib in (torch, engine):
        a = _data(lib, a_shape, "float64", 3).requires_grad_()
        b = _data(lib, b_shape, "float64", 4).requires_grad_()
        res = lib.linalg.lstsq(a, b, driver=driver)
        weights = lib.arange(1.0, 1.0 + res.residuals.numel(), dtype=lib.float64).reshape(res.residuals.shape)
        (res.solution.sum() + (res.residuals * weights).sum()).backward()
        grads.append((tuple(res.residuals.shape), a.grad.detach().numpy(), b.grad.detach().numpy()))
    (ts, ta, tb), (es, ea, eb) = grads
    assert es == ts
    np.testing.assert_allclose(ea, ta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eb, tb, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("a_shape,b_shape", [
    ([1, 0, 3000], [3000, 0, 3000]),  # the solution (3000, 3000, 3000) of two zero-element inputs
    ([10**6, 2, 0], [1, 2, 1000]),  # 10**9 residuals (and 10**6 ranks) of a zero-element input
    ([10**7, 0, 0], [1, 0, 0]),  # 10**7 ranks
])
def test_lstsq_of_zero_element_inputs_charges_its_outputs_first(a_shape, b_shape):
    """An empty input with a long batch, n or k: the outputs are refused (413) before anything of their size
    exists; a small one is answered."""
    from engine.errors import LimitExceeded  # noqa: PLC0415
    from engine.program import Limits  # noqa: PLC0415

    def doc(a, b):
        return {"leaves": {}, "ops": [{"name": "a", "op": "zeros", "args": [a], "kwargs": {"dtype": "float64"}},
                                      {"name": "b", "op": "zeros", "args": [b], "kwargs": {"dtype": "float64"}},
                                      {"name": ["s", "r", "k", "v"], "op": "linalg.lstsq", "args": ["a", "b"],
                                       "kwargs": {"driver": "gelsd"}}],
                "outputs": ["s", "r", "k", "v"]}
    with pytest.raises(LimitExceeded) as e:  # the rule's charge, at the op (not a MemoryError, nor after the fact)
        engine.evaluate(doc(a_shape, b_shape), limits=Limits(max_tensor_elements=10**6, max_total_elements=10**7))
    assert "max_tensor_elements" in e.value.msg and e.value.loc == ["body", "ops", 2], (e.value.msg, e.value.loc)
    small = engine.evaluate(doc([2, 0, 3], [1, 0, 4]))
    assert sorted(small["tensors"]) == ["k", "r", "s", "v"]
