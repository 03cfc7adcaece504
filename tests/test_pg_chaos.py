"""Chaos on PostgreSQL: 2,000 tasks in a DAG of width 50 (40 layers), 8 worker processes, a killer
that SIGKILLs a random worker every 300 ms and starts a replacement, and one restart of
the PostgreSQL server in the middle of the run.

At the end: every task done exactly once; no output from a killed or fenced-off holder
landed; the event log replays to the final state; the run finished without a human
(nothing but the workers and their reapers wrote after the plan, no escalation but worker
0's own failing streak, nothing failed). The numbers are printed (run with ``-s`` to see them).

The worker processes (tests/pgprocs/chaos_worker.py) run the real ``baton.runtime.worker.Worker``:
it backs off while the store is unavailable, keeps an agent's result and resubmits it
with an idempotency key while the lease may still be valid, and reaps expired leases
when idle. Worker 0 is never killed; its agent freezes the whole process past the lease
now and then, so that late results are refused (the fencing path).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from baton import Event, RunState, SyncBoard
from baton.model.errors import StoreUnavailable
from tests.helpers import plan, task
from tests.pgprocs import server
from tests.pgprocs.chaos_worker import work
from tests.procs.crash_worker import read_stats
from tests.procs.crew import Crew
from tests.procs.logcheck import (
    all_events,
    assert_done_exactly_once,
    assert_gap_free,
    assert_replay_matches,
    lease_expiry,
)

T = TypeVar("T")

WIDTH = 50
TASKS = 2_000  # 40 layers of 50
WORKERS = 8  # worker 0 is never killed and freezes often: the fencing path runs every time
LEASE_S = 2.0
STALL_P = 0.02  # for the killable workers
KILL_EVERY_S = 0.3
RESTART_AT = 0.4  # restart the server once this share of the tasks is done
OVERALL_TIMEOUT_S = 200.0
CREATOR = "chaos-test"


def dag(rng: random.Random) -> dict[str, Any]:
    """40 layers of 50 tasks; each task after the first layer depends on one to three
    tasks of the layer before it. The run ends with the last layer's completions racing
    each other (the run must still be marked finished exactly once)."""
    specs = []
    for i in range(TASKS):
        layer = i // WIDTH
        below = range(max(0, (layer - 1) * WIDTH), layer * WIDTH)
        deps = rng.sample(below, k=rng.randint(1, 3)) if layer else []
        specs.append(_task(i, deps))
    return plan(*specs)


def _task(i: int, deps: list[int]) -> dict[str, Any]:
    return task(
        f"t{i:04d}",
        deps=tuple(f"t{d:04d}" for d in deps),
        lease_s=LEASE_S,
        max_attempts=100,
        backoff_base_s=0.02,
        backoff_max_s=0.1,
    )


def retry(call: Callable[[], T], timeout_s: float = 60.0) -> T:
    """The test's own board calls, through the restart like the workers' (with backoff)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)  # backoff while the server is down
            delay = min(1.0, delay * 2)


class ChaosCrew(Crew):
    """The crew, plus the wait for a killed worker's connections to go.

    Each process's connections carry its name as ``application_name``, so that after a
    SIGKILL the test can wait until the server has dropped every one of them: only then
    can nothing more commit on the dead process's behalf (a COMMIT it sent just before
    dying may still land — it did that while alive).
    """

    def __init__(self, url: str, run_id: str, stats_dir: Path, rng: random.Random) -> None:
        super().__init__(
            work,
            "tests.pgprocs.chaos_worker",
            workers=WORKERS,
            lease_s=LEASE_S,
            stall_p=STALL_P,
            url_for=lambda name: server.with_app(url, name),
            run_id=run_id,
            stats_dir=stats_dir,
            rng=rng,
        )
        self.dying: list[str] = []  # killed, backends not yet seen gone

    def bury(self, last_seq: Callable[[], int]) -> None:
        """Note the last seq for every killed worker whose backends are gone."""
        try:
            for name in list(self.dying):
                if server.backends(name) == 0:
                    self.killed[name] = last_seq()
                    self.dying.remove(name)
        except (psycopg.OperationalError, StoreUnavailable):
            pass  # the server is restarting: try again next round


