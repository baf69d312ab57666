"""A builder that records PyTorch-like code into a gradserve program, nothing computed until `run()`.

    with client.program() as p:
        a = p.tensor(2.0, requires_grad=True)
        b = p.tensor(4.0, requires_grad=True)
        f = a * b + 2 - a.exp()
        f.backward()
    r = p.run()
    r.grad(a), r.repr(f)

Operators are recorded as PyTorch's Tensor records them, so the grad_fn names and the graph are PyTorch's:
`a * b` is `mul`, `2 + a` is `add(a, 2)`, `2 - a` is `rsub(a, 2)` (RsubBackward1), `2 / a` is
`reciprocal(a) * 2`, `2 ** a` is `pow(2, a)` (PowBackward2), `a @ b` is `matmul`, `-a` is `neg`, `a[0, 1:]`
is `getitem`. Any other method (`a.exp()`, `a.sum(0)`, `a.add_(1)`) and any function (`p.torch.softmax(a,
dim=0)`, `p.F.relu(a)`) is recorded by its name; the server checks it against its catalog. A value's shape,
dtype and data are known only after `run()`: a recorded tensor has no truth value, length or `.shape`.

`backward()` calls that end the program go to the request's `backward` section (v1); one followed by more
lines is recorded as a `backward` op (v1.1), as is everything else v1.1 adds (`.grad`, in-place ops,
`a[i] = v`, `p.torch.autograd.grad`).
"""
from __future__ import annotations

import contextlib
from typing import Any

from gradserve.results import to_wire

# Ops whose number of results the client knows: two with `dim` (values, indices), or always two.
_PAIR_WITH_DIM = frozenset({"max", "min", "median", "nanmedian", "mode"})
_PAIR = frozenset({"sort", "topk", "kthvalue", "aminmax", "var_mean", "std_mean", "frexp", "cummax", "cummin",
                   "slogdet", "linalg.slogdet", "linalg.eigh", "qr", "linalg.qr"})
_UNKNOWN_COUNT = frozenset({"split", "unbind", "tensor_split", "split_with_sizes", "hsplit", "vsplit", "dsplit"})
_DTYPES = ("float32", "float64", "float16", "int64", "int32", "bool")
# Attributes of a real tensor that a recorded one cannot have before the program runs.
_AFTER_RUN = frozenset({"shape", "dtype", "data", "requires_grad", "is_leaf", "grad_fn", "device", "ndim",
                        "size", "item", "tolist", "numpy", "numel", "dim"})


class Var:
    """A tensor of a program being recorded. Its `name` is the name it has in the request."""

    __slots__ = ("_p", "name")
    __hash__ = object.__hash__  # comparisons are recorded ops, as on torch.Tensor

    def __init__(self, program: Program, name: str):
        self._p = program
        self.name = name

    def __repr__(self) -> str:
        return f"<gradserve.Var {self.name!r}>"

    def rename(self, name: str) -> Var:
        """Give this tensor another name in the request (and so in the response and the graph)."""
        self._p._claim(name)
        self._p._names.discard(self.name)
        self.name = name
        return self

    # ----- arithmetic, as torch.Tensor's operators record it -----
    def __add__(self, o): return self._p.call("add", self, o)
    def __radd__(self, o): return self._p.call("add", self, o)
    def __sub__(self, o): return self._p.call("sub", self, o)
    def __rsub__(self, o): return self._p.call("rsub", self, o)
    def __mul__(self, o): return self._p.call("mul", self, o)
    def __rmul__(self, o): return self._p.call("mul", self, o)
    def __truediv__(self, o): return self._p.call("div", self, o)
    def __rtruediv__(self, o): return self._p.call("mul", self._p.call("reciprocal", self), o)
    def __floordiv__(self, o): return self._p.call("floor_divide", self, o)
    def __rfloordiv__(self, o): return self._p.call("floor_divide", o, self)
    def __mod__(self, o): return self._p.call("remainder", self, o)
    def __rmod__(self, o): return self._p.call("remainder", o, self)
    def __pow__(self, o): return self._p.call("pow", self, o)
    def __rpow__(self, o): return self._p.call("pow", o, self)
    def __matmul__(self, o): return self._p.call("matmul", self, o)
    def __rmatmul__(self, o): return self._p.call("matmul", o, self)
    def __neg__(self): return self._p.call("neg", self)
    def __abs__(self): return self._p.call("abs", self)
    def __pos__(self): return self
    def __invert__(self): return self._p.call("bitwise_not", self)
    def __and__(self, o): return self._p.call("bitwise_and", self, o)
    def __rand__(self, o): return self._p.call("bitwise_and", self, o)
    def __or__(self, o): return self._p.call("bitwise_or", self, o)
    def __ror__(self, o): return self._p.call("bitwise_or", self, o)
    def __xor__(self, o): return self._p.call("bitwise_xor", self, o)
    def __rxor__(self, o): return self._p.call("bitwise_xor", self, o)
    def __lt__(self, o): return self._p.call("lt", self, o)
    def __le__(self, o): return self._p.call("le", self, o)
    def __gt__(self, o): return self._p.call("gt", self, o)
    def __ge__(self, o): return self._p.call("ge", self, o)
    def __eq__(self, o): return self._p.call("eq", self, o)  # type: ignore[override]
    def __ne__(self, o): return self._p.call("ne", self, o)  # type: ignore[override]

    def __getitem__(self, index):
        return self._p.call("getitem", self, _index(index))

    def __setitem__(self, index, value):
        self._p.call("setitem", self, _index(index), value)

    def __bool__(self):
        raise TypeError("a recorded tensor has no truth value before run(): its value is computed on the server")

    def __len__(self):
        raise TypeError("a recorded tensor's length is known only after run()")

    def __iter__(self):
        raise TypeError("a recorded tensor cannot be iterated before run(); use unbind(n_out=...) or indexing")

    # ----- properties that are ops -----
    @property
    def T(self): return self._p.call("T", self)

    @property
    def mT(self): return self._p.call("mT", self)

    @property
    def grad(self) -> Var:
        """`t.grad` at this point of the program (v1.1 `grad` op)."""
        return self._p.call("grad", self)

    # ----- autograd -----
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        self._p._backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        self._p._check_open()
        self._p._retain.append(self)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in _AFTER_RUN:
            raise AttributeError(f"{name!r} of a recorded tensor is known only after run(): "
                                 f"result.tensor({self.name!r}).{name}")

        def method(*args, **kwargs):
            out = self._p.call(name, self, *args, **kwargs)
            return self if name.endswith("_") and isinstance(out, Var) else out  # in-place: t.add_(x) is t

        method.__name__ = name
        return method


