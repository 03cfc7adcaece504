"""Policies as data: what a board's administrators decide once, and the Board enforces
for every door (docs/policies.md).

A :class:`Policy` is a YAML/JSON document validated by this schema. The board holds one
current policy, versioned (``set_policy``); every run records the policy it was created
under (its version and the document), so changing the policy never changes the rules of
a run already going. What a policy says:

* ``create_runs`` — which participants (by id or by role) may create runs, beyond
  holding the ``create_runs`` grant;
* ``approvals`` — which tasks need a person's approval before they count as done: by
  role, by label, or by an estimated cost above a threshold (the task's own budget);
* ``budgets`` — default and maximum budgets for runs, and per task by role or label
  (tokens, cost, attempts, review rounds, wall time);
* ``tools`` — which roles may run which side effects (``ctx.effect`` steps; ``*`` for
  any), checked when an effect starts;
* ``rate_limits`` — at most N of some actions (Board write operations: ``claim``,
  ``post_message``, ``create_run`` … or ``*`` for every write) per window, per
  registered participant, counted on the board so every door and process shares them;
* ``role_budgets`` — what one run may spend in total on the tasks of one role (tokens,
  money); past it the run is paused and a person asked, as for the run's own budget.

A refused action is :class:`~baton.model.errors.PolicyDenied` naming the rule, and a
``policy.denied`` event. :func:`apply_policy` is what a plan would trigger: pure, so
``baton policy check PLAN`` shows it before anything runs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from baton.model.budgets import over_budget
from baton.model.specs import Budget, Plan, TaskBudget, TaskSpec


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CreateRuns(_Rule):
    """Who may create runs (anyone with the grant when both lists are empty)."""

    participants: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)


class ApprovalRule(_Rule):
    """Tasks matching any of these need human approval."""

    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    cost_over_usd: float | None = Field(default=None, ge=0)


class TaskBudgetRule(_Rule):
    """Budget and limits for tasks of these roles / with these labels (all tasks when
    both are empty). ``max_*`` lower what a plan asks for; never raise it."""

    name: str = Field(min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    tokens: int | None = Field(default=None, gt=0)
    cost_usd: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    max_review_rounds: int | None = Field(default=None, ge=1, le=100)
    max_wall_s: float | None = Field(default=None, gt=0)


class RunBudgetRule(_Rule):
    """A run's budget: ``default`` when the plan names none, ``max`` caps what it names."""

    default: Budget | None = None
    max: Budget | None = None


class ToolRule(_Rule):
    """Side effects (``ctx.effect`` step names, shell-style patterns) a role may run."""

    role: str = Field(min_length=1)
    allow: list[str] = Field(default_factory=list)


#: The Board write operations a rate limit can name (``*``: every write, these and the
#: board's own bookkeeping such as duty renewals alike).
RATE_ACTIONS = frozenset(
    {
        "claim", "heartbeat", "abandon_review", "submit", "fail", "block", "release",
        "create_run", "add_tasks", "cancel_run", "cancel_task", "pause_run", "resume_run",
        "post_message", "escalate", "record_usage", "record_context", "approve", "reject",
        "unblock", "write_artifact", "reserve", "release_reservations", "start_effect",
        "record_effect", "sign_events", "*",
    }
)  # fmt: skip


class RateLimit(_Rule):
    """At most ``max`` of ``actions`` per ``per_s`` seconds by each matching participant
    (everyone registered when ``participants`` and ``roles`` are both empty), counted in
    fixed windows of ``per_s`` seconds on the board's clock. The board's owner (a local
    ``Board.open`` without a token) is not limited: it operates the board."""

    name: str = Field(min_length=1, max_length=100)
    participants: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    max: int = Field(ge=1)
    per_s: float = Field(gt=0, le=86400)

    @field_validator("actions")
    @classmethod
    def _known(cls, actions: list[str]) -> list[str]:
        unknown = sorted(set(actions) - RATE_ACTIONS)
        if unknown:
            raise ValueError(f"unknown actions {unknown}; known: {sorted(RATE_ACTIONS)}")
        return actions


class RoleBudget(_Rule):
    """What one run may spend in total on the tasks of ``role``."""

    name: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1)
    tokens: int | None = Field(default=None, gt=0)
    cost_usd: float | None = Field(default=None, gt=0)


class Policy(_Rule):
    """A board's policy document. See the module docstring."""

    name: str = Field(default="policy", min_length=1, max_length=100)
    create_runs: CreateRuns | None = None
    approvals: list[ApprovalRule] = Field(default_factory=list)
    run_budget: RunBudgetRule | None = None
    task_budgets: list[TaskBudgetRule] = Field(default_factory=list)
    tools: list[ToolRule] | None = None  # None: every role may run any effect
    rate_limits: list[RateLimit] = Field(default_factory=list)
    role_budgets: list[RoleBudget] = Field(default_factory=list)


class PolicyRecord(BaseModel):
    """The board's current policy, or the one a run was created under."""

    model_config = ConfigDict(frozen=True)

    version: int
    policy: Policy
    set_by: str = ""
    set_at: float = 0.0


class Triggered(BaseModel):
    """One thing a policy did to a plan (or would do)."""

    rule: str
    task: str | None = None
    effect: str


class PolicyCheck(BaseModel):
    """What the current policy would do with a plan, before anything runs."""

    model_config = ConfigDict(frozen=True)

    version: int | None
    may_create: bool
    refusal: str | None = None
    triggered: list[Triggered]
    plan: Plan


