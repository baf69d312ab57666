"""Saved-tensor hooks (saved_tensors_hooks, disable_saved_tensors_hooks, save_on_cpu; in-place ops and custom
Functions under them), grad_fn._raw_saved_<name>, and torch.autograd.graph's other helpers, against live torch 2.13.
(The backward hooks on tensors and nodes: test_hooks_backward.py.)

Each test runs one function on both modules (`m` is torch or engine) and compares what it returns, logs, raises or
warns (tests/engine/hooks_both.py).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.engine.hooks_both import Recorder, Scale, desc, graph_mod, same

# ----- saved_tensors_hooks: what is packed, when, and what each use unpacks -----

def _mul_exp_program(m, rec):
    a = m.tensor([1.0, 2.0, -0.5], requires_grad=True)
    b = m.tensor([0.5, -1.0, 2.0], requires_grad=True) * 2
    rec.known.update(a=a, b=b)
    with rec.hooks():
        y = a * b
        e = y.exp()
        rec.known.update(y=y, e=e)
        s = e.sin().pow(2)
        q = (s / b).sum()
    packed = list(rec.log)
    rec.log.clear()
    q.backward()
    return packed, list(rec.log), a.grad


def _matmul_program(m, rec):
    g = m.Generator().manual_seed(0) if hasattr(m, "Generator") else None  # noqa: F841 - values below are fixed
    x = m.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
    w = m.tensor([[1.0, -2.0], [0.5, 0.5], [-1.0, 3.0]], requires_grad=True)
    bias = m.tensor([0.1, -0.2], requires_grad=True)
    rec.known.update(x=x, w=w, bias=bias)
    with rec.hooks():
        h = m.nn.functional.linear(x, w.t(), bias)
        r = m.relu(h)
        t = m.tanh(r) + m.sigmoid(h)
        loss = m.nn.functional.mse_loss(m.softmax(t, dim=1), m.zeros(2, 2)) + (x @ w).mean()
    packed = list(rec.log)
    rec.log.clear()
    loss.backward()
    return packed, list(rec.log), [x.grad, w.grad, bias.grad]


def _conv_program(m, rec):
    x = m.arange(32.0).reshape(1, 2, 4, 4).div(10).requires_grad_()
    k = m.linspace(-1, 1, 36).reshape(2, 2, 3, 3).requires_grad_()
    rec.known.update(x=x, k=k)
    with rec.hooks():
        y = m.nn.functional.conv2d(x, k, padding=1)
        z = m.nn.functional.max_pool2d(y, 2).log_softmax(dim=1).sum()
    packed = list(rec.log)
    rec.log.clear()
    z.backward()
    return packed, list(rec.log), [x.grad, k.grad]


@pytest.mark.parametrize("program", [_mul_exp_program, _matmul_program, _conv_program],
                         ids=["mul-exp-sin-pow-div", "linear-relu-softmax-mse", "conv-pool-logsoftmax"])
def test_pack_and_unpack_see_what_torch_shows_them(program):
    same(lambda m: program(m, Recorder(m)))


def test_the_docs_example_packs_the_tensors_themselves_and_unpacks_new_ones():
    def f(m):
        rec = Recorder(m)
        a = m.ones(5, requires_grad=True)
        b = m.ones(5, requires_grad=True) * 2
        rec.known.update(a=a, b=b)
        with rec.hooks():
            y = a * b
        rec.known["y"] = y
        y.sum().backward()
        return rec.log, a.grad, b.grad if False else None
    log = same(f)[1][0]
    assert [e[0] for e in log] == ["pack", "pack", "unpack", "unpack"]
    assert [e[-2] for e in log] == [["b"], ["a"], ["b"], ["a"]]  # each unpack is given what its pack returned


def test_an_output_is_packed_as_the_very_tensor_returned():
    def f(m):
        seen = []
        a = m.tensor([0.5, 1.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: seen.append(x) or x, lambda x: x):
            e = a.exp()
        return [s is e for s in seen], e.grad_fn._saved_result is e, e.grad_fn._saved_result.grad_fn is e.grad_fn
    assert same(f)[1] == ([True], False, True)


def test_each_access_of_saved_attributes_unpacks_again():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, 2.0], requires_grad=True)
        rec.known["a"] = a
        with rec.hooks():
            y = a.pow(3)
        s1, s2 = y.grad_fn._saved_self, y.grad_fn._saved_self
        return rec.log, s1 is a, s1 is s2, s1.requires_grad, s1.is_leaf, y.grad_fn._saved_exponent
    same(f)


def test_saved_tensors_with_hooks_have_no_version_check():
    def f(m):
        c = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: x, lambda x: x):
            d = c.clone()
            y = d * d
        d.add_(1)
        y.sum().backward()
        return c.grad
    same(f)


def test_without_hooks_the_same_program_fails_its_version_check():
    def f(m):
        c = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        d = c.clone()
        y = d * d
        d.add_(1)
        y.sum().backward()
    assert same(f)[0] == "raise"


def test_packs_run_under_no_grad_and_unpacks_in_the_backward_mode():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, -2.0], requires_grad=True)
        with rec.hooks():
            y = (a * a).sum()
        (g,) = m.autograd.grad(y, a, create_graph=True)
        y2 = (a.sin() * 2).sum()  # outside the hooks: nothing logged
        y2.backward()
        return rec.log, g
    same(f)


def test_ops_recorded_by_a_create_graph_backward_are_packed_too():
    def f(m):
        rec = Recorder(m)
        x = m.tensor([0.5, 1.5, -1.0], requires_grad=True)
        y = (x * x * x).sum()
        with rec.hooks():
            (g,) = m.autograd.grad(y, x, create_graph=True)
        packed = list(rec.log)
        g.sum().backward()
        return packed, rec.log[len(packed):], x.grad
    same(f)


@pytest.mark.parametrize("packed_as", ["detached", "numpy", "tuple"])
def test_hooks_that_pack_to_other_objects_give_torch_gradients(packed_as):
    def f(m):
        keep = {"detached": lambda x: x.detach(), "numpy": lambda x: x.detach().numpy().copy(),
                "tuple": lambda x: ("kept", x.detach().clone())}[packed_as]
        give = {"detached": lambda p: p, "numpy": lambda p: m.from_numpy(p),
                "tuple": lambda p: p[1]}[packed_as]
        x = m.tensor([[0.3, -1.2], [2.0, 0.7]], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(keep, give):
            y = (x.exp() * x.sigmoid()).matmul(x).tanh().sum()
        y.backward()
        return x.grad
    same(f)


def test_the_innermost_pair_applies_and_hooks_are_per_thread():
    def f(m):
        log = []
        a = m.tensor([1.0, 2.0], requires_grad=True)
        gm = graph_mod(m)
        with gm.saved_tensors_hooks(lambda x: log.append("outer") or x, lambda x: x):
            with gm.saved_tensors_hooks(lambda x: log.append("inner") or x, lambda x: x):
                a * a
            a * a
            t = threading.Thread(target=lambda: a * a)
            t.start()
            t.join()
        a * a
        return log
    assert same(f)[1] == ["inner", "inner", "outer", "outer"]


def test_a_pack_hook_that_modifies_its_input_in_place_fails():
    def f(m):
        c = m.tensor([1.0, 2.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: x.add_(1), lambda x: x):
            d = c.clone()
            d * d
    assert same(f)[0] == "raise"


@pytest.mark.parametrize("result", ["int", "none", "array", "list"])
def test_an_unpack_hook_must_give_a_tensor(result):
    def f(m):
        value = {"int": 3, "none": None, "array": np.zeros(2), "list": [1.0, 2.0]}[result]
        c = m.tensor([1.0, 2.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: x, lambda x: value):
            y = (c.clone() * c).sum()
        y.backward()
    assert same(f)[1] == "TypeError"


def test_errors_raised_by_the_hooks_propagate():
    def boom(x):
        raise ValueError("boom")

    def in_pack(m):
        c = m.tensor([1.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(boom, lambda x: x):
            c * c

    def in_unpack(m):
        c = m.tensor([1.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: x, boom):
            y = c * c
        y.backward()

    assert same(in_pack) == ("raise", "ValueError", "boom")
    assert same(in_unpack) == ("raise", "ValueError", "boom")


def test_a_second_backward_through_packed_tensors_is_refused_as_torch_does():
    def f(m):
        c = m.tensor([1.0, 2.0], requires_grad=True)
        with graph_mod(m).saved_tensors_hooks(lambda x: x, lambda x: x):
            y = (c * c).sum()
        y.backward()
        try:
            _ = y.grad_fn.next_functions[0][0]._saved_self
        except RuntimeError as e:
            first = str(e)
        y.backward()
        return first
    assert same(f)[0] == "raise"


def test_disable_saved_tensors_hooks():
    def inside(m):
        gm = graph_mod(m)
        with gm.disable_saved_tensors_hooks("hooks are off here"):
            with gm.saved_tensors_hooks(lambda x: x, lambda x: x):
                pass

    def nested(m):
        gm = graph_mod(m)
        out = []
        with gm.disable_saved_tensors_hooks("A"):
            with gm.disable_saved_tensors_hooks("B"):
                try:
                    with gm.saved_tensors_hooks(lambda x: x, lambda x: x):
                        pass
                except RuntimeError as e:
                    out.append(str(e))
            try:
                with gm.saved_tensors_hooks(lambda x: x, lambda x: x):
                    pass
            except RuntimeError as e:
                out.append(str(e))
        with gm.saved_tensors_hooks(lambda x: x, lambda x: x):
            out.append("enabled again")
        return out

    def while_hooks_are_on(m):
        gm = graph_mod(m)
        log = []
        a = m.tensor([1.0], requires_grad=True)
        with gm.saved_tensors_hooks(lambda x: log.append("p") or x, lambda x: x):
            try:
                with gm.disable_saved_tensors_hooks("cannot disable now"):
                    log.append("entered")
            except RuntimeError as e:
                log.append(str(e))
            a * a
        return log

    assert same(inside) == ("raise", "RuntimeError", "hooks are off here")
    assert same(nested)[1] == ["B", "A", "enabled again"]
    assert same(while_hooks_are_on)[1] == ["cannot disable now", "p", "p"]


def test_save_on_cpu_gives_torch_gradients():
    def f(m):
        x = m.tensor([[0.3, -1.2], [2.0, 0.7]], requires_grad=True)
        with graph_mod(m).save_on_cpu():
            y = (x.exp() * x).matmul(x.t()).sum()
        with graph_mod(m).save_on_cpu(pin_memory=True):
            z = (x.sin() * x).sum()
        saved = y.grad_fn.next_functions[0][0].next_functions[0][0]._saved_self
        (y + z).backward()
        return x.grad, saved
    same(f)


# ----- in-place ops and custom Functions under hooks -----


@pytest.mark.parametrize("packed_as", ["itself", "a clone", "save_on_cpu"])
def test_forward_over_reverse_through_packed_tensors(packed_as):
    """A saved tensor's tangent travels beside its packed value (torch's SavedVariable keeps fw_grad_): the
    tangent of a gradient taken inside a dual level is torch's whether or not the saved tensors were packed."""

    def prog(m):
        fwad = m.autograd.forward_ad
        x = m.tensor([0.3, -1.2, 2.0], dtype=m.float64, requires_grad=True)
        rec = Recorder(m, keep=(lambda t: t.clone()) if packed_as == "a clone" else (lambda t: t))
        if packed_as == "save_on_cpu":
            hooks = m.autograd.graph.save_on_cpu()
        else:
            hooks = m.autograd.graph.saved_tensors_hooks(rec.pack, rec.unpack)
        with fwad.dual_level():
            xd = fwad.make_dual(x, m.tensor([1.0, 0.5, -2.0], dtype=m.float64))
            with hooks:
                y = (xd.exp() * xd.sin()).sum() + xd.tanh().pow(3).sum() + xd.sigmoid() @ xd.exp()
            (g,) = m.autograd.grad(y, x, create_graph=True)
            return fwad.unpack_dual(g).tangent, g, [e[0] for e in rec.log]

    same(prog)


