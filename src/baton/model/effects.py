"""The effect ledger: side effects on the world (an e-mail sent, a card charged, a pull
request opened) that must happen once however often a task is attempted.

Each effect is named by its task and a step name the agent chooses; its ``key`` (derived
from both, the same on every attempt) is what the agent passes to the outside system as
its idempotency key where the system takes one. An attempt *starts* the effect, runs it,
and *records* its result; a later attempt (after a crash, a lease expiry, a review
return) that starts the same step gets the recorded result back and does not run it.

An effect started and never recorded — the process died while it ran, or between
running and recording — may or may not have happened. Only the tool can say whether
running it again is safe: ``repeat_safe`` effects (idempotent ones, or ones keyed on
``key`` by the outside system) run again; any other is *uncertain* and the task is
blocked for a person to check, with an escalation naming the step.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class EffectState(StrEnum):
    STARTED = "started"  # an attempt is running it (or died while it ran)
    DONE = "done"  # its result is recorded


class Effect(BaseModel):
    """One step's entry in the ledger."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    step: str
    key: str
    state: EffectState
    result: Any = None
    attempts: int = 1
    started_by: str
    started_token: int
    started_at: float
    done_at: float | None = None


class EffectStart(BaseModel):
    """What starting a step tells the attempt: ``run`` it (and record the result), use the
    ``recorded`` result instead, or stop because an earlier run is ``uncertain``."""

    model_config = ConfigDict(frozen=True)

    effect: Effect
    decision: str  # "run" | "recorded" | "uncertain"


def effect_key(task_id: str, step: str) -> str:
    """The step's idempotency key: stable across attempts, distinct across tasks."""
    digest = hashlib.sha256(f"{task_id}\n{step}".encode()).hexdigest()[:32]
    return f"baton-effect-{digest}"
