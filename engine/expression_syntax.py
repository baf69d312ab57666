"""What an expression's Python syntax maps to (engine/expression.py): the operator, comparison, reflected and
in-place tables, properties and nameless ops, dtype and math names, and the small readers of literal and dotted
syntax nodes."""
from __future__ import annotations

import ast
import math

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floor_divide",
           ast.Mod: "remainder", ast.Pow: "pow", ast.MatMult: "matmul", ast.BitAnd: "bitwise_and",
           ast.BitOr: "bitwise_or", ast.BitXor: "bitwise_xor"}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
           ast.LShift: "<<", ast.RShift: ">>"}
# `number OP tensor`: Tensor's reflected operators, as torch/_tensor.py and the engine's _methods define them.
# (op, swap): swap calls op(tensor, number); else op(number, tensor). `/` is special: mul(reciprocal(t), n).
_REFLECTED = {ast.Add: ("add", True), ast.Sub: ("rsub", True), ast.Mult: ("mul", True),
              ast.FloorDiv: ("floor_divide", False), ast.Mod: ("remainder", False), ast.Pow: ("pow", False),
              ast.MatMult: ("matmul", False), ast.BitAnd: ("bitwise_and", True),
              ast.BitOr: ("bitwise_or", True), ast.BitXor: ("bitwise_xor", True)}
_COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_MIRROR = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}  # 2 < x is x > 2
_INPLACE = {ast.Add: "add_", ast.Sub: "sub_", ast.Mult: "mul_", ast.Div: "div_", ast.Pow: "pow_",
            ast.FloorDiv: "floor_divide_", ast.Mod: "remainder_", ast.BitAnd: "bitwise_and_",
            ast.BitOr: "bitwise_or_", ast.BitXor: "bitwise_xor_"}
# Attributes read without a call that are ops (where the catalog has them): x.T, x.mT, x.grad (v1.1).
PROPERTIES = ("T", "mT", "H", "mH", "grad")
# Ops whose result is None in PyTorch: a bare statement of one takes no name (API.md v1.1).
NAMELESS = frozenset({"backward", "retain_grad", "setitem"})
_DTYPES = {"float32": "float32", "float": "float32", "float64": "float64", "double": "float64",
           "float16": "float16", "half": "float16", "int64": "int64", "long": "int64", "int32": "int32",
           "int": "int32", "bool": "bool"}
_MATH = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": "Infinity", "nan": "NaN"}
_FLOAT_WORDS = {"inf": "Infinity", "+inf": "Infinity", "-inf": "-Infinity", "infinity": "Infinity",
                "-infinity": "-Infinity", "nan": "NaN"}
_FUNCTIONAL_PREFIXES = ("torch.nn.functional.", "nn.functional.", "F.")
_NAMESPACES = ("torch", "F", "nn")
_KINDS = {ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
          ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression", ast.Dict: "a dict",
          ast.Set: "a set", ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string",
          ast.Starred: "a starred argument", ast.NamedExpr: "an assignment expression (:=)",
          ast.IfExp: "a conditional expression", ast.BoolOp: "`and`/`or` (they ask a tensor for one truth value)",
          ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice outside []"}


class _Ref(str):
    """A tensor operand: its name on the wire."""


class _Lit:
    """A literal operand (a JSON value)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


_SPECIAL_STRINGS = frozenset({"NaN", "Infinity", "-Infinity"})


def _wire(v):
    """An operand as the wire writes it: a tensor by its name, a literal as itself."""
    return str(v) if isinstance(v, _Ref) else v.value


def _int_literal(node):
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _int_literal(node.operand) if isinstance(node.operand, ast.Constant) else None
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    return None


def _index_literal(node) -> bool:
    """An integer, None, True/False or `...` (the index forms that are not tensors)."""
    if isinstance(node, ast.Constant):
        return node.value is None or node.value is Ellipsis or type(node.value) in (int, bool)
    return _int_literal(node) is not None


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
