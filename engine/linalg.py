"""engine.linalg, as torch.linalg: the catalog entries named "linalg.<name>" (linalg.vector_norm, ...)."""

from engine.catalog import FUNCTIONS as _F

globals().update({_k.split(".", 1)[1]: _v for _k, _v in _F.items() if _k.startswith("linalg.")})
