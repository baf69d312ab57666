"""Errors that carry PyTorch's exception class name, its message, and where in a request they arose."""
from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose.

    `type` is PyTorch's exception class name (RuntimeError, IndexError, ValueError, TypeError),
    `msg` PyTorch's message, `loc` a path into the request document (filled in by evaluate).
    """

    type = "RuntimeError"

    def __init__(self, msg: str, loc: tuple | list = (), type: str | None = None):
        super().__init__(msg)
        self.msg = msg
        self.loc = list(loc)
        if type is not None:
            self.type = type

    def to_dict(self) -> dict:
        return cut_error({"type": self.type, "loc": self.loc, "msg": self.msg})


# A message or loc entry echoes the client's text (a name, a key, a string where a number goes): past this many
# characters it is cut, so a 16 MiB body cannot come back as a 16 MiB error (redteam15 F8). torch's own messages
# are far shorter (its longest, an argument parser's list of overloads, ~2 KB).
MAX_MSG_CHARS = 8192


def _cut(text: str) -> str:
    return f"{text[:MAX_MSG_CHARS]}... ({len(text) - MAX_MSG_CHARS:,} more characters cut)"


def cut_error(err: dict) -> dict:
    """An error's {type, loc, msg} with any string longer than MAX_MSG_CHARS cut (the same dict where none is)."""
    msg, loc = err.get("msg"), err.get("loc") or ()
    long_msg = type(msg) is str and len(msg) > MAX_MSG_CHARS
    long_loc = any(type(x) is str and len(x) > MAX_MSG_CHARS for x in loc)
    if not (long_msg or long_loc):
        return err
    out = dict(err)
    if long_msg:
        out["msg"] = _cut(msg)
    if long_loc:
        out["loc"] = [_cut(x) if type(x) is str and len(x) > MAX_MSG_CHARS else x for x in loc]
    return out


# Each class also derives from the Python builtin of the same name, so that library users can
# write `except RuntimeError` exactly as they would against torch.
class TorchRuntimeError(EngineError, RuntimeError):
    type = "RuntimeError"


class TorchLinAlgError(TorchRuntimeError):
    """torch.linalg.LinAlgError (torch._C._LinAlgError, a RuntimeError): singular or not positive-definite inputs,
    an SVD that does not converge. Its `type` is the class's name as torch's type(e).__name__ gives it."""

    type = "_LinAlgError"


class TorchIndexError(EngineError, IndexError):
    type = "IndexError"


class TorchValueError(EngineError, ValueError):
    type = "ValueError"


class TorchTypeError(EngineError, TypeError):
    type = "TypeError"


class TorchOverflowError(EngineError, OverflowError):
    type = "OverflowError"


class TorchNotImplementedError(EngineError, NotImplementedError):
    type = "NotImplementedError"


class TorchAssertionError(EngineError, AssertionError):
    """torch.autograd.functional and gradcheck check their own arguments with AssertionError."""

    type = "AssertionError"


# Torch names its exceptions by the builtin classes (linalg's by its own, _LinAlgError); so do we, for tracebacks
# that read like torch's.
for _cls in (TorchRuntimeError, TorchLinAlgError, TorchIndexError, TorchValueError, TorchTypeError,
             TorchOverflowError, TorchNotImplementedError, TorchAssertionError):
    _cls.__name__ = _cls.__qualname__ = _cls.type


class RequestError(EngineError, ValueError):
    """The request document itself is malformed (schema, names, binding): FastAPI-style types."""

    def __init__(self, msg: str, loc=(), type: str = "value_error"):
        super().__init__(msg, loc, type)


class LimitExceeded(EngineError):
    """A configured limit (elements, ops, ...) would be crossed; maps to HTTP 413."""

    type = "limit_exceeded"


def shape_str(shape) -> str:
    """torch.Size([2, 3]) as torch prints it in messages."""
    return "torch.Size([" + ", ".join(str(int(s)) for s in shape) + "])"
