"""engine.evaluate: the request document of API.md in, the response document out."""
from __future__ import annotations


def evaluate(spec: dict, **kw) -> dict:
    raise NotImplementedError
