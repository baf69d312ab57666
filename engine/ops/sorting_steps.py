"""What the selection loops' steps cost (engine/ops/sorting_select.py and its parts): each step checks the request's
deadline and is charged past the free allowance of the op's own rule (`_Steps`), and `heap_steps` bounds a heap's
steps from below, so that they can be charged before they run."""
from __future__ import annotations

from engine import budget as _budget
from engine.ops.rules import log2ceil

# What the loops' steps cost, in flops (a flop ~1.1 ns: an elementwise add on this machine), measured with
# process_time over their step counts (docs/runs/safeM.md: redteam13 F7/F11 were charged ~1000 flops a step at
# 20-300 us of CPU a step): a heap step (a sift level of every heap: a few fancy-indexed NumPy calls on short
# arrays) ~20-30 us; a partition level (median of three, the scans' stops, the swaps: ~40 NumPy calls) ~200 us
# plus ~30-45 ns an element of its segments.
HEAP_STEP = 30_000
LEVEL_STEP = 200_000
LEVEL_ELEMENT = 48
STEP_ELEMENT = 8


class _Steps:
    """The deadline checked at every step of a loop; a step's fixed cost (LEVEL_STEP a partition level, HEAP_STEP a
    heap step) free only while the op's rule's own charge for these elements (n log2 n flops) lasts, and while the
    request's free steps do (budget.take_free), else charged as it comes; a step's elements always (LEVEL_ELEMENT /
    STEP_ELEMENT each: over many rows one free step touches them all: redteam14 F1b, and F1's [2048, 188] tied
    rows). The allowance had been a count of steps whatever n was (16 log2 n + 64; quickselect 4 log2 n + 16): 48
    free levels (~10 ms of CPU) for a 188-value row charged 1.5e3 flops, and a batch's documents each had a
    request's free steps of their own (redteam15 F5: a 156 KB batch held a server thread 32 s). `ahead` charges a
    count of heap steps known before they run at once (one charge: max_op_flops and max_flops see the whole of it,
    a 413 before the work)."""

    def __init__(self, elements):
        e = max(int(elements), 2)
        self.left = float(e * log2ceil(e))  # flops of fixed step costs still free
        self.paid = 0  # steps `ahead` charged for (or took free), not yet run

    def __call__(self, elements=0, level=False):
        _budget.check()
        if self.paid > 0:
            self.paid -= 1
            if not level and elements:
                _budget.charge(0, 8, float(STEP_ELEMENT) * elements, "the selection's heap steps")
            return
        fixed = LEVEL_STEP if level else HEAP_STEP
        self.left -= fixed
        per = LEVEL_ELEMENT if level else STEP_ELEMENT
        what = "the selection's partition levels" if level else "the selection's heap steps"
        if self.left < 0 or not _budget.take_free(1):
            _budget.charge(0, 8, fixed + float(per) * elements, what)
        elif elements:
            _budget.charge(0, 8, float(per) * elements, what)

    def ahead(self, steps, what="the selection's heap steps"):
        """`steps` heap steps charged now past the free ones left (the op's and the request's); they then run
        with their elements charged only."""
        steps = int(steps)
        free = _budget.take_free(min(max(int(self.left // HEAP_STEP), 0), steps))
        self.left -= free * HEAP_STEP
        need = steps - free
        if need > 0:
            _budget.charge(0, 8, float(HEAP_STEP) * need, what)
        self.paid += steps


def heap_steps(m):
    """A lower bound of the steps make_heap and sort_heap take on a heap of m: a step a parent, and a pop of a
    heap of L a step and at least _lg(L) - 1 sift levels (each a step)."""
    m = int(m)
    if m < 2:
        return 0
    levels = 0
    for j in range(2, m.bit_length()):  # L in [2^j, 2^(j+1)) ∩ [2, m]: j - 1 levels each
        levels += (min(m, (1 << (j + 1)) - 1) - (1 << j) + 1) * (j - 1)
    return m // 2 + (m - 1) + levels
