"""The methods branch's ops on PyTorch's own OpInfo samples and error inputs, against live torch 2.13.

The ops torch users write that are not OpInfo autograd targets (tests/engine/opinfo_targets.txt lists the
real-valued autograd entries only, so test_opinfo.py does not drive them): all, any, nonzero, argwhere,
count_nonzero, signbit, isposinf, isneginf, heaviside, gcd, lcm, isin, bucketize, searchsorted, unique,
unique_consecutive, bincount, histc, tril_indices, triu_indices, logspace, real, conj, resolve_conj, resolve_neg.
Each sample runs through test_opinfo.py's Case / check_sample (values, dtype, shape, requires_grad, the method
variant, grad_fn names and graph) for float32, float64, int64 and bool where the OpInfo supports the dtype; a
fixed seeded subset of SUBSET samples per op and dtype (every sample under GRADSERVE_OPINFO_FULL=1), and every
error input, whose class and message must be torch's."""
from __future__ import annotations

import warnings

import pytest
import torch

from tests.engine import torch_opinfo as O
from tests.engine.test_opinfo import Case, _pick, check_sample, compare_error_input, seed_of

NAMES = ("all", "any", "nonzero", "argwhere", "count_nonzero", "signbit", "isposinf", "isneginf", "heaviside",
         "gcd", "lcm", "isin", "bucketize", "searchsorted", "unique", "unique_consecutive", "bincount", "histc",
         "tril_indices", "triu_indices", "logspace", "real", "conj", "resolve_conj", "resolve_neg")
DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}
SUBSET = 6


def _infos():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db  # noqa: PLC0415
    O._cheap_sample_iterators()
    return [o for o in op_db if o.name in NAMES]


INFOS = _infos()


def test_every_name_has_an_opinfo_and_an_engine_op():
    assert {o.name for o in INFOS} == set(NAMES)
    assert all(O.engine_op(o) is not None for o in INFOS), [o.name for o in INFOS if O.engine_op(o) is None]


@pytest.mark.parametrize("info, dtype", [pytest.param(o, d, id=f"{O.info_id(o)}-{d}") for o in INFOS
                                         for d in DTYPES])
def test_sample(info, dtype):
    tdt = DTYPES[dtype]
    if tdt not in info.supported_dtypes("cpu"):
        pytest.skip(f"OpInfo {O.info_id(info)} does not support {dtype}")
    key = f"{O.info_id(info)}-{dtype}"
    fn = O.engine_op(info)
    torch.manual_seed(seed_of(key))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = list(info.sample_inputs("cpu", tdt, requires_grad=info.supports_autograd
                                          and tdt.is_floating_point))
    assert samples
    failures = []
    for i in _pick(len(samples), key, SUBSET):
        case = Case(info, fn, samples[i])
        try:
            check_sample(case, dtype if tdt.is_floating_point else "float64", seed_of(f"{key}-{i}"))
        except Exception as e:  # noqa: BLE001 - every sample's failure is reported
            failures.append(f"sample {i}: {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("info", [pytest.param(o, id=O.info_id(o)) for o in INFOS if o.error_inputs_func])
def test_error_inputs(info):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = list(info.error_inputs("cpu"))
    fn = O.engine_op(info)
    ran, failures = 0, []
    for j, ei in enumerate(errors):
        failure = compare_error_input(Case(info, fn, ei.sample_input), j)
        if failure is None:
            continue
        ran += 1
        if failure:
            failures.append(failure)
    if not ran:
        pytest.skip("no error input applies to the engine")
    assert not failures, "\n".join(failures)
