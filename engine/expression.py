"""Expressions (API.md v1.1): Python-syntax statements parsed by `ast` into a request's `ops`, never run as code.

`g = a*b; h = c*d**2/e; f = g + h` or `a*b + c*d**2/e` (a last bare expression is named `out`) means exactly
the ops it parses into, in Python's evaluation order, with the ops PyTorch's operators record: `2 - x` is
rsub (RsubBackward1), `2 / x` is mul over reciprocal, `2 ** x` is pow (PowBackward2), `x // y`
floor_divide, `2 < x` is gt(x, 2). Intermediate results get generated names (`_1`, `_2`, ...) that no user
name takes. Constants are never folded (`10**10**10` is refused, not computed). Anything else (unknown
names, attributes that are not ops, lambdas, comprehensions, dunder names, ...) is a RequestError at
["body", "expression"] whose message starts with the line and column.

The walk over the syntax tree is iterative (an explicit stack): Python's parser accepts operator chains
~3,000 deep, past the interpreter's recursion limit, and everything it refuses (nesting past its limits,
RecursionError, MemoryError) is a clean error too. Work is linear in the text, which is bounded by
MAX_CHARS_PER_OP characters, MAX_WORDS_PER_OP names and numbers and MAX_TOKENS_PER_OP names, numbers and
symbols (the syntax tree's size: ~0.6-1.8 KiB a node, so at most ~90 MiB at max_ops=10,000) per allowed op,
and the ops it makes by max_ops.

The tables of what each piece of syntax maps to, and the readers of literal nodes, are
engine/expression_syntax.py.
"""
from __future__ import annotations

import ast
import functools
import inspect
import math
import re

from engine.catalog import FUNCTIONAL, METHODS, OPS
from engine.errors import LimitExceeded, RequestError
from engine.expression_syntax import (
    _BINARY,
    _COMPARE,
    _DTYPES,
    _FLOAT_WORDS,
    _FUNCTIONAL_PREFIXES,
    _INPLACE,
    _KINDS,
    _MATH,
    _MIRROR,
    _NAMESPACES,
    _REFLECTED,
    _SPECIAL_STRINGS,
    _SYMBOL,
    NAMELESS,
    PROPERTIES,
    _dotted,
    _index_literal,
    _int_literal,
    _Lit,
    _Ref,
    _wire,
)

LOC = ["body", "expression"]
OUT = "out"  # the name of a last bare expression
MAX_CHARS_PER_OP = 32
MAX_WORDS_PER_OP = 4
MAX_TOKENS_PER_OP = 10  # `y0 = torch.sin(x);` is 9
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9]+")
_SYMBOL_CHAR = re.compile(r"[^\sA-Za-z_0-9'\"]")  # a character that may make a syntax node of its own


def expand(spec: dict, max_ops: int) -> dict:
    """The request with its `expression` replaced by the `ops` it means (a new dict; `spec` is not changed).
    `"expression": null` is no expression, as null is the default of every other optional field."""
    text = spec["expression"]
    if text is None:
        return {k: v for k, v in spec.items() if k != "expression"}
    if "ops" in spec:
        raise RequestError("give either `ops` or `expression`, not both", LOC)
    if not isinstance(text, str):
        raise RequestError("Input should be a valid string", LOC, "string_type")
    leaves = spec.get("leaves")
    names = [n for n in leaves if isinstance(n, str)] if isinstance(leaves, dict) else []
    out = {k: v for k, v in spec.items() if k != "expression"}
    out["ops"] = parse(text, names, max_ops)
    return out


