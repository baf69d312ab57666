"""The library pieces tutorials call around nn and optim, against torch 2.13: torch.device, cuda.is_available,
Tensor.to/.cpu/.cuda/.numpy, the legacy torch.Tensor constructor, allclose/equal, out=, and save/load (its
round trips, and that an untrusted file can only fail to load)."""
from __future__ import annotations

import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch

import engine
from engine import _backend


def outcome(fn):
    try:
        r = fn()
    except Exception as e:  # noqa: BLE001 - compared by class name and message
        return type(e).__name__, str(e)
    if isinstance(r, engine.Tensor | torch.Tensor):
        return "tensor", repr(r), str(r.dtype).removeprefix("torch."), tuple(r.shape)
    return "value", repr(r)


def same(fn):
    t = outcome(lambda: fn(torch))
    assert outcome(lambda: fn(engine)) == t
    return t


# ----- device -----

DEVICES = [
    lambda lib: lib.device("cpu"), lambda lib: lib.device("cpu:0"), lambda lib: lib.device("cpu", 0),
    lambda lib: lib.device("cuda"), lambda lib: lib.device("cuda", 1), lambda lib: str(lib.device("cuda:1")),
    lambda lib: lib.device("cuda:1").index, lambda lib: lib.device("cpu").type, lambda lib: lib.device("gpu"),
    lambda lib: lib.device("cuda:x"), lambda lib: lib.device("cuda:-1"), lambda lib: lib.device("cuda", -1),
    lambda lib: lib.device(5.0), lambda lib: lib.device(" cpu"), lambda lib: lib.device("CPU"),
    lambda lib: lib.device(""), lambda lib: lib.device("cuda:01"), lambda lib: lib.device("cuda:"),
    lambda lib: lib.device(lib.device("cpu")), lambda lib: lib.device("cpu") == lib.device("cpu", None),
    lambda lib: lib.device("cuda") == lib.device("cuda:0"), lambda lib: lib.device("cpu") == "cpu",
    lambda lib: lib.zeros(2).device, lambda lib: str(lib.zeros(2).device),
    lambda lib: lib.zeros(2).device == lib.device("cpu"), lambda lib: lib.zeros(2).is_cuda,
    lambda lib: {lib.device("cpu"): 1}[lib.device("cpu")], lambda lib: lib.get_default_device(),
]


@pytest.mark.parametrize("fn", DEVICES)
def test_device(fn):
    same(fn)


def test_device_pickles():
    assert pickle.loads(pickle.dumps(engine.device("cuda:1"))) == engine.device("cuda", 1)


@pytest.mark.skipif(_backend.cupy_available()[0], reason="this machine has a usable GPU: torch-CPU's errors differ")
@pytest.mark.parametrize("fn", [
    lambda lib: lib.cuda.is_available(), lambda lib: lib.cuda.device_count(), lambda lib: lib.zeros(2).cuda(),
    lambda lib: lib.zeros(2).to("cuda"), lambda lib: lib.zeros(2).to("cuda:0", lib.float64),
    lambda lib: lib.nn.Linear(2, 2).cuda(), lambda lib: lib.nn.Linear(2, 2).to("cuda"), lambda lib: lib.device(0),
    lambda lib: lib.zeros(2).to(lib.device("cuda")), lambda lib: lib.zeros(2).to("mps"),
])
def test_cuda_where_unavailable(fn):
    same(fn)


TO = [
    lambda lib: lib.zeros(2).to("cpu"), lambda lib: lib.zeros(2).to(lib.float64),
    lambda lib: lib.zeros(2).to("cpu", lib.float64), lambda lib: lib.zeros(2).to(device="cpu", dtype=lib.int64),
    lambda lib: lib.zeros(2).to(lib.float64, copy=True), lambda lib: lib.zeros(2).to(lib.zeros(1, dtype=lib.int32)),
    lambda lib: lib.zeros(2).to("cpu", lib.float64, True, True), lambda lib: lib.zeros(2).to(foo=1),
    lambda lib: lib.zeros(2).to(lib.float64, lib.float32), lambda lib: lib.zeros(2).to("xyz"),
    lambda lib: lib.zeros(2).to(None), lambda lib: lib.zeros(2).cpu(),
    lambda lib: lib.zeros(2, requires_grad=True).to(lib.float64).grad_fn.name(),
    lambda lib: lib.zeros(2, requires_grad=True).numpy(), lambda lib: lib.zeros(2, requires_grad=True).numpy(True),
    lambda lib: lib.tensor([1.5, 2.0]).numpy(), lambda lib: lib.tensor(3).numpy(),
]


