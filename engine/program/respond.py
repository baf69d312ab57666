"""The response document: each returned tensor's fields, the backward graph, the warnings; and its JSON."""
from __future__ import annotations

import numpy as np
import orjson

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import AccumulateGrad, Node
from engine.errors import LimitExceeded
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
        # the leaves in run.order's order (run.leaves: the names of kind "leaf", bound by build_leaves alone), not a
        # pass over every name the run bound
        grads = [n for n in run.leaves if env[n] is not None and env[n].requires_grad]
    for k, n in enumerate(grads):
        lookup(n, env, ["body", "grads", k])
    outputs = spec.get("outputs")
    if outputs is None:
        outputs = list(run.order)
    for k, n in enumerate(outputs):
        lookup(n, env, ["body", "outputs", k])
    grad_set = set(grads)
    wanted = grad_set.union(outputs)  # (a set built once: inside the comprehension it was quadratic)
    names = list(dict.fromkeys(filter(wanted.__contains__, run.order)))  # (filtered in C: no Python step a name)
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
    total = check_response_size(run, names, grad_set, encode)
    graph = None
    if fixed is None:
        rows = structure(env, names)
        # the graph's nodes past the 200 bytes an env entry that check_response_size counted: 413 (a nested
        # create_graph doubles them at each level), and what they take held as the response's
        room = (run.limits.max_response_bytes - total + 200 * len(env)) // GRAPH_NODE_BYTES
        if run.program is not None:
            nodes = graph_nodes(env, names, room)
            run.program.fixed = (rows, nodes)
        else:  # nothing keeps the nodes: the graph's document in one pass (graph_document)
            graph = graph_document(env, names, room)
        extra = len(nodes if graph is None else graph) * GRAPH_NODE_BYTES - 200 * len(env)
        if extra > 0:
            hold_response(extra, 0, encode)
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
    if len(tensors) != len(names):  # names bound to null (a grad that is None): null, in their place
        tensors = {n: tensors.get(n) for n in names}
    run.record_warnings(caught[n_before:])
    return document(tensors, nodes, run.warnings) if graph is None else document(tensors, (), run.warnings, graph)


# The most bytes one element can take in the response's JSON, by dtype: float32 "-1.1754944e-38,", float64
# "-2.2250738585072014e-308,", a non-finite float '"-Infinity",'; base64 is 4/3 of the item size.
_ELEMENT_BYTES = {"float64": 25, "float32": 16, "float16": 16, "int64": 21, "int32": 12, "int16": 7, "int8": 5,
                  "uint8": 4, "bool": 6}
_ELEMENT_BYTES_OF = {np.dtype(k): v for k, v in _ELEMENT_BYTES.items()}  # by dtype: its .name is a Python property


def _repr_bound(t, per):
    """Bytes of a tensor's repr at most: every printed element at its widest, with its brackets, separator
    and indentation (escaped as JSON). Past 1,000 elements torch prints three from each end of every dim."""
    shape = t._data.shape
    n = t._data.size
    if n > 1000:
        shown = 1
        for s in shape:
            shown *= min(s, 6)
        n = min(n, shown)
    return n * (per + 8 + 2 * len(shape)) + 200


def check_response_size(run, names, grad_set, encode):
    """The response's size bounded from its tensors' sizes before anything is written (413 over
    limits.max_response_bytes); what writing it takes is held in the request's budget (hold_response).
    It depends on shapes and dtypes only, so a replay of the same structure (a Program's, a lowered one's)
    has the bound this check passed."""
    env = run.env
    total = 300
    items_total = 0
    for n in names:
        t = env[n]
        if t is None:
            continue
        d = t._data
        per = _ELEMENT_BYTES_OF.get(d.dtype, 25) if encode == "json" else (d.dtype.itemsize * 4 + 2) // 3
        g = t._grad if n in grad_set else None
        items = d.size + (g._data.size if g is not None else 0)
        items_total += items
        total += items * per + _repr_bound(t, per) + 300 + 4 * len(n)
    total += 200 * len(run.env)  # the graph: a few nodes per op, ~100 bytes each
    total += getattr(run.warnings, "nbytes", 0)  # the warnings so far (their list is bounded as it grows)
    limit = run.limits.max_response_bytes
    if total > limit:
        raise LimitExceeded(f"the response would take up to {total} bytes, over the limit of {limit} bytes "
                            "(max_response_bytes); ask for fewer `outputs` or `grads`", ["body", "outputs"])
    hold_response(total, items_total, encode)
    return total


# The most a node of the response's graph takes in its JSON, as a rule: {"id":N,"name":"...Backward0",
# "tensor":null,"next_functions":[[i,0],...]} is ~70-110 bytes (27.3 MB for ~270k nodes, red team 7 F5).
GRAPH_NODE_BYTES = 128


def _graph_too_big(room):
    return LimitExceeded(f"the response's graph would have over {room} nodes (at {GRAPH_NODE_BYTES} bytes each, "
                         "past max_response_bytes with the rest of the response); ask for fewer `outputs`",
                         ["body", "outputs"])


def hold_response(total: int, items: int, encode: str) -> None:
    """Hold what writing a response of `total` bytes (at most) and `items` numbers takes, in the request's
    budget and the process's, until the request ends: JSON is written from Python's numbers (tolist: 32-36
    bytes each, a float or an int and its slot in a list) into text that may be copied once more as it is
    finished. Charged once and not held, 16 threads writing 8 MB answers held 600 MiB that no budget saw."""
    bud = _budget.current()
    if bud is not None:
        bud.hold(2 * total + (36 * items if encode == "json" else 0), total, "the response")


