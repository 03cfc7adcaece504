"""Plan validation: a plan is checked whole, and refused whole, before anything is written.

Every problem is collected (not just the first), each naming the ids it concerns, so that
a planner — human or model — can fix all of them in one round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from baton.contracts import schema_errors, violations
from baton.errors import InvalidPlan, PlanProblem
from baton.models import Plan


def parse_plan(raw: Plan | Mapping[str, Any]) -> Plan:
    """Validate ``raw`` into a :class:`Plan`, or raise :class:`InvalidPlan` naming every fault."""
    if isinstance(raw, Plan):
        plan = raw
    else:
        try:
            plan = Plan.model_validate(raw)
        except ValidationError as exc:
            raise InvalidPlan(_pydantic_problems(exc, raw)) from None
    problems = check_plan(plan)
    if problems:
        raise InvalidPlan(problems)
    return plan


def _pydantic_problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[PlanProblem]:
    tasks = raw.get("tasks") if isinstance(raw, Mapping) else None
    problems = []
    for err in exc.errors():
        loc = err["loc"]
        ids: tuple[str, ...] = ()
        if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
            task = tasks[loc[1]] if isinstance(tasks, list) and loc[1] < len(tasks) else None
            if isinstance(task, Mapping) and isinstance(task.get("id"), str):
                ids = (task["id"],)
        where = ".".join(str(p) for p in loc) or "<plan>"
        problems.append(PlanProblem("field", f"{where}: {err['msg']}", ids))
    return problems


def check_plan(plan: Plan) -> list[PlanProblem]:
    """Every structural problem of an already well-typed plan (empty when it is valid)."""
    problems: list[PlanProblem] = []
    ids = [t.id for t in plan.tasks]
    for dup in sorted(i for i, n in Counter(ids).items() if n > 1):
        problems.append(PlanProblem("duplicate_id", f"task id {dup!r} is used twice", (dup,)))
    known = set(ids)
    roles = set(plan.roles)
    for t in plan.tasks:
        for field, role in (("role", t.role), ("reviewer_role", t.reviewer_role)):
            if role is not None and role not in roles:
                problems.append(
                    PlanProblem(
                        "unknown_role",
                        f"task {t.id!r} needs {field} {role!r}, which is not in the plan's "
                        f"roles {sorted(roles)}",
                        (t.id,),
                    )
                )
        for dep in t.depends_on:
            if dep == t.id:
                problems.append(PlanProblem("cycle", f"task {t.id!r} depends on itself", (t.id,)))
            elif dep not in known:
                problems.append(
                    PlanProblem(
                        "dangling_dependency",
                        f"task {t.id!r} depends on {dep!r}, which is not in the plan",
                        (t.id, dep),
                    )
                )
        if t.parent is not None and t.parent not in known:
            problems.append(
                PlanProblem(
                    "unknown_parent",
                    f"task {t.id!r} has parent {t.parent!r}, which is not in the plan",
                    (t.id, t.parent),
                )
            )
        problems.extend(_contract_problems(t.id, t.input, t.input_contract, t.output_contract))
    edges = {t.id: [d for d in t.depends_on if d in known and d != t.id] for t in plan.tasks}
    for cycle in find_cycles(edges):
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(PlanProblem("cycle", f"dependency cycle: {path}", tuple(cycle)))
    parents = {t.id: [t.parent] for t in plan.tasks if t.parent in known and t.parent != t.id}
    for t in plan.tasks:
        if t.parent == t.id:
            problems.append(
                PlanProblem("parent_cycle", f"task {t.id!r} is its own parent", (t.id,))
            )
    for cycle in find_cycles({k: [p for p in v if p] for k, v in parents.items()}):
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(PlanProblem("parent_cycle", f"parent cycle: {path}", tuple(cycle)))
    return problems


def _contract_problems(
    task_id: str, task_input: Any, input_contract: Any, output_contract: Any
) -> Iterable[PlanProblem]:
    for name, schema in (("input_contract", input_contract), ("output_contract", output_contract)):
        if schema is not None:
            for err in schema_errors(schema):
                yield PlanProblem(
                    "invalid_contract", f"task {task_id!r} {name} is not valid: {err}", (task_id,)
                )
    if input_contract is not None and not schema_errors(input_contract):
        for err in violations(task_input, input_contract):
            yield PlanProblem(
                "input_breaks_contract",
                f"task {task_id!r} input breaks its input_contract: {err}",
                (task_id,),
            )


def find_cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """One concrete cycle per strongly connected component with more than one node.

    Iterative Tarjan, so a 100,000-task chain does not hit the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    components.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return [_cycle_in(set(comp), edges) for comp in components]


def _cycle_in(component: set[str], edges: Mapping[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's smallest id (stable, readable output)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for succ in edges.get(node, []):
                if succ not in component:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return list(reversed(path))
                if succ not in came_from:
                    came_from[succ] = node
                    nxt_frontier.append(succ)
        frontier = nxt_frontier
    return sorted(component)  # unreachable for a real SCC


def topological_order(edges: Mapping[str, list[str]]) -> list[str]:
    """Dependencies before dependents (Kahn); assumes ``edges`` is acyclic."""
    indegree = {n: len(deps) for n, deps in edges.items()}
    dependents: dict[str, list[str]] = {n: [] for n in edges}
    for n, deps in edges.items():
        for d in deps:
            dependents[d].append(n)
    order = [n for n, k in indegree.items() if k == 0]
    for n in order:
        for m in dependents[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                order.append(m)
    return order
