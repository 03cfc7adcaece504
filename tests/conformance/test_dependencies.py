"""Dependencies: tasks become ready with their last dependency, and failures follow the
failing task's ``on_failure`` policy (cascade, skip, continue, wait)."""

from __future__ import annotations

from baton import Event, InvalidTransition, SyncBoard, TaskState
from tests.conformance._util import (
    claim,
    claim_key,
    event_kinds,
    finish,
    last_seq,
    refused,
    states,
    tasks_by_key,
    tid,
)
from tests.helpers import ManualClock, plan, task

S = TaskState


def _commit_of(board: SyncBoard, since: int) -> list[Event]:
    """The events written by the one call made after ``since``."""
    return board.events(since=since)


def test_a_task_becomes_ready_in_the_same_commit_as_its_last_dependency(
    board: SyncBoard,
) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",)), task("c", deps=("b",))))
    lease = claim_key(board, "a")
    seq = last_seq(board)
    done = finish(board, lease)
    assert done.state is S.DONE
    assert board.get_task(tid(run, "b")).state is S.READY, "ready when the submit returns"
    assert board.get_task(tid(run, "c")).state is S.PENDING
    events = _commit_of(board, seq)
    assert event_kinds(events) == [("task.complete", "a"), ("task.deps_done", "b")]
    complete, ready = events
    assert ready.seq == complete.seq + 1, "nothing can come between the two"
    assert ready.at == complete.at
    assert ready.payload["after"] == tid(run, "a")
    assert (ready.payload["from"], ready.payload["to"]) == ("pending", "ready")


def test_a_task_waits_for_all_of_its_dependencies(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("root"),
            task("left", deps=("root",)),
            task("right", deps=("root",)),
            task("join", deps=("left", "right")),
        )
    )
    root = claim_key(board, "root")
    seq = last_seq(board)
    finish(board, root)
    assert event_kinds(_commit_of(board, seq)) == [
        ("task.complete", "root"),
        ("task.deps_done", "left"),
        ("task.deps_done", "right"),
    ]
    left, right = claim_key(board, "left"), claim_key(board, "right")
    finish(board, left)
    assert states(board, run)["join"] is S.PENDING
    assert board.claim("w1", ["worker"]) is None
    finish(board, right)
    assert claim(board).task.key == "join"


def test_the_last_of_several_dependencies_releases_the_task(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("x"),
            task("y"),
            task("z", role="writer", deps=("x", "y")),
            roles=("worker", "writer"),
        )
    )
    lx, ly = claim_key(board, "x"), claim_key(board, "y", "w2")
    finish(board, ly)
    assert states(board, run)["z"] is S.PENDING
    assert board.claim("p", ["writer"]) is None
    seq = last_seq(board)
    finish(board, lx)
    assert event_kinds(_commit_of(board, seq)) == [
        ("task.complete", "x"),
        ("task.deps_done", "z"),
    ]
    assert claim(board, "p", ["writer"]).task.key == "z"


def test_a_dependency_finishing_through_review_releases_dependents_on_approval(
    board: SyncBoard,
) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer"), task("b", deps=("a",))))
    finish(board, claim_key(board, "a"))
    assert states(board, run) == {"a": S.IN_REVIEW, "b": S.PENDING}
    review = claim(board, "r1", ["reviewer"])
    seq = last_seq(board)
    board.approve(review.task_id, actor="r1", token=review.token)
    assert event_kinds(_commit_of(board, seq)) == [
        ("task.approve", "a"),
        ("task.deps_done", "b"),
    ]


# --- failure policies --------------------------------------------------------------------


