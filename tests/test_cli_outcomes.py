"""A run that failed is loud on the command line: ``baton run --wait`` (and ``board``,
``worker --run``) exit 1 with one line naming the run and the root cause, ``status``
says FAILED, and ``events --follow`` ends with the run. A run that finished exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton import SyncBoard

TEAM = """
from __future__ import annotations

def build(ctx):
    if ctx.task.key == "broken":
        raise RuntimeError("the build server is down")
    return {"built": ctx.task.key}

agents = {"dev": build}
"""


def _plan(tmp_path: Path, *keys: str) -> Path:
    tasks = [{"id": k, "role": "dev", "max_attempts": 2, "backoff_base_s": 0} for k in keys]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"goal": "ship", "roles": ["dev"], "tasks": tasks}))
    return path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return {**env, "COLUMNS": "200"}


def _baton(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[None]:
    """A worker serving role dev on the board, for whatever run comes."""
    (tmp_path / "team.py").write_text(TEAM)
    db = str(tmp_path / "board.db")
    SyncBoard.open(db).close()  # the store exists before the worker opens it
    proc = subprocess.Popen(
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
            "w1",
            "--watchdog-tick-s",
            "0.2",
        ],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)


def test_run_wait_exits_1_naming_the_failed_run(tmp_path: Path, worker: None) -> None:
    db = str(tmp_path / "board.db")
    r = _baton(
        tmp_path,
        "run",
        str(_plan(tmp_path, "ok", "broken")),
        "--db",
        db,
        "--run-id",
        "r1",
        "--wait",
        "--timeout",
        "60",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Run FAILED" in r.stdout
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "run 'r1' failed" in err[0] and "r1/broken" in err[0]
    assert "Traceback" not in r.stderr

    status = _baton(tmp_path, "status", "r1", "--db", db)
    assert status.returncode == 0 and status.stdout.startswith("Run FAILED")
    follow = _baton(tmp_path, "events", "r1", "--db", db, "--follow", "--json")
    kinds = [json.loads(line)["kind"] for line in follow.stdout.splitlines()]
    assert follow.returncode == 0 and "run.failed" in kinds
    board = _baton(tmp_path, "board", "r1", "--db", db)
    assert board.returncode == 1 and "run 'r1' failed" in board.stderr
    escalations = _baton(tmp_path, "escalations", "r1", "--db", db, "--json")
    found = {e["kind"] for e in json.loads(escalations.stdout)}
    assert {"escalation.task_failed", "escalation.run_failed"} <= found


def test_run_wait_exits_0_when_the_run_finished(tmp_path: Path, worker: None) -> None:
    db = str(tmp_path / "board.db")
    r = _baton(
        tmp_path,
        "run",
        str(_plan(tmp_path, "a", "b")),
        "--db",
        db,
        "--run-id",
        "r2",
        "--wait",
        "--timeout",
        "60",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Run finished: 2 of 2 tasks done." in r.stdout


def test_run_wait_with_a_timeout_gives_up_with_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "board.db")  # no worker: the run cannot end
    r = _baton(
        tmp_path,
        "run",
        str(_plan(tmp_path, "a")),
        "--db",
        db,
        "--run-id",
        "r3",
        "--wait",
        "--timeout",
        "0.5",
    )
    assert r.returncode == 2
    assert "still not ended after 0.5s" in r.stderr
