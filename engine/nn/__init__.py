"""engine.nn, as torch.nn: functional, init, Parameter, Module and the layer, activation and loss modules."""
from engine.nn import functional, init  # noqa: F401
from engine.nn.modules import *  # noqa: F401, F403
from engine.nn.modules import Module  # noqa: F401
from engine.nn.parameter import Parameter  # noqa: F401
