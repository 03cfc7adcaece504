"""The race test, for any store: N processes claim from one board of ready tasks; every
task must be claimed by exactly one and completed exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from baton import RunState, SyncBoard, TaskState
from tests.helpers import plan, task
from tests.procs.logcheck import all_events, assert_gap_free, assert_replay_matches, kinds_per_task
from tests.procs.race_worker import race


def run_processes(procs: list[Any], timeout_s: float) -> None:
    """Start ``procs``, wait for all to exit 0 within ``timeout_s``; kill leftovers."""
    started = time.monotonic()
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=max(1.0, timeout_s - (time.monotonic() - started)))
        assert [p.exitcode for p in procs] == [0] * len(procs), "a process failed"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
            p.close()


def race_and_check(
    url: str, *, processes: int, tasks: int, ctx: Any, out_dir: Path, timeout_s: float
) -> tuple[list[int], float]:
    """Run the race on the store at ``url`` with ``ctx``'s processes and check the store,
    the log and what each process says it did. Returns the per-process counts and the
    seconds the race took."""
    out_dir.mkdir()
    with SyncBoard.open(url) as board:
        run = board.create_run(plan(*(task(f"t{i:04d}") for i in range(tasks))))
        assert {t.state for t in board.tasks(run.id)} == {TaskState.READY}

    barrier = ctx.Barrier(processes)
    names = [f"p{i:02d}" for i in range(processes)]
    procs = [
        ctx.Process(target=race, args=(url, run.id, n, barrier, str(out_dir)), name=n)
        for n in names
    ]
    started = time.monotonic()
    run_processes(procs, timeout_s)
    elapsed = time.monotonic() - started

    reported = {
        r["name"]: r["completed"]
        for r in (json.loads(f.read_text()) for f in sorted(out_dir.glob("*.json")))
    }
    assert sorted(reported) == names

    with SyncBoard.open(url) as board:
        found = board.tasks(run.id)
        events = all_events(board)
        ids = {t.id for t in found}
        assert len(ids) == tasks

        # The store: every task done once, by the process that holds its only token.
        assert Counter(t.state for t in found) == {TaskState.DONE: tasks}
        assert {(t.token, t.attempts, t.failures) for t in found} == {(1, 1, 0)}
        assert all(t.lease_owner is None for t in found)

        # The log: exactly one claim and one completion per task, nothing else happened.
        assert kinds_per_task(events, "task.claim") == dict.fromkeys(ids, 1)
        assert kinds_per_task(events, "task.complete") == dict.fromkeys(ids, 1)
        assert Counter(e.kind for e in events) == {
            "run.created": 1,
            "task.created": tasks,
            "task.claim": tasks,
            "task.complete": tasks,
            "run.finished": 1,  # once, though the last completions raced
        }
        claimer = {e.task_id: e.actor for e in events if e.kind == "task.claim"}
        completer = {e.task_id: e.actor for e in events if e.kind == "task.complete"}
        assert claimer == completer
        assert {t.id: t.output["by"] for t in found} == claimer

        # The processes: disjoint shares that add up to the whole board, each one
        # exactly the tasks the log says it claimed.
        counts = {name: len(done) for name, done in reported.items()}
        assert sum(counts.values()) == tasks
        assert set().union(*map(set, reported.values())) == ids
        for name, done in reported.items():
            assert len(set(done)) == len(done), f"{name} completed a task twice"
            assert set(done) == {tid for tid, who in claimer.items() if who == name}
        # They really raced: the work is spread over (nearly) all of them.
        assert len([n for n, c in counts.items() if c > 0]) >= processes * 3 // 4, counts

        assert_gap_free(events)
        assert_replay_matches(board, run.id, events)
        assert board.get_run(run.id).state is RunState.FINISHED
    return sorted(counts.values()), elapsed
