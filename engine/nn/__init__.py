"""engine.nn: only the functional namespace."""
from engine.nn import functional  # noqa: F401
