"""Expressions (engine/expression.py): each one's response against the same text run as PyTorch code in torch 2.13
(values, grads, grad_fn names, reprs, the backward graph's shape), against the equivalent ops program, and
hostile texts, each refused cleanly at ["body", "expression"] with its line and column."""
from __future__ import annotations

import ast
import math

import pytest
import torch
import torch.nn.functional as F

import engine
from app.examples import EXAMPLES
from engine.errors import EngineError, LimitExceeded, RequestError
from engine.expression import MAX_CHARS_PER_OP, MAX_TOKENS_PER_OP, MAX_WORDS_PER_OP, parse
from engine.program import Limits
from tests.torch_reference import DTYPES, resolve

V3 = [0.5, -1.25, 2.0]
W23 = [[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]]
# (expression, leaves {name: data}); every leaf float32 and requiring grad; backward of the last name when
# it is a float scalar that requires grad.
CASES = [
    ("a*b + c*d**2/e", dict(a=2.0, b=4.0, c=6.0, d=8.0, e=10.0)),
    ("g = a*b; h = c*d**2/e; f = g + h", dict(a=2.0, b=4.0, c=6.0, d=8.0, e=10.0)),
    ("(2 - x).sum()", dict(x=V3)),  # rsub: RsubBackward1
    ("(x - 2).sum()", dict(x=V3)),
    ("(2 + x).sum() + (x + 2).sum()", dict(x=V3)),
    ("(2 * x).prod()", dict(x=V3)),
    ("(x / 2).sum()", dict(x=V3)),
    ("(2 / x).sum()", dict(x=V3)),  # MulBackward0 over ReciprocalBackward0
    ("(x ** 2).sum()", dict(x=V3)),
    ("(2 ** x).sum()", dict(x=V3)),  # PowBackward2
    ("(x ** y).sum()", dict(x=[0.5, 1.25, 2.0], y=V3)),  # PowBackward1
    ("(-x).sum()", dict(x=V3)),
    ("(+x * x).sum()", dict(x=V3)),
    ("x @ y", dict(x=V3, y=V3)),  # DotBackward0
    ("(W @ x).sum()", dict(W=W23, x=V3)),  # MvBackward0
    ("(x % 1.5).sum()", dict(x=V3)),
    ("(x % y).sum()", dict(x=V3, y=[0.75, 0.5, 1.5])),
    ("2 % x", dict(x=V3)),  # torch has no derivative: NotImplemented
    ("x // 2", dict(x=V3)),  # floor_divide: NotImplemented
    ("2 // x", dict(x=V3)),
    ("m = x > y; n = 2 < x; o = x == y; p = x != 1.0; q = x <= y; r = x >= y", dict(x=V3, y=[0.5, 0.0, 3.0])),
    ("x.sum(0)", dict(x=W23)),
    ("x.T.sum()", dict(x=W23)),
    ("(x.mT @ x).sum()", dict(x=W23)),
    ("x.T @ x", dict(x=V3)),  # the deprecated x.T on 1-D: PyTorch's UserWarning
    ("x[0].sum() + x[1, 1:] .sum() + x[..., 0].sum() + x[:, None, ::2].sum()", dict(x=W23)),
    ("x[-1, -2:]", dict(x=W23)),
    ("x.reshape(3, 2).sum(1).sum()", dict(x=W23)),
    ("x.view(3, 2).permute(1, 0).sum()", dict(x=W23)),
    ("softmax(x, dim=0)[1]", dict(x=V3)),
    ("x.softmax(0)[1]", dict(x=V3)),
    ("F.log_softmax(x, dim=0)[0] + torch.exp(x).sum() + torch.nn.functional.relu(x).sum()", dict(x=V3)),
    ("torch.linalg.vector_norm(x)", dict(x=V3)),
    ("v, i = x.max(0); s = v.sum()", dict(x=W23)),
    ("u, w = x.split(2); (u * w).sum()", dict(x=[1.0, 2.0, 3.0, 4.0])),
    ("cat([x, x * 2], 0).sum()", dict(x=V3)),
    ("x.sum(dtype=torch.float64)", dict(x=V3)),
    ("(x + float('inf')).sum() + (x * math.pi).sum()", dict(x=V3)),
    ("(x.exp() * (1 - x.sigmoid())).mean()", dict(x=V3)),
    ("h = (W @ x + b).tanh()\nloss = (h ** 2).mean()", dict(W=W23, x=V3, b=[0.1, -0.2])),
    ("# a comment\ny = x * 2  # another\n\nz = y.sum()\n", dict(x=V3)),
    ("abs(x).sum()", dict(x=V3)),
    ("clamp(x, min=-1.0, max=1.5).sum()", dict(x=V3)),
    ("where(x > 0, x, x * 0.5).sum()", dict(x=V3)),
    ("pow(x, 3).sum() + x.pow(2).sum()", dict(x=V3)),
]