def _index(index: Any) -> Any:
    """A Python index as the wire's: slices as {"slice": [...]}, Ellipsis as "...", a tuple as a list."""
    if isinstance(index, tuple):
        return [_index_one(i) for i in index]
    return _index_one(index)


def _index_one(i: Any) -> Any:
    if isinstance(i, slice):
        for part in (i.start, i.stop, i.step):
            if not (part is None or isinstance(part, int)):
                raise TypeError("slice bounds must be integers or None")
        return {"slice": [i.start, i.stop, i.step]}
    if i is Ellipsis:
        return "..."
    if isinstance(i, list):
        raise TypeError("a list index is advanced indexing: index with a tensor, p.tensor([...])")
    return i


class _Namespace:
    """`p.torch.<fn>(...)` and `p.F.<fn>(...)`: functions recorded by name; `p.torch.float64` is "float64"."""

    def __init__(self, program: Program, prefix: str = ""):
        self._p = program
        self._prefix = prefix

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if not self._prefix:
            if name in _DTYPES:
                return name
            if name == "tensor":
                return self._p.tensor
            if name == "no_grad":
                return self._p.no_grad
            if name in ("autograd", "linalg", "special", "fft"):
                return _Namespace(self._p, f"{name}.")
        op = self._prefix + name
        if op == "autograd.grad":
            return self._p._autograd_grad
        return lambda *args, **kwargs: self._p.call(op, *args, **kwargs)


