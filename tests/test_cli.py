"""Acceptance tests: the real ``baton`` command in a subprocess, on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baton import SyncBoard, TaskState

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "examples" / "profile_page" / "plan.yaml"


def baton(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def test_run_creates_a_run_and_json_reports_it(db: str) -> None:
    r = baton("run", str(PLAN), "--db", db, "--run-id", "r1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "r1"
    listed = baton("runs", "--db", db)
    assert "r1" in listed.stdout and "active" in listed.stdout


def test_options_come_from_environment(db: str) -> None:
    r = baton("run", str(PLAN), "--run-id", "envrun", env={"BATON_DB": db})
    assert r.returncode == 0, r.stderr
    with SyncBoard.open(db) as board:
        assert board.get_run("envrun").goal == "Build the user profile page"
    assert "BATON_DB" in baton("run", "--help").stdout


def test_invalid_plan_is_one_clear_line_and_writes_nothing(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "goal: g\nroles: [a]\ntasks:\n"
        "  - {id: x, role: a, depends_on: [y]}\n"
        "  - {id: y, role: a, depends_on: [x]}\n"
        "  - {id: z, role: ghost}\n"
    )
    r = baton("run", str(bad), "--db", db)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "x -> y -> x" in r.stderr and "'ghost'" in r.stderr
    with SyncBoard.open(db) as board:
        assert board.list_runs() == []


def test_unknown_ids_and_bad_files_exit_2_without_traceback(db: str, tmp_path: Path) -> None:
    for args in (
        ("task", "show", "nope/x", "--db", db),
        ("status", "nope", "--db", db),
        ("approve", "nope/x", "--db", db),
        ("run", str(tmp_path / "missing.yaml"), "--db", db),
        ("worker", "--agents", "no_such_module:HANDLERS", "--db", db),
        ("worker", "--agents", "nocolon", "--db", db),
    ):
        r = baton(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert r.stderr.strip().startswith("error:"), r.stderr


def test_a_whole_run_through_the_cli(db: str) -> None:
    """Create, work with real worker processes, approve at the gate, narrate, read events."""
    assert baton("run", str(PLAN), "--db", db, "--run-id", "full").returncode == 0
    env = {"BATON_DB": db, "BATON_AGENTS": "examples.profile_page.agents:HANDLERS"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "baton", "worker", "--run", "full", "--name", f"w{i}"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        with SyncBoard.open(db) as board:
            gate = next(
                e for e in board.subscribe(run_id="full", kinds=("task.submit_for_approval",))
            )
            assert gate.task_id == "full/deploy"
            assert board.get_task("full/deploy").state is TaskState.AWAITING_APPROVAL
            r = baton("approve", "full/deploy", "--db", db, "--as", "human:test")
            assert r.returncode == 0, r.stderr
            assert board.wait_finished("full", timeout=60).state == "finished"
        for w in workers:
            assert w.wait(timeout=30) == 0
    finally:
        for w in workers:
            w.kill()
    status = baton("status", "full", "--db", db)
    assert "Run finished: 6 of 6 tasks done." in status.stdout
    assert "'API docs' passed review after 1 rework round(s)" in status.stdout
    lines = baton("events", "full", "--db", db, "--json").stdout.splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds[0] == "run.created" and kinds[-1] == "run.finished"
    assert kinds.count("task.reject") == 1
    shown = json.loads(baton("task", "show", "full/docs", "--db", db, "--json").stdout)
    assert shown["state"] == "done" and shown["review_rounds"] == 1
    assert "add an example PATCH request body" in shown["output"]["sections"]
    board_once = baton("board", "full", "--db", db, "--once")
    assert "6/6 done" in board_once.stdout


def test_reject_cancel_and_unblock_from_the_cli(db: str) -> None:
    with SyncBoard.open(db) as board:
        board.create_run(
            {
                "goal": "g",
                "roles": ["w"],
                "tasks": [
                    {"id": "a", "role": "w", "requires_approval": True},
                    {"id": "b", "role": "w"},
                    {"id": "c", "role": "w", "depends_on": ["b"]},
                ],
            },
            run_id="h",
        )
        lease = board.claim("w1", ["w"])
        assert lease is not None and lease.task.key == "a"
        board.submit(lease.task.id, lease.token, {}, participant="w1")
    r = baton("reject", "h/a", "-m", "wrong colour", "-m", "typo", "--db", db)
    assert r.returncode == 0, r.stderr
    assert baton("reject", "h/a", "-m", "again", "--db", db).returncode == 2  # now ready
    assert baton("cancel", "h/b", "--db", db).returncode == 0
    with SyncBoard.open(db) as board:
        assert board.get_task("h/a").feedback[0]["items"] == ["wrong colour", "typo"]
        assert board.get_task("h/c").state is TaskState.CANCELLED
    assert baton("cancel", "h", "--db", db).returncode == 0
    assert baton("unblock", "h/a", "--db", db).returncode == 2
    assert "cancelled" in baton("runs", "--db", db).stdout
