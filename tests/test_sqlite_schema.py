"""SQLite schema versioning: numbered migrations applied at open, newer schemas refused.

SQLite-specific on purpose (PRAGMA user_version, sqlite_master), so it lives outside the
backend-agnostic conformance suite.
"""

from __future__ import annotations

import re
import sqlite3
from importlib.resources import files
from pathlib import Path

import pytest

from baton import Board, SchemaTooNew, SqliteStore, SyncBoard
from tests.helpers import plan, task


def _migration_files() -> list[tuple[int, str]]:
    folder = files("baton.store.sqlite").joinpath("sql")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text()))
    return sorted(found)


def _schema(path: Path) -> tuple[int, list[tuple[str, str, str, str | None]]]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()
    return version, rows


def _set_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
    finally:
        conn.close()


def _fresh(path: Path) -> None:
    with SyncBoard.open(path):
        pass


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [v for v, _ in _migration_files()]
    assert versions, "no migrations found"
    assert versions == list(range(1, len(versions) + 1))


def test_a_fresh_schema_equals_all_migrations_applied_in_order(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    _fresh(fresh)

    by_hand = tmp_path / "by_hand.db"
    conn = sqlite3.connect(by_hand)
    try:
        for version, sql in _migration_files():
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
    finally:
        conn.close()

    fresh_version, fresh_objects = _schema(fresh)
    hand_version, hand_objects = _schema(by_hand)
    assert fresh_version == hand_version == len(_migration_files())
    assert {name for kind, name, _, _ in fresh_objects if kind == "table"} >= {
        "runs",
        "tasks",
        "deps",
        "events",
        "idempotency",
    }
    assert fresh_objects == hand_objects


def test_a_migrated_database_opens_without_migrating_again(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    with SyncBoard.open(path) as board:
        run = board.create_run(plan(task("a")))
        before = board.snapshot()
    schema = _schema(path)
    with SyncBoard.open(path) as board:
        assert board.snapshot() == before
        assert board.get_run(run.id).id == run.id
    assert _schema(path) == schema


def test_a_fresh_database_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    _fresh(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.parametrize("populated", [True, False], ids=["existing", "empty"])
def test_a_database_from_a_newer_schema_is_refused(tmp_path: Path, populated: bool) -> None:
    path = tmp_path / "board.db"
    supported = len(_migration_files())
    if populated:
        _fresh(path)
    newer = supported + 1
    _set_version(path, newer)
    schema = _schema(path)

    with pytest.raises(SchemaTooNew) as info:
        SqliteStore(path)
    message = str(info.value)
    assert str(path) in message
    assert str(newer) in message and str(supported) in message
    with pytest.raises(SchemaTooNew):
        Board.open(path)
    with pytest.raises(SchemaTooNew):
        SyncBoard.open(f"sqlite:///{path}")
    assert _schema(path) == schema, "a refused database is left as it was"


def test_a_refused_database_keeps_its_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "board.db"
    _set_version(path, len(_migration_files()) + 1)  # a rollback-journal database
    with pytest.raises(SchemaTooNew):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
