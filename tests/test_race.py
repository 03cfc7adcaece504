"""Race: 16 processes claiming from one SQLite file holding 2,000 ready tasks; every task
is claimed by exactly one and completed exactly once."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from pathlib import Path

import pytest

from baton import RunState, SyncBoard, TaskState
from tests.helpers import plan, task
from tests.procs.logcheck import (
    all_events,
    assert_gap_free,
    assert_replay_matches,
    kinds_per_task,
)
from tests.procs.race_worker import race

PROCESSES = 16
TASKS = 2_000


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sixteen_processes_race_for_two_thousand_tasks(tmp_path: Path) -> None:
    url = str(tmp_path / "board.db")
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    with SyncBoard.open(url) as board:
        run = board.create_run(plan(*(task(f"t{i:04d}") for i in range(TASKS))))
        assert {t.state for t in board.tasks(run.id)} == {TaskState.READY}

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    names = [f"p{i:02d}" for i in range(PROCESSES)]
    procs = [
        ctx.Process(target=race, args=(url, run.id, name, barrier, str(out_dir)), name=name)
        for name in names
    ]
    started = time.monotonic()
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=max(1.0, 100 - (time.monotonic() - started)))
        assert [p.exitcode for p in procs] == [0] * PROCESSES, "a racing process failed"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
            p.close()
    elapsed = time.monotonic() - started

    reported = {
        r["name"]: r["completed"]
        for r in (json.loads(f.read_text()) for f in sorted(out_dir.glob("*.json")))
    }
    assert sorted(reported) == names

    with SyncBoard.open(url) as board:
        tasks = board.tasks(run.id)
        events = all_events(board)
        ids = {t.id for t in tasks}
        assert len(ids) == TASKS

        # The store: every task done once, by the process that holds its only token.
        assert Counter(t.state for t in tasks) == {TaskState.DONE: TASKS}
        assert {(t.token, t.attempts, t.failures) for t in tasks} == {(1, 1, 0)}
        assert all(t.lease_owner is None for t in tasks)

        # The log: exactly one claim and one completion per task, nothing else happened.
        assert kinds_per_task(events, "task.claim") == dict.fromkeys(ids, 1)
        assert kinds_per_task(events, "task.complete") == dict.fromkeys(ids, 1)
        assert Counter(e.kind for e in events) == {
            "run.created": 1,
            "task.created": TASKS,
            "task.claim": TASKS,
            "task.complete": TASKS,
            "run.finished": 1,
        }
        claimer = {e.task_id: e.actor for e in events if e.kind == "task.claim"}
        completer = {e.task_id: e.actor for e in events if e.kind == "task.complete"}
        assert claimer == completer
        assert {t.id: t.output["by"] for t in tasks} == claimer

        # The processes: disjoint shares that add up to the whole board, each one
        # exactly the tasks the log says it claimed.
        counts = {name: len(done) for name, done in reported.items()}
        assert sum(counts.values()) == TASKS
        assert set().union(*map(set, reported.values())) == ids
        for name, done in reported.items():
            assert len(set(done)) == len(done), f"{name} completed a task twice"
            assert set(done) == {tid for tid, who in claimer.items() if who == name}
        # They really raced: the work is spread over (nearly) all of them.
        assert len([n for n, c in counts.items() if c > 0]) >= PROCESSES * 3 // 4, counts

        assert_gap_free(events)
        assert_replay_matches(board, run.id, events)
        assert board.get_run(run.id).state is RunState.FINISHED

    print(
        f"\nrace: {PROCESSES} processes, {TASKS} tasks in {elapsed:.1f}s; "
        f"per process {sorted(counts.values())}"
    )
