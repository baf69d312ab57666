"""Engine workloads, forward + backward, written once per framework: engine, PyTorch eager, HIPS autograd,
and for the large ones the NumPy floor (the same arithmetic by hand, no autograd).

Every builder returns {column: zero-argument callable}; each call builds fresh leaves (no .grad carried
over), runs forward and backward, and returns the leaves' gradients as NumPy arrays (for the check)."""

from __future__ import annotations

import copy
import itertools

import numpy as np

SEED_SPEC = {  # the seed example of API.md / container-smoke: f = a*b + c*d**2/e
    "leaves": {
        "a": {"data": 2.0, "requires_grad": True},
        "b": {"data": 4.0, "requires_grad": True},
        "c": {"data": 6.0, "requires_grad": True},
        "d": {"data": 8.0, "requires_grad": True},
        "e": {"data": 10.0, "requires_grad": True},
    },
    "ops": [
        {"name": "g", "op": "mul", "args": ["a", "b"]},
        {"name": "d2", "op": "pow", "args": ["d", 2]},
        {"name": "cd2", "op": "mul", "args": ["c", "d2"]},
        {"name": "h", "op": "div", "args": ["cd2", "e"]},
        {"name": "f", "op": "add", "args": ["g", "h"]},
    ],
    "backward": [{"tensor": "f"}],
}


def _libs():
    import autograd  # noqa: PLC0415
    import autograd.numpy as anp  # noqa: PLC0415
    import torch  # noqa: PLC0415

    import engine  # noqa: PLC0415

    return engine, torch, autograd, anp


def _t(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x._data)


def _e(x):
    return np.asarray(x._data)


# ----- scalar chain: 200 ops on 0-d float32 tensors -----


def scalar_chain(n_ops=200):
    E, torch, autograd, anp = _libs()
    cycles = n_ops // 4  # mul, add, sin, exp

    def eng():
        x = E.tensor(0.5, requires_grad=True)
        w = E.tensor(0.9, requires_grad=True)
        y = x
        for _ in range(cycles):
            y = (y * w + 1.0).sin().exp()
        y.backward()
        return _e(x.grad), _e(w.grad)

    def tch():
        x = torch.tensor(0.5, requires_grad=True)
        w = torch.tensor(0.9, requires_grad=True)
        y = x
        for _ in range(cycles):
            y = (y * w + 1.0).sin().exp()
        y.backward()
        return _t(x.grad), _t(w.grad)

    def f(p):
        x, w = p
        y = x
        for _ in range(cycles):
            y = anp.exp(anp.sin(y * w + 1.0))
        return y

    g = autograd.grad(f)

    def hips():
        return g((np.float32(0.5), np.float32(0.9)))

    def floor():  # the same NumPy calls on 0-d float32 values, backward written out by hand
        x, w = np.float32(0.5), np.float32(0.9)
        y, tape = x, []
        for _ in range(cycles):
            a = y * w + np.float32(1.0)
            e = np.exp(np.sin(a))
            tape.append((y, a, e))
            y = e
        g, gw = np.float32(1.0), np.float32(0.0)
        for yin, a, e in reversed(tape):
            g = g * e * np.cos(a)  # exp, then sin
            gw = gw + g * yin  # mul's two inputs
            g = g * w
        return g, gw

    return (
        {"engine": eng, "torch": tch, "autograd": hips, "numpy floor": floor},
        f"{cycles * 4} ops (mul, add, sin, exp)×{cycles} on 0-d float32",
    )


# ----- small MLP -----