def test_in_place_ops_pack_the_values_from_before_the_write():
    # torch saves an in-place op's input as a recorded clone of it (grad_fn CloneBackward0 over its history); the
    # engine's stand-in carries the history itself, so the grad_fn names of what is packed are not compared here
    def f(m):
        seen, unpacked = [], []
        c = m.tensor([1.0, -2.0, 0.5], requires_grad=True)
        w = m.tensor([2.0, 3.0, -1.0], requires_grad=True)
        d = c.clone()
        with m.autograd.graph.saved_tensors_hooks(lambda x: seen.append((x, x.detach().clone())) or x,
                                                  lambda x: unpacked.append(x.detach().clone()) or x):
            d.mul_(w)
            d.sin_()
        d.sum().backward()
        return [x is w for x, _ in seen], [v for _, v in seen], unpacked, c.grad, w.grad
    same(f)


def test_save_for_backward_goes_through_the_hooks():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = m.tensor([0.5, -1.0, 2.0])
        rec.known.update(a=a, b=b)
        with rec.hooks():
            o = Scale.make(m).apply(a, b)
        rec.known["o"] = o
        packed = list(rec.log)
        rec.log.clear()
        saved = o.grad_fn.saved_tensors
        first_access = list(rec.log)
        o.sum().backward()
        return packed, first_access, [desc(s) for s in saved if s is not None], saved[2], a.grad
    same(f)


