"""engine.save / engine.load: tensors, and dicts, lists and tuples of them (state dicts), in NumPy's .npz format.

The file is an uncompressed .npz: one array per distinct tensor (a tensor referenced twice is stored once and
loads as one object), and `__manifest__`, a JSON document of the structure around them (dict keys and order,
lists, tuples, numbers, strings, None, dtypes, devices, torch.Size, whether a tensor is a Parameter and
requires grad, a state dict's `_metadata`). Loading never unpickles: NumPy reads with allow_pickle=False and
the manifest is JSON, so an untrusted file can at worst fail to load. Members must be stored uncompressed,
so loading allocates no more than the file's own size (a compressed member could claim any size).
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.tensor import Size, Tensor

FORMAT = "gradserve-engine-save/1"
MANIFEST = "__manifest__"


class UnsupportedObject(TypeError):
    pass


def _refuse(obj):
    return UnsupportedObject(
        f"engine.save stores tensors, numbers, strings, None, dtypes, devices and dicts, lists and tuples of "
        f"them (state dicts); not {type(obj).__module__}.{type(obj).__qualname__}. It never pickles objects: save "
        "a module's or an optimizer's state_dict() instead.")


class _Writer:
    def __init__(self):
        self.arrays = {}
        self.ids = {}

    def tensor(self, t):
        key = self.ids.get(id(t))
        if key is None:
            key = f"t{len(self.arrays)}"
            self.ids[id(t)] = key
            self.arrays[key] = np.ascontiguousarray(B.to_numpy(t._data))
        from engine.nn.parameter import Parameter  # noqa: PLC0415

        return {"tensor": key, "requires_grad": bool(t.requires_grad), "parameter": isinstance(t, Parameter),
                "device": str(t.device)}

    def encode(self, obj):
        from engine._device import device  # noqa: PLC0415

        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if obj is None or isinstance(obj, bool | str):
            return obj
        if isinstance(obj, int | np.integer):
            return int(obj)
        if isinstance(obj, float | np.floating):
            f = float(obj)
            return f if math.isfinite(f) else {"float": repr(f)}
        if isinstance(obj, Size):
            return {"size": [int(s) for s in obj]}
        if isinstance(obj, D.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, device):
            return {"device": str(obj)}
        if isinstance(obj, dict):
            out = {"dict": [[self.key(k), self.encode(v)] for k, v in obj.items()],
                   "ordered": isinstance(obj, OrderedDict)}
            meta = getattr(obj, "_metadata", None)
            if isinstance(meta, dict):
                out["metadata"] = self.encode(meta)
            return out
        if isinstance(obj, list):
            return {"list": [self.encode(v) for v in obj]}
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v) for v in obj]}
        raise _refuse(obj)

    def key(self, k):
        if k is None or isinstance(k, bool | str | int):
            return k
        if isinstance(k, float) and math.isfinite(k):
            return k
        if isinstance(k, tuple):
            return {"tuple": [self.key(v) for v in k]}
        raise _refuse(k)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """Write obj to f (a path or a binary file object)."""
    w = _Writer()
    manifest = {"format": FORMAT, "root": w.encode(obj)}
    arrays = dict(w.arrays)
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    if isinstance(f, str | os.PathLike):
        with open(f, "wb") as fh:  # a file object: np.savez would append ".npz" to a path
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


class _Reader:
    def __init__(self, arrays, map_location):
        self.arrays = arrays
        self.cache = {}
        self.map_location = map_location

    def tensor(self, spec):
        key = spec.get("tensor")
        if key not in self.arrays or key == MANIFEST:
            raise _bad(f"the manifest names a tensor {key!r} the file does not hold")
        t = self.cache.get(key)
        if t is None:
            arr = self.arrays[key]
            if arr.dtype not in D.FROM_NP:
                raise _bad(f"tensor {key!r} has a dtype the engine does not have: {arr.dtype}")
            t = Tensor._make(arr)  # on the host; then where it was saved, or where map_location sends it
            saved = str(spec.get("device", "cpu"))
            loc = self.map_location
            target = loc.get(saved, saved) if isinstance(loc, dict) else saved if loc is None else loc
            t = t.to(target)
            if spec.get("parameter"):
                from engine.nn.parameter import Parameter  # noqa: PLC0415

                t = Parameter(t, requires_grad=bool(spec.get("requires_grad")))
            elif spec.get("requires_grad"):
                t.requires_grad_(True)
            self.cache[key] = t
        return t

    def decode(self, x):
        if x is None or isinstance(x, bool | str | int | float):
            return x
        if isinstance(x, list):
            raise _bad("a bare list in the manifest")
        if not isinstance(x, dict) or len(x) == 0:
            raise _bad("an unknown entry in the manifest")
        if "tensor" in x:
            return self.tensor(x)
        if "dict" in x:
            items = x["dict"]
            if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
                raise _bad("a malformed dict in the manifest")
            out = OrderedDict() if x.get("ordered") else {}
            for k, v in items:
                out[self.key(k)] = self.decode(v)
            if "metadata" in x and isinstance(out, OrderedDict):
                out._metadata = self.decode(x["metadata"])
            return out
        if "list" in x:
            return [self.decode(v) for v in self._seq(x["list"])]
        if "tuple" in x:
            return tuple(self.decode(v) for v in self._seq(x["tuple"]))
        if "float" in x:
            if x["float"] not in ("inf", "-inf", "nan"):
                raise _bad("a malformed float in the manifest")
            return float(x["float"])
        if "size" in x:
            return Size(int(s) for s in self._seq(x["size"]))
        if "dtype" in x:
            if x["dtype"] not in D.BY_NAME:
                raise _bad(f"an unknown dtype {x['dtype']!r} in the manifest")
            return D.BY_NAME[x["dtype"]]
        if "device" in x:
            from engine._device import device  # noqa: PLC0415

            return device(str(x["device"]))
        raise _bad("an unknown entry in the manifest")

    def key(self, k):
        if isinstance(k, dict) and "tuple" in k:
            return tuple(self.key(v) for v in self._seq(k["tuple"]))
        if k is None or isinstance(k, bool | str | int | float):
            return k
        raise _bad("a malformed dict key in the manifest")

    @staticmethod
    def _seq(v):
        if not isinstance(v, list):
            raise _bad("a malformed sequence in the manifest")
        return v


def _bad(why):
    return TorchRuntimeError(f"engine.load: not a file engine.save wrote ({why})")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Read what engine.save wrote, from a path or a binary file object."""
    data = f.read() if hasattr(f, "read") else open(f, "rb").read()  # noqa: SIM115 - read whole, then closed
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = zf.infolist()
    except zipfile.BadZipFile:
        raise _bad("not a zip archive") from None
    for m in members:
        if m.compress_type != zipfile.ZIP_STORED:
            raise _bad(f"member {m.filename!r} is compressed")
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        arrays = {k: npz[k] for k in npz.files}
    except ValueError as e:  # object arrays (pickles) are refused by allow_pickle=False
        raise _bad(str(e)) from None
    if MANIFEST not in arrays:
        raise _bad("no manifest")
    try:
        manifest = json.loads(arrays[MANIFEST].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad("the manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad("an unknown format")
    if callable(map_location):
        raise TorchNotImplementedError("engine.load takes map_location as a device, a string or a dict of them, "
                                       "not a function of storages")
    try:
        return _Reader(arrays, map_location).decode(manifest.get("root"))
    except RecursionError:
        raise _bad("the manifest nests too deeply") from None
