"""The Tensor: an array of the active backend plus autograd state, with torch's attributes and methods."""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine import autograd as _autograd
from engine import dtypes as D
from engine.autograd import backward as _backward
from engine.autograd import run_backward  # noqa: F401 - re-exported for callers that import it from here
from engine.errors import TorchOverflowError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops._util import wrap_dim
from engine.printing import format_tensor
from engine.tensor_data import check_rectangular, integer_array

NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor "
    "by mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 "
    "for more information."
)
# torch's factories (torch.tensor, torch.ones, ... with requires_grad=True) say "Only ..."; its Python setter
# `t.requires_grad = True` says "only Tensors of floating point and complex dtype ..." (lower case), and
# requires_grad_() "only Tensors of floating point dtype ...".
REQUIRES_GRAD_DTYPE_MSG = "Only Tensors of floating point and complex dtype can require gradients"
SETTER_DTYPE_MSG = "only Tensors of floating point and complex dtype can require gradients"
_new = object.__new__


class Size(tuple):
    """torch.Size: a tuple that prints as torch.Size([2, 3])."""

    def __repr__(self):
        return f"torch.Size([{', '.join(map(str, self))}])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


# torch's names of dtypes in messages: its C++ type names, and its ScalarType names
_CPP_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}
_SCALAR_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


class Storage:
    """What tensors that share memory share (a view and its base, a tensor and its `detach()`): the version
    counter that in-place ops bump, the live views to regenerate when one of them is modified in place, and
    the nodes that saved these values as their output (their check at backward is against this counter).
    Made when a tensor is first aliased or modified in place; a tensor without one is at version 0."""

    __slots__ = ("version", "views", "savers")

    def __init__(self):
        self.version = 0
        self.views = None  # weak references to the live views of this memory, or None
        self.savers = None  # [(node, output_nr, version at save)] of nodes that saved these values as an output


