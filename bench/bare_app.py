"""The service group's baseline: a bare FastAPI app on the same uvicorn settings as app.main.

POST /v1/evaluate only parses the body (orjson) and answers a fixed reply of the real response's size
(BENCH_BARE_REPLY names a file holding it; BENCH_BARE_REPLIES a folder of them, NAME.json, of which a request
gets the one its x-bench-reply header names: the service group's load of each corpus program).
With BENCH_BARE_MODE=engine it is the reference handler instead: parse, engine.evaluate_json inline (with a
plan cache: a lowered replay writes its JSON bytes), answered by a pure ASGI layer in front of the router, as
app.main's front door (app/core/front.py) serves /v1/evaluate; the cost floor of any app/ built on the engine.

    uvicorn bench.bare_app:app --workers 2 --log-level warning --no-access-log
"""

from __future__ import annotations

import os

import orjson
from fastapi import FastAPI, Request, Response

MODE = os.environ.get("BENCH_BARE_MODE", "parse")
_path = os.environ.get("BENCH_BARE_REPLY")
REPLY = open(_path, "rb").read() if _path else b'{"tensors":{}}'  # noqa: SIM115
_folder = os.environ.get("BENCH_BARE_REPLIES")
REPLIES = {f"{n[:-5]}".encode(): open(os.path.join(_folder, n), "rb").read()  # noqa: SIM115
           for n in os.listdir(_folder) if n.endswith(".json")} if _folder else {}

app = FastAPI(title="bench-bare", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/healthz")
async def healthz():
    return Response(b'{"status":"ok"}', media_type="application/json")


if MODE == "engine":
    import engine

    plans = engine.PlanCache()  # as app/ does: a document shaped like an earlier one runs its recorded program

    class Direct:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http" or scope["path"] != "/v1/evaluate" or scope["method"] != "POST":
                await self.app(scope, receive, send)
                return
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            out = engine.evaluate_json(orjson.loads(b"".join(chunks)), cache=plans)
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-length", str(len(out)).encode()), (b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": out})

    app.add_middleware(Direct)

else:

    @app.post("/v1/evaluate")
    async def evaluate(request: Request):
        orjson.loads(await request.body())
        reply = REPLY
        if REPLIES:  # the raw header list: a lookup of ~0.3 us, not Starlette's Headers object
            for k, v in request.scope["headers"]:
                if k == b"x-bench-reply":
                    reply = REPLIES.get(v, REPLY)
                    break
        return Response(reply, media_type="application/json")
