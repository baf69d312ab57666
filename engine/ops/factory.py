"""Factories: zeros, ones, full, arange, linspace, eye, the *_like family and the seeded random ones.

Each charges what it is about to allocate to the request's budget (engine.budget.charge) before it allocates:
a factory is sized by the request's numbers alone, so `randint(0, 10, [12000, 12000])` stops here."""
from __future__ import annotations

import inspect
import math
import threading

import numpy as np

from engine import _backend as B
from engine import _device as _dev
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops._torch_range import arange_int_values, arange_size, arange_start_step, arange_values, linspace_values
from engine.ops._util import size_arg
from engine.ops.scalar_fit import check_fits, converted, float32_of_int, scalar_arg
from engine.ops.scalar_fit import fill_value as _fill_value
from engine.tensor import REQUIRES_GRAD_DTYPE_MSG, Tensor


class _Generators(threading.local):
    """The random generator, per thread; and while a request runs (`request_stream`), the request's own: seeded
    by its `seed`, else from the OS's entropy when it first draws, so that no request's stream follows from
    another's (a seeded request must not make the next client's unseeded draws predictable)."""

    g = None  # the library's generator (manual_seed)
    req = None  # the running request's: None (no request), a Generator, or its seed (an int, or _FRESH)

    def __getitem__(self, i):
        r = self.req
        if r is not None:
            if type(r) is not np.random.Generator:
                r = self.req = np.random.default_rng(None if r is _FRESH else r)
            return r
        g = self.g
        if g is None:
            g = self.g = np.random.default_rng()
        return g

    def __setitem__(self, i, value):
        if self.req is not None:
            self.req = value
        else:
            self.g = value


_FRESH = object()
_generator = _Generators()


def manual_seed(seed: int):
    _generator[0] = np.random.default_rng(int(seed))
    return _generator[0]


class request_stream:  # noqa: N801 - a context manager
    """The random stream of one request: `seed` (an int) or, with None, fresh entropy on first use."""

    __slots__ = ("seed", "prev")

    def __init__(self, seed):
        self.seed = _FRESH if seed is None else int(seed)

    def __enter__(self):
        self.prev = _generator.req
        _generator.req = self.seed

    def __exit__(self, *exc):
        _generator.req = self.prev
        return False


PINNED_MSG = ("pin_memory=True requires a CUDA or other accelerator backend; no pinned memory allocator is available "
              "on this system.")


def _xp(device=None, pin_memory=False, like=None):
    """The array module a factory allocates with: the process's (NumPy, or CuPy once set_default_device("cuda")),
    NumPy for device="cpu", `like`'s where device is None and a tensor is given (the *_like factories). A device
    the engine cannot put a tensor on is refused as Tensor.to refuses it (engine/_device.py), before anything is
    checked or allocated, as torch parses the device first."""
    if device is None:
        xp = B.xp if like is None or not isinstance(like._data, np.ndarray | np.generic) else np
    else:
        d = _dev.as_device(device)
        if d.type == "cpu":
            xp = np
        elif d.type == "cuda":
            _dev.check_target(d)
            xp = B.xp
        else:
            raise TorchNotImplementedError(f"the engine computes on cpu or cuda only: it makes no {d.type} tensors")
    if pin_memory:
        if not _dev._cuda_usable():
            raise TorchRuntimeError(PINNED_MSG)
        raise TorchNotImplementedError("the engine has no page-locked (pinned) host allocator: pin_memory=True is "
                                       "not supported")
    return xp


def _finish(arr, requires_grad, xp=None):
    xp = B.xp if xp is None else xp
    if xp is not np:
        arr = xp.asarray(arr)
    elif not isinstance(arr, np.ndarray | np.generic):
        arr = B.to_numpy(arr)
    b = _budget.current()
    if b is not None:  # held from now on, as every op's output: _charge checked it only as it was made
        b.track(arr)
    t = Tensor._make(arr)
    if requires_grad:
        t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
    return t


