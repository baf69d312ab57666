"""The backward pass: run_backward (a dependency count and a ready queue, no recursion) and its array loop
(_run_arrays), the engine behind Tensor.backward and torch.autograd's backward / grad (engine.autograd, which
re-exports every name here).

Moved out of engine/autograd/__init__.py as it was. Its module globals Tensor, ones_like_data and GradientEdge
are handed over by engine.autograd (Tensor once engine/tensor.py has made it: `_bind`), and `_fw_levels` is set
by engine.autograd.forward_ad, as engine.autograd's own."""
from __future__ import annotations

import heapq
import itertools
import time

from numpy import ndarray

from engine import budget as _budget
from engine.autograd.modes import anomaly, grad_mode
from engine.autograd.nodes import AccumulateGrad, accumulate_into, edge_of, grad_accumulator
from engine.errors import TorchRuntimeError, TorchTypeError, shape_str

# engine.tensor imports engine.autograd (and so this module): the Tensor class and ones_like_data are handed over
# once they exist (engine.autograd._bind), engine.autograd.graph's GradientEdge at the end of engine.autograd.
Tensor = None
ones_like_data = None
GradientEdge = None

BACKWARD_CREATE_GRAPH_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter and its "
    "gradient which can cause a memory leak. We recommend using autograd.grad when creating the graph to "
    "avoid this. If you have to use this function, make sure to reset the .grad fields of your parameters "
    "to None after use to break the cycle and avoid the leak."
)


# ----- the backward pass -----


def _root_grads(tensors, grad_tensors, create_graph):

    # torch.autograd's _make_grads first (pairwise, as zip), then the C++ engine's checks
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if isinstance(g, Tensor):
            if tuple(g.shape) != tuple(t.shape):
                raise TorchRuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {shape_str(g.shape)} and "
                    f"output[{i}] has a shape of {shape_str(t.shape)}."
                )
            if not create_graph:
                g = g.detach() if not _fw_levels else _keep_tangent(g.detach(), g)
        elif g is None:
            if t.requires_grad:
                check_implicit(t)
                g = Tensor._make(ones_like_data(t._data))
        else:
            raise TorchTypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        grads.append(g)
    if len(grads) != len(tensors):
        raise TorchRuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        if not t.requires_grad:
            raise TorchRuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        roots.append((edge_of(t), g))
    return roots