@pytest.mark.parametrize("fn", TO)
def test_to_cpu_numpy(fn):
    same(fn)


def test_to_returns_self_or_a_copy():
    x = engine.zeros(2)
    assert x.to("cpu") is x and x.to(engine.float32) is x and x.cpu() is x
    y = x.to("cpu", copy=True)
    assert y is not x and y._data is not x._data
    a = np.zeros(3, dtype=np.float32)
    assert engine.from_numpy(a).numpy() is not None and np.shares_memory(engine.from_numpy(a).numpy(), a)


# ----- the legacy constructor -----

LEGACY = [
    lambda lib: lib.Tensor([1, 2]), lambda lib: lib.Tensor(2, 3).shape, lambda lib: lib.Tensor(),
    lambda lib: lib.Tensor(lib.Size([2, 1])).shape, lambda lib: lib.Tensor(np.array([1, 2])),
    lambda lib: lib.Tensor([[1, 2], [3, 4.5]]), lambda lib: lib.Tensor(lib.tensor([1, 2])),
    lambda lib: lib.Tensor(2, 3.5), lambda lib: lib.Tensor("a"), lambda lib: lib.Tensor(-1),
    lambda lib: lib.Tensor([1, 2], dtype=lib.float64), lambda lib: lib.Tensor(3, requires_grad=True),
    lambda lib: lib.Tensor(True), lambda lib: lib.Tensor((1, 2)), lambda lib: lib.Tensor(2.0),
    lambda lib: lib.Tensor([]), lambda lib: lib.Tensor(np.float32(2)), lambda lib: lib.Tensor([[1], [2, 3]]),
    lambda lib: lib.Tensor([1, 2], device="cpu"), lambda lib: lib.Tensor(0).shape,
    lambda lib: isinstance(lib.Tensor([1]), lib.Tensor), lambda lib: lib.Tensor([1.0]).requires_grad,
]


@pytest.mark.parametrize("fn", LEGACY)
def test_legacy_constructor(fn):
    same(fn)


def test_legacy_constructor_aliases_a_tensor():
    t = engine.tensor([1.0, 2.0])
    u = engine.Tensor(t)
    assert u is not t and u._data is t._data


# ----- allclose, equal -----

COMPARE = [
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2.0000001])),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2.1])),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2.1]), rtol=0.1),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2.1]), atol=0.2),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2], dtype=lib.float64)),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1, 2])),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2, 3])),
    lambda lib: lib.allclose(lib.tensor([1.0, float("nan")]), lib.tensor([1.0, float("nan")])),
    lambda lib: lib.allclose(lib.tensor([1.0, float("nan")]), lib.tensor([1.0, float("nan")]), equal_nan=True),
    lambda lib: lib.allclose(lib.tensor([float("inf")]), lib.tensor([float("inf")])),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), 1.0),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2]), rtol=-1),
    lambda lib: lib.allclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2]), atol=-0.5),
    lambda lib: lib.allclose(lib.tensor([1.0, 1.0]), lib.tensor(1.0)),
    lambda lib: lib.allclose(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.allclose(lib.tensor([True]), lib.tensor([True])),
    lambda lib: lib.equal(lib.tensor([1.0, 2]), lib.tensor([1.0, 2])),
    lambda lib: lib.equal(lib.tensor([1.0, 2]), lib.tensor([1, 2])),
    lambda lib: lib.equal(lib.tensor([1.0, 2]), lib.tensor([1.0, 2, 3])),
    lambda lib: lib.equal(lib.tensor([[1.0, 2]]), lib.tensor([1.0, 2])),
    lambda lib: lib.equal(lib.tensor([1.0, float("nan")]), lib.tensor([1.0, float("nan")])),
    lambda lib: lib.equal(lib.tensor([1.0, 2]), [1.0, 2]),
    lambda lib: lib.equal(lib.tensor([True]), lib.tensor([1])),
    lambda lib: lib.isclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2], dtype=lib.float64)),
    lambda lib: lib.isclose(lib.tensor([1.0, 2, float("nan")]), lib.tensor([1.0, 2.1, float("nan")]), equal_nan=True),
    lambda lib: lib.isclose(lib.tensor([1.0, 2]), lib.tensor([1.0, 2.5]), rtol=-1.5),
    lambda lib: lib.isclose(lib.tensor([[1.0], [2.0]]), lib.tensor([1.0, 2.0])),
    lambda lib: lib.tensor([1.0, 2]).allclose(lib.tensor([1.0, 2.0000001])),
    lambda lib: lib.tensor([1.0, 2]).equal(lib.tensor([1.0, 2])),
    lambda lib: lib.tensor([1.0, 2]).isclose(lib.tensor([1.0, 3])),
]


