"""Cancelling tasks and runs."""

from __future__ import annotations

import pytest

from baton import InvalidArgument, InvalidTransition, LeaseLost, RunState, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, states, tasks_by_key, tid
from tests.helpers import plan, task

S = TaskState


def test_cancelling_a_running_task_fences_off_its_holder(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    lease = claim(board)
    cancelled = board.cancel_task(lease.task_id, actor="human", reason="changed my mind")
    assert cancelled.state is S.CANCELLED
    assert cancelled.lease_owner is None
    event = board.events(run.id)[-2]
    assert (event.kind, event.actor, event.payload["reason"]) == (
        "task.cancel",
        "human",
        "changed my mind",
    )
    refused(board, LeaseLost, finish, board, lease)
    refused(board, LeaseLost, board.heartbeat, lease.task_id, lease.token, "w1")
    assert board.get_task(lease.task_id).output is None


def test_cancelling_a_task_cancels_its_dependents_that_have_not_started(
    board: SyncBoard,
) -> None:
    run = board.create_run(
        plan(
            task("a"),
            task("b", deps=("a",)),
            task("c", deps=("b",)),
            task("d", deps=("c", "side")),
            task("side"),
        )
    )
    board.cancel_task(tid(run, "a"), actor="human")
    tasks = tasks_by_key(board, run)
    assert {k: t.state for k, t in tasks.items()} == {
        "a": S.CANCELLED,
        "b": S.CANCELLED,
        "c": S.CANCELLED,
        "d": S.CANCELLED,
        "side": S.READY,
    }
    err = tasks["d"].last_error
    assert err is not None and err["root_cause"] == tid(run, "a")
    assert claim(board).task.key == "side"


def test_cancelling_a_task_leaves_running_and_finished_work_alone(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("done"), task("running"), task("next", deps=("done", "running")), task("x"))
    )
    finish(board, claim_key(board, "done"))
    running = claim_key(board, "running")
    board.cancel_task(tid(run, "next"), actor="human")
    assert states(board, run) == {
        "done": S.DONE,
        "running": S.RUNNING,
        "next": S.CANCELLED,
        "x": S.READY,
    }
    assert finish(board, running).state is S.DONE


@pytest.mark.parametrize("where", ["pending", "ready", "blocked", "in_review", "gate"])
def test_any_unfinished_task_can_be_cancelled(board: SyncBoard, where: str) -> None:
    run = board.create_run(
        plan(
            task("blocked", priority=9),
            task("in_review", reviewer_role="reviewer", priority=8),
            task("gate", requires_approval=True, priority=7),
            task("first"),
            task("pending", deps=("first",)),
            task("ready"),
        )
    )
    lease = claim_key(board, "blocked")
    board.block(lease.task_id, lease.token, "need creds", participant="w1")
    finish(board, claim_key(board, "in_review"))
    finish(board, claim_key(board, "gate"))
    assert states(board, run)[where].value == ("awaiting_approval" if where == "gate" else where)
    assert board.cancel_task(tid(run, where), actor="human").state is S.CANCELLED


def test_cancelling_a_task_under_review_fences_off_the_reviewer(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer")))
    finish(board, claim(board))
    review = claim(board, "r1", ["reviewer"])
    board.cancel_task(tid(run, "a"), actor="human")
    refused(board, LeaseLost, board.approve, review.task_id, actor="r1", token=review.token)


@pytest.mark.parametrize("how", ["done", "failed", "cancelled"])
def test_a_finished_task_cannot_be_cancelled(board: SyncBoard, how: str) -> None:
    run = board.create_run(plan(task("a")))
    if how == "cancelled":
        board.cancel_task(tid(run, "a"), actor="human")
    else:
        lease = claim(board)
        if how == "done":
            finish(board, lease)
        else:
            board.fail(lease.task_id, lease.token, "x", participant="w1", retryable=False)
    exc = refused(board, InvalidTransition, board.cancel_task, tid(run, "a"), actor="human")
    assert (exc.task_id, exc.state, exc.action) == (tid(run, "a"), how, "cancel")


def test_cancelling_the_last_open_task_finishes_the_run(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b")))
    finish(board, claim(board))
    board.cancel_task(tid(run, "b"), actor="human")
    assert board.get_run(run.id).state is RunState.FINISHED
    assert board.events(run.id)[-1].kind == "run.finished"


def test_cancelling_a_run_cancels_every_unfinished_task(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("done"), task("running"), task("ready"), task("pending", deps=("running",)))
    )
    other = board.create_run(plan(task("elsewhere")))
    finish(board, claim_key(board, "done"))
    lease = claim_key(board, "running")
    cancelled = board.cancel_run(run.id, actor="human", reason="budget")
    assert cancelled.id == run.id
    assert cancelled.state is RunState.CANCELLED
    assert cancelled.finished_at is not None
    assert board.get_run(run.id) == cancelled
    assert states(board, run) == {
        "done": S.DONE,
        "running": S.CANCELLED,
        "ready": S.CANCELLED,
        "pending": S.CANCELLED,
    }
    refused(board, LeaseLost, finish, board, lease)
    run_events = [e.kind for e in board.events(run.id)]
    assert run_events[-1] == "run.cancelled"
    assert "run.finished" not in run_events
    assert board.get_run(other.id).state is RunState.ACTIVE
    assert claim(board).task_id == tid(other, "elsewhere")


def test_a_run_that_is_no_longer_active_cannot_be_cancelled(board: SyncBoard) -> None:
    cancelled = board.create_run(plan(task("a")))
    board.cancel_run(cancelled.id)
    refused(board, InvalidArgument, board.cancel_run, cancelled.id)
    finished = board.create_run(plan(task("a")))
    finish(board, claim(board))
    assert board.get_run(finished.id).state is RunState.FINISHED
    refused(board, InvalidArgument, board.cancel_run, finished.id)
