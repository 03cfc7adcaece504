"""Review loops and approval gates."""

from __future__ import annotations

from typing import Any

import pytest

from baton import InvalidArgument, InvalidTransition, LeaseKind, LeaseLost, SyncBoard, TaskState
from tests.conformance._util import claim, claim_key, finish, refused, states, tid
from tests.helpers import ManualClock, plan, task

S = TaskState


def _in_review(board: SyncBoard, **extra: Any) -> str:
    run = board.create_run(
        plan(task("a", reviewer_role="reviewer", **extra), task("b", deps=("a",)))
    )
    finish(board, claim_key(board, "a"), {"draft": 1})
    return tid(run, "a")


def test_submitting_a_reviewed_task_sends_it_to_review(board: SyncBoard) -> None:
    task_id = _in_review(board)
    stored = board.get_task(task_id)
    assert stored.state is S.IN_REVIEW
    assert stored.output == {"draft": 1}
    assert stored.lease_owner is None
    assert board.events(stored.run_id)[-1].kind == "task.submit_for_review"
    assert board.claim("w2", ["worker"]) is None, "the worker role cannot take a review"


def test_a_reviewer_claims_a_review_lease(board: SyncBoard, clock: ManualClock) -> None:
    task_id = _in_review(board, lease_s=40)
    review = claim(board, "r1", ["reviewer"])
    assert review.task_id == task_id
    assert review.kind == "review"  # a StrEnum: equal to its wire string
    assert review.kind is LeaseKind.REVIEW
    assert review.owner == "r1"
    assert review.token == 2, "a review claim bumps the fencing token too"
    assert review.expires_at == clock.now + 40
    stored = board.get_task(task_id)
    assert stored.state is S.IN_REVIEW
    assert (stored.lease_owner, stored.lease_kind) == ("r1", "review")
    assert stored.attempts == 1, "a review claim is not a work attempt"
    assert board.events(stored.run_id)[-1].kind == "task.review_claimed"
    assert board.claim("r2", ["reviewer"]) is None, "one reviewer at a time"


def test_approval_completes_the_task_and_releases_dependents(board: SyncBoard) -> None:
    task_id = _in_review(board)
    review = claim(board, "r1", ["reviewer"])
    approved = board.approve(task_id, actor="r1", token=review.token, comment="lgtm")
    assert approved.state is S.DONE
    assert approved.lease_owner is None
    assert approved.output == {"draft": 1}
    run_id = approved.run_id
    assert board.get_task(f"{run_id}/b").state is S.READY
    approve_event = next(e for e in board.events(run_id) if e.kind == "task.approve")
    assert approve_event.actor == "r1" and approve_event.payload["comment"] == "lgtm"


def test_rejection_sends_the_work_back_with_feedback(board: SyncBoard) -> None:
    task_id = _in_review(board)
    review = claim(board, "r1", ["reviewer"])
    rejected = board.reject(task_id, ["cite sources", "fix typo"], actor="r1", token=review.token)
    assert rejected.state is S.READY
    assert rejected.review_rounds == 1
    assert rejected.lease_owner is None
    assert [f["items"] for f in rejected.feedback] == [["cite sources", "fix typo"]]
    assert rejected.feedback[0]["by"] == "r1"
    assert board.claim("r1", ["reviewer"]) is None, "rework is for the worker role"

    rework = claim(board, "w2", ["worker"])
    assert rework.task_id == task_id
    assert rework.token == review.token + 1
    assert rework.task.feedback == rejected.feedback, "the next claim sees the feedback"
    assert rework.task.failures == 0, "a rejection is not a failed attempt"

    finish(board, rework, {"draft": 2})
    review2 = claim(board, "r2", ["reviewer"])
    board.reject(task_id, "still a typo", actor="r2", token=review2.token)
    rework2 = claim(board, "w3", ["worker"])
    assert [f["items"] for f in rework2.task.feedback] == [
        ["cite sources", "fix typo"],
        ["still a typo"],
    ]
    assert rework2.task.review_rounds == 2


@pytest.mark.parametrize("feedback", ["", "   ", [], ["ok", ""]])
def test_a_rejection_needs_feedback(board: SyncBoard, feedback: str | list[str]) -> None:
    task_id = _in_review(board)
    review = claim(board, "r1", ["reviewer"])
    refused(board, InvalidArgument, board.reject, task_id, feedback, actor="r1", token=review.token)


