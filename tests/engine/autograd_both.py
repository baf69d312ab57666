"""What tests/engine/test_autograd*.py share: running one function on torch and on the engine (`m` is torch or
engine, written `import engine as torch` style) and comparing what they return, raise or warn; the leaves they
build; the text of the warnings torch issues once per process, captured at import."""
from __future__ import annotations

import re
import warnings

import numpy as np
import torch

import engine

_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)


def strip(msg: str) -> str:
    return _TRIGGERED.sub("", str(msg))


def outcome(fn, m):
    """("ok", result) or ("raise", builtin exception class name, message) of fn(m)."""
    try:
        return ("ok", fn(m))
    except Exception as e:  # noqa: BLE001
        builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
        return ("raise", builtin, strip(str(e)))


def same_outcome(fn):
    t, e = outcome(fn, torch), outcome(fn, engine)
    assert t[0] == e[0], f"torch {t}, engine {e}"
    if t[0] == "raise":
        assert e == t
    return t, e


def assert_raises_like_torch(fn):
    t, e = same_outcome(fn)
    assert t[0] == "raise", f"torch did not raise: {t}"


def arr(x):
    if x is None:
        return None
    if isinstance(x, list | tuple):
        return [arr(i) for i in x]
    return np.asarray(x.detach().numpy())


def assert_close(e, t, **kw):
    if t is None or e is None:
        assert e is None and t is None, f"engine {e!r}, torch {t!r}"
        return
    np.testing.assert_allclose(arr(e), arr(t), rtol=kw.get("rtol", 1e-6), atol=kw.get("atol", 1e-7))


def recorded_warnings(fn, m):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(m)
    return [(x.category.__name__, strip(str(x.message))) for x in w]


X = [1.5, -2.0, 0.5]


def leaf(m, values=X, dtype=None):
    return m.tensor(values, dtype=dtype or m.float64, requires_grad=True)


# torch issues these with TORCH_WARN_ONCE (once per process): capture their text at import, before any
# test of this worker can trigger them. The engine warns on every call.
TORCH_ONCE_WARNINGS = {
    "T": recorded_warnings(lambda m: m.ones(3).T, torch),
    "T-0d": recorded_warnings(lambda m: m.ones(()).T, torch),
    "mT-0d": recorded_warnings(lambda m: m.ones(()).mT, torch),
    "create_graph": recorded_warnings(lambda m: (leaf(m) * 2).sum().backward(create_graph=True), torch),
}
