"""torch's alias functions and methods: arccos, arcsin, arctan, arccosh, arcsinh, arctanh, arctan2 (NumPy's
names of the inverse trig functions), negative (neg) and fix (trunc). Each is the aliased op itself, as in
torch: the same values, errors and grad_fn (torch.arccos(x).grad_fn is AcosBackward0). Their in-place forms
(arccos_, ..., negative_, fix_) come from engine.ops.inplace.install like every X_ of a catalog op; the three
whose in-place derivative torch 2.13 leaves not implemented (arccosh_, arcsinh_, arctanh_ record
AcoshBackward1, ... and fail at backward, as acosh_ does) are the acosh_ / asinh_ / atanh_ entries under a
second name, so that the in-place variant finds them."""
from __future__ import annotations

from engine.ops import pointwise as P
from engine.ops.registry import REGISTRY, entry

_UNARY = {"arccos": "acos", "arcsin": "asin", "arctan": "atan", "arccosh": "acosh", "arcsinh": "asinh",
          "arctanh": "atanh", "negative": "neg", "fix": "trunc"}


arccos, arcsin, arctan, arccosh, arcsinh, arctanh, negative, fix = (P._UNARY[b] for b in _UNARY.values())
arctan2 = P._BINARY["atan2"]  # the aliased functions themselves, as `subtract` is `sub`

for _name in ("acosh", "asinh", "atanh"):  # Tensor.arccosh_ is acosh_'s entry (AcoshBackward1), not acosh's
    REGISTRY[f"arc{_name[1:]}_"] = REGISTRY[f"{_name}_"]

CATALOG = [
    *(entry(a, globals()[a], f"Alias of {b}.", P._UNARY_OPS[b]) for a, b in _UNARY.items()),
    entry("arctan2", arctan2, "Alias of atan2.", P._BINARY_OPS["atan2"]),
]
