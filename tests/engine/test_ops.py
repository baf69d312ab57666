"""The generic op runner: every Sample / ErrorSample of tests/engine/samples/*.py against live torch 2.13.

Every module of the `tests.engine.samples` package is imported and its `SAMPLES` and `ERRORS` lists are
collected, so a new family's sample file is picked up without touching this runner.

For each Sample and each float dtype under test (float32, float64: the dtype of `T(dtype=None)`), the
same numpy arrays (seeded by the test id) become torch tensors and engine tensors, the call is resolved
by `kind`, and the runner compares, in order:

1. values, dtype, shape and requires_grad of every output (tuples of outputs are flattened);
2. grad_fn name of every output, and the whole backward graph reachable from the outputs: node class
   names, the (node, input_nr) structure of next_functions including None positions and shared nodes,
   and which argument each AccumulateGrad's `.variable` is;
3. leaf gradients after backward of sum((out * w).sum()) with a fixed random w per floating output;
4. (float64, sample.gradcheck) a central-difference gradcheck of the engine alone;
5. (sample.gradgrad) grad-of-grad: autograd.grad(create_graph=True), then the gradient of
   sum((g * v).sum()), against torch's.

`make test` runs every sample in float64 and FLOAT32_PER_OP (3) samples of each op in float32 (a fixed subset,
seeded by the op's id); `make test-full` (GRADSERVE_TEST_FULL=1) runs every sample in both dtypes.

ErrorSamples (run once, float32): the engine must raise an exception whose class derives from the
builtin named like torch's exception class, with torch's message ("(Triggered internally at ...)"
suffix removed).

Conventions understood by the runner (no change to opinfo.py needed):
- `op` may be dotted ("linalg.vector_norm"): torch.linalg.vector_norm, engine's catalog name;
- a keyword argument named `dtype` given as a string ("float64") is the framework's dtype object;
- `note="xfail: <reason>"` marks the whole sample xfail (non-strict); `note="xfail[grad,gradgrad]: <reason>"`
  expects failures only in the named checks (values, graph, grad, gradcheck, gradgrad) and still runs the
  others; a list entry may also be `pytest.param(Sample(...), marks=...)`.
"""
from __future__ import annotations

import collections
import importlib
import os
import pkgutil
import random
import re
import warnings
import zlib

import numpy as np
import pytest
import torch

import engine
import engine.nn.functional
from tests.engine import samples as _samples_pkg
from tests.engine.opinfo import TL, ErrorSample, Sample, T

FLOAT_DTYPES = ("float32", "float64")
CHECKS = ("values", "graph", "grad", "gradcheck", "gradgrad")
DEFAULT_TOL = {"float32": (1e-5, 1e-6), "float64": (1e-7, 1e-10), "float16": (1e-3, 1e-3)}
_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)


# ----- collection -----