class Restart:
    """The one server restart, in a thread, so that the killer goes on meanwhile."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.began = self.took = 0.0
        self.seq_before = 0
        self.seq_after: int | None = None  # the last seq once the server was back
        self.connected: set[str] = set()  # the workers alive when it went down
        self.error: BaseException | None = None

    def start(self, seq_before: int, connected: set[str]) -> None:
        self.seq_before, self.connected = seq_before, connected
        self.began = time.monotonic()
        self.thread = threading.Thread(target=self._run, name="pg-restart", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.took = server.restart()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=120)
            assert not self.thread.is_alive(), "pg_ctl restart hung"
        assert self.error is None, f"restart failed: {self.error!r}"


@pytest.mark.slow
@pytest.mark.timeout(OVERALL_TIMEOUT_S + 60)
def test_chaos_kills_and_a_server_restart_lose_nothing(
    restartable: None, pg_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("BATON_CHAOS_SEED", random.randrange(2**32)))
    print(f"\nchaos: seed {seed} (rerun with BATON_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    stats_dir = tmp_path / "stats"
    stats_dir.mkdir()

    with SyncBoard.open(pg_url) as board:
        run = board.create_run(dag(rng), actor=CREATOR)
        seen: list[Event] = []

        def catch_up() -> int:
            seen.extend(board.events(since=seen[-1].seq if seen else 0, limit=100_000))
            return seen[-1].seq

        def done() -> int:
            return sum(e.kind == "task.complete" for e in seen)

        crew = ChaosCrew(pg_url, run.id, stats_dir, rng)
        restart = Restart()
        started = time.monotonic()
        try:
            crew.start_all()
            while retry(lambda: board.get_run(run.id)).state is RunState.ACTIVE:
                if time.monotonic() - started > OVERALL_TIMEOUT_S:
                    states = Counter(t.state.value for t in board.tasks(run.id))
                    pytest.fail(f"run not finished after {OVERALL_TIMEOUT_S}s: {states}")
                time.sleep(KILL_EVERY_S)  # the killer's period, on purpose
                crew.kill_one(crew.dying.append)
                crew.bury(lambda: retry(catch_up))
                if restart.thread is None and done() >= TASKS * RESTART_AT:
                    restart.start(seen[-1].seq, set(crew.names.values()))
                elif restart.seq_after is None and restart.done():
                    restart.seq_after = retry(catch_up)
            duration = time.monotonic() - started
            restart.join()
            exit_codes = crew.finish(timeout=60)
            while crew.dying:
                crew.bury(catch_up)
        finally:
            crew.kill_all()
            restart.join()
        assert exit_codes == dict.fromkeys(exit_codes, 0), exit_codes

        tasks = {t.id: t for t in board.tasks(run.id)}
        events = all_events(board)
        facts = read_stats(stats_dir)
        check_the_log(tasks, events, facts)

        # Killed processes wrote nothing after the server dropped their connections.
        crew.assert_the_dead_wrote_nothing(events)

        # Without a human: after the plan, only the workers wrote (claims, results,
        # reaping — by whichever worker held the watchdog duty); nothing failed, was
        # blocked or paused. The one escalation the watchdog may rightly raise is worker
        # 0's own doing: it freezes past its lease on purpose (35 % of its attempts), and
        # three frozen attempts in a row are a failing agent — every error a lease expiry.
        workers = {f["by"] for f in facts if f["fact"] == "started"}
        actors = {e.actor.removesuffix(":watchdog") for e in events if e.actor != CREATOR}
        assert actors <= workers, actors - workers
        assert {e.kind for e in events if e.actor == CREATOR} == {"run.created", "task.created"}
        for escalation in board.escalations(run.id):
            evidence = escalation.payload["evidence"]
            assert escalation.kind == "escalation.failing_agent", escalation
            assert {e["kind"] for e in evidence["last_errors"]} == {"lease_expired"}, escalation
            if not evidence["agent"].startswith("w0."):
                # A killable worker may fail three in a row of its own doing only (it
                # froze, or it was killed holding the lease); any other lost lease is a
                # live holder hurt by someone else, which is what this test forbids.
                unexplained = hurt_by_others(evidence["agent"], events, facts, crew.killed)
                assert not unexplained, (escalation, unexplained)
        kinds = Counter(e.kind for e in events)
        assert kinds["run.finished"] == 1, kinds
        others = {k for k in kinds if k.startswith(("escalation", "run.paused"))}
        assert others <= {"escalation.failing_agent"}, kinds

        assert_gap_free(events)
        assert_replay_matches(board, run.id, events)
        assert board.get_run(run.id).state is RunState.FINISHED

    # The restart really happened in the middle, and the workers lived through it.
    assert restart.thread is not None, "the server was never restarted"
    after = [e for e in events if e.seq > restart.seq_before]
    assert sum(e.kind == "task.complete" for e in after) >= TASKS * 0.2, "restart too late"
    outage = [f for f in facts if f["fact"] in ("unavailable", "pool")]
    assert outage, "no worker ever saw the server gone: the restart hit nothing"
    assert restart.seq_after is not None, "the run ended before the server came back"
    after_restart = {e.actor for e in events if e.seq > restart.seq_after}
    survivors = restart.connected & after_restart
    assert survivors, "no worker connected when the server went down worked after it"

    expired = [e for e in events if lease_expiry(e)]
    retries = [e for e in events if e.kind == "task.retry"]
    # The agent never fails: every retry is a lease that ran out, never an outage (or
    # anything else) blamed on the agent.
    blamed = [e.payload["error"] for e in retries if not lease_expiry(e)]
    assert not blamed, f"{len(blamed)} attempts failed for other reasons, e.g. {blamed[0]}"
    final = {tid: t.token for tid, t in tasks.items()}
    lost = [f for f in facts if f["fact"] == "result" and final[f["task"]] != f["token"]]
    dropped = [f for f in facts if f["fact"] == "dropped"]
    stalls = [f for f in facts if f["fact"] == "stall"]
    print(
        f"chaos: {TASKS} tasks (DAG of width {WIDTH}), {WORKERS} workers, {crew.spawned} "
        f"processes started, {len(crew.killed)} SIGKILLed; server restarted once after "
        f"{restart.began - started:.1f}s ({restart.took:.1f}s down); "
        f"{sum(f['fact'] == 'unavailable' for f in outage)} StoreUnavailable retries and "
        f"{sum(f['fact'] == 'pool' for f in outage)} dead pool connections seen by "
        f"{len({f['by'] for f in outage})} workers, {len(survivors)} of "
        f"{len(restart.connected)} workers connected at the restart worked on after it; "
        f"{len(expired)} lease expiries "
        f"({crew.expired_of_killed(expired)} of killed "
        f"holders), {len(retries)} retries, {len(stalls)} freezes past the lease, {len(lost)} "
        f"late results refused ({len(dropped)} logged by the Worker as dropped); "
        f"{len(events)} events; finished in {duration:.1f}s"
    )
    crew.assert_the_kills_hit(expired)
    assert lost, "no late result was ever refused: the fencing path did not run"


def hurt_by_others(
    agent: str, events: list[Event], facts: list[dict[str, Any]], killed: dict[str, int]
) -> list[str]:
    """The lease expiries of ``agent`` that neither its own freeze nor its death
    explains, each with what the agent did for that attempt and when worker 0 froze
    (the process clocks are the same monotonic clock)."""
    did: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for f in facts:
        if f["by"] == agent and "task" in f:
            did.setdefault((f["task"], f["token"]), []).append(f)
    frozen_0 = [f["t"] for f in facts if f["fact"] == "stall" and f["by"].startswith("w0.")]
    mine = [e for e in events if lease_expiry(e) and e.payload["error"]["owner"] == agent]
    claims = [(e.seq, e.task_id) for e in events if e.kind == "task.claim" and e.actor == agent]
    last_claimed = max(claims)[1] if claims else None  # what it held when it was killed
    lines = []
    for e in mine:
        attempt = did.get((str(e.task_id), e.payload["error"]["token"]), [])
        if any(f["fact"] == "stall" for f in attempt):
            continue  # it froze past its lease: its own doing
        started = [f["t"] for f in attempt if f["fact"] == "working"]
        if agent in killed and e.task_id == last_claimed:
            continue  # killed holding it
        t0 = started[0] if started else None
        near = [round(t - t0, 2) for t in frozen_0 if t0 is not None and -5 < t - t0 < 3]
        lines.append(
            f"{e.task_id} token {e.payload['error']['token']} (seq {e.seq}): "
            f"{[(f['fact'], round(f['t'] - t0, 3) if t0 else None) for f in attempt]}, "
            f"worker 0 froze at {near} s from its start"
        )
    return lines


def check_the_log(tasks: dict[str, Any], events: list[Event], facts: list[dict[str, Any]]) -> None:
    assert len(tasks) == TASKS
    # The reaper is any idle worker here, so its name says nothing.
    owner = assert_done_exactly_once(tasks, events)
    # An agent answered only for leases its process really held, and a result under any
    # token but the task's last never landed (checked above: one completion per task,
    # with the last token).
    for f in facts:
        if f["fact"] in ("working", "result"):
            assert owner[(f["task"], f["token"])] == f["by"], f
