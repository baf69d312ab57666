"""engine/ops/fastcall.py: each entry's unrolled call (OpDef.fast) runs on a code object of its own, so that
CPython specializes its attribute stores and loads for that entry's node class (shared by every entry, they
alternated between classes and stayed generic: docs/runs/perop8.md); the copies are the code they copy."""
from __future__ import annotations

import engine  # noqa: F401 - the catalog loaded
from engine.ops.registry import REGISTRY


def _fast():
    return {id(op.fast): op.fast for op in REGISTRY.values() if getattr(op, "fast", None) is not None}.values()


def test_each_entry_has_its_own_code():
    fns = list(_fast())
    assert len(fns) > 100
    assert len({id(f.__code__) for f in fns}) == len(fns)


def test_the_copies_are_the_code():
    """The same bytecode, names, constants, file and lines as the function written in fastcall.py."""
    by_name = {}
    for f in _fast():
        by_name.setdefault(f.__code__.co_name, []).append(f.__code__)
    assert set(by_name) == {"call", "call2"}
    for codes in by_name.values():
        first = codes[0]
        for c in codes[1:]:
            assert c == first and c.co_code == first.co_code and c.co_firstlineno == first.co_firstlineno
            assert c.co_filename.endswith("engine/ops/fastcall.py")