def _charge(shape, itemsize, what, work_itemsize=0, flops_each=1, flops=None):
    """Charge an output sized by arguments or values (a factory's, bincount's, tril_indices') before it is
    made: its bytes and a work array of work_itemsize bytes an element (the float64 draws of the random
    factories, arange's float64 steps), flops_each an element (or `flops` in all), and its element count
    against max_tensor_elements (a 413 at the op). The one charge helper of the value-sized ops."""
    n = math.prod(shape)
    b = _budget.current()
    if b is not None:
        b.charge(n * (itemsize + work_itemsize), float(flops_each * n if flops is None else flops), what,
                 elements=n)


def _check_size(size):
    for s in size:
        if not isinstance(s, int | np.integer) or isinstance(s, bool):
            raise TorchRuntimeError(f"size must contain only integers, got {s!r}")
        if s < 0:
            raise TorchRuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def zeros(*size, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    size = _check_size(size_arg(size))
    dt = (dtype or D.default_float).np
    _charge(size, dt.itemsize, "zeros")
    return _finish(xp.zeros(size, dtype=dt), requires_grad, xp)


def ones(*size, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    size = _check_size(size_arg(size))
    dt = (dtype or D.default_float).np
    _charge(size, dt.itemsize, "ones")
    return _finish(xp.ones(size, dtype=dt), requires_grad, xp)


def empty(*size, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device, pin_memory=pin_memory)


def full(size, fill_value, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    size = _check_size(size_arg((size,)) if not isinstance(size, int) else (size,))
    scalar_arg(fill_value)
    dt = dtype or D.result_type(fill_value)
    _charge(size, dt.np.itemsize, "full")
    return _finish(xp.full(size, _fill_value(fill_value, dt.np, math.prod(size) == 1), dtype=dt.np), requires_grad, xp)


def zeros_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory, input)
    dt = (dtype or input.dtype).np
    _charge(input._data.shape, dt.itemsize, "zeros_like")
    return _finish(xp.zeros(input._data.shape, dtype=dt), requires_grad, xp)


def ones_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory, input)
    dt = (dtype or input.dtype).np
    _charge(input._data.shape, dt.itemsize, "ones_like")
    return _finish(xp.ones(input._data.shape, dtype=dt), requires_grad, xp)


def full_like(input: Tensor, fill_value, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory, input)
    dt = (dtype or input.dtype).np
    _charge(input._data.shape, dt.itemsize, "full_like")
    value = _fill_value(fill_value, dt, input._data.size == 1)
    return _finish(xp.full(input._data.shape, value, dtype=dt), requires_grad, xp)


def empty_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad, device=device, pin_memory=pin_memory)


