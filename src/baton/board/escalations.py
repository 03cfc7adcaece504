"""Escalations — events addressed to a human — and events a call returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.board.transitions import Later
from baton.model import Event, Task
from baton.model.events import escalation_kind
from baton.store import Tx


async def escalate_in(
    tx: Tx,
    run_id: str,
    kind: str,
    reason: str,
    evidence: dict[str, Any],
    task_id: str | None,
    now: float,
    actor: str = "watchdog",
) -> Later[Event]:
    """Append an escalation addressed to a human, inside the caller's transaction."""
    payload = {"reason": reason, "evidence": evidence, "to": "human"}
    return await append_returned(tx, run_id, task_id, escalation_kind(kind), actor, payload, now)


async def append_returned(
    tx: Tx,
    run_id: str,
    task_id: str | None,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    now: float,
) -> Later[Event]:
    """Append an event that the call returns to its caller: the result is made once the
    event's ``seq`` is final (after ``Tx.flush()``)."""
    ref = await tx.append_event(run_id, task_id, kind, actor, payload, now)
    return Later(
        lambda: Event(
            seq=ref.seq,
            run_id=run_id,
            task_id=task_id,
            kind=kind,
            actor=actor,
            payload=payload,
            at=now,
        )
    )


def describe_error(error: Mapping[str, Any]) -> str:
    """One line about a failed attempt's error, in words a person can act on."""
    kind = str(error.get("kind", "error"))
    if kind == "lease_expired":
        return (
            f"the lease of {error.get('owner') or 'its worker'} expired: the worker crashed, "
            "hung or lost the store, so the attempt was lost, not an error of the work"
        )
    if kind == "contract_violation":
        return "the output broke the contract: " + "; ".join(map(str, error.get("errors", [])))
    message = error.get("message")
    return f"{kind}: {message}" if message else kind


async def escalate_failure(
    tx: Tx,
    task: Task,
    error: Mapping[str, Any],
    *,
    failures: int,
    final: bool,
    now: float,
    actor: str,
) -> None:
    """A task failed for good: tell a human which task, its last error and its attempts
    (``escalation.planning`` for a planner's task, ``escalation.task_failed`` otherwise)."""
    how = "was given up" if final else f"used all {task.max_attempts} attempts"
    reason = f"task {task.id!r} {how} ({failures} failed); last error: {describe_error(error)}"
    kind = "planning" if task.expand else "task_failed"
    evidence = {
        "task": task.id,
        "attempts": task.attempts,
        "failures": failures,
        "max_attempts": task.max_attempts,
        "last_error": dict(error),
    }
    await escalate_in(tx, task.run_id, kind, reason, evidence, task.id, now, actor)
