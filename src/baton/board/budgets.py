"""Budgets and retry policy: the one place that says when a limit is reached.

The comparison rule, everywhere: **a budget of N allows exactly N**. Spending that
reaches N is allowed; only going past N (N + 1 attempts, a token count above N) is over.
A run whose spending equals its limit has nothing left, so it may not resume until the
limit is raised.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from baton.board.escalations import escalate_in
from baton.model import Run, RunState, Task
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


def exhausted(budget: Mapping[str, Any] | None, run: Run, now: float) -> str:
    """Which limit leaves the run nothing to spend (at or past it); empty when none.

    Stricter than :func:`over_budget`: a run exactly at its limit may not resume."""
    if not budget:
        return ""
    checks = (
        ("tokens", run.tokens_used, f"{run.tokens_used} tokens used of"),
        ("cost_usd", run.cost_used, f"${run.cost_used:.4f} spent of $"),
        ("attempts", run.claims, f"{run.claims} attempts used of"),
        ("wall_s", now - run.created_at, f"{now - run.created_at:.0f}s elapsed of"),
    )
    for key, used, words in checks:
        if budget.get(key) is not None and used >= budget[key]:
            return f"{words} {budget[key]}".replace("$ ", "$")
    return ""


def over_budget(
    budget: Mapping[str, Any] | None, tokens: int, cost: float, claims: int | None = None
) -> str:
    """Which limit of ``budget`` is exceeded (empty when none is)."""
    if not budget:
        return ""
    if budget.get("tokens") is not None and tokens > budget["tokens"]:
        return f"{tokens} tokens used of {budget['tokens']}"
    if budget.get("cost_usd") is not None and cost > budget["cost_usd"]:
        return f"${cost:.4f} spent of ${budget['cost_usd']}"
    if claims is not None and budget.get("attempts") is not None and claims > budget["attempts"]:
        return f"{claims} attempts used of {budget['attempts']}"
    return ""
