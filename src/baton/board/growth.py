"""Putting validated tasks on a run: from a plan, from a peer's ``add_tasks``, or from a
sub-plan. All three are built the same way here: global ids, dependency counters, the
``task.created`` events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.model import Plan, Run, RunState, Task, TaskSpec, TaskState
from baton.model.events import EventKind
from baton.model.policies import apply_task_rules
from baton.planning.additions import named_keys, parents_to_check
from baton.store import Tx


async def named_tasks(
    tx: Tx, run_id: str, specs: Sequence[TaskSpec | Mapping[str, Any]], expanding: Task | None
) -> tuple[dict[str, Task], dict[str, set[str]]]:
    """What checking additions to a run needs of it, read by key and not whole (a
    100-task addition to a 1,000,000-task run read the run for 35 s: bench/scale.py):
    the run's tasks that the specs name, locked, by key, and the downstream of each
    parent a cycle could run through (``validate_additions``)."""
    ids = [f"{run_id}/{key}" for key in sorted(named_keys(specs))]
    existing = {t.key: t for t in await tx.tasks_by_id(ids) if t.run_id == run_id}
    parents = parents_to_check(specs, existing, expanding)
    return existing, {p.id: await tx.downstream(p.id) for p in parents}


async def put_tasks(
    tx: Tx,
    run_id: str,
    specs: Sequence[TaskSpec],
    *,
    existing: Mapping[str, Task],
    parent_id: str | None,
    actor: str,
    now: float,
) -> list[Task]:
    """Insert tasks built from validated ``specs`` and their ``task.created`` events,
    as the run's policy makes them (approvals, task budgets and limits)."""
    policy = await tx.run_policy(run_id)
    if policy is not None:
        specs, _ = apply_task_rules(specs, policy.policy)
    base = await tx.next_created_seq()
    tasks = []
    for i, s in enumerate(specs):
        pending = sum(1 for d in s.depends_on if _unsettled(existing.get(d)))
        parent = f"{run_id}/{s.parent}" if s.parent else parent_id
        tasks.append(
            Task(
                id=f"{run_id}/{s.id}",
                key=s.id,
                run_id=run_id,
                **s.model_dump(exclude={"id", "depends_on", "parent"}),
                depends_on=sorted(f"{run_id}/{d}" for d in s.depends_on),
                parent_id=parent,
                created_seq=base + i,
                state=TaskState.PENDING if pending else TaskState.READY,
                pending_deps=pending,
                updated_at=now,
            )
        )
    await tx.insert_tasks(tasks)
    await tx.append_events(
        [
            (
                run_id,
                t.id,
                EventKind.TASK_CREATED,
                actor,
                {"to": t.state.value, "spec": s.model_dump(mode="json")},
                now,
            )
            for t, s in zip(tasks, specs, strict=True)
        ]
    )
    return tasks


def _unsettled(dep: Task | None) -> bool:
    """A dependency among the new tasks (``None``) or an unfinished existing one."""
    return dep is None or dep.state is not TaskState.DONE


def plan_run(plan: Plan, run_id: str, now: float) -> Run:
    """The run a validated plan becomes, before its tasks are put on it."""
    return Run(
        id=run_id,
        goal=plan.goal,
        state=RunState.ACTIVE,
        roles=plan.roles,
        labels=plan.labels,
        created_at=now,
        budget=plan.budget.model_dump(exclude_none=True) if plan.budget else None,
    )
