"""The response document: each returned tensor's fields, the backward graph, the warnings; and its JSON."""
from __future__ import annotations

import numpy as np
import orjson

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import AccumulateGrad
from engine.printing import format_tensor, format_value
from engine.program.bind import lookup
from engine.program.wire import encode_array, req, wire_b64, wire_number


class Diverged(Exception):
    """A replay went otherwise than its recording (an op's shape, a grad_fn's class): the full path answers."""


def encode(doc) -> bytes:
    """A response document as JSON (orjson). The engine's documents are plain Python objects; a stray NumPy
    scalar or array is written as its list rather than failing the request."""
    return orjson.dumps(doc, default=_plain)


def _plain(obj):
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")



def respond(run, spec, caught):
    env = run.env
    grads = spec.get("grads")
    if grads is None:
        grads = [n for n in run.order if run.kind[n] == "leaf" and env[n].requires_grad]
    for k, n in enumerate(grads):
        lookup(n, env, ["body", "grads", k])
    outputs = spec.get("outputs")
    if outputs is None:
        outputs = list(run.order)
    for k, n in enumerate(outputs):
        lookup(n, env, ["body", "outputs", k])
    grad_set = set(grads)
    names = list(dict.fromkeys([*[n for n in run.order if n in set(outputs) or n in grad_set]]))
    encode = spec.get("encoding", "json")
    req(encode in ("json", "base64"), "Input should be 'json' or 'base64'", ["body", "encoding"], "enum")
    if run.program is not None:
        run.program.respond = (names, grad_set, encode)
    return response(run, names, grad_set, encode, caught)


def response(run, names, grad_set, encode, caught, fixed=None):
    """The response document. fixed: a replay's Program.fixed, the fields that structure alone decides
    (shape, dtype, flags, grad_fn, repr's suffixes, the graph), as the first run found them, checked
    against the replay's tensors; values are read afresh either way."""
    env = run.env
    n_before = len(caught)
    if fixed is None:
        rows, nodes = structure(env, names), graph_nodes(env, names)
        if run.program is not None:
            run.program.fixed = (rows, nodes)
    else:
        rows, nodes = fixed
    wire = encode_array if encode == "json" else wire_b64
    one_value = encode == "json" and B.xp is np
    tensors = {}
    for n, shape, dn, rq, fn_cls, gf, rg, suffixes in rows:
        t = env[n]
        d = t._data
        if fixed is not None and (type(t.grad_fn) is not fn_cls or D.FROM_NP[d.dtype].name != dn):
            raise Diverged
        g = t.grad if n in grad_set else t._grad
        if not shape and one_value:  # one value: read once, for data and repr
            v = d.item()
            data, text = wire_number(v), format_value(v, dn, suffixes)
        else:
            data, text = wire(d), format_tensor(B.to_numpy(d), dn, suffixes)
        tensors[n] = tensor_doc(shape, dn, rq, gf, rg, data, wire(g._data) if g is not None else None, text)
    run.record_warnings(caught[n_before:])
    return document(tensors, nodes, run.warnings)


def tensor_doc(shape, dn, rq, gf, rg, data, grad, text):
    """One tensor of the response: what structure decides (a structure row's fields), data, grad, repr."""
    return {"shape": list(shape), "dtype": dn, "data": data, "requires_grad": rq, "is_leaf": gf is None,
            "grad_fn": gf, "grad": grad, "retains_grad": rg, "repr": text}


def document(tensors, nodes, warnings_):
    return {
        "tensors": tensors,
        "graph": [{"id": i, "name": nm, "tensor": tn, "next_functions": [list(e) if e is not None else None
                                                                          for e in nf]}
                  for i, nm, tn, nf in nodes],
        "warnings": warnings_,
        "device": "cpu" if B.xp is np else "cuda",
    }


def structure(env, names):
    """Per returned tensor what structure decides, as the Tensor properties give it: (name, shape, dtype
    name, requires_grad, grad_fn class, grad_fn name, retains_grad, repr's suffixes)."""
    rows = []
    for n in names:
        t = env[n]
        d = t._data
        fn = t.grad_fn
        rows.append((n, d.shape, D.FROM_NP[d.dtype].name, t._req, type(fn),
                     type(fn).__name__ if fn is not None else None, t._retains_grad, t._repr_suffixes()))
    return rows




def graph_nodes(env, names):
    """Every grad_fn reachable from the returned tensors, ids in breadth-first order: (id, name, tensor,
    next_functions) each, which response writes out."""
    owner = {}
    for n, t in env.items():
        if t.grad_fn is not None and id(t.grad_fn) not in owner:
            owner[id(t.grad_fn)] = n
    leaf_names = {id(t): n for n, t in env.items() if t.grad_fn is None}
    ids: dict[int, int] = {}
    nodes = []
    queue = []
    for n in names:
        fn = env[n].grad_fn
        if fn is not None and id(fn) not in ids:
            ids[id(fn)] = len(nodes)
            nodes.append(fn)
            queue.append(fn)
    k = 0
    while k < len(queue):
        fn = queue[k]
        k += 1
        for nxt, _ in fn.next_functions:
            if nxt is not None and id(nxt) not in ids:
                ids[id(nxt)] = len(nodes)
                nodes.append(nxt)
                queue.append(nxt)
    out = []
    for i, fn in enumerate(nodes):
        if isinstance(fn, AccumulateGrad):
            tname = leaf_names.get(id(fn.variable))
        else:
            tname = owner.get(id(fn))
        out.append((i, fn.name(), tname,
                    tuple((ids[id(nxt)], nr) if nxt is not None else None for nxt, nr in fn.next_functions)))
    return out