def mlp(batch=32, d_in=64, d_hidden=128, d_out=10):
    E, torch, autograd, anp = _libs()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, d_in), dtype=np.float32)
    w1 = (rng.standard_normal((d_in, d_hidden), dtype=np.float32) / np.sqrt(d_in)).astype(np.float32)
    b1 = np.zeros(d_hidden, np.float32)
    w2 = (rng.standard_normal((d_hidden, d_out), dtype=np.float32) / np.sqrt(d_hidden)).astype(np.float32)
    b2 = np.zeros(d_out, np.float32)
    native = hasattr(E.nn.functional, "log_softmax")
    note = (
        "F.log_softmax(z, 1)"
        if native
        else "log_softmax as z - log(exp(z).sum(1, keepdim=True)) in all columns (no engine log_softmax)"
    )

    def eng():
        p = [E.from_numpy(a).requires_grad_(True) for a in (w1, b1, w2, b2)]
        h = (E.from_numpy(x) @ p[0] + p[1]).tanh()
        z = h @ p[2] + p[3]
        ls = E.nn.functional.log_softmax(z, 1) if native else z - z.exp().sum(1, keepdim=True).log()
        ls.mean().backward()
        return [_e(t.grad) for t in p]

    def tch():
        p = [torch.from_numpy(a).requires_grad_(True) for a in (w1, b1, w2, b2)]
        h = (torch.from_numpy(x) @ p[0] + p[1]).tanh()
        z = h @ p[2] + p[3]
        ls = torch.nn.functional.log_softmax(z, 1) if native else z - z.exp().sum(1, keepdim=True).log()
        ls.mean().backward()
        return [_t(t.grad) for t in p]

    def f(p):
        h = anp.tanh(anp.dot(x, p[0]) + p[1])
        z = anp.dot(h, p[2]) + p[3]
        if native:
            m = anp.max(z, axis=1, keepdims=True)
            ls = z - (anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True)) + m)
        else:
            ls = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return anp.mean(ls)

    g = autograd.grad(f)

    def hips():
        return g([w1, b1, w2, b2])

    def floor():
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        if native:
            zs = z - z.max(1, keepdims=True)
            ls = zs - np.log(np.exp(zs).sum(1, keepdims=True))
        else:
            ls = z - np.log(np.exp(z).sum(1, keepdims=True))
        ls.mean()
        gl = np.full(ls.shape, 1.0 / ls.size, np.float32)
        if native:
            gz = gl - np.exp(ls) * gl.sum(1, keepdims=True)
        else:
            e = np.exp(z)
            gz = gl + np.broadcast_to(-gl.sum(1, keepdims=True) / e.sum(1, keepdims=True), e.shape) * e
        gh = (gz @ w2.T) * (1 - h * h)
        return [x.T @ gh, gh.sum(0), h.T @ gz, gz.sum(0)]

    return (
        {"engine": eng, "torch": tch, "autograd": hips, "numpy floor": floor},
        f"{batch}×{d_in}→{d_hidden}→{d_out}, tanh, {note}, mean",
    )


# ----- the floors of the two large chains, for any array module (NumPy here, CuPy in bench/gpu.py) -----


def matmul_chain_floor(xp, mats):
    """x@W1@...@Wk, sum, and its backward written by hand: the gradients of all k+1 matrices."""
    k = len(mats) - 1
    acts = [mats[0]]
    for w in mats[1:]:
        acts.append(acts[-1] @ w)
    acts[-1].sum()
    g = xp.ones_like(acts[-1])  # sum's backward: a gradient of ones
    grads = [None] * (k + 1)
    for i in range(k, 0, -1):
        grads[i] = acts[i - 1].T @ g
        g = g @ mats[i].T
    grads[0] = g
    return grads


def elementwise_chain_floor(xp, x0):
    """sin, exp, sin, exp, sum, and its backward written by hand."""
    a = xp.sin(x0)
    b = xp.exp(a)
    c = xp.sin(b)
    d = xp.exp(c)
    d.sum()
    g = xp.broadcast_to(xp.ones((), x0.dtype), d.shape)  # sum's backward: expand, no copy
    g = g * d  # exp: grad * result
    g = g * xp.cos(b)  # sin: grad * cos(self)
    g = g * b  # exp
    return [g * xp.cos(x0)]  # sin


# ----- five 512x512 float32 matmuls -----


