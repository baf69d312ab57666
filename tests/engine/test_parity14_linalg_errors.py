"""linalg's errors as live torch 2.13 raises them: torch.linalg.LinAlgError (type(e).__name__ "_LinAlgError", the
`type` of API.md's error body) for singular / not positive-definite inputs and non-converging SVDs, in the name
of the function that checked (linalg.inv_ex, linalg.cholesky_ex, torch.linalg.solve_ex with check_errors; inv
for tensorinv; cholesky_inverse), "(Batch element i): " for batches; NaN pivots failing cholesky as MKL's potrf
does, cholesky_ex's info and partial factor (MKL's unblocked potf2, n <= 128), the upper triangle read for
upper=True; lstsq's dimension and broadcast checks; singular factors in cholesky_solve / lu_solve answered (inf /
NaN, no error); solve_ex's info of A's own batch shape. The service: a real server's 422 against the oracle."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine
from tests.app.conftest import TEST_KEY, Server
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate

assert torch.__version__.startswith("2.13"), torch.__version__

NAN = float("nan")
SING = [[1.0, 2.0], [2.0, 4.0]]
NPD = [[1.0, 2.0], [2.0, 1.0]]
EYE = [[1.0, 0.0], [0.0, 1.0]]
B2 = [[1.0], [2.0]]

CASES = {
    "inv": lambda L: L.linalg.inv(L.tensor(SING)),
    "inverse": lambda L: L.inverse(L.tensor(SING)),
    "inv batch": lambda L: L.linalg.inv(L.tensor([EYE, SING])),
    "inv_ex check": lambda L: L.linalg.inv_ex(L.tensor(SING), check_errors=True),
    "inv_ex check batch": lambda L: L.linalg.inv_ex(L.tensor([EYE, EYE, SING]), check_errors=True),
    "inv_ex no check": lambda L: L.linalg.inv_ex(L.tensor(SING)).info,
    "matrix_power -1": lambda L: L.linalg.matrix_power(L.tensor(SING), -1),
    "tensorinv": lambda L: L.linalg.tensorinv(L.tensor(SING), ind=1),
    "solve": lambda L: L.linalg.solve(L.tensor(SING), L.tensor(B2)),
    "solve batch": lambda L: L.linalg.solve(L.tensor([EYE, SING]), L.tensor([B2, B2])),
    "solve 2d A batched B": lambda L: L.linalg.solve(L.tensor(SING), L.tensor([B2, B2, B2])),
    "solve_ex check": lambda L: L.linalg.solve_ex(L.tensor(SING), L.tensor(B2), check_errors=True),
    "solve_ex check batch": lambda L: L.linalg.solve_ex(L.tensor([EYE, SING]), L.tensor(B2), check_errors=True),
    "solve_ex info shape": lambda L: tuple(L.linalg.solve_ex(L.tensor(SING), L.ones(3, 2, 1)).info.shape),
    "solve_ex info shape 4d": lambda L: tuple(L.linalg.solve_ex(L.eye(2).expand(3, 1, 2, 2).contiguous(),
                                                                 L.ones(4, 2, 1)).info.shape),
    "tensorsolve": lambda L: L.linalg.tensorsolve(L.tensor(SING), L.tensor([1.0, 2.0])),
    "cholesky": lambda L: L.linalg.cholesky(L.tensor(NPD)),
    "cholesky upper": lambda L: L.linalg.cholesky(L.tensor(NPD), upper=True),
    "cholesky batch": lambda L: L.linalg.cholesky(L.tensor([EYE, NPD])),
    "cholesky nan": lambda L: L.linalg.cholesky(L.tensor([[NAN, 0.0], [0.0, 1.0]])),
    "cholesky nan below": lambda L: L.linalg.cholesky(L.tensor([[4.0, 2.0, 1.0], [2.0, 5.0, 3.0], [1.0, NAN, 2.0]])),
    "torch.cholesky": lambda L: L.cholesky(L.tensor(NPD)),
    "cholesky_ex check": lambda L: L.linalg.cholesky_ex(L.tensor(NPD), check_errors=True),
    "cholesky_ex check batch": lambda L: L.linalg.cholesky_ex(L.tensor([EYE, NPD]), check_errors=True),
    "cholesky_inverse": lambda L: L.cholesky_inverse(L.tensor([[0.0, 0.0], [1.0, 1.0]])),
    "cholesky_inverse batch": lambda L: L.cholesky_inverse(L.tensor([EYE, [[1.0, 0.0], [1.0, 0.0]]]), upper=True),
    "cholesky_solve singular": lambda L: L.cholesky_solve(L.ones(2, 1), L.tensor([[0.0, 0.0], [1.0, 1.0]])),
    "cholesky_solve singular upper": lambda L: L.cholesky_solve(L.ones(2, 1), L.tensor([[0.0, 0.0], [1.0, 1.0]]),
                                                                upper=True),
    "svd nan": lambda L: L.linalg.svd(L.tensor([[NAN, 0.0], [0.0, 1.0]])),
    "svdvals nan batch": lambda L: L.linalg.svdvals(L.tensor([EYE, [[NAN, 0.0], [0.0, 1.0]]])),
    "pinv nan": lambda L: L.linalg.pinv(L.tensor([[NAN, 0.0], [0.0, 1.0]])),
    "lu_factor singular": lambda L: L.linalg.lu_factor(L.tensor(SING)),
}
LSTSQ_SHAPES = [((2, 3, 2), (3, 1)), ((3, 2), (2, 3, 1)), ((2, 3, 2), (3, 2, 3, 1)), ((2, 3, 2), (5, 3)),
                ((5, 2, 3, 2), (3, 3, 1)), ((2, 3, 2), (4, 3, 1)), ((1, 3, 2), (3, 1)), ((1, 3, 2), (3, 3)),
                ((2, 1, 3, 2), (1, 3, 1)), ((2, 3, 2), (2, 3)), ((3, 2), (4,)), ((3, 2), (3,))]


def _outcome(lib, fn):
    """("raise", exception type as the API names it, message) or ("ok", the values)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib)
    except Exception as e:  # noqa: BLE001
        return ("raise", getattr(e, "type", None) or type(e).__name__, str(e))
    if isinstance(out, str) or isinstance(out, tuple) and all(isinstance(o, int) for o in out):  # shapes
        return ("ok", str(out))
    outs = out if isinstance(out, tuple) else (out,)
    return ("ok", [np.asarray(o.detach().numpy()).tolist() for o in outs])


