"""Claiming: one atomic call takes the best claimable task for the participant's roles."""

from __future__ import annotations

import pytest

from baton import InvalidArgument, LeaseKind, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, tid, unchanged
from tests.helpers import ManualClock, plan, task


def test_a_claim_gives_a_work_lease_with_a_fencing_token(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", lease_s=30)))
    lease = claim(board, "w1")
    assert lease.kind is LeaseKind.WORK
    assert lease.owner == "w1"
    assert lease.task_id == tid(run, "a")
    assert lease.token == 1
    assert lease.expires_at == clock.now + 30
    stored = board.get_task(tid(run, "a"))
    assert stored.state is TaskState.RUNNING
    assert (stored.lease_owner, stored.lease_kind, stored.token) == ("w1", "work", 1)
    assert stored.lease_expires_at == clock.now + 30
    assert stored.attempts == 1
    assert lease.task == stored
    last = board.events(run.id)[-1]
    assert (last.kind, last.task_id, last.actor) == ("task.claim", tid(run, "a"), "w1")
    assert (last.payload["from"], last.payload["to"]) == ("ready", "running")


def test_the_lease_duration_can_be_chosen_per_claim(board: SyncBoard, clock: ManualClock) -> None:
    board.create_run(plan(task("a", lease_s=30)))
    lease = claim(board, lease_s=5)
    assert lease.expires_at == clock.now + 5


@pytest.mark.parametrize("lease_s", [0, -1])
def test_a_non_positive_lease_duration_is_refused(board: SyncBoard, lease_s: float) -> None:
    board.create_run(plan(task("a")))
    refused(board, InvalidArgument, board.claim, "w1", ["worker"], lease_s=lease_s)


def test_claims_go_by_priority_then_age(board: SyncBoard) -> None:
    board.create_run(
        plan(
            task("low"),
            task("high-old", priority=5),
            task("high-new", priority=5),
            task("top", priority=9),
            task("negative", priority=-1),
        )
    )
    order = [claim(board).task.key for _ in range(5)]
    assert order == ["top", "high-old", "high-new", "low", "negative"]
    assert board.claim("w1", ["worker"]) is None


def test_age_counts_across_runs(board: SyncBoard) -> None:
    first = board.create_run(plan(task("a")))
    second = board.create_run(plan(task("a"), task("urgent", priority=1)))
    assert claim(board).task_id == tid(second, "urgent")
    assert claim(board).task_id == tid(first, "a")
    assert claim(board).task_id == tid(second, "a")


def test_a_participant_only_gets_tasks_of_its_roles(board: SyncBoard) -> None:
    board.create_run(
        plan(task("w"), task("x", role="writer", priority=3), roles=("worker", "writer"))
    )
    assert board.claim("nobody", ["astronaut"]) is None
    assert claim(board, "p1", ["worker"]).task.key == "w"
    assert board.claim("p1", ["worker"]) is None
    assert claim(board, "p2", ["writer"]).task.key == "x"


def test_several_roles_take_the_best_task_across_them(board: SyncBoard) -> None:
    board.create_run(
        plan(
            task("w1"),
            task("x1", role="writer", priority=2),
            task("w2", priority=4),
            roles=("worker", "writer"),
        )
    )
    both = ["writer", "worker", "writer"]
    assert [claim(board, "p", both).task.key for _ in range(3)] == ["w2", "x1", "w1"]


def test_the_run_filter_only_claims_from_that_run(board: SyncBoard) -> None:
    first = board.create_run(plan(task("a", priority=9)))
    second = board.create_run(plan(task("b")))
    lease = claim(board, run_id=second.id)
    assert lease.task_id == tid(second, "b")
    assert board.claim("w1", ["worker"], run_id=second.id) is None
    assert claim(board).task_id == tid(first, "a")


def test_claiming_with_no_roles_is_refused(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    refused(board, InvalidArgument, board.claim, "w1", [])


def test_a_bare_string_of_roles_is_not_split_into_letters(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    try:
        lease = board.claim("w1", "worker")
    except InvalidArgument:
        return
    assert lease is not None and lease.task.key == "a"


def test_claiming_when_nothing_is_claimable_returns_none_and_writes_nothing(
    board: SyncBoard,
) -> None:
    assert board.claim("w1", ["worker"]) is None  # empty board
    board.create_run(plan(task("a"), task("b", deps=("a",))))
    claim(board)
    with unchanged(board):
        assert board.claim("w2", ["worker"]) is None  # a is running, b is pending


def test_a_running_task_is_not_claimed_twice(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    claim(board, "w1")
    assert board.claim("w2", ["worker"]) is None


def test_pending_tasks_are_not_claimable_until_their_dependencies_are_done(
    board: SyncBoard,
) -> None:
    board.create_run(plan(task("b", deps=("a",), priority=9), task("a")))
    lease = claim_key(board, "a")
    assert board.claim("w2", ["worker"]) is None
    finish(board, lease)
    assert claim(board).task.key == "b"


def test_nothing_is_claimable_in_a_cancelled_run(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b")))
    board.cancel_run(run.id)
    assert board.claim("w1", ["worker"]) is None


def test_with_a_run_paused_claims_across_runs_still_go_by_priority_then_age(
    board: SyncBoard,
) -> None:
    """While a run is paused its queued tasks stay queued, and a claim with no run
    filter takes another path (one look per active run): the same order, none of
    the paused run's tasks, and all of them again once it resumes."""
    ahead = board.create_run(plan(task("p1", priority=9), task("p2")))
    first = board.create_run(plan(task("a"), task("a-top", priority=3)))
    second = board.create_run(plan(task("b"), task("b-top", priority=5), task("b-mid", priority=3)))
    board.pause_run(ahead.id, actor="human", reason="hold")
    order = [claim(board).task_id for _ in range(5)]
    assert order == [
        tid(second, "b-top"),
        tid(first, "a-top"),
        tid(second, "b-mid"),
        tid(first, "a"),
        tid(second, "b"),
    ]
    assert board.claim("w1", ["worker"]) is None
    board.resume_run(ahead.id, actor="human")
    assert [claim(board).task_id for _ in range(2)] == [tid(ahead, "p1"), tid(ahead, "p2")]
    assert board.claim("w1", ["worker"]) is None
