"""An unknown keyword argument names the op as torch 2.13 does (redteam15 F7): Python's TypeError prints the
function's qualified name, which for the catalog's factory-made functions was `_unary.<locals>.f`."""
from __future__ import annotations

import pytest
import torch

import engine
from engine.catalog import ENTRIES

_USES: dict = {}
for _e in ENTRIES:
    _USES.setdefault(id(_e.fn), set()).add(_e.name)
# the factory-made functions of one name (an alias shares its target's function and says its target's name:
# a known difference, docs/ENGINE.md)
FACTORY_MADE = sorted({e.name for e in ENTRIES if e.function and "." not in e.name and len(_USES[id(e.fn)]) == 1
                       and getattr(e.fn, "__code__", None) is not None and e.fn.__code__.co_qualname.endswith(
                           "<locals>.f")})[:40]


def test_the_factory_made_ops_are_many():
    assert len(FACTORY_MADE) >= 30, FACTORY_MADE


@pytest.mark.parametrize("name", FACTORY_MADE)
def test_an_unknown_keyword_names_the_op_as_torch(name):
    fn = getattr(torch, name, None)
    if fn is None:
        pytest.skip(f"torch has no {name}")
    msgs = []
    for L, f in ((torch, fn), (engine, getattr(engine, name))):
        with pytest.raises(TypeError) as info:
            f(L.ones(2, 2), bogus=1)
        msgs.append(str(info.value).splitlines()[0])
    if "unexpected keyword" not in msgs[0]:
        pytest.skip("torch's parser reports another error first (a missing argument, the overloads)")
    assert msgs[1] == msgs[0]
