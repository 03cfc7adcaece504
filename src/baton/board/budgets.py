"""Budgets and retry policy on the board: pausing a run past its budget (inside the
transaction that spent it) and the retry backoff. The comparison rule itself — a
budget of N allows exactly N — lives in :mod:`baton.model.budgets`, for everyone."""

from __future__ import annotations

import random
from typing import Any

from baton.board.escalations import escalate_in
from baton.model import Run, RunState, Task
from baton.model.budgets import exhausted, over_budget
from baton.model.events import EventKind
from baton.model.policies import over_role_budget
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
    evidence = {
        "tokens_used": run.tokens_used,
        "cost_used": run.cost_used,
        "claims": run.claims,
        "budget": run.budget,
    }
    await pause_for_budget(tx, run, f"run budget exceeded: {over}", evidence, now)
    return True


async def pause_if_role_over(tx: Tx, run: Run, role: str, now: float) -> None:
    """Pause the run when its spend on ``role``'s tasks is past a role budget of the
    policy the run was created under (model/policies.py ``RoleBudget``)."""
    if run.state is not RunState.ACTIVE:
        return
    record = await tx.run_policy(run.id)
    rules = [r for r in record.policy.role_budgets if r.role == role] if record else []
    if not rules:
        return
    tokens, cost = await tx.role_usage(run.id, role)
    for rule in rules:
        over = over_role_budget(rule, tokens, cost)
        if over:
            reason = f"role budget {rule.name!r} for {role!r} exceeded: {over}"
            evidence = {
                "role": role,
                "rule": rule.name,
                "tokens_used": tokens,
                "cost_used": cost,
                "budget": rule.model_dump(exclude={"name", "role"}),
            }
            await pause_for_budget(tx, run, reason, evidence, now)
            return


async def pause_for_budget(
    tx: Tx, run: Run, reason: str, evidence: dict[str, Any], now: float
) -> None:
    """Pause the run (nothing new is claimed, nothing done is lost) and ask a person."""
    await tx.set_run_state(run.id, RunState.PAUSED, None, reason)
    await tx.append_event(run.id, None, EventKind.RUN_PAUSED, "budget", {"reason": reason}, now)
    await escalate_in(tx, run.id, "budget", reason, evidence, None, now)


def run_exhausted(run: Run, now: float) -> str:
    """Which of the run's limits has nothing left (see :func:`exhausted`)."""
    return exhausted(
        run.budget,
        tokens=run.tokens_used,
        cost=run.cost_used,
        claims=run.claims,
        elapsed_s=now - run.created_at,
    )
