"""Leases: heartbeats, fencing tokens, expiry, the reaper and release."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import InvalidArgument, Lease, LeaseKind, LeaseLost, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, tid
from tests.helpers import ManualClock, plan, task

# Every write a lease holder can make, as (name, call).
Write = Callable[[SyncBoard, Lease], Any]
WRITES: dict[str, Write] = {
    "submit": lambda b, lease: b.submit(lease.task_id, lease.token, {"x": 1}, participant="w1"),
    "fail": lambda b, lease: b.fail(lease.task_id, lease.token, "boom", participant="w1"),
    "fail-final": lambda b, lease: b.fail(
        lease.task_id, lease.token, "boom", participant="w1", retryable=False
    ),
    "block": lambda b, lease: b.block(lease.task_id, lease.token, "stuck", participant="w1"),
    "release": lambda b, lease: b.release(lease.task_id, lease.token, participant="w1"),
    "heartbeat": lambda b, lease: b.heartbeat(lease.task_id, lease.token, "w1"),
}


def _lease_expired_and_reclaimed(board: SyncBoard, clock: ManualClock, lease: Lease) -> None:
    clock.advance(lease.task.lease_s + 1)
    board.reap_expired()
    clock.advance(3600)  # past the retry backoff
    assert claim(board, "w2").token == lease.token + 1


def _lease_expired_and_reaped(board: SyncBoard, clock: ManualClock, lease: Lease) -> None:
    clock.advance(lease.task.lease_s + 1)
    assert [t.id for t in board.reap_expired()] == [lease.task_id]


def _released(board: SyncBoard, clock: ManualClock, lease: Lease) -> None:
    board.release(lease.task_id, lease.token, participant="w1")


def _released_and_reclaimed(board: SyncBoard, clock: ManualClock, lease: Lease) -> None:
    board.release(lease.task_id, lease.token, participant="w1")
    claim(board, "w2")


def _cancelled(board: SyncBoard, clock: ManualClock, lease: Lease) -> None:
    board.cancel_task(lease.task_id, actor="human")


STALE: dict[str, Callable[[SyncBoard, ManualClock, Lease], None]] = {
    "expired-reaped-reclaimed": _lease_expired_and_reclaimed,
    "expired-reaped": _lease_expired_and_reaped,
    "released": _released,
    "released-reclaimed": _released_and_reclaimed,
    "cancelled": _cancelled,
}


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("how", STALE)
def test_a_stale_token_loses_the_lease_and_nothing_lands(
    board: SyncBoard, clock: ManualClock, how: str, write: str
) -> None:
    board.create_run(plan(task("a", lease_s=10, output_contract={"type": "object"})))
    lease = claim(board, "w1")
    STALE[how](board, clock, lease)
    exc = refused(board, LeaseLost, WRITES[write], board, lease)
    assert exc.task_id == lease.task_id
    assert exc.token == lease.token
    assert lease.task_id in str(exc)


@pytest.mark.parametrize("write", WRITES)
def test_a_write_with_a_wrong_token_or_by_someone_else_is_refused(
    board: SyncBoard, write: str
) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board, "w1")
    for forged in (
        lease.model_copy(update={"token": lease.token + 1}),
        lease.model_copy(update={"token": lease.token - 1}),
    ):
        refused(board, LeaseLost, WRITES[write], board, forged)
    impostor = {
        "submit": lambda: board.submit(lease.task_id, lease.token, {}, participant="w2"),
        "fail": lambda: board.fail(lease.task_id, lease.token, "x", participant="w2"),
        "fail-final": lambda: board.fail(
            lease.task_id, lease.token, "x", participant="w2", retryable=False
        ),
        "block": lambda: board.block(lease.task_id, lease.token, "x", participant="w2"),
        "release": lambda: board.release(lease.task_id, lease.token, participant="w2"),
        "heartbeat": lambda: board.heartbeat(lease.task_id, lease.token, "w2"),
    }[write]
    refused(board, LeaseLost, impostor)


@pytest.mark.parametrize("write", WRITES)
def test_an_expired_lease_is_lost_even_before_the_reaper_runs(
    board: SyncBoard, clock: ManualClock, write: str
) -> None:
    board.create_run(plan(task("a", lease_s=10)))
    lease = claim(board, "w1")
    clock.advance(11)
    refused(board, LeaseLost, WRITES[write], board, lease)


def test_a_heartbeat_extends_the_lease(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a", lease_s=60)))
    lease = claim(board, "w1")
    clock.advance(50)
    renewed = board.heartbeat(lease.task_id, lease.token, "w1")
    assert renewed.token == lease.token
    assert renewed.kind is LeaseKind.WORK
    assert renewed.expires_at == clock.now + 60
    assert board.get_task(lease.task_id).lease_expires_at == clock.now + 60
    clock.advance(50)  # past the original expiry, within the renewed one
    assert board.reap_expired() == []
    assert board.claim("w2", ["worker"]) is None
    assert finish(board, lease).state is TaskState.DONE
    assert board.events(run.id)[-3].kind == "task.lease_renewed"


def test_a_heartbeat_can_ask_for_a_different_duration(board: SyncBoard, clock: ManualClock) -> None:
    board.create_run(plan(task("a", lease_s=60)))
    lease = claim(board, "w1")
    assert board.heartbeat(lease.task_id, lease.token, "w1", lease_s=300).expires_at == (
        clock.now + 300
    )


def test_a_heartbeat_extends_a_review_lease(board: SyncBoard, clock: ManualClock) -> None:
    board.create_run(plan(task("a", reviewer_role="reviewer", lease_s=20)))
    finish(board, claim(board))
    review = claim(board, "r1", ["reviewer"])
    clock.advance(15)
    renewed = board.heartbeat(review.task_id, review.token, "r1")
    assert renewed.kind is LeaseKind.REVIEW
    clock.advance(15)
    assert board.reap_expired() == []
    assert board.approve(review.task_id, actor="r1", token=review.token).state is TaskState.DONE


# --- the reaper ------------------------------------------------------------------------


def test_an_expired_work_lease_is_returned_to_ready_as_a_failed_attempt(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", lease_s=10, max_attempts=3), task("b")))
    lease = claim_key(board, "a")
    clock.advance(10)
    assert board.reap_expired() == [], "a lease is live until its expiry time has passed"
    clock.advance(1)
    (reaped,) = board.reap_expired()
    assert reaped.id == lease.task_id
    assert reaped.state is TaskState.READY
    assert reaped.failures == 1
    assert reaped.lease_owner is None and reaped.lease_expires_at is None
    assert reaped.last_error is not None and reaped.last_error["kind"] == "lease_expired"
    assert board.get_task(lease.task_id) == reaped
    assert board.events(run.id)[-1].kind == "task.retry"
    assert board.reap_expired() == [], "reaping twice returns nothing more"
    clock.advance(3600)
    again = claim_key(board, "a", "w2")
    assert again.token == lease.token + 1
    assert again.task.attempts == 2


def test_an_expired_lease_past_max_attempts_fails_the_task(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", lease_s=10, max_attempts=2)))
    for _ in range(2):
        clock.advance(3600)
        claim(board)
        clock.advance(11)
        board.reap_expired()
    stored = board.get_task(tid(run, "a"))
    assert stored.state is TaskState.FAILED
    assert stored.failures == 2
    assert board.get_run(run.id).state == "failed"


def test_an_expired_review_lease_frees_the_review(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer", lease_s=10)))
    finish(board, claim(board))
    review = claim(board, "r1", ["reviewer"])
    assert board.claim("r2", ["reviewer"]) is None
    clock.advance(11)
    (reaped,) = board.reap_expired()
    assert reaped.state is TaskState.IN_REVIEW
    assert reaped.lease_owner is None
    assert reaped.failures == 0, "a reviewer's lapse is not the worker's failed attempt"
    assert board.events(run.id)[-1].kind == "task.review_lease_expired"
    second = claim(board, "r2", ["reviewer"])
    assert second.kind is LeaseKind.REVIEW
    assert second.token == review.token + 1
    refused(board, LeaseLost, board.approve, review.task_id, actor="r1", token=review.token)


# --- release -------------------------------------------------------------------------


def test_release_gives_the_claim_back_without_counting_an_attempt(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", backoff_base_s=100)))
    before = board.get_task(tid(run, "a"))
    lease = claim(board, "w1")
    released = board.release(lease.task_id, lease.token, participant="w1")
    assert released.state is TaskState.READY
    assert (released.attempts, released.failures) == (before.attempts, before.failures)
    assert released.lease_owner is None
    assert released.not_before == before.not_before, "a release is not a retry: no backoff"
    assert board.events(run.id)[-1].kind == "task.release"
    again = claim(board, "w2")
    assert again.token == lease.token + 1
    assert again.task.attempts == 1
    refused(board, LeaseLost, finish, board, lease)


def test_releasing_a_review_lease_makes_the_review_claimable_again(board: SyncBoard) -> None:
    board.create_run(plan(task("a", reviewer_role="reviewer")))
    finish(board, claim(board))
    review = claim(board, "r1", ["reviewer"])
    released = board.release(review.task_id, review.token, participant="r1")
    assert released.state is TaskState.IN_REVIEW
    assert released.lease_owner is None
    second = claim(board, "r2", ["reviewer"])
    assert second.token == review.token + 1


@pytest.mark.parametrize("lease_s", [0, -5])
def test_a_heartbeat_with_a_non_positive_duration_is_refused(
    board: SyncBoard, lease_s: float
) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board, "w1")
    refused(
        board, InvalidArgument, board.heartbeat, lease.task_id, lease.token, "w1", lease_s=lease_s
    )
