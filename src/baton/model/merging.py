"""Three-way merges of artifact contents, and RFC 7386 merge patches. Pure functions.

A merge takes the version the writer read (``base``), the version that is the head now
(``head``) and what the writer wrote (``mine``). Changes made on one side only are kept;
the same change made on both sides is kept once; different changes to the same lines
(text) or the same field (JSON) are a conflict, returned as hunks that show all three,
never resolved by picking a side.

Text is merged line by line with ``merge3`` (the Breezy project's diff3 algorithm, the
one ``bzr``/``brz`` use). JSON is merged field by field: objects recursively, any other
value (a list, a string, a number) as a whole.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import merge3

#: The most lines of each side a hunk shows (a conflict in a huge file stays readable).
HUNK_LINES = 40


@dataclass
class Merged:
    """A merge's result: the merged content if it merged, else the conflicting hunks."""

    content: Any = None
    hunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.hunks


def _clip(lines: Sequence[str]) -> str:
    shown = lines[:HUNK_LINES]
    more = f"… ({len(lines) - HUNK_LINES} more lines)\n" if len(lines) > HUNK_LINES else ""
    return "".join(shown) + more


def merge_text(base: str, head: str, mine: str) -> Merged:
    """Merge ``mine`` and ``head``, both made from ``base``, line by line."""
    if mine in (head, base):
        return Merged(head)
    if head == base:
        return Merged(mine)
    m = merge3.Merge3(
        base.splitlines(keepends=True),
        head.splitlines(keepends=True),
        mine.splitlines(keepends=True),
    )
    out: list[str] = []
    hunks: list[dict[str, Any]] = []
    line = 1  # where the hunk starts in the base, for people
    for group in m.merge_groups():
        if group[0] == "conflict":
            _, base_lines, head_lines, mine_lines = group
            hunks.append(
                {
                    "at_line": line,
                    "base": _clip(base_lines),
                    "head": _clip(head_lines),
                    "mine": _clip(mine_lines),
                }
            )
            line += len(base_lines)
        else:
            kind, lines = group
            out.extend(lines)
            if kind == "unchanged":
                line += len(lines)
    return Merged(hunks=hunks) if hunks else Merged("".join(out))


_MISSING: Any = object()


def merge_json(base: Any, head: Any, mine: Any) -> Merged:
    """Merge two JSON values made from ``base``, field by field."""
    hunks: list[dict[str, Any]] = []
    merged = _merge_value(base, head, mine, "", hunks)
    return Merged(hunks=hunks) if hunks else Merged(merged)


def _merge_value(base: Any, head: Any, mine: Any, path: str, hunks: list[dict[str, Any]]) -> Any:
    if _same(mine, head) or _same(mine, base):
        return head
    if _same(head, base):
        return mine
    if (
        isinstance(head, dict)
        and isinstance(mine, dict)
        and (base is _MISSING or isinstance(base, dict))
    ):
        base = {} if base is _MISSING else base  # added on both sides: merge the additions
        out: dict[str, Any] = {}
        for key in [*head, *(k for k in mine if k not in head)]:
            value = _merge_value(
                base.get(key, _MISSING),
                head.get(key, _MISSING),
                mine.get(key, _MISSING),
                f"{path}/{_pointer_escape(key)}",
                hunks,
            )
            if value is not _MISSING:
                out[key] = value
        return out
    hunks.append(
        {"field": path or "/", "base": _shown(base), "head": _shown(head), "mine": _shown(mine)}
    )
    return head


def _same(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    return bool(type(a) is type(b) and a == b)


def _shown(value: Any) -> Any:
    return "(absent)" if value is _MISSING else value


def _pointer_escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the RFC 7386 JSON merge patch ``patch`` applied: an object patch
    sets its fields (``null`` removes one, objects patch recursively); any other patch
    replaces the target whole. (Twenty lines of the RFC's own pseudocode, so no library.)"""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two canonical texts (JSON is pretty-printed first by the
    caller, so that a diff shows fields, not one long line)."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )


def pretty_json(text: str) -> str:
    """Canonical JSON as indented lines, for diffs and people."""
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
