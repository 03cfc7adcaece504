"""Deterministic function agents for the hierarchical backend team (no model is called).

Every agent is a plain Python function, so the example runs offline and always tells
the same story; each sleeps a moment to stand for real work.

* The **architect** expands the feature into team sub-plans, reviews the DB team's
  schema, and routes the schema's consequences to the API team.
* Each **team lead** (``api_lead``, ``db_lead``, ``devops_lead``) expands its team's task
  into the team's own tasks.
* The **developers** (``api_dev``, ``db_dev``, ``devops``) do the work. The DB developer's
  schema changes the API (money becomes integer cents, paging becomes a cursor); it tells
  the architect (a ``handoff`` to the architect, and the architect reviews the schema),
  never the API team directly. The API endpoint depends on the architect's routing task,
  so it cannot start before the architect has passed the change on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baton.agents import FunctionAgent, TaskContext, Verdict

WORK_S = 0.05

ROUTING_TASK = "arch.route-schema"


async def _work() -> None:
    await asyncio.sleep(WORK_S)


# --- the architect ---------------------------------------------------------------------


async def architect(ctx: TaskContext) -> Any:
    await _work()
    if ctx.is_review:
        return review_schema(ctx)
    if ctx.task.key == "feature":
        return split_feature(ctx)
    if ctx.task.key == ROUTING_TASK:
        return await route_schema(ctx)
    raise ValueError(f"the architect has no handler for {ctx.task.key!r}")


def split_feature(ctx: TaskContext) -> dict[str, Any]:
    """One task per team, each expanded by its lead; the API team is told where the
    schema will come from (the architect's routing task), not to ask the DB team."""
    outline = ctx.input["outline"]
    return {
        "tasks": [
            {
                "id": "db",
                "title": "DB team: store order history",
                "role": "db_lead",
                "expand": True,
                "input": {"outline": outline},
            },
            {
                "id": "api",
                "title": "API team: order history endpoint",
                "role": "api_lead",
                "expand": True,
                "input": {
                    "endpoint": ctx.input["endpoint"],
                    "outline": outline,
                    "schema_from": ROUTING_TASK,
                },
            },
            {
                "id": "ops",
                "title": "DevOps team: pipeline, capacity, release",
                "role": "devops_lead",
                "expand": True,
                "input": {"ship_after": ["db", "api"]},
            },
            {
                "id": ROUTING_TASK,
                "title": "Route the final schema to the API team",
                "role": "architect",
                "depends_on": ["db"],
                "acceptance_criteria": ["every schema change that affects the API is passed on"],
            },
        ]
    }


def review_schema(ctx: TaskContext) -> Verdict:
    """The house rules for schemas: money in integer cents, an index for every listing."""
    schema = ctx.task.output
    issues = []
    for table, columns in schema["tables"].items():
        for column, kind in columns.items():
            if column.endswith(("total", "price")) and kind != "bigint":
                issues.append(f"{table}.{column}: store money as integer cents")
    if not any(ix.startswith("orders(customer_id, placed_at") for ix in schema["indexes"]):
        issues.append("orders: add an index for listing a customer's orders by date")
    if issues:
        return Verdict(approve=False, feedback=issues)
    return Verdict(approve=True, comment="money in cents and a listing index: approved")


async def route_schema(ctx: TaskContext) -> dict[str, Any]:
    """Pass the DB team's approved schema, and what it changes for the API, to the API
    team — the teams do not talk to each other directly."""
    db = ctx.dependencies["db"].output["results"]
    schema = db["db.schema"]
    impact = schema["api_impact"]
    await ctx.post_message(
        "handoff",
        {
            "to_role": "api_dev",
            "task": "api.endpoint",
            "summary": "Order history schema is final. For the API: " + "; ".join(impact),
        },
        to="api_dev",
    )
    return {"schema": schema["tables"], "api_impact": impact, "migration": db["db.migration"]}


# --- team leads --------------------------------------------------------------------------


async def db_lead(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    return {
        "tasks": [
            {
                "id": "db.schema",
                "title": "Design the order history schema",
                "role": "db_dev",
                "reviewer_role": "architect",
                "input": {"outline": ctx.input["outline"]},
            },
            {
                "id": "db.migration",
                "title": "Write the migration",
                "role": "db_dev",
                "depends_on": ["db.schema"],
            },
        ]
    }


async def api_lead(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    endpoint = ctx.input["endpoint"]
    return {
        "tasks": [
            {
                "id": "api.contract",
                "title": "Draft the endpoint contract",
                "role": "api_dev",
                "input": {"endpoint": endpoint, "outline": ctx.input["outline"]},
            },
            {
                "id": "api.endpoint",
                "title": f"Implement {endpoint}",
                "role": "api_dev",
                # The schema reaches the API team through the architect, never directly.
                "depends_on": ["api.contract", ctx.input["schema_from"]],
            },
            {
                "id": "api.tests",
                "title": "Test the endpoint",
                "role": "api_dev",
                "depends_on": ["api.endpoint"],
            },
        ]
    }


async def devops_lead(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    return {
        "tasks": [
            {"id": "ops.ci", "title": "CI pipeline for the orders service", "role": "devops"},
            {"id": "ops.capacity", "title": "Read replica for history queries", "role": "devops"},
            {
                "id": "ops.release",
                "title": "Release to production",
                "role": "devops",
                "depends_on": ["ops.ci", "ops.capacity", *ctx.input["ship_after"]],
            },
        ]
    }


# --- developers ----------------------------------------------------------------------------


async def db_dev(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    if ctx.task.key == "db.schema":
        outline = ctx.input["outline"]
        impact = [
            "orders.total becomes total_cents (integer cents)",
            "page with a cursor on (placed_at, id) instead of offsets",
        ]
        # A change that affects another team goes to the architect, not to that team.
        await ctx.post_message(
            "handoff",
            {
                "to_role": "architect",
                "task": ctx.task.key,
                "summary": "Schema change that affects the API: " + "; ".join(impact),
            },
            to="architect",
        )
        return {
            "tables": {
                "orders": {c: _column(c) for c in outline["order"] if c != "total"}
                | {"total_cents": "bigint"},
                "order_items": {c: _column(c) for c in outline["order_item"] if c != "unit_price"}
                | {"unit_price_cents": "bigint"},
            },
            "indexes": ["orders(customer_id, placed_at DESC, id DESC)"],
            "api_impact": impact,
        }
    schema = ctx.dependencies["db.schema"].output
    return {"migration": "0042_order_history.sql", "creates": sorted(schema["tables"])}


def _column(name: str) -> str:
    return {"placed_at": "timestamptz", "quantity": "integer", "status": "text"}.get(name, "uuid")


async def api_dev(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    if ctx.task.key == "api.contract":
        # Drafted in parallel with the DB work, from the architect's outline.
        return {
            "route": ctx.input["endpoint"],
            "fields": list(ctx.input["outline"]["order"]),
            "paging": "offset",
        }
    if ctx.task.key == "api.endpoint":
        draft = ctx.dependencies["api.contract"].output
        routed = ctx.dependencies[ROUTING_TASK].output
        fields = ["total_cents" if f == "total" else f for f in draft["fields"]]
        return {
            "route": draft["route"],
            "fields": fields,
            "paging": "cursor(placed_at, id)",
            "changed_from_draft": routed["api_impact"],
        }
    endpoint = ctx.dependencies["api.endpoint"].output
    return {"passed": 9, "failed": 0, "checked_fields": endpoint["fields"]}


async def devops(ctx: TaskContext) -> dict[str, Any]:
    await _work()
    if ctx.task.key == "ops.ci":
        return {"pipeline": ".github/workflows/orders.yml", "stages": ["lint", "test", "build"]}
    if ctx.task.key == "ops.capacity":
        return {"read_replica": "orders-ro-1", "serves": "order history listings"}
    db = ctx.dependencies["db"].output["results"]
    return {
        "released": "orders-service 2.3.0",
        "ran_migration": db["db.migration"]["migration"],
    }


AGENTS = {
    "architect": FunctionAgent(architect, roles=["architect"], name="architect"),
    "api_lead": FunctionAgent(api_lead, roles=["api_lead"], name="api_lead"),
    "db_lead": FunctionAgent(db_lead, roles=["db_lead"], name="db_lead"),
    "devops_lead": FunctionAgent(devops_lead, roles=["devops_lead"], name="devops_lead"),
    "api_dev": FunctionAgent(api_dev, roles=["api_dev"], name="api_dev"),
    "db_dev": FunctionAgent(db_dev, roles=["db_dev"], name="db_dev"),
    "devops": FunctionAgent(devops, roles=["devops"], name="devops"),
}
