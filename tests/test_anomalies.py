"""The watchdog's anomaly checks on real boards (both stores, both doors): a participant
refused again and again, two agents chatting with no progress, a burst of claims, and a
spend rate that exhausts the budget before the work is done — each raised once, with
its evidence."""

from __future__ import annotations

from typing import Any

import pytest

from baton import Event, Orchestrator, PermissionDenied, Run, SyncBoard
from baton.runtime.anomalies import Thresholds
from tests.helpers import ManualClock, plan, task

ROLES = ("worker", "reviewer")


def _orch(board: SyncBoard, **kw: Any) -> Orchestrator:
    return Orchestrator(board.board, stall_s=1e9, anomalies=Thresholds(**kw))


def _tick(board: SyncBoard, orch: Orchestrator) -> list[Event]:
    return board._runner.run(orch.tick())


def _of(board: SyncBoard, run: Run, kind: str) -> list[Event]:
    return [e for e in board.escalations(run.id) if e.kind == f"escalation.{kind}"]


def test_a_participant_refused_again_and_again(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", reviewer_role="reviewer"), roles=ROLES))
    _, token = board.add_participant("eve", kind="agent", roles=["worker"], runs=[run.id])
    eve = board.login(token)
    orch = _orch(board, denial_alert=3)
    for attempt in range(3):
        with pytest.raises(PermissionDenied):
            eve.approve(f"{run.id}/a", actor="eve")
        if attempt < 2:
            assert _tick(board, orch) == []
    _tick(board, orch)
    [esc] = _of(board, run, "repeated_denials")
    assert esc.payload["evidence"]["participant"] == "eve"
    assert esc.payload["evidence"]["refusals"] == 3
    _tick(board, orch)
    assert len(_of(board, run, "repeated_denials")) == 1  # the same incident, once


def test_two_agents_chatting_with_no_progress(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b"), roles=ROLES))
    orch = _orch(board, chatter_alert=6)
    for i in range(5):
        a, b = ("alice", "bob") if i % 2 == 0 else ("bob", "alice")
        board.post_message(run.id, "note", {"text": f"after you {i}"}, sender=a, to=b)
    assert _tick(board, orch) == []
    board.post_message(run.id, "note", {"text": "no, after you"}, sender="bob", to="alice")
    _tick(board, orch)
    [esc] = _of(board, run, "chatter")
    assert esc.payload["evidence"]["participants"] == ["alice", "bob"]
    # progress resets the count
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None
    board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    for i in range(4):
        board.post_message(run.id, "note", {"text": f"{i}"}, sender="alice", to="bob")
    _tick(board, orch)
    assert len(_of(board, run, "chatter")) == 1


def test_a_burst_of_claims_far_above_the_usual_rate(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(*(task(f"t{i}") for i in range(16)), roles=ROLES))
    orch = _orch(board, burst_min=8, burst_window_s=60, burst_factor=3)
    for _ in range(3):  # the usual: one claim every ten minutes
        lease = board.claim("w1", ["worker"], run_id=run.id)
        assert lease is not None
        board.submit(lease.task.id, lease.token, {}, participant="w1")
        clock.advance(600)
    assert _tick(board, orch) == []
    for _ in range(8):
        lease = board.claim("w1", ["worker"], run_id=run.id)
        assert lease is not None
        board.submit(lease.task.id, lease.token, {}, participant="w1")
    _tick(board, orch)
    [esc] = _of(board, run, "claim_burst")
    assert esc.payload["evidence"]["participant"] == "w1"
    assert esc.payload["evidence"]["claims_in_window"] == 8


def test_a_new_participant_claiming_fast_has_no_usual_rate_to_burst_from(
    board: SyncBoard, clock: ManualClock
) -> None:
    """A worker that just joined and works fast (the chaos test's replacements) is not
    an anomaly; nor is one whose only earlier claim is a moment before the window."""
    run = board.create_run(plan(*(task(f"t{i}") for i in range(24)), roles=ROLES))
    orch = _orch(board, burst_min=8, burst_window_s=60, burst_factor=3)
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None
    board.submit(lease.task.id, lease.token, {}, participant="w1")
    clock.advance(90)  # one claim 90 s ago: less than three windows of history
    for name in ("w1", "w2"):
        for _ in range(10):
            lease = board.claim(name, ["worker"], run_id=run.id)
            assert lease is not None
            board.submit(lease.task.id, lease.token, {}, participant=name)
    assert _tick(board, orch) == []
    assert _of(board, run, "claim_burst") == []


def test_a_spend_rate_that_exhausts_the_budget_before_the_work(board: SyncBoard) -> None:
    run = board.create_run(
        {**plan(*(task(f"t{i}") for i in range(6)), roles=ROLES), "budget": {"cost_usd": 10.0}}
    )
    orch = _orch(board)
    lease = board.claim("w1", ["worker"], run_id=run.id)
    assert lease is not None
    board.record_usage(lease.task.id, model="m", input_tokens=1, output_tokens=1,
                       cost_usd=1.0, actor="w1")  # fmt: skip
    board.submit(lease.task.id, lease.token, {}, participant="w1")
    assert _tick(board, orch) == []  # $1 a task, 5 open: $5 of $9 left is enough
    for _ in range(2):
        lease = board.claim("w1", ["worker"], run_id=run.id)
        assert lease is not None
        board.record_usage(lease.task.id, model="m", input_tokens=1, output_tokens=1,
                           cost_usd=3.0, actor="w1")  # fmt: skip
        board.submit(lease.task.id, lease.token, {}, participant="w1")
    _tick(board, orch)  # $7 over 3 tasks: 3 open need $7, $3 left
    [esc] = _of(board, run, "spend_rate")
    evidence = esc.payload["evidence"]
    assert (evidence["budget"], evidence["open_tasks"]) == ("cost_usd", 3)
    assert evidence["needed"] == pytest.approx(7.0)
