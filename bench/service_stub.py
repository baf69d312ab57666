"""app.main with its direct route's answer cut short, for bench.service_stages (never a served app).

BENCH_STUB picks how much of POST /v1/evaluate's answer runs; every variant answers the program's real response
(BENCH_BARE_REPLY, as the bare app's fixed reply) or, for `full` and `double`, its own:

- `parse`: the front door, the body read and parsed by orjson, the fixed reply: app.main's cost without the
  engine (the bare app's work on app.main's front door).
- `find`: as `parse`, but the body's template found and its leaf arrays read (app/services/bytext.py).
- `nowrite`: the whole answer, the lowered program's writer replaced by one returning the fixed reply.
- `full`: the answer itself (app.main's, through this module: the same path as app.main's own rows).
- `double`: the answer computed twice a request (the second time warm): what a cold first run costs more."""

from __future__ import annotations

import os

import orjson

import app.main as _main
from app.core.body import read_body
from app.routers import evaluate as _route
from app.services import engine as _eng
from engine.program.writer import Writer

MODE = os.environ.get("BENCH_STUB", "full")
_path = os.environ.get("BENCH_BARE_REPLY")
REPLY = open(_path, "rb").read() if _path else b'{"tensors":{}}'  # noqa: SIM115
_answer = _route.DIRECT["/v1/evaluate"][0]


async def stub(scope, receive):
    body = await read_body(scope, receive, 1 << 20)
    if MODE == "parse":
        orjson.loads(body)
        return REPLY
    service = scope["app"].state.evaluator
    if MODE == "find":
        if service._texts.find(body) is not None:
            return REPLY
    elif MODE == "nowrite":
        found = service._texts.find(body)
        program = _eng.PLANS.get(found[0]) if found is not None else None
        if program is not None and program.lowered and program.lowered.writer is not None \
                and program.lowered.writer.source != "stub":
            program.lowered.writer = Writer(lambda data, grads: REPLY, "stub")
    elif MODE == "double":
        await service.evaluate(body)
    return await service.evaluate(body)


_route.DIRECT["/v1/evaluate"] = (stub, _route.DIRECT["/v1/evaluate"][1])
app = _main.app
