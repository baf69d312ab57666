"""engine.nn's layer, activation, loss and container modules against live torch 2.13: with torch's parameters
loaded through load_state_dict, the same forward values, grad_fn, input and parameter gradients, repr,
state_dict keys and parameter shapes; the default initialisations' bounds; BatchNorm's running statistics."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import engine
from engine.errors import TorchNotImplementedError


def _inputs(lib, specs, seed, dtype):
    rng = np.random.default_rng(seed)
    out = []
    for spec in specs:
        kind, shape = spec[0], spec[1]
        if kind == "f":  # a float input that requires grad
            out.append(lib.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True))
        elif kind == "p":  # probabilities in (0, 1), requiring grad
            out.append(lib.tensor(rng.uniform(0.05, 0.95, shape).astype(dtype), requires_grad=True))
        elif kind == "l":  # class indices
            out.append(lib.tensor(rng.integers(0, spec[2], shape), dtype=lib.int64))
        elif kind == "t":  # a float target in [0, 1], no grad
            out.append(lib.tensor(rng.uniform(0, 1, shape).astype(dtype)))
        elif kind == "s":  # a +-1 target
            out.append(lib.tensor(rng.choice([-1.0, 1.0], shape).astype(dtype)))
    return out


# (id, constructor over an nn namespace, input specs)
MODULES = [
    ("Linear", lambda nn: nn.Linear(3, 4), [("f", (5, 3))]),
    ("Linear-nobias-3d", lambda nn: nn.Linear(3, 2, bias=False), [("f", (2, 5, 3))]),
    ("Identity", lambda nn: nn.Identity(3, k=1), [("f", (2, 3))]),
    ("Conv1d", lambda nn: nn.Conv1d(2, 3, 3, stride=2, padding=1), [("f", (2, 2, 9))]),
    ("Conv2d", lambda nn: nn.Conv2d(2, 3, (3, 2), padding=1, dilation=(1, 2)), [("f", (2, 2, 6, 7))]),
    ("Conv2d-groups", lambda nn: nn.Conv2d(4, 4, 3, groups=2, bias=False), [("f", (1, 4, 5, 5))]),
    ("Conv2d-reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"), [("f", (1, 2, 5, 6))]),
    ("Conv1d-circular", lambda nn: nn.Conv1d(2, 2, 3, padding=2, padding_mode="circular"), [("f", (2, 2, 7))]),
    ("Conv2d-replicate", lambda nn: nn.Conv2d(1, 2, 2, padding=1, padding_mode="replicate"), [("f", (1, 1, 4, 4))]),
    ("ReflectionPad1d", lambda nn: nn.ReflectionPad1d((2, 1)), [("f", (2, 3, 5))]),
    ("ReflectionPad2d", lambda nn: nn.ReflectionPad2d(1), [("f", (1, 2, 3, 4))]),
    ("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((1, 0, 2, 1)), [("f", (2, 3, 4))]),
    ("ReplicationPad3d", lambda nn: nn.ReplicationPad3d(1), [("f", (1, 1, 2, 3, 3))]),
    ("CircularPad2d", lambda nn: nn.CircularPad2d((1, 2, 0, 1)), [("f", (1, 2, 3, 4))]),
    ("ConstantPad1d", lambda nn: nn.ConstantPad1d((1, 2), 0.5), [("f", (2, 3))]),
    ("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 1, 2, 0)), [("f", (1, 3, 3))]),
    ("MaxPool2d", lambda nn: nn.MaxPool2d(2), [("f", (2, 3, 6, 6))]),
    ("MaxPool2d-ceil", lambda nn: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [("f", (1, 2, 7, 7))]),
    ("AvgPool2d", lambda nn: nn.AvgPool2d(2), [("f", (2, 3, 6, 6))]),
    ("AvgPool2d-pad", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False), [("f", (1, 2, 7, 7))]),
    ("Flatten", lambda nn: nn.Flatten(), [("f", (2, 3, 4))]),
    ("Flatten-0-1", lambda nn: nn.Flatten(0, 1), [("f", (2, 3, 4))]),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [("f", (4, 6))]),
    ("Dropout-eval-like", lambda nn: nn.Dropout(p=0.0), [("f", (3, 4))]),
    ("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), [("f", (6, 3))]),
    ("BatchNorm1d-3d-momentum-none", lambda nn: nn.BatchNorm1d(3, momentum=None), [("f", (4, 3, 5))]),
    ("BatchNorm1d-no-affine", lambda nn: nn.BatchNorm1d(3, affine=False), [("f", (6, 3))]),
    ("BatchNorm2d", lambda nn: nn.BatchNorm2d(2), [("f", (3, 2, 4, 4))]),
    ("BatchNorm2d-untracked", lambda nn: nn.BatchNorm2d(2, track_running_stats=False), [("f", (3, 2, 3, 3))]),
    ("LayerNorm", lambda nn: nn.LayerNorm(4), [("f", (3, 4))]),
    ("LayerNorm-2d-noaffine", lambda nn: nn.LayerNorm((2, 4), elementwise_affine=False), [("f", (3, 2, 4))]),
    ("LayerNorm-nobias", lambda nn: nn.LayerNorm(4, eps=1e-3, bias=False), [("f", (2, 4))]),
    ("Embedding", lambda nn: nn.Embedding(10, 3), [("l", (2, 5), 10)]),
    ("Embedding-padding", lambda nn: nn.Embedding(10, 3, padding_idx=-1), [("l", (7,), 10)]),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=1), [("f", (3, 4)), ("f", (3, 4))]),
    ("Sequential", lambda nn: nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.LogSoftmax(dim=1)),
     [("f", (5, 4))]),
    ("Sequential-cnn", lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                                nn.Linear(8, 3)), [("f", (2, 1, 6, 6))]),
]
ACTIVATIONS = [
    ("ReLU", lambda nn: nn.ReLU()), ("ReLU6", lambda nn: nn.ReLU6()), ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2)),
    ("ELU", lambda nn: nn.ELU(alpha=0.7)), ("CELU", lambda nn: nn.CELU(1.3)), ("SELU", lambda nn: nn.SELU()),
    ("GELU", lambda nn: nn.GELU()), ("GELU-tanh", lambda nn: nn.GELU("tanh")), ("SiLU", lambda nn: nn.SiLU()),
    ("Mish", lambda nn: nn.Mish()), ("Sigmoid", lambda nn: nn.Sigmoid()), ("Tanh", lambda nn: nn.Tanh()),
    ("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.7)), ("Hardsigmoid", lambda nn: nn.Hardsigmoid()),
    ("Hardswish", lambda nn: nn.Hardswish()), ("Hardshrink", lambda nn: nn.Hardshrink(0.3)),
    ("Softshrink", lambda nn: nn.Softshrink()), ("Tanhshrink", lambda nn: nn.Tanhshrink()),
    ("Softsign", lambda nn: nn.Softsign()), ("Softplus", lambda nn: nn.Softplus(beta=2.0, threshold=3.0)),
    ("LogSigmoid", lambda nn: nn.LogSigmoid()), ("Threshold", lambda nn: nn.Threshold(0.1, 20.0)),
    ("Softmax", lambda nn: nn.Softmax(dim=1)), ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1)),
    ("Softmin", lambda nn: nn.Softmin(dim=0)), ("Softmax2d", lambda nn: nn.Softmax2d()),
]
MODULES += [(n, c, [("f", (2, 3, 4, 5))]) for n, c in ACTIVATIONS]
LOSSES = [
    ("MSELoss", lambda nn: nn.MSELoss(), [("f", (4, 3)), ("t", (4, 3))]),
    ("MSELoss-sum", lambda nn: nn.MSELoss(reduction="sum"), [("f", (4, 3)), ("t", (4, 3))]),
    ("L1Loss-none", lambda nn: nn.L1Loss(reduction="none"), [("f", (4, 3)), ("t", (4, 3))]),
    ("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(), [("f", (5, 4)), ("l", (5,), 4)]),
    ("CrossEntropyLoss-smooth", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=1),
     [("f", (6, 3)), ("l", (6,), 3)]),
    ("NLLLoss", lambda nn: nn.NLLLoss(reduction="sum"), [("f", (5, 4)), ("l", (5,), 4)]),
    ("BCELoss", lambda nn: nn.BCELoss(), [("p", (4, 2)), ("t", (4, 2))]),
    ("BCEWithLogitsLoss", lambda nn: nn.BCEWithLogitsLoss(), [("f", (4, 2)), ("t", (4, 2))]),
    ("HuberLoss", lambda nn: nn.HuberLoss(delta=0.5), [("f", (4, 3)), ("t", (4, 3))]),
    ("SmoothL1Loss", lambda nn: nn.SmoothL1Loss(beta=0.3), [("f", (4, 3)), ("t", (4, 3))]),
    ("KLDivLoss", lambda nn: nn.KLDivLoss(reduction="batchmean"), [("f", (3, 4)), ("t", (3, 4))]),
]
MODULES += LOSSES


def _engine_state(tmod):
    return {k: engine.from_numpy(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()}


def _run(lib, mod, inputs):
    out = mod(*inputs)
    g = np.random.default_rng(9).standard_normal(tuple(out.shape))
    out.backward(lib.tensor(g.astype(out.detach().numpy().dtype)))
    return out




@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name,make,specs", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch(name, make, specs, dtype):
    tmod = make(torch.nn)
    emod = make(engine.nn)
    if dtype == np.float64:
        tmod, emod = tmod.double(), emod.double()
    assert repr(emod) == repr(tmod)
    assert list(emod.state_dict().keys()) == list(tmod.state_dict().keys())
    assert [(n, tuple(p.shape), p.requires_grad) for n, p in emod.named_parameters()] == \
        [(n, tuple(p.shape), p.requires_grad) for n, p in tmod.named_parameters()]
    assert [str(v.dtype) for v in emod.state_dict().values()] == [str(v.dtype) for v in tmod.state_dict().values()]
    assert repr(emod.load_state_dict(_engine_state(tmod))) == "<All keys matched successfully>"
    tin = _inputs(torch, specs, 1, dtype)
    ein = _inputs(engine, specs, 1, dtype)
    tout = _run(torch, tmod, tin)
    eout = _run(engine, emod, ein)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    assert eout.dtype.name == str(tout.dtype).removeprefix("torch.")
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    assert type(eout.grad_fn).__name__ == type(tout.grad_fn).__name__
    for e, t in zip(ein, tin):
        if t.requires_grad:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    for (n, e), (_, t) in zip(emod.named_parameters(), tmod.named_parameters()):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol, err_msg=n)
    for (n, e), (_, t) in zip(emod.named_buffers(), tmod.named_buffers()):  # running statistics after a step
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=tol, atol=tol, err_msg=n)


@pytest.mark.parametrize("name,make,specs", [m for m in MODULES if m[0].startswith("BatchNorm")],
                         ids=[m[0] for m in MODULES if m[0].startswith("BatchNorm")])
def test_batchnorm_train_then_eval(name, make, specs):
    """Three training batches update the running statistics (num_batches_tracked, momentum or the cumulative
    average), then eval mode normalises with them: all as torch."""
    tmod, emod = make(torch.nn).double(), make(engine.nn).double()
    for seed in (1, 2, 3):
        tmod(*_inputs(torch, specs, seed, np.float64))
        emod(*_inputs(engine, specs, seed, np.float64))
    tmod.eval()
    emod.eval()
    assert not emod.training
    t = tmod(*_inputs(torch, specs, 4, np.float64))
    e = emod(*_inputs(engine, specs, 4, np.float64))
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for (n, eb), (_, tb) in zip(emod.named_buffers(), tmod.named_buffers()):
        np.testing.assert_allclose(eb.numpy(), tb.numpy(), rtol=1e-12, err_msg=n)


@pytest.mark.parametrize("make,shape", [
    (lambda nn: nn.BatchNorm1d(3), (2, 3, 4, 5)), (lambda nn: nn.BatchNorm2d(3), (2, 3, 4)),
    (lambda nn: nn.Softmax2d(), (3, 4)), (lambda nn: nn.Linear(3, 2), (2, 4)),
    (lambda nn: nn.Conv2d(2, 3, 3), (1, 3, 5, 5)), (lambda nn: nn.Unflatten(1, (2, 2)), (2, 5)),
])
def test_forward_errors_as_torch(make, shape):
    def run(lib):
        try:
            make(lib.nn)(lib.zeros(*shape))
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e)
        return None

    t = run(torch)
    assert t is not None and run(engine) == t


@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv2d(3, 4, 3, groups=2), lambda nn: nn.Conv2d(4, 3, 3, groups=2),
    lambda nn: nn.Conv2d(2, 2, 3, padding="full"), lambda nn: nn.Conv2d(2, 2, 3, stride=2, padding="same"),
    lambda nn: nn.Conv2d(2, 2, 3, padding_mode="mirror"), lambda nn: nn.Dropout(1.5),
    lambda nn: nn.Hardtanh(1.0, 0.5), lambda nn: nn.Embedding(5, 2, padding_idx=5),
    lambda nn: nn.Unflatten(1, [2, 2.0]), lambda nn: nn.Unflatten(1, 4), lambda nn: nn.HuberLoss(delta="1"),
    lambda nn: nn.Linear(2, 3).to(torch.int64 if nn is torch.nn else engine.int64),
])
def test_constructor_errors_as_torch(make):
    def run(lib):
        try:
            make(lib.nn)
        except Exception as e:  # noqa: BLE001
            # a set in a message prints in its hash order, which for a set constant is that of the process that
            # compiled the module's .pyc (torch's or ours): compared as sets
            return type(e).__name__, re.sub(r"\{[^{}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))), str(e))
        return None

    t = run(torch)
    assert t is not None and run(engine) == t


def test_dropout_training_and_eval():
    engine.manual_seed(0)
    m = engine.nn.Dropout(p=0.25)
    x = engine.ones(2000, dtype=engine.float64)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert 0.2 < (y == 0).mean() < 0.3
    m.eval()
    assert engine.equal(m(x), x)


# ----- default initialisation -----


@pytest.mark.parametrize("make,name", [
    (lambda nn: nn.Linear(20, 30), "weight"), (lambda nn: nn.Linear(20, 30), "bias"),
    (lambda nn: nn.Conv2d(3, 8, 5), "weight"), (lambda nn: nn.Conv2d(3, 8, 5), "bias"),
    (lambda nn: nn.Conv1d(4, 2, 3, groups=2), "weight"),
])
def test_default_init_bounds(make, name):
    """kaiming_uniform_(a=sqrt(5)) and the bias bound: uniform in +-1/sqrt(fan_in), as torch's draw is, and
    reproducible from engine.manual_seed."""
    fan_in = int(np.prod(make(torch.nn).weight.shape[1:]))
    bound = 1 / math.sqrt(fan_in)
    engine.manual_seed(1)
    e = getattr(make(engine.nn), name).detach().numpy()
    t = getattr(make(torch.nn), name).detach().numpy()
    for a in (e, t):
        assert np.abs(a).max() <= bound
    assert np.abs(e).max() > 0.75 * bound and np.abs(e).max() > 0.75 * np.abs(t).max()
    engine.manual_seed(1)
    np.testing.assert_array_equal(getattr(make(engine.nn), name).detach().numpy(), e)


def test_embedding_init_is_standard_normal():
    engine.manual_seed(2)
    w = engine.nn.Embedding(200, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_embedding_padding_row_is_zero_and_from_pretrained():
    m = engine.nn.Embedding(6, 3, padding_idx=2)
    assert (m.weight.detach().numpy()[2] == 0).all()
    w = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = engine.nn.Embedding.from_pretrained(w)
    t = torch.nn.Embedding.from_pretrained(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert repr(e) == repr(t) and e.weight.requires_grad is t.weight.requires_grad is False
    assert e(engine.tensor([1, 0])).tolist() == t(torch.tensor([1, 0])).tolist()


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_modes(mode):
    """Conv2d's padding_mode pads with F.pad first, as torch does: values and gradients equal to torch's."""
    tmod = torch.nn.Conv2d(2, 3, 3, padding="same", padding_mode=mode).double()
    emod = engine.nn.Conv2d(2, 3, 3, padding="same", padding_mode=mode).double()
    assert repr(emod) == repr(tmod)
    emod.load_state_dict(_engine_state(tmod))
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 6))
    ex, tx = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    e, t = emod(ex), tmod(tx)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10)
    e.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(emod.weight.grad.numpy(), tmod.weight.grad.numpy(), rtol=1e-10)


# ----- modules over functional ops the op table is still gaining -----

PENDING = [
    (lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2), [("f", (1, 2, 4, 4))], "conv_transpose2d"),
    (lambda nn: nn.ConvTranspose1d(2, 3, 3), [("f", (1, 2, 5))], "conv_transpose1d"),
    (lambda nn: nn.Conv3d(1, 2, 2), [("f", (1, 1, 3, 3, 3))], "conv3d"),
    (lambda nn: nn.Bilinear(2, 3, 4), [("f", (5, 2)), ("f", (5, 3))], "bilinear"),
    (lambda nn: nn.MaxPool1d(2), [("f", (2, 3, 6))], "max_pool1d"),
    (lambda nn: nn.AvgPool1d(2), [("f", (2, 3, 6))], "avg_pool1d"),
    (lambda nn: nn.AdaptiveAvgPool2d((2, 3)), [("f", (1, 2, 5, 7))], "adaptive_avg_pool2d"),
    (lambda nn: nn.AdaptiveMaxPool2d(2), [("f", (1, 2, 5, 5))], "adaptive_max_pool2d"),
    (lambda nn: nn.GroupNorm(2, 4), [("f", (3, 4, 5))], "group_norm"),
    (lambda nn: nn.GLU(), [("f", (3, 4))], "glu"),
    (lambda nn: nn.PReLU(), [("f", (3, 4))], "prelu"),
]


@pytest.mark.parametrize("make,specs,fn", PENDING, ids=[p[2] for p in PENDING])
def test_modules_over_pending_ops(make, specs, fn):
    """Where engine.nn.functional has the op, the module matches torch; where not yet, it says which op is
    missing (NotImplementedError) instead of failing somewhere inside."""
    tmod = make(torch.nn).double()
    emod = make(engine.nn).double()
    assert repr(emod) == repr(tmod)
    assert list(emod.state_dict()) == list(tmod.state_dict())
    emod.load_state_dict(_engine_state(tmod))
    ein = _inputs(engine, specs, 1, np.float64)
    if not hasattr(engine.nn.functional, fn):
        with pytest.raises(TorchNotImplementedError, match=f"engine.nn.functional.{fn} is not in the engine's op"):
            emod(*ein)
        return
    t = tmod(*_inputs(torch, specs, 1, np.float64))
    np.testing.assert_allclose(emod(*ein).detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


# ----- the padding modules: constructors, reprs and the errors of inputs they cannot pad -----

PAD_MODULES = [f"{p}{n}d" for p in ("ConstantPad", "ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad")
               for n in (1, 2, 3)]


def _outcome(fn):
    try:
        return repr(fn())
    except Exception as e:  # noqa: BLE001
        return f"{[c.__name__ for c in type(e).__mro__ if c.__module__ == 'builtins'][0]}: {e}"


@pytest.mark.parametrize("name", PAD_MODULES)
def test_padding_module_repr_and_errors(name):
    n = int(name[-2])
    value = [0.5] if name.startswith("Constant") else []
    for padding in (1, tuple(range(1, 2 * n + 1)), 0):
        assert repr(getattr(engine.nn, name)(padding, *value)) == repr(getattr(torch.nn, name)(padding, *value))
    for shape in [(3,) * nd for nd in (1, n, n + 1, n + 2, n + 3)]:
        tmod, emod = getattr(torch.nn, name)(1, *value), getattr(engine.nn, name)(1, *value)
        t = _outcome(lambda: tuple(tmod(torch.ones(shape)).shape))  # noqa: B023
        e = _outcome(lambda: tuple(emod(engine.ones(shape)).shape))  # noqa: B023
        assert e == t, shape


# ----- ConvTranspose1d / 2d: forward, backward, repr and output_size against torch -----

CONV_T = [
    (lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=1, output_padding=(1, 2), groups=2,
                                   dilation=(1, 2)), (2, 4, 5, 4), None),
    (lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, bias=False), (3, 4, 4), [9, 9]),
    (lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1), (2, 3, 4, 4), [2, 2, 11, 12]),
    (lambda nn: nn.ConvTranspose1d(4, 2, 3, stride=2, padding=1, dilation=2, groups=2), (2, 4, 6), [13]),
    (lambda nn: nn.ConvTranspose1d(2, 3, 4, stride=3, output_padding=2), (2, 5), None),
    (lambda nn: nn.ConvTranspose1d(2, 3, 4, stride=3), (2, 2, 5), [2, 3, 17]),
]


@pytest.mark.parametrize("make,shape,output_size", CONV_T, ids=[f"ct{i}" for i in range(len(CONV_T))])
def test_conv_transpose_modules(make, shape, output_size):
    tmod, emod = make(torch.nn).double(), make(engine.nn).double()
    assert repr(emod) == repr(tmod)
    emod.load_state_dict(_engine_state(tmod))
    x = np.random.default_rng(3).standard_normal(shape)
    ex, tx = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    kw = {} if output_size is None else {"output_size": output_size}
    e, t = emod(ex, **kw), tmod(tx, **kw)
    assert tuple(e.shape) == tuple(t.shape) and type(e.grad_fn).__name__ == type(t.grad_fn).__name__
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(tuple(t.shape))
    e.backward(engine.tensor(g))
    t.backward(torch.tensor(g))
    for a, b in ((ex.grad, tx.grad), (emod.weight.grad, tmod.weight.grad)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    if tmod.bias is not None:
        np.testing.assert_allclose(emod.bias.grad.numpy(), tmod.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("output_size", [[20, 20], [8, 9], [1, 2, 3], [2, 3, 9, 9, 9]])
def test_conv_transpose_output_size_errors(output_size):
    """An output_size outside [min, min + stride) or of the wrong length: torch's ValueError and text."""
    outs = []
    for lib in (torch, engine):
        m = lib.nn.ConvTranspose2d(3, 2, 3, stride=2)
        outs.append(_outcome(lambda m=m, lib=lib: tuple(m(lib.ones(2, 3, 4, 4), output_size=output_size).shape)))
    assert outs[0].startswith("ValueError") and outs[1] == outs[0]


def test_conv_transpose_padding_mode():
    outs = [_outcome(lambda lib=lib: lib.nn.ConvTranspose1d(2, 3, 3, padding_mode="reflect"))
            for lib in (torch, engine)]
    assert outs[0].startswith("ValueError") and outs[1] == outs[0]
