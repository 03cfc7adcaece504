"""Plans within the board's limits: every task's input and contracts plain JSON of a
bounded size, text of a bounded length, not too many tasks. Checked with the plan, so a
plan over a limit is refused whole, naming each offending task, before anything is
written."""

from __future__ import annotations

from collections.abc import Sequence

from baton.model import Plan, TaskSpec
from baton.model.errors import InvalidPlan, PlanProblem
from baton.model.limits import Limits, json_problem, text_problem


def limit_problems(goal: str, tasks: Sequence[TaskSpec], limits: Limits) -> list[PlanProblem]:
    """Every way ``tasks`` (and ``goal``) break ``limits``, each naming its task."""
    problems = []
    if len(tasks) > limits.max_tasks:
        problems.append(
            PlanProblem(
                "too_many_tasks",
                f"{len(tasks):,} tasks; the limit is {limits.max_tasks:,} (Limits.max_tasks)",
            )
        )
    if len(goal) > limits.max_text:
        problems.append(
            PlanProblem(
                "too_long",
                f"the goal is {len(goal):,} characters; the limit is "
                f"{limits.max_text:,} (Limits.max_text)",
            )
        )
    if text_problem(goal):
        problems.append(PlanProblem("not_text", f"the goal {text_problem(goal)}"))
    for spec in tasks:
        strings = [spec.title, spec.description, spec.role, spec.reviewer_role or ""]
        strings += [spec.parent or "", *spec.acceptance_criteria, *spec.labels, *spec.depends_on]
        bad = next((text_problem(s) for s in strings if text_problem(s)), "")
        if bad:
            problems.append(
                PlanProblem("not_text", f"task {spec.id!r} has text that {bad}", (spec.id,))
            )
    for spec in tasks:
        for field in ("input", "input_contract", "output_contract"):
            problem = json_problem(getattr(spec, field), limits=limits)
            if problem is not None:
                problems.append(
                    PlanProblem("not_json", f"task {spec.id!r} {field}: {problem}", (spec.id,))
                )
        texts = [("title", spec.title), ("description", spec.description)]
        texts += [(f"acceptance_criteria[{i}]", c) for i, c in enumerate(spec.acceptance_criteria)]
        for field, text in texts:
            if len(text) > limits.max_text:
                problems.append(
                    PlanProblem(
                        "too_long",
                        f"task {spec.id!r} {field} is {len(text):,} characters; the limit is "
                        f"{limits.max_text:,} (Limits.max_text)",
                        (spec.id,),
                    )
                )
    return problems


def check_plan_limits(plan: Plan, limits: Limits) -> Plan:
    """``plan`` if it is within ``limits``; else :class:`InvalidPlan` with every fault."""
    problems = limit_problems(plan.goal, plan.tasks, limits)
    if problems:
        raise InvalidPlan(problems)
    return plan
