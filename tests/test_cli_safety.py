"""The command line for a newcomer and against an attacker: read-only commands never
create a store, unknown ids are explained, refusals say what to do, stored text prints
as text, store failures are one line. Each through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from baton import Board, StoreUnavailable, SyncBoard
from tests.helpers import plan, task


def baton(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=cwd,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


READ_ONLY = [
    ["status", "r1"], ["events", "r1"], ["task", "show", "r1/a"], ["board", "r1", "--once"],
    ["runs"], ["escalations", "r1"], ["usage", "r1"], ["approve", "r1/a"], ["reap"],
    ["cancel", "r1"], ["backup", "copy.db"],
]  # fmt: skip


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: "-".join(a))
@pytest.mark.parametrize("db", ["missing.db", "deep/typo/path.db"])
def test_commands_other_than_run_never_create_a_store(
    tmp_path: Path, args: list[str], db: str
) -> None:
    r = baton(tmp_path, *args, "--db", db)
    assert r.returncode == 2
    line = one_line(r)
    assert f"no Baton store at {db}" in line and "baton run" in line
    assert list(tmp_path.iterdir()) == []  # no file, no directory


def test_an_empty_or_foreign_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    r = baton(tmp_path, "status", "r1", "--db", "empty.db")
    assert r.returncode == 2 and "an empty file at empty.db" in one_line(r)
    (tmp_path / "cut.db").write_bytes(b"S")  # a store truncated to one byte
    (tmp_path / "p.json").write_text(json.dumps(plan(task("a"))))
    for args in (["status", "r1"], ["run", str(tmp_path / "p.json")]):
        r = baton(tmp_path, *args, "--db", "cut.db")
        assert r.returncode == 1 and "not a Baton store" in one_line(r)
    assert (tmp_path / "cut.db").read_bytes() == b"S"


@pytest.mark.parametrize("db", [":memory:", "", "file:board.db?mode=memory"])
def test_in_memory_and_uri_stores_are_refused(tmp_path: Path, db: str) -> None:
    r = baton(tmp_path, "runs", "--db", db)
    assert r.returncode == 2 and "not supported" in one_line(r)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def board_db(tmp_path: Path) -> str:
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as board:
        board.create_run(
            plan(task("draft"), task("publish", deps=("draft",), requires_approval=True)),
            run_id="mr1",
        )
    return db


def test_unknown_ids_name_the_store_and_the_close_ids(tmp_path: Path, board_db: str) -> None:
    r = baton(tmp_path, "approve", "draft", "--db", board_db)
    line = one_line(r)
    assert r.returncode == 2 and "task ids are written run/key" in line and "mr1/draft" in line
    assert f"in the store at {board_db}" in line
    r = baton(tmp_path, "task", "show", "mr1/drfat", "--db", board_db)
    assert "did you mean mr1/draft?" in one_line(r)
    r = baton(tmp_path, "status", "mr2", "--db", board_db)
    assert "did you mean mr1?" in one_line(r)


def test_a_refusal_says_what_the_person_can_do(tmp_path: Path, board_db: str) -> None:
    r = baton(tmp_path, "approve", "mr1/publish", "--db", board_db)
    line = one_line(r)
    assert r.returncode == 2
    assert "cannot approve mr1/publish [pending]: it is waiting on mr1/draft" in line


NASTY = "[/api/users] [bold red]boom[/] \x1b[31mRED\x1b[0m <script>alert(1)</script>"


def test_stored_text_prints_as_text_in_every_command(tmp_path: Path) -> None:
    db = str(tmp_path / "board.db")
    with SyncBoard.open(db) as board:
        run = board.create_run(
            {**plan(task("a", title=NASTY, description=NASTY), task("b", max_attempts=1),
                    task("c")), "goal": NASTY},
            run_id="r1",
        )  # fmt: skip
        lease = board.claim("w1", ["worker"])
        assert lease is not None
        board.block(lease.task.id, lease.token, NASTY, participant=lease.owner)
        lease = board.claim("w1", ["worker"])
        assert lease is not None
        board.fail(lease.task.id, lease.token, NASTY, participant="w1")
        board.post_message(run.id, "note", {"text": NASTY}, sender="w1")
        board.escalate(run.id, "agent", NASTY, evidence={"x": NASTY}, actor="w1")
        board.record_usage("r1/c", model=NASTY, input_tokens=1, output_tokens=1, actor="w1")
    shown = [
        ["status", "r1"], ["board", "r1", "--once"], ["runs"], ["task", "show", "r1/a"],
        ["task", "show", "r1/b"], ["escalations", "r1"], ["events", "r1"], ["usage", "r1"],
    ]  # fmt: skip
    for args in shown:
        r = baton(tmp_path, *args, "--db", db)
        assert r.returncode == 0, (args, r.stderr)
        assert "\x1b" not in r.stdout, args  # escapes shown, never sent to the terminal
        assert "MarkupError" not in r.stderr
    status = baton(tmp_path, "status", "r1", "--db", db).stdout
    assert "[/api/users]" in status and "[bold red]boom[/]" in status and "<script>" in status
    assert "\\x1b[31mRED" in status


def test_an_agents_spec_that_is_not_agents_is_one_line(tmp_path: Path, board_db: str) -> None:
    r = baton(tmp_path, "worker", "--agents", "os:system", "--db", board_db)
    assert r.returncode == 2 and "is not agents" in one_line(r)


def test_a_negative_budget_on_resume_is_one_line(tmp_path: Path, board_db: str) -> None:
    baton(tmp_path, "pause", "mr1", "--reason", "look", "--db", board_db)
    r = baton(tmp_path, "resume", "mr1", "--tokens", "-1", "--db", board_db)
    assert r.returncode == 2 and "invalid budget for run 'mr1'" in one_line(r)


def test_a_full_disk_at_commit_is_store_unavailable_and_keeps_the_data(tmp_path: Path) -> None:
    import asyncio

    async def main() -> None:
        board = Board.open(tmp_path / "b.db")
        try:
            run = await board.create_run(plan(task("a")), run_id="r1")
            before = await board.snapshot()
            pages = board.store._w.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[attr-defined]
            board.store._w.execute(f"PRAGMA max_page_count = {pages}")  # type: ignore[attr-defined]
            big = plan(*[task(f"t{i}", input={"pad": "x" * 5000}) for i in range(50)])
            with pytest.raises(StoreUnavailable, match="database or disk is full"):
                await board.create_run(big, run_id="r2")
            assert await board.snapshot() == before
            assert (await board.get_run(run.id)).id == "r1"
        finally:
            await board.close()

    asyncio.run(main())


def test_a_corrupt_page_is_one_line_and_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    with SyncBoard.open(db) as board:
        board.create_run(
            plan(*[task(f"t{i}", input={"pad": "x" * 3000}) for i in range(40)]), run_id="r1"
        )
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(page * 3, min(len(data), page * 12)):
        data[offset] = 0xFF  # pages of the tasks table, trashed
    db.write_bytes(bytes(data))
    r = baton(tmp_path, "board", "r1", "--once", "--db", str(db))
    assert r.returncode == 1 and "failed" in one_line(r)


def test_backup_copies_a_live_store_with_what_is_in_its_wal(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    with SyncBoard.open(db) as board:
        run = board.create_run(plan(*[task(f"t{i}") for i in range(300)]), run_id="r1")
        for _ in range(300):  # lifecycles, all in the WAL (the checkpoint is far off)
            lease = board.claim("w1", ["worker"])
            assert lease is not None
            board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
        events = len(board.events(run.id))
        assert (tmp_path / "board.db-wal").stat().st_size > 0
        r = baton(tmp_path, "backup", "copy.db", "--db", str(db))
        assert r.returncode == 0, r.stderr
        assert "backed up" in r.stdout
    with SyncBoard.open(tmp_path / "copy.db", create=False) as copy:
        assert len(copy.events(run.id)) == events
        assert copy.get_run(run.id).state.value == "finished"
    again = baton(tmp_path, "backup", "copy.db", "--db", str(db))
    assert again.returncode == 2 and "exists" in one_line(again)


def test_runs_json_is_unchanged_by_the_safe_printing(tmp_path: Path, board_db: str) -> None:
    r = baton(tmp_path, "runs", "--json", "--db", board_db)
    assert [x["id"] for x in json.loads(r.stdout)] == ["mr1"]
