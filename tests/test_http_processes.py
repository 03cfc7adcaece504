"""Remote workers as real processes against a real ``baton serve`` process: a race of
eight participants over HTTP, and a remote worker killed with SIGKILL mid-task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from baton import LeaseLost, SyncBoard, TaskState, connect_sync
from tests.helpers import plan, task
from tests.http_door import start_serve_process
from tests.procs.logcheck import all_events, assert_gap_free, kinds_per_task

AGENTS = """
import time

def work(ctx):
    if ctx.participant.startswith("slow"):
        time.sleep(600)  # hangs until killed
    return {"by": ctx.participant}

agents = {"worker": work}
"""


def _worker(cwd: Path, url: str, token: str, run_id: str, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.Popen(
        [sys.executable, "-m", "baton", "worker", "--agents", "team:agents", "--server", url,
         "--run", run_id, *extra],
        cwd=cwd,
        env={**env, "BATON_TOKEN": token, "PYTHONPATH": str(cwd)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eight_remote_workers_race_over_http_for_two_thousand_tasks(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(AGENTS)
    db = str(tmp_path / "board.db")
    tasks = 2_000
    with SyncBoard.open(db) as owner:
        run = owner.create_run(plan(*(task(f"t{i:04d}") for i in range(tasks))))
        tokens = {
            f"w{i}": owner.add_participant(f"w{i}", kind="agent", roles=["worker"], runs=[run.id])[
                1
            ]
            for i in range(8)
        }
    server, url = start_serve_process(db)
    workers = []
    try:
        workers = [_worker(tmp_path, url, t, run.id, "--no-watchdog") for t in tokens.values()]
        for w in workers:
            _, err = w.communicate(timeout=200)
            assert w.returncode == 0, err
    finally:
        for w in workers:
            _stop(w)
        _stop(server)

    with SyncBoard.open(db) as owner:
        found = owner.tasks(run.id)
        events = all_events(owner)
    ids = {t.id for t in found}
    assert Counter(t.state for t in found) == {TaskState.DONE: tasks}  # none lost
    assert kinds_per_task(events, "task.claim") == dict.fromkeys(ids, 1)  # no double claim
    assert kinds_per_task(events, "task.complete") == dict.fromkeys(ids, 1)
    assert {t.token for t in found} == {1}
    by = Counter(t.output["by"] for t in found)
    assert set(by) <= set(tokens) and sum(by.values()) == tasks
    assert {t.worked_by for t in found} == set(by)  # the authenticated participant
    assert_gap_free(events)
    print(f"\nhttp race: 8 remote workers, {tasks} tasks; per participant {dict(by)}")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_remote_worker_killed_mid_task_loses_its_lease_to_another(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(AGENTS)
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as owner:
        run = owner.create_run(plan(task("a", lease_s=2)))
        _, slow = owner.add_participant("slow", kind="agent", roles=["worker"], runs=["*"])
        _, fast = owner.add_participant("fast", kind="agent", roles=["worker"], runs=["*"])
    server, url = start_serve_process(db)
    procs: list[subprocess.Popen[str]] = []
    try:
        with connect_sync(url, fast) as watcher:
            procs.append(_worker(tmp_path, url, slow, run.id, "--no-watchdog"))
            claims = watcher.subscribe(run_id=run.id, kinds=("task.claim",), idle_timeout=30)
            first = next(claims)
            assert first.actor == "slow"
            procs[0].send_signal(signal.SIGKILL)  # mid-task: no release, no goodbye
            procs[0].wait(10)
            procs.append(
                _worker(tmp_path, url, fast, run.id, "--watchdog-tick-s", "0.2",
                        "--watchdog-lease-s", "1")
            )  # fmt: skip
            ended = watcher.wait_ended(run.id, timeout=60)
            assert ended.state.value == "finished"
            done = watcher.get_task(f"{run.id}/a")
            assert done.output == {"by": "fast"} and done.worked_by == "fast"
            assert done.token == 2
        with connect_sync(url, slow) as ghost, pytest.raises(LeaseLost):
            ghost.submit(f"{run.id}/a", first.payload.get("token", 1), {"late": True},
                         participant="slow")  # fmt: skip
        procs[1].communicate(timeout=30)
    finally:
        for p in procs:
            _stop(p)
        _stop(server)
    with SyncBoard.open(db) as owner:
        assert owner.get_task(f"{run.id}/a").output == {"by": "fast"}
