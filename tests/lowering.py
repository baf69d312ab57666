"""The plan cache's rule for lowering, for tests: a structure is lowered at its Program.lower_at()-th replay
(engine/program/plans.py LOWER_AT), not at its first."""

from __future__ import annotations


def sight_until_lowered(send, program_of):
    """send() a structure once (recorded), then as many times more as its Program's lower_at() says: the last
    sighting lowers it. program_of() reads the cached Program. Returns the last send's answer."""
    out = send()
    for _ in range(program_of().lower_at()):
        out = send()
    return out
