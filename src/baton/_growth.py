"""Putting tasks on a run: from a plan, from a peer's ``add_tasks``, or from a sub-plan.

All three go through here so that they are validated the same way (whole, naming every
offending id) and built the same way (global ids, dependency counters, events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.errors import InvalidPlan, PlanProblem
from baton.graph import parse_plan
from baton.models import Plan, Run, Task, TaskSpec
from baton.states import TERMINAL, TaskState
from baton.store import Tx


def validate_additions(
    run: Run,
    specs: Sequence[TaskSpec | Mapping[str, Any]],
    existing: Mapping[str, Task],
    *,
    expanding: Task | None = None,
) -> list[TaskSpec]:
    """New tasks for ``run``, checked against the run's roles and its existing tasks.

    ``expanding`` is the task whose sub-plan these are: each becomes its child, and it
    will wait for them.

    Raises:
        InvalidPlan: naming every fault; nothing is written.
    """
    raw = {
        "goal": run.goal,
        "roles": run.roles,
        "tasks": [s.model_dump() if isinstance(s, TaskSpec) else s for s in specs],
    }
    plan = parse_plan(raw, existing=existing)
    problems = []
    for spec in plan.tasks:
        parent = existing.get(spec.parent or "")
        if parent is not None and parent.state in TERMINAL:
            problems.append(
                PlanProblem(
                    "parent_finished",
                    f"task {spec.id!r} has parent {parent.key!r}, which is {parent.state.value}",
                    (spec.id, parent.key),
                )
            )
        for dep in spec.depends_on:
            old = existing.get(dep)
            if old is not None and old.state in TERMINAL and old.state is not TaskState.DONE:
                problems.append(
                    PlanProblem(
                        "dependency_finished",
                        f"task {spec.id!r} depends on {dep!r}, which is {old.state.value}",
                        (spec.id, dep),
                    )
                )
    problems.extend(_cycles_through_parents(plan.tasks, existing, expanding))
    if problems:
        raise InvalidPlan(problems)
    return plan.tasks


def _cycles_through_parents(
    specs: Sequence[TaskSpec], existing: Mapping[str, Task], expanding: Task | None
) -> list[PlanProblem]:
    """A parent waits for its children, so a child must not wait — directly or through
    other new tasks — for its parent or for anything that waits for its parent."""
    waits_on: dict[str, list[str]] = {}  # existing id -> existing ids depending on it
    for t in existing.values():
        for dep in t.depends_on:
            waits_on.setdefault(dep, []).append(t.id)
    new = {s.id: s for s in specs}
    problems = []
    for spec in specs:
        parent = expanding if expanding and spec.parent is None else existing.get(spec.parent or "")
        if parent is None:
            continue
        downstream, stack = {parent.id}, [parent.id]
        while stack:
            for nxt in waits_on.get(stack.pop(), []):
                if nxt not in downstream:
                    downstream.add(nxt)
                    stack.append(nxt)
        seen, todo = set(), list(spec.depends_on)
        while todo:
            dep = todo.pop()
            if dep in seen:
                continue
            seen.add(dep)
            if dep in new:
                todo.extend(new[dep].depends_on)
            elif dep in existing and existing[dep].id in downstream:
                problems.append(
                    PlanProblem(
                        "cycle",
                        f"task {spec.id!r} would wait for {dep!r}, which waits for its parent "
                        f"{parent.key!r}, which waits for {spec.id!r}",
                        (spec.id, dep, parent.key),
                    )
                )
                break
    return problems


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
    """Insert tasks built from validated ``specs`` and their ``task.created`` events."""
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
                "task.created",
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
    from baton.models import RunState

    return Run(
        id=run_id,
        goal=plan.goal,
        state=RunState.ACTIVE,
        roles=plan.roles,
        labels=plan.labels,
        created_at=now,
        budget=plan.budget.model_dump(exclude_none=True) if plan.budget else None,
    )
