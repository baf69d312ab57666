"""fill_diagonal_ on any layout (review B1): torch fills as_strided(self, [min(h, w)], [sum of strides],
storage_offset), which is always the logical diagonal x[i, ..., i]; the wrap part (2-d, h > w + 1) steps through
storage. Values, grads, grad_fn names and version counters against live torch 2.13; a wrap that would write
memory outside the tensor (a column slice's storage beyond its columns) is refused with a clear error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.errors import EngineError

assert torch.__version__.startswith("2.13"), torch.__version__

VIEWS = {  # (base shape, the view of the base that is filled, wrap)
    "transposed": ((5, 5), lambda b: b.t(), False),
    "column_slice": ((6, 6), lambda b: b[:, :2], False),
    "stepped_slice": ((6, 6), lambda b: b[::2, ::2], False),
    "view_of_transposed": ((6, 6), lambda b: b.t()[1:, 1:], False),
    "view_of_view": ((8, 8), lambda b: b[1:, ::2].t()[1:], False),
    "permuted_3d": ((4, 4, 4), lambda b: b.permute(2, 0, 1), False),
    "contiguous_wide": ((3, 7), lambda b: b, True),
    "wrap_contiguous_tall": ((7, 3), lambda b: b, True),
    "wrap_transposed_tall": ((3, 7), lambda b: b.t(), True),
    "wrap_stepped_rows": ((14, 3), lambda b: b[::2], True),
    "wrap_transposed_square": ((5, 5), lambda b: b.t(), True),
}


def _base(lib, shape, requires_grad=False):
    data = np.arange(float(np.prod(shape))).reshape(shape).tolist()
    if lib is torch:
        return torch.tensor(data, dtype=torch.float64, requires_grad=requires_grad)
    return engine.tensor(data, dtype=engine.float64, requires_grad=requires_grad)


def _run(lib, shape, view, wrap):
    base = _base(lib, shape)
    y = view(base)
    v0 = base._version
    y.fill_diagonal_(-1.0, wrap=wrap)
    leaf = _base(lib, shape, requires_grad=True)
    z = view(leaf * 2)
    z.fill_diagonal_(0.0, wrap=wrap)
    (z * z).sum().backward()
    return base.tolist(), base._version - v0, y._version - v0 if y is not base else 0, z.grad_fn.name(), \
        leaf.grad.tolist()


@pytest.mark.parametrize("case", sorted(VIEWS))
def test_fill_diagonal_of_any_layout_is_torchs(case):
    shape, view, wrap = VIEWS[case]
    assert _run(engine, shape, view, wrap) == _run(torch, shape, view, wrap)


def test_the_base_graph_is_copyslices_as_torch():
    names = []
    for lib in (torch, engine):
        x = _base(lib, (3, 3), requires_grad=True)
        h = x * 2
        h.t().fill_diagonal_(0.0)
        names.append(h.grad_fn.name().removeprefix("torch::autograd::"))
    assert names[1] == names[0] == "CopySlices"


@pytest.mark.parametrize("view", [lambda b: b[:, :2], lambda b: b[:, 1:3]], ids=["first_columns", "mid_columns"])
def test_a_wrap_outside_the_tensor_is_refused_and_writes_nothing(view):
    """torch writes the base's storage beyond the view's columns; the engine has no such storage: refused
    before anything is written (the main diagonal too)."""
    base = _base(engine, (9, 4))
    before = base.tolist()
    with pytest.raises(EngineError, match="outside the tensor"):
        view(base).fill_diagonal_(-1.0, wrap=True)
    assert base.tolist() == before and base._version == 0
