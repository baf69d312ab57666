"""The oracle: API.md's request document run in real PyTorch 2.13, answered as the same response document.

Tests compare engine.evaluate (and the HTTP service) with this, field by field. The implementation is
bench/torch_ref.py, the one torch-backed reference the benchmarks also time (issue 21): one copy, so the
oracle the tests trust is the reference the speed figures are measured against. This module is the tests'
name for it, with the private helpers tests/torch_functional_reference.py builds on.
"""
from bench.torch_ref import (  # noqa: F401 - re-exported for the tests
    _TRIGGERED,
    DTYPES,
    ONCE_WARNINGS,
    SPECIAL,
    STEPS,
    T_WARNING,
    TorchFailure,
    _decode,
    _encode,
    _functions,
    _listed,
    _run_ops,
    _whole,
    evaluate,
    graph,
    node_name,
    resolve,
)
