"""The engine on PyTorch's own OpInfo samples: every covered target name of op_db, float32 and float64.

For each OpInfo entry the engine resolves (tests/engine/torch_opinfo.py) and each float dtype, its
`sample_inputs` are translated into engine calls (same values, dtypes, requires_grad) and compared with live
torch 2.13:

1. values, dtype, shape, requires_grad of every output, and the method variant's outputs where both have one;
2. grad_fn names and the whole backward graph (node classes, next_functions structure, leaves);
3. `autograd.grad` of the outputs (after the sample's output_process_fn_grad, through the OpInfo's
   gradcheck_wrapper), with seeded random grad_outputs, where the OpInfo supports autograd;
4. float64 only: a central-difference check of the engine's own gradient (where the OpInfo supports
   gradcheck; inputs up to GRADCHECK_MAX_ELEMENTS elements in `make test`);
5. grad-of-grad (create_graph, then the gradient of <grads, v> with respect to the inputs and the
   grad_outputs, as gradgradcheck does), where the OpInfo supports gradgrad.

Each OpInfo's `error_inputs` (where it has them) must raise torch's exception class and message.

`make test` runs a fixed, seeded subset (SUBSET samples per entry and dtype, SUBSET error inputs);
`make test-full` (GRADSERVE_OPINFO_FULL=1) runs every sample. Arguments the engine does not model (complex,
bfloat16, sparse, memory formats other than contiguous) skip their sample with the reason; an entry whose
every sample skips is skipped with the reasons.
"""
from __future__ import annotations

import os
import re
import warnings
import zlib

import numpy as np
import pytest
import torch

import engine
from tests.engine import torch_opinfo as O
from tests.engine.test_ops import format_graph, graph_structure

FULL = os.environ.get("GRADSERVE_OPINFO_FULL", "") not in ("", "0")
SUBSET = 2  # samples per entry and dtype in `make test` (and error inputs per entry)
GRADCHECK_MAX_ELEMENTS = 10_000 if FULL else 60
DTYPES = {"float32": torch.float32, "float64": torch.float64}
TOL = {"float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}
_ARG_PARSER = re.compile(r"received an invalid combination of arguments|\(\): argument '\w+' .*must be")
_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)

# Ops whose outputs are random (values not comparable with torch's: the engine has its own generator);
# their shapes, dtypes and graphs are compared, their values and gradients are not.
RANDOM = {"bernoulli", "normal", "nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
          "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout", "nn.functional.rrelu",
          "nn.functional.fractional_max_pool2d", "nn.functional.fractional_max_pool3d", "pca_lowrank",
          "svd_lowrank"}

# Ops that read the storage itself (a sample on a view of a larger storage is skipped).
STORAGE_OPS = {"as_strided", "as_strided_copy", "as_strided_scatter"}

def _sign_fix(cols, *others):
    """Flip each column (last-but-one axis vectors) so its largest-magnitude entry is positive; the same flips
    apply to the matching rows / columns of the other factors."""
    idx = np.argmax(np.abs(cols), axis=-2)[..., None, :]
    sign = np.sign(np.take_along_axis(cols, idx, axis=-2))
    sign = np.where(sign == 0, 1, sign)
    return sign


def _svd_canon(vh_is_v):
    def canon(case, outs):
        u, s, vh = outs
        k = s.shape[-1]
        u = u[..., :k]
        vh = np.swapaxes(vh, -1, -2)[..., :k, :] if vh_is_v else vh[..., :k, :]
        if u.size == 0:
            return [u, s, vh]
        sign = _sign_fix(u)
        return [u * sign, s, vh * np.swapaxes(sign, -1, -2)]

    return canon


def _eigh_canon(case, outs):
    w, v = outs
    if v.size == 0:
        return [w, v]
    return [w, v * _sign_fix(v)]


