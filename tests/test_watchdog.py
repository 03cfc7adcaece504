"""No silent hang with workers alone: real ``baton worker`` processes, no orchestrator.

A hung agent is cut off at its task's timeout, retried, and escalated after its last
attempt (the run fails, and the workers waiting on it exit 1). The watchdog duty is
held by exactly one worker; when that process is killed with SIGKILL, another takes the
duty over within one lease period (plus one tick).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from baton import Duty, RunState, SyncBoard, TaskState
from tests.helpers import plan, task

HUNG_TEAM = """
from __future__ import annotations
import asyncio

async def hang(ctx):
    await asyncio.sleep(3600)  # an agent that never answers

agents = {"dev": hang}
"""


def _worker(tmp_path: Path, db: str, name: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baton",
            "worker",
            "--agents",
            "team:agents",
            "--db",
            db,
            "--name",
            name,
            *args,
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=10)


T = TypeVar("T")


def _wait_for(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll the store for a condition another process brings about, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_hung_agent_is_cut_off_retried_and_escalated_with_workers_alone(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    (tmp_path / "team.py").write_text(HUNG_TEAM)
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as board:
        run = board.create_run(
            plan(task("a", "dev", timeout_s=1.0, max_attempts=2, backoff_base_s=0), roles=("dev",)),
            run_id="r1",
        )
    started = time.monotonic()
    for name in ("w-a", "w-b"):
        workers.append(_worker(tmp_path, db, name, "--run", run.id))
    codes = [p.wait(timeout=60) for p in workers]
    elapsed = time.monotonic() - started

    assert codes == [1, 1], [p.stderr.read() if p.stderr else "" for p in workers]
    assert elapsed < 30  # two attempts of 1 s each, not the lease times every retry
    with SyncBoard.open(db) as board:
        assert board.get_run(run.id).state is RunState.FAILED
        t = board.get_task(f"{run.id}/a")
        assert t.state is TaskState.FAILED and t.failures == 2
        retries = [e for e in board.events(run.id) if e.kind in ("task.retry", "task.fail")]
        assert [e.payload["error"]["kind"] for e in retries] == ["timeout", "timeout"]
        assert all("ran past 1.0s" in e.payload["error"]["message"] for e in retries)
        (esc,) = [e for e in board.escalations(run.id) if e.kind == "escalation.task_failed"]
        assert "r1/a" in esc.payload["reason"] and "ran past 1.0s" in esc.payload["reason"]
    for p in workers:
        _out, err = p.communicate(timeout=10)
        assert "run 'r1' failed" in err


IDLE_TEAM = "from __future__ import annotations\nagents = {'dev': lambda ctx: {}}\n"


def test_the_watchdog_duty_moves_to_another_worker_when_its_holder_is_killed(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    (tmp_path / "team.py").write_text(IDLE_TEAM)
    db = str(tmp_path / "board.db")
    SyncBoard.open(db).close()  # the store exists before the workers race to open it
    lease_s, tick_s = 1.5, 0.25
    flags = ("--watchdog-lease-s", str(lease_s), "--watchdog-tick-s", str(tick_s))
    by_name = {name: _worker(tmp_path, db, name, *flags) for name in ("w-a", "w-b")}
    workers.extend(by_name.values())

    with SyncBoard.open(db) as board:

        def holder() -> Duty | None:
            duty = board.get_duty("watchdog")
            return duty if duty is not None and duty.holder else None

        first = _wait_for(holder, 30, "a worker to take the watchdog duty")
        victim = first.holder.removesuffix(":watchdog")
        survivor = ({"w-a", "w-b"} - {victim}).pop()
        by_name[victim].send_signal(signal.SIGKILL)
        by_name[victim].wait(timeout=10)
        killed_at = time.monotonic()

        def taken_over() -> Duty | None:
            duty = board.get_duty("watchdog")
            return duty if duty is not None and duty.holder == f"{survivor}:watchdog" else None

        second = _wait_for(taken_over, 30, f"{survivor} to take the duty over")
        took = time.monotonic() - killed_at
        assert second.token > first.token  # a take-over fences the old holder off
        assert took <= lease_s + tick_s + 1.0, f"took {took:.2f}s for a {lease_s}s lease"
    assert by_name[survivor].poll() is None  # still serving
