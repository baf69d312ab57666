"""The scatter family's shared helpers: arrays of tensors, zero gradients, index lists, dtype words."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _t(a):
    return Tensor._make(a)


def _zeros_like(t):
    return _t(B.xp.zeros(tuple(t.shape), dtype=t._data.dtype))


def _like_self(self):
    return Cost(tuple(self.shape), numel(self.shape))


def _ints(idx):
    return np.asarray(B.to_numpy(_arr(idx)), dtype=np.int64)


def _word(a):
    return D.scalar_type_name(D.FROM_NP[a.dtype])
