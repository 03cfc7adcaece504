"""Checking tasks added to a live run: from a peer's ``add_tasks`` or from a sub-plan.

Validated like a plan (whole, naming every offending id), and also against the run's
existing tasks: no dependency on a task that already failed, no parent that already
finished, no cycle through a parent that waits for its children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.model import Run, Task, TaskSpec
from baton.model.errors import InvalidPlan, PlanProblem
from baton.model.states import TERMINAL, TaskState
from baton.planning.graph import parse_plan


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
