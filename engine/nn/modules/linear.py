"""Identity, Linear and Bilinear."""
from __future__ import annotations

import math

from engine.nn import functional as F
from engine.nn import init
from engine.nn.modules.module import Module
from engine.nn.modules.utils import empty, functional
from engine.nn.parameter import Parameter


def weight_and_bias(module, weight_shape, bias, bias_shape, device, dtype):
    """Registers `weight` of weight_shape and `bias` of bias_shape (None where not bias), in torch's order."""
    module.weight = Parameter(empty(weight_shape, device, dtype))
    if bias:
        module.bias = Parameter(empty(bias_shape, device, dtype))
    else:
        module.register_parameter("bias", None)


def reset_kaiming(module):
    """torch's Linear and ConvNd reset: kaiming_uniform_ (a=sqrt(5)) weight, bias uniform in +-1/sqrt(fan_in)."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features), initialised as torch does (kaiming_uniform_ with
    a=sqrt(5), bias uniform in +-1/sqrt(in_features))."""

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        weight_and_bias(self, (out_features, in_features), bias, out_features, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        reset_kaiming(self)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y = x1^T A x2 + b (F.bilinear)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        weight_and_bias(self, (out_features, in1_features, in2_features), bias, out_features, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return functional("bilinear")(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
