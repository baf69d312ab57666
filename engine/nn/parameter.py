"""nn.Parameter: the tensor a Module registers as a parameter when it is assigned as an attribute."""
from __future__ import annotations

from engine import _backend as B
from engine.tensor import REQUIRES_GRAD_DTYPE_MSG, Tensor


class Parameter(Tensor):
    """A leaf tensor sharing `data`'s storage (torch's _make_subclass), requiring grad by default."""

    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = Tensor._make(B.xp.zeros((0,), dtype="float32"))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter.__new__(): argument 'data' (position 1) must be Tensor, not "
                            f"{type(data).__name__}")
        p = cls._make(data._data)
        if requires_grad:
            p._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor._make(self._data.copy()), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (type(self), B.to_numpy(self._data), self.requires_grad))


def _rebuild_parameter(cls, array, requires_grad):
    return cls(Tensor._make(B.xp.asarray(array)), requires_grad)
