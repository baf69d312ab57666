"""Running one case on torch and on the engine: what each returned or raised, compared.

`fn(m)` is called with `m` the torch module and then the engine: the outcomes must agree, values (tensors by dtype,
shape and value) or the builtin exception class and message (torch's "(Triggered internally at ...)" suffix
dropped).
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import torch

import engine

_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)


def outcome(fn, m):
    """("ok", result) or ("raise", builtin exception class name, message) of fn(m)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", fn(m))
    except Exception as e:  # noqa: BLE001
        builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
        return ("raise", builtin, _TRIGGERED.sub("", str(e)))


def assert_equal(e, t, msg, where="result", rtol=1e-6, atol=1e-7):
    if isinstance(t, torch.Tensor):
        assert isinstance(e, engine.Tensor), f"{where}: {msg}"
        assert str(e.dtype) == str(t.dtype) and tuple(e.shape) == tuple(t.shape), f"{where}: {msg}"
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol, err_msg=where)
    elif isinstance(t, list | tuple):
        assert isinstance(e, list | tuple) and len(e) == len(t), f"{where}: {msg}"
        for i, (a, b) in enumerate(zip(e, t)):
            assert_equal(a, b, msg, f"{where}[{i}]", rtol, atol)
    else:
        assert e == t, f"{where}: {msg}"


def same(fn, rtol=1e-6, atol=1e-7):
    """fn(torch) and fn(engine) return equal values or raise alike; torch's outcome."""
    t, e = outcome(fn, torch), outcome(fn, engine)
    assert_equal(e, t, f"\nengine: {e}\ntorch:  {t}", rtol=rtol, atol=atol)
    return t
