"""Reservations: "I am editing ``src/api/``, keep off", said on the board.

A task's holder reserves resources — path patterns in a repository (``src/api/**``,
``docs/*.md``) or any named resource (``db:migrations``) — *exclusive* (nobody else may
reserve an overlapping pattern) or *shared* (others may share it, nobody may hold it
exclusively). A reservation is bound to its task's work lease: it lives while that lease
does (heartbeats keep both), and ends when the task is handed in, released or reclaimed,
or when the lease expires (a killed worker's reservations go with its lease). Its ``id``
is a fencing token: it only grows, so an external system can refuse a stale holder.

Patterns are ``/``-separated segments; ``*`` and ``?`` match within a segment, ``**``
matches any number of segments, and a trailing ``/`` means everything below
(``src/api/`` is ``src/api/**``). Two patterns *overlap* when some path matches both.
"""

from __future__ import annotations

import re
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cache, lru_cache

from pydantic import BaseModel, ConfigDict

from baton.model.errors import InvalidArgument
from baton.model.limits import safe_repr, text_problem


class ReservationMode(StrEnum):
    EXCLUSIVE = "exclusive"
    SHARED = "shared"


class Reservation(BaseModel):
    """A live reservation, as the board shows it."""

    model_config = ConfigDict(frozen=True)

    id: int  # the fencing token: larger means later
    resource: str
    mode: ReservationMode
    run_id: str
    task_id: str
    holder: str  # the participant holding the task's lease
    task_token: int  # the task's fencing token when it was taken
    created_at: float
    expires_at: float | None  # the task lease's expiry (renewed by heartbeats)


MAX_SEGMENTS = 64
_WILD = re.compile(r"[*?\[]")


def check_resource(value: object) -> str:
    """``value`` if it can name a resource: 1 to 300 printable characters, no empty
    segment except a trailing ``/``; else :class:`InvalidArgument` naming it."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 300
        or not value.isprintable()
        or text_problem(value)
        or value != value.strip()
        or value.startswith("/")
        or "//" in value
        or len(value.split("/")) > MAX_SEGMENTS
        or any(part in {".", ".."} for part in value.split("/"))
    ):
        raise InvalidArgument(
            f"invalid resource {safe_repr(value)}: use a path pattern such as 'src/api/**' "
            "or a name such as 'db:migrations' (1 to 300 printable characters, relative, "
            "no empty, '.' or '..' segment)"
        )
    return value


def _segments(pattern: str) -> tuple[str, ...]:
    parts = pattern.split("/")
    if parts[-1] == "":
        parts[-1] = "**"
    return tuple(parts)


def overlaps(a: str, b: str) -> bool:
    """Whether some path matches both patterns. Exact for a pattern against a plain
    path; for two wildcards in the same segment, and for any character class
    (``[ab]``), it errs towards *overlap* (a false refusal is visible and harmless; a
    missed overlap is two writers on one file)."""
    return _overlap(_segments(a), _segments(b))


def covers(pattern: str, path: str) -> bool:
    """Whether ``path`` (a plain name, e.g. an artifact's) falls under ``pattern``."""
    return _overlap(_segments(pattern), tuple(path.split("/")))


@lru_cache(maxsize=4096)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    @cache
    def go(i: int, j: int) -> bool:
        if i < len(a) and a[i] == "**":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "**":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        if i == len(a) or j == len(b):
            return i == len(a) and j == len(b)
        return _segment_overlap(a[i], b[j]) and go(i + 1, j + 1)

    return go(0, 0)


def _segment_overlap(x: str, y: str) -> bool:
    if "[" in x or "[" in y:
        return True  # a character class: assume overlap (never a missed conflict)
    x_wild, y_wild = bool(_WILD.search(x)), bool(_WILD.search(y))
    if not x_wild and not y_wild:
        return x == y
    if not y_wild:
        return fnmatchcase(y, x)
    if not x_wild:
        return fnmatchcase(x, y)
    # Both wild: compatible literal prefixes and suffixes (conservative).
    px, py = _WILD.split(x, 1)[0], _WILD.split(y, 1)[0]
    sx, sy = _WILD.split(x)[-1], _WILD.split(y)[-1]
    return (px.startswith(py) or py.startswith(px)) and (sx.endswith(sy) or sy.endswith(sx))
