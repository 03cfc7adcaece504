"""Mapping between :class:`Task`/:class:`Run`/:class:`Event` and flat database rows.

Shared by every SQL store so that both dialects store exactly the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from baton.model import Event, FailurePolicy, Run, RunState, Task
from baton.model.artifacts import Artifact, ArtifactKind, ArtifactVersion, MergeStrategy
from baton.model.participants import Participant
from baton.model.reservations import Reservation, ReservationMode
from baton.model.states import TaskState

M = TypeVar("M", bound=BaseModel)

SPEC_FIELDS = (
    "title",
    "description",
    "input",
    "acceptance_criteria",
    "input_contract",
    "output_contract",
    "max_attempts",
    "backoff_base_s",
    "backoff_max_s",
    "lease_s",
    "on_failure",
    "reviewer_role",
    "max_review_rounds",
    "requires_approval",
    "parent_id",
    "labels",
    "timeout_s",
    "expand",
    "budget",
)

#: Event kind prefixes with an index of their own (migration "message_indexes"), and
#: the named query that reads a run's latest events of that family through it.
INDEXED_FAMILIES: dict[str, str] = {
    "message.": "latest_run_messages",
    "escalation.": "latest_run_escalations",
}

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


_decode = json.JSONDecoder().decode
_CONSTANTS: dict[str, Any] = {"null": None, "true": True, "false": False}


def dumps(value: Any) -> str:
    return _dumps(value)


def loads(text: str) -> Any:
    """``json.loads`` with the values every task row is full of ("[]", "{}", "null")
    answered without the decoder: a claim reads several rows and this is per column."""
    if len(text) <= 5:
        if text == "[]":
            return []
        if text == "{}":
            return {}
        if text in _CONSTANTS:
            return _CONSTANTS[text]
    return _decode(text)


def _constructor(model: type[M]) -> Callable[[dict[str, Any]], M]:
    """A builder equivalent to ``model.model_construct(**values)`` when ``values`` holds
    exactly the model's fields in declaration order, at a third of its cost.

    ``model_construct`` walks every field looking for aliases and defaults; rows read
    back from the store always carry every field, and a claim or a submit builds three
    tasks inside the write transaction, so that walk was a visible share of the time
    every other writer waits. The shortcut is only taken for models where the two are
    the same (no aliases, no private attributes, no post-init hook, no extras).
    """
    fields = tuple(model.model_fields)
    plain = (
        model.__pydantic_post_init__ is None
        and not model.__private_attributes__
        and model.model_config.get("extra") != "allow"
        and all(f.alias is None and f.validation_alias is None for f in model.model_fields.values())
    )
    if not plain:  # pragma: no cover - a guard for future model changes
        return lambda values: model.model_construct(**values)
    new = model.__new__
    setattr_ = object.__setattr__

    def construct(values: dict[str, Any]) -> M:
        m = new(model)
        setattr_(m, "__dict__", values)
        setattr_(m, "__pydantic_fields_set__", set(fields))
        setattr_(m, "__pydantic_extra__", None)
        setattr_(m, "__pydantic_private__", None)
        return m

    return construct


#: The columns every task query selects (the ``task_columns`` fragment), by name, in
#: order: rows are mapped through these names, and tests/test_rows.py holds both
#: dialects' SQL to them.
TASK_COLUMNS: tuple[str, ...] = (
    "id",
    "run_id",
    "key",
    "spec",
    "role",
    "priority",
    "created_seq",
    "state",
    "token",
    "attempts",
    "failures",
    "review_rounds",
    "lease_owner",
    "lease_kind",
    "lease_expires_at",
    "not_before",
    "pending_deps",
    "output",
    "last_error",
    "feedback",
    "blocked_reason",
    "updated_at",
    "worked_by",
    "depends_on",
    "tokens_used",
    "cost_used",
)
#: The columns of every run query, likewise.
RUN_COLUMNS: tuple[str, ...] = tuple(Run.model_fields)
#: The columns of every event query, likewise.
EVENT_COLUMNS: tuple[str, ...] = tuple(Event.model_fields)

_TASK_FIELDS = tuple(Task.model_fields)
#: Spec fields added by later schema versions, for rows written before them.
_TASK_DEFAULTS: dict[str, Any] = {"timeout_s": 600.0, "expand": False, "budget": None}
_new_task = _constructor(Task)
_new_run = _constructor(Run)
_new_event = _constructor(Event)  # a page of the log is a thousand of them
_STATES: dict[str, TaskState] = {s.value: s for s in TaskState}
_POLICIES: dict[str, FailurePolicy] = {p.value: p for p in FailurePolicy}


def queue_role(task: Task) -> str | None:
    """The role that may claim ``task`` right now, or ``None``."""
    if task.state is TaskState.READY:
        return task.role
    if task.state is TaskState.IN_REVIEW and task.lease_owner is None:
        return task.reviewer_role
    return None


def spec_json(task: Task) -> str:
    return dumps({f: getattr(task, f) for f in SPEC_FIELDS})


def _state_columns(task: Task) -> tuple[Any, ...]:
    """The mutable columns before ``pending_deps`` (which only creation and the
    dependency queries write), in table order."""
    return (
        task.state.value,
        queue_role(task),
        task.token,
        task.attempts,
        task.failures,
        task.review_rounds,
        task.lease_owner,
        task.lease_kind,
        task.lease_expires_at,
        task.not_before,
    )


def _result_columns(task: Task) -> tuple[Any, ...]:
    """The mutable columns after ``pending_deps``, in table order."""
    return (
        None if task.output is None else dumps(task.output),
        None if task.last_error is None else dumps(task.last_error),
        dumps(task.feedback) if task.feedback else "[]",
        task.blocked_reason,
        task.updated_at,
        task.worked_by,
    )


def insert_row(task: Task) -> tuple[Any, ...]:
    """Row for the ``insert_task`` query."""
    return (
        task.id,
        task.run_id,
        task.key,
        spec_json(task),
        task.role,
        task.priority,
        task.created_seq,
        *_state_columns(task),
        task.pending_deps,
        *_result_columns(task),
    )


def update_row(task: Task, expect_state: str, expect_token: int) -> tuple[Any, ...]:
    """Parameters for the ``update_task`` query (mutable fields, then the guard)."""
    return (*_state_columns(task), *_result_columns(task), task.id, expect_state, expect_token)


def task_from_row(row: Any) -> Task:
    """Inverse of :func:`insert_row` for rows selected with ``task_columns``, mapped by
    the column names in :data:`TASK_COLUMNS` (a test holds them to the SQL's).

    The row was validated when it was written, so it is rebuilt without validation
    (like ``Task.model_construct``), fields in declaration order.
    """
    col = dict(zip(TASK_COLUMNS, row, strict=False))  # a claim's row has run_budget after
    values = loads(col.pop("spec"))
    values["on_failure"] = _POLICIES[values["on_failure"]]
    col["state"] = _STATES[col["state"]]
    for name in ("output", "last_error"):
        if col[name] is not None:
            col[name] = loads(col[name])
    col["feedback"] = loads(col["feedback"])
    deps = col["depends_on"]
    col["depends_on"] = sorted(loads(deps) if isinstance(deps, str) else (deps or []))
    values.update(col)
    try:
        ordered = {name: values[name] for name in _TASK_FIELDS}
    except KeyError:  # a row written before one of its spec fields existed
        ordered = {name: values.get(name, _TASK_DEFAULTS.get(name)) for name in _TASK_FIELDS}
    return _new_task(ordered)


#: What a store records as the result of an idempotent submit it did in one round trip:
#: ``{"task_row": {<column>: <value>, ...}}`` (PostgreSQL, migration 0021), with
#: ``"claimed_row"`` beside it for a submit-and-claim (the task claimed next, or null;
#: migration 0025).
TASK_ROW_RECORD = "task_row"
CLAIMED_ROW_RECORD = "claimed_row"
_FLOAT_TASK_COLUMNS = frozenset({"lease_expires_at", "not_before", "updated_at", "cost_used"})


def task_from_record(stored: str) -> Task | None:
    """The task an idempotency record holds as the task's row (see
    :data:`TASK_ROW_RECORD`), the same as :func:`task_from_row` built from that row; or
    ``None`` when ``stored`` is a result the Board encoded itself."""
    if not stored.startswith('{"' + TASK_ROW_RECORD + '"'):
        return None
    return _task_from_columns(loads(stored)[TASK_ROW_RECORD])


def claimed_from_record(stored: str) -> Task | None:
    """The task a submit-and-claim recorded by the store claimed next (see
    :data:`CLAIMED_ROW_RECORD`); ``None`` if it claimed none or the record is another's."""
    if not stored.startswith('{"' + TASK_ROW_RECORD + '"'):
        return None
    columns = loads(stored).get(CLAIMED_ROW_RECORD)
    return None if columns is None else _task_from_columns(columns)


