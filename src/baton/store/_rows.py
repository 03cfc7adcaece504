"""Mapping between :class:`Task`/:class:`Run`/:class:`Event` and flat database rows.

Shared by every SQL store so that both dialects store exactly the same thing.
"""

from __future__ import annotations

import json
from typing import Any

from baton.models import Event, FailurePolicy, Run, RunState, Task
from baton.states import TaskState

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
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> str:
    return _dumps(value)


def queue_role(task: Task) -> str | None:
    """The role that may claim ``task`` right now, or ``None``."""
    if task.state is TaskState.READY:
        return task.role
    if task.state is TaskState.IN_REVIEW and task.lease_owner is None:
        return task.reviewer_role
    return None


def spec_json(task: Task) -> str:
    return dumps({f: getattr(task, f) for f in SPEC_FIELDS})


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
        task.pending_deps,
        None if task.output is None else dumps(task.output),
        None if task.last_error is None else dumps(task.last_error),
        dumps(task.feedback),
        task.blocked_reason,
        task.updated_at,
    )


def update_row(task: Task, expect_state: str, expect_token: int) -> tuple[Any, ...]:
    """Parameters for the ``update_task`` query (mutable fields, then the guard)."""
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
        None if task.output is None else dumps(task.output),
        None if task.last_error is None else dumps(task.last_error),
        dumps(task.feedback),
        task.blocked_reason,
        task.updated_at,
        task.id,
        expect_state,
        expect_token,
    )


def task_from_row(row: Any) -> Task:
    """Inverse of :func:`insert_row` for rows selected with ``task_columns``."""
    spec = json.loads(row[3])
    deps = row[22]
    return Task.model_construct(
        id=row[0],
        run_id=row[1],
        key=row[2],
        role=row[4],
        priority=row[5],
        created_seq=row[6],
        state=TaskState(row[7]),
        token=row[8],
        attempts=row[9],
        failures=row[10],
        review_rounds=row[11],
        lease_owner=row[12],
        lease_kind=row[13],
        lease_expires_at=row[14],
        not_before=row[15],
        pending_deps=row[16],
        output=None if row[17] is None else json.loads(row[17]),
        last_error=None if row[18] is None else json.loads(row[18]),
        feedback=json.loads(row[19]),
        blocked_reason=row[20],
        updated_at=row[21],
        depends_on=sorted(json.loads(deps) if isinstance(deps, str) else (deps or [])),
        **{**spec, "on_failure": FailurePolicy(spec["on_failure"])},
    )


def run_row(run: Run) -> tuple[Any, ...]:
    return (
        run.id,
        run.goal,
        run.state.value,
        dumps(run.roles),
        dumps(run.labels),
        run.created_at,
        run.finished_at,
    )


def run_from_row(row: Any) -> Run:
    return Run(
        id=row[0],
        goal=row[1],
        state=RunState(row[2]),
        roles=json.loads(row[3]),
        labels=json.loads(row[4]),
        created_at=row[5],
        finished_at=row[6],
    )


def event_from_row(row: Any) -> Event:
    return Event.model_construct(
        seq=row[0],
        run_id=row[1],
        task_id=row[2],
        kind=row[3],
        actor=row[4],
        payload=json.loads(row[5]) if isinstance(row[5], str) else row[5],
        at=row[6],
    )
