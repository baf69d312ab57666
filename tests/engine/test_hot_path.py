"""The per-op fast paths of engine.evaluate and the backward pass (issue 21) answer as the general code does:
the graph written in one pass, run_backward's array loop, the cached cost of a call (charged every time), the
collector paused for a run and restored, output_bound's first case."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import engine
from engine import budget as _budget
from engine.errors import LimitExceeded
from engine.program import respond as R
from engine.program.limits import Limits
from engine.program.run import Evaluating, Run, build_leaves, run_backward_section, run_ops
from engine.program.shapes import general_bound, output_bound
from engine.tensor import Tensor


def _chain(n=40):
    ops, prev = [], "x"
    for i in range(n):
        k = ("mul", "add", "tanh", "sin")[i % 4]
        args = [prev, "w"] if k == "mul" else ([prev, "x"] if k == "add" else [prev])
        ops.append({"name": f"t{i}", "op": k, "args": args})
        prev = f"t{i}"
    ops.append({"name": "loss", "op": "sum", "args": [prev]})
    return {"leaves": {"x": {"data": [0.5, -1.25, 2.0, 0.125], "requires_grad": True},
                       "w": {"data": 0.75, "requires_grad": True}},
            "ops": ops, "backward": [{"tensor": "loss"}]}


def _run(spec):
    run = Run(spec, Limits())
    with Evaluating(spec) as caught:
        build_leaves(run, spec)
        run_ops(run, spec, caught)
        run_backward_section(run, spec, caught)
    return run


@pytest.mark.parametrize("spec", [
    _chain(),
    {"leaves": {"a": {"data": [[1.0, 2.0], [3.0, 4.0]], "requires_grad": True}},
     "ops": [{"name": ["u", "v"], "op": "split", "args": ["a", 1]}, {"name": "s", "op": "add", "args": ["u", "v"]},
             {"name": "m", "op": "max", "args": ["s"]}, {"name": "d", "op": "detach", "args": ["a"]}],
     "backward": [{"tensor": "m"}]},
])
def test_graph_document_is_graph_nodes_written_out(spec):
    """response() writes the graph in one pass where no Program keeps the nodes: the same document as
    graph_nodes (which a Program keeps) gives through document()."""
    run = _run(spec)
    names = list(run.env)
    one_pass = R.graph_document(run.env, names)
    assert one_pass == R.document({}, R.graph_nodes(run.env, names), [])["graph"]
    assert len(one_pass) > 3


def test_the_array_loop_gives_the_tensor_routes_grads():
    """run_backward's array loop against the same graph run with a hook on every node (which sends each
    node through the Tensor route): the same gradients, bit for bit, for every leaf."""
    def build():
        x = engine.tensor([0.5, -1.25, 2.0, 0.125], requires_grad=True)
        w = engine.tensor(0.75, requires_grad=True)
        y = x
        for i in range(23):
            y = [lambda t: t * w, lambda t: t + x, lambda t: t.tanh(), lambda t: t.sin()][i % 4](y)
        return x, w, (y.sigmoid() * x).sum()

    x1, w1, l1 = build()
    l1.backward()
    x2, w2, l2 = build()
    seen, stack = set(), [l2.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        n.register_hook(lambda out, grads: None)
        stack += [f for f, _ in n.next_functions]
    l2.backward()
    for a, b in ((x1, x2), (w1, w2)):
        assert a.grad.numpy().tobytes() == b.grad.numpy().tobytes()


def test_a_leaf_grad_taken_by_the_array_loop_is_its_own():
    """add's backward hands one gradient array to both inputs: each leaf's .grad gets its own buffer (an in-place
    change of one does not reach the other), as torch's AccumulateGrad clones a shared gradient."""
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    ((a + b) * 2.0).sum().backward()  # mul's backward makes a fresh array, add's hands it to both
    a.grad.mul_(10)
    assert b.grad.tolist() == [2.0, 2.0]


