"""Baton: the board that teams of AI agents and humans coordinate through.

Import what you need from here; deeper modules are implementation detail.
"""

from __future__ import annotations

from baton.board import Board, SubmitResult
from baton.errors import (
    BatonError,
    BatonRuntimeError,
    ContractViolation,
    IdempotencyConflict,
    InvalidArgument,
    InvalidMessage,
    InvalidPlan,
    InvalidTransition,
    LeaseLost,
    NotFound,
    PlanProblem,
    SchemaTooNew,
    Signal,
    StoreUnavailable,
    UsageError,
)
from baton.models import Event, FailurePolicy, Lease, LeaseKind, Plan, Run, RunState, Task, TaskSpec
from baton.states import TERMINAL, Action, TaskState
from baton.store import SqliteStore, Store, open_store
from baton.sync import SyncBoard

__all__ = [
    "TERMINAL",
    "Action",
    "BatonError",
    "BatonRuntimeError",
    "Board",
    "ContractViolation",
    "Event",
    "FailurePolicy",
    "IdempotencyConflict",
    "InvalidArgument",
    "InvalidMessage",
    "InvalidPlan",
    "InvalidTransition",
    "Lease",
    "LeaseKind",
    "LeaseLost",
    "NotFound",
    "Plan",
    "PlanProblem",
    "Run",
    "RunState",
    "SchemaTooNew",
    "Signal",
    "SqliteStore",
    "Store",
    "StoreUnavailable",
    "SubmitResult",
    "SyncBoard",
    "Task",
    "TaskSpec",
    "TaskState",
    "UsageError",
    "open_store",
]