def test_raw_saved_tensors_of_a_custom_function():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = m.tensor([0.5, -1.0, 2.0])
        o = Scale.make(m).apply(a, b)
        raw = o.grad_fn._raw_saved_tensors
        raw[0].register_hooks(rec.pack, rec.unpack)
        out = [len(raw), type(raw).__name__, raw[0].unpack_hook is rec.unpack, raw[1].unpack_hook]
        try:
            raw[2].register_hooks(rec.pack, rec.unpack)
        except RuntimeError as e:
            out.append(str(e))
        o.sum().backward()
        out.append(rec.log)
        try:
            _ = o.grad_fn._raw_saved_tensors
        except RuntimeError as e:
            out.append(str(e))
        return out, a.grad
    same(f)


# ----- grad_fn._raw_saved_<name> -----


def test_raw_saved_register_hooks_on_an_input_and_an_output():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, 2.0, -0.5], requires_grad=True)
        b = a.clone()
        rec.known.update(a=a, b=b)
        y = b * b
        e = b.exp()
        raw_self, raw_res = y.grad_fn._raw_saved_self, e.grad_fn._raw_saved_result
        out = [raw_self is y.grad_fn._raw_saved_self, raw_self.data is b, raw_self.unpack_hook,
               raw_self.unpack() is b, desc(raw_res.data)]
        raw_self.register_hooks(rec.pack, rec.unpack)
        y.grad_fn._raw_saved_other.register_hooks(rec.pack, rec.unpack)
        raw_res.register_hooks(rec.pack, rec.unpack)
        out += [raw_self.unpack_hook is rec.unpack, desc(raw_self.data, rec.known)]
        s = y.grad_fn._saved_self
        out += [s is b, desc(s, rec.known), desc(e.grad_fn._saved_result), e.grad_fn._saved_result.grad_fn is e.grad_fn]
        b.add_(1)  # no version check once hooked
        (y.sum() + e.sum()).backward()
        out += [rec.log, a.grad]
        return out
    same(f)


