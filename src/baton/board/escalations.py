"""Escalations — events addressed to a human — and events a call returns."""

from __future__ import annotations

from typing import Any

from baton.board.transitions import Later
from baton.model import Event
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
    return await append_returned(tx, run_id, task_id, f"escalation.{kind}", actor, payload, now)


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