# Decompositions whose factors are unique only up to signs (the engine's LAPACK and torch's may choose
# differently): their values are compared after both are put in one sign convention.
GAUGE = {"linalg.svd": _svd_canon(False), "svd": _svd_canon(True), "linalg.eigh": _eigh_canon}

# Tolerances looser than TOL, by OpInfo id: (rtol, atol) for both dtypes, or a dict per dtype.
TOLERANCE = {
    # torch sums the batch of products in float32 in its own order: near-cancelling entries differ ~1e-5
    "addbmm": {"float32": (1.3e-6, 1e-4)},
    # float32 matrix exponentials of entries with norms ~10 (OpInfo's samples): torch's float32 Pade
    # (Bader-Blanes-Casas) and the engine's float64 one differ by float32's rounding amplified ~1e3
    "matrix_exp": {"float32": (3e-3, 1e-3)},
    # lstsq's float32 gradient goes through pinv_backward's products: torch's float32 LAPACK and the engine's
    # float64 one (rounded) differ by ~1e-4 where terms cancel
    "linalg.lstsq": {"float32": (1.3e-5, 1e-4)},
    "linalg.matrix_exp": {"float32": (3e-3, 1e-3)},
    # OpInfo's sample holds 1e4 beside O(1) values: the backward's reversed logcumsumexp cancels in float32, where
    # torch and the engine round differently (both ~1e-3 from the float64 gradient; torch tests grads in float64)
    "logcumsumexp": {"float32": (1e-3, 1e-4)},
    # one normalized element: the exact gradient is 0, torch's float32 kernel leaves rstd * rounding (~5e-4
    # with rstd = 1 / sqrt(eps) = 316)
    "native_layer_norm": {"float32": (1.3e-6, 1e-4)},
}

# Known gaps, by OpInfo id: the entry's sample test is an expected failure (strict: it fails once the gap is
# closed, so the line is removed then), with the reason. Every id here is listed in docs/ENGINE.md.
KNOWN: dict[str, str] = {}


def _params():
    out, err = [], []
    for info in O.op_db():
        if O.engine_op(info) is None:
            continue
        known = KNOWN.get(O.info_id(info))
        marks = [pytest.mark.xfail(reason=known, strict=True)] if known else []
        for dt in DTYPES:
            out.append(pytest.param(info, dt, id=f"{O.info_id(info)}-{dt}", marks=marks))
        err.append(pytest.param(info, id=O.info_id(info)))
    return out, err


SAMPLE_PARAMS, ERROR_PARAMS = _params()


# ----- helpers -----


def flatten(out):
    if isinstance(out, torch.Tensor | engine.Tensor):
        return [out]
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
        return np.asarray(t.detach().resolve_neg().resolve_conj().numpy(force=True))
    return np.asarray(t.detach().numpy())


def seed_of(text):
    return zlib.crc32(text.encode())


def tolerance(info, dtype):
    tol = TOLERANCE.get(O.info_id(info), TOLERANCE.get(info.name))
    if isinstance(tol, dict):
        tol = tol.get(dtype)
    return tol or TOL[dtype]


def assert_same(tt, et, what, rtol, atol, values=True, check_req=True):
    assert isinstance(et, engine.Tensor), f"{what}: engine gave {type(et).__name__}, torch a Tensor"
    assert str(et.dtype) == str(tt.dtype), f"{what}: dtype {et.dtype} != torch {tt.dtype}"
    assert tuple(et.shape) == tuple(tt.shape), f"{what}: shape {tuple(et.shape)} != torch {tuple(tt.shape)}"
    if check_req:
        assert et.requires_grad == tt.requires_grad, (
            f"{what}: requires_grad {et.requires_grad} != torch {tt.requires_grad}")
    if not values:
        return
    a, b = to_np(et), to_np(tt)
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_outputs(touts, eouts, rtol, atol, values, what="output"):
    assert len(eouts) == len(touts), f"engine gave {len(eouts)} outputs, torch {len(touts)}"
    for i, (to, eo) in enumerate(zip(touts, eouts)):
        if is_tensor(to):
            assert_same(to, eo, f"{what} {i}", rtol, atol, values)
            tn = type(to.grad_fn).__name__ if to.grad_fn is not None else None
            en = type(eo.grad_fn).__name__ if eo.grad_fn is not None else None
            assert en == tn, f"{what} {i}: grad_fn {en} != torch {tn}"
        else:
            assert not is_tensor(eo), f"{what} {i}: engine gave a Tensor, torch {type(to).__name__}"
            if values:
                assert eo == to, f"{what} {i}: engine {eo!r} != torch {to!r}"


