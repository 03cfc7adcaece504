"""What the tools show an agent, read from the Board: the tasks it could claim, a
claimed lease, a task's whole context, a run's status in words.

The context is the one a ``Worker`` hands its agents (:class:`TaskContext` and its
``card``), plus what an agent outside a worker also needs to know: the output contract
its submit is checked against, its lease, and where the task goes after submit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton.board import BoardAPI
from baton.model import Lease, LeaseKind, Run, RunState, Task, TaskState
from baton.runtime.agents.context import DependencyResult, TaskContext
from baton.views.narration import narrate

#: Messages a context shows (the most recent; ``read_messages`` has the rest).
CONTEXT_MESSAGES = 50


def after_submit(task: Task) -> str:
    """Where the task goes when its output is submitted, as the spec says."""
    if task.expand:
        return "its output is a sub-plan: the children join the run and this task waits for them"
    if task.reviewer_role:
        gate = " then to a human approval gate" if task.requires_approval else ""
        return f"to review by the {task.reviewer_role} role{gate}"
    if task.requires_approval:
        return "to a human approval gate (someone with the approve grant)"
    return "straight to done"


def where_now(task: Task) -> str:
    """What the task's state means for the agent that just moved it."""
    state = task.state
    if state is TaskState.DONE:
        return "done"
    if state is TaskState.IN_REVIEW:
        return f"in review: waits for the {task.reviewer_role} role to approve or reject it"
    if state is TaskState.AWAITING_APPROVAL:
        return "at its approval gate: waits for a person with the approve grant"
    if state is TaskState.READY:
        return "ready: it may be claimed again (after its retry backoff)"
    if state is TaskState.PENDING:
        return "pending: it waits for its dependencies (or its children)"
    return state.value


def lease_view(lease: Lease) -> dict[str, Any]:
    """A claimed lease, with what to do with it."""
    task = lease.task
    return {
        "claimed": True,
        "task_id": task.id,
        "run_id": task.run_id,
        "title": task.title or task.key,
        "kind": lease.kind.value,
        "role": task.reviewer_role if lease.kind is LeaseKind.REVIEW else task.role,
        "token": lease.token,
        "expires_at": lease.expires_at,
        "next": (
            f"read_task_context('{task.id}'); heartbeat with token {lease.token} before "
            "expires_at; then "
            + (
                "approve or reject with this token"
                if lease.kind is LeaseKind.REVIEW
                else "submit (or fail, block, release) with this token"
            )
        ),
    }


def _lease_of(task: Task, me: str) -> Lease | None:
    """The task's current lease, if ``me`` holds it."""
    if task.lease_owner != me or task.lease_kind is None:
        return None
    return Lease(
        task=task,
        owner=me,
        token=task.token,
        kind=LeaseKind(task.lease_kind),
        expires_at=task.lease_expires_at or 0.0,
    )


async def task_context(board: BoardAPI, task_id: str) -> dict[str, Any]:
    """Everything an agent needs for the task: the worker's card (goal, input,
    acceptance criteria, dependencies' outputs, review feedback, earlier contract
    errors, messages) and the output contract, the caller's lease, where submit leads,
    the artifacts it may read and the task's reservations."""
    task = await board.get_task(task_id)
    briefing = await board.briefing(
        task.run_id, messages=CONTEXT_MESSAGES, dependencies=task.depends_on
    )
    deps = {d.key: DependencyResult.of(d) for d in briefing.dependencies}
    mine = _lease_of(task, board.principal.id)
    viewing = mine or Lease(
        task=task,
        owner=task.lease_owner or "",
        token=task.token,
        kind=LeaseKind.REVIEW if task.state is TaskState.IN_REVIEW else LeaseKind.WORK,
        expires_at=task.lease_expires_at or 0.0,
    )
    context = TaskContext(
        task=task,
        lease=viewing,
        run=briefing.run,
        board=board,
        dependencies=deps,
        messages=briefing.messages,
    )
    readable = await board.artifacts(task.run_id, task_id=task.id)
    held = [r for r in await board.reservations(task.run_id) if r.task_id == task.id]
    return {
        "task_id": task.id,
        "run_id": task.run_id,
        "state": task.state.value,
        **context.card(),
        "output_contract": task.output_contract,
        "artifacts": [  # read them with read_artifact (scope as given here)
            {"name": a.name, "scope": a.scope, "kind": a.kind.value, "head": a.head}
            for a in readable
        ],
        "reservations": [
            {"resource": r.resource, "mode": r.mode.value, "holder": r.holder} for r in held
        ],
        "after_submit": after_submit(task),
        "your_lease": (
            {"token": mine.token, "kind": mine.kind.value, "expires_at": mine.expires_at}
            if mine
            else None
        ),
    }


def _claimable(task: Task, roles: set[str], me: str, now: float) -> str | None:
    """The lease a claim of ``task`` would give (``work``/``review``), or ``None``."""
    if task.state is TaskState.READY and task.role in roles:
        return "work"
    review_free = task.lease_owner is None or (task.lease_expires_at or 0.0) < now
    if (
        task.state is TaskState.IN_REVIEW
        and task.reviewer_role in roles
        and task.worked_by != me
        and review_free
    ):
        return "review"
    return None


async def ready_tasks(
    board: BoardAPI, roles: Sequence[str], run_id: str | None, limit: int
) -> dict[str, Any]:
    """The tasks a claim for ``roles`` could take now or soon (after a retry backoff),
    best first, as ``claim`` orders them: priority, then age."""
    me = board.principal
    wanted = set(roles or me.roles)
    runs: list[Run] = (
        [await board.get_run(run_id)] if run_id is not None else await board.list_runs()
    )
    now = board.clock()
    found: list[tuple[Task, str]] = []
    for run in runs:
        if run.state is not RunState.ACTIVE:
            continue
        for task in await board.tasks(run.id):
            kind = _claimable(task, wanted, me.id, now)
            if kind is not None:
                found.append((task, kind))
    found.sort(key=lambda tk: (-tk[0].priority, tk[0].created_seq))
    return {
        "roles": sorted(wanted),
        "tasks": [
            {
                "task_id": t.id,
                "run_id": t.run_id,
                "title": t.title or t.key,
                "role": t.reviewer_role if kind == "review" else t.role,
                "kind": kind,
                "priority": t.priority,
                "claimable_in_s": max(0.0, round(t.not_before - now, 3)),
            }
            for t, kind in found[:limit]
        ],
        "more": max(0, len(found) - limit),
    }


async def run_status(board: BoardAPI, run_id: str) -> dict[str, Any]:
    """The run, its task counts by state, and its narration in plain words."""
    run = await board.get_run(run_id)
    return {
        "run_id": run.id,
        "goal": run.goal,
        "state": run.state.value,
        "counts": await board.count_by_state(run_id),
        "narration": await narration(board, run_id, run=run),
    }


async def narration(board: BoardAPI, run_id: str, *, run: Run | None = None) -> str:
    """The run in plain words (:func:`baton.views.narration.narrate`)."""
    run = run or await board.get_run(run_id)
    tasks = await board.tasks(run_id)
    return narrate(run, tasks, await board.escalations(run_id), now=board.clock())
