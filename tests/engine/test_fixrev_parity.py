"""Review B5: torch parity of the new ops' corners, against live torch 2.13: lcm past int64 (torch's
abs(a / g * b) in C++'s arithmetic), gcd / lcm at a signed type's minimum, searchsorted / bucketize on bool,
histc's message for a NaN range (nan or -nan by the NaN's sign), tril_indices / triu_indices out of int64."""
from __future__ import annotations

import pytest
import torch

import engine

NAN = float("nan")


def _answer(lib, fn):
    try:
        r = fn(lib)
    except Exception as e:  # noqa: BLE001 - compared with the other library's
        return getattr(e, "type", type(e).__name__), str(e)
    return r.dtype is not None and str(r.dtype).removeprefix("torch."), r.tolist()


def _t(lib, data, dtype="int64"):
    return lib.tensor(data, dtype=getattr(lib, dtype))


CASES = {
    "lcm_past_int64": lambda L: L.lcm(_t(L, [2**62, -3, -2**62, 2**62, -4]), _t(L, [3, 0, 3, -5, 6])),
    "lcm_int8_wraps_after_abs": lambda L: L.lcm(_t(L, [-128, 100, -100, 0], "int8"), _t(L, [3, 3, 3, 0], "int8")),
    "lcm_int32_min": lambda L: L.lcm(_t(L, [-2**31, 2**30, -2**31], "int32"), _t(L, [3, 3, 0], "int32")),
    "lcm_uint8": lambda L: L.lcm(_t(L, [200, 255], "uint8"), _t(L, [3, 2], "uint8")),
    "gcd_int8_min": lambda L: L.gcd(_t(L, [-128, -128, 6, 0, -128, 5], "int8"),
                                    _t(L, [6, 0, -128, -128, -128, -128], "int8")),
    "gcd_int16_min": lambda L: L.gcd(_t(L, [-32768, -32768, 12], "int16"), _t(L, [0, 6, -32768], "int16")),
    "gcd_int32_min": lambda L: L.gcd(_t(L, [-2**31, -2**31], "int32"), _t(L, [0, 10], "int32")),
    "gcd_int64_min": lambda L: L.gcd(_t(L, [-2**63, -2**63, 7]), _t(L, [0, 6, -2**63])),
    "gcd_broadcast_min": lambda L: L.gcd(_t(L, [[-128], [4]], "int8"), _t(L, [6, -128, 9], "int8")),
    "searchsorted_bool": lambda L: L.searchsorted(_t(L, [False, True], "bool"), _t(L, [True], "bool")),
    "searchsorted_int_bool_values": lambda L: L.searchsorted(_t(L, [0, 1]), _t(L, [True], "bool")),
    "bucketize_bool": lambda L: L.bucketize(_t(L, [True], "bool"), _t(L, [False, True], "bool")),
    "histc_nan": lambda L: L.histc(_t(L, [NAN], "float32")),
    "histc_negative_nan": lambda L: L.histc(_t(L, [1.0, -NAN], "float32")),
    "histc_nan_min": lambda L: L.histc(_t(L, [1.0], "float32"), min=NAN, max=1),
    "tril_indices_offset_2_63": lambda L: L.tril_indices(3, 3, 2**63),
    "tril_indices_offset_below": lambda L: L.tril_indices(3, 3, -2**63 - 1),
    "triu_indices_row_2_63": lambda L: L.triu_indices(2**63, 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_like_torch(case):
    assert _answer(engine, CASES[case]) == _answer(torch, CASES[case])


@pytest.mark.parametrize("data", [[NAN], [-NAN], [NAN, NAN], [1.0, NAN], [-NAN, 1.0], [1.0] * 40 + [NAN]],
                         ids=["one_nan", "one_negative_nan", "two_nans", "nan_last", "negative_nan_first", "long"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc_nan_range_message_like_torch(data, dtype):
    assert _answer(engine, lambda L: L.histc(_t(L, data, dtype))) == _answer(torch, lambda L: L.histc(_t(L, data,
                                                                                                         dtype)))
