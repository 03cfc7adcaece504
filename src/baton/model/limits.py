"""What Baton accepts, checked in one place: ids, durations and amounts, and the JSON
values that tasks carry (inputs, outputs, errors, message bodies, evidence).

Everything stored must read back exactly and print safely, so: ids are short and
plain (letters, digits, ``_ . -``; a ``/`` joins a run id and a task key); durations
and amounts are finite numbers in range (a NaN lease never expires, an infinite cost
never pauses a run); JSON values are plain JSON — no NaN or Infinity, no sets, no
non-string keys, integers that fit in 64 bits, strings without NUL characters or unpaired
surrogates (PostgreSQL cannot store the first, UTF-8 cannot encode the second) — no
deeper than ``max_depth`` and no larger than ``max_json_bytes`` once encoded. The
limits are :class:`Limits`, given to the Board
(``Board(store, limits=Limits(max_json_bytes=...))``); docs/limits.md lists them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from baton.model.errors import InvalidArgument, NotFound

ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
ID_RULE = "1 to 200 letters, digits, '_', '.' or '-'"
INT64 = 2**63
#: The most rows one read returns (``events(limit=...)``, ``messages(limit=...)``).
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Limits:
    """Size limits a board enforces on what it is given; every one is configurable."""

    #: The largest JSON value (a task's input, an output, a message body), encoded.
    max_json_bytes: int = 1_000_000
    #: How deeply JSON values may nest.
    max_depth: int = 64
    #: The longest free text (a reason, a comment, a feedback item, a goal).
    max_text: int = 20_000
    #: The most tasks one plan (or one ``add_tasks``) may hold.
    max_tasks: int = 20_000
    #: The longest lease, timeout or backoff, in seconds (a day).
    max_duration_s: float = 86_400.0
    #: The largest artifact content (text, or JSON once encoded), in bytes.
    max_artifact_bytes: int = 4_000_000


DEFAULT_LIMITS = Limits()


def check_id(kind: str, value: object) -> str:
    """``value`` if it is a valid id of ``kind`` (a run, a participant); else
    :class:`InvalidArgument` naming it, printed safely."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidArgument(f"invalid {kind} id {safe_repr(value)}: use {ID_RULE}")
    return value


def lookup_id(kind: str, value: object) -> str:
    """``value`` as an id to look up. An id that no store could hold (not text, NUL,
    an unpaired surrogate, absurdly long) names nothing: :class:`NotFound`, printed
    safely, instead of a driver's encoding error."""
    if not isinstance(value, str) or len(value) > 1000 or text_problem(value):
        raise NotFound(kind, safe_repr(value))
    return value


def check_count(name: str, value: object, *, low: int = 0, high: int = INT64 - 1) -> int:
    """A whole number from ``low`` to ``high`` (a seq, a limit on rows, a token)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(
            f"{name} must be a whole number from {low} to {high}, got {safe_repr(value)}"
        )
    return value


def check_duration(name: str, value: object, *, limits: Limits = DEFAULT_LIMITS) -> float:
    """A finite, positive number of seconds up to ``limits.max_duration_s``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= limits.max_duration_s
    ):
        raise InvalidArgument(
            f"{name} must be a number of seconds above 0 and at most "
            f"{limits.max_duration_s:g}, got {safe_repr(value)}"
        )
    return float(value)


def check_amount(name: str, value: object, *, integer: bool = False) -> float:
    """A finite number, zero or more (an integer below 2**63 when ``integer``)."""
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if (
        isinstance(value, bool)
        or not ok_type
        or not math.isfinite(value)  # type: ignore[arg-type]
        or not 0 <= value < INT64  # type: ignore[operator]
    ):
        kind = "a whole number" if integer else "a finite number"
        raise InvalidArgument(f"{name} must be {kind}, 0 or more, got {safe_repr(value)}")
    return value  # type: ignore[return-value]


def check_text(name: str, value: object, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """Free text (a reason, a comment): at most ``limits.max_text`` characters, and
    storable by both stores (no NUL, no unpaired surrogate)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} must be text, got {type(value).__name__}")
    if len(value) > limits.max_text:
        raise InvalidArgument(
            f"{name} is {len(value):,} characters; the limit is {limits.max_text:,} "
            "(Limits.max_text)"
        )
    problem = text_problem(value)
    if problem:
        raise InvalidArgument(f"{name} {problem}")
    return value


def check_name(kind: str, value: object) -> str:
    """A participant's name (who acts, for the log): 1 to 200 printable characters."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 200
        or not value.isprintable()
        or text_problem(value)
    ):
        raise InvalidArgument(
            f"invalid {kind} name {safe_repr(value)}: use 1 to 200 printable characters"
        )
    return value


def text_problem(value: str) -> str:
    """Why no store could keep ``value`` (a NUL, an unpaired surrogate); empty if none."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (not valid Unicode text)"
    return ""


def json_problem(value: Any, *, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why ``value`` is not plain JSON within the limits, or ``None``. Walks the value
    without recursion, so a 100,000-deep nest is an answer, not a ``RecursionError``."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        where = path or "<root>"
        if depth > limits.max_depth:
            return f"at {where}: nested deeper than {limits.max_depth} levels (Limits.max_depth)"
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"at {where}: a string that {problem}"
            continue
        if isinstance(item, int):
            if not -INT64 <= item < INT64:
                return f"at {where}: the integer {str(item)[:30]}… does not fit in 64 bits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"at {where}: {item} is not a JSON number"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return f"at {where}: key {safe_repr(key)} is not a string"
                problem = text_problem(key)
                if problem:
                    return f"at {where}: a key that {problem}"
                stack.append((sub, depth + 1, f"{path}/{key}"[:200]))
        elif isinstance(item, list | tuple):
            for i, sub in enumerate(item):
                stack.append((sub, depth + 1, f"{path}/{i}"[:200]))
        else:
            return f"at {where}: a {type(item).__name__} is not a JSON value"
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > limits.max_json_bytes:
        return (
            f"{size:,} bytes encoded; the limit is {limits.max_json_bytes:,} "
            "(Limits.max_json_bytes)"
        )
    return None


def check_json(what: str, value: Any, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    """``value`` if it is plain JSON within the limits; else :class:`InvalidArgument`
    naming ``what`` (e.g. "output of task r1/a") and the fault."""
    problem = json_problem(value, limits=limits)
    if problem is not None:
        raise InvalidArgument(f"{what} is not storable: {problem}")
    return value


def safe_repr(value: object, limit: int = 80) -> str:
    """A short printable rendering: control characters escaped, long values cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