@pytest.mark.parametrize("case", ["twice", "none", "freed", "unpack-output", "unpack-freed", "not-a-tensor-attr",
                                  "construct"])
def test_raw_saved_errors(case):
    def f(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        if case == "twice":
            y = a * a
            y.grad_fn._raw_saved_self.register_hooks(lambda x: x, lambda x: x)
            y.grad_fn._raw_saved_self.register_hooks(lambda x: x, lambda x: x)
        if case == "none":
            y = a * m.tensor([3.0, 4.0])
            return [y.grad_fn._saved_self, y.grad_fn._raw_saved_self.data,
                    y.grad_fn._raw_saved_self.register_hooks(lambda x: x, lambda x: x)]
        if case == "freed":
            y = a * a
            y.sum().backward()
            return [y.grad_fn._raw_saved_self.data, y.grad_fn._raw_saved_self.register_hooks(lambda x: x, lambda x: x)]
        if case == "unpack-output":
            return a.exp().grad_fn._raw_saved_result.unpack()
        if case == "unpack-freed":
            y = a.sin()
            y.sum().backward()
            return y.grad_fn._raw_saved_self.unpack()
        if case == "not-a-tensor-attr":
            return a.pow(2).grad_fn._raw_saved_exponent
        if case == "construct":
            return type(a.exp().grad_fn._raw_saved_result)()
    assert same(f)[0] == "raise"


# ----- torch.autograd.graph's other helpers -----


def test_increment_version_makes_the_saved_tensor_stale():
    def f(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        b = a * 1
        y = (b * b).sum()
        graph_mod(m).increment_version(b)
        y.backward()
    assert same(f)[0] == "raise"


def test_gradient_edges():
    def f(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x * 3
        loss = (h * h).sum()
        edge = graph_mod(m).get_gradient_edge(h)
        out = [type(edge).__name__, edge.node is h.grad_fn, edge.output_nr,
               graph_mod(m).get_gradient_edge(x).node is h.grad_fn.next_functions[0][0]]
        out.append(m.autograd.grad(loss, edge, retain_graph=True))
        out.append(m.autograd.grad(loss, [edge, x]))
        out.append(isinstance(h.grad_fn, graph_mod(m).Node))
        try:
            graph_mod(m).get_gradient_edge(m.ones(2))
        except RuntimeError as e:
            out.append(str(e))
        return out
    same(f)
