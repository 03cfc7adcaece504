"""How a run ends: ``finished`` only when its required work succeeded; otherwise
``failed`` — in the run's state, its event log, its narration — with an escalation for
a human. A task that fails for good always raises an escalation naming its last error."""

from __future__ import annotations

from baton import RunState, SyncBoard, TaskState, narrate
from tests.conformance._util import claim, finish, tid
from tests.helpers import ManualClock, plan, task


def _fail_every_attempt(board: SyncBoard, key: str, attempts: int) -> None:
    for n in range(attempts):
        lease = claim(board)
        assert lease.task.key == key
        board.fail(lease.task.id, lease.token, f"boom {n + 1}", participant="w1")


def test_a_task_that_fails_every_attempt_fails_the_run_loudly(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("a", max_attempts=2, backoff_base_s=0), task("b", deps=("a",)))
    )
    _fail_every_attempt(board, "a", 2)

    assert board.get_task(tid(run, "a")).state is TaskState.FAILED
    assert board.get_task(tid(run, "b")).state is TaskState.FAILED  # cascade
    ended = board.get_run(run.id)
    assert ended.state is RunState.FAILED
    assert ended.ended and ended.finished_at is not None

    kinds = [e.kind for e in board.events(run.id)]
    assert "run.failed" in kinds and "run.finished" not in kinds
    (failed_event,) = [e for e in board.events(run.id) if e.kind == "run.failed"]
    assert failed_event.payload["failed_count"] == 2
    assert set(failed_event.payload["failed"]) == {tid(run, "a"), tid(run, "b")}
    assert failed_event.payload["root_causes"] == [tid(run, "a")]

    by_kind = {e.kind: e for e in board.escalations(run.id)}
    task_failed = by_kind["escalation.task_failed"]
    assert task_failed.task_id == tid(run, "a")
    reason = task_failed.payload["reason"]
    assert tid(run, "a") in reason and "boom 2" in reason and "2 attempts" in reason
    evidence = task_failed.payload["evidence"]
    assert evidence["failures"] == 2 and evidence["max_attempts"] == 2
    assert evidence["last_error"]["message"] == "boom 2"
    assert tid(run, "a") in by_kind["escalation.run_failed"].payload["reason"]

    text = narrate(ended, board.tasks(run.id), board.escalations(run.id))
    assert text.startswith("Run FAILED")
    assert "finished" not in text.split(".")[0]


def test_a_run_whose_work_all_succeeded_finishes(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    finish(board, claim(board))
    finish(board, claim(board))
    assert board.get_run(run.id).state is RunState.FINISHED
    assert board.escalations(run.id) == []


def test_a_failed_task_with_continue_policy_is_not_required(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("a", max_attempts=1, on_failure="continue"), task("b", deps=("a",)))
    )
    lease = claim(board)
    board.fail(lease.task.id, lease.token, "optional step broke", participant="w1")
    finish(board, claim(board))  # b ran anyway
    assert board.get_run(run.id).state is RunState.FINISHED
    # the failure is still told to a human
    assert [e.kind for e in board.escalations(run.id)] == ["escalation.task_failed"]


def test_a_skipped_subtree_fails_the_run(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("a", max_attempts=1, on_failure="skip"), task("b", deps=("a",)))
    )
    lease = claim(board)
    board.fail(lease.task.id, lease.token, "no", participant="w1", retryable=False)
    assert board.get_task(tid(run, "b")).state is TaskState.SKIPPED
    assert board.get_run(run.id).state is RunState.FAILED


def test_a_final_failure_by_the_agent_is_escalated_too(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", max_attempts=5)))
    lease = claim(board)
    board.fail(lease.task.id, lease.token, "cannot be done", participant="w1", retryable=False)
    (esc,) = [e for e in board.escalations(run.id) if e.kind == "escalation.task_failed"]
    assert "given up" in esc.payload["reason"] and "cannot be done" in esc.payload["reason"]


def test_attempts_lost_to_expired_leases_are_said_to_be_lost_not_errors(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", max_attempts=2, lease_s=5, backoff_base_s=0)))
    for _ in range(2):
        claim(board)
        clock.advance(6)
        board.reap_expired()
    assert board.get_run(run.id).state is RunState.FAILED
    (esc,) = [e for e in board.escalations(run.id) if e.kind == "escalation.task_failed"]
    assert "lease of w1 expired" in esc.payload["reason"]
    assert "not an error of the work" in esc.payload["reason"]
    assert esc.payload["evidence"]["last_error"]["kind"] == "lease_expired"


def test_a_cancelled_run_is_cancelled_not_failed(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    board.cancel_run(run.id, actor="human:lead")
    assert board.get_run(run.id).state is RunState.CANCELLED