class Program:
    """Records lines; `build()` gives the request, `run()` sends it with the client it was made by."""

    def __init__(self, client: Any = None, **fields):
        self._client = client
        self.fields = dict(fields)  # extra top-level fields of the request (outputs, grads, seed, device, ...)
        self._leaves: list[tuple[Var, dict]] = []
        self._lines: list[tuple[str, Any]] = []  # ("op", entry) or ("backward", entry)
        self._retain: list[Var] = []
        self._names: set[str] = set()
        self._counter = 0
        self._no_grad = 0
        self._closed = False
        self.torch = _Namespace(self)
        self.F = _Namespace(self)

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this program's `with` block has ended: record lines inside it")

    def _claim(self, name: str) -> str:
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise ValueError(f"a name is a string of 1 to 128 characters, not {name!r}")
        if name in self._names:
            raise ValueError(f"the name {name!r} is already taken in this program")
        self._names.add(name)
        return name

    def _fresh(self) -> str:
        while True:
            self._counter += 1
            name = f"t{self._counter}"
            if name not in self._names:
                return self._claim(name)

    def tensor(self, data: Any, *, dtype: str | None = None, requires_grad: bool = False,
               name: str | None = None) -> Var:
        """A leaf, as `torch.tensor(data, dtype=dtype, requires_grad=requires_grad)`. NumPy arrays and
        anything with `.tolist()` are accepted (their dtype too, where it is one of the wire's)."""
        self._check_open()
        if dtype is None and hasattr(data, "dtype") and hasattr(data, "tolist"):
            kind = str(data.dtype).removeprefix("torch.")
            dtype = kind if kind in _DTYPES else None
        values = to_wire(data)
        if dtype is None and requires_grad and _all_ints(values):
            dtype = "int64"  # Python knows 2 from 2.0: as in PyTorch, an int leaf cannot require grad
        spec: dict = {"data": values, "requires_grad": bool(requires_grad)}
        if dtype is not None:
            spec["dtype"] = dtype
        var = Var(self, self._claim(name) if name is not None else self._fresh())
        self._leaves.append((var, spec))
        return var

    def call(self, op: str, *args: Any, name: str | None = None, n_out: int | None = None, **kwargs: Any):
        """Record `op(*args, **kwargs)`: its result (a Var, or a tuple of them), None for a statement."""
        self._check_open()
        statement = op in ("setitem", "backward", "retain_grad")
        count = n_out if n_out is not None else self._count(op, args, kwargs)
        if statement:
            names: Any = None
        elif count is None:
            names = Var(self, self._claim(name) if name is not None else self._fresh())
        else:
            names = [Var(self, self._fresh()) for _ in range(count)]
        entry: dict = {"op": op, "name": names, "args": list(args), "kwargs": kwargs}
        if self._no_grad:
            entry["no_grad"] = True
        self._lines.append(("op", entry))
        return None if names is None else tuple(names) if isinstance(names, list) else names

    @staticmethod
    def _count(op: str, args: tuple, kwargs: dict) -> int | None:
        if op in _PAIR or (op in _PAIR_WITH_DIM and (len(args) > 1 or "dim" in kwargs)):
            return 2
        if op == "chunk":
            n = args[1] if len(args) > 1 else kwargs.get("chunks")
            if isinstance(n, int):
                return n
        if op in _UNKNOWN_COUNT or op == "chunk":
            raise TypeError(f"{op} returns a number of tensors known only on the server: pass n_out=<count>")
        return None

    def _autograd_grad(self, outputs: Any, inputs: Any, **kwargs: Any):
        n = len(inputs) if isinstance(inputs, (list, tuple)) else 1
        return self.call("autograd.grad", outputs, inputs, n_out=n, **kwargs)

    def _backward(self, t: Var, gradient, retain_graph, create_graph, inputs) -> None:
        self._check_open()
        entry: dict = {"tensor": t}
        if gradient is not None:
            entry["gradient"] = gradient
        if retain_graph is not None:
            entry["retain_graph"] = retain_graph
        if create_graph:
            entry["create_graph"] = True
        if inputs is not None:
            entry["inputs"] = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._lines.append(("backward", entry))

    @contextlib.contextmanager
    def no_grad(self):
        """Lines recorded inside run as under `torch.no_grad()`."""
        self._no_grad += 1
        try:
            yield
        finally:
            self._no_grad -= 1

    def build(self) -> dict:
        """The POST /v1/evaluate body this program records."""
        last_op = max((i for i, (kind, _) in enumerate(self._lines) if kind == "op"), default=-1)
        ops, backward = [], []
        for i, (kind, entry) in enumerate(self._lines):
            if kind == "backward" and i > last_op:
                backward.append({k: _wire(v) for k, v in entry.items()})
            elif kind == "backward":
                kwargs = {k: _wire(v) for k, v in entry.items() if k != "tensor"}
                ops.append({"op": "backward", "args": [entry["tensor"].name], **({"kwargs": kwargs} if kwargs else {})})
            else:
                out: dict = {"op": entry["op"]}
                if entry["name"] is not None:
                    out["name"] = _wire(entry["name"])
                out["args"] = [_wire(a) for a in entry["args"]]
                if entry["kwargs"]:
                    out["kwargs"] = {k: _wire(v) for k, v in entry["kwargs"].items()}
                if entry.get("no_grad"):
                    out["no_grad"] = True
                ops.append(out)
        doc: dict = {"leaves": {v.name: spec for v, spec in self._leaves}}
        if ops:
            doc["ops"] = ops
        if backward:
            doc["backward"] = backward
        if self._retain:
            doc["retain_grad"] = [v.name for v in self._retain]
        return {**doc, **{k: _wire(v) for k, v in self.fields.items()}}

    def run(self, **fields):
        """Evaluate with the client (`await p.run()` with an AsyncClient); `fields` set top-level fields."""
        if self._client is None:
            raise RuntimeError("this program has no client: make it with client.program(), or pass build() to one")
        return self._client.evaluate(self, **fields)

    def functional(self, transform: str, inputs: Any, output: Any, **options):
        """POST /v1/functional of this program as a function of `inputs` (Vars) returning `output`."""
        return self._client.functional(self, transform, inputs, output, **options)

    def gradcheck(self, inputs: Any, output: Any, **options):
        """POST /v1/gradcheck of this program as a function of `inputs` returning `output`."""
        return self._client.gradcheck(self, inputs, output, **options)


def _all_ints(values: Any) -> bool:
    if isinstance(values, list):
        return all(_all_ints(v) for v in values)
    return isinstance(values, int) and not isinstance(values, bool)


def _wire(x: Any) -> Any:
    """A recorded argument as JSON: Vars by name, numbers and nested lists as the wire writes them."""
    if isinstance(x, Var):
        return x.name
    if isinstance(x, dict):
        return {k: _wire(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_wire(v) for v in x]
    if hasattr(x, "tolist"):
        return to_wire(x)
    if isinstance(x, float):
        return to_wire(x)
    if x is None or isinstance(x, (int, str, bool)):
        return x
    raise TypeError(f"cannot send a {type(x).__name__} in a program: use numbers, strings, lists and tensors")