def _spec(text, leaves):
    return {"leaves": {n: {"data": d, "dtype": "float32", "requires_grad": True} for n, d in leaves.items()},
            "expression": text}


class _Namespace(dict):
    """Names for running an expression as PyTorch code: its leaves, torch, F, math, and the ops by their
    catalog names (softmax is torch.nn.functional.softmax, as the API says)."""

    def __missing__(self, name):
        if name in ("float", "True", "False", "None"):
            raise KeyError(name)
        return resolve(name)


def run_in_torch(text, leaves):
    """The expression as PyTorch runs it: statements in order, a last bare expression named `out`; the
    user's names and their tensors, in order of definition."""
    tree = ast.parse(text)
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        tree.body[-1] = ast.Assign(targets=[ast.Name("out", ast.Store())], value=tree.body[-1].value)
        ast.fix_missing_locations(tree)
    env = _Namespace(torch=torch, F=F, math=math)
    for n, d in leaves.items():
        env[n] = torch.tensor(d, dtype=DTYPES["float32"], requires_grad=True)
    names = list(leaves)
    for stmt in tree.body:
        names += [t.id for t in ast.walk(stmt.targets[0]) if isinstance(t, ast.Name)]
    exec(compile(tree, "<expression>", "exec"), {"__builtins__": __builtins__}, env)  # test-owned text
    return {n: env[n] for n in names}


def torch_shape(fn, seen=None):
    """A grad_fn's graph as nested (name, [(child, input_nr) | None]) in next_functions order; shared nodes
    as ("@", index of first appearance), so a DAG compares exactly."""
    seen = {} if seen is None else seen
    if fn in seen:
        return ("@", seen[fn])
    seen[fn] = len(seen)
    name = fn.name().replace("torch::autograd::", "")
    return (name, [None if f is None else (torch_shape(f, seen), nr) for f, nr in fn.next_functions])


def engine_shape(nodes, node_id, seen=None):
    seen = {} if seen is None else seen
    if node_id in seen:
        return ("@", seen[node_id])
    seen[node_id] = len(seen)
    node = nodes[node_id]
    return (node["name"], [None if nf is None else (engine_shape(nodes, nf[0], seen), nf[1])
                           for nf in node["next_functions"]])


def _scalar_grad_root(t):
    return t.dtype.is_floating_point and t.requires_grad and t.dim() == 0


@pytest.mark.parametrize("text, leaves", CASES, ids=[c[0][:40] for c in CASES])
def test_expression_matches_torch(text, leaves):
    ref = run_in_torch(text, leaves)
    last = list(ref)[-1]
    spec = _spec(text, leaves)
    if _scalar_grad_root(ref[last]):
        spec["backward"] = [{"tensor": last}]
        ref[last].backward()
    got = engine.evaluate(spec)
    nodes = {n["id"]: n for n in got["graph"]}
    owner = {n["tensor"]: n["id"] for n in got["graph"] if n["tensor"] is not None}
    for name, t in ref.items():
        doc = got["tensors"][name]
        assert doc["repr"] == repr(t), name
        assert doc["grad_fn"] == (t.grad_fn.name().replace("torch::autograd::", "") if t.grad_fn else None), name
        if t.grad is not None:
            assert torch.allclose(torch.tensor(doc["grad"]), t.grad, rtol=1e-5, atol=1e-6), name
        else:
            assert doc["grad"] is None, name
        if t.grad_fn is not None and name in owner:  # (a node of several outputs is named by its first)
            assert engine_shape(nodes, owner[name]) == torch_shape(t.grad_fn), name
    # the one case that warns: x.T of a 1-D tensor (torch warns once per process; the engine once per request)
    assert [w["message"][:16] for w in got["warnings"]] == (["The use of `x.T`"] if text == "x.T @ x" else [])


