"""Typed changes to a task: what a transition may write besides the state.

Writes used to travel as ``**changes`` into ``model_copy``, where a misspelt field was
silently accepted (and silently not written). :class:`TaskChanges` names every mutable
field once: a misspelt one is a type error for mypy and a ``TypeError`` at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Final


class _Unset(Enum):
    UNSET = "unset"


#: "Leave this field as it is" (``None`` is a value some fields legitimately take).
UNSET: Final = _Unset.UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskChanges:
    """The mutable fields of a :class:`~baton.model.records.Task` that one transition
    writes; a field left :data:`UNSET` keeps its value. ``clear_lease`` empties the
    lease (owner, kind, expiry) — what every transition that ends an attempt does."""

    clear_lease: bool = False
    token: int | _Unset = UNSET
    attempts: int | _Unset = UNSET
    failures: int | _Unset = UNSET
    review_rounds: int | _Unset = UNSET
    lease_owner: str | _Unset | None = UNSET
    lease_kind: str | _Unset | None = UNSET
    lease_expires_at: float | _Unset | None = UNSET
    not_before: float | _Unset = UNSET
    pending_deps: int | _Unset = UNSET
    output: Any = UNSET
    last_error: dict[str, Any] | _Unset | None = UNSET
    feedback: list[dict[str, Any]] | _Unset = UNSET
    blocked_reason: str | _Unset | None = UNSET
    worked_by: str | _Unset | None = UNSET

    def updates(self) -> dict[str, Any]:
        """The fields to write, by name (for ``Task.model_copy(update=...)``)."""
        out: dict[str, Any] = (
            {"lease_owner": None, "lease_kind": None, "lease_expires_at": None}
            if self.clear_lease
            else {}
        )
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not UNSET:
                out[name] = value
        return out


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TaskChanges) if f.name != "clear_lease")

#: No change besides the state.
NO_CHANGES: Final = TaskChanges()