def _task_from_columns(columns: dict[str, Any]) -> Task:
    row = [columns[name] for name in TASK_COLUMNS]
    for i, name in enumerate(TASK_COLUMNS):  # JSON writes 2.0 as 2
        if name in _FLOAT_TASK_COLUMNS and row[i] is not None:
            row[i] = float(row[i])
    return task_from_row(row)


def run_budget_of(row: Any) -> dict[str, Any] | None:
    """The ``run_budget`` column that follows the task columns in a claim's row."""
    value = row[len(TASK_COLUMNS)]
    return None if value is None else dict(loads(value))


def run_row(run: Run) -> tuple[Any, ...]:
    return (
        run.id,
        run.goal,
        run.state.value,
        dumps(run.roles),
        dumps(run.labels),
        run.created_at,
        run.finished_at,
        None if run.budget is None else dumps(run.budget),
        run.created_by,
    )


def run_from_row(row: Any) -> Run:
    """Inverse of :func:`run_row`, by the names in :data:`RUN_COLUMNS`; read on every
    submit (is the run finished?), so it is rebuilt without validation, like
    :func:`task_from_row`."""
    col = dict(zip(RUN_COLUMNS, row, strict=True))
    col["state"] = RunState(col["state"])
    col["roles"] = loads(col["roles"])
    col["labels"] = loads(col["labels"])
    if col["budget"] is not None:
        col["budget"] = loads(col["budget"])
    return _new_run(col)


