"""Who may do what, enforced by the Board for every door: claims only for one's own
roles, lease operations only under one's own identity, reviews and gates only with
the role or grant and never on one's own work, runs only where granted."""

from __future__ import annotations

from typing import Any

import pytest

from baton import LeaseLost, Run, SyncBoard
from tests.conformance._util import over_http, tid
from tests.conformance.authz import denied, hidden

PLAN: dict[str, Any] = {
    "goal": "ship",
    "roles": ["writer", "reviewer"],
    "tasks": [
        {"id": "draft", "role": "writer", "reviewer_role": "reviewer"},
        {"id": "publish", "role": "writer", "depends_on": ["draft"], "requires_approval": True},
    ],
}


def member(board: SyncBoard, pid: str, **kw: Any) -> SyncBoard:
    """Register ``pid`` (kind agent unless given) and log in as it."""
    kw.setdefault("kind", "agent")
    _, token = board.add_participant(pid, **kw)
    return board.login(token)


@pytest.fixture
def run(board: SyncBoard) -> Run:
    return board.create_run(PLAN, run_id="r1")


def test_a_claim_outside_ones_roles_is_refused(board: SyncBoard, run: Run) -> None:
    alice = member(board, "alice", roles=["reviewer"], runs=["*"])
    error = denied(board, alice.claim, "alice", ["writer"], run_id=run.id)
    assert (error.participant, error.action) == ("alice", "claim for")
    assert "writer" in error.missing


def test_nobody_claims_or_submits_under_anothers_name(board: SyncBoard, run: Run) -> None:
    alice = member(board, "alice", roles=["writer"], runs=["*"])
    bob = member(board, "bob", roles=["writer"], runs=["*"])
    denied(board, alice.claim, "bob", ["writer"], run_id=run.id)
    lease = bob.claim("bob", ["writer"], run_id=run.id)
    assert lease is not None
    # alice has bob's token number (a leaked lease), but not bob's identity
    error = denied(board, alice.submit, lease.task.id, lease.token, {}, participant="bob")
    assert "authenticated as alice, not bob" in str(error)
    denied(board, alice.heartbeat, lease.task.id, lease.token, "bob")
    denied(board, alice.fail, lease.task.id, lease.token, "x", participant="bob")
    denied(board, alice.block, lease.task.id, lease.token, "x", participant="bob")
    denied(board, alice.release, lease.task.id, lease.token, participant="bob")
    with pytest.raises(LeaseLost):  # under her own name: the lease is not hers
        alice.submit(lease.task.id, lease.token, {}, participant="alice")
    assert bob.submit(lease.task.id, lease.token, {}, participant="bob").state.value == "in_review"


def test_nobody_reviews_their_own_work(board: SyncBoard, run: Run) -> None:
    alice = member(board, "alice", roles=["writer", "reviewer"], runs=["*"])
    bob = member(board, "bob", roles=["reviewer"], runs=["*"])
    lease = alice.claim("alice", ["writer"], run_id=run.id)
    assert lease is not None
    done = alice.submit(lease.task.id, lease.token, {"text": "hi"}, participant="alice")
    assert done.worked_by == "alice"
    assert alice.claim("alice", ["reviewer"], run_id=run.id) is None  # her own: skipped
    error = denied(board, alice.approve, done.id, actor="alice")
    assert "own work" in str(error)
    denied(board, alice.reject, done.id, "no", actor="alice")
    assert alice.claim("alice#1", ["reviewer"], run_id=run.id) is None  # nor under a label
    denied(board, alice.claim, "bob#1", ["reviewer"], run_id=run.id)  # a label of another
    review = bob.claim("bob#0", ["reviewer"], run_id=run.id)
    assert review is not None and review.task.id == done.id
    bob.approve(done.id, actor="bob#0", token=review.token)


def test_a_review_without_a_lease_needs_the_role_or_the_approve_grant(
    board: SyncBoard, run: Run
) -> None:
    lease = board.claim("w", ["writer"])
    assert lease is not None
    board.submit(tid(run, "draft"), lease.token, {}, participant="w")
    carol = member(board, "carol", kind="human", runs=["*"])
    error = denied(board, carol.approve, tid(run, "draft"), actor="carol")
    assert "reviewer role or the approve grant" in str(error)
    dave = member(board, "dave", kind="human", roles=["reviewer"], runs=["*"])
    assert dave.approve(tid(run, "draft"), actor="dave").state.value == "done"


