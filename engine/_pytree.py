"""Pytrees for engine.func: tuples, lists, dicts and namedtuples of leaves, flattened, rebuilt and printed as
torch.utils._pytree does (its TreeSpec text and treespec_pprint appear in torch.func's error messages)."""
from __future__ import annotations


class TreeSpec:
    __slots__ = ("type", "context", "children")

    def __init__(self, typ, context, children):
        self.type, self.context, self.children = typ, context, children

    @property
    def num_leaves(self):
        return sum(c.num_leaves for c in self.children)

    def is_leaf(self):
        return False

    def __eq__(self, other):
        return (type(other) is TreeSpec and self.type is other.type and self.context == other.context
                and len(self.children) == len(other.children)
                and all(a == b for a, b in zip(self.children, other.children)))

    def __hash__(self):
        return id(self)

    def __repr__(self, indent=0):
        prefix = f"TreeSpec({self.type.__name__}, {self.context}, ["
        body = ""
        if self.children:
            indent += 2
            body += self.children[0].__repr__(indent)
            body += "," if len(self.children) > 1 else ""
            body += ",".join(["\n" + " " * indent + c.__repr__(indent) for c in self.children[1:]])
        return prefix + body + "])"


class LeafSpec(TreeSpec):
    __slots__ = ()

    def __init__(self):
        super().__init__(None, None, [])

    @property
    def num_leaves(self):
        return 1

    def is_leaf(self):
        return True

    def __eq__(self, other):
        return isinstance(other, LeafSpec)

    __hash__ = TreeSpec.__hash__

    def __repr__(self, indent=0):
        return "*"


_LEAF = LeafSpec()


def _children(x):
    """(node type, context, children) for a container, None for a leaf."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x), None, list(x)
    if type(x) is tuple:
        return tuple, None, list(x)
    if type(x) is list:
        return list, None, list(x)
    if type(x) is dict:
        return dict, list(x.keys()), list(x.values())
    return None


def tree_flatten(tree):
    node = _children(tree)
    if node is None:
        return [tree], _LEAF
    typ, ctx, kids = node
    leaves, specs = [], []
    for k in kids:
        lv, sp = tree_flatten(k)
        leaves += lv
        specs.append(sp)
    return leaves, TreeSpec(typ, ctx, specs)


def tree_unflatten(leaves, spec):
    it = iter(leaves)

    def build(sp):
        if sp.is_leaf():
            return next(it)
        kids = [build(c) for c in sp.children]
        if sp.type is dict:
            return dict(zip(sp.context, kids))
        if sp.type is list:
            return kids
        if sp.type is tuple:
            return tuple(kids)
        return sp.type(*kids)  # a namedtuple

    return build(spec)


def treespec_pprint(spec):
    if spec.is_leaf():
        return "*"
    kids = [treespec_pprint(c) for c in spec.children]
    if spec.type is dict:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(spec.context, kids)) + "}"
    if spec.type is list:
        return "[" + ", ".join(kids) + "]"
    inner = ", ".join(kids) + ("," if len(kids) == 1 else "")
    return ("(" if spec.type is tuple else f"{spec.type.__name__}(") + inner + ")"


def _broadcast_to_and_flatten(tree, spec):
    """`tree` (a prefix of spec's structure) with each of its leaves repeated over the subtree it covers;
    None where tree is not a prefix of spec."""
    node = _children(tree)
    if node is None:
        return [tree] * spec.num_leaves
    typ, ctx, kids = node
    if spec.is_leaf() or spec.type is not typ or spec.context != ctx or len(spec.children) != len(kids):
        return None
    out = []
    for k, sp in zip(kids, spec.children):
        r = _broadcast_to_and_flatten(k, sp)
        if r is None:
            return None
        out += r
    return out
