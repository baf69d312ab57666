"""Budget.charge's folded caps (engine/budget.py _fold) against its checks written out one by one, in their order
(what charge did before the caps were folded): the same error, the same message, the same counts afterwards, for
random limits, charges, holds, limits changed after construction and cancels."""
from __future__ import annotations

import random
import time

import pytest

from engine import budget as B
from engine.budget import Budget, DeadlinePassed, ProcessBusy, Spill
from engine.errors import LimitExceeded


def reference_charge(b, nbytes, flops, what, elements):
    """charge's checks in order, reading the limits through their public names; the counts it would leave."""
    if elements > b.max_elements:
        raise LimitExceeded(f"tensor of {elements} elements exceeds the limit of {b.max_elements} elements "
                            "per tensor (max_tensor_elements)")
    if b.cancelled or (b.deadline is not None and time.monotonic() > b.deadline):
        raise DeadlinePassed(B.timeout_message(b.time_limit_s))
    used = b.used_flops + flops
    peak = b.live + nbytes
    if flops > b.op_max_flops:
        raise LimitExceeded(f"{what} would cost {flops:.3g} flops, over the limit of {b.op_max_flops:.3g} "
                            "flops for one op (max_op_flops)")
    if used > b.max_flops:
        raise LimitExceeded(f"the request would cost {used:.3g} flops, over the limit of {b.max_flops:.3g} "
                            "flops (max_flops)")
    if peak + b.held > b.max_bytes:
        raise LimitExceeded(f"{what} would bring the request's tensors to {peak + b.held} bytes, over the "
                            f"limit of {b.max_bytes} bytes (max_request_bytes)")
    if used > b.spill_flops or peak > b.spill_bytes or flops > b.spill_op_flops:
        raise Spill(what)
    pmax = B.PROCESS.max_bytes
    if pmax and B.PROCESS.live + nbytes > pmax:
        raise ProcessBusy(f"the server's memory for tensors ({pmax} bytes, max_process_bytes) is in use by "
                          "other requests; retry later")
    return used, max(b.peak, peak)


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except (LimitExceeded, DeadlinePassed, ProcessBusy) as e:
        return (type(e).__name__, str(e))
    except Spill as e:
        return ("Spill", str(e))


LIMITS = {"max_bytes": [1 << 62, 5000, 20000, 5000.0], "max_flops": [float("inf"), 3000.0, 800],
          "op_max_flops": [float("inf"), 400.0], "max_elements": [1 << 62, 100],
          "spill_flops": [float("inf"), 2500.0], "spill_bytes": [1 << 62, 8000, 8000.5],
          "spill_op_flops": [float("inf"), 300.0]}


@pytest.mark.parametrize("seed", range(40))
def test_charge_raises_what_its_checks_in_order_raise(seed):
    rng = random.Random(seed)
    b = Budget(**{k: rng.choice(v) for k, v in LIMITS.items()}, time_limit_s=1.0,
               deadline=rng.choice([None, time.monotonic() + 60]))
    process_limit = B.PROCESS.max_bytes
    try:
        B.set_process_limit(rng.choice([0, 0, B.PROCESS.live + 30000]))
        for _ in range(60):
            step = rng.random()
            if step < 0.08:  # a limit changed after construction
                k = rng.choice(list(LIMITS))
                setattr(b, k, rng.choice(LIMITS[k]))
                continue
            if step < 0.16:
                n = rng.randrange(0, 3000)
                want = outcome(reference_hold, b, n)
                got = outcome(b.hold, n)
                assert got[0] == want[0]
                continue
            if step < 0.18:
                b.deadline = rng.choice([None, time.monotonic() - 1, time.monotonic() + 60])
            if step < 0.19:
                b.cancel()
            nbytes, flops = rng.randrange(0, 6000), rng.choice([0.0, 10.0, 350.0, 500.0, rng.uniform(0, 900)])
            elements = rng.randrange(0, 150)
            before = (b.used_flops, b.peak)
            want = outcome(reference_charge, b, nbytes, flops, "mul.Tensor", elements)
            got = outcome(b.charge, nbytes, flops, "mul.Tensor", elements)
            if got[0] == "ok":
                got = ("ok", (b.used_flops, b.peak))
            else:
                assert (b.used_flops, b.peak) == before  # a refused charge counts nothing
            assert got == want, (seed, nbytes, flops, elements)
            if got[0] == "ok" and rng.random() < 0.5:
                b.live += nbytes // 2  # its outputs, as track counts them
    finally:
        B.set_process_limit(process_limit)
        b.close()