def parse(text: str, leaves=(), max_ops: int = 10_000) -> list[dict]:
    """The `ops` list that `text` means, given the request's leaf names."""
    limit = MAX_CHARS_PER_OP * max_ops
    if len(text) > limit:
        raise LimitExceeded(f"the expression has {len(text)} characters, over the limit of {limit} "
                            f"({MAX_CHARS_PER_OP} per op of max_ops={max_ops})", LOC)
    # Python's syntax tree takes ~1.7 KiB a name or number ("a;" * 160,000 built 275 MiB in 1.8 s): bounded
    # before it is built, by a count of them (words in strings and comments too, which only errs on the safe side)
    words = sum(1 for _ in _WORD.finditer(text))
    if words > MAX_WORDS_PER_OP * max_ops:
        raise LimitExceeded(f"the expression has {words} names and numbers, over the limit of "
                            f"{MAX_WORDS_PER_OP * max_ops} ({MAX_WORDS_PER_OP} per op of max_ops={max_ops})", LOC)
    # ... and so does a symbol that makes a node with no name or number in it (`a[:,:,...]` a slice a `:,`,
    # `[[],[],...]` a list a `[],`: 0.6-0.9 KiB a symbol, so 300 KB of them built 170-260 MiB, redteam16 F10)
    tokens = words + _SYMBOL_CHAR.subn("", text)[1]  # (a count without a match object each: review17 R7)
    if tokens > MAX_TOKENS_PER_OP * max_ops:
        raise LimitExceeded(f"the expression has {tokens} names, numbers and symbols, over the limit of "
                            f"{MAX_TOKENS_PER_OP * max_ops} ({MAX_TOKENS_PER_OP} per op of max_ops={max_ops})", LOC)
    if not text.strip():
        raise RequestError("line 1, column 1: the expression is empty", LOC)
    return _Parser(text, leaves, max_ops).run()


def _syntax_tree(text: str) -> ast.Module:
    try:
        return ast.parse(text, "<expression>", "exec")
    except SyntaxError as e:
        what = e.msg if e.msg.startswith("invalid syntax") else f"invalid syntax: {e.msg}"
        raise RequestError(f"line {e.lineno or 1}, column {e.offset or 1}: {what}", LOC, "syntax_error") from None
    except (RecursionError, MemoryError):  # Python's parser stops at ~3,000 levels (chains count too)
        lines = text.splitlines() or [text]
        line = max(range(len(lines)), key=lambda i: len(lines[i])) + 1
        raise RequestError(f"line {line}, column 1: the expression nests too deeply for Python's parser "
                           "(an operator chain or nesting thousands deep); split it into statements",
                           LOC, "syntax_error") from None
    except ValueError as e:  # a NUL character
        raise RequestError(f"line 1, column 1: invalid syntax: {e}", LOC, "syntax_error") from None