def test_the_array_loop_steps_aside_under_a_forward_ad_level():
    """Inside a dual level, backward's gradients carry tangents where the saved tensors have them (torch's
    formulas run on duals): the array loop, whose arrays carry none, must not take such a pass. A tensor hook
    sees each gradient's tangent as torch's does."""
    import torch  # noqa: PLC0415 - the oracle
    import torch.autograd.forward_ad as tfw  # noqa: PLC0415

    from engine.autograd import forward_ad as efw  # noqa: PLC0415

    def seen_tangents(lib, fw):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen = []
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([0.5, -1.0, 0.25]), lib.tensor([1.0, 0.5, -1.0]))
            z = (x * w).tanh()
            z.register_hook(lambda g: seen.append(fw.unpack_dual(g).tangent))
            u = (z * x).sin()
            u.register_hook(lambda g: seen.append(fw.unpack_dual(g).tangent))
            u.sum().backward()
        return [None if t is None else np.asarray(t.tolist()) for t in seen]

    ours, theirs = seen_tangents(engine, efw), seen_tangents(torch, tfw)
    assert [t is None for t in ours] == [t is None for t in theirs] and any(t is not None for t in theirs)
    for a, b in zip(ours, theirs):
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_the_array_loop_unpacks_saved_tensors_once_as_torch():
    """Saved through saved_tensors_hooks, a node's saved tensors are unpacked once each per call (div's `other` feeds
    both of its formulas): the generated array backward steps aside for such a node (OpNode.apply unpacks them),
    and the hooks are called as torch calls them, with the same gradients."""
    import torch  # noqa: PLC0415 - the oracle

    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([0.5, -1.0, 4.0], requires_grad=True)
        calls = []

        def pack(t):
            calls.append("pack")
            return t

        def unpack(t):
            calls.append("unpack")
            return t

        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            z = (x / y).sin()
        z.sum().backward()
        return calls, np.asarray(x.grad.tolist()), np.asarray(y.grad.tolist())

    ours, theirs = run(engine), run(torch)
    assert ours[0] == theirs[0]
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_cached_cost_is_charged_every_call():
    """The fast calls keep an entry's cost by operand shapes: a second call of the same shapes charges the same
    flops again, and a limit is met on the call that passes it, cached or not."""
    x = engine.tensor(np.ones(64, np.float32))
    b = _budget.Budget()
    with _budget.active(b):
        x.sin()
        once = b.used_flops
        x.sin()
    assert once > 0 and b.used_flops == 2 * once
    b = _budget.Budget(max_flops=2.5 * once)
    with _budget.active(b), pytest.raises(LimitExceeded, match="max_flops"):
        for _ in range(3):
            x.sin()
    assert b.used_flops == 2 * once


@pytest.mark.parametrize("enabled", [True, False])
def test_evaluate_restores_the_collector(enabled):
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        engine.evaluate(_chain(8))
        assert gc.isenabled() is enabled
        with pytest.raises(engine.EngineError):
            engine.evaluate({"leaves": {}, "ops": [{"name": "y", "op": "nope"}]})
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_output_bound_first_case_is_the_general_bound():
    """output_bound's inline case (one or two plain Tensors and Python numbers, no kwargs, no shape rule) gives
    what the general code gives, for every pairing of 0-d, equal, broadcast and mismatched shapes; what it does
    not take (three tensors, a list, a bool, a Tensor subclass, kwargs, a shape rule) goes to the general code."""
    shapes = [(), (1,), (4,), (3, 1), (1, 4), (3, 4), (2, 3, 4), (5,)]
    tensors = [engine.zeros(*s) for s in shapes] + [Tensor._make(np.float32(2.0))]  # a one-value NumPy scalar
    others = [2, 0.5, None, True, [1, 2], engine.nn.Parameter(engine.zeros(3, 4))]
    calls = [(a,) for a in tensors] + [(a, b) for a in tensors for b in tensors]
    calls += [(a, o) for a in tensors for o in others] + [(o, a) for a in tensors for o in others]
    calls += [(tensors[3], tensors[4], tensors[6]), (), (2, 3)]
    broadcast = 0
    for args in calls:
        for op in ("add", "mul", "where", "matmul"):
            assert output_bound(op, list(args), {}) == general_bound(op, list(args), {}), (op, args)
        if len(args) == 2 and all(type(a) is Tensor for a in args):
            broadcast += output_bound("add", list(args), {}) > max(a._data.size for a in args)
        kw = {"other": tensors[5]}
        assert output_bound("add", list(args), kw) == general_bound("add", list(args), kw)
    assert broadcast > 0  # (3, 1) with (1, 4): the general code's broadcast, reached from the first case
