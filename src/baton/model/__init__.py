"""The model layer: what Baton's data is — plans, tasks, runs, leases, events, the one
transition table, the event catalogue and the errors. Pure data and pure functions.

May import: nothing else of Baton. No I/O happens here.
"""

from __future__ import annotations

from baton.model.records import (
    RUN_ENDED,
    Briefing,
    Duty,
    Event,
    Handoff,
    Lease,
    LeaseKind,
    Run,
    RunState,
    Task,
)
from baton.model.specs import (
    JSON,
    TASK_FIELDS,
    Budget,
    FailurePolicy,
    Plan,
    SubPlan,
    TaskBudget,
    TaskFields,
    TaskSpec,
)
from baton.model.states import TERMINAL, Action, TaskState

__all__ = [
    "JSON",
    "RUN_ENDED",
    "TASK_FIELDS",
    "TERMINAL",
    "Action",
    "Briefing",
    "Budget",
    "Duty",
    "Event",
    "FailurePolicy",
    "Handoff",
    "Lease",
    "LeaseKind",
    "Plan",
    "Run",
    "RunState",
    "SubPlan",
    "Task",
    "TaskBudget",
    "TaskFields",
    "TaskSpec",
    "TaskState",
]