@functools.cache
def _params(fn) -> tuple:
    """(positional [(name, takes_tensor, is_int_list)], *args takes tensors, {keyword: takes_tensor})."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), False, {}
    positional, keywords, var_tensor = [], {}, False
    for p in sig.parameters.values():
        ann = p.annotation if isinstance(p.annotation, str) else ""
        tensor = "Tensor" in ann
        if p.kind is p.VAR_POSITIONAL:
            var_tensor = tensor
        elif p.kind is not p.VAR_KEYWORD:
            keywords[p.name] = tensor
            if p.kind is not p.KEYWORD_ONLY:
                positional.append((p.name, tensor, ann == "list[int]"))
    return tuple(positional), var_tensor, keywords


class _Parser:
    def __init__(self, text: str, leaves, max_ops: int):
        self.text = text
        self.lines = text.splitlines()
        self.max_ops = max_ops
        self.defined = {n for n in leaves}  # names a statement may refer to, so far
        self.taken = set(self.defined)  # every user name in the text: generated names avoid them
        self.ops: list[dict] = []
        self.counter = 0

    # ----- errors and names -----

    def fail(self, node, what: str, type: str = "value_error"):
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text.encode("utf-8")[:col].decode("utf-8", "replace")) + 1  # ast counts UTF-8 bytes
        raise RequestError(f"line {line}, column {col}: {what}", LOC, type)

    def fresh(self) -> str:
        while True:
            self.counter += 1
            name = f"_{self.counter}"
            if name not in self.taken:
                return name

    def emit(self, node, op: str, args: list, kwargs: dict | None = None, name=None) -> _Ref | None:
        if len(self.ops) >= self.max_ops:
            raise LimitExceeded(f"the expression makes more than {self.max_ops} ops, over the limit max_ops="
                                f"{self.max_ops}", LOC)
        if op not in OPS:
            self.fail(node, f"{op!r} is not an op of this server (GET /v1/ops lists them)")
        self._check_strings(node, op, args, kwargs or {})
        entry: dict = {} if name is False else {"name": name if name is not None else self.fresh()}
        entry.update(op=op, args=[_wire(a) for a in args])
        if kwargs:
            entry["kwargs"] = {k: _wire(v) for k, v in kwargs.items()}
        self.ops.append(entry)
        return None if name is False or isinstance(name, list) else _Ref(entry["name"])

    def _check_strings(self, node, op, args, kwargs):
        """A quoted string where the op takes a tensor would be read as a tensor's name on the wire."""
        positional, var_tensor, keywords = _params(OPS[op])
        for i, a in enumerate(args):
            tensor = positional[i][1] if i < len(positional) else var_tensor
            if tensor and isinstance(a, _Lit) and isinstance(a.value, str) and a.value not in _SPECIAL_STRINGS:
                self.fail(node, f"argument {i + 1} of {op} is a string where a tensor goes "
                                f"(write a tensor's name without quotes)")
        for k, v in kwargs.items():
            if keywords.get(k) and isinstance(v, _Lit) and isinstance(v.value, str):
                self.fail(node, f"argument {k}= of {op} is a string where a tensor goes")

    # ----- statements -----

    def run(self) -> list[dict]:
        tree = _syntax_tree(self.text)
        if not tree.body:
            raise RequestError("line 1, column 1: the expression has no statements", LOC)
        for stmt in tree.body:
            for t in stmt.targets if isinstance(stmt, ast.Assign) else ():
                self.taken.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        last = len(tree.body) - 1
        for i, stmt in enumerate(tree.body):
            if isinstance(stmt, ast.Assign):
                self.assign(stmt)
            elif isinstance(stmt, ast.AugAssign):
                self.aug_assign(stmt)
            elif isinstance(stmt, ast.Expr):
                self.bare(stmt.value, i == last)
            else:
                self.fail(stmt, f"{type(stmt).__name__.lower()} statements are not part of an expression "
                                "program: write `name = expression` lines")
        return self.ops

    def _new_name(self, node) -> str:
        if not isinstance(node, ast.Name):
            self.fail(node, "assign to a name (`y = ...`), to names (`a, b = ...`) or to an item (`x[i] = ...`)")
        self._check_identifier(node, node.id)
        if node.id in self.defined:
            self.fail(node, f"{node.id!r} is already defined: names are unique across leaves and ops (a "
                            "program is not rerun with new values; pick a new name)")
        return node.id

    def assign(self, stmt: ast.Assign):
        if len(stmt.targets) != 1:
            self.fail(stmt, "chained assignment (`a = b = ...`): one name per statement")
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):  # x[i] = v: setitem (v1.1)
            if "setitem" not in OPS:
                self.fail(target, "item assignment (`x[i] = v`) needs the setitem op, which this server does "
                                  "not have")
            self.call_op(stmt, "setitem", [target.value, target.slice, stmt.value], [], name=False,
                         index_at=1)
            return
        if isinstance(target, ast.Tuple | ast.List):  # a, b = x.max(0): an op with several results
            names = [self._new_name(t) for t in target.elts]
            if len(set(names)) != len(names):
                self.fail(target, "a name appears twice on the left")
            if not isinstance(stmt.value, ast.Call):
                self.fail(stmt.value, "several names take the results of one op call (`a, b = x.max(0)`)")
            self.value(stmt.value, name=names)
            self.defined.update(names)
            return
        name = self._new_name(target)
        self.value(stmt.value, name=name)
        self.defined.add(name)

    def aug_assign(self, stmt: ast.AugAssign):
        op = _INPLACE.get(type(stmt.op))
        target = stmt.target
        if not isinstance(target, ast.Name) or target.id not in self.defined:
            self.fail(target, "an in-place operator (`x += y`) needs a defined tensor name on the left")
        if op is None or op not in OPS:
            self.fail(stmt, f"in-place `{_SYMBOL.get(type(stmt.op), '?')}=` needs the op {op or 'for it'}, "
                            "which this server does not have")
        self.call_op(stmt, op, [target, stmt.value], [])

    def bare(self, node, last: bool):
        if isinstance(node, ast.Call):
            func = node.func
            op = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if op in NAMELESS:
                self.value(node, name=False)
                return
        if last:
            if OUT in self.taken:
                self.fail(node, f"the last line is a bare expression, which is named {OUT!r}, but {OUT!r} is "
                                "already a name")
            self.taken.add(OUT)
            self.value(node, name=OUT, label=f"the last line (a bare expression, named {OUT!r})")
            self.defined.add(OUT)
        else:
            self.value(node)

    # ----- expressions -----

    def value(self, root, name=None, label=None):
        """Walk `root` (post-order, iteratively), emitting an op per tensor-valued node; the root's op takes
        `name` (a str, a list of names, or False for none). Returns the root's operand."""
        done: dict = {}
        stack = [(root, None)]
        while stack:
            node, kids = stack.pop()
            if kids is None:
                kids = self.children(node)
                stack.append((node, kids))
                stack.extend((k, None) for k in reversed(kids))
                continue
            vals = [done.pop(k) for k in kids]
            done[node] = self.build(node, vals, name if node is root else None)
        out = done[root]
        if isinstance(name, str) and out != name or isinstance(name, list) and out is not None:
            what = "a constant" if isinstance(out, _Lit) else f"the tensor {str(out)!r} itself"
            label = label or f"`{name if isinstance(name, str) else ', '.join(name)} = ...`"
            self.fail(root, f"{label} is {what}, not the result of an op (a name is a new tensor: write an op, "
                            "e.g. x.clone(), or use the name itself)")
        return out

    def children(self, node) -> list:
        """The nodes whose operands `node` needs, in Python's evaluation order; refuses what is not allowed."""
        if isinstance(node, ast.BinOp):
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.fail(node, "`not` asks a tensor for one truth value; use logical_not(x)")
            return [node.operand]
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                self.fail(node, "chained comparison (`a < b < c` asks a tensor for one truth value); compare "
                                "two at a time")
            if type(node.ops[0]) not in _COMPARE:
                self.fail(node, "`is`/`in` are not tensor ops; compare with == or !=")
            return [node.left, node.comparators[0]]
        if isinstance(node, ast.Call):  # the callee is checked at build time, after its receiver (source order)
            receiver = self._receiver(node.func)
            for a in node.args:
                if isinstance(a, ast.Starred):
                    self.fail(a, "starred arguments (*args) are not supported: write the arguments out")
            for k in node.keywords:
                if k.arg is None:
                    self.fail(k.value, "**kwargs are not supported: write the keyword arguments out")
            return ([receiver] if receiver is not None else []) + list(node.args) + [k.value for k in node.keywords]
        if isinstance(node, ast.Attribute):
            if self._constant_attribute(node) is not None:
                return []
            self._check_identifier(node, node.attr)
            if node.attr not in PROPERTIES or node.attr not in OPS:
                self.fail(node, f"attribute {node.attr!r} is not an op (the properties that are: "
                                f"{', '.join(p for p in PROPERTIES if p in OPS)}; methods are called: x.sum())")
            return [node.value]
        if isinstance(node, ast.Subscript):
            return [node.value, *self._index_parts(node.slice)]
        if isinstance(node, ast.List | ast.Tuple):
            return list(node.elts)
        if isinstance(node, ast.Name):
            return []
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or v is None or isinstance(v, int | float | str):
                return []
            what = {bytes: "a bytes literal", complex: "a complex number"}.get(type(v), repr(v))
            self.fail(node, f"{what} is not supported here")
        self.fail(node, f"{_KINDS.get(type(node), type(node).__name__)} is not part of an expression program")
        return []

    def build(self, node, vals: list, name):
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, float) and not math.isfinite(v):
                return _Lit("Infinity" if v > 0 else "-Infinity")
            return _Lit(v)
        if isinstance(node, ast.List | ast.Tuple):
            return _Lit([_wire(v) for v in vals])
        if isinstance(node, ast.Attribute):
            const = self._constant_attribute(node)
            if const is not None:
                return _Lit(const)
            return self.emit(node, node.attr, [self._tensor(node.value, vals[0])], {}, name)
        if isinstance(node, ast.BinOp):
            return self._binary(node, vals[0], vals[1], name)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, vals[0], name)
        if isinstance(node, ast.Compare):
            left, right = vals
            op = _COMPARE[type(node.ops[0])]
            if isinstance(left, _Lit) and isinstance(right, _Lit):
                self.fail(node, "a comparison of two constants is not a tensor op")
            if isinstance(left, _Lit):  # 2 < x runs x > 2
                return self.emit(node, _MIRROR[op], [right, left], {}, name)
            return self.emit(node, op, [left, right], {}, name)
        if isinstance(node, ast.Subscript):
            index = self._index(node.slice, iter(vals[1:]))
            return self.emit(node, "getitem", [self._tensor(node.value, vals[0]), _Lit(index)], {}, name)
        if isinstance(node, ast.Call):
            return self._call(node, vals, name)
        self.fail(node, "not supported")  # children() refused it first

    def _name(self, node: ast.Name):
        n = node.id
        self._check_identifier(node, n)
        if n in self.defined:
            return _Ref(n)
        if n in OPS:
            self.fail(node, f"{n!r} is an op: call it, {n}(...)")
        if n in self.taken:
            self.fail(node, f"name {n!r} is used before it is assigned")
        self.fail(node, f"unknown name {n!r}: not a leaf, nor a name assigned above")

    def _check_identifier(self, node, name: str):
        if name.startswith("__") or name.endswith("__"):
            self.fail(node, f"dunder names ({name!r}) are not allowed")

    def _tensor(self, node, operand) -> _Ref:
        if not isinstance(operand, _Ref):
            self.fail(node, "a tensor is needed here, not a constant")
        return operand

    def _binary(self, node, left, right, name):
        kind = type(node.op)
        if kind not in _BINARY:
            self.fail(node, f"operator {_SYMBOL.get(kind, '?')} is not supported")
        if isinstance(left, _Lit) and isinstance(right, _Lit):
            self.fail(node, f"`{_SYMBOL[kind]}` of two constants: constants are not folded (write the value)")
        if isinstance(left, _Ref):
            return self.emit(node, _BINARY[kind], [left, right], None, name)
        if kind is ast.Div:  # torch's `2 / x` is x.reciprocal() * 2: MulBackward0 over ReciprocalBackward0
            r = self.emit(node, "reciprocal", [right])
            return self.emit(node, "mul", [r, left], None, name)
        op, swap = _REFLECTED[kind]
        return self.emit(node, op, [right, left] if swap else [left, right], None, name)

    def _unary(self, node, operand, name):
        if isinstance(operand, _Lit):
            v = operand.value
            if isinstance(node.op, ast.USub | ast.UAdd) and type(v) in (int, float):
                return _Lit(-v if isinstance(node.op, ast.USub) else v)
            if isinstance(node.op, ast.USub) and v in ("Infinity", "-Infinity"):
                return _Lit("-Infinity" if v == "Infinity" else "Infinity")
            self.fail(node, "a unary operator on a constant that is not a number")
        if isinstance(node.op, ast.UAdd):
            return operand  # +x is x itself
        return self.emit(node, "neg" if isinstance(node.op, ast.USub) else "bitwise_not", [operand], None, name)

    # ----- calls -----

    def _receiver(self, func):
        """The tensor a method is called on (x in x.sum()), or None for a function (sum, torch.sum, F.relu)."""
        if not isinstance(func, ast.Attribute):
            return None
        dotted = _dotted(func)
        root = dotted.split(".", 1)[0] if dotted else None
        return None if dotted is not None and root not in self.defined and root in _NAMESPACES else func.value

    def _callee(self, node: ast.Call):
        """(op name, receiver node or None) of a call; refuses calls of anything but catalog ops."""
        func = node.func
        if isinstance(func, ast.Name):
            self._check_identifier(func, func.id)
            if func.id == "float":
                return "float", None
            if func.id in self.defined:
                self.fail(func, f"{func.id!r} is a tensor, not an op")
            if func.id not in OPS:
                self.fail(func, f"unknown op {func.id!r} (GET /v1/ops lists them)")
            return func.id, None
        if isinstance(func, ast.Attribute):
            self._check_identifier(func, func.attr)
            if self._receiver(func) is None:
                return self._namespaced(func, _dotted(func)), None
            if func.attr not in METHODS and func.attr not in NAMELESS:
                hint = f"; call {func.attr}(x)" if func.attr in OPS else ""
                self.fail(func, f"{func.attr!r} is not a Tensor method of this server{hint}")
            return func.attr, func.value
        self.fail(func, "only ops are called: name(...), torch.name(...), F.name(...) or x.method(...)")

    def _namespaced(self, func, dotted: str) -> str:
        for prefix in _FUNCTIONAL_PREFIXES:
            if dotted.startswith(prefix):
                op = dotted[len(prefix):]
                if op in FUNCTIONAL or op in OPS:
                    return op
                self.fail(func, f"unknown op {dotted!r} (GET /v1/ops lists them)")
        op = dotted[len("torch."):] if dotted.startswith("torch.") else None
        if op is None or op not in OPS:
            self.fail(func, f"unknown op {dotted!r} (GET /v1/ops lists them)")
        return op

    def _call(self, node: ast.Call, vals, name):
        op, receiver = self._callee(node)
        if op == "float":
            return self._float_literal(node)
        if receiver is not None:
            self._tensor(receiver, vals[0])
        nargs = len(node.args) + (receiver is not None)
        args, kw = vals[:nargs], vals[nargs:]
        kwargs = {k.arg: v for k, v in zip(node.keywords, kw)}
        if receiver is not None:
            args, kwargs = self._as_method(op, args, kwargs)
        return self.emit(node, op, args, kwargs, name)

    def call_op(self, node, op, arg_nodes, kw_nodes, name=None, index_at=None):
        """An op whose arguments are syntax nodes (statements: x[i] = v, x += y); an index argument is read
        as an index."""
        vals = []
        for i, a in enumerate(arg_nodes):
            if i == index_at:
                parts = self._index_parts(a)
                got = [self.value(p) for p in parts]
                vals.append(_Lit(self._index(a, iter(got))))
            else:
                vals.append(self.value(a))
        return self.emit(node, op, vals, {}, name)

    def _as_method(self, op, args, kwargs):
        """x.op(...) as the catalog's op(x, ...): x.reshape(2, 3) packs its sizes (torch's varargs for a
        lone int-list parameter); where the method's signature differs from the op's (x.softmax(0)), its
        positional arguments bind by the method's parameter names."""
        positional, _, _ = _params(OPS[op])
        if len(positional) == 2 and positional[1][2] and len(args) > 2:
            return [args[0], _Lit([_wire(a) for a in args[1:]])], kwargs
        method = METHODS.get(op)
        if method is not None and method is not OPS[op] and len(args) > 1:
            m_positional = _params(method)[0]
            op_names = {p[0] for p in positional}
            names = [p[0] for p in m_positional[1:len(args)]]
            if len(names) == len(args) - 1 and all(n in op_names for n in names):
                return args[:1], {**dict(zip(names, args[1:])), **kwargs}
        return args, kwargs

    def _float_literal(self, node: ast.Call):
        a = node.args
        if len(a) == 1 and not node.keywords and isinstance(a[0], ast.Constant) and isinstance(a[0].value, str):
            word = a[0].value.strip().lower()
            if word in _FLOAT_WORDS:
                return _Lit(_FLOAT_WORDS[word])
        self.fail(node, "float(...) is supported only as float('inf'), float('-inf') or float('nan')")

    def _constant_attribute(self, node: ast.Attribute):
        """torch.float64 -> "float64", math.pi -> 3.14159...; None where `node` is not one of those."""
        if isinstance(node.value, ast.Name) and node.value.id not in self.defined:
            if node.value.id == "torch" and node.attr in _DTYPES:
                return _DTYPES[node.attr]
            if node.value.id == "math" and node.attr in _MATH:
                return _MATH[node.attr]
        return None

    # ----- indexing -----

    def _index_parts(self, index) -> list:
        """The tensor-valued parts of an index (its other parts are literals, read by _index)."""
        items = index.elts if isinstance(index, ast.Tuple) else [index]
        parts = []
        for item in items:
            if isinstance(item, ast.Slice):
                for b in (item.lower, item.upper, item.step):
                    if b is not None and _int_literal(b) is None:
                        self.fail(b, "slice bounds are integer constants")
            elif isinstance(item, ast.List):
                self.fail(item, "a list index (x[[0, 2]]) is not supported: index with an integer tensor leaf")
            elif not _index_literal(item):
                parts.append(item)
        return parts

    def _index(self, index, tensors):
        items = index.elts if isinstance(index, ast.Tuple) else [index]
        out = []
        for item in items:
            if isinstance(item, ast.Slice):
                out.append({"slice": [None if b is None else _int_literal(b)
                                      for b in (item.lower, item.upper, item.step)]})
            elif _index_literal(item):
                v = item.value if isinstance(item, ast.Constant) else _int_literal(item)
                out.append("..." if v is Ellipsis else v)
            else:
                out.append(self._tensor(item, next(tensors)))
        return out if isinstance(index, ast.Tuple) else out[0]
