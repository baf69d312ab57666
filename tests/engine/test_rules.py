"""Every op entry's shape and cost rule (engine/ops/rules.py) against what the entry really does.

The samples of tests/engine/samples/*.py (the ones test_ops.py compares with torch) run with every entry's forward
and every backward node measured, in float64 at their own size and in float32 scaled up (below; `make test-full`,
GRADSERVE_TEST_FULL=1, adds float32 at their own size, the path float64's run takes with a narrower unit):

- shapes: each application's rule gives the exact shape of every output (where exact=False, at least their
  elements);
- memory: tracemalloc (NumPy reports its buffers to it) measures the peak of each forward above what was
  allocated before it, and of each node's backward; it must stay within what the rule charges, (outputs +
  temp) x itemsize and (input gradients + bwd_temp) x itemsize, itemsize the widest of the entry's operands
  and outputs, plus a slack (below). The whole public call, forward and backward separately, must stay
  within the sum of its entries' charges, plus what the code around the entries charged to the request's
  budget (engine.budget.charge: dtype promotion, factories, index arrays), plus the slacks.

The samples are small (a dozen elements), so that a few Python objects weigh as much as their arrays. Each
sample therefore also runs scaled up (in float32, the stricter unit: an int64 or float64 temporary counts
twice there): every dim above 1 of every generated tensor argument multiplied by the same factor (so that
equal sizes stay equal and broadcast dims stay 1), to about SCALED_ELEMENTS elements in the largest; there an
array that a rule forgot is far larger than the slack. A scaled call that the op refuses (a literal size
argument no longer fits) is skipped: the original sample still checks its shapes.

Entry applications are seen by wrapping each entry's forward, once for the module (it gets the same
positional values the rule does, on every path: OpDef.__call__, the unrolled calls, and multi-output entries
that record no node, which engine.ops.registry.trace does not log); backward nodes by wrapping OpNode.apply,
and registry.trace links each node to the entry application that made it. No timed assertion: flops are not
measured here. Then: the issue's attacks, costed at the rules alone (without running the op); the factories;
the rewritten kernels at sizes that take their new paths, against torch; their loops' deadline checks.
"""
from __future__ import annotations

import math
import os
import tracemalloc
import warnings

import numpy as np
import pytest

import engine
from engine import budget as _budget
from engine.ops import join as _join
from engine.ops import join_cat as _join_cat
from engine.ops import registry as _registry
from engine.ops import rules as R
from tests.engine import test_ops as TO
from tests.engine.counting_budget import CountingBudget
from tests.engine.opinfo import TL, Sample, T

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
    for cache in (_join_cat._CAT_OPS, _join_cat._STACK_OPS, _join._SPLIT_OPS):
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
    """The rule's out against the real output shape(s): equal where exact, else at least their elements."""
    if cost.exact:
        return tuple(cost.out) == shapes
    multi = bool(shapes) and isinstance(shapes[0], tuple)
    return R.out_elements(cost) >= (sum(R.numel(s) for s in shapes) if multi else R.numel(shapes))


class _Watching(dict):
    """The registry while the wrappers are installed: an entry registered meanwhile (cat / split arities past
    join._KEEP_ARITY are made per call) is wrapped at once."""

    def __setitem__(self, key, op):
        super().__setitem__(key, op)
        _wrap(op)


_ACTIVE = [None]  # the Instrument recording now, or None: the wrappers call straight through
_WRAPPED = {}  # entry -> its own forward, while installed
_SAVED = {}


def _wrap(op):
    if op not in _WRAPPED:
        _WRAPPED[op] = fwd = op.forward

        def forward(*vals):
            inst = _ACTIVE[0]
            return fwd(*vals) if inst is None else inst.forward(op, fwd, vals)

        op.forward = forward


def _apply(node, grads, create_graph):
    inst = _ACTIVE[0]
    orig = _SAVED["apply"]
    return orig(node, grads, create_graph) if inst is None else inst.apply(orig, node, grads, create_graph)


