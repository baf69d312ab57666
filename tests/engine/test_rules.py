"""Every op entry's shape and cost rule (engine/ops/rules.py) against what the entry really does.

The samples of tests/engine/samples/*.py (the ones test_ops.py compares with torch; float32 and float64) run
with every entry's forward and every backward node measured:

- shapes: each application's rule gives the exact shape of every output (an upper bound where exact=False);
- memory: tracemalloc (NumPy reports its buffers to it) measures the peak of each forward above what was
  allocated before it, and of each node's backward; it must stay within what the rule charges, (outputs +
  temp) x itemsize and (input gradients + bwd_temp) x itemsize, plus SLACK (below). The whole public call,
  forward and backward separately, must stay within the sum of its entries' charges, plus what the code
  around the entries charged to the request's budget (engine.budget.charge), plus SLACK per entry.

The samples are small (a dozen elements), so that a few Python objects weigh as much as their arrays. Each
sample therefore also runs scaled up: every dim above 1 of every generated tensor argument multiplied by the
same factor (so that equal sizes stay equal and broadcast dims stay 1), to about SCALED_ELEMENTS elements in
the largest; there an array that a rule forgot is far larger than SLACK. A scaled call that the op refuses
(a literal size argument no longer fits) is skipped: the original sample still checks its shapes.

Entry applications are seen by wrapping each entry's forward (it gets the same positional values the rule
does, on every path: OpDef.__call__, the unrolled calls, and multi-output entries that record no node, which
engine.ops.registry.trace does not log); backward nodes by wrapping OpNode.apply, and registry.trace links
each node to the entry application that made it. No timed assertion: flops are not measured here.

The attacks of issue 14 are checked at the rules alone: each reports its huge cost without running the op.
"""
from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest

import engine
from engine import budget as _budget
from engine.ops import join as _join
from engine.ops import registry as _registry
from engine.ops import rules as R
from tests.engine import test_ops as TO
from tests.engine.opinfo import TL, T

# Python's own objects made around the arrays of one forward or one backward node (ndarray headers, Tensor
# and node objects, index tuples, a formula's small 0-d constants): a fixed allowance per entry; and NumPy's
# iterator buffers, at most np.getbufsize() elements (8 bytes or fewer each) per operand of a ufunc loop that
# casts, broadcasts or strides. Both far below the scaled samples' arrays.
SLACK = 24 * 1024
BUFFER = 8 * np.getbufsize()


def entry_slack(nvals, nout):
    return SLACK + BUFFER * (nvals + nout)


def node_slack(node):
    return SLACK + BUFFER * 2 * (len(node._in_meta) + 1)
SCALED_ELEMENTS = 1 << 16
# A scaled call where an entry would hold more elements or cost more flops than this (by its rule, checked
# before its forward runs) is retried at half the factor: scaling every dim can square a size (outer, diag of
# a vector) and multiply a convolution's work by the factor to the fifth.
GUARD_ELEMENTS = 1 << 22
GUARD_FLOPS = 2e7


class _TooBig(Exception):
    pass


# ----- instrumentation -----


def all_entries():
    """Every OpDef: the registry's, and the arities of cat / stack / split / unbind that join.py made and
    caches (the registry keeps the last one made under each name)."""
    ops = {id(op): op for op in _registry.REGISTRY.values()}
    for cache in (_join._CAT_OPS, _join._STACK_OPS, _join._SPLIT_OPS):
        ops.update((id(op), op) for op in cache.values())
    return list(ops.values())


class Meter:
    """Nested peaks over tracemalloc: enter() / exit() -> the peak between them above the start."""

    def __init__(self):
        self.stack = []

    def enter(self):
        cur, peak = tracemalloc.get_traced_memory()
        if self.stack:
            self.stack[-1][1] = max(self.stack[-1][1], peak)
        tracemalloc.reset_peak()
        self.stack.append([cur, cur])

    def exit(self) -> int:
        _, peak = tracemalloc.get_traced_memory()
        start, run = self.stack.pop()
        run = max(run, peak)
        if self.stack:
            self.stack[-1][1] = max(self.stack[-1][1], run)
        tracemalloc.reset_peak()
        return run - start


def _arrays(x):
    if isinstance(x, tuple | list):
        return [a for o in x for a in _arrays(o)]
    return [x] if isinstance(x, np.ndarray | np.generic) else []


def _itemsize(vals, out):
    sizes = [a.dtype.itemsize for a in _arrays(list(vals)) + _arrays(out)]
    return max(sizes, default=8)


def _out_shapes(out):
    if isinstance(out, tuple):
        return tuple(tuple(np.shape(o)) for o in out)
    return tuple(np.shape(out))


def _bound_holds(cost, shapes):
    """The rule's out against the real output shape(s): equal where exact, else elementwise at most."""
    want = cost.out
    multi = isinstance(shapes[0], tuple) if shapes else False
    if cost.exact:
        return tuple(want) == shapes
    if multi:
        return len(want) == len(shapes) and all(R.numel(w) >= R.numel(s) for w, s in zip(want, shapes))
    return R.numel(want) >= R.numel(shapes)


