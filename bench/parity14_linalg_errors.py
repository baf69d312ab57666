"""parity14: linalg error cases, torch's (type name, message) against the engine's (docs/runs/parity14.md).

Usage: python bench/parity14_linalg_errors.py  (PYTHONPATH=<tree> for another source tree)."""
from __future__ import annotations

import warnings

import numpy as np
import torch

import engine

warnings.simplefilter("ignore")

S = [[1.0, 2.0], [2.0, 4.0]]
NPD = [[1.0, 2.0], [2.0, 1.0]]
NAN = [[float("nan"), 0.0], [0.0, 1.0]]
B2 = [[1.0], [2.0]]
cases = {
 "inv": lambda L: L.linalg.inv(L.tensor(S)),
 "inverse": lambda L: L.inverse(L.tensor(S)),
 "inv batch": lambda L: L.linalg.inv(L.tensor([[[1.0, 0], [0, 1]], S])),
 "solve": lambda L: L.linalg.solve(L.tensor(S), L.tensor(B2)),
 "solve batch": lambda L: L.linalg.solve(L.tensor([[[1.0, 0], [0, 1]], S]), L.tensor([B2, B2])),
 "cholesky": lambda L: L.linalg.cholesky(L.tensor(NPD)),
 "cholesky nan": lambda L: L.linalg.cholesky(L.tensor(NAN)),
 "torch.cholesky": lambda L: L.cholesky(L.tensor(NPD)),
 "cholesky batch": lambda L: L.linalg.cholesky(L.tensor([[[1.0, 0], [0, 1]], NPD])),
 "cholesky upper": lambda L: L.linalg.cholesky(L.tensor(NPD), upper=True),
 "matrix_power -1": lambda L: L.linalg.matrix_power(L.tensor(S), -1),
 "tensorinv": lambda L: L.linalg.tensorinv(L.tensor(S), ind=1),
 "tensorsolve": lambda L: L.linalg.tensorsolve(L.tensor(S), L.tensor([1.0, 2.0])),
 "svd nan": lambda L: L.linalg.svd(L.tensor(NAN)),
 "svdvals nan": lambda L: L.linalg.svdvals(L.tensor(NAN)),
 "eigh nan": lambda L: L.linalg.eigh(L.tensor(NAN)),
 "eigvalsh nan": lambda L: L.linalg.eigvalsh(L.tensor(NAN)),
 "eig nan": lambda L: L.linalg.eig(L.tensor(NAN)),
 "pinv nan": lambda L: L.linalg.pinv(L.tensor(NAN)),
 "lstsq nan": lambda L: L.linalg.lstsq(L.tensor(NAN), L.tensor(B2)),
 "lstsq bcast": lambda L: L.linalg.lstsq(L.tensor(np.ones((2, 3, 2)).tolist()), L.tensor(np.ones((3, 3, 1)).tolist())),
 "lstsq rows": lambda L: L.linalg.lstsq(L.tensor(np.ones((3, 2)).tolist()), L.tensor(np.ones((4, 1)).tolist())),
 "lstsq gelsy bcast": lambda L: L.linalg.lstsq(L.ones(2, 3, 2), L.ones(4, 3, 1), driver="gelsy"),
 "lu_factor sing": lambda L: L.linalg.lu_factor(L.tensor(S)),
 "lu_solve sing": lambda L: L.linalg.lu_solve(*L.linalg.lu_factor_ex(L.tensor(S))[:2], L.tensor(B2)),
 "cholesky_inverse": lambda L: L.cholesky_inverse(L.tensor([[0.0, 0], [0, 1]])),
 "solve_triangular sing": lambda L: L.linalg.solve_triangular(L.tensor([[0.0, 0], [1, 1]]), L.tensor(B2), upper=False),
 "cholesky_solve": lambda L: L.cholesky_solve(L.tensor(B2), L.tensor([[0.0, 0], [1, 1]])),
 "ldl_factor": lambda L: L.linalg.ldl_factor(L.tensor([[0.0, 0], [0, 0]])),
 "inv_ex check": lambda L: L.linalg.inv_ex(L.tensor(S), check_errors=True),
 "cholesky_ex check": lambda L: L.linalg.cholesky_ex(L.tensor(NPD), check_errors=True),
 "solve_ex check": lambda L: L.linalg.solve_ex(L.tensor(S), L.tensor(B2), check_errors=True),
 "lu_factor_ex check": lambda L: L.linalg.lu_factor_ex(L.tensor(S), check_errors=True),
 "det nan": lambda L: L.linalg.det(L.tensor(NAN)),
 "slogdet": lambda L: L.linalg.slogdet(L.tensor(S)),
 "matrix_rank nan": lambda L: L.linalg.matrix_rank(L.tensor(NAN)),
 "cond sing": lambda L: L.linalg.cond(L.tensor(S), p=1),
 "eigvals nan": lambda L: L.linalg.eigvals(L.tensor(NAN)),
 "householder": lambda L: L.linalg.householder_product(L.tensor(S), L.tensor([1.0, 2.0, 3.0])),
}
def run(L, f):  # noqa: N803
    try:
        f(L)
        return None
    except Exception as e:  # noqa: BLE001
        return (getattr(e, "type", None) or type(e).__name__, str(e))


def main():
    for name, f in cases.items():
        t = run(torch, f)
        try:
            e = run(engine, f)
        except Exception as ex:  # noqa: BLE001
            e = ("CRASH", repr(ex))
        if t == e:
            print("OK ", name, t and t[0])
        else:
            print("BAD", name, "\n   torch :", t, "\n   engine:", e)


if __name__ == "__main__":
    main()
