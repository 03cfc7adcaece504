"""Carrying the consequences of tasks that reached a terminal state, in the same
transaction: dependents released, failed, skipped, blocked or cancelled; children of a
cancelled parent cancelled; the run finished. Iterative, so long chains cannot overflow.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from baton.board.escalations import escalate_in
from baton.board.transitions import apply
from baton.model import FailurePolicy, RunState, Task
from baton.model.changes import TaskChanges
from baton.model.events import EventKind
from baton.model.states import TERMINAL, Action, TaskState
from baton.store import Tx


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
                    changes=TaskChanges(clear_lease=True),
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
        changes=TaskChanges(output=output),
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
                    changes=TaskChanges(blocked_reason=reason),
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
                changes=TaskChanges(last_error=error, blocked_reason=None),
            )
        )
    return out


def required_failures(tasks: Sequence[Task]) -> list[Task]:
    """The tasks whose failure makes their run fail: every task that ended ``failed`` or
    ``skipped``, except one that failed itself under ``on_failure=continue`` (its
    dependents ran anyway, so it was not required)."""
    out = []
    for t in tasks:
        if t.state is TaskState.SKIPPED:
            out.append(t)
        elif t.state is TaskState.FAILED:
            cascaded = (t.last_error or {}).get("kind") == "dependency_failed"
            if cascaded or t.on_failure is not FailurePolicy.CONTINUE:
                out.append(t)
    return out


#: How many failed task ids a ``run.failed`` event names (its ``failed_count`` is exact).
FAILED_IDS_SHOWN = 50


async def finish_run_if_done(tx: Tx, run_id: str, *, actor: str, now: float) -> None:
    """End the run once every task is terminal: ``finished`` if its required work
    succeeded, else ``failed`` — with a ``run.failed`` event naming the failed tasks
    and an escalation for a human, so that a failed run is never mistaken for success."""
    if await tx.has_open_tasks(run_id):  # the common case, and one indexed probe
        return
    run = await tx.get_run(run_id)
    if run is None or run.state not in (RunState.ACTIVE, RunState.PAUSED):
        return
    failed = required_failures(await tx.run_tasks(run_id))
    if not failed:
        await tx.set_run_state(run_id, RunState.FINISHED, now)
        await tx.append_event(run_id, None, EventKind.RUN_FINISHED, actor, {}, now)
        return
    roots = sorted({_root_cause(t) for t in failed})
    reason = (
        f"run {run_id!r} failed: {len(failed)} task(s) did not succeed "
        f"(root cause: {', '.join(roots[:5])}{', …' if len(roots) > 5 else ''})"
    )
    payload = {
        "reason": reason,
        "failed_count": len(failed),
        "failed": [t.id for t in failed[:FAILED_IDS_SHOWN]],
        "root_causes": roots[:FAILED_IDS_SHOWN],
    }
    await tx.set_run_state(run_id, RunState.FAILED, now)
    await tx.append_event(run_id, None, EventKind.RUN_FAILED, actor, payload, now)
    await escalate_in(tx, run_id, "run_failed", reason, payload, None, now, actor)
