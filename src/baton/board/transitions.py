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
from baton.model.errors import BatonRuntimeError, InvalidTransition
from baton.model.events import TRANSITION_EVENT, EventKind
from baton.model.states import TRANSITIONS, WHY, Action, TaskState, next_state, verb
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
    if (task.state, action) not in TRANSITIONS:
        raise InvalidTransition(task.id, task.state.value, verb(action), await why_not(tx, task))
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


async def why_not(tx: Tx, task: Task) -> str:
    """Why ``task`` refuses what was asked, in words that say what a person can do:
    which dependencies it waits on, who holds it, why it is blocked."""
    why = WHY[task.state]
    if task.state is TaskState.PENDING and task.depends_on:
        deps = [await tx.get_task(d) for d in task.depends_on[:20]]
        open_deps = [d.id for d in deps if d is not None and d.state is not TaskState.DONE]
        if task.expand and task.output is not None:
            return f"it is waiting on its sub-tasks {', '.join(open_deps[:5])}"
        if open_deps:
            more = f" and {len(open_deps) - 5} more" if len(open_deps) > 5 else ""
            return f"it is waiting on {', '.join(open_deps[:5])}{more}"
    if task.state is TaskState.RUNNING and task.lease_owner:
        return f"it is being worked on by {task.lease_owner}"
    if task.state is TaskState.BLOCKED and task.blocked_reason:
        return f"it is blocked ({task.blocked_reason}): unblock or cancel it"
    return why


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
