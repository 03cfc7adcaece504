"""Submit-and-claim: a result handed in and the submitter's next task claimed in one
transaction — all or nothing, the claim seeing what the submit released."""

from __future__ import annotations

import pytest

from baton import (
    ContractViolation,
    IdempotencyConflict,
    InvalidArgument,
    LeaseKind,
    LeaseLost,
    NotFound,
    SyncBoard,
    TaskState,
)
from tests.conformance._util import claim, claim_key, refused, states, tid
from tests.conformance.authz import denied
from tests.conformance.test_authorization import member
from tests.helpers import ManualClock, plan, task


def test_on_a_chain_the_submitter_takes_the_dependent_it_released(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a"), task("b", depends_on=["a"], lease_s=40)))
    lease = claim_key(board, "a")
    seq = board.last_seq()
    handoff = board.submit_and_claim(
        lease.task.id, lease.token, {"n": 1}, participant="w1", roles=["worker"]
    )
    assert handoff.task.id == tid(run, "a")
    assert handoff.task.state is TaskState.DONE
    assert handoff.task.output == {"n": 1}
    nxt = handoff.lease
    assert nxt is not None
    assert (nxt.task_id, nxt.owner, nxt.kind, nxt.token) == (tid(run, "b"), "w1", LeaseKind.WORK, 1)
    assert nxt.expires_at == clock.now + 40
    assert nxt.task == board.get_task(tid(run, "b"))
    assert nxt.task.state is TaskState.RUNNING
    kinds = [(e.kind, e.task_id) for e in board.events(since=seq)]
    assert kinds == [
        ("task.complete", tid(run, "a")),
        ("task.deps_done", tid(run, "b")),
        ("task.claim", tid(run, "b")),
    ]
    # the new lease is a lease like any other: its submit ends the run
    last = board.submit_and_claim(nxt.task_id, nxt.token, {}, participant="w1", roles="worker")
    assert last.lease is None
    assert board.get_run(run.id).state.value == "finished"


def test_independent_work_is_claimed_best_first(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", priority=3), task("b"), task("c", priority=1)))
    lease = claim_key(board, "a")
    handoff = board.submit_and_claim(
        lease.task.id, lease.token, {}, participant="w1", roles=["worker"]
    )
    assert handoff.lease is not None and handoff.lease.task.key == "c"
    assert states(board, run) == {
        "a": TaskState.DONE, "b": TaskState.READY, "c": TaskState.RUNNING,
    }  # fmt: skip


def test_nothing_claimable_gives_no_lease_and_the_submit_lands(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("w", role="writer"), roles=("worker", "writer")))
    lease = claim_key(board, "a")
    handoff = board.submit_and_claim(
        lease.task.id, lease.token, {}, participant="w1", roles=["worker"]
    )
    assert handoff.lease is None
    assert states(board, run) == {"a": TaskState.DONE, "w": TaskState.READY}


def test_the_claim_keeps_to_its_run(board: SyncBoard) -> None:
    first = board.create_run(plan(task("a"), task("b")))
    other = board.create_run(plan(task("x", priority=9)))
    lease = claim(board, run_id=first.id)
    handoff = board.submit_and_claim(
        lease.task.id, lease.token, {}, participant="w1", roles=["worker"], run_id=first.id
    )
    assert handoff.lease is not None and handoff.lease.task.run_id == first.id
    assert states(board, other) == {"x": TaskState.READY}


def test_a_review_lease_can_come_next(board: SyncBoard) -> None:
    run = board.create_run(plan(task("d", reviewer_role="reviewer")))
    lease = claim_key(board, "d")
    # reviewing one's own work is refused, so a second participant hands in and reviews
    handoff = board.submit_and_claim(
        lease.task.id, lease.token, {}, participant="w1", roles=["reviewer"]
    )
    assert handoff.task.state is TaskState.IN_REVIEW
    assert handoff.lease is not None and handoff.lease.kind is LeaseKind.REVIEW
    assert handoff.lease.task_id == tid(run, "d")


def test_a_lost_lease_changes_nothing(board: SyncBoard) -> None:
    board.create_run(plan(task("a"), task("b")))
    lease = claim_key(board, "a")
    refused(
        board, LeaseLost, board.submit_and_claim, lease.task.id, lease.token + 1, {},
        participant="w1", roles=["worker"],
    )  # fmt: skip
    refused(
        board, LeaseLost, board.submit_and_claim, lease.task.id, lease.token, {},
        participant="w2", roles=["worker"],
    )  # fmt: skip


def test_bad_claim_arguments_change_nothing_not_even_the_submit(board: SyncBoard) -> None:
    board.create_run(plan(task("a"), task("b")))
    lease = claim_key(board, "a")
    call = board.submit_and_claim
    refused(
        board, InvalidArgument, call, lease.task.id, lease.token, {}, participant="w1", roles=[]
    )
    refused(
        board, InvalidArgument, call, lease.task.id, lease.token, {}, participant="w1",
        roles=["worker"], lease_s=-1,
    )  # fmt: skip
    error = refused(
        board, NotFound, call, lease.task.id, lease.token, {}, participant="w1",
        roles=["worker"], run_id="no-such-run",
    )  # fmt: skip
    assert "no-such-run" in str(error)
    refused(board, NotFound, call, "no/such", 1, {}, participant="w1", roles=["worker"])


def test_a_broken_contract_records_the_failed_attempt_and_claims_nothing(
    board: SyncBoard,
) -> None:
    contract = {"type": "object", "required": ["n"]}
    run = board.create_run(plan(task("a", output_contract=contract, max_attempts=2), task("b")))
    lease = claim_key(board, "a")
    with pytest.raises(ContractViolation) as info:
        board.submit_and_claim(lease.task.id, lease.token, {}, participant="w1", roles=["worker"])
    assert info.value.task_id == tid(run, "a")
    after = board.get_task(tid(run, "a"))
    assert after.state is TaskState.READY and after.last_error is not None
    assert board.get_task(tid(run, "b")).state is TaskState.READY  # not claimed


def test_an_idempotency_key_replays_the_submit_and_the_claim(board: SyncBoard) -> None:
    board.create_run(plan(task("a"), task("b"), task("c")))
    lease = claim_key(board, "a")
    args = (lease.task.id, lease.token, {"v": 1})
    first = board.submit_and_claim(*args, participant="w1", roles=["worker"], idempotency_key="k")
    seq = board.last_seq()
    again = board.submit_and_claim(*args, participant="w1", roles=["worker"], idempotency_key="k")
    assert again == first
    assert board.last_seq() == seq  # nothing more was claimed
    refused(board, IdempotencyConflict, board.submit, *args, participant="w1", idempotency_key="k")


def test_a_participant_claims_only_for_its_own_roles(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("r", role="reviewer")))
    alice = member(board, "alice", roles=["worker"], runs=["*"])
    lease = alice.claim("alice", ["worker"], run_id=run.id)
    assert lease is not None
    error = denied(
        board, alice.submit_and_claim, lease.task.id, lease.token, {}, participant="alice",
        roles=["worker", "reviewer"], run_id=run.id,
    )  # fmt: skip
    assert "reviewer" in error.missing
    handoff = alice.submit_and_claim(
        lease.task.id, lease.token, {}, participant="alice", roles=["worker"], run_id=run.id
    )
    assert handoff.task.state is TaskState.DONE and handoff.lease is None
