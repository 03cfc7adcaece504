"""Plan validation: a plan is checked whole, and refused whole, before anything is written.

Every problem is collected (not just the first), each naming the ids it concerns, so that
a planner — human or model — can fix all of them in one round.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from baton.model import Plan
from baton.model.contracts import schema_errors, violations
from baton.model.errors import InvalidPlan, PlanProblem


@dataclass(frozen=True)
class _Node:
    """The structural part of a task: enough to check ids, roles and the graph."""

    id: str
    role: str | None
    reviewer_role: str | None
    depends_on: tuple[str, ...]
    parent: str | None


def parse_plan(raw: Plan | Mapping[str, Any], *, existing: Iterable[str] = ()) -> Plan:
    """Validate ``raw`` into a :class:`Plan`, or raise :class:`InvalidPlan` naming every fault.

    Field errors do not hide graph errors: when pydantic refuses some fields, the graph
    is still checked as far as the raw data allows, so one round fixes everything.
    ``existing`` names tasks already on the run, which new tasks may depend on.
    """
    existing = set(existing)
    if isinstance(raw, Plan):
        plan = raw
    else:
        try:
            plan = Plan.model_validate(raw)
        except ValidationError as exc:
            problems = _pydantic_problems(exc, raw)
            bad = {tuple(e["loc"][:3]) for e in exc.errors()} | {e["loc"][:1] for e in exc.errors()}
            problems += structure_problems(*_raw_structure(raw, bad), existing)
            raise InvalidPlan(problems) from None
    problems = check_plan(plan, existing)
    if problems:
        raise InvalidPlan(problems)
    return plan


def _raw_structure(raw: Any, bad: set[tuple[Any, ...]]) -> tuple[list[_Node], set[str] | None]:
    """Best-effort nodes and roles from unvalidated data. Fields pydantic refused
    (their locations are in ``bad``) are left out, so one fault is not reported twice."""
    if not isinstance(raw, Mapping):
        return [], None
    roles = raw.get("roles")
    role_set = None
    if isinstance(roles, list) and all(isinstance(r, str) for r in roles) and ("roles",) not in bad:
        role_set = set(roles)
    nodes = []
    tasks = raw.get("tasks")
    for i, entry in enumerate(tasks if isinstance(tasks, list) else []):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        t = {k: v for k, v in entry.items() if ("tasks", i, k) not in bad}
        if "id" not in t:
            continue
        deps = t.get("depends_on", [])
        nodes.append(
            _Node(
                id=t["id"],
                role=t["role"] if isinstance(t.get("role"), str) else None,
                reviewer_role=t["reviewer_role"]
                if isinstance(t.get("reviewer_role"), str)
                else None,
                depends_on=tuple(d for d in deps if isinstance(d, str))
                if isinstance(deps, list)
                else (),
                parent=t["parent"] if isinstance(t.get("parent"), str) else None,
            )
        )
    return nodes, role_set


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


def check_plan(plan: Plan, existing: Iterable[str] = ()) -> list[PlanProblem]:
    """Every structural and contract problem of a well-typed plan (empty when valid)."""
    nodes = [
        _Node(t.id, t.role, t.reviewer_role, tuple(t.depends_on), t.parent) for t in plan.tasks
    ]
    problems = structure_problems(nodes, set(plan.roles), existing)
    for t in plan.tasks:
        problems.extend(_contract_problems(t.id, t.input, t.input_contract, t.output_contract))
    return problems


def structure_problems(
    nodes: list[_Node], roles: set[str] | None, existing: Iterable[str] = ()
) -> list[PlanProblem]:
    """Duplicate ids, unknown roles, dangling dependencies and parents, cycles.

    ``existing`` names tasks already on the board that new tasks may depend on.
    """
    problems: list[PlanProblem] = []
    ids = [n.id for n in nodes]
    outside = set(existing)
    for dup in sorted(i for i, n in Counter(ids).items() if n > 1 or i in outside):
        where = "is already on the run" if dup in outside else "is used twice"
        problems.append(PlanProblem("duplicate_id", f"task id {dup!r} {where}", (dup,)))
    known = set(ids)
    for n in nodes:
        for field, role in (("role", n.role), ("reviewer_role", n.reviewer_role)):
            if role is not None and roles is not None and role not in roles:
                problems.append(
                    PlanProblem(
                        "unknown_role",
                        f"task {n.id!r} needs {field} {role!r}, which is not in the plan's "
                        f"roles {sorted(roles)}",
                        (n.id,),
                    )
                )
        for dep in sorted(d for d, k in Counter(n.depends_on).items() if k > 1):
            problems.append(
                PlanProblem(
                    "duplicate_dependency",
                    f"task {n.id!r} lists dependency {dep!r} more than once",
                    (n.id, dep),
                )
            )
        for dep in n.depends_on:
            if dep == n.id:
                problems.append(PlanProblem("cycle", f"task {n.id!r} depends on itself", (n.id,)))
            elif dep not in known and dep not in outside:
                problems.append(
                    PlanProblem(
                        "dangling_dependency",
                        f"task {n.id!r} depends on {dep!r}, which is not in the plan",
                        (n.id, dep),
                    )
                )
        if n.parent == n.id:
            problems.append(
                PlanProblem("parent_cycle", f"task {n.id!r} is its own parent", (n.id,))
            )
        elif n.parent is not None and n.parent not in known and n.parent not in outside:
            problems.append(
                PlanProblem(
                    "unknown_parent",
                    f"task {n.id!r} has parent {n.parent!r}, which is not in the plan",
                    (n.id, n.parent),
                )
            )
    edges = {n.id: [d for d in n.depends_on if d in known and d != n.id] for n in nodes}
    for cycle in find_cycles(edges):
        path = " -> ".join([*cycle, cycle[0]])
        problems.append(PlanProblem("cycle", f"dependency cycle: {path}", tuple(cycle)))
    parents = {n.id: [n.parent] for n in nodes if n.parent in known and n.parent != n.id}
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