def event_from_row(row: Any) -> Event:
    """An event from a row selected with the columns of :data:`EVENT_COLUMNS`."""
    col = dict(zip(EVENT_COLUMNS, row, strict=True))
    if isinstance(col["payload"], str):
        col["payload"] = loads(col["payload"])
    return _new_event(col)


#: The columns of every participant query (the ``participant_columns`` fragment).
PARTICIPANT_COLUMNS: tuple[str, ...] = (*Participant.model_fields, "token_hash")


def participant_row(participant: Participant, token_hash: str) -> tuple[Any, ...]:
    """Parameters for ``insert_participant`` (and, id last, ``update_participant``)."""
    return (
        participant.id,
        participant.kind.value,
        participant.name,
        dumps(participant.roles),
        dumps([g.value for g in participant.grants]),
        dumps(participant.runs),
        participant.created_at,
        participant.rotated_at,
        participant.revoked_at,
        participant.token_hint,
        token_hash,
    )


def participant_from_row(row: Any) -> tuple[Participant, str]:
    """The participant and its token hash, by the names in :data:`PARTICIPANT_COLUMNS`."""
    col = dict(zip(PARTICIPANT_COLUMNS, row, strict=True))
    token_hash = col.pop("token_hash")
    for name in ("roles", "grants", "runs"):
        col[name] = loads(col[name])
    return Participant.model_validate(col), token_hash


def scope_key(scope: str | None) -> str:
    """How a scope is stored: ``''`` for the run's shared scope, else the task id."""
    return scope or ""


def artifact_row(artifact: Artifact) -> tuple[Any, ...]:
    return (
        artifact.run_id,
        scope_key(artifact.scope),
        artifact.name,
        artifact.kind.value,
        artifact.strategy.value,
        artifact.head,
        artifact.created_by,
        artifact.created_at,
        artifact.updated_at,
    )


def artifact_from_row(row: Any) -> Artifact:
    run_id, scope, name, kind, strategy, head, created_by, created_at, updated_at = row
    return Artifact(
        run_id=run_id,
        scope=scope or None,
        name=name,
        kind=ArtifactKind(kind),
        strategy=MergeStrategy(strategy),
        head=head,
        created_by=created_by,
        created_at=created_at,
        updated_at=updated_at,
    )


def version_row(artifact: Artifact, version: ArtifactVersion) -> tuple[Any, ...]:
    return (
        artifact.run_id,
        scope_key(artifact.scope),
        artifact.name,
        version.version,
        version.digest,
        version.size,
        version.base,
        version.merged_with,
        version.author,
        version.at,
    )


def version_from_row(row: Any) -> ArtifactVersion:
    number, digest, size, base, merged_with, author, at = row
    return ArtifactVersion(
        version=number,
        digest=digest,
        size=size,
        base=base,
        merged_with=merged_with,
        author=author,
        at=at,
    )


def reservation_row(reservation: Reservation) -> tuple[Any, ...]:
    return (
        reservation.resource,
        reservation.mode.value,
        reservation.run_id,
        reservation.task_id,
        reservation.holder,
        reservation.task_token,
        reservation.created_at,
    )


def reservation_from_row(row: Any) -> Reservation:
    rid, resource, mode, run_id, task_id, holder, task_token, created_at, expires_at = row
    return Reservation(
        id=rid,
        resource=resource,
        mode=ReservationMode(mode),
        run_id=run_id,
        task_id=task_id,
        holder=holder,
        task_token=task_token,
        created_at=created_at,
        expires_at=expires_at,
    )


def snapshot_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """A table's rows for :meth:`Store.snapshot`, sorted, hashes as hex (JSON-able, so
    that a snapshot travels over HTTP too)."""
    return sorted(
        tuple(v.hex() if isinstance(v, bytes | memoryview) else v for v in r) for r in rows
    )