def compare_grads(tg, eg, rtol, atol, what):
    assert len(tg) == len(eg)
    for k, (a, b) in enumerate(zip(tg, eg)):
        if a is None and b is None:
            continue
        # None and a zero gradient say the same thing (torch's allow_unused gives None for an unused input)
        if a is None:  # (zero up to rounding: a formula whose terms cancel, as det's second derivative on 1x1)
            assert np.allclose(to_np(b), 0, rtol=0, atol=atol), f"{what} of input {k}: torch None, engine nonzero"
            continue
        if b is None:
            assert np.allclose(to_np(a), 0, rtol=0, atol=atol), f"{what} of input {k}: engine None, torch nonzero"
            continue
        assert_same(a, b, f"{what} of input {k}", rtol, atol, check_req=False)


class Case:
    """One sample on both sides: torch's with its inputs made leaves, the engine's translated from it."""

    def __init__(self, info, fn, sample):
        self.info, self.fn, self.sample = info, fn, sample
        if info.name in STORAGE_OPS and isinstance(sample.input, torch.Tensor) and not O.storage_exact(sample.input):
            raise O.Unsupported("as_strided of a view (it reads torch's storage beyond the tensor's elements)")
        memo = {}
        self.t_in = O.torch_leaves(sample.input, memo)
        self.t_args = O.torch_leaves(tuple(sample.args), memo)
        self.t_kwargs = O.torch_leaves(dict(sample.kwargs), memo)
        self.t_leaves = [t for t in memo.values() if t.requires_grad]
        emap = {}
        self.e_in = O.to_engine(self.t_in, emap)
        self.e_args = O.to_engine(self.t_args, emap)
        self.e_kwargs = O.to_engine(self.t_kwargs, emap)
        self.e_leaves = [emap[id(t)] for t in self.t_leaves]

    def torch(self, wrapped=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if wrapped:
                return self.info.gradcheck_wrapper(self.info.op, self.t_in, *self.t_args, **self.t_kwargs)
            return self.info.op(self.t_in, *self.t_args, **self.t_kwargs)

    def engine(self, wrapped=False, inputs=None):
        e_in, e_args, e_kwargs = inputs or (self.e_in, self.e_args, self.e_kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if wrapped:
                return O.rebind(self.info.gradcheck_wrapper)(self.fn, e_in, *e_args, **e_kwargs)
            return self.fn(e_in, *e_args, **e_kwargs)


def _diff_outputs(outs):
    return [o for o in outs if is_tensor(o) and o.requires_grad and o.dtype.is_floating_point]


def _grad_outputs(outs, rng, req):
    """Seeded random grad_outputs (as torch tensors and as engine tensors of the same values)."""
    t, e = [], []
    for o in outs:
        w = rng.standard_normal(tuple(o.shape)).astype(to_np(o).dtype)
        t.append(torch.from_numpy(w.copy()).requires_grad_(req))
        e.append(engine.tensor(w.copy(), requires_grad=req))
    return t, e


def check_sample(case: Case, dtype: str, seed: int):
    info, s = case.info, case.sample
    rtol, atol = tolerance(info, dtype)
    values = info.name not in RANDOM
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        tout = case.torch()
    eout = case.engine()
    touts, eouts = flatten(tout), flatten(eout)
    canon = GAUGE.get(info.name)
    if canon is not None and values:  # compare what the decomposition fixes (singular vectors up to sign)
        assert_outputs(touts, eouts, rtol, atol, False)
        for k, (a, b) in enumerate(zip(canon(case, [to_np(t) for t in touts]), canon(case, [to_np(t) for t in eouts]))):
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"output {k} (sign-canonical)")
    else:
        assert_outputs(touts, eouts, rtol, atol, values)
    tg_struct = graph_structure(touts, case.t_leaves)
    eg_struct = graph_structure(eouts, case.e_leaves)
    assert eg_struct == tg_struct, (
        f"backward graph differs\nengine:\n{format_graph(eg_struct)}\ntorch:\n{format_graph(tg_struct)}")

    meth = O.engine_method(info)
    if meth is not None and isinstance(case.t_in, torch.Tensor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tm = flatten(info.method_variant(case.t_in, *case.t_args, **case.t_kwargs))
            em = flatten(getattr(case.e_in, info.name)(*case.e_args, **case.e_kwargs))
        if canon is not None and values:
            assert_outputs(tm, em, rtol, atol, False, "method variant output")
            for k, (a, b) in enumerate(zip(canon(case, [to_np(t) for t in tm]), canon(case, [to_np(t) for t in em]))):
                np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"method output {k} (sign-canonical)")
        else:
            assert_outputs(tm, em, rtol, atol, values, "method variant output")

    if not (info.supports_autograd and values and case.t_leaves):
        return
    # (factors fixed up to sign have tangents fixed up to sign)
    if dtype == "float64" and canon is None and info.name not in FORWARD_AD_DIFFERS:
        check_forward_ad(case, seed, rtol, atol)
    wrapped = getattr(info.gradcheck_wrapper, "__name__", "") != "<lambda>"
    process = s.output_process_fn_grad
    if wrapped:
        try:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                tout = case.torch(wrapped=True)
        except TypeError:  # a wrapper that needs kwargs the sample lacks (torch's own tests cannot run it either)
            wrapped = False
        else:
            eout = case.engine(wrapped=True)
    touts, eouts = _diff_outputs(flatten(process(tout))), _diff_outputs(flatten(process(eout)))
    assert len(touts) == len(eouts), f"differentiable outputs: engine {len(eouts)}, torch {len(touts)}"
    if not touts:
        return
    rng = np.random.default_rng(seed)
    t_go, e_go = _grad_outputs(touts, rng, info.supports_gradgrad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tg = torch.autograd.grad(touts, case.t_leaves, t_go, allow_unused=True, retain_graph=True)
    eg = engine.autograd.grad(eouts, case.e_leaves, e_go, allow_unused=True, retain_graph=True)
    compare_grads(tg, eg, rtol * 10, atol * 10, "grad")

    # finite differences need double precision throughout (a float32 output in the float64 run has none)
    if (dtype == "float64" and all(o.dtype == torch.float64 for o in touts) and not torch_gradcheck_fails(info)
            and sum(t.numel() for t in case.t_leaves) <= GRADCHECK_MAX_ELEMENTS):
        numeric_gradcheck(case, eg, [to_np(g) for g in e_go], wrapped)

    if info.supports_gradgrad:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tg = torch.autograd.grad(touts, case.t_leaves, t_go, allow_unused=True, create_graph=True)
        eg = engine.autograd.grad(eouts, case.e_leaves, e_go, allow_unused=True, create_graph=True)
        vs = [rng.standard_normal(tuple(t.shape)).astype(to_np(t).dtype) for t in case.t_leaves]
        t_terms = [(g * torch.from_numpy(v)).sum() for g, v in zip(tg, vs) if g is not None and g.requires_grad]
        e_terms = [(g * engine.tensor(v)).sum() for g, v in zip(eg, vs) if g is not None and g.requires_grad]
        assert len(t_terms) == len(e_terms), (
            f"gradgrad: {len(e_terms)} first-order grads require grad in the engine, {len(t_terms)} in torch")
        if not t_terms:
            return
        wrt_t, wrt_e = [*case.t_leaves, *t_go], [*case.e_leaves, *e_go]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tgg = torch.autograd.grad(sum(t_terms), wrt_t, allow_unused=True)
            except RuntimeError as e:
                if "Expected a proper Tensor but got None" not in str(e):
                    raise
                # torch's own double backward fails here (native_layer_norm without weight but with bias
                # passes an undefined tensor on): nothing to compare against
                return
        egg = engine.autograd.grad(sum(e_terms), wrt_e, allow_unused=True)
        compare_grads(tgg, egg, rtol * 100, atol * 100, "grad-of-grad")


# torch's forward formula disagrees with finite differences here (its cholesky_inverse_jvp on a triangular
# tangent): the engine's tangent is the derivative (J t from its backward formula), so no comparison
FORWARD_AD_DIFFERS = {"cholesky_inverse"}


def _swap(x, table):
    """x with the tensors in `table` (by id) replaced, through lists, tuples and dicts."""
    if isinstance(x, list):
        return [_swap(i, table) for i in x]
    if isinstance(x, tuple):
        return tuple(_swap(i, table) for i in x)
    if isinstance(x, dict):
        return {k: _swap(v, table) for k, v in x.items()}
    return table.get(id(x), x)


def check_forward_ad(case: Case, seed: int, rtol, atol):
    """Forward-mode AD: every leaf made dual with the same seeded tangent on both sides; the outputs' tangents
    equal torch's (None where torch's is None), or both raise the same error (torch's not-implemented ones)."""
    import torch.autograd.forward_ad as tfw  # noqa: PLC0415

    from engine.autograd import forward_ad as efw  # noqa: PLC0415

    rng = np.random.default_rng(seed + 17)
    vs = [rng.standard_normal(tuple(t.shape)).astype(to_np(t).dtype) for t in case.t_leaves]
    t_res = e_res = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tfw.dual_level():
            table = {id(t): tfw.make_dual(t.detach(), torch.from_numpy(v.copy())) for t, v in zip(case.t_leaves, vs)}
            try:
                out = case.info.op(*_swap((case.t_in, *case.t_args), table), **_swap(case.t_kwargs, table))
                t_res = [tfw.unpack_dual(o).tangent if is_tensor(o) and o.dtype.is_floating_point else None
                         for o in flatten(out)]
            except Exception as e:  # noqa: BLE001 - compared with the engine's below
                t_err = e
        with efw.dual_level():
            table = {id(t): efw.make_dual(t.detach(), engine.tensor(v.copy())) for t, v in zip(case.e_leaves, vs)}
            try:
                out = case.engine(False, (_swap(case.e_in, table), _swap(case.e_args, table),
                                          _swap(case.e_kwargs, table)))
                e_res = [efw.unpack_dual(o).tangent if is_tensor(o) and o.dtype.is_floating_point else None
                         for o in flatten(out)]
            except Exception as e:  # noqa: BLE001
                e_err = e
    if t_res is None:
        assert e_res is None, f"forward AD: torch raised {type(t_err).__name__}: {t_err}; the engine did not"
        assert type(e_err).__name__ == type(t_err).__name__ and str(e_err) == str(t_err), (
            f"forward AD error: engine {type(e_err).__name__}: {e_err}\n torch {type(t_err).__name__}: {t_err}")
        return
    assert e_res is not None, f"forward AD: the engine raised {type(e_err).__name__}: {e_err}; torch did not"
    assert len(t_res) == len(e_res)
    for k, (a, b) in enumerate(zip(t_res, e_res)):
        if a is None or b is None:
            z = a if b is None else b
            assert z is None or np.allclose(to_np(z), 0, atol=atol), f"forward AD tangent {k}: {a is None}/{b is None}"
            continue
        np.testing.assert_allclose(to_np(b), to_np(a), rtol=rtol * 10, atol=atol * 10,
                                   err_msg=f"forward AD tangent of output {k}")


def numeric_gradcheck(case: Case, analytic, ws, wrapped, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Central differences of <outputs, w> on the engine alone, against its autograd.grad."""
    process = case.sample.output_process_fn_grad
    leaves = case.e_leaves
    base = [to_np(t).copy() for t in leaves]

    def f(k, flat_index, delta):
        arrs = [b.copy() for b in base]
        arrs[k].reshape(-1)[flat_index] += delta
        emap = {id(t): engine.tensor(a) for t, a in zip(leaves, arrs)}

        def swap(x):
            if isinstance(x, engine.Tensor):
                return emap.get(id(x), x)
            if isinstance(x, list):
                return [swap(i) for i in x]
            if isinstance(x, tuple):
                return tuple(swap(i) for i in x)
            if isinstance(x, dict):
                return {key: swap(v) for key, v in x.items()}
            return x

        with engine.no_grad():
            out = case.engine(wrapped, (swap(case.e_in), swap(case.e_args), swap(case.e_kwargs)))
        outs = [o for o in flatten(process(out)) if is_tensor(o) and o.dtype.is_floating_point]
        return [to_np(o).astype(np.float64) for o in outs]

    for k, b in enumerate(base):
        if b.dtype != np.float64:
            continue
        num = np.zeros(b.size)
        for j in range(b.size):
            # a Jacobian column first, then weighted: outputs the element does not touch difference to exactly 0,
            # so a large output elsewhere adds no rounding noise (as torch's gradcheck, column by column)
            plus, minus = f(k, j, eps), f(k, j, -eps)
            num[j] = sum(float((w * ((p - m) / (2 * eps))).sum()) for p, m, w in zip(plus, minus, ws))
        an = np.zeros(b.shape) if analytic[k] is None else to_np(analytic[k])
        np.testing.assert_allclose(an.reshape(-1), num, rtol=rtol, atol=atol,
                                   err_msg=f"gradcheck: analytic vs numeric gradient of input {k}")


def torch_gradcheck_fails(info) -> bool:
    """torch's own OpInfo marks its float64 CPU gradcheck as an expected failure or a skip (as_strided_scatter's
    backward, cov's, ...): the engine follows torch's formula, so the finite-difference check is not run."""
    for d in info.decorators:
        if getattr(d, "cls_name", None) != "TestBwdGradients" or getattr(d, "test_name", None) != "test_fn_grad":
            continue
        if d.device_type not in (None, "cpu") or (d.dtypes is not None and torch.float64 not in d.dtypes):
            continue
        if any(getattr(x, "__name__", "") in ("expectedFailure", "skip") for x in d.decorators):
            return True
    return False


def _pick(n, key, subset=SUBSET):
    """The fixed subset: `subset` indices of n, seeded by the entry's id (all of them under FULL)."""
    if FULL or n <= subset:
        return list(range(n))
    rng = np.random.default_rng(seed_of(key))
    return sorted(rng.choice(n, subset, replace=False).tolist())


# ----- the tests -----


@pytest.mark.parametrize("info, dtype", SAMPLE_PARAMS)
def test_opinfo_sample(info, dtype):
    tdt = DTYPES[dtype]
    if tdt not in info.supported_dtypes("cpu"):
        pytest.skip(f"OpInfo {O.info_id(info)} does not support {dtype}")
    key = f"{O.info_id(info)}-{dtype}"
    fn = O.engine_op(info)
    torch.manual_seed(seed_of(key))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = list(info.sample_inputs("cpu", tdt, requires_grad=info.supports_autograd))
    usable, skipped = [], {}
    for i, s in enumerate(samples):
        try:
            Case(info, fn, s)  # a probe: what the engine cannot model is known before any sample runs
            usable.append(i)
        except O.Unsupported as e:
            skipped[str(e)] = skipped.get(str(e), 0) + 1
    if not usable:
        pytest.skip("every sample uses what the engine does not model: "
                    + "; ".join(f"{r} ({n})" for r, n in skipped.items()))
    failures = []
    for j in _pick(len(usable), key):
        i = usable[j]
        # built just before it runs: OpInfo's samples may share tensors that an earlier sample's torch call
        # updated in place (batch_norm's running statistics), and the engine must start from the same values
        case = Case(info, fn, samples[i])
        try:
            check_sample(case, dtype, seed_of(f"{key}-{i}"))
        except Exception as e:  # noqa: BLE001 - every sample's failure is reported, not the first only
            summary = case.sample.summary() if hasattr(case.sample, "summary") else repr(case.sample)
            failures.append(f"sample {i}: {type(e).__name__}: {e}\n    {summary[:400]}")
    assert not failures, f"{len(failures)} sample(s) failed:\n" + "\n".join(failures)


def torch_message(e):
    return _TRIGGERED.sub("", str(e))


def compare_error_input(case, j) -> str | None:
    """OpInfo error input j (a Case) on torch and on the engine: None where it does not apply here (torch raises
    nothing on this device or build, or its Python argument parser refused a Python number: a number where it
    insists on a Tensor, its overload list in the message; the engine's functions take numbers where requests give
    them), "" where the engine raises torch's builtin exception type with torch's message, else the failure."""
    try:
        case.torch()
    except Exception as e:  # noqa: BLE001
        texc = e
    else:
        return None
    if isinstance(texc, TypeError) and _ARG_PARSER.search(str(texc)):
        return None
    try:
        case.engine()
    except Exception as e:  # noqa: BLE001
        eexc = e
    else:
        return f"error input {j}: engine did not raise; torch {type(texc).__name__}: {torch_message(texc)}"
    builtin = next(c.__name__ for c in type(texc).__mro__ if c.__module__ == "builtins")
    names = [c.__name__ for c in type(eexc).__mro__ if c.__module__ == "builtins"]
    if builtin not in names or str(eexc) != torch_message(texc):
        return (f"error input {j}: engine {type(eexc).__name__}: {eexc}\n"
                f"    torch {type(texc).__name__}: {torch_message(texc)}")
    return ""


@pytest.mark.parametrize("info", ERROR_PARAMS)
def test_opinfo_errors(info):
    errors = []
    if info.error_inputs_func is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = list(info.error_inputs("cpu"))
    if not errors:
        pytest.skip(f"OpInfo {O.info_id(info)} has no error_inputs")
    fn = O.engine_op(info)
    ran, failures = 0, []
    for j in _pick(len(errors), O.info_id(info) + "-errors"):
        ei = errors[j]
        try:
            case = Case(info, fn, ei.sample_input)
        except O.Unsupported:
            continue
        failure = compare_error_input(case, j)
        if failure is None:
            continue
        ran += 1
        if failure:
            failures.append(failure)
    if not ran:
        pytest.skip("no error input applies to the engine (complex/other-device inputs)")
    assert not failures, "\n".join(failures)


def test_targets_are_op_db_names():
    names = {i.name for i in O.op_db()}
    assert set(O.TARGETS) == names, sorted(set(O.TARGETS) ^ names)


def test_coverage_table_in_docs():
    from tests.engine import opinfo_coverage as C  # noqa: PLC0415

    assert C.doc_table() == C.table(), (
        "docs/ENGINE.md's OpInfo coverage table is stale: run python -m tests.engine.opinfo_coverage --write")


def test_covered_names_are_request_ops():
    """A covered name is a request op too: the catalog the evaluator and GET /v1/ops read has it."""
    from engine.catalog import OPS  # noqa: PLC0415

    cov = O.covered()
    missing = []
    for name, ok in cov.items():
        if not ok:
            continue
        key = name.removeprefix("nn.functional.")
        if key not in OPS and not hasattr(engine.Tensor, key):
            missing.append(name)
    assert not missing, missing
