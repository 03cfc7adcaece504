"""Idempotency keys: a repeated call returns the first result and writes nothing; a key
reused for a different operation is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from baton import ContractViolation, IdempotencyConflict, InvalidArgument, LeaseLost, SyncBoard
from tests.conformance._util import claim, claim_key, finish, refused, tid, unchanged
from tests.helpers import ManualClock, plan, task

Call = Callable[[str], Any]


def _create_run(board: SyncBoard) -> Call:
    return lambda key: board.create_run(plan(task("a")), idempotency_key=key)


def _claim(board: SyncBoard) -> Call:
    board.create_run(plan(task("a"), task("b")))
    return lambda key: board.claim("w1", ["worker"], idempotency_key=key)


def _claim_nothing(board: SyncBoard) -> Call:
    board.create_run(plan(task("a", role="writer"), roles=("worker", "writer")))
    return lambda key: board.claim("w1", ["worker"], idempotency_key=key)


def _with_lease(board: SyncBoard, **extra: Any) -> Any:
    board.create_run(plan(task("a", **extra), task("b")))
    return claim_key(board, "a")


def _submit(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    return lambda key: board.submit(
        lease.task_id, lease.token, {"ok": 1}, participant="w1", idempotency_key=key
    )


def _fail(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    return lambda key: board.fail(
        lease.task_id, lease.token, "boom", participant="w1", idempotency_key=key
    )


def _fail_final(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    return lambda key: board.fail(
        lease.task_id, lease.token, "boom", participant="w1", retryable=False, idempotency_key=key
    )


def _block(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    return lambda key: board.block(
        lease.task_id, lease.token, "waiting on creds", participant="w1", idempotency_key=key
    )


def _release(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    return lambda key: board.release(
        lease.task_id, lease.token, participant="w1", idempotency_key=key
    )


def _unblock(board: SyncBoard) -> Call:
    lease = _with_lease(board)
    board.block(lease.task_id, lease.token, "stuck", participant="w1")
    return lambda key: board.unblock(lease.task_id, actor="human", idempotency_key=key)


def _at_gate(board: SyncBoard) -> str:
    lease = _with_lease(board, requires_approval=True)
    finish(board, lease)
    return lease.task_id


def _approve(board: SyncBoard) -> Call:
    task_id = _at_gate(board)
    return lambda key: board.approve(task_id, actor="human", idempotency_key=key)


def _reject(board: SyncBoard) -> Call:
    task_id = _at_gate(board)
    return lambda key: board.reject(task_id, "redo", actor="human", idempotency_key=key)


def _review_approve(board: SyncBoard) -> Call:
    lease = _with_lease(board, reviewer_role="reviewer")
    finish(board, lease)
    review = claim(board, "r1", ["reviewer"])
    return lambda key: board.approve(
        review.task_id, actor="r1", token=review.token, idempotency_key=key
    )


def _cancel_task(board: SyncBoard) -> Call:
    run = board.create_run(plan(task("a"), task("b", deps=("a",))))
    return lambda key: board.cancel_task(tid(run, "a"), actor="human", idempotency_key=key)


def _cancel_run(board: SyncBoard) -> Call:
    run = board.create_run(plan(task("a")))
    return lambda key: board.cancel_run(run.id, actor="human", idempotency_key=key)


def _post_message(board: SyncBoard) -> Call:
    run = board.create_run(plan(task("a")))
    return lambda key: board.post_message(
        run.id, "note", {"text": "hello"}, sender="w1", idempotency_key=key
    )


OPS: dict[str, Callable[[SyncBoard], Call]] = {
    "create_run": _create_run,
    "claim": _claim,
    "claim-nothing": _claim_nothing,
    "submit": _submit,
    "fail": _fail,
    "fail-final": _fail_final,
    "block": _block,
    "release": _release,
    "unblock": _unblock,
    "approve": _approve,
    "reject": _reject,
    "review-approve": _review_approve,
    "cancel_task": _cancel_task,
    "cancel_run": _cancel_run,
    "post_message": _post_message,
}


@pytest.mark.parametrize("op", OPS)
def test_a_repeated_call_returns_the_first_result_and_writes_nothing(
    board: SyncBoard, op: str
) -> None:
    call = OPS[op](board)
    first = call("key-1")
    with unchanged(board):
        again = call("key-1")
        assert again == first
        assert call("key-1") == first


@pytest.mark.parametrize("op", OPS)
def test_a_key_reused_for_another_operation_is_refused(board: SyncBoard, op: str) -> None:
    call = OPS[op](board)
    if op == "create_run":
        spare = board.create_run(plan(task("spare")))
        board.post_message(spare.id, "note", {"text": "x"}, sender="s", idempotency_key="key-1")
    else:
        board.create_run(plan(task("spare")), idempotency_key="key-1")
    exc = refused(board, IdempotencyConflict, call, "key-1")
    assert "key-1" in str(exc)


def test_a_repeated_create_run_creates_one_run(board: SyncBoard) -> None:
    first = board.create_run(plan(task("a")), idempotency_key="plan-1")
    second = board.create_run(plan(task("a")), idempotency_key="plan-1")
    assert second == first
    assert [r.id for r in board.list_runs()] == [first.id]


def test_a_repeated_claim_does_not_take_a_second_task(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b")))
    first = board.claim("w1", ["worker"], idempotency_key="c1")
    assert first is not None
    assert board.claim("w1", ["worker"], idempotency_key="c1") == first
    assert [t.state.value for t in board.tasks(run.id)] == ["running", "ready"]
    assert claim(board, "w2").task.key == "b", "a fresh key claims the next task"


def test_a_repeated_refused_submit_is_refused_the_same_way(board: SyncBoard) -> None:
    board.create_run(plan(task("a", output_contract={"type": "object", "required": ["x"]})))
    lease = claim(board)
    with pytest.raises(ContractViolation) as first:
        board.submit(lease.task_id, lease.token, {}, participant="w1", idempotency_key="s1")
    with unchanged(board), pytest.raises(ContractViolation) as again:
        board.submit(lease.task_id, lease.token, {}, participant="w1", idempotency_key="s1")
    assert again.value.errors == first.value.errors
    assert again.value.state == first.value.state == "ready"
    assert board.get_task(lease.task_id).failures == 1


def test_a_call_that_failed_did_not_use_up_its_key(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a")))
    lease = claim(board)
    board.cancel_task(tid(run, "a"), actor="human")
    with pytest.raises(LeaseLost):
        board.submit(lease.task_id, lease.token, {}, participant="w1", idempotency_key="k")
    other = board.create_run(plan(task("b")), idempotency_key="k")
    assert board.get_run(other.id) == other


def _other_target(board: SyncBoard, op: str) -> tuple[Call, Call]:
    """The same operation with the same key, aimed at two different things."""
    run = board.create_run(plan(task("a"), task("b")))
    other = board.create_run(plan(task("c", role="writer"), roles=("worker", "writer")))
    if op == "claim":
        return (
            lambda key: board.claim("w1", ["worker"], idempotency_key=key),
            lambda key: board.claim("w2", ["writer"], idempotency_key=key),
        )
    if op == "submit":
        la, lb = claim_key(board, "a"), claim_key(board, "b")
        return (
            lambda key: board.submit(
                la.task_id, la.token, 1, participant="w1", idempotency_key=key
            ),
            lambda key: board.submit(
                lb.task_id, lb.token, 2, participant="w1", idempotency_key=key
            ),
        )
    if op == "cancel_task":
        return (
            lambda key: board.cancel_task(tid(run, "a"), actor="h", idempotency_key=key),
            lambda key: board.cancel_task(tid(run, "b"), actor="h", idempotency_key=key),
        )
    return (
        lambda key: board.post_message(
            run.id, "note", {"text": "x"}, sender="s", idempotency_key=key
        ),
        lambda key: board.post_message(
            other.id, "note", {"text": "x"}, sender="s", idempotency_key=key
        ),
    )


@pytest.mark.parametrize("op", ["claim", "submit", "cancel_task", "post_message"])
def test_a_key_reused_for_the_same_operation_on_another_target_is_refused(
    board: SyncBoard, op: str
) -> None:
    first, second = _other_target(board, op)
    first("key-1")
    refused(board, IdempotencyConflict, second, "key-1")


def test_old_idempotency_keys_are_forgotten_and_recent_ones_kept(
    board: SyncBoard, clock: ManualClock
) -> None:
    first = board.create_run(plan(task("a")), idempotency_key="old-key")
    clock.advance(3600)
    second = board.create_run(plan(task("b")), idempotency_key="recent-key")
    clock.advance(60)
    assert board.forget_idempotency(older_than_s=600) == 1
    assert board.create_run(plan(task("b")), idempotency_key="recent-key") == second
    again = board.create_run(plan(task("a")), idempotency_key="old-key")
    assert again.id != first.id  # forgotten: the call ran anew
    with pytest.raises(InvalidArgument, match="older_than_s"):
        board.forget_idempotency(older_than_s=0)
