"""Run state: a run ends exactly when all its tasks are terminal — ``finished`` if its
required work succeeded, ``failed`` if not."""

from __future__ import annotations

from baton import TERMINAL, Run, RunState, SyncBoard
from tests.conformance._util import claim, claim_key, finish, tid
from tests.helpers import ManualClock, plan, task


def _check(board: SyncBoard, run: Run, ends_as: RunState = RunState.FINISHED) -> bool:
    """Assert the run's state agrees with its tasks; return whether it has ended (as
    ``ends_as``: finished, or failed when required work failed)."""
    tasks = board.tasks(run.id)
    all_terminal = all(t.state in TERMINAL for t in tasks)
    current = board.get_run(run.id)
    end_events = [e for e in board.events(run.id) if e.kind in ("run.finished", "run.failed")]
    assert current.ended == all_terminal, [t.state for t in tasks]
    if all_terminal:
        assert current.state is ends_as
        assert end_events[0].kind == f"run.{ends_as.value}"
    assert len(end_events) == (1 if all_terminal else 0)
    assert (current.finished_at is not None) == all_terminal
    return all_terminal


def test_a_run_finishes_exactly_when_its_last_task_is_terminal(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(
        plan(
            task("gate", requires_approval=True),
            task("review", reviewer_role="reviewer"),
            task("blocker"),
            task("dies", on_failure="skip"),
            task("skipped", deps=("dies",)),
            task("dropped"),
        )
    )
    steps = [
        lambda: finish(board, claim_key(board, "gate")),
        lambda: finish(board, claim_key(board, "review")),
        lambda: board.block(
            tid(run, "blocker"), claim_key(board, "blocker").token, "x", participant="w1"
        ),
        lambda: board.fail(
            tid(run, "dies"),
            claim_key(board, "dies").token,
            "x",
            participant="w1",
            retryable=False,
        ),
        lambda: board.cancel_task(tid(run, "dropped"), actor="human"),
        lambda: board.approve(tid(run, "gate"), actor="human"),
        lambda: board.approve(tid(run, "review"), actor="human"),
        lambda: board.unblock(tid(run, "blocker"), actor="human"),
    ]
    assert not _check(board, run)
    for step in steps:
        step()
        assert not _check(board, run)
    clock.advance(7)
    finish(board, claim_key(board, "blocker"))
    assert _check(board, run, ends_as=RunState.FAILED)  # "dies" failed, "skipped" with it
    ended = board.get_run(run.id)
    assert ended.finished_at == clock.now
    *_, last, escalation = board.events(run.id)
    assert (last.kind, last.at) == ("run.failed", clock.now)
    assert escalation.kind == "escalation.run_failed"


def test_a_run_ended_by_failures_alone_has_failed(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",)), task("c", deps=("b",))))
    lease = claim(board)
    board.fail(lease.task_id, lease.token, "x", participant="w1", retryable=False)
    assert _check(board, run, ends_as=RunState.FAILED)


def test_a_run_ended_by_the_reaper_has_failed(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a", max_attempts=1, lease_s=5)))
    claim(board)
    clock.advance(6)
    board.reap_expired()
    assert _check(board, run, ends_as=RunState.FAILED)


def test_finishing_one_run_leaves_others_active(board: SyncBoard) -> None:
    one = board.create_run(plan(task("a")))
    two = board.create_run(plan(task("b")))
    finish(board, claim(board, run_id=one.id))
    assert _check(board, one)
    assert not _check(board, two)
    assert [r.id for r in board.list_runs()] == [one.id, two.id]
    assert [r.state for r in board.list_runs()] == [RunState.FINISHED, RunState.ACTIVE]