def install():
    """Wrap every entry's forward and OpNode.apply (once; `uninstall` puts them back)."""
    if not _SAVED:
        _SAVED["registry"] = _registry.REGISTRY
        _SAVED["apply"] = _registry.OpNode.apply
        _registry.REGISTRY = _Watching(_SAVED["registry"])
        _registry.OpNode.apply = _apply
    for op in all_entries():
        _wrap(op)


def uninstall():
    if _SAVED:
        _SAVED["registry"].update(_registry.REGISTRY)
        _registry.REGISTRY = _SAVED.pop("registry")
        _registry.OpNode.apply = _SAVED.pop("apply")
    for op, fwd in _WRAPPED.items():
        op.forward = fwd
    _WRAPPED.clear()


class Instrument:
    """While active (`with`), records every entry's forward and every OpNode.apply (through the installed
    wrappers) and what each cost. guard: refuse (_TooBig) an entry whose rule passes the guards."""

    def __init__(self, guard=False):
        self.guard = guard
        self.meter = Meter()
        self.forwards = []  # (op, cost, out shapes, charged bytes, measured bytes, slack)
        self.nodes = []  # (node, measured bytes, bytes its formulas charged to the budget themselves)
        # id(output array) -> (cost, itemsize), for the nodes' charges: looked up only for outputs that
        # registry.trace's log holds (alive, so their ids are theirs); nothing here keeps an array alive
        self.costs = {}

    def forward(self, op, fwd, vals):
        cost = op.rule.cost(list(vals), strict=True) if op.rule is not None else None
        if self.guard and (cost is None or R.out_elements(cost) + cost.temp > GUARD_ELEMENTS
                           or cost.flops > GUARD_FLOPS):
            raise _TooBig(op.qualname)
        self.meter.enter()
        try:
            out = fwd(*vals)
        finally:
            peak = self.meter.exit()
        item = _itemsize(vals, out)
        charged = None if cost is None else (R.out_elements(cost) + cost.temp) * item
        slack = entry_slack(len(_arrays(list(vals))), len(out) if isinstance(out, tuple) else 1)
        self.forwards.append((op, cost, _out_shapes(out), charged, peak, slack))
        for o in out if isinstance(out, tuple) else (out,):
            self.costs[id(o)] = (cost, item)
        return out

    def apply(self, orig, node, grads, create_graph):
        b = _budget.current()
        charged = b.peak if b is not None else 0
        self.meter.enter()
        try:
            res = orig(node, grads, create_graph)
        finally:
            peak = self.meter.exit()
        # what the node's formulas charged themselves (the cat of split's pieces, made for n of them)
        glue = b.peak - charged if b is not None else 0
        self.nodes.append((node, peak, glue))
        return res

    def __enter__(self):
        if not _SAVED:
            raise RuntimeError("install() the wrappers first (the tracing fixture)")
        self.prev = _ACTIVE[0]
        _ACTIVE[0] = self
        return self

    def __exit__(self, *exc):
        _ACTIVE[0] = self.prev
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


def run_measured(sample, dtype, seed, f=1, warm=True):
    """Run a sample (scaled by f) with its forward and one backward measured. Returns the Instrument, the
    public call's forward and backward peaks, and the budget's glue charges of each, or None where the op
    refuses the (scaled) arguments. warm: run it once unmeasured first (False where the same sample just
    ran in another dtype, and its caches, lazily made entries and first-call imports are there)."""
    args, kwargs = (sample.args, sample.kwargs) if f == 1 else (_scale_spec(sample.args, f),
                                                                _scale_spec(sample.kwargs, f))
    rng = np.random.default_rng(seed)
    spec_args = TO.materialize(tuple(args), rng, dtype)
    spec_kwargs = TO.materialize(dict(kwargs), rng, dtype)
    guard = f > 1
    if warm or guard:
        try:  # a warm-up: caches, lazily made entries (cat of n tensors), first-call imports
            budget = _budget.Budget(max_bytes=8 * GUARD_ELEMENTS if guard else 1 << 62)
            with Instrument(guard), _budget.active(budget):
                out, leaves = TO.run(TO.ENGINE, sample, spec_args, spec_kwargs)
                gouts = _grad_targets(out, leaves)
                if gouts:
                    try:
                        engine.autograd.grad([o for o, _ in gouts], leaves, [g for _, g in gouts],
                                             allow_unused=True)
                    except engine.errors.EngineError:
                        pass
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
        gouts = _grad_targets(out, leaves)
        bwd_peak = bwd_glue = 0
        if gouts:
            outs, gos = [o for o, _ in gouts], [g for _, g in gouts]
            bwd_budget = _budget.Budget()
            with _budget.active(bwd_budget):
                inst.meter.enter()
                try:
                    grads = engine.autograd.grad(outs, leaves, gos, allow_unused=True)
                except engine.errors.EngineError:  # a derivative torch does not implement either
                    grads = None
                finally:
                    bwd_peak = inst.meter.exit()
            bwd_glue = bwd_budget.peak
            if grads is None:
                inst.nodes.clear()
                bwd_peak = bwd_glue = 0
            del grads
    node_outputs = {}
    for rec in log:
        outs_ = rec[4] if isinstance(rec[4], tuple) else (rec[4],)
        for t in outs_:
            if t.grad_fn is not None and id(t._data) in inst.costs:
                node_outputs[id(t.grad_fn)] = inst.costs[id(t._data)]
    return inst, node_outputs, fwd_peak, fwd_budget.peak, bwd_peak, bwd_glue


