"""dtype objects (`engine.float32`, ...) and PyTorch's type-promotion rules."""
from __future__ import annotations

import numpy as np

from engine import budget as _budget


class dtype:  # noqa: N801 - mirrors torch.dtype
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "category", "rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = name != "bool"
        self.itemsize = self.np.itemsize
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.rank = rank

    def __repr__(self):
        return f"torch.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, 0, 0)
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 2)
int16 = dtype("int16", np.int16, 1, 3)
int32 = dtype("int32", np.int32, 1, 4)
int64 = dtype("int64", np.int64, 1, 5)
float16 = dtype("float16", np.float16, 2, 6)
float32 = dtype("float32", np.float32, 2, 7)
float64 = dtype("float64", np.float64, 2, 8)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
BY_NAME = {d.name: d for d in ALL}
BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64, "int": int32})
FROM_NP = {d.np: d for d in ALL}
# The dtypes the wire contract names.
WIRE = ("float32", "float64", "float16", "int64", "int32", "bool")

default_float = float32


def _by_name(name):
    return BY_NAME[name]


def of_array(a) -> dtype:
    return FROM_NP[a.dtype]


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types for the dtypes we carry (uint8 with int8 promotes to int16, as in torch)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if {a, b} == {uint8, int8}:
        return int16
    return a if a.rank > b.rank else b


def _scalar_category(x) -> int:
    if isinstance(x, bool):
        return 0
    if isinstance(x, int):
        return 1
    return 2


_CATEGORY_DEFAULT = {0: bool_, 1: int64}


def result_type(*operands) -> dtype:
    """torch.result_type: dimensioned tensors outrank 0-d tensors, which outrank Python scalars;
    a lower tier only counts when it brings a higher category (bool < integer < floating)."""
    dim_t = zero_t = None
    scal_cat = -1
    for x in operands:
        if x is None:
            continue
        dt = getattr(x, "dtype", None)
        if dt is None or not isinstance(dt, dtype):
            c = _scalar_category(x)
            if c > scal_cat:
                scal_cat = c
        elif x.ndim:
            dim_t = dt if dim_t is None else promote_types(dim_t, dt)
        else:
            zero_t = dt if zero_t is None else promote_types(zero_t, dt)
    out = dim_t
    if zero_t is not None:
        if out is None or zero_t.category > out.category:
            out = zero_t
    if scal_cat >= 0 and (out is None or scal_cat > out.category):
        out = _CATEGORY_DEFAULT.get(scal_cat, default_float)
    return out


def infer_from_data(data) -> dtype:
    """torch.tensor's inference: any float -> default float, else all ints -> int64, all bools -> bool."""
    cat = _walk_category(data)
    return {0: bool_, 1: int64}.get(cat, default_float)


def _walk_category(data) -> int:
    stack = [data]
    cat = -1
    left = 1 << 16
    while stack:
        x = stack.pop()
        left -= 1
        if not left:  # the request's deadline every 65,536 values and lists (redteam12 F1)
            left = 1 << 16
            _budget.check()
        if isinstance(x, list | tuple):
            stack.extend(x)
        else:
            c = _scalar_category(x)
            if c == 2:
                return 2
            cat = max(cat, c)
    return 2 if cat < 0 else cat  # an empty list is float, as in torch


# ----- how torch's messages name dtypes -----

_SCALAR_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_CPP_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _key(x) -> str:
    """The dtype name of an engine dtype, a NumPy dtype, or anything with a .dtype (array, Tensor)."""
    if isinstance(x, dtype):
        return x.name
    dt = getattr(x, "dtype", x)
    return dt.name if isinstance(dt, dtype) else np.dtype(dt).name


def scalar_type_name(x) -> str:
    """torch's ScalarType name, as in "not implemented for 'Float'"."""
    k = _key(x)
    return _SCALAR_TYPE.get(k, k)


def cpp_type_name(x) -> str:
    """The C++ type name torch prints in some messages ("long int", "c10::Half")."""
    k = _key(x)
    return _CPP_TYPE.get(k, k)


_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def cast_array(a, npdt, copy=True):
    """`a.astype(npdt)` as c10 converts: a double becomes a Half through a float (c10::Half is made from a
    float), so it rounds twice where NumPy's direct cast rounds once (1 + 2**-11 + 2**-40 is 1.0 in torch, 1.001
    in NumPy's; ~50 in 10**6 random doubles differ: review13a F-D). Any other cast is NumPy's."""
    if npdt == _F16 and a.dtype == _F64:
        a = a.astype(_F32)
    return a.astype(npdt, copy=copy)