@pytest.mark.parametrize("text, leaves", CASES[:12], ids=[c[0][:40] for c in CASES[:12]])
def test_expression_means_the_ops_it_parses_into(text, leaves):
    spec = _spec(text, leaves)
    as_ops = {k: v for k, v in spec.items() if k != "expression"} | {"ops": parse(text, list(leaves))}
    assert engine.evaluate(spec) == engine.evaluate(as_ops)
    cache = engine.PlanCache()  # the plan cache's replays (the same document three times) answer the same
    answers = [engine.evaluate(spec, cache=cache) for _ in range(3)]
    assert all(a == answers[0] for a in answers) and answers[0] == engine.evaluate(as_ops)


def test_seed_expression_is_the_seed_example():
    """The API's seed example, written as an expression with its names, answers byte for byte the same."""
    example = EXAMPLES["leaf_grads"]["value"]
    text = "; ".join(f"{op['name']} = {_as_python(op)}" for op in example["ops"])
    assert text == "ab = a * b; d2 = d ** 2; cd2 = c * d2; q = cd2 / e; f = ab + q"
    spec = {k: v for k, v in example.items() if k != "ops"} | {"expression": text}
    assert engine.evaluate(spec) == engine.evaluate(example)


def _as_python(op):
    symbol = {"mul": "*", "pow": "**", "div": "/", "add": "+"}[op["op"]]
    return f" {symbol} ".join(str(a) for a in op["args"])


def test_generated_names_avoid_user_names():
    leaves = {"_1": 1.0, "_2": 2.0, "_4": 3.0}
    ops = parse("_3 = _1 * _2 + _4 * _1 * _2", list(leaves))
    names = [op["name"] for op in ops]
    assert len(set(names)) == len(names) and not set(names[:-1]) & {"_1", "_2", "_3", "_4"}
    got = engine.evaluate(_spec("_3 = _1 * _2 + _4 * _1 * _2", leaves))
    assert got["tensors"]["_3"]["data"] == pytest.approx(1.0 * 2.0 + 3.0 * 1.0 * 2.0)


# ----- refused -----


def refused(text, leaves=("a", "b", "x"), cls=RequestError, max_ops=10_000) -> str:
    with pytest.raises(EngineError) as info:
        engine.evaluate({"leaves": {n: {"data": 1.0, "requires_grad": True} for n in leaves}, "expression": text},
                        limits=Limits(max_ops=max_ops))
    e = info.value
    assert isinstance(e, cls), (type(e), e.msg)
    assert e.loc == ["body", "expression"]
    return e.msg


