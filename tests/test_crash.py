"""Crash: worker processes killed with SIGKILL at random moments during a 500-task run;
after the run, every task is done exactly once, no output from a killed holder landed
after its lease was taken over, and the event log replays to the same final state."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from baton import Event, RunState, SyncBoard
from tests.helpers import plan, task
from tests.procs.crash_worker import read_stats, work
from tests.procs.crew import Crew
from tests.procs.logcheck import (
    all_events,
    assert_done_exactly_once,
    assert_gap_free,
    assert_replay_matches,
    lease_expiry,
)

TASKS = 500
WORKERS = 6  # worker 0 is never killed and stalls often: the fencing path runs every time
LEASE_S = 1.0
STALL_P = 0.04  # for the killable workers
OVERALL_TIMEOUT_S = 180.0


def layered_plan(rng: random.Random) -> dict[str, Any]:
    """500 tasks; each later one depends on up to three of the forty before it."""
    specs = []
    for i in range(TASKS):
        window = range(max(0, i - 40), i) if i >= 10 else range(0)
        deps = rng.sample(window, k=min(len(window), rng.randint(0, 3)))
        specs.append(
            task(
                f"t{i:03d}",
                deps=tuple(f"t{d:03d}" for d in deps),
                lease_s=LEASE_S,
                max_attempts=100,
                backoff_base_s=0.02,
                backoff_max_s=0.1,
            )
        )
    return plan(*specs)


@pytest.mark.slow
@pytest.mark.timeout(OVERALL_TIMEOUT_S + 60)
def test_sigkilled_workers_lose_nothing_and_land_nothing_stale(tmp_path: Path) -> None:
    seed = int(os.environ.get("BATON_CRASH_SEED", random.randrange(2**32)))
    print(f"\ncrash: seed {seed} (rerun with BATON_CRASH_SEED={seed})")
    rng = random.Random(seed)
    url = str(tmp_path / "board.db")
    stats_dir = tmp_path / "stats"
    stats_dir.mkdir()

    with SyncBoard.open(url) as board:
        run = board.create_run(layered_plan(rng))
        seen: list[Event] = []

        def last_seq() -> int:
            seen.extend(board.events(since=seen[-1].seq if seen else 0, limit=100_000))
            return seen[-1].seq

        crew = Crew(
            work,
            "tests.procs.crash_worker",
            workers=WORKERS,
            lease_s=LEASE_S,
            stall_p=STALL_P,
            url_for=lambda name: url,
            run_id=run.id,
            stats_dir=stats_dir,
            rng=rng,
        )

        def note_death(name: str) -> None:
            crew.killed[name] = last_seq()

        started = time.monotonic()
        try:
            crew.start_all()
            while True:
                try:
                    board.wait_finished(run.id, timeout=rng.uniform(0.1, 0.3))
                    break
                except TimeoutError:
                    pass
                if time.monotonic() - started > OVERALL_TIMEOUT_S:
                    states = Counter(t.state.value for t in board.tasks(run.id))
                    pytest.fail(f"run not finished after {OVERALL_TIMEOUT_S}s: {states}")
                crew.kill_one(note_death)
            duration = time.monotonic() - started
            exit_codes = crew.finish(timeout=30)
        finally:
            crew.kill_all()
        assert exit_codes == dict.fromkeys(exit_codes, 0), exit_codes

        tasks = {t.id: t for t in board.tasks(run.id)}
        events = all_events(board)
        facts = read_stats(stats_dir)
        check_the_log(tasks, events, facts)

        # Killed processes wrote nothing after they died (their last commit was visible).
        crew.assert_the_dead_wrote_nothing(events, reaper_prefix="reaper/")

        assert_gap_free(events)
        assert_replay_matches(board, run.id, events)
        assert board.get_run(run.id).state is RunState.FINISHED

    expired = [e for e in events if lease_expiry(e)]
    retries = [e for e in events if e.kind == "task.retry"]
    lost = [f for f in facts if f["fact"] == "lease_lost"]
    stalls = [f for f in facts if f["fact"] == "stall"]
    print(
        f"crash: {TASKS} tasks, {WORKERS} workers, {crew.spawned} processes started, "
        f"{len(crew.killed)} SIGKILLed; {len(expired)} lease expiries "
        f"({crew.expired_of_killed(expired)} of killed "
        f"holders), {len(retries)} retries, {len(stalls)} stalls, {len(lost)} LeaseLost "
        f"refusals; {len(events)} events; finished in {duration:.1f}s"
    )
    crew.assert_the_kills_hit(expired)
    assert lost, "no stale write was ever refused: the fencing path did not run"


def check_the_log(tasks: dict[str, Any], events: list[Event], facts: list[dict[str, Any]]) -> None:
    assert len(tasks) == TASKS
    owner = assert_done_exactly_once(tasks, events, reaper_prefix="reaper/")
    # A refused (stale) write never landed: the task was completed under another token.
    for f in facts:
        if f["fact"] == "lease_lost":
            assert tasks[f["task"]].token != f["token"], f
            assert owner[(f["task"], f["token"])] == f["by"], f