class Tensor:
    # _fw: (dual level, tangent) once forward-mode AD gives it a tangent (engine.autograd.forward_ad); unset
    # until then (not set by _make: no cost where forward AD is not used)
    __slots__ = ("_data", "_req", "grad_fn", "_grad", "_output_nr", "_retains_grad", "_acc", "_vc", "_base",
                 "_vflags", "_fw", "__weakref__")
    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    # ----- construction -----

    @classmethod
    def _make(cls, data):
        t = _new(cls)  # (a global: object.__new__ read off `object` is a lookup a call)
        t._data = data
        t._req = False
        t.grad_fn = None
        t._grad = None
        t._output_nr = 0
        t._retains_grad = False
        t._acc = None
        t._vc = None  # its Storage, once aliased or modified in place
        t._base = None  # the tensor it is a view of (the root of its views), or None
        t._vflags = 0  # VIEW_MULTI: one of several views an op returned; VIEW_NO_GRAD: made under no_grad
        return t

    def __new__(cls, *args, **kwargs):
        """torch.Tensor(...), the legacy constructor: Tensor(2, 3) (a size), Tensor([..]) (data, default
        float dtype), Tensor(other) (an alias of other's storage), Tensor() (empty)."""
        if cls is not Tensor:  # a subclass with no __new__ of its own builds from data as Tensor does
            t = Tensor.__new__(Tensor, *args, **kwargs)
            return cls._make(t._data)
        return _legacy_new(args, kwargs)

    def __init__(self, *args, **kwargs):
        pass  # __new__ built it

    # ----- autograd attributes -----

    @property
    def requires_grad(self):
        return self._req

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None and value:  # torch's setter refuses True too (requires_grad_ does not)
            raise TorchRuntimeError("you can only change requires_grad flags of leaf variables.")
        self._set_requires_grad(value, SETTER_DTYPE_MSG)

    def _set_requires_grad(self, value, dtype_msg):
        if self.grad_fn is not None and not value:
            raise TorchRuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            )
        if value and self._data.dtype.kind != "f":
            raise TorchRuntimeError(dtype_msg)
        self._req = bool(value)

    def requires_grad_(self, requires_grad=True):
        self._set_requires_grad(requires_grad, "only Tensors of floating point dtype can require gradients")
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TorchTypeError("assigned grad expected to be a Tensor or None but got grad of type "
                                     f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise TorchRuntimeError(
                    f"attempting to assign a gradient of size '[{', '.join(map(str, value._data.shape))}]' to a "
                    f"tensor of size '[{', '.join(map(str, self._data.shape))}]'. Please ensure that the gradient "
                    "and the tensor are the same size")
            if value._data.dtype != self._data.dtype:
                raise TorchRuntimeError(
                    f"attempting to assign a gradient with dtype '{_CPP_TYPE.get(value.dtype.name)}' to a tensor "
                    f"with grad_dtype '{_SCALAR_TYPE.get(self.dtype.name)}'. The gradient must match the tensor's "
                    "grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with "
                    "a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
                    "dtypes of a tensor and its gradient may break downstream systems that assume they match.")
        self._grad = value

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        if not self.requires_grad:
            raise TorchRuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        from engine.autograd.hooks import retain  # noqa: PLC0415

        retain(self.grad_fn, self._output_nr, self)
        self._retains_grad = True

    def detach(self):
        """A tensor of the same memory and version counter, outside the graph (an in-place change of either is
        seen by the other, and by the graph's checks)."""
        t = Tensor._make(self._data)
        t._vc = self._storage()
        return t

    def detach_(self):
        self.grad_fn = None
        self._req = False
        return self

    @property
    def _version(self):
        vc = self._vc
        return vc.version if vc is not None else 0

    def _is_view(self):
        return self._base is not None

    def _storage(self):
        """This tensor's Storage, made on first need (see Storage)."""
        vc = self._vc
        if vc is None:
            if isinstance(self._data, np.generic):  # a NumPy scalar shares no memory: an array from here on
                self._data = np.array(self._data)
            vc = self._vc = Storage()
            fn = self.grad_fn
            if fn is not None:  # its values may be saved by the node that made them: checked against this counter
                _autograd.note_output_storage(fn, self._output_nr, vc, self)
        return vc

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def data(self):
        """The same memory outside the graph, with a version counter of its own (torch's `.data`): both are
        aliased now, so an in-place change of either writes where the other sees it."""
        self._storage()
        t = Tensor._make(self._data)
        t._vc = Storage()
        return t

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)  # torch's Tensor.backward does

    def register_hook(self, hook):
        """hook(grad) -> Tensor or None, called with this tensor's gradient during backward; what it returns
        replaces the gradient (engine.autograd.hooks). Returns a RemovableHandle."""
        from engine.autograd.hooks import register_tensor_hook  # noqa: PLC0415

        return register_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) after a backward accumulated this leaf's .grad. Returns a RemovableHandle."""
        from engine.autograd.hooks import register_post_accumulate_grad_hook  # noqa: PLC0415

        return register_post_accumulate_grad_hook(self, hook)

    # ----- metadata -----

    @property
    def dtype(self):
        return D.FROM_NP[self._data.dtype]

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[wrap_dim(dim, self._data.ndim)]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.dtype.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    @property
    def device(self):
        from engine._device import of_array  # noqa: PLC0415

        return of_array(self._data)

    @property
    def is_cuda(self):
        return not isinstance(self._data, np.ndarray | np.generic)

    def stride(self, dim=None):
        """Element strides of the array's actual layout (transposed and expanded views have torch's
        strides); C-order strides where the backend's layout has no torch counterpart (negative)."""
        a = self._data
        strides = tuple(int(s) // a.itemsize for s in a.strides) if a.itemsize else ()
        if len(strides) != a.ndim or any(s < 0 for s in strides):
            strides = []
            acc = 1
            for s in reversed(a.shape):
                strides.append(acc)
                acc *= s
            strides = tuple(reversed(strides))
        return strides if dim is None else strides[wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def contiguous(self, memory_format=None):
        """self when C-contiguous, else a contiguous copy recorded as CloneBackward0 (torch's graph), so
        that x.t().contiguous().view(-1) works as in torch."""
        if self._data.flags.c_contiguous:
            return self
        return self.clone()

    # ----- conversions -----

    def item(self):
        if self._data.size != 1:
            raise TorchRuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return B.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return B.to_numpy(self._data).tolist()

    def numpy(self, *args, force=False):
        if args:
            raise TorchTypeError(f"numpy() takes 0 positional arguments but {len(args)} "
                                 f"{'was' if len(args) == 1 else 'were'} given")
        if self.requires_grad and not force:
            raise TorchRuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        return np.asarray(B.to_numpy(self._data))

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        if self._data.size != 1:
            raise TorchValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self._data.size != 1:
            raise TorchValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __bool__(self):
        if self._data.size == 0:
            raise TorchRuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self._data.size != 1:
            raise TorchRuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TorchTypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TorchTypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TorchTypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        d = self._data
        return format_tensor(B.to_numpy(d), D.FROM_NP[d.dtype].name, self._repr_suffixes())

    def _repr_suffixes(self) -> list[str]:
        """What repr prints after the values: the grad_fn, or requires_grad on a leaf that has it."""
        fn = self.grad_fn
        out = [f"grad_fn=<{fn.name().rsplit('::', 1)[-1]}>"] if fn is not None else \
            ["requires_grad=True"] if self._req else []
        if getattr(self, "_fw", None) is not None:  # a tangent at the dual level entered: torch prints it last
            from engine.autograd.forward_ad import tangent_of  # noqa: PLC0415

            tangent = tangent_of(self)
            if tangent is not None:
                out.append(f"tangent={tangent}")  # (format: a 0-d tangent prints as its number)
        return out

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return repr(self)

    def __reduce_ex__(self, proto):
        return (_rebuild, (B.to_numpy(self._data), self.requires_grad))

    def to(self, *args, **kwargs):
        """Tensor.to(device, dtype), .to(dtype), .to(other): self where nothing changes (engine/_device.py)."""
        from engine._device import move, parse_to  # noqa: PLC0415

        return move(self, *parse_to(args, kwargs))

    def type(self, dtype=None):
        if dtype is None:
            return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
                    "float16": "torch.HalfTensor", "int64": "torch.LongTensor", "int32": "torch.IntTensor",
                    "bool": "torch.BoolTensor"}.get(self.dtype.name, "torch.Tensor")
        return self.to(dtype)

    def float(self, memory_format=None):
        return self.to(D.float32)

    def double(self, memory_format=None):
        return self.to(D.float64)

    def half(self, memory_format=None):
        return self.to(D.float16)

    def long(self, memory_format=None):
        return self.to(D.int64)

    def int(self, memory_format=None):
        return self.to(D.int32)

    def bool(self, memory_format=None):
        return self.to(D.bool_)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else device if not isinstance(device, int) else f"cuda:{device}")

    def clone(self, memory_format=None):
        from engine.ops.pointwise import clone  # noqa: PLC0415

        return clone(self)


