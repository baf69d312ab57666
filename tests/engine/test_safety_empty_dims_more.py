"""safeF: the rest of redteam9's class (safeE's KNOWN list): ops that, on a zero-element input with one long dim,
made a temporary of the long dim's length (a reduction over the zero dim keeps the long one; np.tril's aranges;
take_along_axis's index grids) with nothing charged. Each now answers torch's empty result at once (or its
rule charges the temporaries). Here: torch 2.13's answers on small shapes of the class (values, dtypes, shapes,
grad_fn names, input grads, errors), and the long cases at N = 2^20 held to their charges (empty_dims_sweep)."""
from __future__ import annotations

import pytest

from tests.engine import both
from tests.engine.empty_dims_sweep import excess, measure, sweep

N = 1 << 20
SHAPES = [(0, 5), (5, 0), (5, 0, 2), (0, 3, 4), (0,)]

CASES = {  # name: fn(m, x) on a float32 input x of a shape above
    "softmax0": lambda m, x: m.softmax(x, 0),
    "softmax-1": lambda m, x: m.softmax(x, -1),
    "log_softmax0": lambda m, x: m.log_softmax(x, 0),
    "log_softmax-1": lambda m, x: m.nn.functional.log_softmax(x, -1, dtype=m.float64),
    "softmin0": lambda m, x: m.nn.functional.softmin(x, 0),
    "tril": lambda m, x: m.tril(x),
    "triu1": lambda m, x: m.triu(x, 1),
    "tril_": lambda m, x: x.detach().clone().tril_(-1),
    "sort": lambda m, x: tuple(m.sort(x, 0)),
    "sort_desc": lambda m, x: tuple(m.sort(x, -1, descending=True)),
    "sort_stable": lambda m, x: tuple(m.sort(x, stable=True, dim=0)),
    "msort": lambda m, x: m.msort(x),
    "topk0": lambda m, x: tuple(m.topk(x, 0, 0)),
    "topk_full": lambda m, x: tuple(m.topk(x, x.shape[-1], -1)),
    "topk_out_of_range": lambda m, x: tuple(m.topk(x, x.shape[0] + 1, 0)),
    "qr_complete": lambda m, x: tuple(m.linalg.qr(x, "complete")),
    "qr_reduced": lambda m, x: tuple(m.linalg.qr(x)),
    "qr_r": lambda m, x: tuple(m.linalg.qr(x, "r")),
    "adaptive_max_pool1d": lambda m, x: tuple(m.nn.functional.adaptive_max_pool1d(x, 3, return_indices=True)),
    "adaptive_avg_pool1d": lambda m, x: m.nn.functional.adaptive_avg_pool1d(x, 2),
    "adaptive_max_pool2d": lambda m, x: m.nn.functional.adaptive_max_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (1, 2)),
    "layer_norm": lambda m, x: m.nn.functional.layer_norm(x, x.shape[-1:]),
    "layer_norm_affine": lambda m, x: m.nn.functional.layer_norm(x, x.shape[-1:], m.ones(x.shape[-1:]),
                                                                 m.zeros(x.shape[-1:])),
    "group_norm": lambda m, x: m.nn.functional.group_norm(x, 1),
    "renorm": lambda m, x: m.renorm(x, 2, 0, 1.0),
    "renorm1": lambda m, x: m.renorm(x, 1, -1, 0.5),
    "renorm_": lambda m, x: x.detach().clone().renorm_(1, 0, 1.0),
    "mvlgamma": lambda m, x: m.mvlgamma(x + 5, 7),
    "mvlgamma_int": lambda m, x: m.special.multigammaln(x.long() + 5, 3),
    "mvlgamma_p0": lambda m, x: m.mvlgamma(x, 0),
    "svd_full": lambda m, x: tuple(m.linalg.svd(x, full_matrices=True)),
    "svd": lambda m, x: tuple(m.svd(x, some=False)),
    "kthvalue": lambda m, x: tuple(m.kthvalue(x, 1, -1)),
    "kthvalue_keepdim": lambda m, x: tuple(m.kthvalue(x, 1, 0, keepdim=True)),
    "cross_entropy_probs": lambda m, x: m.nn.functional.cross_entropy(x, x),
    "cross_entropy_sum": lambda m, x: m.nn.functional.cross_entropy(x, x.softmax(-1), reduction="none"),
    "trapezoid": lambda m, x: m.trapezoid(x),
    "trapz_dim0": lambda m, x: m.trapz(x, dim=0),
    "cond": lambda m, x: m.linalg.cond(x),
    "cond_fro": lambda m, x: m.linalg.cond(x, "fro"),
    "triangular_solve": lambda m, x: tuple(m.triangular_solve(x, x)),
    "triangular_solve_sq": lambda m, x: tuple(m.triangular_solve(x[..., :1], x[..., :1, :1].expand(
        *x.shape[:-2], x.shape[-2], x.shape[-2]) if x.ndim > 1 else x, upper=False)),
    "triangular_solve_bad_b": lambda m, x: tuple(m.triangular_solve(m.zeros(*x.shape[:-2], 3, 1), m.zeros(
        *x.shape[:-2], 2, 2))),
    "histc": lambda m, x: m.histc(x, 7),
    "histc_range": lambda m, x: m.histc(x, 3, -1, 1),
}


