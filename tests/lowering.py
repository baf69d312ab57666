"""The plan cache's rule for lowering, for tests: a structure is lowered at its Program.lower_at()-th replay
(engine/program/plans.py LOWER_AT), not at its first; the sightings before it replay unlowered."""

from __future__ import annotations


def newest(cache):
    """The program the cache stored last (a structure's first sighting stores it), or None."""
    return next(reversed(cache._programs.values()), None)


def sight_until_lowered(send, cache, key=None, after=0):
    """send() a structure once (recorded), then as many times more as its Program's lower_at() says (the last
    of them lowers it), then `after` times more. The Program is cache.get(key), or the newest one. Returns the
    last send's answer."""
    out = send()
    program = newest(cache) if key is None else cache.get(key)
    for _ in range((program.lower_at() if program is not None else 1) + after):  # (None: never cached)
        out = send()
    return out