class Instrument:
    """Wraps every entry's forward and OpNode.apply while active; records what ran and what it cost."""

    def __init__(self, guard=False):
        self.guard = guard
        self.meter = Meter()
        self.forwards = []  # (op, cost, out shapes, charged bytes, measured bytes, slack)
        self.nodes = []  # (op, charged bytes, measured bytes)
        # id(output array) -> (cost, itemsize), for the nodes' charges: looked up only for outputs that
        # registry.trace's log holds (alive, so their ids are theirs); nothing here keeps an array alive
        self.costs = {}
        self.wrapped = {}
        self.orig_apply = None

    def wrap_all(self):
        for op in all_entries():
            if op not in self.wrapped:
                self.wrapped[op] = op.forward
                op.forward = self._forward(op, op.forward)

    def _forward(self, op, fwd):
        inst = self

        def forward(*vals):
            cost = op.rule.cost(list(vals), strict=True) if op.rule is not None else None
            if inst.guard and (cost is None or R.out_elements(cost) + cost.temp > GUARD_ELEMENTS
                               or cost.flops > GUARD_FLOPS):
                raise _TooBig(op.qualname)
            inst.meter.enter()
            try:
                out = fwd(*vals)
            finally:
                peak = inst.meter.exit()
            item = _itemsize(vals, out)
            charged = None if cost is None else (R.out_elements(cost) + cost.temp) * item
            slack = entry_slack(len(_arrays(list(vals))), len(out) if isinstance(out, tuple) else 1)
            inst.forwards.append((op, cost, _out_shapes(out), charged, peak, slack))
            for o in out if isinstance(out, tuple) else (out,):
                inst.costs[id(o)] = (cost, item)
            return out

        return forward

    def __enter__(self):
        self.wrap_all()
        self.orig_apply = orig = _registry.OpNode.apply
        inst = self

        def apply(node, grads, create_graph):
            inst.meter.enter()
            try:
                res = orig(node, grads, create_graph)
            finally:
                peak = inst.meter.exit()
            inst.nodes.append((node, peak))
            return res

        _registry.OpNode.apply = apply
        return self

    def __exit__(self, *exc):
        _registry.OpNode.apply = self.orig_apply
        for op, fwd in self.wrapped.items():
            op.forward = fwd
        self.wrapped.clear()
        return False

    def node_charge(self, node, node_outputs):
        """(input gradients + bwd_temp) x itemsize for a node, from the rule of the application that made it."""
        found = node_outputs.get(id(node))
        if found is None:
            return None
        cost, item = found
        if cost is None:
            return None
        grads = sum(R.numel(m[0]) for m, need in zip(node._in_meta, node._needs) if m is not None and need)
        extra = cost.bwd_temp if cost.bwd_temp is not None else cost.temp + R.out_elements(cost)
        return (grads + extra) * item


# ----- driving the samples -----


def _scale_spec(x, f):
    if isinstance(x, T):
        if x.values is not None or not x.shape:
            return x
        return T(tuple(d * f if d > 1 else d for d in x.shape), x.dtype, x.low, x.high, x.requires_grad)
    if isinstance(x, TL):
        return TL(tuple(_scale_spec(i, f) for i in x.items))
    if isinstance(x, tuple):
        return tuple(_scale_spec(i, f) for i in x)
    if isinstance(x, list):
        return [_scale_spec(i, f) for i in x]
    if isinstance(x, dict):
        return {k: _scale_spec(v, f) for k, v in x.items()}
    return x


def _specs(x):
    if isinstance(x, T):
        return [x]
    if isinstance(x, TL):
        return [s for i in x.items for s in _specs(i)]
    if isinstance(x, tuple | list):
        return [s for i in x for s in _specs(i)]
    if isinstance(x, dict):
        return [s for v in x.values() for s in _specs(v)]
    return []


def scale_factor(sample):
    ts = [t for t in _specs((sample.args, sample.kwargs)) if t.values is None and t.shape]
    if not ts:
        return 1
    big = max(ts, key=lambda t: math.prod(t.shape))
    m = math.prod(big.shape)
    grown = sum(1 for d in big.shape if d > 1)
    if m == 0 or grown == 0:
        return 1
    return max(1, int((SCALED_ELEMENTS / m) ** (1 / grown)))


