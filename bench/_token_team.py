"""A realistic multi-role plan for bench/tokens.py, in any size: a planner, coders,
a reviewer, testers, a writer and ops, with shared documents.

``team_plan(modules)`` is one planning task; the planner expands it into::

    plan ─┬─ code_001 (reviewed) ── test_001 ─┐
          ├─ code_002 (reviewed) ── test_002 ─┼─ integrate_01 ─┐
          ├─ …                                 ┘  (4 modules)   ├─ docs (reviewed) ── release
          └─ code_NNN … ──────────────────────── integrate_NN ──┘

1 + 2 * modules + ⌈modules / 4⌉ + 2 tasks (the code tasks get their module from the
plan, in their input, not the planner's whole output). Every third module's code is returned once by
the reviewer, with two issues, and reworked. The planner posts one note to everyone;
each tester posts a note to the writer. Shared documents: ``requirements.md`` (the
planner and the testers read it), ``api_spec.md`` (coders, testers, the writer),
``style_guide.md`` (coders and the writer) — each task names the ones in its scope in
``input.documents``. The agents are deterministic functions (their real outputs are
small; the benchmark sizes them like a model's, see ``_token_text``).
"""

from __future__ import annotations

from typing import Any

from baton.agents import FunctionAgent, TaskContext, Verdict

ROLES = ["planner", "coder", "reviewer", "tester", "writer", "ops"]
GROUP = 4  # modules per integration task

#: The shared documents and their sizes in tokens.
DOCUMENTS = {"requirements.md": 1500, "api_spec.md": 1200, "style_guide.md": 600}

ISSUES = ["handle the empty page of results", "validate the limit parameter (1..100)"]


def team_plan(modules: int) -> dict[str, Any]:
    """The run as it starts: one planning task, which the planner expands."""
    return {
        "goal": f"Ship order history ({modules} modules)",
        "roles": ROLES,
        "tasks": [
            {
                "id": "plan",
                "title": "Plan the order-history feature",
                "role": "planner",
                "expand": True,
                "description": "Read the requirements and split the work into modules with "
                "clear interfaces: one task per module to write it and one to test it, "
                "integration, docs and the release.",
                "input": {"modules": modules, "documents": ["requirements.md", "style_guide.md"]},
                "acceptance_criteria": ["every requirement maps to a module", "interfaces named"],
            }
        ],
    }


def module_tasks(modules: int) -> list[dict[str, Any]]:
    """The planner's sub-plan: what it writes (and what the board then runs)."""
    groups = [list(range(g, min(g + GROUP, modules + 1))) for g in range(1, modules + 1, GROUP)]
    tasks: list[dict[str, Any]] = []
    for k in range(1, modules + 1):
        tasks.append(
            {
                "id": f"code_{k:03d}",
                "title": f"Implement module {k} of the order-history service",
                "role": "coder",
                "reviewer_role": "reviewer",
                "description": f"Module {k} owns part {k} of the orders API: its handlers, "
                "its queries and their unit tests. Keep to the interfaces of the plan.",
                "input": {"module": k, "documents": ["api_spec.md", "style_guide.md"]},
                "acceptance_criteria": [
                    "follows the API spec and the style guide",
                    "unit tests cover the error cases",
                ],
            }
        )
        tasks.append(
            {
                "id": f"test_{k:03d}",
                "title": f"Integration tests for module {k}",
                "role": "tester",
                "depends_on": [f"code_{k:03d}"],
                "input": {"module": k, "documents": ["api_spec.md", "requirements.md"]},
                "acceptance_criteria": ["each requirement of the module has a test"],
            }
        )
    for g, members in enumerate(groups, start=1):
        tasks.append(
            {
                "id": f"integrate_{g:02d}",
                "title": f"Integrate modules {members[0]}-{members[-1]}",
                "role": "coder",
                "depends_on": [f"test_{k:03d}" for k in members],
                "input": {"documents": ["api_spec.md"]},
                "acceptance_criteria": ["the modules build and pass together"],
            }
        )
    integrations = [f"integrate_{g:02d}" for g in range(1, len(groups) + 1)]
    tasks.append(
        {
            "id": "docs",
            "title": "Document the order-history API",
            "role": "writer",
            "depends_on": integrations,
            "reviewer_role": "reviewer",
            "input": {"documents": ["api_spec.md", "style_guide.md"]},
            "acceptance_criteria": ["every endpoint has an example", "errors are listed"],
        }
    )
    tasks.append(
        {
            "id": "release",
            "title": "Release the order-history service",
            "role": "ops",
            "depends_on": ["docs", *integrations],
            "acceptance_criteria": ["rolled out behind a flag", "rollback documented"],
        }
    )
    return tasks


async def planner(ctx: TaskContext) -> dict[str, Any]:
    count = int(ctx.input["modules"])
    await ctx.post_message(
        "note",
        {"text": "Conventions: cursor pagination everywhere, amounts in integer cents, "
         "errors as problem+json; ask the planner before changing an interface."},
    )  # fmt: skip
    return {"tasks": module_tasks(count)}


async def coder(ctx: TaskContext) -> dict[str, Any]:
    fixed = [item for round_ in ctx.feedback for item in round_["items"]]
    return {"files": [f"orders/{ctx.task.key}.py"], "fixed": fixed, "draft": 1 + len(fixed) // 2}


def reviewer(ctx: TaskContext) -> Verdict:
    key = ctx.task.key
    first_round = not ctx.feedback
    if key.startswith("code_") and int(key[5:]) % 3 == 1 and first_round:
        return Verdict(approve=False, feedback=ISSUES, comment="two gaps")
    return Verdict(approve=True, comment="meets the acceptance criteria")


async def tester(ctx: TaskContext) -> dict[str, Any]:
    module = ctx.input["module"]
    await ctx.post_message(
        "note", {"text": f"Module {module}: 12 integration tests pass."}, to="writer"
    )
    return {"passed": 12, "failed": 0, "module": module}


async def writer(ctx: TaskContext) -> dict[str, Any]:
    return {"page": "docs/api/orders.md", "draft": 1 + len(ctx.feedback)}


async def ops(ctx: TaskContext) -> dict[str, Any]:
    return {"released": "orders-history", "flag": "orders_history_v1"}


AGENTS = {
    role: FunctionAgent(fn, roles=[role], name=role)
    for role, fn in {
        "planner": planner,
        "coder": coder,
        "reviewer": reviewer,
        "tester": tester,
        "writer": writer,
        "ops": ops,
    }.items()
}