def test_cascade_fails_dependents_transitively_naming_the_root_cause(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("a", on_failure="cascade"),
            task("b", deps=("a",)),
            task("c", deps=("b",)),
            task("d", deps=("b", "other")),
            task("other"),
        )
    )
    lease = claim_key(board, "a")
    seq = last_seq(board)
    board.fail(lease.task_id, lease.token, "broken", participant="w1", retryable=False)
    tasks = tasks_by_key(board, run)
    assert {k: t.state for k, t in tasks.items()} == {
        "a": S.FAILED,
        "b": S.FAILED,
        "c": S.FAILED,
        "d": S.FAILED,
        "other": S.READY,
    }
    for key, via in (("b", "a"), ("c", "b"), ("d", "b")):
        err = tasks[key].last_error
        assert err is not None
        assert err["root_cause"] == tid(run, "a"), key
        assert err["via"] == tid(run, via), key
    kinds = event_kinds(_commit_of(board, seq))
    assert kinds[:2] == [("task.fail", "a"), ("escalation.task_failed", "a")]
    assert sorted(kinds[2:]) == [
        ("task.dep_failed", "b"),
        ("task.dep_failed", "c"),
        ("task.dep_failed", "d"),
    ]
    assert not any(k == "task.claim" and key != "a" for k, key in event_kinds(board.events()))


def test_a_cascade_passes_through_dependents_whatever_their_own_policy(
    board: SyncBoard,
) -> None:
    """The root's cascade governs everything downstream: a dependent failed by it does
    not apply its own (here: continue) policy and release its dependents."""
    run = board.create_run(
        plan(
            task("a", on_failure="cascade"),
            task("b", deps=("a",), on_failure="continue"),
            task("c", deps=("b",)),
        )
    )
    lease = claim_key(board, "a")
    board.fail(lease.task_id, lease.token, "broken", participant="w1", retryable=False)
    tasks = tasks_by_key(board, run)
    assert {k: t.state for k, t in tasks.items()} == {"a": S.FAILED, "b": S.FAILED, "c": S.FAILED}
    last_error = tasks["c"].last_error
    assert last_error is not None and last_error["root_cause"] == tid(run, "a")
    assert board.claim("w1", ["worker"]) is None


def test_cascade_also_follows_failure_by_exhausted_attempts(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", max_attempts=2), task("b", deps=("a",))))
    for _ in range(2):
        clock.advance(3600)
        lease = claim_key(board, "a")
        board.fail(lease.task_id, lease.token, "x", participant="w1")
    assert states(board, run) == {"a": S.FAILED, "b": S.FAILED}


def test_cascade_also_follows_failure_by_expired_leases(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a", max_attempts=1, lease_s=5), task("b", deps=("a",))))
    claim_key(board, "a")
    clock.advance(6)
    board.reap_expired()
    assert states(board, run) == {"a": S.FAILED, "b": S.FAILED}
    err = board.get_task(tid(run, "b")).last_error
    assert err is not None and err["root_cause"] == tid(run, "a")


def test_skip_skips_dependents_transitively(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("a", on_failure="skip"),
            task("b", deps=("a",), on_failure="cascade"),
            task("c", deps=("b",)),
            task("free"),
        )
    )
    lease = claim_key(board, "a")
    board.fail(lease.task_id, lease.token, "x", participant="w1", retryable=False)
    tasks = tasks_by_key(board, run)
    assert {k: t.state for k, t in tasks.items()} == {
        "a": S.FAILED,
        "b": S.SKIPPED,
        "c": S.SKIPPED,
        "free": S.READY,
    }
    assert tasks["c"].last_error is not None
    assert tasks["c"].last_error["root_cause"] == tid(run, "a")
    assert board.get_run(run.id).state == "active"
    finish(board, claim_key(board, "free"))
    assert board.get_run(run.id).state == "failed"  # its required work did not succeed


def test_continue_lets_dependents_run_and_see_the_failure(board: SyncBoard) -> None:
    run = board.create_run(
        plan(
            task("a", on_failure="continue"),
            task("b", deps=("a",)),
            task("c", deps=("b",)),
        )
    )
    lease = claim_key(board, "a")
    seq = last_seq(board)
    board.fail(lease.task_id, lease.token, "partial data", participant="w1", retryable=False)
    events = _commit_of(board, seq)
    assert event_kinds(events) == [
        ("task.fail", "a"),
        ("escalation.task_failed", "a"),
        ("task.deps_done", "b"),
    ]
    assert events[2].payload["failed_dependency"] == tid(run, "a")
    b = claim_key(board, "b")
    (dep_id,) = b.task.depends_on
    dep = board.get_task(dep_id)
    assert dep.state is S.FAILED
    assert dep.last_error == {"kind": "error", "message": "partial data"}
    finish(board, b)
    finish(board, claim_key(board, "c"))
    assert states(board, run) == {"a": S.FAILED, "b": S.DONE, "c": S.DONE}
    assert board.get_run(run.id).state == "finished"


def _wait_run(board: SyncBoard) -> tuple[str, str, str]:
    run = board.create_run(
        plan(task("a", on_failure="wait"), task("b", deps=("a",)), task("c", deps=("b",)))
    )
    lease = claim_key(board, "a")
    board.fail(lease.task_id, lease.token, "x", participant="w1", retryable=False)
    return run.id, tid(run, "b"), tid(run, "c")


def test_wait_blocks_dependents_until_a_human_unblocks(board: SyncBoard) -> None:
    run_id, b, c = _wait_run(board)
    blocked = board.get_task(b)
    assert blocked.state is S.BLOCKED
    assert blocked.blocked_reason is not None and f"{run_id}/a" in blocked.blocked_reason
    assert board.get_task(c).state is S.PENDING
    assert board.claim("w1", ["worker"]) is None
    assert board.get_run(run_id).state == "active"
    assert board.events(run_id)[-1].kind == "task.dep_wait"

    unblocked = board.unblock(b, actor="human")
    assert unblocked.state is S.READY
    assert unblocked.blocked_reason is None
    lease = claim(board)
    assert lease.task_id == b
    finish(board, lease)
    assert board.get_task(c).state is S.READY


def test_wait_dependents_can_be_cancelled_by_a_human(board: SyncBoard) -> None:
    run_id, b, c = _wait_run(board)
    cancelled = board.cancel_task(b, actor="human", reason="not worth it")
    assert cancelled.state is S.CANCELLED
    assert board.get_task(c).state is S.CANCELLED
    assert board.get_run(run_id).state == "failed"  # the dependency they waited on failed


def test_wait_with_another_dependency_outstanding_goes_back_to_pending(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("a", on_failure="wait"), task("x"), task("b", deps=("a", "x")))
    )
    la, lx = claim_key(board, "a"), claim_key(board, "x")
    board.fail(la.task_id, la.token, "x", participant="w1", retryable=False)
    assert states(board, run)["b"] is S.BLOCKED
    assert board.unblock(tid(run, "b"), actor="human").state is S.PENDING
    assert board.claim("w1", ["worker"]) is None
    finish(board, lx)
    assert states(board, run)["b"] is S.READY


