"""Two answers of safeE's empty-dims rewrites held to torch bit for bit (review9's findings): unfold's backward
adds a position's overlapping windows first window first, as torch's kernel does (the position-major loop had
added them last window first: an ulp apart where three or more windows overlap); diff with n clamped to 0 (its
dim of length 0) returns its input itself, as torch returns self, so an in-place op on the result is seen by the
input's version counter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from tests.engine import both


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unfold_backward_sums_overlapping_windows_in_torchs_order(seed, dtype):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 6))
    step = int(rng.integers(1, size))  # windows overlap
    windows = int(rng.integers(size + 1, 20))
    length = (windows - 1) * step + size + int(rng.integers(0, step))
    # terms of very different sizes, so that the order of the additions shows in the last bits
    grad = rng.standard_normal((2, windows, size)) * 10.0 ** rng.integers(-8, 17, (2, windows, size))

    def call(m):
        x = m.zeros(2, length, dtype=getattr(m, dtype), requires_grad=True)
        x.unfold(1, size, step).backward(m.tensor(grad, dtype=getattr(m, dtype)))
        return x.grad

    t = call(torch).numpy()
    e = np.asarray(call(engine).detach().numpy())
    assert windows > size  # the branch that loops over positions
    assert t.tobytes() == e.tobytes(), np.flatnonzero(t != e)


def test_the_reviewers_case():
    g = [[0, 0, 1e16], [0, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]]

    def call(m):
        x = m.zeros(7, dtype=m.float64, requires_grad=True)
        x.unfold(0, 3, 1).backward(m.tensor(g, dtype=m.float64))
        return x.grad.tolist()

    assert call(engine) == call(torch)


@pytest.mark.parametrize("shape,dim", [((3, 0), 1), ((0,), 0), ((0, 4), 0)], ids=str)
def test_diff_of_a_dim_of_length_zero_is_its_input(shape, dim):
    def call(m):
        x = m.zeros(shape)
        w = m.zeros(shape, requires_grad=True)
        z = w * x  # saves x for its backward
        y = m.diff(x, dim=dim)
        y.add_(1)  # x's version moves if y is x
        return y is x, x._version, m.autograd.grad(z.sum(), w)[0].shape

    both.same(call)
