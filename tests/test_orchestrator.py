"""The orchestrator's watchdog: runs do not hang silently.

Each tick reaps expired leases and raises, once per incident, an ``escalation.<kind>``
event with the evidence: a stall, a review loop, a wait-for cycle, a failing agent.
Several orchestrators on one store raise each incident once.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from baton import Board, Event, Run, SyncBoard, TaskState
from baton.model import RunState
from baton.runtime.orchestrator import Orchestrator
from tests.helpers import ManualClock, plan, task

ROLES = ("worker", "reviewer", "writer")


def _orch(board: SyncBoard, **kw: Any) -> Orchestrator:
    settings: dict[str, Any] = {"stall_s": 100_000.0, "review_alert": 2, "failure_streak": 3}
    settings.update(kw)
    return Orchestrator(board.board, **settings)


def _tick(board: SyncBoard, orch: Orchestrator) -> list[Event]:
    return board._runner.run(orch.tick())


def _of_kind(board: SyncBoard, run: Run, kind: str) -> list[Event]:
    return [e for e in board.escalations(run.id) if e.kind == f"escalation.{kind}"]


# --- stalls ----------------------------------------------------------------------------


def test_a_stall_is_raised_once_with_evidence(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a"), task("b", deps=("a",)), roles=ROLES))
    created_seq = board.events(run.id)[-1].seq
    orch = _orch(board, stall_s=120)

    clock.advance(119)
    assert _tick(board, orch) == []
    assert board.escalations(run.id) == []

    clock.advance(2)
    raised = _tick(board, orch)
    assert [e.kind for e in raised] == ["escalation.stalled"]
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.stalled"
    assert esc.payload["to"] == "human"
    assert esc.payload["evidence"]["idle_s"] == pytest.approx(121)
    assert esc.payload["evidence"]["last_seq"] == created_seq
    assert esc.payload["evidence"]["open_tasks"] == {"ready": ["a"], "pending": ["b"]}

    clock.advance(500)
    _tick(board, orch)
    _tick(board, orch)
    assert len(board.escalations(run.id)) == 1, "the same stall was raised again"

    # progress, then a new stall: a new incident
    lease = board.claim("w1", ["worker"], lease_s=10_000)
    assert lease is not None
    clock.advance(60)
    assert _of_kind(board, run, "stalled") == [esc]
    board.heartbeat(lease.task.id, lease.token, "w1", lease_s=10_000)  # not progress
    clock.advance(61)
    _tick(board, orch)
    stalls = _of_kind(board, run, "stalled")
    assert len(stalls) == 2
    assert stalls[1].payload["evidence"]["open_tasks"] == {"running": ["a"], "pending": ["b"]}
    assert stalls[1].payload["evidence"]["idle_s"] == pytest.approx(121)


def test_a_tick_that_raises_nothing_new_returns_nothing(
    board: SyncBoard, clock: ManualClock
) -> None:
    board.create_run(plan(task("a"), roles=ROLES))
    orch = _orch(board, stall_s=10)
    clock.advance(11)
    assert len(_tick(board, orch)) == 1
    assert _tick(board, orch) == []


def test_finished_and_paused_runs_are_not_stalled(board: SyncBoard, clock: ManualClock) -> None:
    done = board.create_run(plan(task("a"), roles=ROLES))
    lease = board.claim("w1", ["worker"])
    assert lease is not None
    board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
    paused = board.create_run(plan(task("x"), roles=ROLES))
    board.pause_run(paused.id, actor="human:ann", reason="holiday")
    orch = _orch(board, stall_s=10)
    clock.advance(1000)
    assert _tick(board, orch) == []
    assert board.escalations(done.id) == []
    assert board.escalations(paused.id) == []


def test_a_tick_returns_expired_leases(board: SyncBoard, clock: ManualClock) -> None:
    run = board.create_run(plan(task("a", backoff_base_s=0), roles=ROLES))
    lease = board.claim("w1", ["worker"], lease_s=30)
    assert lease is not None
    orch = _orch(board)
    clock.advance(31)
    _tick(board, orch)
    a = board.get_task(f"{run.id}/a")
    assert a.state is TaskState.READY
    assert a.last_error == {"kind": "lease_expired", "owner": "w1", "token": lease.token}


def test_a_run_paused_for_its_wall_time_is_not_also_reported_stalled(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run({**plan(task("a"), roles=ROLES), "budget": {"wall_s": 30}})
    orch = _orch(board, stall_s=100)
    clock.advance(200)
    _tick(board, orch)
    assert [e.kind for e in board.escalations(run.id)] == ["escalation.budget"]


# --- review loops ------------------------------------------------------------------------


def _review_round(board: SyncBoard, run: Run, feedback: str) -> None:
    lease = board.claim("w1", ["writer"], run_id=run.id)
    assert lease is not None
    board.submit(lease.task.id, lease.token, {"draft": feedback}, participant="w1")
    board.reject(lease.task.id, [feedback], actor="rev")


def test_a_task_returned_by_review_too_often_is_escalated_with_the_feedback(
    board: SyncBoard,
) -> None:
    run = board.create_run(
        plan(task("a", "writer", reviewer_role="reviewer", max_review_rounds=5), roles=ROLES)
    )
    orch = _orch(board, review_alert=2)
    _review_round(board, run, "the title is wrong")
    assert _tick(board, orch) == []

    _review_round(board, run, "the title is still wrong")
    _tick(board, orch)
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.review_loop"
    assert esc.task_id == f"{run.id}/a"
    assert "2 times" in esc.payload["reason"]
    feedback = esc.payload["evidence"]["feedback"]
    assert [f["items"] for f in feedback] == [["the title is wrong"], ["the title is still wrong"]]
    assert esc.payload["evidence"]["max_review_rounds"] == 5

    _tick(board, orch)
    assert len(board.escalations(run.id)) == 1
    # another rejection is a new incident, with the new evidence
    _review_round(board, run, "now the body")
    _tick(board, orch)
    loops = _of_kind(board, run, "review_loop")
    assert len(loops) == 2
    assert len(loops[1].payload["evidence"]["feedback"]) == 3


# --- wait-for cycles ---------------------------------------------------------------------


def _block(board: SyncBoard, run: Run, key: str, reason: str) -> None:
    lease = board.claim(f"agent-{key}", ["worker"], run_id=run.id)
    assert lease is not None
    assert lease.task.key == key
    board.block(lease.task.id, lease.token, reason, participant=lease.owner)


def test_blocked_tasks_waiting_on_each_other_are_a_deadlock(board: SyncBoard) -> None:
    run = board.create_run(plan(task("d1"), task("d2"), task("d3"), roles=ROLES))
    _block(board, run, "d1", "needs d2's schema")
    _block(board, run, "d2", "needs d1's API")
    orch = _orch(board)

    board.post_message(
        run.id,
        "blocked_by",
        {"task": f"{run.id}/d1", "blocked_by": f"{run.id}/d2", "reason": "schema"},
        sender="agent-d1",
    )
    # one task waiting on another is not a cycle
    assert _tick(board, orch) == []
    # a blocked task waiting on a task that is not blocked is no cycle either
    board.post_message(
        run.id, "blocked_by", {"task": "d2", "blocked_by": "d3", "reason": "x"}, sender="agent-d2"
    )
    assert _tick(board, orch) == []

    board.post_message(
        run.id, "blocked_by", {"task": "d2", "blocked_by": "d1", "reason": "API"}, sender="agent-d2"
    )
    _tick(board, orch)
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.deadlock"
    assert sorted(esc.payload["evidence"]["cycle"]) == ["d1", "d2"]
    assert esc.payload["evidence"]["reasons"] == {
        "d1": "needs d2's schema",
        "d2": "needs d1's API",
    }
    assert "d1" in esc.payload["reason"]
    assert "d2" in esc.payload["reason"]
    _tick(board, orch)
    assert len(board.escalations(run.id)) == 1


# --- failing agents -----------------------------------------------------------------------


def _attempt(board: SyncBoard, run: Run, who: str, *, ok: bool) -> None:
    lease = board.claim(who, ["worker"], run_id=run.id)
    assert lease is not None
    if ok:
        board.submit(lease.task.id, lease.token, {"ok": True}, participant=who)
    else:
        board.fail(lease.task.id, lease.token, f"{who} crashed", participant=who)


def test_an_agent_failing_attempts_in_a_row_is_escalated(board: SyncBoard) -> None:
    tasks = [task(f"t{i}", backoff_base_s=0, max_attempts=20) for i in range(6)]
    run = board.create_run(plan(*tasks, roles=ROLES))
    orch = _orch(board, failure_streak=3)

    _attempt(board, run, "bad", ok=False)
    _attempt(board, run, "good", ok=False)
    _attempt(board, run, "bad", ok=False)
    _attempt(board, run, "good", ok=True)
    assert _tick(board, orch) == []

    _attempt(board, run, "bad", ok=False)  # the third in a row, others in between
    _tick(board, orch)
    (esc,) = board.escalations(run.id)
    assert esc.kind == "escalation.failing_agent"
    assert esc.payload["evidence"]["agent"] == "bad"
    errors = esc.payload["evidence"]["last_errors"]
    assert errors == [{"kind": "error", "message": "bad crashed"}] * 3

    _attempt(board, run, "bad", ok=False)  # the same streak going on: same incident
    _tick(board, orch)
    assert len(board.escalations(run.id)) == 1

    _attempt(board, run, "bad", ok=True)  # a success ends the streak
    for _ in range(3):
        _attempt(board, run, "bad", ok=False)
    _tick(board, orch)
    assert [e.payload["evidence"]["agent"] for e in _of_kind(board, run, "failing_agent")] == [
        "bad",
        "bad",
    ]


def test_reaping_other_agents_expired_leases_is_not_failing(
    board: SyncBoard, clock: ManualClock
) -> None:
    tasks = [task(f"t{i}", backoff_base_s=0) for i in range(3)]
    run = board.create_run(plan(*tasks, roles=ROLES))
    for _ in tasks:
        assert board.claim("crashed", ["worker"], lease_s=5) is not None
    clock.advance(6)
    # what an idle Worker named w2 does in its claim loop
    assert len(board.reap_expired(actor="w2")) == 3
    _tick(board, _orch(board, failure_streak=3))
    blamed = [e.payload["evidence"]["agent"] for e in _of_kind(board, run, "failing_agent")]
    assert blamed == ["crashed"]  # the holder whose leases expired, not who reaped them


# --- several orchestrators ------------------------------------------------------------------


def _troubled_runs(board: SyncBoard, clock: ManualClock) -> tuple[Run, Run]:
    """One run with a review loop, a deadlock and a failing agent that then stalls;
    another past its wall-time budget."""
    trouble = board.create_run(
        plan(
            task("rev", "writer", reviewer_role="reviewer", max_review_rounds=9),
            task("d1"),
            task("d2"),
            *[task(f"f{i}", backoff_base_s=0, max_attempts=9) for i in range(3)],
            roles=ROLES,
        )
    )
    for feedback in ("one", "two"):
        _review_round(board, trouble, feedback)
    _block(board, trouble, "d1", "waits for d2")
    _block(board, trouble, "d2", "waits for d1")
    for a, b in (("d1", "d2"), ("d2", "d1")):
        board.post_message(
            trouble.id, "blocked_by", {"task": a, "blocked_by": b, "reason": "x"}, sender=a
        )
    for _ in range(3):
        _attempt(board, trouble, "bad", ok=False)
    late = board.create_run({**plan(task("x"), roles=ROLES), "budget": {"wall_s": 30}})
    clock.advance(200)
    # the late run is busy (not stalled), just past its wall time
    assert board.claim("w9", ["worker"], run_id=late.id, lease_s=10_000) is not None
    return trouble, late


def test_two_orchestrators_on_one_store_raise_each_incident_once(
    board: SyncBoard, clock: ManualClock, store_url: str
) -> None:
    trouble, late = _troubled_runs(board, clock)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    raised: dict[str, list[Event]] = {}

    def orchestrate(name: str) -> None:
        try:
            with SyncBoard(Board.open(store_url, clock=ManualClock(clock.now))) as mine:
                orch = Orchestrator(mine.board, name=name, stall_s=100, review_alert=2)
                got: list[Event] = []
                for _ in range(4):
                    barrier.wait(timeout=10)
                    got.extend(mine._runner.run(orch.tick()))
                raised[name] = got
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=orchestrate, args=(n,)) for n in ("o1", "o2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    kinds = Counter(e.kind for e in board.escalations(trouble.id))
    assert kinds == {
        "escalation.review_loop": 1,
        "escalation.deadlock": 1,
        "escalation.failing_agent": 1,
        "escalation.stalled": 1,
    }
    assert [e.kind for e in board.escalations(late.id)] == ["escalation.budget"]
    assert board.get_run(late.id).state is RunState.PAUSED
    # every incident was written by one of the two, whichever saw it first
    actors = {e.actor for e in board.escalations(trouble.id)} | {
        e.actor for e in board.escalations(late.id)
    }
    assert actors <= {"o1", "o2"}
    assert {e.seq for es in raised.values() for e in es} == {
        e.seq for e in board.escalations(trouble.id) + board.escalations(late.id)
    }


def test_orchestrators_in_two_processes_raise_each_incident_once(
    board: SyncBoard, clock: ManualClock, store_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    trouble, late = _troubled_runs(board, clock)
    go = tmp_path / "go"
    script = (
        "import asyncio, os, sys, time\n"
        "from baton import Board\n"
        "from baton.runtime.orchestrator import Orchestrator\n"
        "url, now, go, name = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]\n"
        "async def main():\n"
        "    board = Board.open(url, clock=lambda: now)\n"
        "    orch = Orchestrator(board, name=name, stall_s=100, review_alert=2)\n"
        "    while not os.path.exists(go):\n"
        "        await asyncio.sleep(0.005)\n"
        "    for _ in range(5):\n"
        "        await orch.tick()\n"
        "    await board.close()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, str(clock.now), str(go), name],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    go.touch()
    for p in procs:
        _out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err

    kinds = Counter(e.kind for e in board.escalations(trouble.id))
    assert kinds == {
        "escalation.review_loop": 1,
        "escalation.deadlock": 1,
        "escalation.failing_agent": 1,
        "escalation.stalled": 1,
    }
    assert [e.kind for e in board.escalations(late.id)] == ["escalation.budget"]


def test_a_stall_behind_many_heartbeats_is_measured_from_the_last_progress(
    board: SyncBoard, clock: ManualClock
) -> None:
    run = board.create_run(plan(task("a"), task("b"), roles=ROLES))
    orch = _orch(board, stall_s=120)
    clock.advance(1000)
    lease = board.claim("w1", ["worker"], lease_s=10_000)
    assert lease is not None
    claimed = board.events(run.id)[-1]
    for _ in range(510):
        board.heartbeat(lease.task.id, lease.token, "w1", lease_s=10_000)
    clock.advance(121)
    _tick(board, orch)
    (esc,) = _of_kind(board, run, "stalled")
    assert esc.payload["evidence"]["last_seq"] == claimed.seq
    assert esc.payload["evidence"]["idle_s"] == pytest.approx(121)