def _same(t, e):
    return repr(t) == repr(e)  # (NaN equal to NaN: the values' reprs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_linalg_errors_are_torchs(case):
    t, e = _outcome(torch, CASES[case]), _outcome(engine, CASES[case])
    assert _same(t, e), f"\ntorch  {t}\nengine {e}"


@pytest.mark.parametrize("shapes", LSTSQ_SHAPES, ids=str)
@pytest.mark.parametrize("driver", [None, "gelsd"])
def test_lstsq_shape_checks_are_torchs(shapes, driver):
    rng = np.random.default_rng(14)
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])

    def fn(lib):
        r = lib.linalg.lstsq(lib.tensor(a), lib.tensor(b), driver=driver)
        return str([tuple(x.shape) for x in r])

    assert _outcome(engine, fn) == _outcome(torch, fn)


MATRICES = {
    "npd2": NPD, "npd3": [[4.0, 2.0, 1.0], [2.0, 1.0, 3.0], [1.0, 3.0, 2.0]],
    "npd3_last": [[4.0, 2.0, 1.0], [2.0, 5.0, 3.0], [1.0, 3.0, -2.0]], "nan00": [[NAN, 0.0], [0.0, 1.0]],
    "nan_lower": [[1.0, 0.0], [NAN, 1.0]], "nan_upper": [[1.0, NAN], [0.0, 1.0]],
    "nan22": [[4.0, 2.0, 1.0], [2.0, 5.0, 3.0], [1.0, 3.0, NAN]], "neg00": [[-1.0, 0.0], [0.0, 1.0]],
    "zero": [[0.0, 0.0], [0.0, 0.0]], "spd": [[4.0, 2.0], [2.0, 3.0]],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("name", sorted(MATRICES))
def test_cholesky_ex_info_and_partial_factor(name, upper, dtype):
    """LAPACK's info and what potrf leaves behind (these small integer cases exactly: no rounding in them)."""
    t = torch.linalg.cholesky_ex(torch.tensor(MATRICES[name], dtype=getattr(torch, dtype)), upper=upper)
    e = engine.linalg.cholesky_ex(engine.tensor(MATRICES[name], dtype=getattr(engine, dtype)), upper=upper)
    assert int(e.info) == int(t.info)
    assert np.array_equal(e.L.numpy(), t.L.numpy(), equal_nan=True), (e.L.numpy(), t.L.numpy())


@pytest.mark.parametrize("n,fail", [(10, 7), (40, 33), (100, 70), (128, 127)])
def test_cholesky_ex_partial_factor_of_larger_matrices(n, fail):
    """MKL's unblocked factorization up to n = 128: the factored columns (to rounding), the failing pivot's value,
    the rest of the lower triangle untouched; a batch of them, the failing one in the middle."""
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n))
    a = a @ a.T + n * np.eye(n)
    a[fail - 1, fail - 1] = -1e4
    batch = np.stack([np.eye(n), a, np.eye(n)])
    t = torch.linalg.cholesky_ex(torch.from_numpy(batch))
    e = engine.linalg.cholesky_ex(engine.tensor(batch))
    assert e.info.tolist() == t.info.tolist() == [0, fail, 0]
    np.testing.assert_allclose(e.L.numpy(), t.L.numpy(), rtol=1e-12, atol=1e-12)
    assert np.array_equal(np.tril(e.L.numpy()[1])[fail:, fail - 1:], np.tril(a)[fail:, fail - 1:])


def test_the_server_answers_torchs_linalg_error():
    """A real server (its own process, real HTTP): the 422's type is torch's class name, _LinAlgError."""
    spec = {"leaves": {"a": {"data": [EYE, SING], "requires_grad": True}},
            "ops": [{"name": "b", "op": "linalg.inv", "args": ["a"]}, {"name": "c", "op": "sum", "args": ["b"]}],
            "outputs": ["c"]}
    with pytest.raises(TorchFailure) as ref:
        torch_evaluate(spec)
    assert ref.value.type == "_LinAlgError"
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"}, api_key=TEST_KEY)
    try:
        for doc in (spec, {**spec, "ops": [{"name": "b", "op": "linalg.cholesky_ex", "args": ["a"],
                                             "kwargs": {"check_errors": True}}], "outputs": []}):
            try:
                torch_evaluate(doc)
                raise AssertionError("torch answered")
            except TorchFailure as f:
                want = [{"type": f.type, "loc": f.loc, "msg": f.msg}]
            r = s.client.post("/v1/evaluate", json=doc)
            assert r.status_code == 422 and r.json()["detail"] == want, r.text
    finally:
        s.stop()
