"""engine.linalg, as torch.linalg: the catalog entries named "linalg.<name>" (linalg.vector_norm, ...).

Wire it as the `engine.linalg` attribute (e.g. `from engine import linalg_ns as linalg` in
engine/__init__.py)."""

from engine.catalog import FUNCTIONS as _F

globals().update({_k.split(".", 1)[1]: _v for _k, _v in _F.items() if _k.startswith("linalg.")})
