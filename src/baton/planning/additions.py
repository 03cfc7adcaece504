"""Checking tasks added to a live run: from a peer's ``add_tasks`` or from a sub-plan.

Validated like a plan (whole, naming every offending id), and also against the run's
existing tasks: no dependency on a task that already failed, no parent that already
finished, no cycle through a parent that waits for its children.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from typing import Any

from baton.model import Run, Task, TaskSpec
from baton.model.errors import InvalidPlan, PlanProblem
from baton.model.specs import TASK_KEY_PATTERN
from baton.model.states import TERMINAL, TaskState
from baton.planning.graph import parse_plan


def validate_additions(
    run: Run,
    specs: Sequence[TaskSpec | Mapping[str, Any]],
    existing: Mapping[str, Task],
    *,
    expanding: Task | None = None,
    downstream: Mapping[str, Set[str]] | None = None,
) -> list[TaskSpec]:
    """New tasks for ``run``, checked against the run's roles and its existing tasks.

    ``existing`` needs to hold only the run's tasks that the specs name (their ids,
    dependencies and parents: :func:`named_keys`), so that growing a big run does not
    read it whole. ``expanding`` is the task whose sub-plan these are: each becomes its
    child, and it will wait for them. ``downstream`` maps the id of each existing parent
    (and of ``expanding``) to the ids of every task that waits for it: a child must not
    wait for one of those.

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
    problems.extend(_cycles_through_parents(plan.tasks, existing, expanding, downstream or {}))
    if problems:
        raise InvalidPlan(problems)
    return plan.tasks


def named_keys(specs: object) -> set[str]:
    """Every task key the (not yet validated) specs name: ids, dependencies, parents.
    Whatever could not be a task's key is skipped here (no task has it); validation
    names it."""
    keys: set[str] = set()
    for raw in _raw_specs(specs):
        for key in (raw.get("id"), raw.get("parent"), *_deps(raw)):
            if isinstance(key, str) and len(key) <= 200 and re.fullmatch(TASK_KEY_PATTERN, key):
                keys.add(key)
    return keys


def parents_to_check(
    specs: object, existing: Mapping[str, Task], expanding: Task | None
) -> list[Task]:
    """The parents whose downstream :func:`validate_additions` must be given: the
    existing tasks named as a parent, and ``expanding`` — and none unless a new task
    depends on an existing one, the only way a wait cycle through a parent can arise."""
    raws = _raw_specs(specs)
    if not any(d in existing for raw in raws for d in _deps(raw)):
        return []
    named = {raw.get("parent") for raw in raws}
    parents = [t for key, t in existing.items() if key in named]
    return [*parents, *([expanding] if expanding is not None else [])]


def _raw_specs(specs: object) -> list[Mapping[str, Any]]:
    items = specs if isinstance(specs, (list, tuple)) else ()
    raws = (s.model_dump() if isinstance(s, TaskSpec) else s for s in items)
    return [r for r in raws if isinstance(r, Mapping)]


def _deps(raw: Mapping[str, Any]) -> list[str]:
    deps = raw.get("depends_on")
    return [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []


def _cycles_through_parents(
    specs: Sequence[TaskSpec],
    existing: Mapping[str, Task],
    expanding: Task | None,
    downstream_of: Mapping[str, Set[str]],
) -> list[PlanProblem]:
    """A parent waits for its children, so a child must not wait — directly or through
    other new tasks — for its parent or for anything that waits for its parent."""
    new = {s.id: s for s in specs}
    problems = []
    for spec in specs:
        parent = expanding if expanding and spec.parent is None else existing.get(spec.parent or "")
        if parent is None:
            continue
        downstream = {parent.id, *downstream_of.get(parent.id, ())}
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