class _StrongRef:
    """Stands where a weakref.ref to the AccumulateGrad node is expected, holding it strongly."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node

    def __call__(self):
        return self.node


def _legacy_new(args, kwargs):
    """torch's legacy constructor (torch/csrc/utils/tensor_new.cpp legacy_tensor_new), its errors included."""
    from engine._device import as_device, check_target  # noqa: PLC0415

    extra = set(kwargs) - {"device"}
    if extra:
        def tn(x):
            return "torch.dtype" if isinstance(x, D.dtype) else type(x).__name__

        got = ", ".join([tn(a) for a in args] + [f"{k}={tn(v)}" for k, v in kwargs.items()])
        raise TorchTypeError(
            f"new() received an invalid combination of arguments - got ({got}), but expected one of:\n"
            " * (*, torch.device device = None)\n"
            f"      didn't match because some of the keywords were incorrect: {', '.join(sorted(extra))}\n"
            " * (torch.Storage storage)\n * (Tensor other)\n * (tuple of ints size, *, torch.device device = None)\n"
            " * (object data, *, torch.device device = None)\n")
    if kwargs.get("device") is not None:
        d = as_device(kwargs["device"])
        if d.type != ("cpu" if B.xp is np else "cuda"):
            check_target(d)
    dt = D.default_float
    if not args:
        return Tensor._make(B.xp.zeros((0,), dtype=dt.np))
    first = args[0]
    if len(args) == 1 and isinstance(first, Tensor):
        return Tensor._make(first._data)  # shares the storage, whatever its dtype (as torch's does)
    if len(args) == 1 and isinstance(first, Size):
        args = tuple(first)
    if all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in args):
        size = tuple(int(a) for a in args)
        for s in size:
            if s < 0:
                raise TorchRuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        return Tensor._make(B.xp.zeros(size, dtype=dt.np))  # torch leaves it uninitialised; zeros here
    if len(args) == 1:
        if isinstance(first, str):
            raise TorchTypeError(f"new(): invalid data type '{type(first).__name__}'")
        if not isinstance(first, list | tuple) and not _is_array(first):
            mod = type(first).__module__
            name = type(first).__name__ if mod == "builtins" else f"{mod}.{type(first).__name__}"
            raise TorchTypeError(f"new(): data must be a sequence (got {name})")
        return tensor(first, dtype=dt)
    for i, a in enumerate(args):
        if not (isinstance(a, int | np.integer) and not isinstance(a, bool)):
            raise TorchTypeError(f"new(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                 f"\"type must be tuple of ints,but got {type(a).__name__}\"")
    raise AssertionError("unreachable")