def _grad_targets(out, leaves):
    if not leaves:
        return []
    return [(o, engine.ones_like(o)) for o in TO.flatten(out)
            if isinstance(o, engine.Tensor) and o.requires_grad and o.grad_fn is not None]


def check(sample, dtype, seed, f=1, warm=True):
    """The assertions for one sample run (see the module docstring); returns the run's records or None."""
    res = run_measured(sample, dtype, seed, f, warm)
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
    for node, peak, glue in inst.nodes:
        charged = inst.node_charge(node, node_outputs)
        if charged is None:  # a node of a backward formula's own graph (create_graph) or not traced
            continue
        slack = node_slack(node)
        assert peak <= charged + glue + slack, (
            f"{where}: {type(node).__name__}'s backward peaked at {peak} bytes, the rule of "
            f"{node.op.qualname} charges {charged}, its formulas {glue} (+{slack} slack): {node_outputs[id(node)][0]}")
        total += charged + slack  # (the formulas' own charges are in bwd_glue)
    assert bwd_peak <= total, (
        f"{where}: the backward peaked at {bwd_peak} bytes, its nodes and glue charge {total} (with slack)")
    return inst


@pytest.fixture(scope="module")
def tracing():
    """tracemalloc on, and the entries' wrappers installed, for the module's tests (taken off after)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    install()
    yield
    uninstall()
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


def _sample_params():
    """test_ops' samples, one test for both float dtypes (its ids without the dtype, its marks kept)."""
    out = {}
    for p in TO.SAMPLE_PARAMS:
        base, _, dtype = p.id.rpartition("-")
        if base not in out:
            out[base] = pytest.param(p.values[0], id=base, marks=p.marks)
    return list(out.values())


# make test: float64 at the sample's size and float32 scaled up; make test-full: float32 at the sample's size too
# (a quarter of this test's time; at a dozen elements its memory check is mostly the slack, its shapes float64's).
UNSCALED_DTYPES = TO.FLOAT_DTYPES if os.environ.get("GRADSERVE_TEST_FULL") == "1" else ("float64",)


@pytest.mark.parametrize("sample", _sample_params())
def test_rules_bound_the_sample(sample, tracing, request):
    """float64 (and float32 in make test-full) at the sample's own size; float32 scaled up (the stricter unit: an
    int64 or float64 temporary counts twice its elements there)."""
    seeds = {dtype: TO.sample_seed(f"{request.node.callspec.id}-{dtype}") for dtype in TO.FLOAT_DTYPES}
    for k, dtype in enumerate(d for d in seeds if d in UNSCALED_DTYPES):
        check(sample, dtype, seeds[dtype], warm=k == 0)
    check_scaled(sample, "float32", seeds["float32"])


def test_an_entry_without_a_rule_cannot_be_registered():
    with pytest.raises(ValueError, match="needs rule="):
        _registry.defop("zz_no_rule(Tensor self) -> Tensor", lambda a: a, self=lambda grad: grad)
    assert "zz_no_rule" not in _registry.REGISTRY


