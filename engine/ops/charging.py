"""Charging: each op call's shape and cost rule (engine.ops.rules) charged to the request's budget (engine.budget)
before its forward runs, and what its node's backward will cost.

charge (OpDef.__call__'s), _cost_miss (fills the fast call path's cost cache, by operand shapes and dtypes,
which that path reads inline), cost_of, _default_cost, _track (the outputs' bytes, for the budget's peak).
Moved out of engine.ops.registry, which re-exports these names.
"""
from __future__ import annotations

from engine import dtypes as D
from engine.ops import rules as _rules


def charge(b, op, vals):
    """Charge an entry's call to budget `b` before its forward runs: its rule's outputs and temporaries at
    the operands' widest item size (at least 4 bytes; 8 where the outputs may be indices or the call names a
    dtype), and its flops. Returns what its node's backward will cost, (bytes, flops), which run_backward
    charges before the node runs."""
    nbytes, flops, largest, bwd = cost_of(op, vals)
    b.charge(nbytes, flops, op.qualname, largest)
    return bwd


# A fast call's costs by its operands' shapes and dtypes (and a Python scalar operand's type and value): what
# cost_of reads of them, so a call of the same shapes is charged the same without running the rule again.
COST_CACHE_ENTRIES = 256


def _cost_miss(costs, op, key, vals):
    """cost_of a call not in `costs`, kept there under `key` (the fast call path reads `costs` inline first)."""
    c = cost_of(op, vals)
    if len(costs) >= COST_CACHE_ENTRIES:
        costs.clear()
    costs[key] = c
    return c


def cost_of(op, vals):
    """What charge charges for an entry's call, from its forward's values: (bytes at its peak, flops, its largest
    output's elements, its backward's (bytes, flops) or None). A function of the operands' shapes, dtypes and
    Python scalars (a rule reads nothing else of them) and of the attributes."""
    rule = op.rule
    cost = rule.cost(vals) if rule is not None else _default_cost(op, vals)
    isz = 4 if op.differentiable else 8
    for v in vals:
        d = getattr(v, "dtype", None)
        if d is not None:
            n = getattr(d, "itemsize", 0)
            if n > isz:
                isz = n
        elif isinstance(v, D.dtype) and v.np.itemsize > isz:
            isz = v.np.itemsize
    out = cost.out
    if out and isinstance(out[0], tuple | list):
        n_out, largest = 0, 0
        for shape in out:
            n = _rules.numel(shape)
            n_out += n
            largest = max(largest, n)
    else:
        n_out = largest = _rules.numel(out)
    nbytes = (n_out + cost.temp) * isz
    flops = cost.flops
    if not flops >= 0.0:  # Budget.charge's guard (redteam14 F2), here once for the copies of its comparisons that
        flops = 0.0  # read these costs inline (fastcall's _charge_inline, backward_loop's node charge; review15 R12)
    if not op.differentiable:
        return nbytes, flops, largest, None
    n_in = 0
    for i in op.tensor_pos:
        n_in += getattr(vals[i], "size", 1)
    bwd_temp = cost.bwd_temp if cost.bwd_temp is not None else cost.temp + n_out
    bwd_flops = cost.bwd_flops if cost.bwd_flops is not None else 2 * flops
    if not bwd_flops >= 0.0:
        bwd_flops = 0.0
    return nbytes, flops, largest, ((n_in + bwd_temp) * isz, bwd_flops)


def _default_cost(op, vals):
    """Until every entry has its rule: the broadcast of the tensor operands, ten flops an element."""
    out = _rules.broadcast(*(_rules.shape_of(vals[i]) for i in op.tensor_pos))
    n = _rules.numel(out)
    return _rules.Cost(out if op.nout == 1 else (out,) * op.nout, 10 * n)


def _track(b, out, nout):
    if nout == 1:
        b.track(out)
    else:
        for o in out:
            b.track(o)
