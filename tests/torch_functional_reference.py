"""The oracle for POST /v1/functional and POST /v1/gradcheck: the request's program as a Python function in real
PyTorch 2.13, under torch.autograd.functional and torch.autograd.gradcheck, answered as the same documents.

The function runs the request's ops (tests/torch_reference.py's runner, custom Functions included) with the
leaves `function.inputs` names bound to its arguments; an op's error is located at the op, the transform's
own at ["body", "transform"] (gradcheck: ["body", "function"]). Warnings are recorded in the order torch raises
them, as the service reports them. `v` takes the dtype of the tensor it stands beside (an input; for vjp an
output, found by one silent call of the function first).
"""
from __future__ import annotations

import base64
import warnings

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError

from tests.torch_reference import (
    _TRIGGERED,
    DTYPES,
    ONCE_WARNINGS,
    TorchFailure,
    _decode,
    _encode,
    _functions,
    _listed,
    _run_ops,
    _whole,
    node_name,
)


def _recorder():
    out, seen = [], set()

    def record(caught):
        for w in caught:
            text = _TRIGGERED.sub("", str(w.message))
            if any(text.startswith(p) for p in ONCE_WARNINGS):
                if text in seen:
                    continue
                seen.add(text)
            out.append({"category": w.category.__name__, "message": text})
        del caught[:]

    return out, record


def _fail(e, loc):
    raise TorchFailure(type(e).__name__, _TRIGGERED.sub("", str(e)), loc) from e


def _leaves(spec):
    env = {}
    for name, leaf in spec.get("leaves", {}).items():
        dtype = DTYPES.get(leaf.get("dtype"))
        if dtype is None and leaf.get("requires_grad") and _whole(leaf["data"]):
            dtype = torch.float32
        try:
            env[name] = torch.tensor(_decode(leaf["data"]), dtype=dtype,
                                     requires_grad=leaf.get("requires_grad", False))
        except Exception as e:  # noqa: BLE001
            _fail(e, ["body", "leaves", name])
    return env


class _Function:
    """The program as f(*inputs); `caught` is the transform's warning list, flushed before each call."""

    def __init__(self, spec, env, functions, record):
        self.spec, self.env, self.functions, self.record = spec, env, functions, record
        fio = spec["function"]
        self.inputs, self.outputs = _listed(fio["inputs"]), _listed(fio["output"])
        self.listed_in, self.listed_out = isinstance(fio["inputs"], list), isinstance(fio["output"], list)
        self.caught = None

    def __call__(self, *xs):
        if self.caught is not None:
            self.record(self.caught)
        env = dict(self.env)
        env.update(zip(self.inputs, xs))
        _run_ops(self.spec.get("ops", []), env, ["body", "ops"], self.record, _fail, functions=self.functions)
        outs = tuple(env[n] for n in self.outputs)
        return outs if self.listed_out else outs[0]


def _setup(spec):
    if spec.get("seed") is not None:
        torch.manual_seed(spec["seed"])
    out_warnings, record = _recorder()
    env = _leaves(spec)
    fn = _Function(spec, env, _functions(spec.get("functions") or {}, record), record)
    inputs = tuple(env[n] for n in fn.inputs)
    return out_warnings, record, fn, inputs


def _tensor(data, dtype):
    if isinstance(data, dict):  # {dtype, shape, b64}
        arr = np.frombuffer(base64.b64decode(data["b64"]), dtype=np.dtype(data["dtype"]).newbyteorder("<"))
        return torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True).reshape(data["shape"]))
    return torch.tensor(_decode(data), dtype=dtype)


def _v(spec, name, fn, inputs):
    value = spec["v"]
    if name == "vjp":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved, fn.record = fn.record, lambda caught: None
            try:
                outs = _listed(fn(*inputs))
            finally:
                fn.record = saved
        beside, listed = outs, fn.listed_out
    else:
        beside, listed = inputs, fn.listed_in
    items = value if listed else [value]
    ts = tuple(_tensor(d, beside[k].dtype if k < len(beside) else None) for k, d in enumerate(items))
    return ts if listed else ts[0]


def tensor_doc(t):
    g = t.grad if t.is_leaf or t.retains_grad else None
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": _encode(t),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
            "grad_fn": node_name(t.grad_fn) if t.grad_fn is not None else None,
            "grad": _encode(g) if g is not None else None, "retains_grad": t.retains_grad, "repr": repr(t)}


def document(x):
    if isinstance(x, tuple | list):
        return [document(i) for i in x]
    return tensor_doc(x) if isinstance(x, torch.Tensor) else None


OPTIONS = ("create_graph", "strict", "vectorize", "strategy", "outer_jacobian_strategy")


def functional(spec: dict) -> dict:
    """torch.autograd.functional.<transform>(f, inputs, ...) as POST /v1/functional's document."""
    name = spec["transform"]
    out_warnings, record, fn, inputs = _setup(spec)
    kwargs = {k: spec[k] for k in OPTIONS if spec.get(k) is not None}
    if spec.get("v") is not None:
        kwargs["v"] = _v(spec, name, fn, inputs)
    transform = getattr(torch.autograd.functional, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn.caught = caught
        try:
            out = transform(fn, inputs if fn.listed_in else inputs[0], **kwargs)
        except TorchFailure:
            raise
        except Exception as e:  # noqa: BLE001
            _fail(e, ["body", "transform"])
        record(caught)
    doc = {"result": document(out if name in ("jacobian", "hessian") else out[1])}
    if name not in ("jacobian", "hessian"):
        doc["output"] = document(out[0])
    doc["warnings"] = out_warnings
    doc["device"] = "cpu"
    return doc


def gradcheck(spec: dict) -> dict:
    """torch.autograd.gradcheck (and gradgradcheck) of f at inputs as POST /v1/gradcheck's document."""
    out_warnings, record, fn, inputs = _setup(spec)
    kwargs = {k: spec[k] for k in ("eps", "atol", "rtol", "fast_mode") if spec.get(k) is not None}
    arg = inputs if fn.listed_in else inputs[0]
    doc = {"gradcheck": None, "gradgradcheck": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn.caught = caught
        checks = [("gradcheck", torch.autograd.gradcheck)]
        if spec.get("gradgrad"):
            checks.append(("gradgradcheck", torch.autograd.gradgradcheck))
        for key, check in checks:
            try:
                check(fn, arg, **kwargs)
                doc[key] = {"ok": True, "error": None}
            except TorchFailure:
                raise
            except GradcheckError as e:
                doc[key] = {"ok": False, "error": {"type": "GradcheckError", "msg": str(e)}}
            except Exception as e:  # noqa: BLE001
                _fail(e, ["body", "function"])
        record(caught)
    doc["warnings"] = out_warnings
    doc["device"] = "cpu"
    return doc
