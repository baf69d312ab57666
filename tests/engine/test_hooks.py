"""Saved-tensor hooks, grad_fn._raw_saved_<name>, and the backward hooks on tensors and nodes, against live torch 2.13.

Each test runs one function on both modules (`m` is torch or engine, written `import engine as torch` style) and
compares what it returns, logs, raises or warns: the hooks' calls are logged as descriptions of the tensors they
see (shape, dtype, requires_grad, leaf, grad_fn name, identity with the tensors the program holds).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import engine
from tests.engine.both import outcome  # noqa: F401 - used by the cases below
from tests.engine.both import same as _same


def same(fn):
    """fn(torch) and fn(engine) agree (hook results compared at float32 tolerance)."""
    return _same(fn, rtol=1e-5, atol=1e-6)


def desc(x, known=None):
    """What a hook saw: its shape, dtype, requires_grad, is_leaf, grad_fn name, and which named tensor it is."""
    if not isinstance(x, torch.Tensor | engine.Tensor):
        return ("object", type(x).__name__)
    same_as = [k for k, v in (known or {}).items() if v is x]
    fn = x.grad_fn
    return (tuple(x.shape), str(x.dtype), x.requires_grad, x.is_leaf, type(fn).__name__ if fn else None, same_as)


def graph_mod(m):
    return m.autograd.graph


class Recorder:
    """A pack/unpack pair that logs what it sees; `known` names the program's tensors for identity checks."""

    def __init__(self, m, keep=lambda x: x, give=lambda p: p):
        self.m, self.log, self.known = m, [], {}
        self.keep, self.give = keep, give

    def pack(self, x):
        self.log.append(("pack", *desc(x, self.known), self.m.is_grad_enabled()))
        return self.keep(x)

    def unpack(self, p):
        out = self.give(p)
        self.log.append(("unpack", *desc(out, self.known), self.m.is_grad_enabled()))
        return out

    def hooks(self):
        return graph_mod(self.m).saved_tensors_hooks(self.pack, self.unpack)


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


class _Scale:
    """A custom Function that saves an input, its output, None and a constant (built per framework)."""

    @staticmethod
    def make(m):
        class Scale(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                out = x * y
                ctx.save_for_backward(x, out, None, y)
                return out

            @staticmethod
            def backward(ctx, g):
                x, out, none, y = ctx.saved_tensors
                return g * y + out * 0, g * x

        return Scale


def test_save_for_backward_goes_through_the_hooks():
    def f(m):
        rec = Recorder(m)
        a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = m.tensor([0.5, -1.0, 2.0])
        rec.known.update(a=a, b=b)
        with rec.hooks():
            o = _Scale.make(m).apply(a, b)
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
        o = _Scale.make(m).apply(a, b)
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


# ----- backward hooks: tensors, retain_grad, nodes, AccumulateGrad -----


def _logger(log, tag, ret=None):
    """A hook that logs its tag and the values it is given (tensors as lists, tuples of them, None)."""

    def show(x):
        if isinstance(x, tuple):
            return tuple(show(i) for i in x)
        return None if x is None else x.detach().numpy().round(4).tolist()

    def hook(*args):
        log.append((tag, *[show(a) for a in args]))
        return ret(*args) if ret is not None else None

    hook.__name__ = tag
    return hook


def test_the_order_torch_runs_every_kind_of_hook_in():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        z = y * 3
        y.grad_fn.register_prehook(_logger(log, "node_pre", lambda g: (g[0] * 10,)))
        y.register_hook(_logger(log, "t1", lambda g: g + 1))
        y.retain_grad()
        y.register_hook(_logger(log, "t2"))
        y.grad_fn.register_hook(_logger(log, "node_post"))
        x.register_hook(_logger(log, "leaf"))
        acc = y.grad_fn.next_functions[0][0]
        acc.register_prehook(_logger(log, "acc_pre"))
        acc.register_hook(_logger(log, "acc_post"))
        x.register_post_accumulate_grad_hook(_logger(log, "post_acc"))
        z.sum().backward()
        return log, y.grad, x.grad
    log = same(f)[1][0]
    assert [e[0] for e in log] == ["t1", "t2", "node_pre", "node_post", "leaf", "acc_pre", "post_acc", "acc_post"]


def test_tensor_hooks_run_grouped_per_tensor_and_see_none_where_no_gradient_arrives():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a, b = x.split(2)
        b.register_hook(_logger(log, "b1"))
        a.register_hook(_logger(log, "a1", lambda g: g * 2))
        b.register_hook(_logger(log, "b2"))
        a.register_hook(_logger(log, "a2"))
        a.grad_fn.register_prehook(_logger(log, "pre"))
        a.grad_fn.register_hook(_logger(log, "post"))
        (a * a).sum().backward()
        return log, x.grad
    assert [e[0] for e in same(f)[1][0]] == ["b1", "b2", "a1", "a2", "pre", "post"]


@pytest.mark.parametrize("case", [
    "tensor-int", "tensor-double", "tensor-smaller", "tensor-lambda-name", "pre-tensor", "pre-two", "pre-list",
    "post-fills-none", "post-short", "post-zero", "post-same", "post-acc-self", "post-acc-other", "post-acc-int",
    "none-replaced", "post-acc-non-leaf", "post-acc-no-grad", "hook-no-grad",
])
def test_what_a_hook_may_return(case):
    def named(fn, name):
        fn.__name__ = name
        return fn

    def f(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        z = (y * 3).sum()
        if case == "tensor-int":
            y.register_hook(named(lambda g: 3, "h"))
        if case == "tensor-double":
            y.register_hook(named(lambda g: g.double(), "h"))
        if case == "tensor-smaller":
            y.register_hook(named(lambda g: g[:2], "h"))
        if case == "tensor-lambda-name":
            y.register_hook(lambda g: g[:2])
        if case == "pre-tensor":
            y.grad_fn.register_prehook(named(lambda g: g[0], "h"))
        if case == "pre-two":
            y.grad_fn.register_prehook(named(lambda g: (g[0], g[0]), "h"))
        if case == "pre-list":
            y.grad_fn.register_prehook(named(lambda g: [g[0]], "h"))
        if case == "post-fills-none":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0], go[0]), "h"))
        if case == "post-short":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0] * 0,), "h"))
        if case == "post-zero":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0] * 0, None), "h"))
        if case == "post-same":
            y.grad_fn.register_hook(named(lambda gi, go: gi, "h"))
        if case == "post-acc-self":
            x.register_post_accumulate_grad_hook(named(lambda t: t, "h"))
        if case == "post-acc-other":
            x.register_post_accumulate_grad_hook(named(lambda t: t * 2, "h"))
        if case == "post-acc-int":
            x.register_post_accumulate_grad_hook(named(lambda t: 5, "h"))
        if case == "none-replaced":
            a, b = x.split([2, 1])
            b.register_hook(lambda g: m.ones(1))
            z = a.sum()
        if case == "post-acc-non-leaf":
            y.register_post_accumulate_grad_hook(lambda t: None)
        if case == "post-acc-no-grad":
            m.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        if case == "hook-no-grad":
            m.ones(2).register_hook(lambda t: None)
        z.backward()
        return x.grad
    same(f)


