"""The event catalogue: every kind of event the board writes, and the shape of its
payload — what clients of the event stream read. ``docs/events.md`` is this module in
prose, and a test holds the two together.

Kinds are one enum, :class:`EventKind`; two families are open-ended:
``escalation.<kind>`` (built-in kinds are listed in :data:`ESCALATION_KINDS`; agents
raise ``escalation.agent``) and ``message.<kind>`` (one per message kind the board
was given, ``note``, ``question``, ``answer``, ``handoff``, ``blocked_by`` by default).

Payload models describe what each event carries; they are documentation and a test
oracle (every event the conformance scenarios write validates against its model), not a
check on the write path, which builds payloads in one place per kind.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from baton.model.states import Action

JSON = dict[str, Any]


class EventKind(StrEnum):
    """Every fixed event kind. Task transitions are ``task.<action>``, one per
    :class:`~baton.model.states.Action` of the transition table."""

    RUN_CREATED = "run.created"
    RUN_PAUSED = "run.paused"
    RUN_RESUMED = "run.resumed"
    RUN_CANCELLED = "run.cancelled"
    RUN_FINISHED = "run.finished"
    RUN_FAILED = "run.failed"
    RUN_ARCHIVED = "run.archived"

    TASK_CREATED = "task.created"
    TASK_USAGE = "task.usage"
    TASK_LEASE_RENEWED = "task.lease_renewed"
    TASK_REVIEW_CLAIMED = "task.review_claimed"
    TASK_REVIEW_RELEASED = "task.review_released"
    TASK_REVIEW_FAILED = "task.review_failed"
    TASK_REVIEW_LEASE_EXPIRED = "task.review_lease_expired"

    TASK_DEPS_DONE = "task.deps_done"
    TASK_DEP_FAILED = "task.dep_failed"
    TASK_DEP_SKIPPED = "task.dep_skipped"
    TASK_DEP_WAIT = "task.dep_wait"
    TASK_CLAIM = "task.claim"
    TASK_COMPLETE = "task.complete"
    TASK_SUBMIT_FOR_REVIEW = "task.submit_for_review"
    TASK_SUBMIT_FOR_APPROVAL = "task.submit_for_approval"
    TASK_RETRY = "task.retry"
    TASK_RELEASE = "task.release"
    TASK_FAIL = "task.fail"
    TASK_BLOCK = "task.block"
    TASK_UNBLOCK = "task.unblock"
    TASK_UNBLOCK_TO_PENDING = "task.unblock_to_pending"
    TASK_APPROVE = "task.approve"
    TASK_APPROVE_TO_GATE = "task.approve_to_gate"
    TASK_REJECT = "task.reject"
    TASK_REJECT_FINAL = "task.reject_final"
    TASK_CANCEL = "task.cancel"
    TASK_EXPAND = "task.expand"
    TASK_CHILDREN_DONE = "task.children_done"

    PARTICIPANT_ADDED = "participant.added"
    PARTICIPANT_ROTATED = "participant.rotated"
    PARTICIPANT_REVOKED = "participant.revoked"
    PARTICIPANT_KEY_ADDED = "participant.key_added"
    PARTICIPANT_KEY_REVOKED = "participant.key_revoked"
    ACCESS_DENIED = "access.denied"

    ARTIFACT_WRITTEN = "artifact.written"
    ARTIFACT_CONFLICT = "artifact.conflict"
    RESERVATION_TAKEN = "reservation.taken"
    RESERVATION_RELEASED = "reservation.released"
    TASK_CONTEXT = "task.context"

    POLICY_SET = "policy.set"
    POLICY_DENIED = "policy.denied"

    EFFECT_STARTED = "effect.started"
    EFFECT_RECORDED = "effect.recorded"
    EFFECT_REUSED = "effect.reused"


#: The ``run_id`` of events about the board itself rather than one run (participants,
#: a refusal that concerns no run).
BOARD_SCOPE = ""


#: The event each transition of the table writes.
TRANSITION_EVENT: dict[Action, EventKind] = {a: EventKind(f"task.{a.value}") for a in Action}

ESCALATION_PREFIX = "escalation."
MESSAGE_PREFIX = "message."

#: Escalations the board and the watchdog raise (agents add ``agent``).
ESCALATION_KINDS: dict[str, str] = {
    "effect_uncertain": "an effect was started and never recorded: it may have happened",
    "artifact_conflict": "two writes to an escalate-strategy artifact conflicted",
    "task_failed": "a task failed for good: its last error and attempts",
    "run_failed": "a run ended with required work failed",
    "planning": "a planner's task failed for good (its sub-plans were invalid)",
    "budget": "a run or task went past its budget and was paused or blocked",
    "stalled": "no progress on a run for the watchdog's stall_s",
    "review_loop": "a task was returned by review again and again",
    "deadlock": "blocked tasks wait on each other (from blocked_by messages)",
    "failing_agent": "one agent failed several attempts in a row",
    "agent": "an agent asked a human for help (ctx.escalate)",
    "repeated_denials": "one participant was refused again and again (outside its grants)",
    "chatter": "two participants messaged back and forth with no task progress",
    "claim_burst": "a participant claimed far more tasks than its usual rate",
    "spend_rate": "at the spend per task so far, the budget runs out before the work",
}


def escalation_kind(name: str) -> str:
    """The event kind of an escalation: ``escalation.<name>``."""
    return ESCALATION_PREFIX + name


def message_kind(name: str) -> str:
    """The event kind of a message: ``message.<name>``."""
    return MESSAGE_PREFIX + name


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCreated(_Payload):
    goal: str
    roles: list[str]
    tasks: int
    budget: JSON | None = None


class Reason(_Payload):
    """``run.paused``, ``run.cancelled``: why."""

    reason: str


class RunResumed(_Payload):
    budget: JSON | None = None  # the new budget, when the resume raised it


class RunFinished(_Payload):
    pass


class RunFailedPayload(_Payload):
    reason: str
    failed_count: int
    failed: list[str]  # up to 50 failed or skipped task ids
    root_causes: list[str]  # the tasks whose own failure caused the rest


class TaskCreated(_Payload):
    to: str  # pending or ready
    spec: JSON  # the TaskSpec as planned


class TaskUsage(_Payload):
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    role: str


class Transition(_Payload):
    """Every ``task.<action>``: the state it left, the state it entered, the fencing
    token after it, and what the action carries (all optional here, by action)."""

    model_config = ConfigDict(extra="forbid")

    from_: str | None = None
    to: str
    token: int
    owner: str | None = None  # claim
    expires_at: float | None = None  # claim
    output: Any = None  # submit (complete, for review, for approval), expand, children_done
    error: JSON | None = None  # retry, fail
    retry_in_s: float | None = None  # retry
    reason: str | None = None  # fail, block, cancel, dep_wait
    after: str | None = None  # deps_done: the dependency that finished
    failed_dependency: str | None = None  # deps_done under on_failure=continue
    root_cause: str | None = None  # dep_failed, dep_skipped, a cascaded cancel
    via: str | None = None  # likewise: the dependency it came through
    dependency: str | None = None  # dep_wait
    comment: str | None = None  # approve, approve_to_gate
    feedback: list[str] | None = None  # reject, reject_final
    children: list[str] | None = None  # expand


class LeaseChange(_Payload):
    """``task.lease_renewed``, ``task.review_claimed``, ``task.review_released``,
    ``task.review_lease_expired``, ``task.review_failed``: lease fields, no state
    change."""

    token: int
    lease_owner: str | None = None
    lease_kind: str | None = None
    lease_expires_at: float | None = None
    error: JSON | None = None  # review_failed


class Escalation(_Payload):
    """``escalation.<kind>``: addressed to a human, with the evidence."""

    reason: str
    evidence: JSON
    to: str = "human"


class Message(_Payload):
    """``message.<kind>``: ``body`` fits the schema of its message kind."""

    to: str | None
    body: JSON


class ParticipantChange(_Payload):
    """``participant.added``, ``participant.rotated``, ``participant.revoked``: who,
    as registered (never a token or its hash)."""

    participant: str
    kind: str
    roles: list[str]
    grants: list[str]
    runs: list[str]


class AccessDenied(_Payload):
    """``access.denied``: a refused call, for the audit trail (no state changed)."""

    action: str
    target: str
    missing: str


class ArtifactWritten(_Payload):
    """``artifact.written``: a new version (its content is read from the board)."""

    name: str
    scope: str | None
    version: int
    base: int | None
    merged_with: int | None
    digest: str
    size: int
    kind: str
    strategy: str


class ArtifactConflictPayload(_Payload):
    """``artifact.conflict``: a refused write, naming both versions (nothing written)."""

    name: str
    scope: str | None
    base: int | None
    head: int
    why: str
    hunks: list[JSON]
    escalated: bool


class ReservationChange(_Payload):
    """``reservation.taken`` / ``reservation.released``: one reservation."""

    id: int
    resource: str
    mode: str
    holder: str
    token: int


class TaskContextPayload(_Payload):
    """``task.context``: what an attempt's context was assembled from (names and token
    counts, not texts), against its token budget."""

    token: int
    encoding: str
    budget: int
    total_tokens: int
    over_budget: bool
    pieces: list[JSON]


class RunArchived(_Payload):
    """``run.archived``: the run's events moved to an archive file (the hand-over)."""

    path: str
    events: int
    first_seq: int
    last_seq: int
    file_hash: str
    archived_by: str


