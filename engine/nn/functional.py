"""engine.nn.functional, as torch.nn.functional."""
from engine.catalog import FUNCTIONAL as _F

globals().update(_F)