def _matches(spec: TaskSpec, roles: list[str], labels: list[str]) -> bool:
    if not roles and not labels:
        return True
    return spec.role in roles or any(label in spec.labels for label in labels)


def _lower(current: Any, cap: Any) -> Any:
    if cap is None:
        return current
    return cap if current is None else min(current, cap)


def apply_policy(plan: Plan, policy: Policy) -> tuple[Plan, list[Triggered]]:
    """The plan as the policy makes it, and what each rule did: approvals required,
    budgets and limits set or lowered. Pure; the Board applies it in ``create_run`` (and
    the task rules to every task added to the run later: :func:`apply_task_rules`)."""
    tasks, triggered = apply_task_rules(plan.tasks, policy)
    planned = _run_budget(plan.model_copy(update={"tasks": tasks}), policy, triggered)
    roles = {t.role for t in tasks}
    for rule in policy.role_budgets:
        if rule.role in roles:
            parts = [f"{rule.tokens} tokens" if rule.tokens else "",
                     f"${rule.cost_usd:g}" if rule.cost_usd else ""]  # fmt: skip
            effect = f"{rule.role} tasks spend at most " + ", ".join(p for p in parts if p)
            triggered.append(Triggered(rule=rule.name, effect=effect))
    return planned, triggered


def apply_task_rules(
    specs: Sequence[TaskSpec], policy: Policy
) -> tuple[list[TaskSpec], list[Triggered]]:
    """Tasks as the policy's approval and task-budget rules make them."""
    triggered: list[Triggered] = []
    tasks = []
    for spec in specs:
        update: dict[str, Any] = {}
        for rule in policy.task_budgets:
            if not _matches(spec, rule.roles, rule.labels):
                continue
            budget = spec.budget or TaskBudget()
            tokens = _lower(budget.tokens, rule.tokens)
            cost = _lower(budget.cost_usd, rule.cost_usd)
            if (tokens, cost) != (budget.tokens, budget.cost_usd):
                update["budget"] = TaskBudget(tokens=tokens, cost_usd=cost)
                spec = spec.model_copy(update=update)
                parts = [f"{tokens} tokens" if tokens else "", f"${cost}" if cost else ""]
                effect = "budget at most " + ", ".join(p for p in parts if p)
                triggered.append(Triggered(rule=rule.name, task=spec.id, effect=effect))
            for field, cap in (
                ("max_attempts", rule.max_attempts),
                ("max_review_rounds", rule.max_review_rounds),
                ("timeout_s", rule.max_wall_s),
            ):
                lowered = _lower(getattr(spec, field), cap)
                if lowered != getattr(spec, field):
                    spec = spec.model_copy(update={field: lowered})
                    triggered.append(
                        Triggered(rule=rule.name, task=spec.id, effect=f"{field} {lowered}")
                    )
        for approval in policy.approvals:
            cost = spec.budget.cost_usd if spec.budget else None
            costly = (
                approval.cost_over_usd is not None
                and cost is not None
                and cost > approval.cost_over_usd
            )
            by_match = (approval.roles or approval.labels) and _matches(
                spec, approval.roles, approval.labels
            )
            if (by_match or costly) and not spec.requires_approval:
                spec = spec.model_copy(update={"requires_approval": True})
                why = f"estimated cost ${cost} over ${approval.cost_over_usd}" if costly else ""
                effect = "needs human approval" + (f" ({why})" if why else "")
                triggered.append(Triggered(rule=approval.name, task=spec.id, effect=effect))
        tasks.append(spec)
    return tasks, triggered


def _run_budget(plan: Plan, policy: Policy, triggered: list[Triggered]) -> Plan:
    run_budget: Budget | None = plan.budget
    if policy.run_budget is not None:
        rb = policy.run_budget
        if run_budget is None and rb.default is not None:
            run_budget = rb.default
            triggered.append(Triggered(rule="run_budget.default", effect="run budget set"))
        if rb.max is not None:
            current = run_budget or Budget()
            capped = Budget(
                **{
                    f: _lower(getattr(current, f), getattr(rb.max, f))
                    for f in ("tokens", "cost_usd", "attempts", "wall_s")
                }
            )
            if capped != current:
                run_budget = capped
                triggered.append(Triggered(rule="run_budget.max", effect="run budget capped"))
    return plan.model_copy(update={"budget": run_budget})


def may_create_runs(policy: Policy, participant: str, roles: list[str]) -> bool:
    rule = policy.create_runs
    if rule is None or (not rule.participants and not rule.roles):
        return True
    return participant in rule.participants or any(r in rule.roles for r in roles)


def tool_allowed(policy: Policy, role: str, step: str) -> bool:
    if policy.tools is None:
        return True
    allowed = [p for rule in policy.tools if rule.role in (role, "*") for p in rule.allow]
    return any(fnmatch.fnmatchcase(step, pattern) for pattern in allowed)


def rate_limits_for(
    policy: Policy, participant: str, roles: Collection[str], action: str
) -> list[RateLimit]:
    """The rate limits that count ``action`` by this participant."""
    return [
        rule
        for rule in policy.rate_limits
        if (action in rule.actions or "*" in rule.actions)
        and (
            (not rule.participants and not rule.roles)
            or participant in rule.participants
            or any(r in rule.roles for r in roles)
        )
    ]


def over_role_budget(rule: RoleBudget, tokens: int, cost: float) -> str:
    """What of the role's budget a run's spend on it is past ('' if nothing), by the
    one comparison rule every budget uses (model/budgets.py)."""
    return over_budget({"tokens": rule.tokens, "cost_usd": rule.cost_usd}, tokens, cost)