@pytest.mark.parametrize("text, line, col, words", [
    ("foo + 1", 1, 1, "unknown name 'foo'"),
    ("a + 1\nb * zz", 2, 5, "unknown name 'zz'"),
    ("y = a * 2\nz = ñ + 1", 2, 5, "unknown name 'ñ'"),  # columns count characters, not UTF-8 bytes
    ("__import__('os').system('echo hacked')", 1, 1, "dunder"),
    ("a.__class__", 1, 1, "dunder"),
    ("().__class__.__bases__[0].__subclasses__()", 1, 1, "dunder"),
    ("eval('1')", 1, 1, "unknown op 'eval'"),
    ("exec('import os')", 1, 1, "unknown op 'exec'"),
    ("open('/etc/passwd')", 1, 1, "unknown op 'open'"),
    ("import os", 1, 1, "import"),
    ("lambda: a", 1, 1, "lambda"),
    ("[v for v in a]", 1, 1, "comprehension"),
    ("{v: 1 for v in a}", 1, 1, "comprehension"),
    ("(v for v in a)", 1, 1, "generator"),
    ("f'{a}'", 1, 1, "f-string"),
    ("cat([*a], 0)", 1, 6, "starred"),
    ("a.sum(**b)", 1, 9, "**kwargs"),
    ("(y := a * 2)", 1, 2, "assignment expression"),
    ("a if b else x", 1, 1, "conditional"),
    ("a and b", 1, 1, "and"),
    ("not a", 1, 1, "not"),
    ("a < b < x", 1, 1, "chained comparison"),
    ("a in b", 1, 1, "is`/`in"),
    ("a.shape", 1, 1, "attribute 'shape' is not an op"),
    ("a.item()", 1, 1, "not a Tensor method"),
    ("a << 2", 1, 1, "operator <<"),
    ("10**10**10", 1, 5, "not folded"),
    ("a * (2 * 3)", 1, 6, "not folded"),
    ("y = a\n", 1, 5, "`y = ...` is the tensor 'a' itself, not the result of an op"),
    ("a", 1, 1, "the last line (a bare expression, named 'out') is the tensor 'a' itself"),
    ("a = b * 2", 1, 1, "already defined"),
    ("y = a * 2; y = y + 1", 1, 12, "already defined"),
    ("out = a * 2; out + 1", 1, 14, "'out' is already a name"),
    ("mul(a, 'b')", 1, 1, "string where a tensor goes"),
    ("a[[0, 1]]", 1, 3, "list index"),
    ("a[b:2]", 1, 3, "slice bounds"),
    ("a + 2j", 1, 5, "complex"),
    ("a + b'x'", 1, 5, "bytes"),
    ("a(1)", 1, 1, "is a tensor, not an op"),
    ("exp", 1, 1, "is an op: call it"),
    ("y = z * 2; z = a * 2", 1, 5, "used before it is assigned"),
    ("a = b = x * 2", 1, 1, "chained assignment"),
    ("a +* 2", 1, 4, "invalid syntax"),
    ("1" * 5000 + " * a", 1, 1, "invalid syntax"),  # Python's own limit on integer literals (4300 digits)
    ("a\x00", 1, 1, "invalid syntax"),
    ("def f(): pass", 1, 1, "statements are not part"),
    ("for v in a: pass", 1, 1, "statements are not part"),
    ("a.T = b", 1, 1, "assign to a name"),
    ("# only a comment", 1, 1, "no statements"),
    (" \n ", 1, 1, "empty"),
])
def test_refused_with_line_and_column(text, line, col, words):
    msg = refused(text)
    assert msg.startswith(f"line {line}, column {col}: "), msg
    assert words in msg, msg


def test_nothing_is_ever_run(tmp_path):
    marker = tmp_path / "ran"
    for text in (f"__import__('os').system('touch {marker}')", f"open('{marker}', 'w')",
                 f"exec(\"open('{marker}', 'w')\")", f"torch.save(a, '{marker}')"):
        refused(text)
    assert not marker.exists()


@pytest.mark.parametrize("text", [
    "(" * 100_000 + "a" + ")" * 100_000,  # Python's parser: too many nested parentheses
    "+".join(["a"] * 5_000),  # an operator chain past the parser's depth: RecursionError inside it
    "-" * 100_000 + "a",  # unary chain: MemoryError inside the parser
    "a" + ".exp()" * 20_000,  # method chain
    "[" * 1000 + "]" * 1000,
])
def test_hostile_nesting_is_a_clean_error(text):
    # max_ops large enough that the symbol count lets these reach Python's parser (at 10,000 most are 413 first)
    msg = refused(text, max_ops=100_000)
    assert msg.startswith("line 1, column "), msg