def matmul_chain(n=512, k=5):
    E, torch, autograd, anp = _libs()
    rng = np.random.default_rng(1)
    mats = [
        (rng.standard_normal((n, n), dtype=np.float32) / np.sqrt(n)).astype(np.float32) for _ in range(k + 1)
    ]

    def eng():
        p = [E.from_numpy(a).requires_grad_(True) for a in mats]
        y = p[0]
        for w in p[1:]:
            y = y @ w
        y.sum().backward()
        return [_e(t.grad) for t in p]

    def tch():
        p = [torch.from_numpy(a).requires_grad_(True) for a in mats]
        y = p[0]
        for w in p[1:]:
            y = y @ w
        y.sum().backward()
        return [_t(t.grad) for t in p]

    def f(p):
        y = p[0]
        for w in p[1:]:
            y = anp.dot(y, w)
        return anp.sum(y)

    g = autograd.grad(f)

    def hips():
        return g(list(mats))

    def floor():
        return matmul_chain_floor(np, mats)

    return (
        {"engine": eng, "torch": tch, "autograd": hips, "numpy floor": floor},
        f"x@W1@…@W{k}, {n}², float32, all {k + 1} require grad; sum",
    )


# ----- 4M-element exp/sin chain -----


def elementwise_chain(shape=(2000, 2000)):
    E, torch, autograd, anp = _libs()
    rng = np.random.default_rng(2)
    x0 = rng.uniform(-1, 1, size=shape).astype(np.float32)

    def eng():
        x = E.from_numpy(x0).requires_grad_(True)
        x.sin().exp().sin().exp().sum().backward()
        return [_e(x.grad)]

    def tch():
        x = torch.from_numpy(x0).requires_grad_(True)
        x.sin().exp().sin().exp().sum().backward()
        return [_t(x.grad)]

    def f(x):
        return anp.sum(anp.exp(anp.sin(anp.exp(anp.sin(x)))))

    g = autograd.grad(f)

    def hips():
        return [g(x0)]

    def floor():
        return elementwise_chain_floor(np, x0)

    n = int(np.prod(shape))
    return (
        {"engine": eng, "torch": tch, "autograd": hips, "numpy floor": floor},
        f"{n / 1e6:.1f}M float32: sin, exp, sin, exp, sum",
    )


# ----- a 10,000-op graph with fan-out -----


def big_graph(n_ops=10_000, width=16):
    E, torch, autograd, anp = _libs()
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1, 1, width).astype(np.float32)
    w0 = np.float32(0.9)
    steps = n_ops - 1  # and the final sum

    def run(x, w, tanh, sin):
        v = [x]
        for i in range(steps):
            k = i & 3
            if k == 0:
                t = v[-1] * w
            elif k == 1:
                t = v[-1] + v[-3 if len(v) >= 3 else 0]  # fan-out: gradients meet and are added
            elif k == 2:
                t = tanh(v[-1])
            else:
                t = sin(v[-1])
            v.append(t)
        return v[-1]

    def eng():
        x = E.from_numpy(x0).requires_grad_(True)
        w = E.tensor(w0, requires_grad=True)
        run(x, w, E.tanh, E.sin).sum().backward()
        return [_e(x.grad), _e(w.grad)]

    def tch():
        x = torch.from_numpy(x0).requires_grad_(True)
        w = torch.tensor(w0, requires_grad=True)
        run(x, w, torch.tanh, torch.sin).sum().backward()
        return [_t(x.grad), _t(w.grad)]

    g = autograd.grad(lambda p: anp.sum(run(p[0], p[1], anp.tanh, anp.sin)))

    def hips():
        return g((x0, w0))

    def floor():
        v = [x0]
        for i in range(steps):
            k = i & 3
            v.append(
                v[-1] * w0
                if k == 0
                else v[-1] + v[-3 if len(v) >= 3 else 0]
                if k == 1
                else np.tanh(v[-1])
                if k == 2
                else np.sin(v[-1])
            )
        grads = [None] * len(v)
        grads[-1] = np.ones_like(v[-1])
        gw = np.float32(0.0)
        for j in range(len(v) - 1, 0, -1):
            gj = grads[j]
            k = (j - 1) & 3
            if k == 0:
                gw = gw + (gj * v[j - 1]).sum()
                parts = ((j - 1, gj * w0),)
            elif k == 1:
                parts = ((j - 1, gj), (j - 3 if j - 1 >= 3 else 0, gj))
            elif k == 2:
                parts = ((j - 1, gj * (1 - v[j] * v[j])),)
            else:
                parts = ((j - 1, gj * np.cos(v[j - 1])),)
            for idx, p in parts:
                grads[idx] = p if grads[idx] is None else grads[idx] + p
            grads[j] = None
        return [grads[0], gw]

    return (
        {"engine": eng, "torch": tch, "autograd": hips, "numpy floor": floor},
        f"{n_ops} ops on [{width}] float32 (mul, add with fan-out, tanh, sin), sum",
    )


