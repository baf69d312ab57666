"""A lowered function's lines over constants alone, computed once: the single request's function.

A lowered function (engine.program.lower) starts each backward pass from its implicit gradient, a fresh copy
of a kept array of ones (`g8 = k7.copy()`), and the node after it often takes nothing else: SumBackward0's
zero-stride view of it (`g11 = k10(g8, k9)`), MeanBackward0's view divided by the count. Those lines give the
same array every request (their inputs are the structure's constants, their entries and formulas NumPy calls
with no state: a lowered program draws no random numbers). `fold` computes them once, at lowering, and binds
their names to the results instead: ~2k instructions for the copy, 9k for SumBackward0's view, 17k for
MeanBackward0's, a request.

What the copy was for stays true: a formula may write into its gradient in place. Every folded array is made
read-only (a view's base too, where it is folded), so a write into one raises, the replay gives up and the
Program's own replay answers (Program.run, replay_json), as for any replay that raises; and the folded
function is kept only where it gives the unfolded function's values and grads on the recording's arrays, bit
for bit (lower.build checks that, and plans.lowered_checked the response at other values). The budget's
checks are unchanged: a replay charges the recorded run's cost at its start (Program._run_lowered), not per
line. The batch route (engine.program.batch) keeps the unfolded function and its source: its lines are what
it reads."""
from __future__ import annotations

import re

import numpy as np

_LINE = re.compile(r"^    ([a-z]\d+) = (.+?)(  # .*)?$")
_NAME = re.compile(r"\b([a-z]\d+)\b")
FOLD_MAX_BYTES = 1 << 16  # the folded arrays of one function, in all (kept with its Program in the plan cache)


def fold(source: str, ns: dict) -> tuple[str, dict] | None:
    """(the source with each line over constants alone bound to its value, {constant name: value}), or None
    where no line folds. ns: the function's globals (its constants k<N>), not changed here."""
    lines = source.splitlines()
    folded: dict = {}  # a folded line's variable -> its value
    consts: dict = {}  # the new constants' names -> their values
    out = [lines[0]]
    env = dict(ns)
    room = FOLD_MAX_BYTES
    for i, line in enumerate(lines[1:], 1):
        m = _LINE.match(line)
        if m is None or line.startswith("    return"):
            out.extend(lines[i:])
            break
        name, expr, comment = m[1], m[2], m[3] or ""
        refs = _NAME.findall(expr)
        if not refs or not all(r in folded or (r[0] == "k" and r in ns) for r in refs):
            out.append(line)
            continue
        try:
            with np.errstate(all="ignore"):
                value = eval(expr, env, dict(folded))  # noqa: S307 - a line of our own generated source
        except Exception:  # noqa: BLE001 - not folded: the line runs per request as before
            out.append(line)
            continue
        if type(value) is np.ndarray:
            if value.nbytes > room:  # (a view's nbytes: its logical size, what a copy of it would hold)
                out.append(line)
                continue
            room -= value.nbytes
            # a read-only view of it (its memory and strides; the array itself, which a formula may have
            # returned from elsewhere, untouched): a write through it raises (the replay gives up), never lands
            value = value.view()
            value.setflags(write=False)
        elif not isinstance(value, np.generic | float | int | bool):
            out.append(line)
            continue
        folded[name] = value
        const = f"f{name}"
        consts[const] = value
        out.append(f"    {name} = {const}  # folded:{comment[3:] if comment else ''}")
    if not consts:
        return None
    return "\n".join(out) + "\n", consts
