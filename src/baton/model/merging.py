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

#: The most lines, and characters, of each side a hunk shows (a conflict in a huge file
#: stays readable, and an error or event carrying it stays small).
HUNK_LINES = 40
HUNK_CHARS = 4000


@dataclass
class Merged:
    """A merge's result: the merged content if it merged, else the conflicting hunks."""

    content: Any = None
    hunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.hunks


def _clip(lines: Sequence[str]) -> str:
    shown = "".join(lines[:HUNK_LINES])
    more = f"… ({len(lines) - HUNK_LINES} more lines)\n" if len(lines) > HUNK_LINES else ""
    if len(shown) > HUNK_CHARS:
        shown, more = shown[:HUNK_CHARS], f"… ({len(shown) - HUNK_CHARS} more characters)\n"
    return shown + more


def merge_text(base: str, head: str, mine: str) -> Merged:
    """Merge ``mine`` and ``head``, both made from ``base``, line by line."""
    if mine in (head, base):
        return Merged(head)
    if head == base:
        return Merged(mine)
    base_lines = base.splitlines(keepends=True)
    head_lines = head.splitlines(keepends=True)
    mine_lines = mine.splitlines(keepends=True)
    m = merge3.Merge3(base_lines, head_lines, mine_lines)
    out: list[str] = []
    hunks: list[dict[str, Any]] = []
    for region in m.merge_regions():
        kind = region[0]
        if kind == "conflict":
            z0, z1, a0, a1, b0, b1 = [int(x) for x in region[1:]]
            hunks.append(
                {
                    "at_line": z0 + 1,  # where it starts in the base, for people
                    "base": _clip(base_lines[z0:z1]),
                    "head": _clip(head_lines[a0:a1]),
                    "mine": _clip(mine_lines[b0:b1]),
                }
            )
        elif kind == "unchanged":
            out.extend(base_lines[region[1] : region[2]])
        elif kind in ("a", "same"):
            out.extend(head_lines[region[1] : region[2]])
        else:  # "b": only mine changed here
            out.extend(mine_lines[region[1] : region[2]])
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
    )  # values as they are; events carry only the field (see board/artifacts.py)
    return head


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: ``1``, ``1.0`` and ``true`` are three different values (Python's
    ``==`` says they are one, which would merge away a change from 1 to true)."""
    if a is _MISSING or b is _MISSING:
        return a is b
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
    caller, so that a diff shows fields, not one long line). A last line without a
    newline is marked as ``diff`` marks it, instead of being glued to the next."""
    return "".join(
        difflib.unified_diff(_diff_lines(old), _diff_lines(new), fromfile=old_name, tofile=new_name)
    )


def _diff_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def pretty_json(text: str) -> str:
    """Canonical JSON as indented lines, for diffs and people."""
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