class KeyChange(_Payload):
    """``participant.key_added`` / ``participant.key_revoked``."""

    participant: str
    key_id: str
    public_key: str | None = None


class PolicySet(_Payload):
    """``policy.set``: a new version of the board's policy."""

    version: int
    name: str
    digest: str


class PolicyDeniedPayload(_Payload):
    """``policy.denied``: an action the policy forbids (what ``access.denied`` carries,
    plus the rule and the policy's version)."""

    action: str
    target: str
    missing: str
    rule: str
    version: int


class EffectStarted(_Payload):
    """``effect.started``: an attempt is about to run a side effect (docs/effects.md)."""

    step: str
    key: str
    attempts: int


class EffectRecorded(_Payload):
    """``effect.recorded``: the effect's result is in the ledger."""

    step: str
    key: str
    result: Any


class EffectReused(_Payload):
    """``effect.reused``: a later attempt got the recorded result instead of running it."""

    step: str
    key: str
    recorded_by: str


PAYLOADS: dict[EventKind, type[BaseModel]] = {
    EventKind.RUN_CREATED: RunCreated,
    EventKind.RUN_PAUSED: Reason,
    EventKind.RUN_RESUMED: RunResumed,
    EventKind.RUN_CANCELLED: Reason,
    EventKind.RUN_FINISHED: RunFinished,
    EventKind.RUN_FAILED: RunFailedPayload,
    EventKind.TASK_CREATED: TaskCreated,
    EventKind.TASK_USAGE: TaskUsage,
    EventKind.TASK_LEASE_RENEWED: LeaseChange,
    EventKind.TASK_REVIEW_CLAIMED: LeaseChange,
    EventKind.TASK_REVIEW_RELEASED: LeaseChange,
    EventKind.TASK_REVIEW_FAILED: LeaseChange,
    EventKind.TASK_REVIEW_LEASE_EXPIRED: LeaseChange,
    **{kind: Transition for kind in TRANSITION_EVENT.values()},
    EventKind.PARTICIPANT_ADDED: ParticipantChange,
    EventKind.PARTICIPANT_ROTATED: ParticipantChange,
    EventKind.PARTICIPANT_REVOKED: ParticipantChange,
    EventKind.ACCESS_DENIED: AccessDenied,
    EventKind.ARTIFACT_WRITTEN: ArtifactWritten,
    EventKind.ARTIFACT_CONFLICT: ArtifactConflictPayload,
    EventKind.RESERVATION_TAKEN: ReservationChange,
    EventKind.RESERVATION_RELEASED: ReservationChange,
    EventKind.TASK_CONTEXT: TaskContextPayload,
    EventKind.RUN_ARCHIVED: RunArchived,
    EventKind.PARTICIPANT_KEY_ADDED: KeyChange,
    EventKind.PARTICIPANT_KEY_REVOKED: KeyChange,
    EventKind.POLICY_SET: PolicySet,
    EventKind.POLICY_DENIED: PolicyDeniedPayload,
    EventKind.EFFECT_STARTED: EffectStarted,
    EventKind.EFFECT_RECORDED: EffectRecorded,
    EventKind.EFFECT_REUSED: EffectReused,
}


def payload_model(kind: str) -> type[BaseModel]:
    """The payload model of any event kind, families included.

    Raises:
        KeyError: not a kind the board writes.
    """
    if kind.startswith(ESCALATION_PREFIX):
        return Escalation
    if kind.startswith(MESSAGE_PREFIX):
        return Message
    return PAYLOADS[EventKind(kind)]


def validate_payload(kind: str, payload: JSON) -> BaseModel:
    """Check an event's payload against its kind's model (``from`` is spelled
    ``from_`` in Python)."""
    model = payload_model(kind)
    data = dict(payload)
    if "from" in data:
        data["from_"] = data.pop("from")
    return model.model_validate(data)