def _rebuild(arr, requires_grad):
    t = Tensor._make(B.xp.asarray(arr))
    t._req = requires_grad
    return t


def ones_like_data(a):
    return B.xp.ones(a.shape, dtype=a.dtype)


# ----- building tensors from Python data -----


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """engine.tensor: like torch.tensor, a copy of `data` with dtype inferred as torch infers it; on `device`
    where it is given (engine.ops.factory._xp: what the engine cannot do, it refuses)."""
    xp = None
    if device is not None or pin_memory:
        from engine.ops.factory import _xp  # noqa: PLC0415 - engine.ops imports this module

        xp = _xp(device, pin_memory)
    if isinstance(data, Tensor):
        arr = data._data.copy()
        if dtype is not None:
            arr = D.cast_array(arr, dtype.np)
    else:
        if _is_array(data):
            dt = dtype or D.FROM_NP.get(data.dtype) or D.float32
            arr = B.xp.array(data, dtype=dt.np) if dt.np != np.float16 else D.cast_array(
                B.xp.asarray(data), dt.np)  # a copy, as torch.tensor makes
        else:
            dt = dtype if dtype is not None else D.infer_from_data(data)
            if dt.category == 1:
                arr = integer_array(data, dt)
            else:
                check_rectangular(data, dt)
                try:  # (a float16's numbers through float32: c10::Half is made from a float, review13a F-D)
                    arr = np.array(data, dtype=dt.np if dt.np != np.float16 else np.float32).astype(dt.np, copy=False)
                except OverflowError as e:  # an int past a double: torch's OverflowError, its message
                    raise TorchOverflowError(str(e)) from None
            if B.xp is not np:
                arr = B.xp.asarray(arr)
    if xp is not None and (xp is np) != isinstance(arr, np.ndarray | np.generic):
        arr = B.to_numpy(arr) if xp is np else xp.asarray(arr)
    t = Tensor._make(arr)
    if requires_grad:
        t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
    return t


def _is_array(data) -> bool:
    """A NumPy array, or an array of the active backend (a CuPy array under CuPy)."""
    return isinstance(data, np.ndarray) or (B.xp is not np and isinstance(data, B.xp.ndarray))


def as_tensor(data, dtype=None, device=None):
    """torch.as_tensor: shares the memory of a Tensor or an array of the active backend where the dtype
    already matches (no copy), else copies as `tensor` does; moved to `device` where it is given and elsewhere."""
    if device is not None:
        from engine.ops.factory import _xp  # noqa: PLC0415

        _xp(device)
        return as_tensor(data, dtype).to(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype is dtype):
        return data
    if isinstance(data, B.xp.ndarray):
        dt = dtype or D.FROM_NP.get(data.dtype)
        if dt is not None and dt.np == data.dtype:
            return Tensor._make(data)
    return tensor(data, dtype=dtype)


def from_numpy(ndarray):
    """torch.from_numpy: a tensor sharing the array's memory (under CuPy, a device copy of it)."""
    if not isinstance(ndarray, np.ndarray):
        raise TorchTypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = D.FROM_NP.get(ndarray.dtype)
    if dt is None:
        raise TorchTypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype.type.__name__}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, "
            "uint16, uint8, and bool.")
    return Tensor._make(B.xp.asarray(ndarray))


def is_tensor(x):
    return isinstance(x, Tensor)


_autograd._bind(Tensor, ones_like_data)