def tensor_doc(shape, dn, rq, gf, rg, data, grad, text):
    """One tensor of the response: what structure decides (a structure row's fields), data, grad, repr."""
    return {"shape": list(shape), "dtype": dn, "data": data, "requires_grad": rq, "is_leaf": gf is None,
            "grad_fn": gf, "grad": grad, "retains_grad": rg, "repr": text}


def document(tensors, nodes, warnings_, graph=None):
    """The response document; its graph from graph_nodes' nodes, or given as graph_document made it."""
    return {
        "tensors": tensors,
        "graph": graph if graph is not None else [
            {"id": i, "name": nm, "tensor": tn, "next_functions": [list(e) if e is not None else None for e in nf]}
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
        if t is None:
            continue
        d = t._data
        fn = t.grad_fn
        rows.append((n, d.shape, D.FROM_NP[d.dtype].name, t._req, type(fn),
                     type(fn).__name__ if fn is not None else None, t._retains_grad, t._repr_suffixes()))
    return rows


def _graph_roots(env, names):
    """What both graph writers start from: each node's tensor and each leaf's name (the first name bound to it:
    in-place ops bind a tensor twice), and the returned tensors' grad_fns, numbered in order. Nodes are dict keys
    themselves (hashed by identity: Node defines no __eq__), tensors by id (Tensor's == is an op)."""
    owner = {}
    leaf_names = {}
    for n, t in env.items():
        if t is None:
            continue
        fn = t.grad_fn
        if fn is not None:
            if fn not in owner:
                owner[fn] = n
        else:
            leaf_names.setdefault(id(t), n)
    ids: dict = {}
    nodes = []
    for n in names:
        t = env[n]
        if t is None:
            continue
        fn = t.grad_fn
        if fn is not None and fn not in ids:
            ids[fn] = len(nodes)
            nodes.append(fn)
    return owner, leaf_names, ids, nodes


def _wire_name(fn, fixed_names):
    """A node's name on the wire; `fixed_names` caches it by class where it is the class's own (Node.name)."""
    cls = type(fn)
    nm = fixed_names.get(cls)
    if nm is None:
        if cls.name is Node.name:
            nm = fixed_names[cls] = cls.__name__
        else:
            nm = fn.name().rsplit("::", 1)[-1]  # the wire's names: AccumulateGrad, CopySlices
    return nm


def _node_tensor(fn, owner, leaf_names):
    return leaf_names.get(id(fn.variable)) if isinstance(fn, AccumulateGrad) else owner.get(fn)


def graph_nodes(env, names, room=1 << 62):
    """Every grad_fn reachable from the returned tensors, ids in breadth-first order: (id, name, tensor,
    next_functions) each, which response writes out."""
    owner, leaf_names, ids, nodes = _graph_roots(env, names)
    k = 0
    while k < len(nodes):  # breadth first: `nodes` is the queue
        for nxt, _ in nodes[k].next_functions:
            if nxt is not None and nxt not in ids:
                ids[nxt] = len(nodes)
                nodes.append(nxt)
                if len(nodes) > room:
                    raise _graph_too_big(room)
        k += 1
    fixed_names: dict = {}
    return [(i, _wire_name(fn, fixed_names), _node_tensor(fn, owner, leaf_names),
             tuple([(ids[nxt], nr) if nxt is not None else None for nxt, nr in fn.next_functions]))
            for i, fn in enumerate(nodes)]


def graph_document(env, names, room=1 << 62):
    """The response's `graph` as document(..., graph_nodes(env, names), ...) writes it, in one pass: each node's
    next_functions numbered while the breadth-first walk meets them (tests/engine/test_hot_path.py holds the
    two to each other)."""
    owner, leaf_names, ids, nodes = _graph_roots(env, names)
    out = []
    append, push, ids_get, owner_get = out.append, nodes.append, ids.get, owner.get  # (bound once: per node)
    per_class: dict = {}  # per node class: its wire name where it is the class's own (else None), is it a leaf's sink
    n = len(nodes)  # (the queue's length, counted here: the next node's id)
    for k, fn in enumerate(nodes):  # breadth first: `nodes` grows as the walk meets new nodes (the queue)
        nf = []
        for nxt, nr in fn.next_functions:
            if nxt is None:
                nf.append(None)
            else:
                i = ids_get(nxt)
                if i is None:
                    i = ids[nxt] = n
                    if i >= room:
                        raise _graph_too_big(room)
                    push(nxt)
                    n += 1
                nf.append([i, nr])
        # _wire_name and _node_tensor written out: this loop runs for every node of every response (a call each
        # cost the seed ~0.5 us)
        cls = type(fn)
        try:
            nm, sink = per_class[cls]
        except KeyError:
            nm, sink = per_class[cls] = (cls.__name__ if cls.name is Node.name else None,
                                         issubclass(cls, AccumulateGrad))
        append({"id": k, "name": nm if nm is not None else fn.name().rsplit("::", 1)[-1],
                "tensor": leaf_names.get(id(fn.variable)) if sink else owner_get(fn),
                "next_functions": nf})
    return out
