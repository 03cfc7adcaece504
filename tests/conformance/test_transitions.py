"""Illegal transitions and unknown ids: the exact error, naming what was asked, and no write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import InvalidTransition, LeaseLost, NotFound, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, tid
from tests.helpers import plan, task

S = TaskState


def _board_in_every_state(board: SyncBoard) -> dict[str, str]:
    """A run with one task in each state: the task id by state name (and "cascaded")."""
    run = board.create_run(
        plan(
            task("running", priority=9),
            task("blocked", priority=8),
            task("done", priority=7),
            task("in_review", reviewer_role="reviewer", priority=6, max_review_rounds=1),
            task("gate", requires_approval=True, priority=5, max_review_rounds=1),
            task("failed", priority=4),
            task("cancelled", priority=3),
            task("ready", max_review_rounds=1),
            task("pending", deps=("running",)),
            task("skipped", deps=("skipper",)),
            task("skipper", priority=2, on_failure="skip"),
            task("cascaded", deps=("failed",)),
        )
    )
    claim_key(board, "running")
    lease = claim_key(board, "blocked")
    board.block(lease.task_id, lease.token, "stuck", participant="w1")
    finish(board, claim_key(board, "done"))
    finish(board, claim_key(board, "in_review"))
    finish(board, claim_key(board, "gate"))
    board.cancel_task(tid(run, "cancelled"), actor="human")
    for key in ("failed", "skipper"):
        lease = claim_key(board, key)
        board.fail(lease.task_id, lease.token, "x", participant="w1", retryable=False)
    ids = {key: tid(run, key) for key in (t.key for t in board.tasks(run.id))}
    found = {t.key: t.state for t in board.tasks(run.id)}
    assert found["skipped"] is S.SKIPPED and found["cascaded"] is S.FAILED
    by_state = {found[k].value: ids[k] for k in ids if k not in ("cascaded", "skipper")}
    assert len(by_state) == len(S), "every state is represented"
    return {**by_state, "cascaded": ids["cascaded"]}


HUMAN_ACTIONS: dict[str, Callable[[SyncBoard, str], Any]] = {
    "approve": lambda b, t: b.approve(t, actor="human"),
    "reject": lambda b, t: b.reject(t, "redo", actor="human"),
    "unblock": lambda b, t: b.unblock(t, actor="human"),
    "cancel": lambda b, t: b.cancel_task(t, actor="human"),
}

LEGAL = {
    ("approve", S.IN_REVIEW),
    ("approve", S.AWAITING_APPROVAL),
    ("reject", S.IN_REVIEW),
    ("reject", S.AWAITING_APPROVAL),
    ("unblock", S.BLOCKED),
    *(("cancel", s) for s in S if s not in {S.DONE, S.FAILED, S.SKIPPED, S.CANCELLED}),
}

ILLEGAL = [(a, s) for a in HUMAN_ACTIONS for s in S if (a, s) not in LEGAL]


@pytest.mark.parametrize(("action", "state"), ILLEGAL, ids=lambda v: str(v))
def test_an_illegal_transition_is_refused_and_changes_nothing(
    board: SyncBoard, action: str, state: TaskState
) -> None:
    task_id = _board_in_every_state(board)[state.value]
    exc = refused(board, InvalidTransition, HUMAN_ACTIONS[action], board, task_id)
    assert exc.task_id == task_id
    assert exc.state == state.value
    assert task_id in str(exc)
    assert state.value in str(exc)


@pytest.mark.parametrize(
    ("action", "state"),
    ILLEGAL,
    ids=lambda v: str(v),
)
def test_an_illegal_transition_names_the_attempted_action(
    board: SyncBoard, action: str, state: TaskState
) -> None:
    task_id = _board_in_every_state(board)[state.value]
    with pytest.raises(InvalidTransition) as info:
        HUMAN_ACTIONS[action](board, task_id)
    assert info.value.action == action
    assert f"cannot {action}" in str(info.value)


def test_unblocking_a_task_failed_by_cascade_names_the_attempted_action(
    board: SyncBoard,
) -> None:
    task_id = _board_in_every_state(board)["cascaded"]
    exc = refused(board, InvalidTransition, board.unblock, task_id, actor="human")
    assert (exc.task_id, exc.state, exc.action) == (task_id, "failed", "unblock")


def test_a_worker_cannot_resubmit_a_task_it_already_handed_in(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer")))
    lease = claim(board)
    finish(board, lease)
    exc = refused(board, LeaseLost, finish, board, lease)
    assert tid(run, "a") in str(exc)


# --- unknown ids ---------------------------------------------------------------------------

GHOST_TASK = "r-nope/ghost"
GHOST_RUN = "r-nope"

TASK_CALLS: dict[str, Callable[[SyncBoard], Any]] = {
    "get_task": lambda b: b.get_task(GHOST_TASK),
    "submit": lambda b: b.submit(GHOST_TASK, 1, {}, participant="w1"),
    "fail": lambda b: b.fail(GHOST_TASK, 1, "x", participant="w1"),
    "block": lambda b: b.block(GHOST_TASK, 1, "x", participant="w1"),
    "release": lambda b: b.release(GHOST_TASK, 1, participant="w1"),
    "heartbeat": lambda b: b.heartbeat(GHOST_TASK, 1, "w1"),
    "unblock": lambda b: b.unblock(GHOST_TASK, actor="h"),
    "approve": lambda b: b.approve(GHOST_TASK, actor="h"),
    "approve-token": lambda b: b.approve(GHOST_TASK, actor="h", token=1),
    "reject": lambda b: b.reject(GHOST_TASK, "x", actor="h"),
    "cancel_task": lambda b: b.cancel_task(GHOST_TASK, actor="h"),
}

RUN_CALLS: dict[str, Callable[[SyncBoard], Any]] = {
    "get_run": lambda b: b.get_run(GHOST_RUN),
    "tasks": lambda b: b.tasks(GHOST_RUN),
    "cancel_run": lambda b: b.cancel_run(GHOST_RUN),
    "post_message": lambda b: b.post_message(GHOST_RUN, "note", {"text": "x"}, sender="w"),
}


@pytest.mark.parametrize("call", TASK_CALLS)
def test_an_unknown_task_is_not_found(board: SyncBoard, call: str) -> None:
    board.create_run(plan(task("a")))
    claim(board)
    exc = refused(board, NotFound, TASK_CALLS[call], board)
    assert (exc.kind, exc.ident) == ("task", GHOST_TASK)
    assert GHOST_TASK in str(exc)


@pytest.mark.parametrize("call", RUN_CALLS)
def test_an_unknown_run_is_not_found(board: SyncBoard, call: str) -> None:
    board.create_run(plan(task("a")))
    exc = refused(board, NotFound, RUN_CALLS[call], board)
    assert (exc.kind, exc.ident) == ("run", GHOST_RUN)
    assert GHOST_RUN in str(exc)


def test_reading_the_events_of_an_unknown_run_is_not_found(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    exc = refused(board, NotFound, board.events, GHOST_RUN)
    assert exc.ident == GHOST_RUN


def test_claiming_from_an_unknown_run_is_not_found(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    exc = refused(board, NotFound, board.claim, "w1", ["worker"], run_id=GHOST_RUN)
    assert exc.ident == GHOST_RUN
