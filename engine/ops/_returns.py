"""torch.return_types.<name>: the named tuples torch's multi-output ops return (frexp, sort, slogdet, ...)."""
from __future__ import annotations

_TYPES: dict = {}


def return_type(name: str, fields: tuple):
    """The tuple subclass for torch.return_types.<name> with these field names (cached)."""
    cls = _TYPES.get(name)
    if cls is not None:
        return cls

    def __new__(c, *values):  # noqa: N807
        return tuple.__new__(c, values)

    def __repr__(self):  # noqa: N807
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"

    ns = {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "__str__": __repr__,
          "__reduce__": lambda self: (type(self), tuple(self)), "_fields": fields,
          "n_fields": len(fields), "n_sequence_fields": len(fields), "n_unnamed_fields": 0,
          "__qualname__": f"return_types.{name}"}
    for i, f in enumerate(fields):
        ns[f] = property(lambda self, i=i: self[i])
    cls = _TYPES[name] = type(name, (tuple,), ns)
    return cls


def make(name: str, fields: tuple, values):
    return return_type(name, fields)(*values)
