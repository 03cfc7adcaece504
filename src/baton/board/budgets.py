"""Budgets and retry policy on the board: pausing a run past its budget (inside the
transaction that spent it) and the retry backoff. The comparison rule itself — a
budget of N allows exactly N — lives in :mod:`baton.model.budgets`, for everyone."""

from __future__ import annotations

import random

from baton.board.escalations import escalate_in
from baton.model import Run, RunState, Task
from baton.model.budgets import exhausted, over_budget
from baton.model.events import EventKind
from baton.store import Tx


def retry_delay(task: Task, failures: int, rng: random.Random) -> float:
    """Exponential backoff with equal jitter, bounded by ``backoff_max_s``."""
    if task.backoff_base_s <= 0:
        return 0.0
    full = min(task.backoff_max_s, task.backoff_base_s * 2 ** max(0, failures - 1))
    return float(full / 2 + rng.uniform(0, full / 2))


async def pause_if_over(tx: Tx, run: Run, now: float) -> bool:
    over = over_budget(run.budget, run.tokens_used, run.cost_used, run.claims)
    if not over or run.state is not RunState.ACTIVE:
        return bool(over)
    reason = f"run budget exceeded: {over}"
    await tx.set_run_state(run.id, RunState.PAUSED, None, reason)
    await tx.append_event(run.id, None, EventKind.RUN_PAUSED, "budget", {"reason": reason}, now)
    evidence = {
        "tokens_used": run.tokens_used,
        "cost_used": run.cost_used,
        "claims": run.claims,
        "budget": run.budget,
    }
    await escalate_in(tx, run.id, "budget", reason, evidence, None, now)
    return True


def run_exhausted(run: Run, now: float) -> str:
    """Which of the run's limits has nothing left (see :func:`exhausted`)."""
    return exhausted(
        run.budget,
        tokens=run.tokens_used,
        cost=run.cost_used,
        claims=run.claims,
        elapsed_s=now - run.created_at,
    )
