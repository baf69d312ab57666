"""RemovableHandle: what register_*_hook methods return (torch.utils.hooks.RemovableHandle)."""
from __future__ import annotations

import itertools


class RemovableHandle:
    """`.remove()` (or leaving a `with` block) unregisters the hook from the dict it was added to."""

    _next_id = itertools.count()

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