def arange(start=0, end=None, step=1, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    """torch.arange: the count as compute_arange_size (_torch_range.arange_size: in double, or exactly over int64
    for an int64 result), the values as arange_kernel (start and step in its accumulate type)."""
    xp = _xp(device, pin_memory)
    if end is None:
        start, end = 0, start
    for v in (start, end, step):
        scalar_arg(v)  # the parser's OverflowError past uint64 / below int64
    # torch's dtype: int64 where all three are integral (bools too), else the default float
    dt = dtype or (D.int64 if all(isinstance(v, int | np.integer) for v in (start, end, step)) else D.default_float)
    if dt.np.kind == "b":
        raise TorchNotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    n = arange_size(start, end, step, dt.np)
    # float: the float64 steps, step * them and start + that, then the cast; integers: int64, then the cast
    _charge((n,), dt.np.itemsize, "arange", 32 if dt.is_floating_point else 8, 3)  # torch's two-sided formula
    s0, st = arange_start_step(start, step, dt.np)
    arr = arange_values(s0, st, n, dt.np) if dt.is_floating_point else arange_int_values(s0, st, n, dt.np)
    return _finish(np.asarray(arr).astype(dt.np, copy=False), requires_grad, xp)


def linspace(start, end, steps, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    if type(steps) is int and not -(1 << 63) <= steps < 1 << 63:  # the parser's int64 unpack (2**63 was [])
        raise TorchValueError("Overflow when unpacking long long")
    if steps < 0:
        raise TorchRuntimeError("number of steps must be non-negative")
    dt = dtype or D.default_float
    _charge((int(steps),), dt.np.itemsize, "linspace", 32, 3)  # torch's two-sided step: four float64 arrays
    scalar_arg(start)  # the parser's OverflowError first (review13a F-F)
    scalar_arg(end)
    kind = dt.np.kind
    if kind == "b" and steps >= 2:  # (no kernel for bool; zero or one step is a fill)
        raise TorchNotImplementedError('"linspace_cpu" not implemented for \'Bool\'')
    if steps >= 2:  # the kernel's Scalar::to<T>, checked
        check_fits(start, dt.np)
        check_fits(end, dt.np)
    elif steps == 1 and (kind in "iu" or dt.np == np.float32):  # one step is fill_(start) of one element: it checks
        check_fits(start, dt.np)  # start only, float16 not at all (1e10 is inf there); no step checks nothing
    if steps == 1 and kind == "b":
        start = end = bool(start)  # (NaN is True; the end is not read)
    if dt.np == np.float32:  # an int endpoint cast once, as torch's (redteam12 F9)
        start, end = (float32_of_int(v) if type(v) is int else v for v in (start, end))
    elif kind in "iu" and steps >= 1:  # the endpoints as the dtype stores them (uint8 takes -100 as 156), then
        start = converted(start, dt.np)  # interpolated (redteam13 F1)
        end = converted(end, dt.np) if steps >= 2 else start
    return _finish(linspace_values(start, end, int(steps), dt.np), requires_grad, xp)


def eye(n, m=None, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    if n < 0:
        raise TorchRuntimeError(f"n must be greater or equal to 0, got {n}")
    dt = (dtype or D.default_float).np
    _charge((n, m if m is not None else n), dt.itemsize, "eye")
    return _finish(np.eye(n, m if m is not None else n, dtype=dt), requires_grad, xp)


def rand(*size, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    size = _check_size(size_arg(size))
    dt = (dtype or D.default_float).np
    _charge(size, dt.itemsize, "rand", 8, 10)  # the generator's float64 draws, then the cast
    return _finish(_generator[0].random(size).astype(dt), requires_grad, xp)


def randn(*size, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    xp = _xp(device, pin_memory)
    size = _check_size(size_arg(size))
    dt = (dtype or D.default_float).np
    _charge(size, dt.itemsize, "randn", 8, 20)
    return _finish(_generator[0].standard_normal(size).astype(dt), requires_grad, xp)


_C_NAMES = {"int8": "signed char", "uint8": "unsigned char", "int16": "short int", "int32": "int", "int64": "long"}


def _randint_bounds(low, high, dt):
    """random_'s checks (DistributionTemplates.h check_from_to): from < to, then from and to - 1 inside the dtype
    (bool [0, 1], float16 its finite range; float32 / float64 only warn there)."""
    if not (-(1 << 63) <= low < 1 << 63 and -(1 << 63) <= high < 1 << 63):  # the parser's int64 unpack
        raise TorchValueError("Overflow when unpacking long long")
    if low >= high:
        raise TorchRuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if dt.kind == "b":
        lo, hi, name = 0, 1, "bool"
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi, name = int(info.min), int(info.max), _C_NAMES[dt.name]
    elif dt == np.float16:
        lo, hi, name = -65504, 65504, "c10::Half"
    else:
        return
    if not lo <= low <= hi:
        raise TorchRuntimeError(f"from is out of bounds for {name}")
    if not lo <= high - 1 <= hi:
        raise TorchRuntimeError(f"to - 1 is out of bounds for {name}")


_RANDINT_KW = ("Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device device = None, "
               "bool pin_memory = False, bool requires_grad = False")
_RANDINT_FORMS = "".join(f"\n * ({head}, *, {gen}{_RANDINT_KW})" for head in ("int high, tuple of ints size",
                         "int low, int high, tuple of ints size") for gen in ("torch.Generator generator, ", ""))


def _py_name(x) -> str:
    return "Tensor" if isinstance(x, Tensor) else "torch.dtype" if isinstance(x, D.dtype) else type(x).__name__


_RANDINT_OPTS = ("out", "dtype", "layout", "device", "pin_memory", "requires_grad")
# torch's four overloads in its order: (positional parameters, keyword-only ones, whether generator is required)
_RANDINT_SIGS = ((("high", "size"), ("generator", *_RANDINT_OPTS)), (("high", "size"), _RANDINT_OPTS),
                 (("low", "high", "size"), ("generator", *_RANDINT_OPTS)), (("low", "high", "size"), _RANDINT_OPTS))


def _is_int(x):
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def _is_size(x):
    """The parser's IntArrayRef test: a tuple or list whose first element (only that one) is an int."""
    return isinstance(x, tuple | list) and (not x or _is_int(x[0]))


def _randint_value_ok(name, v):
    if name in ("low", "high"):
        return _is_int(v)
    if name == "size":
        return _is_size(v)
    if name in ("generator", "out", "layout"):  # (no generators, out tensors or layouts here: None only)
        return v is None
    if name in ("pin_memory", "requires_grad"):
        return isinstance(v, bool)
    return True  # dtype / device: their own checks later


def _randint_bind(sig, args, kw, raise_=False):
    """One overload's binding as torch's PythonArgParser does it: None where it does not match (raise_: the
    parser's message for the one plausible overload instead)."""
    pos, kwonly = sig
    if len(args) > len(pos):
        return None
    bound = dict(zip(pos, args, strict=False))
    for i, name in enumerate((*pos, *kwonly)):
        if name in bound and name in kw and not raise_:  # (given twice: the parser reads the positional one)
            return None
        if name not in bound and name not in kw and name in pos:
            if raise_:
                missing = pos[i:]
                raise TorchTypeError(f"randint() missing {len(missing)} required positional argument"
                                     f"{'s' if len(missing) == 1 else ''}: {', '.join(f'{m!r}' for m in missing)}"
                                     .replace("'", '"'))
            return None
        if name == "generator" and name not in kw:
            return None
        v = bound[name] if name in bound else kw.get(name, _ABSENT)
        if v is _ABSENT:
            continue
        if not _randint_value_ok(name, v):
            if raise_:
                where = f" (position {i + 1})" if name in bound else ""
                want = "tuple of ints" if name == "size" else "int" if name in ("low", "high") else name
                if name == "size" and name in bound and isinstance(v, tuple | list) and v:
                    raise TorchTypeError(f"randint(): argument 'size'{where} must be tuple of ints, but found "
                                         f"element of type {_py_name(v[0])} at pos 0")
                raise TorchTypeError(f"randint(): argument '{name}'{where} must be {want}, not {_py_name(v)}")
            return None
        bound[name] = v
    for k in kw:
        if k not in pos and k not in kwonly or k in pos[:len(args)]:
            if raise_:
                twice = "got multiple values for argument" if k in pos else "got an unexpected keyword argument"
                raise TorchTypeError(f"randint() {twice} '{k}'")
            return None
    return bound


_ABSENT = object()


def _randint_args(args, kw):
    """torch's overloads randint(high, size) and randint(low, high, size) (each with and without a generator;
    any argument may be a keyword), with the Python argument parser's errors: where no overload binds, the one
    plausible by the argument count (min / max arguments) raises its own message, else the invalid combination
    (its keywords listed last to first, as torch prints them). Returns (low, high, size, the keywords)."""
    for sig in _RANDINT_SIGS:
        bound = _randint_bind(sig, args, kw)
        if bound is not None:
            break
    else:
        n = len(args) + len(kw)
        plausible = [sig for sig, lo, hi in zip(_RANDINT_SIGS, (3, 2, 4, 3), (10, 9, 11, 10), strict=True)
                     if lo <= n <= hi]
        if len(plausible) == 1:
            _randint_bind(plausible[0], args, kw, raise_=True)
        got = ", ".join(_py_name(x) for x in args)
        named = "".join(f"{k}={_py_name(v)}, " for k, v in reversed(kw.items()))
        got = f"{got}, {named[:-2]}" if args and named else got or named
        raise TorchTypeError(f"randint() received an invalid combination of arguments - got ({got}), but expected "
                             f"one of:{_RANDINT_FORMS}\n")
    size = bound["size"]
    for i, v in enumerate(size):  # the elements after the first, unpacked one by one (a bool is an int there)
        if not isinstance(v, int | np.integer):
            raise TorchTypeError(f"randint(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                                 f"\"type must be tuple of ints,but got {_py_name(v)}\"")
    return int(bound.get("low", 0)), int(bound["high"]), tuple(int(v) for v in size), bound


def randint(*args, **kw) -> Tensor:
    """Integers drawn from [low, high): torch's randint(high, size) and randint(low, high, size); low, high and
    size may be keywords."""
    low, high, size, bound = _randint_args(args, kw)
    dtype, requires_grad = bound.get("dtype"), bound.get("requires_grad", False)
    xp = _xp(bound.get("device"), bound.get("pin_memory", False))
    size = _check_size(size)
    dt = (dtype or D.int64).np
    _randint_bounds(int(low), int(high), dt)
    _charge(size, dt.itemsize, "randint", 8, 10)  # the generator's int64 draws, then the cast
    return _finish(_generator[0].integers(low, high, size).astype(dt), requires_grad, xp)


randint.__signature__ = inspect.Signature(  # (as the catalog shows it: randint(high, size) binds high to low)
    [inspect.Parameter("low", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in ("high", "size")]
    + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in (
        ("dtype", None), ("requires_grad", False), ("device", None), ("pin_memory", False))],
    return_annotation="Tensor")

def rand_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad,
                device=device if device is not None else input.device, pin_memory=pin_memory)


def randn_like(input: Tensor, *, dtype=None, requires_grad=False, device=None, pin_memory=False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad,
                 device=device if device is not None else input.device, pin_memory=pin_memory)


# ----- Tensor.new_*: the factories with the tensor's dtype and device as defaults -----


def _new_kwargs(self, dtype, device, requires_grad, pin_memory):
    return dict(dtype=self.dtype if dtype is None else dtype, device=self.device if device is None else device,
                requires_grad=requires_grad, pin_memory=pin_memory)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False) -> Tensor:
    return zeros(*size, **_new_kwargs(self, dtype, device, requires_grad, pin_memory))


def new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False) -> Tensor:
    return ones(*size, **_new_kwargs(self, dtype, device, requires_grad, pin_memory))


def new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False) -> Tensor:
    return empty(*size, **_new_kwargs(self, dtype, device, requires_grad, pin_memory))


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False) -> Tensor:
    if not isinstance(size, tuple | list):
        from engine.errors import TorchTypeError  # noqa: PLC0415

        raise TorchTypeError(
            f"new_full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    return full(tuple(size), fill_value, **_new_kwargs(self, dtype, device, requires_grad, pin_memory))


def new_tensor(self, data, dtype=None, device=None, requires_grad=False, layout=None) -> Tensor:  # no pin_memory
    from engine.tensor import tensor  # noqa: PLC0415

    if isinstance(data, Tensor):
        import warnings  # noqa: PLC0415

        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                      "tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
    return tensor(data, **_new_kwargs(self, dtype, device, requires_grad, False))


for _name in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
    setattr(Tensor, _name, globals()[_name])

from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry(n, globals()[n], d, method=False) for n, d in (
        ("zeros", "Tensor of zeros."), ("ones", "Tensor of ones."), ("full", "Tensor filled with fill_value."),
        ("empty", "Uninitialised tensor (zeros here)."), ("zeros_like", "zeros with input's shape and dtype."),
        ("ones_like", "ones with input's shape and dtype."), ("full_like", "full with input's shape."),
        ("empty_like", "empty with input's shape."), ("arange", "Values from start to end by step."),
        ("linspace", "steps values evenly from start to end."), ("eye", "Identity matrix."),
        ("rand", "Uniform [0, 1) samples (seeded)."), ("randn", "Standard normal samples (seeded)."),
        ("randint", "Integers in [low, high) (seeded)."), ("rand_like", "rand with input's shape."),
        ("randn_like", "randn with input's shape."),
    )
]