@pytest.mark.parametrize("fn", COMPARE)
def test_allclose_equal(fn):
    same(fn)


# ----- out= -----


def _out_case(fn, out_dtype="float32", out_shape=(2,), grad_in=False, grad_out=False, no_grad=False):
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=grad_in)
        b = lib.tensor([3.0, 4.0])
        o = lib.zeros(out_shape, dtype=getattr(lib, out_dtype), requires_grad=grad_out)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                if no_grad:
                    with lib.no_grad():
                        r = fn(lib, a, b, o)
                else:
                    r = fn(lib, a, b, o)
            except Exception as e:  # noqa: BLE001
                return type(e).__name__, str(e)
        msgs = [str(x.message).split(" (Triggered internally")[0] for x in w]
        return r is o, repr(o), tuple(o.shape), msgs

    return run


OUT = [
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o)),
    _out_case(lambda lib, a, b, o: lib.add(a, b, alpha=2, out=o)),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), out_shape=(3,)),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), out_shape=(0,)),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), out_dtype="int64"),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), out_dtype="float64"),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), grad_in=True),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), grad_out=True),
    _out_case(lambda lib, a, b, o: lib.add(a, b, out=o), grad_in=True, no_grad=True),
    _out_case(lambda lib, a, b, o: lib.mul(a, 2, out=o)),
    _out_case(lambda lib, a, b, o: lib.exp(a, out=o)),
    _out_case(lambda lib, a, b, o: lib.pow(a, 2, out=o)),
    _out_case(lambda lib, a, b, o: lib.sum(a, 0, out=o), out_shape=()),
    _out_case(lambda lib, a, b, o: lib.sum(a, 0, out=o)),
    _out_case(lambda lib, a, b, o: lib.matmul(a[:, None], b[None], out=o), out_shape=(2, 2)),
    _out_case(lambda lib, a, b, o: lib.cat([a, b], out=o), out_shape=(4,)),
    _out_case(lambda lib, a, b, o: lib.stack([a, b], out=o), out_shape=(2, 2)),
    _out_case(lambda lib, a, b, o: lib.maximum(a, b, out=o), out_dtype="int64"),
    _out_case(lambda lib, a, b, o: lib.eq(a, b, out=o), out_dtype="int64"),
    _out_case(lambda lib, a, b, o: lib.gt(b, a, out=o), out_dtype="bool"),
    _out_case(lambda lib, a, b, o: lib.arange(0, 4, 2, out=o)),
    _out_case(lambda lib, a, b, o: lib.arange(0, 4, 2, out=o), out_dtype="int64"),
    _out_case(lambda lib, a, b, o: lib.clamp(b, 0, 3.5, out=o)),
    _out_case(lambda lib, a, b, o: lib.where(a > 1, a, b, out=o) if hasattr(lib, "where") else None),
]


@pytest.mark.parametrize("run", OUT)
def test_out(run):
    t = run(torch)
    assert run(engine) == t


def test_out_writes_into_views():
    v = engine.zeros(4)
    engine.add(engine.ones(2), engine.ones(2), out=v[:2])
    assert v.tolist() == [2.0, 2.0, 0.0, 0.0]
    a = engine.tensor([1.0, 2.0])
    assert engine.add(a, a, out=a) is a and a.tolist() == [2.0, 4.0]


# ----- save / load -----


def _roundtrip(obj, **kw):
    buf = io.BytesIO()
    engine.save(obj, buf)
    buf.seek(0)
    return engine.load(buf, **kw)


def test_save_load_objects(tmp_path):
    t = engine.tensor([[1.5, -2.0], [3.0, 4.0]], dtype=engine.float64)
    shared = engine.arange(5)
    obj = {"t": t, "i": engine.tensor([1, 2], dtype=engine.int32), "b": engine.tensor([True, False]),
           "h": engine.tensor([0.5], dtype=engine.float16), "s1": shared, "s2": shared, "n": None, "x": 3,
           "f": float("inf"), "str": "a", "l": [1, (2.5, "z")], "size": engine.Size([2, 3]),
           "dtype": engine.float64, "dev": engine.device("cpu"), 7: "int key", ("a", 1): [],
           "g": engine.tensor([1.0, 2.0], requires_grad=True), "p": engine.nn.Parameter(engine.ones(2))}
    out = _roundtrip(obj)
    assert list(out) == list(obj)
    for k in ("t", "i", "b", "h", "s1", "g"):
        assert out[k].dtype is obj[k].dtype and engine.equal(out[k], obj[k])
    assert out["s1"] is out["s2"]  # one tensor saved twice loads as one object
    assert out["g"].requires_grad and isinstance(out["p"], engine.nn.Parameter) and out["p"].requires_grad
    assert out["n"] is None and out["x"] == 3 and out["f"] == float("inf") and out["l"] == [1, (2.5, "z")]
    assert out["size"] == engine.Size([2, 3]) and type(out["size"]) is engine.Size
    assert out["dtype"] is engine.float64 and out["dev"] == engine.device("cpu") and out[7] == "int key"
    path = tmp_path / "model.pth"
    engine.save(t, str(path))
    assert path.exists() and not (tmp_path / "model.pth.npz").exists()
    assert engine.equal(engine.load(path), t)
    assert engine.equal(engine.load(str(path), map_location="cpu"), t)
    assert engine.equal(engine.load(str(path), map_location={"cuda:0": "cpu"}), t)
    with pytest.raises(NotImplementedError, match="map_location"):
        engine.load(str(path), map_location=lambda storage, loc: storage)


