"""redteam14's F4 against live torch 2.13. randint's two forms as torch parses them: randint(high, size) and
randint(low, high, size), size positional or a keyword, low/high keywords; the parser's TypeErrors (a float or
bool bound, a missing or int size) word for word (the first line; the listed forms follow). A program sends the
(high, size) form as JSON lists. special.xlogy of two numbers names itself in the parser's message (it had reused
xlogy's)."""
from __future__ import annotations

import pytest
import torch

import engine

CALLS = [((5, (3,)), {}), ((5, [2]), {}), ((2, 5, (2,)), {}), ((0, 5, [2]), {}), ((5,), {"size": (2,)}),
         ((0, 5), {"size": (2,)}), ((), {"high": 5, "size": (2,)}), ((), {"low": 1, "high": 5, "size": (2,)}),
         ((0.5, 3.7, (3,)), {}), ((5,), {}), ((0, 5), {}), ((True, 5, (2,)), {}), ((5.0, (2,)), {}), ((5, 3), {}),
         ((0, 5, 3), {}), ((0, 5.0, (3,)), {}), ((True, (2,)), {}), ((5,), {"size": 3}), ((2**63, (2,)), {}),
         ((-5, (2,)), {}), ((5,), {"high": 3}), ((), {"high": 5}), ((1.5,), {"size": (2,)}), ((0, 1, 2, 3), {})]


def _run(lib, args, kwargs):
    try:
        r = lib.randint(*args, **kwargs)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e).split("\n")[0]
    return tuple(r.shape), str(r.dtype), bool((r >= (args[0] if len(args) == 3 else kwargs.get("low", 0))).all())


@pytest.mark.parametrize("args,kwargs", CALLS, ids=repr)
def test_randint_forms_as_torch(args, kwargs):
    assert _run(engine, args, kwargs) == _run(torch, args, kwargs)


def test_a_program_sends_randint_high_size():
    out = engine.evaluate({"ops": [{"name": "r", "op": "randint", "args": [5, [3]]}], "outputs": ["r"]})
    r = out["tensors"]["r"]
    assert r["shape"] == [3] and r["dtype"] == "int64" and all(0 <= v < 5 for v in r["data"]), r


@pytest.mark.parametrize("name", ["xlogy", "special.xlogy", "special.xlog1py"])
def test_two_number_messages_name_the_function(name):
    def run(L):
        f = L
        for part in name.split("."):
            f = getattr(f, part)
        try:
            f(1, 2)
        except TypeError as e:
            return str(e)
        return None
    assert run(engine) == run(torch) is not None
