"""The service group's baseline: a bare FastAPI app on the same uvicorn settings as app.main.

POST /v1/evaluate only parses the body (orjson) and answers a fixed reply of the real response's size
(BENCH_BARE_REPLY names a file holding it). With BENCH_BARE_MODE=engine it is the reference handler
instead: parse, engine.evaluate inline (with a plan cache), orjson-encode, served by a plain Starlette route
as app.main serves /v1/evaluate (app/routers/evaluate.py, LEAN_ROUTE); the cost floor of any app/ built on
the engine.

    uvicorn bench.bare_app:app --workers 2 --log-level warning --no-access-log
"""

from __future__ import annotations

import os

import orjson
from fastapi import FastAPI, Request, Response
from starlette.routing import Route

MODE = os.environ.get("BENCH_BARE_MODE", "parse")
_path = os.environ.get("BENCH_BARE_REPLY")
REPLY = open(_path, "rb").read() if _path else b'{"tensors":{}}'  # noqa: SIM115

app = FastAPI(title="bench-bare", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz():
    return Response(b'{"status":"ok"}', media_type="application/json")


if MODE == "engine":
    import engine

    plans = engine.PlanCache()  # as app/ does: a document shaped like an earlier one runs its recorded program

    async def evaluate(request: Request):
        spec = orjson.loads(await request.body())
        return Response(orjson.dumps(engine.evaluate(spec, cache=plans)), media_type="application/json")

    app.router.routes.append(Route("/v1/evaluate", evaluate, methods=["POST"]))

else:

    @app.post("/v1/evaluate")
    async def evaluate(request: Request):
        orjson.loads(await request.body())
        return Response(REPLY, media_type="application/json")
