"""What a board holds: runs, tasks, leases and events, as read back from a store.

No I/O here. ``Task`` builds on :class:`~baton.model.specs.TaskSpec`'s fields (see
``TaskFields``) instead of repeating them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from baton.model.specs import JSON, TaskFields
from baton.model.states import TaskState


class RunState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # a budget ran out or a human paused it: nothing new is claimed
    FINISHED = "finished"  # every task is terminal and the required work succeeded
    FAILED = "failed"  # every task is terminal and required work failed (see Run.failed_tasks)
    CANCELLED = "cancelled"


#: The states a run ends in: nothing on it can change any more.
RUN_ENDED: frozenset[RunState] = frozenset({RunState.FINISHED, RunState.FAILED, RunState.CANCELLED})


class Run(BaseModel):
    """One goal being worked on. ``state`` says whether it ended, and how: a run whose
    required work failed ends ``failed``, never with the same word as success."""

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
    created_by: str | None = None  # the participant that created it (sees it)

    @property
    def ended(self) -> bool:
        """Finished, failed or cancelled: nothing on the run can change any more."""
        return self.state in RUN_ENDED


class Task(TaskFields):
    """A task on the board: its spec (the shared :class:`TaskFields`), where it is in its
    life cycle, and its lease."""

    model_config = ConfigDict(frozen=True)

    id: str  # global: "<run id>/<plan-local id>"
    key: str  # the plan-local id
    run_id: str
    depends_on: list[str]  # global ids
    parent_id: str | None
    budget: JSON | None  # a TaskBudget, as stored
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
    worked_by: str | None = None  # who submitted the current work (may not review it)


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


class Handoff(BaseModel):
    """What a submit-and-claim did, in one transaction: the submitted task as the submit
    left it, and the lease on the task its submitter claimed next (``None``: nothing was
    claimable then)."""

    model_config = ConfigDict(frozen=True)

    task: Task
    lease: Lease | None = None


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


class Duty(BaseModel):
    """A singleton duty (the watchdog) and its lease: at most one live ``holder``;
    ``token`` is bumped by every take-over and fences the previous holder off."""

    model_config = ConfigDict(frozen=True)

    name: str
    holder: str
    token: int
    expires_at: float


class Briefing(BaseModel):
    """What a worker reads before an attempt, in one call: the run (its goal, budget
    and spending), its latest messages, oldest first, and the tasks it was asked for
    (the attempt's dependencies, whose outputs the agent sees), in the order asked."""

    model_config = ConfigDict(frozen=True)

    run: Run
    messages: list[Event]
    dependencies: list[Task] = []
