"""The one comparison rule for every limit Baton enforces, as pure functions.

**A budget of N allows exactly N.** Spending that reaches N is allowed; only going
past N is over: N + 1 attempts, a token count or cost above N, more than N seconds of
wall time. A limit that has been reached (N of N used) leaves nothing to spend, so a
run at its limit may not resume until the limit is raised, and a task that has failed
``max_attempts`` times (or been rejected ``max_review_rounds`` times) is done trying.

Every check — run and task budgets (tokens, cost, attempts, wall time), a task's
attempts and review rounds, the worker's "budget left" — goes through these, so the
boundary is the same everywhere (``tests/test_budgets.py`` holds it at N - 1, N, N + 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def past(used: float, limit: float | None) -> bool:
    """Over the limit: more than N of a budget of N (no limit: never)."""
    return limit is not None and used > limit


def reached(used: float, limit: float | None) -> bool:
    """Nothing left: N (or more) of a budget of N used (no limit: never)."""
    return limit is not None and used >= limit


def remaining(used: float, limit: float | None) -> float | None:
    """What is left of the limit (``None``: unlimited; negative: past it)."""
    return None if limit is None else limit - used


def over_budget(
    budget: Mapping[str, Any] | None, tokens: int, cost: float, claims: int | None = None
) -> str:
    """Which limit of ``budget`` the spending is past, in words; empty when none is."""
    if not budget:
        return ""
    if past(tokens, budget.get("tokens")):
        return f"{tokens} tokens used of {budget['tokens']}"
    if past(cost, budget.get("cost_usd")):
        return f"${cost:.4f} spent of ${budget['cost_usd']}"
    if claims is not None and past(claims, budget.get("attempts")):
        return f"{claims} attempts used of {budget['attempts']}"
    return ""


def exhausted(
    budget: Mapping[str, Any] | None, *, tokens: int, cost: float, claims: int, elapsed_s: float
) -> str:
    """Which limit of ``budget`` has nothing left (reached or past), in words; empty
    when every limit has some left. Stricter than :func:`over_budget` by design: a run
    exactly at a limit may go on with what it is doing, but not resume."""
    if not budget:
        return ""
    checks = (
        ("tokens", tokens, f"{tokens} tokens used of {budget.get('tokens')}"),
        ("cost_usd", cost, f"${cost:.4f} spent of ${budget.get('cost_usd')}"),
        ("attempts", claims, f"{claims} attempts used of {budget.get('attempts')}"),
        ("wall_s", elapsed_s, f"{elapsed_s:.0f}s elapsed of {budget.get('wall_s')}"),
    )
    for key, used, words in checks:
        if reached(used, budget.get(key)):
            return words
    return ""