def test_unblocking_a_task_that_is_not_blocked_is_an_invalid_transition(
    board: SyncBoard,
) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    for key, state in (("a", "ready"), ("b", "pending")):
        exc = refused(board, InvalidTransition, board.unblock, tid(run, key), actor="human")
        assert (exc.task_id, exc.state) == (tid(run, key), state)
        assert tid(run, key) in str(exc) and state in str(exc) and "unblock" in str(exc)


def test_the_payment_flow_stops_at_a_failed_fraud_check(board: SyncBoard) -> None:
    roles = ("validator", "fraud", "payments", "accountant", "mailer")
    run = board.create_run(
        {
            "goal": "take a payment",
            "roles": list(roles),
            "tasks": [
                task("validate", "validator"),
                task("fraud_check", "fraud", deps=("validate",)),
                task("payment", "payments", deps=("fraud_check",)),
                task("accounting", "accountant", deps=("payment",)),
                task("confirmation_email", "mailer", deps=("payment",)),
            ],
        }
    )
    finish(board, claim(board, "v", ["validator"]))
    fraud = claim(board, "f", ["fraud"])
    assert fraud.task.key == "fraud_check"
    board.fail(fraud.task_id, fraud.token, "card flagged", participant="f", retryable=False)

    assert board.claim("anyone", list(roles)) is None
    tasks = tasks_by_key(board, run)
    downstream = ("payment", "accounting", "confirmation_email")
    for key in downstream:
        assert tasks[key].state is S.FAILED, key
        assert tasks[key].attempts == 0, key
        error = tasks[key].last_error
        assert error is not None, key
        assert error["root_cause"] == tid(run, "fraud_check"), key
    claimed = {key for kind, key in event_kinds(board.events(run.id)) if kind == "task.claim"}
    assert claimed == {"validate", "fraud_check"}
    assert board.get_run(run.id).state == "failed"