def test_deep_but_allowed_chains_parse_without_recursion():
    """Python's parser takes ~3,000 levels; the walk over them is iterative (the interpreter's recursion
    limit is 1,000), so a long chain works."""
    text = " + ".join(["a"] * 2500)
    ops = parse(text, ["a"])
    assert len(ops) == 2499 and ops[-1]["name"] == "out"
    got = engine.evaluate({"leaves": {"a": {"data": 1.0}}, "expression": text})
    assert got["tensors"]["out"]["data"] == 2500.0


def test_long_text_and_op_count_are_limited():
    msg = refused("a" * (MAX_CHARS_PER_OP * 100 + 1), cls=LimitExceeded, max_ops=100)
    assert f"over the limit of {MAX_CHARS_PER_OP * 100}" in msg and "max_ops=100" in msg
    msg = refused("; ".join(f"t{i} = a * 2" for i in range(101)), cls=LimitExceeded, max_ops=100)
    assert "more than 100 ops" in msg
    msg = refused("a;" * 401, cls=LimitExceeded, max_ops=100)  # no ops, but a syntax tree of 401 statements
    assert f"401 names and numbers, over the limit of {MAX_WORDS_PER_OP * 100}" in msg


@pytest.mark.parametrize("text", [
    "y = a[" + ":," * 600 + "]",  # slices: one node a `:,`, no name or number in them
    "y = [" + "[]," * 400 + "]",  # empty lists
    "y = (" + "()," * 400 + ")",
])
def test_symbols_that_make_syntax_nodes_are_limited(text):
    """redteam16 F10: 300 KB of `:,` or `[],` (under the character limit) built a 170-260 MiB syntax tree, which
    the count of names and numbers did not see."""
    msg = refused(text, cls=LimitExceeded, max_ops=100)
    assert f"names, numbers and symbols, over the limit of {MAX_TOKENS_PER_OP * 100}" in msg, msg


def test_symbol_limit_leaves_room_for_ordinary_expressions():
    """Calls through a namespace are the densest ordinary form: 9 names and symbols an op (`y0=torch.sin(x);`)."""
    text = ";".join(f"y{i} = torch.sin(x)" for i in range(100))
    assert len(parse(text, ["x"], max_ops=100)) == 100


def test_ops_and_expression_together_are_refused():
    with pytest.raises(RequestError) as info:
        engine.evaluate({"leaves": {"a": {"data": 1.0}}, "expression": "a * 2", "ops": []})
    assert info.value.loc == ["body", "expression"] and "not both" in info.value.msg
    with pytest.raises(RequestError) as info:
        engine.evaluate({"leaves": {"a": {"data": 1.0}}, "expression": 42})
    assert info.value.loc == ["body", "expression"] and info.value.type == "string_type"
    as_ops = {"leaves": {"a": {"data": 1.0}}, "ops": [{"name": "b", "op": "mul", "args": ["a", 2]}]}
    assert engine.evaluate({**as_ops, "expression": None}) == engine.evaluate(as_ops)  # null: no expression


def test_runtime_errors_are_located_at_the_op_in_evaluation_order():
    """An error PyTorch raises while the program runs is PyTorch's, at the op it parses into (ops are made in
    Python's evaluation order), exactly as for the equivalent ops program."""
    text = "y = a * 2\nz = y + b"
    leaves = {"a": {"data": [1.0, 2.0, 3.0]}, "b": {"data": [1.0, 2.0]}}
    with pytest.raises(EngineError) as info:
        engine.evaluate({"leaves": leaves, "expression": text})
    with pytest.raises(EngineError) as as_ops:
        engine.evaluate({"leaves": leaves, "ops": parse(text, list(leaves))})
    assert info.value.to_dict() == as_ops.value.to_dict()
    with pytest.raises(RuntimeError) as ref:
        torch.tensor([1.0, 2.0, 3.0]) * 2 + torch.tensor([1.0, 2.0])
    assert info.value.type == "RuntimeError" and info.value.msg == str(ref.value)
    assert info.value.loc == ["body", "ops", 1]