def test_save_load_model_and_optimizer_state():
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    m = engine.nn.Sequential(engine.nn.Linear(3, 4), engine.nn.BatchNorm1d(4), engine.nn.Linear(4, 2))
    opt = engine.optim.Adam(m.parameters(), lr=0.01)
    m(engine.randn(5, 3)).sum().backward()
    opt.step()
    ckpt = {"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}
    back = _roundtrip(ckpt)
    m2 = engine.nn.Sequential(engine.nn.Linear(3, 4), engine.nn.BatchNorm1d(4), engine.nn.Linear(4, 2))
    assert repr(m2.load_state_dict(back["model"])) == "<All keys matched successfully>"
    assert back["model"]._metadata == m.state_dict()._metadata == torch_model.state_dict()._metadata
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert a.dtype is b.dtype and engine.equal(a, b)
    opt2 = engine.optim.Adam(m2.parameters(), lr=0.01)
    opt2.load_state_dict(back["optimizer"])
    assert back["epoch"] == 3 and opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_save_refuses_arbitrary_objects():
    with pytest.raises(TypeError, match="never pickles objects"):
        engine.save(engine.nn.Linear(2, 2), io.BytesIO())
    with pytest.raises(TypeError, match="never pickles objects"):
        engine.save({"f": lambda: 1}, io.BytesIO())


def _npz(arrays, compress=False):
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


def _manifest(doc):
    return np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


UNTRUSTED = [
    pickle.dumps({"x": Boom()}),  # a pickle
    b"",  # nothing
    b"PK\x03\x04 not really a zip",
    _npz({"a": np.zeros(2)}),  # no manifest
    _npz({"__manifest__": np.frombuffer(b"{not json", dtype=np.uint8)}),
    _npz({"__manifest__": _manifest({"format": "other", "root": 1})}),
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"tensor": "t9"}})}),
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"eval": "1"}})}),
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"dtype": "object"}})}),
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"tensor": "t0"}}),
          "t0": np.array([Boom()], dtype=object)}),  # an object array: a pickle inside the npz
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"tensor": "t0"}}),
          "t0": np.zeros(10**6)}, compress=True),  # compressed: may claim any size
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1",
                                     "root": {"list": [{"list": []}] * 3 + [{"dict": [[{"tuple": 5}, 1]]}]}})}),
    _npz({"__manifest__": _manifest({"format": "gradserve-engine-save/1", "root": {"tensor": "t0"}}),
          "t0": np.zeros(2, dtype=np.complex64)}),
]


@pytest.mark.parametrize("data", UNTRUSTED)
def test_load_untrusted_files_only_fail(data):
    with pytest.raises(RuntimeError, match="engine.load: not a file engine.save wrote"):
        engine.load(io.BytesIO(data))


def test_load_deeply_nested_manifest_fails_cleanly():
    deep = '{"format": "gradserve-engine-save/1", "root": ' + '{"list": [' * 50000 + "1" + "]}" * 50000 + "}"
    data = _npz({"__manifest__": np.frombuffer(deep.encode(), dtype=np.uint8)})
    with pytest.raises(RuntimeError, match="engine.load: not a file engine.save wrote"):
        engine.load(io.BytesIO(data))


def test_saved_file_is_a_plain_uncompressed_npz():
    buf = io.BytesIO()
    engine.save({"w": engine.ones(2, 2)}, buf)
    zf = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    assert all(m.compress_type == zipfile.ZIP_STORED for m in zf.infolist())
    npz = np.load(io.BytesIO(buf.getvalue()), allow_pickle=False)
    assert sorted(npz.files) == ["__manifest__", "t0"] and (npz["t0"] == 1).all()