def run_measured(sample, dtype, seed, f=1):
    """Run a sample (scaled by f) with its forward and one backward measured. Returns the Instrument, the
    public call's forward and backward peaks, and the budget's glue charges of each, or None where the op
    refuses the (scaled) arguments."""
    args, kwargs = (sample.args, sample.kwargs) if f == 1 else (_scale_spec(sample.args, f),
                                                                _scale_spec(sample.kwargs, f))
    rng = np.random.default_rng(seed)
    spec_args = TO.materialize(tuple(args), rng, dtype)
    spec_kwargs = TO.materialize(dict(kwargs), rng, dtype)
    guard = f > 1
    try:  # a warm-up: caches, lazily made entries (cat of n tensors), first-call imports
        with Instrument(guard), _budget.active(_budget.Budget(max_bytes=8 * GUARD_ELEMENTS if guard else 1 << 62)):
            out, leaves = TO.run(TO.ENGINE, sample, spec_args, spec_kwargs)
            gouts = _grad_targets(out, leaves)
            backward = bool(gouts)
            if gouts:
                try:
                    engine.autograd.grad([o for o, _ in gouts], leaves, [g for _, g in gouts], allow_unused=True)
                except engine.errors.EngineError:  # a derivative torch does not implement either
                    backward = False
    except _TooBig:
        raise
    except Exception:  # noqa: BLE001 - the op refuses these arguments (checked against torch by test_ops)
        if f == 1:
            raise
        return None
    del out, leaves, gouts
    inst = Instrument(guard)
    with inst, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        leaves = []
        a = TO.build(TO.ENGINE, spec_args, leaves)
        k = TO.build(TO.ENGINE, spec_kwargs, leaves)
        fwd_budget = _budget.Budget()
        with _registry.trace() as log, _budget.active(fwd_budget):
            inst.meter.enter()
            out = TO.call(TO.ENGINE, sample, a, k)
            fwd_peak = inst.meter.exit()
        gouts = _grad_targets(out, leaves) if backward else []
        bwd_peak = bwd_glue = 0
        if gouts:
            outs, gos = [o for o, _ in gouts], [g for _, g in gouts]
            bwd_budget = _budget.Budget()
            with _budget.active(bwd_budget):
                inst.meter.enter()
                grads = engine.autograd.grad(outs, leaves, gos, allow_unused=True)
                bwd_peak = inst.meter.exit()
            bwd_glue = bwd_budget.peak_bytes
            del grads
    node_outputs = {}
    for rec in log:
        outs_ = rec[4] if isinstance(rec[4], tuple) else (rec[4],)
        for t in outs_:
            if t.grad_fn is not None and id(t._data) in inst.costs:
                node_outputs[id(t.grad_fn)] = inst.costs[id(t._data)]
    return inst, node_outputs, fwd_peak, fwd_budget.peak_bytes, bwd_peak, bwd_glue


def _grad_targets(out, leaves):
    if not leaves:
        return []
    return [(o, engine.ones_like(o)) for o in TO.flatten(out)
            if isinstance(o, engine.Tensor) and o.requires_grad and o.grad_fn is not None]


def check(sample, dtype, seed, f=1):
    """The assertions for one sample run (see the module docstring); returns the run's records or None."""
    res = run_measured(sample, dtype, seed, f)
    if res is None:
        return None
    inst, node_outputs, fwd_peak, fwd_glue, bwd_peak, bwd_glue = res
    where = f"{sample.op} {dtype} x{f}"
    total = fwd_glue + SLACK
    for op, cost, shapes, charged, peak, slack in inst.forwards:
        assert cost is not None, f"{where}: {op.qualname} has no rule"
        assert _bound_holds(cost, shapes), (
            f"{where}: {op.qualname}'s rule gives out={cost.out} (exact={cost.exact}), the op {shapes}")
        assert peak <= charged + slack, (
            f"{where}: {op.qualname}'s forward peaked at {peak} bytes, its rule charges {charged} "
            f"(+{slack} slack): cost {cost}")
        total += charged + slack
    assert fwd_peak <= total, (
        f"{where}: the call peaked at {fwd_peak} bytes, its entries and glue charge {total} (with slack)")
    total = bwd_glue + SLACK
    for node, peak in inst.nodes:
        charged = inst.node_charge(node, node_outputs)
        if charged is None:  # a node of a backward formula's own graph (create_graph) or not traced
            continue
        slack = node_slack(node)
        assert peak <= charged + slack, (
            f"{where}: {type(node).__name__}'s backward peaked at {peak} bytes, the rule of "
            f"{node.op.qualname} charges {charged} (+{slack} slack): {node_outputs[id(node)][0]}")
        total += charged + slack
    assert bwd_peak <= total, (
        f"{where}: the backward peaked at {bwd_peak} bytes, its nodes and glue charge {total} (with slack)")
    return inst


@pytest.fixture(scope="module")
def tracing():
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    yield
    if started:
        tracemalloc.stop()


def test_every_entry_has_a_rule():
    missing = [o.qualname for o in all_entries() if o.rule is None]
    assert not missing, f"entries without rule=: {missing}"


def check_scaled(sample, dtype, seed):
    """check() at the largest factor (halving from scale_factor's) at which no entry passes the guards."""
    f = scale_factor(sample)
    while f > 1:
        try:
            return check(sample, dtype, seed, f)
        except _TooBig:
            f //= 2
    return None


@pytest.mark.parametrize("sample, dtype", TO.SAMPLE_PARAMS)
def test_rules_bound_the_sample(sample, dtype, tracing, request):
    seed = TO.sample_seed(request.node.callspec.id)
    check(sample, dtype, seed)
    check_scaled(sample, dtype, seed)