def check_implicit(t):
    """torch's checks before it makes an output's implicit gradient (ones): one element, a float dtype."""
    if t.numel() != 1:
        raise TorchRuntimeError("grad can be implicitly created only for scalar outputs")
    if not t.dtype.is_floating_point:
        raise TorchRuntimeError(f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")


def dependencies(roots):
    """Every node reachable from `roots` with the number of edges into it from reachable nodes (0 for the
    roots), and the order the traversal found them in (an explicit stack: a chain of 100,000 ops must not
    hit recursion). run_backward counts with it, and so does engine.program.lower, which writes its schedule down."""
    deps = {}
    order = []
    stack = list(roots)
    for n in stack:
        deps[n] = 0
    while stack:
        n = stack.pop()
        order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is None:
                continue
            c = deps.get(nxt)
            if c is None:
                deps[nxt] = 1
                stack.append(nxt)
            else:
                deps[nxt] = c + 1
    return deps, order


def _dependency_counts(roots):
    """dependencies(roots)[0] (the counts alone, which do not depend on the order the walk takes): breadth first
    over a list that grows as it goes, nothing popped (a stack of one or two nodes, popped and pushed a node, has
    the list resized each time)."""
    deps = {None: 1}  # (a constant's edge, (None, 0), counted under None and never queued: popped at the end)
    queue = list(roots)
    for n in queue:
        deps[n] = 0
    get, push = deps.get, queue.append
    for n in queue:  # (the list grows under the loop: every node reached is visited once)
        for nxt, _ in n.next_functions:
            c = get(nxt)
            if c is None:
                deps[nxt] = 1
                push(nxt)
            else:  # (a root met again has 0: counted, not queued twice)
                deps[nxt] = c + 1
    del deps[None]
    return deps


# What one node run with create_graph=True leaves in memory beyond its arrays' data: the graph it records
# (nodes, their saved tensors, Tensors and small arrays' objects; measured ~1 KB with tracemalloc on nested
# autograd.grad, red team 7 F5, where 0-d arrays were charged 4 bytes each).
CREATE_GRAPH_NODE_BYTES = 1024


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=False):
    """The engine behind Tensor.backward, autograd.backward and autograd.grad.

    With `inputs`, only the nodes that lie on a path to one of them run, and the gradient reaching
    each input is captured (autograd.grad) or accumulated into its .grad (backward(inputs=...)).
    """

    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(tensors, grad_tensors, create_graph)
    if create_graph and accumulate:
        # torch's engine warns here (TORCH_WARN_ONCE: once per process in torch, every call here)
        import warnings  # noqa: PLC0415

        warnings.warn(BACKWARD_CREATE_GRAPH_WARNING, UserWarning, stacklevel=3)

    # Capture points: (node, input_nr) -> index into inputs
    captures = None
    if inputs is not None:
        captures = {}
        for k, x in enumerate(inputs):
            if isinstance(x, GradientEdge):
                captures.setdefault((x.node, x.output_nr), []).append(k)
                continue
            if not isinstance(x, Tensor):
                raise TorchTypeError(f"expected Tensor as element {k} in argument 1, but got {type(x).__name__}")
            if not x.requires_grad:
                raise TorchRuntimeError("One of the differentiated Tensors does not require grad")
            key = (x.grad_fn, x._output_nr) if x.grad_fn is not None else (grad_accumulator(x), 0)
            captures.setdefault(key, []).append(k)
            if accumulate:
                x.retain_grad()  # backward(inputs=) of a non-leaf: its .grad is filled as retain_grad fills it

    # A node is in `deps` once it has been seen; its count is the number of edges into it from the nodes
    # that run.
    root_nodes = {id(e[0][0]): e[0][0] for e in roots if e[0][0] is not None}.values()
    needed = None
    if captures is None:
        deps = _dependency_counts(root_nodes)
    else:
        deps, order = dependencies(root_nodes)
        capture_nodes = {id(node) for node, _ in captures}
        needed = _needed_nodes(order, capture_nodes)

    buffers = root_buffers(roots)

    results = [None] * len(inputs) if inputs is not None else None
    ready = []
    tie = itertools.count()
    for node in {id(n): n for (n, _), _ in roots if n is not None}.values():
        if deps[node] == 0:
            heapq.heappush(ready, (-node._seq, next(tie), node))

    heappush, heappop = heapq.heappush, heapq.heappop
    bud = _budget._local.budget
    prev_mode = grad_mode.enabled
    grad_mode.enabled = create_graph
    # the array loop drops tangents (arrays carry none): not while a forward-AD level is entered (OpNode.apply's own
    # array route steps aside then too)
    if captures is None and accumulate and not create_graph and not anomaly.enabled and not _fw_levels:
        try:
            _run_arrays(ready, buffers, deps, tie, bud, retain_graph)
        finally:
            grad_mode.enabled = prev_mode
        return None
    try:
        while ready:
            node = heappop(ready)[2]
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node.num_outputs
            if bud is not None:
                _charge_node(bud, node, grads)
                if create_graph:  # the nodes, tensors and 0-d arrays this step records: counted, never freed
                    bud.small += CREATE_GRAPH_NODE_BYTES
                    bud.live += CREATE_GRAPH_NODE_BYTES
            hk = node._hooks
            if captures is not None:
                # torch's exec_info: a node on no path to a capture point never runs (nor do its hooks); autograd.grad
                # captures at a node it does not execute after the tensor hooks and retain_grad, and at one it does
                # execute before them
                if id(node) not in needed:
                    _release_children(node, deps, ready, tie, needed)
                    if not retain_graph:
                        node.release()
                    continue
                if id(node) in capture_nodes:
                    runs = accumulate or _has_needed_child(node, needed)
                    if not runs and hk is not None:
                        grads = hk.before_capture(grads, create_graph)
                    for nr in range(node.num_outputs):
                        ks = captures.get((node, nr))
                        if ks and not accumulate:  # (backward(inputs=) returns nothing: no reference kept)
                            for k in ks:
                                results[k] = grads[nr]
                    if not runs:
                        if not retain_graph:
                            node.release()
                        _release_children(node, deps, ready, tie, needed)
                        continue
            if hk is not None:
                grads = hk.before(grads, create_graph)
            if type(node) is AccumulateGrad:
                if _fw_levels:  # the gradient's references are counted (forward_ad.accumulated): drop the last node's
                    out = g = None
                if accumulate and grads[0] is not None:
                    had = node.variable._grad
                    had = had._data if had is not None else None
                    accumulate_into(node.variable, grads[0], create_graph)
                    if bud is not None and node.variable._grad._data is not had:  # (added in place: counted)
                        bud.track(node.variable._grad._data)
                    if hk is not None and hk.post_acc:
                        hk.after_accumulate(node.variable)
                if hk is not None and hk.post:
                    hk.after((), grads)
                continue
            if grads[0] is None and (len(grads) == 1 or all(g is None for g in grads)):
                out = [None] * len(node.next_functions)
            elif anomaly.enabled:
                out = _apply_anomalous(node, grads, create_graph)
            else:
                out = node.apply(grads, create_graph)
            if not retain_graph:
                node.release()
            if hk is not None and hk.post:
                out = hk.after(out, grads)
            for (nxt, nr), g in zip(node.next_functions, out):
                if nxt is None:
                    continue
                if g is not None and (needed is None or id(nxt) in needed):
                    buf = buffers.get(nxt)
                    if buf is None:
                        if nxt.num_outputs == 1:
                            buffers[nxt] = [g]
                        else:
                            buf = buffers[nxt] = [None] * nxt.num_outputs
                            buf[nr] = g
                    elif buf[nr] is None:
                        buf[nr] = g
                    else:
                        buf[nr] = _add(buf[nr], g)
                c = deps[nxt] - 1
                deps[nxt] = c
                if c == 0:
                    heappush(ready, (-nxt._seq, next(tie), nxt))
    finally:
        grad_mode.enabled = prev_mode

    if inputs is not None and not accumulate:
        for k, r in enumerate(results):
            if r is None and not allow_unused:
                raise TorchRuntimeError(
                    f"The differentiated Tensor at index {k} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
            if r is not None and not create_graph:
                results[k] = r.detach() if not _fw_levels else _keep_tangent(r.detach(), r)
    return results


def _as_tensor(g):
    """A gradient in the array loop's buffers as the Tensor the node API takes (arrays travel bare there)."""
    return g if g is None or isinstance(g, Tensor) else Tensor._make(g)


def _run_arrays(ready, buffers, deps, tie, bud, retain_graph):
    """run_backward's loop where nothing records (no create_graph), nothing is captured and anomaly mode is off:
    the same steps for the same nodes in the same order with the same buffer sums, but gradients travel between
    nodes as bare arrays, and an op node with array formulas (Node._raw) takes and gives arrays: no
    Tensor is made per gradient. A node with hooks or a retained grad, a custom Function, an entry without
    array formulas gets Tensors, and its outputs go on as the Tensors it gave.

    A chain's step skips the ready queue: where a node's run makes exactly one node ready and the queue is empty,
    that node is the one the queue would give next, so it is held in `direct` (its gradients, complete since its
    count reached 0, in `direct_grads`, not in `buffers`) and run next. A second node made ready sends the held
    one to the queue first, so the order (and the tie-breaks) stay the queue's."""
    heappush, heappop = heapq.heappush, heapq.heappop
    # Budget.charge written out for an op node's cost (where bud is a plain Budget whose charge is the class's own:
    # a subclass or a replaced method gets the call): the same comparisons of the same values, and where any of
    # them fails, or the process's limit is set and passed, the method itself, which raises what it raises
    inline = type(bud) is _Budget and _Budget.charge is _CHARGE
    monotonic, process = _monotonic, _budget.PROCESS
    direct = direct_grads = None
    while True:
        if direct is not None:
            node, grads = direct, direct_grads
            direct = direct_grads = None
            if grads is None:
                grads = [None] * node.num_outputs
        elif ready:
            node = heappop(ready)[2]
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * node.num_outputs
        else:
            break
        cls = type(node)
        rk = cls._release_kind  # (a class attribute: read once a node, for the charge and the release)
        if bud is not None:  # _charge_node, an op node's case inline
            cost = node._bwd if rk else None
            if cost is None:
                _charge_node(bud, node, grads)
            elif inline:
                nb, fl = cost  # (cost_of's backward cost: bytes, flops)
                used = bud.used_flops + fl
                peak = bud.live + nb
                if (bud._max_elements < 0 or monotonic() > bud._dl or fl > bud._op_cap or used > bud._flop_cap
                        or peak > bud._byte_cap or ((pmax := process.max_bytes) and process.live + nb > pmax)):
                    bud.charge(nb, fl, cls.__name__)
                else:
                    bud.used_flops = used
                    if peak > bud.peak:
                        bud.peak = peak
            else:
                bud.charge(cost[0], cost[1], cls.__name__)
        hk = node._hooks  # tensor hooks, retain_grad, pre- and post-hooks (engine.autograd.hooks): on Tensors
        if hk is not None:
            grads = hk.before([_as_tensor(g) for g in grads], False)
        if cls is AccumulateGrad:
            if grads[0] is not None:
                var = node.variable
                had = var._grad._data if var._grad is not None else None
                if hk is not None and hk.post:  # its post-hooks read the gradient
                    accumulate_into(var, _as_tensor(grads[0]), False)
                else:
                    accumulate_into(var, _as_tensor(grads.pop(0)), False)  # popped: _own may take the buffer
                if bud is not None and var._grad._data is not had:  # (added in place: counted already)
                    bud.track(var._grad._data)
                if hk is not None and hk.post_acc:
                    hk.after_accumulate(var)
            if hk is not None and hk.post:
                hk.after((), grads)
            grads = None
            continue
        g0 = grads[0]
        if g0 is None and (len(grads) == 1 or all(g is None for g in grads)):
            out = [None] * len(node.next_functions)
        else:
            out = None
            if hk is None and len(grads) == 1:
                raw = cls._raw  # (read off the class: no bound method made to test it)
                if raw is not None:
                    out = raw(node, g0._data if type(g0) is Tensor else g0)
            if out is None:  # the node API, on Tensors
                out = node.apply([_as_tensor(g) for g in grads], False)
        if not retain_graph:  # node.release(), an op node's inline (Node._release_kind)
            if rk == 1:
                node._released = True
                node._saved = None
            elif rk == 0:
                node.release()
        if hk is not None and hk.post:
            out = hk.after(out, grads)
        grads = g0 = None
        k = -1
        for nxt, nr in node.next_functions:  # (out[k] beside it: a zip object made a node cost more)
            k += 1
            if nxt is None:
                continue
            g = out[k]
            c = deps[nxt] - 1
            if c:  # (a count that reaches 0 is read no more: every edge into its node has been followed)
                deps[nxt] = c
            elif direct is None and not ready:  # the next node to run: its gradients complete now
                buf = buffers.pop(nxt, None)
                if buf is None:
                    if g is not None:
                        if nxt.num_outputs == 1:
                            buf = [g]
                        else:
                            buf = [None] * nxt.num_outputs
                            buf[nr] = g
                elif g is not None:
                    _buffer_add(buf, nr, g)
                direct, direct_grads, buf = nxt, buf, None
                continue
            if g is not None:
                buf = buffers.get(nxt)
                if buf is None:
                    if nxt.num_outputs == 1:
                        buffers[nxt] = [g]
                    else:
                        buf = buffers[nxt] = [None] * nxt.num_outputs
                        buf[nr] = g
                else:  # _buffer_add, its commonest case (two arrays of one shape: summed on the arrays) inline
                    a = buf[nr]
                    if (a is not None and (ta := type(a)) is not Tensor and (tg := type(g)) is not Tensor
                            and (sh := a.shape) == g.shape):
                        if sh:
                            buf[nr] = a + g
                        else:  # 0-d: as NumPy scalars (_sum_0d)
                            buf[nr] = (a[()] if ta is ndarray else a) + (g[()] if tg is ndarray else g)
                    else:
                        _buffer_add(buf, nr, g)
                    a = None
                buf = None
            if c == 0:
                if direct is not None:  # a second node ready: the held one goes to the queue first
                    if direct_grads is not None:
                        buffers[direct] = direct_grads
                    heappush(ready, (-direct._seq, next(tie), direct))
                    direct = direct_grads = None
                heappush(ready, (-nxt._seq, next(tie), nxt))
        # no reference to a gradient outlives its node here: AccumulateGrad's _own counts them to take a buffer
        out = g = None


_Budget = _budget.Budget
_CHARGE = _Budget.charge  # (the class's own: where it was replaced, the array loop calls the replacement)
_monotonic = time.monotonic


def _buffer_add(buf, nr, g):
    """A gradient `g` for output `nr` into a node's buffer: stored, or summed with the one there (on the arrays
    where neither is a Tensor: _add's sum of two gradients that need no grad)."""
    a = buf[nr]
    if a is None:
        buf[nr] = g
    elif type(a) is not Tensor and type(g) is not Tensor and a.shape == g.shape:
        buf[nr] = a + g if a.shape else _sum_0d(a, g)
    else:
        buf[nr] = _add(_as_tensor(a), _as_tensor(g))


def _sum_0d(a, g):
    """a + g for two 0-d gradients (0-d arrays or NumPy scalars) as the sum of their NumPy scalars: the same
    addition of the same dtypes (NumPy gives a scalar for two 0-d arrays too), without the ufunc's dispatch on
    arrays (~5k instructions a sum, against ~2k: a 0-d leaf used by every other op of a chain takes a sum an
    op). The error state is the caller's as before (evaluate ignores it); NumPy's warning text for a scalar's
    overflow says "scalar add"."""
    return (a[()] if type(a) is ndarray else a) + (g[()] if type(g) is ndarray else g)


def _apply_anomalous(node, grads, create_graph):
    """node.apply under anomaly mode: an error is preceded by torch's warning naming the node, and an output
    holding NaN fails (check_nan), as torch's engine does."""
    import warnings  # noqa: PLC0415

    try:
        out = node.apply(grads, create_graph)
        if anomaly.check_nan:
            for i, g in enumerate(out):
                if g is not None and g._data.dtype.kind == "f" and g._data.size and _isnan_any(g._data):
                    raise TorchRuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    except Exception:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:",
                      UserWarning, stacklevel=2)
        raise
    return out


