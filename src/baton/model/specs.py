"""What goes onto a board: plans, task specs, budgets and failure policies. No I/O here."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

JSON = dict[str, Any]


class FailurePolicy(StrEnum):
    """What happens to a task's dependents when the task fails for good."""

    CASCADE = "cascade"  # dependents fail too, transitively, naming the root cause
    SKIP = "skip"  # dependents are skipped, transitively
    CONTINUE = "continue"  # dependents run anyway and see the failure in their context
    WAIT = "wait"  # dependents block until a human unblocks or cancels them


def _contract(value: Any) -> Any:
    """Accept a pydantic model class where a JSON Schema is expected."""
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value.model_json_schema()
    return value


class Budget(BaseModel):
    """Limits on what a run (or one task) may spend; an omitted limit is no limit.

    A limit of zero is refused: it would stop the work before it starts, which is what
    ``cancel`` is for.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tokens: int | None = Field(default=None, gt=0, le=2**63 - 1)
    cost_usd: float | None = Field(default=None, gt=0)
    attempts: int | None = Field(default=None, gt=0, le=2**63 - 1)  # claims across the run
    wall_s: float | None = Field(default=None, gt=0)  # from the run's creation


class TaskBudget(BaseModel):
    """Limits on what one task may spend (attempts and time are the task's own
    ``max_attempts`` and ``timeout_s``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tokens: int | None = Field(default=None, gt=0, le=2**63 - 1)
    cost_usd: float | None = Field(default=None, gt=0)


#: The longest lease, timeout or backoff a task may ask for: a week.
MAX_TASK_SECONDS = 7 * 86_400.0
#: Priorities fit the stores' 32-bit column.
MAX_PRIORITY = 2**31 - 1


class TaskFields(BaseModel):
    """The fields a task has both as a plan describes it (:class:`TaskSpec`) and on the
    board (:class:`~baton.model.records.Task`): written once, shared by both.

    Every number is finite (no NaN, no infinity: a NaN lease would never expire) and in
    range."""

    model_config = ConfigDict(allow_inf_nan=False)

    title: str = ""
    description: str = ""
    role: str = Field(min_length=1)
    input: JSON = Field(default_factory=dict)
    acceptance_criteria: list[str] = Field(default_factory=list)
    input_contract: JSON | None = None
    output_contract: JSON | None = None
    priority: int = Field(default=0, ge=-MAX_PRIORITY, le=MAX_PRIORITY)
    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff_base_s: float = Field(default=1.0, ge=0, le=MAX_TASK_SECONDS)
    backoff_max_s: float = Field(default=60.0, ge=0, le=MAX_TASK_SECONDS)
    lease_s: float = Field(default=60.0, gt=0, le=MAX_TASK_SECONDS)
    on_failure: FailurePolicy = FailurePolicy.CASCADE
    reviewer_role: str | None = None
    max_review_rounds: int = Field(default=3, ge=1, le=100)
    requires_approval: bool = False
    labels: list[str] = Field(default_factory=list)
    timeout_s: float | None = Field(default=600.0, gt=0, le=MAX_TASK_SECONDS)  # then cut off
    expand: bool = False  # the output is a sub-plan: children join the run, parent waits

    @field_validator("input_contract", "output_contract", mode="before")
    @classmethod
    def accept_model_class(cls, value: Any) -> Any:
        return _contract(value)


#: The names of :class:`TaskFields`, in order: what a plan's task hands to the board's.
TASK_FIELDS: tuple[str, ...] = tuple(TaskFields.model_fields)


#: What a plan-local task id may be made of.
TASK_KEY_PATTERN = r"^[A-Za-z0-9_.\-]+$"


class TaskSpec(TaskFields):
    """One task as a plan describes it. ``id`` is local to the plan, and so are the ids
    in ``depends_on`` and ``parent``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=TASK_KEY_PATTERN)
    depends_on: list[str] = Field(default_factory=list)
    parent: str | None = None
    budget: TaskBudget | None = None


class Plan(BaseModel):
    """A goal and the dependency graph of tasks that achieves it.

    ``roles`` names every role the team has; a task needing any other role is refused,
    because nobody could ever claim it.
    """

    model_config = ConfigDict(extra="forbid")

    goal: str = Field(min_length=1)
    roles: list[str] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(min_length=1)
    labels: list[str] = Field(default_factory=list)
    budget: Budget | None = None


class SubPlan(BaseModel):
    """What an expanding task (a planner, a team lead) submits: the tasks to add."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskSpec] = Field(min_length=1)