def _x(m, shape, grad=False):
    return m.zeros(shape, dtype=m.float32, requires_grad=grad)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", sorted(CASES))
def test_empty_inputs_answer_as_torch(case, shape):
    both.same(lambda m: CASES[case](m, _x(m, shape)))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.endswith("_")))
def test_empty_inputs_keep_torchs_graph_and_grads(case, shape):
    """With requires_grad: the same grad_fn names and (empty) input gradients, backward through the sum."""
    def call(m):
        x = _x(m, shape, True)
        out = CASES[case](m, x)
        y = out[0] if isinstance(out, tuple) else out
        y.sum().backward()
        return y, type(y.grad_fn).__name__, x.grad

    both.same(call)


def test_a_complete_qr_is_charged_its_m_by_m_q():
    """Q of mode 'complete' is m x m: of a [2^20, 0] input (0 bytes) 2^40 elements, refused by the limits before
    any is allocated (before: charged as A's shape, 8 TB of zeros asked of NumPy); likewise a tall [1e5, 1] one."""
    for shape in [(N, 0), (100_000, 1)]:
        m = measure({"ops": [{"name": "x", "op": "zeros", "args": [list(shape)]},
                             {"name": ["q", "r"], "op": "linalg.qr", "args": ["x", "complete"]}], "outputs": []})
        assert m["status"] == "LimitExceeded" and m["traced"] < 1 << 20, m


FIXED = ("histc", "triangular_solve", "trapezoid", "trapz", "linalg.cond", "linalg.svd", "svd", "kthvalue",
         "cross_entropy", "renorm", "renorm_", "mvlgamma", "special.multigammaln", "layer_norm", "group_norm",
         "adaptive_max_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool2d", "adaptive_avg_pool2d",
         "linalg.qr", "qr", "softmax", "log_softmax", "softmin", "tril", "triu", "tril_", "triu_", "sort",
         "msort", "topk")


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_the_fixed_ops_cost_what_they_charge_on_every_shape_of_the_class(backward):
    """The sweep over this round's ops at N = 2^20: nothing beyond its charges except the "1N"/"2N" pairs still
    listed in test_safety_empty_dims.KNOWN (call counts of chunked work on a non-empty row, see docs/runs/safeF.md)."""
    from tests.engine.test_safety_empty_dims import KNOWN  # noqa: PLC0415

    bad = [(op, key, args, m["status"], excess(m)) for op, key, args, m in sweep(N, backward, FIXED)
           if excess(m) and key not in KNOWN.get(op, "").split()]
    assert bad == []
