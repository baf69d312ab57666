"""POST /v1/graph: a program's backward graph, drawn (SVG) or as Graphviz DOT text (API.md v1.1).

The program runs as POST /v1/evaluate runs it (the app's evaluator: the same checks, limits, in-flight
count and time limit); the drawing is made from its response (app/services/graph.py)."""
from __future__ import annotations

import json
import time

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.core.body import check_duplicate_keys, parse_doc, read_body
from app.core.errors import SchemaError
from app.examples import EXAMPLES
from app.routers.evaluate import evaluator
from app.schemas import ErrorResponse
from app.services import graph as drawings
from app.services.evaluate import read_weight

router = APIRouter(prefix="/v1", tags=["evaluate"])

MEDIA_TYPES = {"svg": "image/svg+xml", "dot": "text/vnd.graphviz; charset=utf-8"}


_EXAMPLES = {
    "expression": {
        "summary": "f = a*b + c*d**2/e, as an expression",
        "description": "Five leaves and the seed formula; the drawing has five AccumulateGrad leaves (blue) "
                       "and the output's AddBackward0 (green).",
        "value": {"leaves": {n: {"data": v, "dtype": "float32", "requires_grad": True}
                             for n, v in (("a", 2.0), ("b", 4.0), ("c", 6.0), ("d", 8.0), ("e", 10.0))},
                  "expression": "a*b + c*d**2/e", "backward": [{"tensor": "out"}]},
    },
    "dot": {"summary": "x.T @ x as DOT text", "description": "The same drawing as Graphviz DOT source.",
            "value": {**EXAMPLES["xT_matmul_x"]["value"], "format": "dot"}},
    **{k: EXAMPLES[k] for k in ("leaf_grads", "bce_with_logits", "error_shape_mismatch")},
}
_ERRORS = {
    413: "Over a configured limit (as for /v1/evaluate), or a graph with more nodes or edges than are drawn "
         "(graph_max_nodes, graph_max_edges).",
    422: "Invalid request or an error PyTorch raises for this program, as for /v1/evaluate.",
    500: "A compute worker died, or Graphviz failed.",
    503: "Over capacity (Graphviz's `dot` included: graph_dot_max_concurrent at once, each request waiting up to "
         "graph_dot_wait_s for one), or `device: \"cuda\"` where none is available.",
    504: "The computation and the drawing ran past the time limit, or `dot` past its drawing time budget "
         "(graph_dot_time_s).",
}


@router.post(
    "/graph",
    summary="Draw a program's backward graph (SVG or DOT)",
    description="Runs the program as POST /v1/evaluate does and draws the backward graph of its response: "
                "one box per grad_fn object, named as PyTorch names it; AccumulateGrad leaves (blue) labelled "
                "with their tensor's name and shape; outputs green; an edge from each `next_functions` entry to "
                "its node (labelled with `input_nr` where a function's outputs are used apart).",
    response_class=Response,
    responses={200: {"description": "The drawing.", "content": {
                   "image/svg+xml": {"schema": {"type": "string"}},
                   "text/vnd.graphviz": {"schema": {"type": "string"}}}},
               **{code: {"model": ErrorResponse, "description": d} for code, d in _ERRORS.items()}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/GraphRequest"}, "examples": _EXAMPLES}}}},
)
async def graph(request: Request) -> Response:
    service = evaluator(request.app)
    settings = service.settings
    deadline = time.monotonic() + settings.time_limit_s
    raw = await read_body(request.scope, request.receive, settings.max_body_bytes)
    if read_weight(raw) <= settings.loop_max_body_bytes:
        fmt, body = _split_format(raw)
    else:  # its parse and duplicate-key walk in a thread, as /v1/evaluate reads such a body (review17 R11: 4 MB of
        # deeply nested lists held the event loop 1.9 s here)
        fmt, body = await anyio.to_thread.run_sync(_split_format, raw)
    out = await service.evaluate(body)
    doc = orjson.loads(out) if len(out) < 1 << 20 else await anyio.to_thread.run_sync(orjson.loads, out)
    drawing = drawings.drawing(doc, settings.graph_max_nodes, settings.graph_max_edges)
    if fmt == "dot":
        content = drawings.to_dot(drawing).encode()
    else:
        content = await drawings.render_svg(drawing, settings.graph_layout, deadline - time.monotonic(),
                                            drawings.DotLimits.for_app(request.app.state, settings))
    return Response(content, media_type=MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'inline; filename="backward.{fmt}"'})


def _split_format(body: bytes) -> tuple[str, bytes]:
    """(format, the evaluate body): `format` taken out; `encoding` base64 unless the request chose one (the
    drawing reads shapes, never values, and base64 is the cheaper response to make and read). A body that is
    not a JSON object goes on as it is, for the evaluator to refuse as it would."""
    doc = parse_doc(body)
    if type(doc) is not dict:
        return "svg", body
    check_duplicate_keys(body, doc)
    fmt = doc.pop("format", "svg")
    if not isinstance(fmt, str) or fmt not in MEDIA_TYPES:
        raise SchemaError([{"type": "literal_error", "loc": ["body", "format"],
                            "msg": "Input should be 'svg' or 'dot'"}])
    doc.setdefault("encoding", "base64")
    try:
        return fmt, orjson.dumps(doc)
    except orjson.JSONEncodeError:  # an integer past 64 bits (kept exact by parse_doc, for the engine to refuse)
        return fmt, json.dumps(doc).encode()