def reference_hold(b, n):
    reference_charge(b, 0, 0.0, "the op", 0)
    if b.live + b.held + n > b.max_bytes:
        raise LimitExceeded("over")


def test_a_cancel_from_another_thread_is_seen_by_the_next_charge_and_check():
    import threading  # noqa: PLC0415

    b = Budget(deadline=time.monotonic() + 60, time_limit_s=60)
    b.charge(10, 1.0)
    t = threading.Thread(target=b.cancel)
    t.start()
    t.join()
    with pytest.raises(DeadlinePassed):
        b.charge(10, 1.0)
    with pytest.raises(DeadlinePassed):
        b.check()
    b.deadline = time.monotonic() + 120  # a new deadline does not undo the cancel
    with pytest.raises(DeadlinePassed):
        b.check()


def test_a_limit_lowered_after_construction_applies_to_the_next_charge():
    b = Budget()
    b.charge(100, 10.0)
    b.max_flops = 15.0
    with pytest.raises(LimitExceeded, match="max_flops"):
        b.charge(100, 10.0)
    b.max_flops = float("inf")
    b.hold(50)
    b.max_bytes = 149
    with pytest.raises(LimitExceeded, match="max_request_bytes"):
        b.charge(100, 1.0)
    b.close()


@pytest.mark.parametrize("seed", range(40))
def test_a_new_budget_has_the_caps_its_fold_gives(seed):
    # Budget.__init__ writes _fold's caps out (it runs once a request): they must be the ones _fold computes
    rng = random.Random(seed)
    b = Budget(**{k: rng.choice(v + [1 << 70, 7.5]) for k, v in LIMITS.items()},
               deadline=rng.choice([None, time.monotonic() + 60, time.monotonic() - 1]))
    made = (b._flop_cap, b._op_cap, b._byte_cap, b._dl)
    b._fold()
    assert made == (b._flop_cap, b._op_cap, b._byte_cap, b._dl)
    assert all(type(x) is type(y) for x, y in zip(made, (b._flop_cap, b._op_cap, b._byte_cap, b._dl)))


def test_close_gives_back_what_hold_took_and_refolds_the_caps():
    b = Budget(max_bytes=10_000)
    live = B.PROCESS.live
    b.hold(4000)
    assert B.PROCESS.live == live + 4000 and b._byte_cap == 6000
    b.close()
    assert B.PROCESS.live == live and b.held == 0 and b._byte_cap == 10_000


def _slots(b):
    return {k: getattr(b, k) for k in Budget.__slots__ if k != "__weakref__"}


@pytest.mark.parametrize("seed", range(40))
def test_fresh_is_the_budget_its_arguments_make(seed):
    # the service copies a prototype per request (Budget.fresh): the copy must be Budget() of the same limits,
    # whatever the prototype has been through (limits changed, hold, cancel: those are not copied)
    rng = random.Random(seed)
    args = {k: rng.choice(v) for k, v in LIMITS.items()}
    proto = Budget(**args, time_limit_s=rng.choice([None, 2.0]))
    if rng.random() < 0.3:
        k = rng.choice(list(LIMITS))
        args[k] = rng.choice(LIMITS[k])
        setattr(proto, k, args[k])
    held = rng.random() < 0.3
    if held:
        proto.hold(10)
    if rng.random() < 0.2:
        proto.cancel()
    deadline = rng.choice([None, time.monotonic() + 60, time.monotonic() - 1])
    try:
        got = proto.fresh(deadline)
    finally:
        proto.close()
    want = Budget(**args, time_limit_s=proto.time_limit_s, deadline=deadline)
    assert _slots(got) == _slots(want)
    assert got._refs is not proto._refs
    b = proto.fresh(None)
    b.charge(100, 5.0)
    b.hold(7)
    assert (proto.used_flops, proto.held, proto.peak) == (0.0, 0, 0) and _slots(proto.fresh(None)) == _slots(
        Budget(**args, time_limit_s=proto.time_limit_s))
    b.close()


def test_a_budget_dropped_without_close_still_gives_its_arrays_bytes_back():
    # the service closes every request's Budget; a library caller (or a test) may not: the arrays it tracked
    # must still leave the process's count as they die, or that memory is lost to every later request
    import gc  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    before = B.PROCESS.live
    b = B.Budget()
    arrays = [np.ones(1 << 16) for _ in range(4)]
    for a in arrays:
        b.track(a)
    assert B.PROCESS.live == before + 4 * arrays[0].nbytes
    del b
    gc.collect()
    del a, arrays
    gc.collect()
    assert B.PROCESS.live == before
