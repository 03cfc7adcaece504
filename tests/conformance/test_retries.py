"""Failed attempts: retries with exponential backoff and jitter, final failures, contracts."""

from __future__ import annotations

import pytest

from baton import ContractViolation, InvalidArgument, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, tid, unchanged
from tests.helpers import ManualClock, plan, task

CONTRACT = {
    "type": "object",
    "required": ["summary", "score"],
    "properties": {"summary": {"type": "string"}, "score": {"type": "integer", "minimum": 0}},
    "additionalProperties": False,
}


def _full_backoff(base: float, cap: float, failures: int) -> float:
    return min(cap, base * 2 ** (failures - 1))


def test_a_retryable_failure_returns_the_task_to_ready_after_a_backoff(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", backoff_base_s=10, backoff_max_s=100)))
    lease = claim(board)
    failed_at = clock.now
    after = board.fail(lease.task_id, lease.token, "flaky network", participant="w1")
    assert after.state is TaskState.READY
    assert after.failures == 1
    assert after.last_error == {"kind": "error", "message": "flaky network"}
    assert after.lease_owner is None
    assert failed_at + 5 <= after.not_before <= failed_at + 10
    assert board.get_task(lease.task_id) == after
    event = board.events(run.id)[-1]
    assert event.kind == "task.retry"
    assert event.payload["error"] == after.last_error

    clock.now = after.not_before - 0.001
    with unchanged(board):
        assert board.claim("w2", ["worker"]) is None, "not claimable before its backoff"
    clock.now = after.not_before
    again = claim(board, "w2")
    assert again.task_id == tid(run, "a")
    assert (again.token, again.task.attempts, again.task.failures) == (2, 2, 1)


def test_a_task_in_backoff_does_not_hold_up_other_work(
    board: SyncBoard, clock: ManualClock
) -> None:
    board.create_run(plan(task("a", priority=9, backoff_base_s=10), task("b")))
    lease = claim_key(board, "a")
    board.fail(lease.task_id, lease.token, "x", participant="w1")
    assert claim(board).task.key == "b"


def test_a_structured_error_is_kept_as_given(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board)
    error = {"kind": "tool_error", "tool": "search", "detail": {"status": 503}}
    after = board.fail(lease.task_id, lease.token, error, participant="w1")
    assert after.last_error == error


def test_a_final_failure_fails_the_task_at_once(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", max_attempts=5)))
    lease = claim(board)
    after = board.fail(lease.task_id, lease.token, "bad input", participant="w1", retryable=False)
    assert after.state is TaskState.FAILED
    assert after.failures == 1
    assert after.last_error == {"kind": "error", "message": "bad input"}
    assert [e.kind for e in board.events(run.id)][-4:] == [
        "task.fail",
        "escalation.task_failed",
        "run.failed",
        "escalation.run_failed",
    ]
    assert board.get_run(run.id).state == "failed"


def test_the_task_fails_for_good_after_max_attempts(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a", max_attempts=3)))
    states = []
    for attempt in range(3):
        clock.advance(3600)
        lease = claim(board)
        assert lease.task.attempts == attempt + 1
        states.append(board.fail(lease.task_id, lease.token, "x", participant="w1").state)
    assert states == [TaskState.READY, TaskState.READY, TaskState.FAILED]
    stored = board.get_task(tid(run, "a"))
    assert stored.failures == 3
    clock.advance(3600)
    assert board.claim("w1", ["worker"]) is None


def test_backoff_grows_exponentially_and_is_bounded(board: SyncBoard, clock: ManualClock) -> None:
    base, cap = 2.0, 10.0
    board.create_run(plan(task("a", backoff_base_s=base, backoff_max_s=cap, max_attempts=8)))
    for failures in range(1, 7):
        lease = claim(board)
        now = clock.now
        after = board.fail(lease.task_id, lease.token, "x", participant="w1")
        delay = after.not_before - now
        full = _full_backoff(base, cap, failures)
        assert full / 2 <= delay <= full, f"failure {failures}: delay {delay}, full {full}"
        assert delay <= cap
        clock.now = after.not_before


def test_backoff_is_jittered(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(*(task(f"t{i}", backoff_base_s=8) for i in range(12))))
    delays = []
    for _ in range(12):
        lease = claim(board)
        after = board.fail(lease.task_id, lease.token, "x", participant="w1")
        delays.append(after.not_before - clock.now)
    assert all(4 <= d <= 8 for d in delays)
    assert len(set(delays)) > 1, "every retry got the same delay: no jitter"
    assert len(board.tasks(run.id)) == 12


def test_a_zero_backoff_retries_at_once(board: SyncBoard) -> None:
    board.create_run(plan(task("a", backoff_base_s=0)))
    lease = claim(board)
    board.fail(lease.task_id, lease.token, "x", participant="w1")
    assert claim(board, "w2").task.failures == 1


def test_blocking_needs_a_reason(board: SyncBoard) -> None:
    board.create_run(plan(task("a")))
    lease = claim(board)
    refused(board, InvalidArgument, board.block, lease.task_id, lease.token, "  ", participant="w1")


# --- output contracts -------------------------------------------------------------------


def test_an_output_that_fits_the_contract_is_done(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", output_contract=CONTRACT)))
    done = finish(board, claim(board), {"summary": "fine", "score": 3})
    assert done.state is TaskState.DONE
    assert board.get_task(tid(run, "a")).output == {"summary": "fine", "score": 3}


def test_a_contract_violation_is_a_failed_attempt_never_done(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", output_contract=CONTRACT, max_attempts=3)))
    lease = claim(board)
    with pytest.raises(ContractViolation) as info:
        finish(board, lease, {"summary": 7, "extra": True})
    exc = info.value
    assert exc.task_id == lease.task_id
    assert exc.state == "ready"
    assert len(exc.errors) == 3  # summary's type, the missing score, the extra property
    assert any("summary" in e for e in exc.errors)
    assert any("score" in e for e in exc.errors)
    assert any("extra" in e for e in exc.errors)
    stored = board.get_task(lease.task_id)
    assert stored.state is TaskState.READY
    assert stored.failures == 1
    assert stored.output is None, "a refused output never lands"
    assert stored.last_error == {"kind": "contract_violation", "errors": exc.errors}
    assert stored.not_before > clock.now
    assert "task.complete" not in [e.kind for e in board.events(run.id)]


def test_contract_violations_past_max_attempts_fail_the_task(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", output_contract=CONTRACT, max_attempts=2)))
    states = []
    for _ in range(2):
        clock.advance(3600)
        with pytest.raises(ContractViolation) as info:
            finish(board, claim(board), {"summary": "no score"})
        states.append(info.value.state)
    assert states == ["ready", "failed"]
    stored = board.get_task(tid(run, "a"))
    assert stored.state is TaskState.FAILED
    assert stored.output is None
    assert stored.last_error is not None and stored.last_error["kind"] == "contract_violation"
    assert board.get_run(run.id).state == "failed"


def test_without_a_contract_any_output_is_accepted(board: SyncBoard) -> None:
    board.create_run(plan(task("a"), task("b")))
    assert finish(board, claim(board), [1, "two", None]).output == [1, "two", None]
    assert finish(board, claim(board), "plain text").output == "plain text"