# ----- engine.evaluate on the seed document -----


def evaluate_seed():
    E, torch, _, _ = _libs()
    from bench.torch_ref import evaluate as torch_evaluate  # noqa: PLC0415 - the torch-backed reference

    def eng():
        r = E.evaluate(SEED_SPEC)
        return [np.float32(r["tensors"][k]["grad"]) for k in "abcde"]

    def tch():
        r = torch_evaluate(SEED_SPEC)
        return [np.float32(r["tensors"][k]["grad"]) for k in "abcde"]

    return (
        {"engine": eng, "torch": tch},
        "f = a*b + c*d**2/e as a JSON document -> response document; torch column: bench/torch_ref.py, the "
        "same document interpreted over torch (9 fields + repr + graph)",
    )


def evaluate_plan():
    """The seed's structure with fresh leaf values each call, through a plan cache (as the service runs
    it): the second call lowers the recorded program (engine.lower), and every later one runs it as one
    function over arrays. Each column walks the same 64 documents in the same order, so the gradient check
    compares like with like."""
    E, torch, _, _ = _libs()
    from bench.torch_ref import evaluate as torch_evaluate  # noqa: PLC0415 - the torch-backed reference

    rng = np.random.default_rng(0)
    docs = []
    for _ in range(64):
        d = copy.deepcopy(SEED_SPEC)
        for leaf in d["leaves"].values():
            leaf["data"] = round(float(rng.uniform(1, 10)), 3)
        docs.append(d)
    cache = E.PlanCache()
    E.evaluate(docs[0], cache=cache)
    E.evaluate(docs[1], cache=cache)  # the first replay lowers it
    eng_docs, tch_docs = itertools.cycle(docs), itertools.cycle(docs)

    def eng():
        r = E.evaluate(next(eng_docs), cache=cache)
        return [np.float32(r["tensors"][k]["grad"]) for k in "abcde"]

    def tch():
        r = torch_evaluate(next(tch_docs))
        return [np.float32(r["tensors"][k]["grad"]) for k in "abcde"]

    return (
        {"engine": eng, "torch": tch},
        "the seed's structure, new leaf values every call, engine.evaluate(spec, cache=PlanCache()): the "
        "recorded program runs, lowered to one function over arrays (the service's path); torch column as above",
    )


WORKLOADS = [  # (key, row label, builder, judged against the NumPy floor)
    ("scalar", "scalar chain, 200 ops", scalar_chain, False),
    ("mlp", "MLP 32×64→128→10", mlp, False),
    ("matmul", "5 × matmul 512² f32", matmul_chain, True),
    ("elementwise", "exp/sin chain, 4M f32", elementwise_chain, True),
    ("graph", "10,000-op graph", big_graph, False),
    ("evaluate", "engine.evaluate(seed)", evaluate_seed, False),
    ("plan", "evaluate(seed), plan cache", evaluate_plan, False),
]


def check(columns) -> str:
    """Engine gradients against torch's (float32 tolerances): a benchmark of wrong answers is worthless."""
    try:
        ref = [np.asarray(a, np.float64) for a in columns["torch"]()]
    except Exception as e:  # noqa: BLE001
        return f"torch failed: {type(e).__name__}"
    bad = []
    for name, fn in columns.items():
        if name == "torch":
            continue
        try:
            got = [np.asarray(a, np.float64) for a in fn()]
        except Exception as e:  # noqa: BLE001
            bad.append(f"{name}: {type(e).__name__}: {e}"[:120])
            continue
        if len(got) != len(ref) or not all(
            g.shape == r.shape and np.allclose(g, r, rtol=2e-3, atol=1e-4) for g, r in zip(got, ref)
        ):
            bad.append(f"{name} grads differ from torch")
    return "; ".join(bad)