# ----- factories: charged before they allocate -----

FACTORIES = {
    "zeros": lambda n: engine.zeros(n, n),
    "ones": lambda n: engine.ones(n, n, dtype=engine.float64),
    "empty": lambda n: engine.empty(n, n),
    "full": lambda n: engine.full((n, n), 1.5),
    "eye": lambda n: engine.eye(n),
    "arange": lambda n: engine.arange(0.0, float(n * n), 1.0),
    "arange_int": lambda n: engine.arange(n * n),
    "linspace": lambda n: engine.linspace(0, 1, n * n),
    "rand": lambda n: engine.rand(n, n),
    "randn": lambda n: engine.randn(n, n),
    "randint": lambda n: engine.randint(0, 10, [n, n]),
    "zeros_like": lambda n: engine.zeros_like(_ROW[0].expand(n, n)),
    "ones_like": lambda n: engine.ones_like(_ROW[0].expand(n, n)),
    "full_like": lambda n: engine.full_like(_ROW[0].expand(n, n), 2.0),
    "rand_like": lambda n: engine.rand_like(_ROW[0].expand(n, n)),
    "randn_like": lambda n: engine.randn_like(_ROW[0].expand(n, n)),
}
_ROW = [None]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_charge_what_they_allocate_first(name, tracing):
    _ROW[0] = engine.ones(1)
    make = FACTORIES[name]
    make(2)  # first-call work (the thread's random generator)
    b = _budget.Budget()
    meter = Meter()
    with _budget.active(b):
        meter.enter()
        t = make(300)
        peak = meter.exit()
    assert peak <= b.peak + SLACK + BUFFER, f"{name} peaked at {peak} bytes, charged {b.peak}"
    assert b.peak >= t.numel() * t._data.dtype.itemsize
    # randint(0, 10, [12000, 12000]) of issue 14, and the like: refused before anything is allocated
    small = _budget.Budget(max_bytes=1 << 20)
    meter.enter()
    with _budget.active(small), pytest.raises(engine.errors.LimitExceeded):
        make(12000)
    assert meter.exit() < 1 << 20


# ----- the attacks of issue 14: each rule reports its cost from shapes, without running the op -----


def _rule_cost(op, *vals):
    return op.rule.cost(list(vals), strict=True)


