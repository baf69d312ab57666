"""gradserve's Python client: `Client`, `AsyncClient`, typed results, and the program builder.

    from gradserve import Client
    with Client("http://127.0.0.1:8000") as client, client.program() as p:
        a = p.tensor(2.0, requires_grad=True)
        f = a * a
        f.backward()
    print(p.run().grad(a))  # 4.0
"""
from gradserve.builder import Program, Var
from gradserve.client import AsyncClient, Client, Retry
from gradserve.errors import (
    APIError,
    GradserveError,
    LimitExceeded,
    TorchError,
    TorchIndexError,
    TorchRuntimeError,
    TorchTypeError,
    TorchValueError,
    TransportError,
    Unauthorized,
    Unavailable,
)
from gradserve.results import EvaluateResult, FunctionalResult, GradcheckResult, GraphNode, ServerWarning, Tensor

__all__ = ["APIError", "AsyncClient", "Client", "EvaluateResult", "FunctionalResult", "GradcheckResult",
           "GradserveError", "GraphNode", "LimitExceeded", "Program", "Retry", "ServerWarning", "Tensor",
           "TorchError", "TorchIndexError", "TorchRuntimeError", "TorchTypeError", "TorchValueError",
           "TransportError", "Unauthorized", "Unavailable", "Var"]
