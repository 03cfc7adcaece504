"""Applying one transition, and what follows from it, inside one store transaction.

Every state change goes through :func:`apply`: it looks the edge up in the one
transition table, writes the row guarded by the state and token it was read with, and
appends the event. :func:`settle` then carries the consequences of tasks that reached
a terminal state (dependents released, failed, skipped, blocked or cancelled; the run
finished) in the same transaction, iteratively so that long chains cannot overflow.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from baton.errors import BatonRuntimeError
from baton.models import Event, FailurePolicy, Run, RunState, Task
from baton.states import TERMINAL, Action, TaskState, next_state
from baton.store import Tx

T = TypeVar("T")


class Later(Generic[T]):
    """A result that needs the events' final ``seq``: resolved after ``Tx.flush()``."""

    def __init__(self, make: Callable[[], T]) -> None:
        self.make = make


NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_kind": None, "lease_expires_at": None}


async def apply(
    tx: Tx,
    task: Task,
    action: Action,
    *,
    actor: str,
    now: float,
    payload: dict[str, Any] | None = None,
    **changes: Any,
) -> Task:
    """Move ``task`` along ``action``; raises ``InvalidTransition`` and writes nothing if
    the table has no such edge."""
    new_state = next_state(task.id, task.state, action)
    updated = task.model_copy(update={**changes, "state": new_state, "updated_at": now})
    if not await tx.update_task(updated, expect_state=task.state.value, expect_token=task.token):
        raise BatonRuntimeError(
            f"task {task.id!r} changed under a locked transaction; this is a store bug"
        )
    body = {"from": task.state.value, "to": new_state.value, "token": updated.token}
    if payload:
        body.update(payload)
    await tx.append_event(task.run_id, task.id, f"task.{action.value}", actor, body, now)
    return updated


async def record(
    tx: Tx,
    task: Task,
    kind: str,
    *,
    actor: str,
    now: float,
    payload: dict[str, Any] | None = None,
    **changes: Any,
) -> Task:
    """Change lease fields without a state change (review leases, renewals), as an event."""
    updated = task.model_copy(update={**changes, "updated_at": now})
    if not await tx.update_task(updated, expect_state=task.state.value, expect_token=task.token):
        raise BatonRuntimeError(f"task {task.id!r} changed under a locked transaction")
    body = {"token": updated.token, **{k: v for k, v in changes.items() if k != "feedback"}}
    await tx.append_event(task.run_id, task.id, kind, actor, {**body, **(payload or {})}, now)
    return updated


def retry_delay(task: Task, failures: int, rng: random.Random) -> float:
    """Exponential backoff with equal jitter, bounded by ``backoff_max_s``."""
    if task.backoff_base_s <= 0:
        return 0.0
    full = min(task.backoff_max_s, task.backoff_base_s * 2 ** max(0, failures - 1))
    return float(full / 2 + rng.uniform(0, full / 2))


async def settle(tx: Tx, finished: list[Task], *, actor: str, now: float) -> None:
    """Carry the consequences of tasks that just reached a terminal state."""
    queue = deque(t for t in finished if t.state in TERMINAL)
    runs = {t.run_id for t in queue}
    left_open: dict[str, str] = {}  # task id -> run id, for follow-ups left unfinished
    while queue:
        task = queue.popleft()
        for follow in await _consequences(tx, task, actor=actor, now=now):
            runs.add(follow.run_id)
            if follow.state in TERMINAL:
                left_open.pop(follow.id, None)  # blocked by one step, failed by a later one
                queue.append(follow)
            else:
                left_open[follow.id] = follow.run_id
    # A follow-up this transaction leaves unfinished is locked by it until it commits,
    # so its run cannot be finished: no need to ask the store, which on the common path
    # (a task done, its successor ready) saves a query.
    for run_id in sorted(runs - set(left_open.values())):
        await finish_run_if_done(tx, run_id, actor=actor, now=now)


async def _consequences(tx: Tx, task: Task, *, actor: str, now: float) -> list[Task]:
    if task.state is TaskState.DONE:
        return await _release(tx, task, actor=actor, now=now)
    if task.state is TaskState.FAILED:
        # A task failed by a cascade passes the cascade on: the root's policy governs
        # everything downstream of it. Only a task that failed itself applies its own.
        cascaded = (task.last_error or {}).get("kind") == "dependency_failed"
        policy = FailurePolicy.CASCADE if cascaded else task.on_failure
        if policy is FailurePolicy.CONTINUE:
            return await _release(tx, task, actor=actor, now=now, failed_dep=task.id)
        if policy is FailurePolicy.WAIT:
            return await _wait(tx, task, actor=actor, now=now)
        action = Action.DEP_FAILED if policy is FailurePolicy.CASCADE else Action.DEP_SKIPPED
        return await _propagate(tx, task, action, actor=actor, now=now)
    if task.state is TaskState.SKIPPED:
        return await _propagate(tx, task, Action.DEP_SKIPPED, actor=actor, now=now)
    return [
        *await _propagate(tx, task, Action.CANCEL, actor=actor, now=now),
        *await _cancel_children(tx, task, actor=actor, now=now),
    ]


