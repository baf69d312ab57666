"""torch 2.13's derivatives.yaml marks the in-place acosh_, asinh_ and atanh_ `not_implemented`: the op runs and
records AcoshBackward1 (not the out-of-place AcoshBackward0), the backward through it raises NotImplementedError,
and so does a forward-AD tangent through it. The engine's answers are held to live torch's."""
import pytest
import torch
import torch.autograd.forward_ad as tfw

import engine
import engine.autograd.forward_ad as efw

VALUES = {"acosh_": [1.5, 2.0, 3.0], "asinh_": [-1.5, 0.25, 3.0], "atanh_": [0.5, -0.2, 0.1]}


def _outcome(lib, name, call):
    x = lib.tensor(VALUES[name], requires_grad=True)
    y = x * 1
    call(y)
    kind = type(y.grad_fn).__name__
    try:
        y.sum().backward()
        raised = None
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        raised = (type(e).__name__, str(e))
    return [round(v, 4) for v in y.detach().tolist()], kind, raised


@pytest.mark.parametrize("name", sorted(VALUES))
@pytest.mark.parametrize("form", ["method", "function"])
def test_backward_through_it_raises_as_torch(name, form):
    def call(lib):
        return (lambda y: getattr(y, name)()) if form == "method" else (lambda y: getattr(lib, name)(y))

    ours, theirs = _outcome(engine, name, call(engine)), _outcome(torch, name, call(torch))
    assert ours == theirs
    assert theirs[2] is not None and theirs[1].endswith("Backward1")


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_tangent_through_it_raises_as_torch(name):
    def run(lib, fw):
        with fw.dual_level():
            d = fw.make_dual(lib.tensor(VALUES[name]), lib.tensor([1.0, 1.0, 1.0])) * 1
            try:
                getattr(d, name)()
            except Exception as e:  # noqa: BLE001
                return type(e).__name__, str(e)
        return None

    assert run(engine, efw) == run(torch, tfw) is not None


@pytest.mark.parametrize("name", sorted(VALUES))
def test_without_grad_it_is_the_out_of_place_value(name):
    """The engine's out-of-place op, bit for bit (torch's own may differ from NumPy's in a transcendental's last
    bit: docs/ENGINE.md), and torch's within float32's rounding."""
    a, b = engine.tensor(VALUES[name]), torch.tensor(VALUES[name])
    expected = getattr(engine, name[:-1])(a).tolist()
    getattr(a, name)()
    getattr(b, name)()
    assert a.tolist() == expected
    assert a.tolist() == pytest.approx(b.tolist(), rel=2e-7)
