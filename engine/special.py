"""engine.special, as torch.special: the catalog entries named "special.<name>" (special.ndtr, ...)."""

from engine.catalog import FUNCTIONS as _F

globals().update({_k.split(".", 1)[1]: _v for _k, _v in _F.items() if _k.startswith("special.")})