async def _cancel_children(tx: Tx, parent: Task, *, actor: str, now: float) -> list[Task]:
    """A cancelled parent's unfinished children are cancelled too (even running ones:
    their holders' next write gets ``LeaseLost``)."""
    if not parent.expand:
        return []
    out = []
    for child in await tx.run_tasks(parent.run_id):
        if child.parent_id == parent.id and child.state not in TERMINAL:
            out.append(
                await apply(
                    tx,
                    child,
                    Action.CANCEL,
                    actor=actor,
                    now=now,
                    payload={"reason": f"parent {parent.id!r} was cancelled"},
                    **NO_LEASE,
                )
            )
    return out


def _root_cause(task: Task) -> str:
    err = task.last_error or {}
    return str(err.get("root_cause", task.id))


async def _release(
    tx: Tx, task: Task, *, actor: str, now: float, failed_dep: str | None = None
) -> list[Task]:
    released = []
    payload: dict[str, Any] = {"after": task.id}
    if failed_dep:
        payload["failed_dependency"] = failed_dep
    for dependent in await tx.settle_dependency(task.id):
        if dependent.expand and dependent.output is not None:  # a parent: children all done
            released.append(await _finish_parent(tx, dependent, actor=actor, now=now))
            continue
        released.append(
            await apply(tx, dependent, Action.DEPS_DONE, actor=actor, now=now, payload=payload)
        )
    return released


async def _finish_parent(tx: Tx, parent: Task, *, actor: str, now: float) -> Task:
    children = [t for t in await tx.run_tasks(parent.run_id) if t.parent_id == parent.id]
    output = {"subplan": parent.output, "results": {c.key: c.output for c in children}}
    return await apply(
        tx,
        parent,
        Action.CHILDREN_DONE,
        actor=actor,
        now=now,
        payload={"output": output},
        output=output,
    )


async def _wait(tx: Tx, task: Task, *, actor: str, now: float) -> list[Task]:
    await tx.settle_dependency(task.id)  # a human's unblock later counts it as settled
    blocked = []
    for dependent in await tx.dependents(task.id):
        if dependent.state is TaskState.PENDING:
            reason = f"dependency {task.id!r} failed; waiting for a human to unblock or cancel"
            blocked.append(
                await apply(
                    tx,
                    dependent,
                    Action.DEP_WAIT,
                    actor=actor,
                    now=now,
                    payload={"dependency": task.id, "reason": reason},
                    blocked_reason=reason,
                )
            )
    return blocked


async def _propagate(tx: Tx, task: Task, action: Action, *, actor: str, now: float) -> list[Task]:
    """Fail, skip or cancel every dependent that has not started, naming the root cause."""
    root = _root_cause(task)
    out = []
    for dependent in await tx.dependents(task.id):
        if dependent.state not in (TaskState.PENDING, TaskState.BLOCKED):
            continue
        error = {"kind": f"dependency_{task.state.value}", "root_cause": root, "via": task.id}
        out.append(
            await apply(
                tx,
                dependent,
                action,
                actor=actor,
                now=now,
                payload={"root_cause": root, "via": task.id},
                last_error=error,
                blocked_reason=None,
            )
        )
    return out


async def finish_run_if_done(tx: Tx, run_id: str, *, actor: str, now: float) -> None:
    if await tx.has_open_tasks(run_id):  # the common case, and one indexed probe
        return
    run = await tx.get_run(run_id)
    if run is None or run.state not in (RunState.ACTIVE, RunState.PAUSED):
        return
    await tx.set_run_state(run_id, RunState.FINISHED, now)
    await tx.append_event(run_id, None, "run.finished", actor, {}, now)


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


async def pause_if_over(tx: Tx, run: Run, now: float) -> bool:
    over = over_budget(run.budget, run.tokens_used, run.cost_used, run.claims)
    if not over or run.state is not RunState.ACTIVE:
        return bool(over)
    reason = f"run budget exceeded: {over}"
    await tx.set_run_state(run.id, RunState.PAUSED, None, reason)
    await tx.append_event(run.id, None, "run.paused", "budget", {"reason": reason}, now)
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
