"""A minimal interpreter of API.md's request document over real torch: the comparison point for
engine.evaluate (same document in, same nine fields per tensor plus the graph out; no validation)."""

from __future__ import annotations

import warnings

import torch

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}


def _fn(name):
    return (
        getattr(torch.nn.functional, name, None)
        or getattr(torch, name, None)
        or (lambda t, *a, **k: getattr(t, name)(*a, **k))
    )


def torch_evaluate(spec: dict) -> dict:
    env, order = {}, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, leaf in spec.get("leaves", {}).items():
            dt = DTYPES.get(leaf.get("dtype")) if leaf.get("dtype") else None
            env[name] = torch.tensor(leaf["data"], dtype=dt, requires_grad=leaf.get("requires_grad", False))
            order.append(name)
        for op in spec.get("ops", []):
            args = [env[a] if isinstance(a, str) and a in env else a for a in op.get("args", [])]
            kwargs = {
                k: env[v] if isinstance(v, str) and v in env else v for k, v in op.get("kwargs", {}).items()
            }
            env[op["name"]] = _fn(op["op"])(*args, **kwargs)
            order.append(op["name"])
        for p in spec.get("backward", []):
            g = p.get("gradient")
            t = env[p["tensor"]]
            torch.autograd.backward(
                t,
                torch.tensor(g, dtype=t.dtype) if g is not None else None,
                retain_graph=p.get("retain_graph"),
                create_graph=p.get("create_graph", False),
            )
        grads = spec.get("grads") or [n for n in order if env[n].is_leaf and env[n].requires_grad]
        outputs = spec.get("outputs") or order
        names = [n for n in order if n in outputs or n in grads]
        tensors = {}
        for n in names:
            t = env[n]
            g = t.grad if n in grads else None
            tensors[n] = {
                "shape": list(t.shape),
                "dtype": str(t.dtype)[6:],
                "data": t.tolist(),
                "requires_grad": t.requires_grad,
                "is_leaf": t.is_leaf,
                "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else None,
                "grad": g.tolist() if g is not None else None,
                "retains_grad": t.retains_grad,
                "repr": repr(t),
            }
    owner = {t.grad_fn: n for n, t in env.items() if t.grad_fn is not None}
    ids, nodes = {}, []
    for n in names:
        fn = env[n].grad_fn
        if fn is not None and fn not in ids:
            ids[fn] = len(nodes)
            nodes.append(fn)
    k = 0
    while k < len(nodes):
        for nxt, _ in nodes[k].next_functions:
            if nxt is not None and nxt not in ids:
                ids[nxt] = len(nodes)
                nodes.append(nxt)
        k += 1
    graph = [
        {
            "id": i,
            "name": type(fn).__name__,
            "tensor": owner.get(fn),
            "next_functions": [[ids[x], nr] if x is not None else None for x, nr in fn.next_functions],
        }
        for i, fn in enumerate(nodes)
    ]
    return {
        "tensors": tensors,
        "graph": graph,
        "warnings": [{"category": w.category.__name__, "message": str(w.message)} for w in caught],
        "device": "cpu",
    }
