"""What the watchdog reads every pass: a run's open tasks that are blocked or were
returned by review at least n times, in creation order (a partial index serves it, so
a pass costs what is watched, not the size of the run: bench/scale.py)."""

from __future__ import annotations

import pytest

from baton import InvalidArgument, NotFound, SyncBoard
from tests.conformance._util import claim, claim_key, finish, tid
from tests.helpers import plan, task


def _keys(board: SyncBoard, run_id: str, n: int) -> list[str]:
    return [t.key for t in board.watched_tasks(run_id, review_rounds_at_least=n)]


def _rejected(board: SyncBoard, key: str, times: int, role: str = "worker") -> None:
    for _ in range(times):
        finish(board, claim_key(board, key, roles=[role]), {"draft": 1})
        review = claim(board, "r1", ["reviewer"])
        board.reject(review.task.id, "again", actor="r1", token=review.token)


def test_blocked_and_often_returned_tasks_are_watched_in_creation_order(
    board: SyncBoard,
) -> None:
    run = board.create_run(
        plan(
            task("a", role="writer", reviewer_role="reviewer", max_review_rounds=5),
            task("b"),
            task("c", role="editor", reviewer_role="reviewer", max_review_rounds=5),
            task("d"),
            task("e"),
            roles=("worker", "reviewer", "writer", "editor"),
        )
    )
    _rejected(board, "a", 2, "writer")
    lease = claim_key(board, "b")
    board.block(lease.task.id, lease.token, "needs a key", participant="w1")
    _rejected(board, "c", 1, "editor")
    assert _keys(board, run.id, 1) == ["a", "b", "c"]
    assert _keys(board, run.id, 2) == ["a", "b"]
    assert _keys(board, run.id, 3) == ["b"]
    assert _keys(board, run.id, 0) == ["a", "b", "c", "d", "e"], "n = 0: every open task"
    finish(board, claim_key(board, "d"))
    assert _keys(board, run.id, 0) == ["a", "b", "c", "e"], "a finished task is not open"


def test_a_task_that_ends_leaves_the_watch(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer", max_review_rounds=5)))
    _rejected(board, "a", 1)
    assert _keys(board, run.id, 1) == ["a"]
    finish(board, claim_key(board, "a"), {"draft": 2})
    review = claim(board, "r1", ["reviewer"])
    board.approve(tid(run, "a"), actor="r1", token=review.token)
    assert _keys(board, run.id, 1) == []


def test_bad_watch_requests_are_refused(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    with pytest.raises(NotFound):
        board.watched_tasks("no-such-run", review_rounds_at_least=1)
    with pytest.raises(InvalidArgument):
        board.watched_tasks(run.id, review_rounds_at_least=-1)
