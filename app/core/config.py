"""Settings from the environment (prefix GRADSERVE_), with safe defaults."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1 << 20
# The most bytes a batch's answer spends on one document besides the answers max_batch_response_bytes counts: a
# kept answer's wrapper (`{"status":200,"body":` and `},`: 23), or a whole 413 entry of a document past the limit
# (app/routers/batch.py: its "not run" or "not kept" message, naming numbers of up to 19 digits: ~230 bytes).
BATCH_ENTRY_MAX_BYTES = 256


class Settings(BaseSettings):
    """Every limit is per server process; `gradserve serve --workers N` runs N of them."""

    model_config = SettingsConfigDict(env_prefix="GRADSERVE_", extra="ignore", frozen=True)

    # Serving (read by `gradserve serve`; its flags win over these).
    host: str = Field("127.0.0.1", description="Interface `gradserve serve` binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port `gradserve serve` listens on.")
    workers: int = Field(1, ge=1, description="Server processes (uvicorn workers), each with its own limits.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # Request limits.
    max_body_bytes: int = Field(16 * MiB, gt=0, description="Largest request body (413).")
    max_tensor_elements: int = Field(10_000_000, gt=0, description="Most elements of any one tensor (413).")
    max_total_elements: int = Field(50_000_000, gt=0,
                                    description="Most elements of all tensors together (413).")
    max_ops: int = Field(10_000, gt=0, description="Most entries in `ops` (413).")
    # Budgets the engine charges before each op runs (engine/budget.py; the arithmetic behind the defaults is
    # in docs/RELIABILITY.md, "Memory").
    max_request_bytes: int = Field(
        256 * MiB, gt=0, description="One request's live tensor bytes plus what its next op holds at its peak "
                                     "(413 the moment it would pass).")
    max_process_bytes: int = Field(
        512 * MiB, ge=0, description="The live tensor bytes of all requests a server process (or a compute "
                                     "worker) runs at once (503 with Retry-After past it); 0: no process limit.")
    max_flops: float = Field(1e12, gt=0, description="One request's estimated flops, all ops and backward "
                                                     "passes together (413).")
    max_op_flops: float = Field(
        5e10, gt=0, description="One op's flops (413): one NumPy call cannot be stopped midway, so this bounds "
                                "how far past the time limit a request can run.")
    max_response_bytes: int = Field(32 * MiB, gt=0, description="Largest response body, bounded from the "
                                                                "returned tensors' sizes before writing (413).")
    max_batch_documents: int = Field(
        1_000, gt=0, description="Most documents in one POST /v1/evaluate/batch (413); each is also held to "
                                 "every limit above, and the body limit is the whole batch's.")
    max_batch_response_bytes: int = Field(
        64 * MiB, gt=0, description="Most bytes of a batch's answers (their bodies): a document whose answer would "
                                    "take them past it answers 413 instead (its answer dropped), and the documents "
                                    "after it are not run and answer 413 (a batch's response is held in memory).")
    time_limit_s: float = Field(30.0, gt=0, description="Wall time one evaluation may take (504).")
    max_in_flight: int = Field(16, gt=0, description="Evaluations in progress at once before 503.")
    retry_after_s: int = Field(1, ge=0, description="Retry-After seconds sent with a 503 over capacity.")

    # ----- Connections and request bodies (issue 14; read by app/core/protocol.py and app/core/front.py) -----
    body_timeout_s: float = Field(
        10.0, gt=0, description="A request's headers and body must arrive within this many seconds of its "
                                "first byte: past it, 408 and the connection is closed (`gradserve serve`).")
    max_header_bytes: int = Field(
        32 * 1024, ge=1024, description="Most bytes of a request's line and headers (431, connection closed).")
    max_connections: int = Field(
        512, gt=0, description="Open connections per server process; one more is answered 503 and closed "
                               "(`gradserve serve`).")
    max_buffered_body_bytes: int = Field(
        32 * MiB, gt=0, description="Bytes of /v1/evaluate bodies this process holds at once, past each "
                                    "body's first 64 KiB, from the first byte read until the answer is sent "
                                    "(never less than max_body_bytes); a body that would pass it gets 503 "
                                    "with Retry-After.")

    # Compute placement.
    compute_workers: int = Field(
        2, ge=0, description="Killable compute processes; 0 runs everything inline, with no hard time limit."
    )
    offload_min_flops: float = Field(
        2e7, ge=0, description="Estimated flops from which a request runs in a worker process, not inline."
    )
    offload_min_bytes: int = Field(
        16 * MiB, ge=0, description="Estimated bytes from which a request runs in a worker process."
    )
    offload_min_steps: int = Field(
        5000, ge=0, description="Steps (ops, and each backward pass as many steps as ops) from which a request "
                                "runs in a worker process: the interpreter's work, which flops do not show.")
    worker_start_timeout_s: float = Field(60.0, gt=0, description="How long a new worker may take to start.")
    # Tiny requests (most calls) run on the event loop itself: a hop to a thread cost ~0.8 ms a request on a
    # 2-core machine under load (GIL hand-offs), more than the evaluation. Their cost is bounded by the body
    # size (parse, checks, estimate) and by the estimate (evaluation); anything bigger goes to a thread.
    loop_max_body_bytes: int = Field(
        16 * 1024, ge=0, description="Bodies up to this size are parsed, checked and estimated on the event "
                                     "loop, without a thread hop; 0 sends every request to a thread.")
    loop_max_flops: float = Field(
        1e5, ge=0, description="Such a request is also evaluated on the event loop when its estimate is at "
                               "most this many flops and `loop_max_elements` elements (and 64 ops).")
    loop_max_elements: int = Field(4096, ge=0, description="See `loop_max_flops`.")
    worker_parse_min_bytes: int = Field(
        1 * MiB, ge=0, description="Bodies from this size are parsed, checked and run only in a compute worker "
                                   "(where there are any): orjson holds the GIL while it parses (~10-20 ms a "
                                   "MiB), which would keep every other request of the server waiting.")
    plan_cache_entries: int = Field(
        256, ge=0, description="Programs kept per process by structure (engine.PlanCache): a request shaped "
                               "like an earlier one (other leaf values) skips the checks its structure "
                               "settled. 0 turns the cache off.")

    # ----- CUDA routing (issue 4; owned by app/services/evaluate.py and app/services/cuda_forward.py) -----
    backend: Literal["auto", "numpy", "cupy"] = Field(
        "auto", description="In-process CUDA: `auto` uses CuPy in the compute workers where a GPU is "
                            "usable, `numpy` never does, `cupy` requires it (/readyz answers 503 without "
                            "one). Set `cupy` on a CUDA worker.")
    cuda_worker_url: str = Field(
        "", description="Base URL of a CUDA worker (this program with GRADSERVE_BACKEND=cupy) that a "
                        "server without a usable GPU forwards `cuda` (and worthwhile `auto`) requests to; "
                        "empty: none.")
    # Measured on an H200 host (16 cores) with bench/gpu_crossover.py: engine.evaluate on CUDA beat the CPU
    # from ~5e8 estimated flops (a 512² matmul chain: 0.82x the CPU's time; 256²: 1.15x) and, for
    # elementwise chains, from ~32 MiB of estimated traffic (2^19 elements: 0.58x; 2^16: 1.07x).
    cuda_min_flops: float = Field(
        5e8, ge=0, description="`auto` runs on CUDA from this many estimated flops (measured crossover; "
                               "smaller graphs are faster on the CPU: a CUDA launch costs microseconds).")
    cuda_min_bytes: int = Field(
        32 * MiB, ge=0, description="`auto` runs on CUDA from this many estimated bytes of tensor traffic.")
    cuda_worker_timeout_s: float = Field(
        2.0, gt=0, description="A CUDA worker that does not connect, or answer a liveness probe (/healthz) "
                               "while a request waits on it, within this many seconds counts as down: "
                               "`auto` then runs on the CPU, `cuda` gets 503.")
    cuda_worker_retry_s: float = Field(
        5.0, ge=0, description="After the CUDA worker failed, `auto` stays on the CPU this long before "
                               "trying it again (`cuda` requests always try).")
    accept_cuda_on_cpu: bool = Field(
        False, description="TESTING ONLY: accept `device: cuda` without a GPU, compute it with NumPy and "
                           "report `device: cuda`, so that a CPU-only process can stand in for a CUDA "
                           "worker. Never set it in production.")

    # ----- Access control and observability (issue 6; read by app/core/security.py, observability.py) -----
    api_keys: str = Field(
        "", description="Comma-separated API keys; a request must carry one as `Authorization: Bearer <key>` "
                        "or `X-API-Key: <key>` (401 otherwise). Empty: the API is open. /docs, /redoc, "
                        "/openapi.json, /healthz, /readyz and /metrics are always open.")
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS (`*` for any); empty: no CORS headers.")
    access_log: bool = Field(True, description="One JSON line per request on the `gradserve.access` logger.")
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics (per server process).")
    otel: bool = Field(
        False, description="FastAPI's native OpenTelemetry: traces, metrics and logs through the global "
                           "providers you configure (an OpenTelemetry SDK, not shipped). Off, FastAPI does not "
                           "ask for those providers on every request (~3 us); /metrics and the access log "
                           "do not depend on it.")

    max_buffered_response_bytes: int = Field(
        64 * MiB, gt=0, description="Bytes of responses this process has written and its clients have not "
                                    "taken yet, past each connection's first 64 KiB (never less than the "
                                    "largest response); an answer that would pass it gets 503 with "
                                    "Retry-After, and none is computed while it is full. A response nobody "
                                    "takes for body_timeout_s is dropped and its connection closed.")

    def response_budget_bytes(self) -> int:
        """max_buffered_response_bytes, but never below the largest response (else it could never be sent, and a
        503 with Retry-After would be answered to it every time): a document's, or a batch's: its kept answers
        take at most max_batch_response_bytes, and each document at most BATCH_ENTRY_MAX_BYTES more."""
        batch = self.max_batch_response_bytes + self.max_batch_documents * BATCH_ENTRY_MAX_BYTES + 64
        return max(self.max_buffered_response_bytes, self.max_response_bytes, batch)

    def process_budget_warnings(self) -> list[str]:
        """What max_process_bytes (when not 0) is too small for: one request's tensors (max_request_bytes), or a
        batch's answers held and joined (about 2 x (max_batch_response_bytes + 4 MiB)). Such a request or batch
        answers 413 naming max_process_bytes (a retry cannot pass, redteam12 F5); the server logs these at start."""
        pmax = self.max_process_bytes
        if not pmax:
            return []
        out = []
        if pmax < self.max_request_bytes:
            out.append(f"max_process_bytes ({pmax}) is below max_request_bytes ({self.max_request_bytes}): a request "
                       "within max_request_bytes but past max_process_bytes answers 413")
        batch = 2 * (self.max_batch_response_bytes + 4 * MiB)
        if pmax < batch:
            out.append(f"max_process_bytes ({pmax}) is below twice max_batch_response_bytes plus a step ({batch}): a "
                       "batch whose answers fit max_batch_response_bytes may answer 413 (its answers are held, "
                       "then joined)")
        return out

    def body_budget_bytes(self) -> int:
        """max_buffered_body_bytes, but never below max_body_bytes (else a largest body could never pass)."""
        return max(self.max_buffered_body_bytes, self.max_body_bytes)

    # ----- POST /v1/graph (issue 18; read by app/routers/graph.py and app/services/graph.py) -----
    graph_layout: Literal["auto", "dot", "builtin"] = Field(
        "auto", description="How /v1/graph lays out its SVG: `auto` runs Graphviz's `dot` where it is installed "
                            "and else the built-in layered layout; `dot` requires Graphviz; `builtin` never runs it.")
    graph_max_nodes: int = Field(
        1000, gt=0, description="Most backward-graph nodes /v1/graph draws (413 past it): a layout's time grows "
                                "faster than the graph (dot: ~1.5 s for 1,000 nodes of two inputs each).")
    graph_max_edges: int = Field(4000, gt=0, description="Most backward-graph edges /v1/graph draws (413 past it).")
    # The caps above do not bound dot's time (crossing minimisation and placement on a dense DAG: a 1 KB nested
    # create_graph program of 960 nodes ran it 30 s, redteam10 F3); these bound Graphviz per server process.
    graph_dot_max_concurrent: int = Field(
        2, ge=1, description="Most drawings a server process lays out at once for /v1/graph: Graphviz `dot` "
                             "processes, or built-in layout threads where dot is not used (a thread keeps its slot "
                             "until it ends, past its request's 504); a request past them waits up to "
                             "graph_dot_wait_s for one, then gets 503 with Retry-After.")
    graph_dot_wait_s: float = Field(
        2.0, ge=0, description="How long a /v1/graph request waits for a free drawing slot (503 past it).")
    graph_dot_time_s: float = Field(
        5.0, gt=0, description="Drawing time budget: `dot` is stopped after this much wall time (504, naming "
                               "format \"dot\" for the DOT text), and runs under RLIMIT_CPU of this plus one "
                               "second, rounded up; the request's own time limit still applies.")

    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
