"""Baton: the board that teams of AI agents and humans coordinate through.

Import what you write against from here (and agents from ``baton.agents``); deeper
modules are implementation detail. ``tests/test_public_api.py`` pins ``__all__``, so a
name added or lost is a deliberate change.
"""

from __future__ import annotations

from baton.board import Board, BoardAPI, SubmitResult, SyncBoard
from baton.interfaces.http.client import RemoteBoard, connect, connect_sync
from baton.model import (
    RUN_ENDED,
    TERMINAL,
    Action,
    Budget,
    Duty,
    Event,
    FailurePolicy,
    Handoff,
    Lease,
    LeaseKind,
    Plan,
    Run,
    RunState,
    SubPlan,
    Task,
    TaskBudget,
    TaskSpec,
    TaskState,
)
from baton.model.artifacts import (
    Artifact,
    ArtifactContent,
    ArtifactKind,
    ArtifactVersion,
    ArtifactWrite,
    MergeStrategy,
)
from baton.model.changes import TaskChanges
from baton.model.errors import (
    ArtifactConflict,
    BatonError,
    BatonRuntimeError,
    Conflict,
    ContractViolation,
    EffectUncertain,
    GiveUp,
    IdempotencyConflict,
    InvalidArgument,
    InvalidMessage,
    InvalidPlan,
    InvalidTransition,
    LeaseLost,
    NotFound,
    PermissionDenied,
    PlanProblem,
    PolicyDenied,
    ReservationConflict,
    RetryLater,
    RunFailed,
    SchemaTooNew,
    SecretMissing,
    Signal,
    StoreNotFound,
    StoreUnavailable,
    TransientConflict,
    Unauthenticated,
    UsageError,
)
from baton.model.events import EventKind
from baton.model.limits import Limits
from baton.model.messages import DEFAULT_MESSAGE_KINDS
from baton.model.participants import OWNER, Grant, Participant, ParticipantKind, Principal
from baton.model.reservations import Reservation, ReservationMode
from baton.planning.files import load_plan
from baton.runtime.agents.context import Agent, BudgetLeft, DependencyResult, TaskContext, Verdict
from baton.runtime.agents.function import FunctionAgent, agent
from baton.runtime.logs import configure_logging
from baton.runtime.orchestrator import Orchestrator
from baton.runtime.worker import AgentsLike, Worker
from baton.store import SqliteStore, Store, open_store
from baton.views.narration import narrate

__all__ = [
    "DEFAULT_MESSAGE_KINDS",
    "OWNER",
    "RUN_ENDED",
    "TERMINAL",
    "Action",
    "Agent",
    "AgentsLike",
    "Artifact",
    "ArtifactConflict",
    "ArtifactContent",
    "ArtifactKind",
    "ArtifactVersion",
    "ArtifactWrite",
    "BatonError",
    "BatonRuntimeError",
    "Board",
    "BoardAPI",
    "Budget",
    "BudgetLeft",
    "Conflict",
    "ContractViolation",
    "DependencyResult",
    "Duty",
    "EffectUncertain",
    "Event",
    "EventKind",
    "FailurePolicy",
    "FunctionAgent",
    "GiveUp",
    "Grant",
    "Handoff",
    "IdempotencyConflict",
    "InvalidArgument",
    "InvalidMessage",
    "InvalidPlan",
    "InvalidTransition",
    "Lease",
    "LeaseKind",
    "LeaseLost",
    "Limits",
    "MergeStrategy",
    "NotFound",
    "Orchestrator",
    "Participant",
    "ParticipantKind",
    "PermissionDenied",
    "Plan",
    "PlanProblem",
    "PolicyDenied",
    "Principal",
    "RemoteBoard",
    "Reservation",
    "ReservationConflict",
    "ReservationMode",
    "RetryLater",
    "Run",
    "RunFailed",
    "RunState",
    "SchemaTooNew",
    "SecretMissing",
    "Signal",
    "SqliteStore",
    "Store",
    "StoreNotFound",
    "StoreUnavailable",
    "SubPlan",
    "SubmitResult",
    "SyncBoard",
    "Task",
    "TaskBudget",
    "TaskChanges",
    "TaskContext",
    "TaskSpec",
    "TaskState",
    "TransientConflict",
    "Unauthenticated",
    "UsageError",
    "Verdict",
    "Worker",
    "agent",
    "configure_logging",
    "connect",
    "connect_sync",
    "load_plan",
    "narrate",
    "open_store",
]
