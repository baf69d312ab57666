"""A request's program: read from the wire, bound to the op catalog, run, answered; recorded and replayed.

One module a job: `wire` (the document's fields, numbers and leaf data), `bind` (JSON arguments to the
catalog's signatures), `shapes` (shape rules and the cost estimate), `run` (one run: leaves, ops, backward
passes), `respond` (the response document), `plans` (Program and PlanCache: a structure run again with other
values), `lower` and `writer` (a plan as one function over arrays, its response written as bytes),
`evaluate` (the entry points, tying them together), and `transforms` (the program as a function under
torch.autograd.functional and gradcheck: POST /v1/functional, /v1/gradcheck).
"""
from __future__ import annotations

from engine.program.evaluate import evaluate, evaluate_json, replay_json
from engine.program.limits import DEFAULT_LIMITS, DeviceUnavailable, Limits
from engine.program.plans import PlanCache, Program
from engine.program.respond import encode
from engine.program.shapes import estimate
from engine.program.transforms import functional, gradcheck

__all__ = ["evaluate", "evaluate_json", "replay_json", "functional", "gradcheck",
           "estimate", "encode", "Limits", "DEFAULT_LIMITS", "DeviceUnavailable",
           "PlanCache", "Program"]
