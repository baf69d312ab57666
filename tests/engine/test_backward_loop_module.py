"""engine/autograd/backward_loop.py (the backward pass, split out of engine/autograd/__init__.py): every name it
defines is the very object engine.autograd gives (importers keep importing them from there), and the globals it
is handed (Tensor, GradientEdge, forward AD's level count) are the package's."""
from __future__ import annotations

import types

import engine
import engine.autograd as A
from engine.autograd import backward_loop as L
from engine.autograd import forward_ad as fwAD


def _defined_here(mod):
    return sorted(k for k, v in vars(mod).items()
                  if isinstance(v, types.FunctionType) and v.__module__ == mod.__name__)


def test_every_function_of_the_loop_is_engine_autograds_own():
    names = _defined_here(L)
    assert "run_backward" in names and "_run_arrays" in names and len(names) >= 15
    for k in names:
        assert getattr(A, k) is getattr(L, k), k
    for k in ("CREATE_GRAPH_NODE_BYTES", "BACKWARD_CREATE_GRAPH_WARNING"):
        assert getattr(A, k) is getattr(L, k), k


def test_the_handed_over_globals_are_the_packages():
    assert L.Tensor is A.Tensor is engine.Tensor
    assert L.ones_like_data is A.ones_like_data is not None
    assert L.GradientEdge is A.GradientEdge is not None
    assert L._fw_levels == A._fw_levels == 0
    with fwAD.dual_level():
        assert L._fw_levels == A._fw_levels >= 1
    assert L._fw_levels == A._fw_levels == 0