def _isnan_any(a):
    import numpy as np  # noqa: PLC0415

    return bool(np.isnan(a).any())


def _charge_node(bud, node, grads):
    """Charge a node's backward before it runs (engine.budget): an op node's from its entry's rule (what its
    forward's charge left on it), any other node's as twice the gradients it receives, plus one pass over them."""
    cost = getattr(node, "_bwd", None)
    if cost is not None:
        bud.charge(cost[0], cost[1], type(node).__name__)
        return
    n = 0
    for g in grads:
        if g is not None:
            n += (g._data if isinstance(g, Tensor) else g).nbytes
    bud.charge(2 * n, n, type(node).__name__)


def _has_needed_child(node, needed):
    return any(n is not None and id(n) in needed for n, _ in node.next_functions)


def _release_children(node, deps, ready, tie, needed):
    for nxt, _ in node.next_functions:
        if nxt is None:
            continue
        deps[nxt] -= 1
        if deps[nxt] == 0:
            heapq.heappush(ready, (-nxt._seq, next(tie), nxt))


def _needed_nodes(order, capture_nodes):
    """Nodes from which a capture point is reachable (torch's exec_info), children before parents."""
    # `order` is a DFS discovery order; compute reachability by iterating to a fixed point over a
    # reverse topological order built with Kahn's algorithm.
    indeg = {}
    for n in order:
        indeg.setdefault(id(n), 0)
        for c, _ in n.next_functions:
            if c is not None:
                indeg[id(c)] = indeg.get(id(c), 0) + 1
    topo = []
    queue = [n for n in order if indeg[id(n)] == 0]
    while queue:
        n = queue.pop()
        topo.append(n)
        for c, _ in n.next_functions:
            if c is not None:
                indeg[id(c)] -= 1
                if indeg[id(c)] == 0:
                    queue.append(c)
    needed = set()
    for n in reversed(topo):
        if id(n) in capture_nodes or any(c is not None and id(c) in needed for c, _ in n.next_functions):
            needed.add(id(n))
    return needed


_fw_levels = 0  # threads with a forward-AD level entered (engine.autograd.forward_ad keeps it)


def _keep_tangent(dst, src):
    """dst (src detached) with src's tangent: torch never detaches a gradient, so one computed on dual tensors
    keeps its tangent (forward-over-reverse)."""
    from engine.autograd.forward_ad import keep_tangent  # noqa: PLC0415

    return keep_tangent(dst, src)


def root_buffers(roots) -> dict:
    """The backward pass's first input buffers: each root's gradient in its node's slot, summed where two roots
    meet one slot (run_backward and the batched backward start from these)."""
    buffers = {}
    for (node, nr), g in roots:
        if node is None:
            continue
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.num_outputs
        buf[nr] = g if buf[nr] is None else _add(buf[nr], g)
    return buffers


def _add(a, b):
    if a._data.shape != b._data.shape:
        return a + b  # broadcasting sum; shapes are validated by the caller

    if a.requires_grad or b.requires_grad or _fw_levels:  # (a tangent propagates through the op)
        return a + b
    return Tensor._make(a._data + b._data)