def test_review_rounds_are_bounded(board: SyncBoard) -> None:
    task_id = _in_review(board, max_review_rounds=2)
    review = claim(board, "r1", ["reviewer"])
    assert board.reject(task_id, "no", actor="r1", token=review.token).state is S.READY
    finish(board, claim(board, "w1"))
    review = claim(board, "r1", ["reviewer"])
    final = board.reject(task_id, "still no", actor="r1", token=review.token)
    assert final.state is S.FAILED
    assert final.review_rounds == 2
    assert final.last_error is not None and final.last_error["kind"] == "review_rounds_exhausted"
    assert board.get_task(f"{final.run_id}/b").state is S.FAILED, "the failure cascades"
    assert board.claim("w1", ["worker", "reviewer"]) is None


def test_a_reviewer_with_a_stale_review_token_is_fenced_off(
    board: SyncBoard, clock: ManualClock
) -> None:
    task_id = _in_review(board, lease_s=10)
    old = claim(board, "r1", ["reviewer"])
    clock.advance(11)
    board.reap_expired()
    new = claim(board, "r2", ["reviewer"])
    refused(board, LeaseLost, board.approve, task_id, actor="r1", token=old.token)
    refused(board, LeaseLost, board.reject, task_id, "x", actor="r1", token=old.token)
    refused(board, LeaseLost, board.approve, task_id, actor="r1", token=new.token)
    assert board.approve(task_id, actor="r2", token=new.token).state is S.DONE


# --- humans and approval gates -------------------------------------------------------------


def test_a_human_approve_without_a_token_during_a_live_review_lease_is_refused(
    board: SyncBoard, clock: ManualClock
) -> None:
    task_id = _in_review(board, lease_s=30)
    claim(board, "r1", ["reviewer"])
    for call in (
        lambda: board.approve(task_id, actor="human"),
        lambda: board.reject(task_id, "redo", actor="human"),
    ):
        exc = refused(board, InvalidTransition, call)
        assert (exc.task_id, exc.state) == (task_id, "in_review")
        assert task_id in str(exc) and "in_review" in str(exc)
    clock.advance(31)  # the review lease lapses: a human may now decide
    assert board.approve(task_id, actor="human").state is S.DONE


def test_the_refused_human_approval_names_the_attempted_action(board: SyncBoard) -> None:
    task_id = _in_review(board)
    claim(board, "r1", ["reviewer"])
    exc = refused(board, InvalidTransition, board.approve, task_id, actor="human")
    assert exc.action == "approve"


def test_a_human_may_review_a_task_nobody_has_claimed_for_review(board: SyncBoard) -> None:
    task_id = _in_review(board)
    rejected = board.reject(task_id, "needs tests", actor="human")
    assert rejected.state is S.READY
    assert rejected.feedback[0]["by"] == "human"


def test_an_approval_gate_waits_for_a_human(board: SyncBoard) -> None:
    run = board.create_run(
        plan(task("deploy", requires_approval=True), task("after", deps=("deploy",)))
    )
    finish(board, claim(board))
    assert states(board, run) == {"deploy": S.AWAITING_APPROVAL, "after": S.PENDING}
    assert board.events(run.id)[-1].kind == "task.submit_for_approval"
    assert board.claim("anyone", ["worker", "reviewer"]) is None
    approved = board.approve(tid(run, "deploy"), actor="cto", comment="go")
    assert approved.state is S.DONE
    assert states(board, run) == {"deploy": S.DONE, "after": S.READY}


def test_a_rejected_gate_sends_the_work_back(board: SyncBoard) -> None:
    run = board.create_run(plan(task("deploy", requires_approval=True)))
    finish(board, claim(board))
    rejected = board.reject(tid(run, "deploy"), "not on a Friday", actor="cto")
    assert rejected.state is S.READY
    rework = claim(board)
    assert rework.task.feedback[-1]["items"] == ["not on a Friday"]
    assert finish(board, rework).state is S.AWAITING_APPROVAL


def test_review_then_gate(board: SyncBoard) -> None:
    task_id = _in_review(board, requires_approval=True)
    review = claim(board, "r1", ["reviewer"])
    reviewed = board.approve(task_id, actor="r1", token=review.token)
    assert reviewed.state is S.AWAITING_APPROVAL
    assert board.get_task(f"{reviewed.run_id}/b").state is S.PENDING
    assert board.approve(task_id, actor="human").state is S.DONE
    assert board.get_task(f"{reviewed.run_id}/b").state is S.READY