def test_an_approval_gate_needs_the_approve_grant(board: SyncBoard, run: Run) -> None:
    for key in ("draft", "publish"):
        lease = board.claim("w", ["writer"])
        assert lease is not None and lease.task.key == key
        board.submit(lease.task.id, lease.token, {}, participant="w")
        if key == "draft":
            board.approve(lease.task.id, actor="r")
    gate = tid(run, "publish")
    assert board.get_task(gate).state.value == "awaiting_approval"
    reviewer = member(board, "rev", roles=["reviewer", "writer"], runs=["*"])
    error = denied(board, reviewer.approve, gate, actor="rev")
    assert "approve grant" in str(error)
    lead = member(board, "lead", kind="human", grants=["approve"], runs=["*"])
    assert lead.approve(gate, actor="lead").state.value == "done"


def test_runs_are_seen_only_where_granted(board: SyncBoard, run: Run) -> None:
    other = board.create_run(PLAN, run_id="r2")
    eve = member(board, "eve", roles=["writer"], runs=["r2"])
    assert [r.id for r in eve.list_runs()] == ["r2"]
    assert eve.get_run("r2") == other
    if not over_http(board):
        error = denied(board, eve.get_run, run.id)
        assert error.run_id == run.id and "not granted run r1" in str(error)
    hidden(board, run.id, eve.get_run, run.id)
    hidden(board, run.id, eve.tasks, run.id)
    hidden(board, run.id, eve.get_task, tid(run, "draft"))
    hidden(board, run.id, eve.events, run.id)
    denied(board, eve.events)  # every run's events: only with every run granted
    hidden(board, run.id, eve.claim, "eve", ["writer"], run_id=run.id)
    denied(board, eve.claim, "eve", ["writer"])  # across runs
    hidden(board, run.id, eve.post_message, run.id, "note", {"text": "hi"}, sender="eve")
    assert eve.similar_ids("run", "r1") == ["r2"] or "r1" not in eve.similar_ids("run", "r1")
    lease = eve.claim("eve", ["writer"], run_id="r2")
    assert lease is not None and lease.task.run_id == "r2"


def test_steering_a_run_needs_the_steer_grant_or_having_created_it(board: SyncBoard) -> None:
    maker = member(board, "maker", kind="service", grants=["create_runs"])
    mine = maker.create_run(PLAN, run_id="mine")
    assert mine.created_by == "maker" and [r.id for r in maker.list_runs()] == ["mine"]
    assert maker.pause_run("mine", actor="maker", reason="lunch").state.value == "paused"
    maker.resume_run("mine", actor="maker")
    theirs = board.create_run(PLAN, run_id="theirs")
    watcher = member(board, "watcher", kind="human", runs=["*"])
    denied(board, watcher.pause_run, theirs.id, actor="watcher", reason="x")
    denied(board, watcher.cancel_run, theirs.id)
    denied(board, watcher.cancel_task, tid(theirs, "draft"), actor="watcher")
    denied(board, watcher.add_tasks, theirs.id, [{"id": "x", "role": "writer"}], actor="watcher")
    denied(board, watcher.create_run, PLAN)
    pilot = member(board, "pilot", kind="human", grants=["steer"], runs=["*"])
    assert pilot.cancel_run(theirs.id).state.value == "cancelled"
    cancelled = [e for e in board.events(theirs.id) if e.kind == "run.cancelled"]
    assert cancelled[0].actor == "pilot"  # the actor is the participant, not a default


def test_answering_needs_the_answer_grant(board: SyncBoard, run: Run) -> None:
    agent = member(board, "agent", roles=["writer"], runs=["*"])
    question = agent.post_message(run.id, "question", {"question": "which db?"}, sender="agent")
    denied(
        board, agent.post_message, run.id, "answer",
        {"question_seq": question.seq, "answer": "sqlite"}, sender="agent",
    )  # fmt: skip
    human = member(board, "human", kind="human", grants=["answer"], runs=["*"])
    answer = human.post_message(
        run.id, "answer", {"question_seq": question.seq, "answer": "sqlite"}, sender="human"
    )
    assert answer.actor == "human"


def test_admin_holds_every_grant_and_store_tools(board: SyncBoard, run: Run) -> None:
    root = member(board, "root", kind="service", grants=["admin"])
    assert root.get_run(run.id) == run and root.events(run.id)
    assert "tasks" in root.snapshot()
    plain = member(board, "plain", roles=["writer"], runs=["*"])
    denied(board, plain.snapshot)