def _collect():
    samples, errors, broken = [], [], []
    for info in sorted(pkgutil.iter_modules(_samples_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"{_samples_pkg.__name__}.{info.name}")
        except Exception as e:  # a broken sample file fails its own test, not the whole collection
            broken.append(pytest.param(info.name, repr(e), id=f"import-{info.name}"))
            continue
        counts = collections.Counter()
        for item in getattr(mod, "SAMPLES", ()):
            s, marks = _unwrap(item)
            idx = counts[("s", s.op)]
            counts[("s", s.op)] += 1
            for dt in FLOAT_DTYPES:
                samples.append(pytest.param(s, dt, id=f"{info.name}.{s.op}.{idx}-{dt}",
                                            marks=marks + _xfail_marks(s)))
        for item in getattr(mod, "ERRORS", ()):
            s, marks = _unwrap(item)
            idx = counts[("e", s.op)]
            counts[("e", s.op)] += 1
            errors.append(pytest.param(s, id=f"{info.name}.{s.op}.err{idx}", marks=marks + _xfail_marks(s)))
    return samples, errors, broken


def _unwrap(item):
    if hasattr(item, "values") and hasattr(item, "marks") and not isinstance(item, Sample | ErrorSample):
        return item.values[0], list(item.marks)
    return item, []


_XFAIL_NOTE = re.compile(r"^xfail(?:\[(?P<checks>[\w, ]+)\])?:\s*(?P<reason>.*)$", re.DOTALL)


def _xfail_spec(s):
    m = _XFAIL_NOTE.match(s.note or "")
    if not m:
        return None, None
    checks = m["checks"]
    return (tuple(c.strip() for c in checks.split(",")) if checks else None), m["reason"]


def _xfail_marks(s):
    checks, reason = _xfail_spec(s)
    if reason is not None and checks is None:
        return [pytest.mark.xfail(reason=reason, strict=False)]
    return []


SAMPLE_PARAMS, ERROR_PARAMS, BROKEN_MODULES = _collect()

# What test_sample runs. `make test`: every sample in float64 (the dtype that also gets the gradcheck) and, in
# float32, FLOAT32_PER_OP samples of each op (a fixed subset, seeded by the op's id: every op still runs in both
# dtypes); `make test-full` (GRADSERVE_TEST_FULL=1): every sample in both. SAMPLE_PARAMS stays whole (test_rules,
# test_forward_ad_ops and test_batched_backward read it).
FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"
FLOAT32_PER_OP = 3


def _run_params(params):
    if FULL:
        return list(params)
    by_op = collections.defaultdict(list)
    for p in params:
        if p.values[1] == "float32":
            by_op[p.id.rsplit(".", 1)[0]].append(p.id)
    keep = set()
    for op, ids in by_op.items():
        keep.update(ids if len(ids) <= FLOAT32_PER_OP else random.Random(zlib.crc32(op.encode())).sample(
            ids, FLOAT32_PER_OP))
    return [p for p in params if p.values[1] != "float32" or p.id in keep]


RUN_PARAMS = _run_params(SAMPLE_PARAMS)


# ----- building inputs -----


class Arr:
    """A materialized T: the numpy data both frameworks are built from."""

    __slots__ = ("array", "requires_grad")

    def __init__(self, array, requires_grad):
        self.array = array
        self.requires_grad = requires_grad and array.dtype.kind == "f"


def materialize(x, rng, float_dtype):
    if isinstance(x, T):
        return Arr(x.array(rng, float_dtype), x.requires_grad)
    if isinstance(x, TL):
        return [materialize(i, rng, float_dtype) for i in x.items]
    if isinstance(x, tuple):
        return tuple(materialize(i, rng, float_dtype) for i in x)
    if isinstance(x, list):
        return [materialize(i, rng, float_dtype) for i in x]
    if isinstance(x, dict):
        return {k: materialize(v, rng, float_dtype) for k, v in x.items()}
    return x


class Framework:
    def __init__(self, name, mod, functional):
        self.name = name
        self.mod = mod
        self.F = functional

    def tensor(self, arr, requires_grad):
        if self.mod is torch:
            t = torch.from_numpy(np.array(arr, copy=True))
            return t.requires_grad_(True) if requires_grad else t
        return engine.tensor(np.array(arr, copy=True), requires_grad=requires_grad)

    def dtype(self, name):
        return getattr(self.mod, name)


TORCH = Framework("torch", torch, torch.nn.functional)
ENGINE = Framework("engine", engine, engine.nn.functional)


def build(fw, spec, leaves, override=None):
    """Framework objects from a materialized spec; tensors that require grad are appended to leaves."""
    if isinstance(spec, Arr):
        arr = spec.array if override is None or id(spec) not in override else override[id(spec)]
        t = fw.tensor(arr, spec.requires_grad)
        if spec.requires_grad:
            leaves.append(t)
        return t
    if isinstance(spec, tuple):
        return tuple(build(fw, i, leaves, override) for i in spec)
    if isinstance(spec, list):
        return [build(fw, i, leaves, override) for i in spec]
    if isinstance(spec, dict):
        return {k: (fw.dtype(v) if k == "dtype" and isinstance(v, str) else build(fw, v, leaves, override))
                for k, v in spec.items()}
    return spec


def arrs_of(spec):
    out = []
    stack = [spec]
    while stack:
        x = stack.pop()
        if isinstance(x, Arr):
            out.append(x)
        elif isinstance(x, tuple | list):
            stack.extend(reversed(x))
        elif isinstance(x, dict):
            stack.extend(reversed(list(x.values())))
    return out


def resolve(namespace, name):
    """namespace.<name>, following dots (torch.linalg.vector_norm); a dotted name the namespace holds as
    one attribute (the engine's catalog key "linalg.vector_norm") is taken as it is."""
    if hasattr(namespace, name):
        return getattr(namespace, name)
    obj = namespace
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def call(fw, sample, args, kwargs):
    kind = sample.kind
    if kind == "function":
        return resolve(fw.mod, sample.op)(*args, **kwargs)
    if kind == "method":
        return resolve(args[0], sample.op)(*args[1:], **kwargs)
    if kind == "functional":
        return resolve(fw.F, sample.op)(*args, **kwargs)
    if kind == "property":
        return getattr(args[0], sample.op)
    raise ValueError(f"unknown kind {kind!r}")


def run(fw, sample, spec_args, spec_kwargs, override=None):
    leaves = []
    args = build(fw, spec_args, leaves, override)
    kwargs = build(fw, spec_kwargs, leaves, override)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call(fw, sample, args, kwargs)
    return out, leaves


def flatten(out):
    if isinstance(out, tuple | list):
        res = []
        for o in out:
            res.extend(flatten(o))
        return res
    return [out]


def is_tensor(x):
    return isinstance(x, torch.Tensor | engine.Tensor)


def to_np(t):
    if isinstance(t, torch.Tensor):
        return np.asarray(t.detach().numpy(force=True))  # force: torch's ZeroTensor gradients
    return np.asarray(t.detach().numpy())


def grad_of(t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return t.grad


def sample_seed(sample_id):
    # the backend is not part of the data: NumPy and CuPy runs of a sample see the same inputs
    base = "-".join(t for t in sample_id.split("-") if t not in BACKENDS)
    return zlib.crc32(base.encode())


# ----- backends: the whole table runs once per available array backend (CuPy skips, with why, without a GPU)

BACKENDS = ("numpy", "cupy")
_CUPY_OK, _CUPY_WHY = engine._backend.cupy_available()


# Without a usable CuPy the table runs on NumPy only, and test_cupy_backend says why once (it was a skipped CuPy
# twin of every sample: ~3,000 skipped tests collected and reported on each worker, for the same reason).
@pytest.fixture(params=["numpy", "cupy"] if _CUPY_OK else ["numpy"])
def backend(request):
    engine._backend.use(request.param)
    try:
        yield request.param
    finally:
        engine._backend.use("numpy")


# ----- comparisons -----


def tolerances(sample, dtype):
    """Defaults per dtype; a sample's rtol/atol override them for both dtypes."""
    rtol, atol = DEFAULT_TOL.get(dtype, DEFAULT_TOL["float64"])
    rtol = sample.rtol if sample.rtol is not None else rtol
    atol = sample.atol if sample.atol is not None else atol
    return rtol, atol


def assert_same_tensor(tt, et, what, rtol, atol, check_req=True):
    assert isinstance(et, engine.Tensor), f"{what}: engine gave {type(et).__name__}, torch a Tensor"
    assert str(et.dtype) == str(tt.dtype), f"{what}: dtype {et.dtype} != torch {tt.dtype}"
    assert tuple(et.shape) == tuple(tt.shape), f"{what}: shape {tuple(et.shape)} != torch {tuple(tt.shape)}"
    if check_req:
        assert et.requires_grad == tt.requires_grad, (
            f"{what}: requires_grad {et.requires_grad} != torch {tt.requires_grad}")
    a, b = to_np(et), to_np(tt)
    if b.dtype.name in DEFAULT_TOL:  # an output less precise than the dtype under test: its own tolerance
        rtol, atol = max(rtol, DEFAULT_TOL[b.dtype.name][0]), max(atol, DEFAULT_TOL[b.dtype.name][1])
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_same_outputs(touts, eouts, rtol, atol):
    assert len(eouts) == len(touts), f"engine gave {len(eouts)} outputs, torch {len(touts)}"
    for i, (to, eo) in enumerate(zip(touts, eouts)):
        if is_tensor(to):
            assert_same_tensor(to, eo, f"output {i}", rtol, atol)
        else:
            assert not is_tensor(eo), f"output {i}: engine gave a Tensor, torch {type(to).__name__}"
            assert tuple(eo) == tuple(to) if isinstance(to, tuple) else eo == to, (
                f"output {i}: engine {eo!r} != torch {to!r}")


def graph_structure(outs, leaves):
    """The backward graph reachable from the outputs, canonically numbered in BFS order.

    Returns (roots, nodes): roots are (node number or None, output_nr) per output; each node is
    (class name, argument number of its AccumulateGrad variable or None, ((child or None, input_nr), ...)).
    Iterative, with a visited map, so shared nodes are numbered once."""
    leaf_index = {id(t): i for i, t in enumerate(leaves)}
    number = {}
    nodes = []
    queue = collections.deque()

    def visit(node):
        if node is None:
            return None
        key = id(node)
        if key not in number:
            number[key] = len(number)
            nodes.append(None)
            queue.append(node)
        return number[key]

    roots = []
    for o in outs:
        if is_tensor(o):
            roots.append((visit(o.grad_fn), o.output_nr if o.grad_fn is not None else 0))
    keep = []  # keep nodes alive so that ids stay unique during the walk
    while queue:
        node = queue.popleft()
        keep.append(node)
        var = getattr(node, "variable", None) if type(node).__name__ == "AccumulateGrad" else None
        var_idx = leaf_index.get(id(var), "?") if var is not None else None
        children = tuple((visit(c), nr) for c, nr in node.next_functions)
        nodes[number[id(node)]] = (type(node).__name__, var_idx, children)
    return roots, nodes


def format_graph(struct):
    roots, nodes = struct
    lines = [f"roots: {roots}"] + [f"  #{i} {n[0]} var={n[1]} -> {list(n[2])}" for i, n in enumerate(nodes)]
    return "\n".join(lines)


def assert_same_graph(touts, tleaves, eouts, eleaves):
    for i, (to, eo) in enumerate(zip(touts, eouts)):
        if is_tensor(to):
            tn = type(to.grad_fn).__name__ if to.grad_fn is not None else None
            en = type(eo.grad_fn).__name__ if eo.grad_fn is not None else None
            assert en == tn, f"output {i}: grad_fn {en} != torch {tn}"
    tg = graph_structure(touts, tleaves)
    eg = graph_structure(eouts, eleaves)
    assert eg == tg, f"backward graph differs\nengine:\n{format_graph(eg)}\ntorch:\n{format_graph(tg)}"


def grad_weights(outs, rng):
    """A fixed random weight per floating output that requires grad (None elsewhere)."""
    ws = []
    for o in outs:
        if is_tensor(o) and o.requires_grad and o.dtype.is_floating_point:
            ws.append(rng.standard_normal(tuple(o.shape)).astype(to_np(o).dtype))
        else:
            ws.append(None)
    return ws


def weighted_loss(fw, outs, ws):
    loss = None
    for o, w in zip(outs, ws):
        if w is None:
            continue
        term = (o * fw.tensor(w, False)).sum()
        loss = term if loss is None else loss + term
    return loss


def compare_grads(tgrads, egrads, rtol, atol, what):
    assert len(tgrads) == len(egrads)
    for k, (tg, eg) in enumerate(zip(tgrads, egrads)):
        if tg is None:
            assert eg is None, f"{what} of leaf {k}: engine has a gradient, torch None"
            continue
        assert eg is not None, f"{what} of leaf {k}: engine None, torch has a gradient"
        assert_same_tensor(tg, eg, f"{what} of leaf {k}", rtol, atol, check_req=False)


def numeric_gradcheck(sample, spec_args, spec_kwargs, ws, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Central differences of sum((out * w).sum()) on the engine alone, against its autograd.grad."""
    out, leaves = run(ENGINE, sample, spec_args, spec_kwargs)
    outs = flatten(out)
    pairs = [(o, w) for o, w in zip(outs, ws) if w is not None]
    if not leaves or not pairs:
        return
    analytic = engine.autograd.grad([o for o, _ in pairs], leaves,
                                    grad_outputs=[engine.tensor(w) for _, w in pairs], allow_unused=True)
    leaf_specs = [a for a in arrs_of((spec_args, spec_kwargs)) if a.requires_grad]
    assert len(leaf_specs) == len(leaves)

    def f(override):
        with engine.no_grad():
            o, _ = run(ENGINE, sample, spec_args, spec_kwargs, override)
        total = 0.0
        for oi, w in zip(flatten(o), ws):
            if w is not None:
                total += float((to_np(oi).astype(np.float64) * w).sum())
        return total

    for k, spec in enumerate(leaf_specs):
        if spec.array.dtype != np.float64:  # finite differences need double precision (as torch's gradcheck)
            continue
        base = spec.array
        num = np.zeros_like(base)
        flat = num.reshape(-1)
        for j in range(base.size):
            plus = base.copy().reshape(-1)
            minus = base.copy().reshape(-1)
            plus[j] += eps
            minus[j] -= eps
            fp = f({id(spec): plus.reshape(base.shape)})
            fm = f({id(spec): minus.reshape(base.shape)})
            flat[j] = (fp - fm) / (2 * eps)
        an = analytic[k]
        an = np.zeros_like(base) if an is None else to_np(an)
        np.testing.assert_allclose(an, num, rtol=rtol, atol=atol,
                                   err_msg=f"gradcheck: analytic vs numeric gradient of leaf {k}")


def gradgrad(fw, sample, spec_args, spec_kwargs, ws, rng_seed):
    out, leaves = run(fw, sample, spec_args, spec_kwargs)
    outs = flatten(out)
    pairs = [(o, w) for o, w in zip(outs, ws) if w is not None]
    if not leaves or not pairs:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = fw.mod.autograd.grad([o for o, _ in pairs], leaves,
                                  grad_outputs=[fw.tensor(w, False) for _, w in pairs],
                                  create_graph=True, allow_unused=True)
        rng = np.random.default_rng(rng_seed)
        vs = [rng.standard_normal(tuple(leaf.shape)).astype(to_np(leaf).dtype) for leaf in leaves]
        loss = None
        for g, v in zip(gs, vs):
            if g is None or not g.requires_grad:
                continue
            term = (g * fw.tensor(v, False)).sum()
            loss = term if loss is None else loss + term
        req = [g is not None and g.requires_grad for g in gs]
        if loss is None:
            return req, [None] * len(leaves)
        return req, list(fw.mod.autograd.grad(loss, leaves, allow_unused=True))


# ----- the tests -----


@pytest.mark.parametrize("sample, dtype", RUN_PARAMS)
def test_sample(sample: Sample, dtype, backend, request):
    seed = sample_seed(request.node.callspec.id)
    rng = np.random.default_rng(seed)
    spec_args = materialize(tuple(sample.args), rng, dtype)
    spec_kwargs = materialize(dict(sample.kwargs), rng, dtype)
    xfail_checks, xfail_reason = _xfail_spec(sample)
    expected_failures = []

    def check(name, fn):
        if xfail_checks is not None and name in xfail_checks:
            try:
                fn()
            except (AssertionError, Exception) as e:  # noqa: B014
                expected_failures.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            return
        fn()

    tout, tleaves = run(TORCH, sample, spec_args, spec_kwargs)
    eout, eleaves = run(ENGINE, sample, spec_args, spec_kwargs)
    touts, eouts = flatten(tout), flatten(eout)
    # mixed precision (a float32 argument or output in the float64 run) is compared at float32's tolerance
    precisions = {a.array.dtype.name for a in arrs_of((spec_args, spec_kwargs))}
    precisions |= {str(o.dtype).replace("torch.", "") for o in touts if is_tensor(o)}
    eff = next((d for d in ("float16", "float32") if d in precisions), dtype)
    rtol, atol = tolerances(sample, eff)

    check("values", lambda: assert_same_outputs(touts, eouts, rtol, atol))
    check("graph", lambda: assert_same_graph(touts, tleaves, eouts, eleaves))

    ws = grad_weights(touts, np.random.default_rng(seed + 1))
    if sample.grad and any(w is not None for w in ws):

        def grads():
            tloss = weighted_loss(TORCH, touts, ws)
            eloss = weighted_loss(ENGINE, eouts, ws)
            tloss.backward()
            eloss.backward()
            compare_grads([grad_of(t) for t in tleaves], [grad_of(t) for t in eleaves],
                          rtol * 10, atol * 10, "grad")

        check("grad", grads)
        if dtype == "float64" and eff == "float64" and sample.gradcheck:
            check("gradcheck", lambda: numeric_gradcheck(sample, spec_args, spec_kwargs, ws))
        if sample.gradgrad:

            def second():
                tr = gradgrad(TORCH, sample, spec_args, spec_kwargs, ws, seed + 2)
                er = gradgrad(ENGINE, sample, spec_args, spec_kwargs, ws, seed + 2)
                if tr is None:
                    return
                assert er[0] == tr[0], f"gradgrad: first-order grads requires_grad {er[0]} != torch {tr[0]}"
                compare_grads(tr[1], er[1], rtol * 100, atol * 100, "grad-of-grad")

            check("gradgrad", second)

    if expected_failures:
        pytest.xfail(f"{xfail_reason} [{'; '.join(expected_failures)}]")


def torch_message(e):
    return _TRIGGERED.sub("", str(e))


@pytest.mark.parametrize("sample", ERROR_PARAMS)
def test_error(sample: ErrorSample, backend, request):
    rng = np.random.default_rng(sample_seed(request.node.callspec.id))
    spec_args = materialize(tuple(sample.args), rng, "float32")
    spec_kwargs = materialize(dict(sample.kwargs), rng, "float32")
    with pytest.raises(Exception) as tinfo:  # noqa: B017, PT011
        run(TORCH, sample, spec_args, spec_kwargs)
    texc = tinfo.value
    try:
        run(ENGINE, sample, spec_args, spec_kwargs)
    except Exception as e:  # noqa: BLE001
        eexc = e
    else:
        pytest.fail(f"engine did not raise; torch raised {type(texc).__name__}: {torch_message(texc)}")
    tname = type(texc).__name__
    # torch's own subclasses (torch.OutOfMemoryError, ...) name a builtin further up their MRO
    builtin = next(c.__name__ for c in type(texc).__mro__ if c.__module__ == "builtins")
    names = [c.__name__ for c in type(eexc).__mro__ if c.__module__ == "builtins"]
    assert builtin in names, (
        f"engine raised {type(eexc).__name__} ({names}), torch {tname}: {torch_message(texc)}")
    assert str(eexc) == torch_message(texc)


@pytest.mark.skipif(not _CUPY_OK, reason=f"CuPy/CUDA not usable here: {_CUPY_WHY}")
def test_cupy_backend():
    """Where CuPy is usable, every sample and error above runs on it too (their [cupy-...] ids)."""
    assert "cupy" in BACKENDS and _CUPY_OK


def test_sample_modules_import():
    broken = [f"tests/engine/samples/{p.values[0]}.py: {p.values[1]}" for p in BROKEN_MODULES]
    assert not broken, "sample modules failed to import:\n" + "\n".join(broken)


def test_collection_nonempty():
    assert SAMPLE_PARAMS, "no samples collected"