def _shaped(*shape, dtype=np.float64):
    """An operand that has a shape and a dtype and nothing else (a rule reads no element)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))


def test_attack_padding_and_overlapping_pool_are_costed_before_they_run():
    from engine.ops import conv, pool  # noqa: PLC0415

    x, w = _shaped(1, 1, 1, 1), _shaped(1, 1, 1, 1)
    c = _rule_cost(conv.convolution_op, x, w, None, [1, 1], [600, 600], [1, 1], False, [0, 0], 1)
    assert c.out == (1, 1, 1201, 1201)
    assert c.temp >= 1201 * 1201  # the padded input
    y = _shaped(*c.out)
    p = _rule_cost(pool.avg_pool2d_op, y, [500, 500], [1, 1], [0, 0], False, True, None)
    assert p.out == (1, 1, 702, 702)
    # the separable sums: 500 passes over (1201 x 702) columns, 500 over (702 x 702) rows
    assert p.flops >= 500 * 702 * (1201 + 702)
    huge = _rule_cost(conv.convolution_op, x, w, None, [1, 1], [8000, 8000], [1, 1], False, [0, 0], 1)
    assert R.out_elements(huge) >= 16001 ** 2 and huge.temp >= 16001 ** 2


def test_attack_diag_and_its_pooling_are_costed_before_they_run():
    from engine.ops import join, pool  # noqa: PLC0415

    d = _rule_cost(join.diag_embed_op, _shaped(12000), 0, 0, 1)
    assert d.out == (12000, 12000)
    d = _rule_cost(join.diag_embed_op, _shaped(1000), 0, 0, 1)
    p = _rule_cost(pool.avg_pool2d_op, _shaped(1, 1, *d.out), [300, 300], [1, 1], [0, 0], False, True, None)
    assert p.out == (1, 1, 701, 701) and p.flops >= 300 * 701 * (1000 + 701)


def test_attack_intermediates_are_bounded_by_their_outputs():
    """max_pool2d k=12 on 1000^2 held 144 copies of its output, conv2d with a 20x20 kernel a 400x im2col
    buffer, cumprod's backward with a zero an (n, n) table: their rules (and so their kernels) now stay within
    a few times their inputs and outputs."""
    from engine.ops import conv, pool, reduction  # noqa: PLC0415

    x = _shaped(1, 1, 1000, 1000)
    m = _rule_cost(pool.max_pool2d_with_indices_op, x, [12, 12], [1, 1], [0, 0], [1, 1], False)
    assert m.temp <= 16 * 1000 * 1000
    c = _rule_cost(conv.convolution_op, x, _shaped(1, 1, 20, 20), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
    assert c.temp <= 8 * (1000 * 1000 + R.out_elements(c)) and c.bwd_temp <= 16 * 1000 * 1000
    z = _rule_cost(reduction.cumprod_op, _shaped(8000), 0, None)
    assert z.bwd_temp <= 16 * 8000


# ----- the rewritten kernels, large enough to take their new paths: torch's values, within their rules -----

BIG = [
    # convolutions past _IM2COL_MAX, forward and both gradients: a 20x20 kernel takes im2col tiles of output
    # rows; a 300-wide one, whose single output row is past it, the loop over kernel offsets
    Sample("conv2d", (T((1, 2, 60, 50)), T((3, 2, 20, 20)), T((3,))), dict(padding=2), kind="functional",
           note="tiles"),
    Sample("conv1d", (T((1, 4, 1299)), T((2, 4, 300))), kind="functional", note="offsets"),
    # max_pool2d with a 12x12 window, stride 1, padding and dilation: the running maximum
    Sample("max_pool2d", (T((2, 3, 90, 80)), 12), dict(stride=1, padding=3), kind="functional"),
    Sample("max_pool2d", (T((1, 2, 60, 70)), 5), dict(stride=2, dilation=3, ceil_mode=True), kind="functional"),
    # avg_pool2d with overlapping 30x30 windows, padding: the separable sums and their adjoint
    Sample("avg_pool2d", (T((2, 2, 100, 90)), 30), dict(stride=1, padding=10), kind="functional"),
    Sample("avg_pool2d", (T((1, 3, 64, 64)), (7, 5)),
           dict(stride=(2, 3), ceil_mode=True, count_include_pad=False), kind="functional"),
    # erf in 64K-element pieces (an odd size: a short last piece), gelu likewise
    Sample("erf", (T((3, 50001)),)),
    Sample("gelu", (T((70001,)),), kind="functional"),
    # cumprod's O(n) backward with zeros (8000 elements, as issue 14's attack)
    Sample("cumprod", (T((8000,), values=tuple(0.0 if i in (17, 4000, 7999) else 1.0 + (i % 7) * 1e-3
                                             for i in range(8000))), 0), gradcheck=False),
    Sample("cumprod", (T((40, 300), values=tuple(tuple(0.0 if (i * 7 + j) % 97 == 0 else 1.0 - 1e-3 * (j % 5)
                                                       for j in range(300)) for i in range(40))), 1),
           gradcheck=False),
]


def _compare_with_torch(sample, dtype, seed):
    rng = np.random.default_rng(seed)
    args = TO.materialize(tuple(sample.args), rng, dtype)
    kwargs = TO.materialize(dict(sample.kwargs), rng, dtype)
    tout, tleaves = TO.run(TO.TORCH, sample, args, kwargs)
    eout, eleaves = TO.run(TO.ENGINE, sample, args, kwargs)
    touts, eouts = TO.flatten(tout), TO.flatten(eout)
    rtol, atol = (1e-4, 1e-4) if dtype == "float32" else (1e-9, 1e-9)
    TO.assert_same_outputs(touts, eouts, rtol, atol)
    ws = TO.grad_weights(touts, np.random.default_rng(seed + 1))
    TO.weighted_loss(TO.TORCH, touts, ws).backward()
    TO.weighted_loss(TO.ENGINE, eouts, ws).backward()
    TO.compare_grads([TO.grad_of(t) for t in tleaves], [TO.grad_of(t) for t in eleaves], rtol * 10, atol * 10,
                     "grad")


@pytest.mark.parametrize("sample", BIG, ids=[f"{s.op}-{i}" for i, s in enumerate(BIG)])
def test_large_kernels_match_torch_within_their_rules(sample, tracing):
    from engine.ops import conv, conv_kernels  # noqa: PLC0415

    if sample.op.startswith("conv"):  # the sample takes the path it is there for
        x, w = sample.args[0].shape, sample.args[1].shape
        vals = [_shaped(*x), _shaped(*w), None, [sample.kwargs.get("stride", 1)], [sample.kwargs.get("padding", 0)],
                [1], False, [0], 1]
        out = _rule_cost(conv.convolution_op, *vals).out
        k, pq = conv_kernels._spatial2(w), conv_kernels._spatial2(out)
        rows = conv_kernels._tile_rows(x[0], x[1], *pq, *k, math.prod(x) + math.prod(out))
        assert (0 < rows < pq[0]) if sample.note == "tiles" else rows == 0, rows
    for dtype in ("float32", "float64"):
        _compare_with_torch(sample, dtype, 7)
        check(sample, dtype, 7)


# ----- the deadline inside long kernels: every loop whose trip count the request decides checks it -----


LOOPS = {  # name: (call, the least number of checks its loops make)
    "conv2d in im2col tiles of output rows": (
        lambda: engine.nn.functional.conv2d(engine.ones(1, 2, 300, 80), engine.ones(3, 2, 20, 20)), 3),
    "conv1d over 500 kernel offsets": (
        lambda: engine.nn.functional.conv1d(engine.ones(2, 3, 3000), engine.ones(4, 3, 500)), 500),
    "max_pool2d over 12x12 offsets": (lambda: engine.nn.functional.max_pool2d(engine.ones(1, 1, 40, 40), 12, 1), 144),
    "avg_pool2d over 30 rows and 30 columns": (
        lambda: engine.nn.functional.avg_pool2d(engine.ones(1, 1, 60, 60), 30, 1), 60),
    "erf over 64K pieces": (lambda: engine.erf(engine.ones(4, 1 << 16)), 4),
    "unbind into 500 pieces": (lambda: engine.unbind(engine.ones(500, 2)), 500),
    "split into 300 pieces": (lambda: engine.split(engine.ones(300, 2), 1), 300),
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_long_kernels_check_the_deadline_in_their_loops(name):
    call, least = LOOPS[name]
    counting = CountingBudget()
    with _budget.active(counting):
        call()
    assert counting.checks >= least, f"{name}: {counting.checks} deadline checks, its loop has {least} steps"
    with _budget.active(CountingBudget(stop=3)), pytest.raises(_budget.DeadlinePassed):
        call()


def test_many_pieces_are_costed_without_listing_them(tracing):
    """unbind / split into more pieces than a rule lists: bounded by the input (exact=False), their objects
    charged; made per call, not kept (a client asking for every arity would grow the entry caches)."""
    from engine.ops import join  # noqa: PLC0415

    op = join._split_op("unbind", 2)
    c = _rule_cost(op, _shaped(10 ** 6, 3), 0)
    assert not c.exact and R.out_elements(c) >= 3 * 10 ** 6 and c.temp >= R.OBJECT * 10 ** 6
    c = _rule_cost(join._split_op("split", 2), _shaped(10 ** 6, 3), 1, 0)
    assert not c.exact and c.temp >= R.OBJECT * 10 ** 6
    check(Sample("unbind", (T((5000, 2)),)), "float64", 3)
    check(Sample("split", (T((3, 6000)), 1, 1)), "float32", 3)
    assert ("unbind", 5000) not in join._SPLIT_OPS and ("split", 6000) not in join._SPLIT_OPS
    many = _budget.Budget(max_bytes=1 << 20)
    with _budget.active(many), pytest.raises(engine.errors.LimitExceeded):
        engine.chunk(engine.ones(0), 10 ** 9)  # a billion empty pieces: refused before the list is made
