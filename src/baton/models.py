"""Baton's data: plans going in, runs, tasks, leases and events coming out. No I/O here."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from baton.states import TaskState

JSON = dict[str, Any]


class FailurePolicy(StrEnum):
    """What happens to a task's dependents when the task fails for good."""

    CASCADE = "cascade"  # dependents fail too, transitively, naming the root cause
    SKIP = "skip"  # dependents are skipped, transitively
    CONTINUE = "continue"  # dependents run anyway and see the failure in their context
    WAIT = "wait"  # dependents block until a human unblocks or cancels them


class RunState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # a budget ran out or a human paused it: nothing new is claimed
    FINISHED = "finished"
    CANCELLED = "cancelled"


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

    model_config = ConfigDict(extra="forbid")

    tokens: int | None = Field(default=None, gt=0)
    cost_usd: float | None = Field(default=None, gt=0)
    attempts: int | None = Field(default=None, gt=0)  # claims across the run
    wall_s: float | None = Field(default=None, gt=0)  # from the run's creation


class TaskBudget(BaseModel):
    """Limits on what one task may spend (attempts and time are the task's own
    ``max_attempts`` and ``timeout_s``)."""

    model_config = ConfigDict(extra="forbid")

    tokens: int | None = Field(default=None, gt=0)
    cost_usd: float | None = Field(default=None, gt=0)


class TaskSpec(BaseModel):
    """One task as a plan describes it. ``id`` is local to the plan."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.\-]+$")
    title: str = ""
    description: str = ""
    role: str = Field(min_length=1)
    input: JSON = Field(default_factory=dict)
    acceptance_criteria: list[str] = Field(default_factory=list)
    input_contract: JSON | None = None
    output_contract: JSON | None = None
    priority: int = 0
    depends_on: list[str] = Field(default_factory=list)
    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    lease_s: float = Field(default=60.0, gt=0)
    on_failure: FailurePolicy = FailurePolicy.CASCADE
    reviewer_role: str | None = None
    max_review_rounds: int = Field(default=3, ge=1, le=100)
    requires_approval: bool = False
    parent: str | None = None
    labels: list[str] = Field(default_factory=list)
    timeout_s: float | None = Field(default=600.0, gt=0)  # an agent past it is cancelled
    expand: bool = False  # the output is a sub-plan: children join the run, parent waits
    budget: TaskBudget | None = None

    @field_validator("input_contract", "output_contract", mode="before")
    @classmethod
    def accept_model_class(cls, value: Any) -> Any:
        return _contract(value)


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


class Run(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    goal: str
    state: RunState
    roles: list[str]
    labels: list[str] = Field(default_factory=list)
    created_at: float
    finished_at: float | None = None
    budget: JSON | None = None  # a Budget, as stored
    tokens_used: int = 0
    cost_used: float = 0.0
    claims: int = 0
    paused_reason: str | None = None


class Task(BaseModel):
    """A task on the board: its spec, where it is in its life cycle, and its lease."""

    model_config = ConfigDict(frozen=True)

    id: str  # global: "<run id>/<plan-local id>"
    key: str  # the plan-local id
    run_id: str
    title: str
    description: str
    role: str
    input: JSON
    acceptance_criteria: list[str]
    input_contract: JSON | None
    output_contract: JSON | None
    priority: int
    depends_on: list[str]  # global ids
    max_attempts: int
    backoff_base_s: float
    backoff_max_s: float
    lease_s: float
    on_failure: FailurePolicy
    reviewer_role: str | None
    max_review_rounds: int
    requires_approval: bool
    parent_id: str | None
    labels: list[str]
    timeout_s: float | None
    expand: bool
    budget: JSON | None  # a Budget, as stored
    created_seq: int  # order of creation on the board; ties in priority go to the oldest

    state: TaskState
    token: int = 0  # fencing token: bumped by every claim, work or review
    attempts: int = 0  # work claims that counted
    failures: int = 0  # failed attempts; the task fails for good at max_attempts
    review_rounds: int = 0
    lease_owner: str | None = None
    lease_kind: str | None = None  # "work" or "review"
    lease_expires_at: float | None = None
    not_before: float = 0.0  # retry backoff: not claimable before this time
    pending_deps: int = 0
    output: Any = None
    last_error: JSON | None = None
    feedback: list[JSON] = Field(default_factory=list)
    blocked_reason: str | None = None
    updated_at: float = 0.0
    tokens_used: int = 0
    cost_used: float = 0.0


class LeaseKind(StrEnum):
    WORK = "work"
    REVIEW = "review"


class Lease(BaseModel):
    """The exclusive right to work (or review) a task until ``expires_at``.

    Every later write about the task must present ``token``; a newer claim bumps it,
    which fences off the old holder.
    """

    model_config = ConfigDict(frozen=True)

    task: Task
    owner: str
    token: int
    kind: LeaseKind
    expires_at: float

    @property
    def task_id(self) -> str:
        return self.task.id


class Event(BaseModel):
    """One immutable change on the board. ``seq`` is gap-free and strictly increasing."""

    model_config = ConfigDict(frozen=True)

    seq: int
    run_id: str
    task_id: str | None
    kind: str
    actor: str
    payload: JSON
    at: float
