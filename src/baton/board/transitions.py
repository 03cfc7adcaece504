"""Applying one transition inside one store transaction.

Every state change goes through :func:`apply`: it looks the edge up in the one
transition table, writes the row guarded by the state and token it was read with, and
appends the event. :func:`record` changes lease fields without a state change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from baton.model import Task
from baton.model.changes import NO_CHANGES, TaskChanges
from baton.model.errors import BatonRuntimeError
from baton.model.events import TRANSITION_EVENT, EventKind
from baton.model.states import Action, next_state
from baton.store import Tx

T = TypeVar("T")


class Later(Generic[T]):
    """A result that needs the events' final ``seq``: resolved after ``Tx.flush()``."""

    def __init__(self, make: Callable[[], T]) -> None:
        self.make = make


async def apply(
    tx: Tx,
    task: Task,
    action: Action,
    *,
    actor: str,
    now: float,
    payload: dict[str, Any] | None = None,
    changes: TaskChanges = NO_CHANGES,
) -> Task:
    """Move ``task`` along ``action``, writing ``changes`` with the new state; raises
    ``InvalidTransition`` and writes nothing if the table has no such edge."""
    new_state = next_state(task.id, task.state, action)
    update = changes.updates()
    update["state"] = new_state
    update["updated_at"] = now
    updated = task.model_copy(update=update)
    if not await tx.update_task(updated, expect_state=task.state.value, expect_token=task.token):
        raise BatonRuntimeError(
            f"task {task.id!r} changed under a locked transaction; this is a store bug"
        )
    body = {"from": task.state.value, "to": new_state.value, "token": updated.token}
    if payload:
        body.update(payload)
    await tx.append_event(task.run_id, task.id, TRANSITION_EVENT[action], actor, body, now)
    return updated


async def record(
    tx: Tx,
    task: Task,
    kind: EventKind,
    *,
    actor: str,
    now: float,
    payload: dict[str, Any] | None = None,
    changes: TaskChanges = NO_CHANGES,
) -> Task:
    """Change lease fields without a state change (review leases, renewals), as an event."""
    update = changes.updates()
    updated = task.model_copy(update={**update, "updated_at": now})
    if not await tx.update_task(updated, expect_state=task.state.value, expect_token=task.token):
        raise BatonRuntimeError(f"task {task.id!r} changed under a locked transaction")
    body = {"token": updated.token, **{k: v for k, v in update.items() if k != "feedback"}}
    await tx.append_event(task.run_id, task.id, kind, actor, {**body, **(payload or {})}, now)
    return updated
