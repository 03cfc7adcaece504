"""The effect ledger: a side effect started and recorded by one attempt is handed back,
not run again, to every later attempt of the task — on both stores, through both doors."""

from __future__ import annotations

import pytest

from baton import InvalidArgument, InvalidTransition, Lease, LeaseLost, Run, SyncBoard, TaskState
from baton.model.effects import EffectState, effect_key
from tests.conformance._util import claim, finish, refused
from tests.helpers import ManualClock, plan, task


@pytest.fixture
def run(board: SyncBoard) -> Run:
    return board.create_run(plan(task("a", lease_s=10, backoff_base_s=0, max_attempts=5)))


def _expire_and_reclaim(board: SyncBoard, clock: ManualClock, run: Run) -> Lease:
    clock.advance(11)
    board.reap_expired()
    clock.advance(1)
    return claim(board, "w2", run_id=run.id)


def test_a_recorded_effect_is_handed_back_to_the_next_attempt(
    board: SyncBoard, run: Run, clock: ManualClock
) -> None:
    first = claim(board, "w1", run_id=run.id)
    started = board.start_effect(first.task.id, first.token, "send_email", participant="w1")
    assert started.decision == "run"
    assert started.effect.key == effect_key(first.task.id, "send_email")
    recorded = board.record_effect(
        first.task.id, first.token, "send_email", {"message_id": "m-1"}, participant="w1"
    )
    assert (recorded.state, recorded.result) == (EffectState.DONE, {"message_id": "m-1"})
    # the worker dies before submitting; the lease expires; someone else claims
    second = _expire_and_reclaim(board, clock, run)
    again = board.start_effect(second.task.id, second.token, "send_email", participant="w2")
    assert again.decision == "recorded"
    assert again.effect.result == {"message_id": "m-1"}
    assert again.effect.started_by == "w1"
    finish(board, second, {"sent": again.effect.result})
    kinds = [e.kind for e in board.events(run.id) if e.kind.startswith("effect.")]
    assert kinds == ["effect.started", "effect.recorded", "effect.reused"]
    [entry] = board.effects(first.task.id)
    assert entry.state is EffectState.DONE and entry.attempts == 1


def test_an_effect_started_and_never_recorded_is_uncertain(
    board: SyncBoard, run: Run, clock: ManualClock
) -> None:
    first = claim(board, "w1", run_id=run.id)
    board.start_effect(first.task.id, first.token, "charge_card", participant="w1")
    second = _expire_and_reclaim(board, clock, run)
    uncertain = board.start_effect(second.task.id, second.token, "charge_card", participant="w2")
    assert uncertain.decision == "uncertain"
    [escalation] = board.escalations(run.id)
    assert escalation.kind == "escalation.effect_uncertain"
    assert escalation.payload["evidence"]["step"] == "charge_card"
    assert "may or may not have happened" in escalation.payload["reason"]
    # a repeat-safe step runs again, counted
    safe = board.start_effect(
        second.task.id, second.token, "charge_card", participant="w2", repeat_safe=True
    )
    assert (safe.decision, safe.effect.attempts, safe.effect.started_by) == ("run", 2, "w2")


def test_the_same_attempt_starting_twice_runs_once_more_and_records_once(
    board: SyncBoard, run: Run
) -> None:
    lease = claim(board, "w1", run_id=run.id)
    board.start_effect(lease.task.id, lease.token, "s", participant="w1")
    assert board.start_effect(lease.task.id, lease.token, "s", participant="w1").decision == "run"
    board.record_effect(lease.task.id, lease.token, "s", 1, participant="w1")
    assert board.record_effect(lease.task.id, lease.token, "s", 2, participant="w1").result == 1


def test_a_lost_lease_records_nothing(board: SyncBoard, run: Run, clock: ManualClock) -> None:
    first = claim(board, "w1", run_id=run.id)
    board.start_effect(first.task.id, first.token, "s", participant="w1")
    _expire_and_reclaim(board, clock, run)
    refused(
        board, LeaseLost, board.record_effect, first.task.id, first.token, "s", {"x": 1},
        participant="w1",
    )  # fmt: skip
    refused(board, LeaseLost, board.start_effect, first.task.id, first.token, "t", participant="w1")


def test_bad_input_is_refused_and_changes_nothing(board: SyncBoard, run: Run) -> None:
    lease = claim(board, "w1", run_id=run.id)
    tid = lease.task.id
    refused(board, InvalidTransition, board.record_effect, tid, lease.token, "never", 1,
            participant="w1")  # fmt: skip
    for step in ("", "x" * 500, "a\x00b"):
        refused(board, InvalidArgument, board.start_effect, tid, lease.token, step,
                participant="w1")  # fmt: skip
    refused(board, LeaseLost, board.start_effect, tid, lease.token + 5, "s", participant="w1")
    board.start_effect(tid, lease.token, "s", participant="w1")
    refused(board, InvalidArgument, board.record_effect, tid, lease.token, "s", float("nan"),
            participant="w1")  # fmt: skip
    assert board.get_task(tid).state is TaskState.RUNNING