def test_handles_remove_hooks():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        h1 = y.register_hook(_logger(log, "t", lambda g: g * 10))
        h2 = y.grad_fn.register_prehook(_logger(log, "pre"))
        h3 = y.grad_fn.register_hook(_logger(log, "post"))
        h4 = x.register_post_accumulate_grad_hook(_logger(log, "acc"))
        h5 = x.register_hook(_logger(log, "leaf"))
        out = [type(h).__name__ for h in (h1, h2, h3, h4, h5)]
        (y.sum()).backward(retain_graph=True)
        for h in (h1, h2, h3, h4):
            h.remove()
        h1.remove()  # twice: nothing happens
        with h5:
            pass
        y.sum().backward()
        return out, log, x.grad
    same(f)


def _capture_graph(m, log):
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = (y * 3).sum()
    y.register_hook(_logger(log, "t", lambda g: g + 100))
    y.grad_fn.register_prehook(_logger(log, "pre"))
    y.grad_fn.register_hook(_logger(log, "post"))
    y.retain_grad()
    x.register_hook(_logger(log, "leaf", lambda g: g + 1000))
    x.register_post_accumulate_grad_hook(_logger(log, "post_acc"))
    return x, y, z


@pytest.mark.parametrize("call", ["grad-y", "grad-y-x", "grad-x", "backward-inputs-y", "backward-inputs-x",
                                  "grad-edge-y"])
def test_hooks_where_autograd_grad_captures(call):
    # autograd.grad captures at a node it does not execute after the tensor hooks (its pre/post hooks never run),
    # at a node it executes before them; backward(inputs=) retains a non-leaf's grad
    def f(m):
        log = []
        x, y, z = _capture_graph(m, log)
        if call == "grad-y":
            out = m.autograd.grad(z, y)
        if call == "grad-y-x":
            out = m.autograd.grad(z, [y, x])
        if call == "grad-x":
            out = m.autograd.grad(z, [x])
        if call == "backward-inputs-y":
            z.backward(inputs=[y])
            out = y.retains_grad
        if call == "backward-inputs-x":
            z.backward(inputs=[x])
            out = None
        if call == "grad-edge-y":
            out = m.autograd.grad(z, m.autograd.graph.get_gradient_edge(y))
        return out, [e[0] for e in log], y.grad, x.grad
    same(f)


def test_hooks_under_create_graph_see_differentiable_gradients():
    def f(m):
        seen = []
        x = m.tensor([0.5, -1.0], requires_grad=True)
        y = x.sin() * x
        y.register_hook(lambda g: seen.append((g.requires_grad, type(g.grad_fn).__name__ if g.grad_fn else None)))
        y.grad_fn.register_hook(lambda gi, go: seen.append(tuple(g.requires_grad for g in gi if g is not None)))
        (g,) = m.autograd.grad(y.sum() * y.sum(), x, create_graph=True)
        g.sum().backward()
        return seen, g, x.grad
    same(f)


def test_hooks_and_in_place_changes():
    # a hook registered before an in-place change sees the gradient of the old value; one registered after, of the
    # new one; retain_grad moves to the new history
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(_logger(log, "before"))
        y.retain_grad()
        y.mul_(3)
        y.register_hook(_logger(log, "after"))
        (y * y).sum().backward()
        return log, y.grad, x.grad
    same(f)


def test_node_hooks_on_a_custom_function():
    def f(m):
        log = []
        a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        o = _Scale.make(m).apply(a, m.tensor([0.5, -1.0, 2.0]))
        o.grad_fn.register_prehook(_logger(log, "pre", lambda g: (g[0] * 2,)))
        o.grad_fn.register_hook(_logger(log, "post"))
        o.register_hook(_logger(log, "t"))
        o.sum().backward()
        return log, a.grad
    same(f)


def test_hooks_on_a_leaf_survive_its_accumulator_being_unused():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(_logger(log, "leaf", lambda g: g * 3))
        x.register_post_accumulate_grad_hook(_logger(log, "acc"))
        for _ in range(2):
            (x * x).sum().backward()
        return log, x.grad
    same(f)
