"""Rows are mapped by column name: the names in ``baton.store.rows`` must be exactly the
columns each dialect's queries select, in order, or every read would shift silently."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from baton import SyncBoard
from baton.store import rows
from baton.store.postgres.prepared import QUERIES as PG_QUERIES
from baton.store.sql_files import load_queries
from tests.helpers import plan, task

SQLITE_QUERIES = load_queries("sqlite")
TASK_QUERIES = ["get_task", "list_tasks", "dependents", "watched_tasks", "watched_tasks_all_open"]
CLAIM_QUERIES = ["find_claimable", "find_claimable_in_run"]
RUN_QUERIES = ["get_run", "list_runs"]
EVENT_QUERIES = ["read_events", "read_run_events", "latest_run_events_like", "latest_run_messages"]


def _expected(name: str) -> tuple[str, ...]:
    if name in TASK_QUERIES:
        return rows.TASK_COLUMNS
    if name in CLAIM_QUERIES:
        return (*rows.TASK_COLUMNS, "run_budget")
    if name in RUN_QUERIES:
        return rows.RUN_COLUMNS
    return rows.EVENT_COLUMNS


ALL = TASK_QUERIES + CLAIM_QUERIES + RUN_QUERIES + EVENT_QUERIES


@pytest.mark.parametrize("name", ALL)
def test_sqlite_queries_select_the_named_columns(tmp_path: Path, name: str) -> None:
    db = tmp_path / "board.db"
    SyncBoard.open(db).close()
    conn = sqlite3.connect(db)
    try:
        sql = SQLITE_QUERIES[name]
        cur = conn.execute(f"SELECT * FROM ({sql}) LIMIT 0", [None] * sql.count("?"))
        names = tuple(d[0].removeprefix("t.") for d in cur.description)
    finally:
        conn.close()
    assert names == _expected(name)


@pytest.mark.parametrize("name", [n for n in ALL if n != "dependents"])
def test_postgres_queries_select_the_named_columns(pg_url: str, name: str) -> None:
    with SyncBoard.open(pg_url) as board:
        board.create_run(plan(task("a")), run_id="r1")
    sql = PG_QUERIES[name]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        cur = conn.cursor()
        params = [None] * sql.count("%s")
        cur.execute(
            f"SELECT * FROM ({sql.replace('FOR UPDATE SKIP LOCKED', '')}) q LIMIT 0", params
        )
        assert cur.description is not None
        names = tuple(d.name for d in cur.description)
    assert names == _expected(name)


def test_a_task_read_back_equals_the_task_written(board: SyncBoard) -> None:
    run = board.create_run(plan(task("a", title="A", input={"x": [1, 2]}), task("b", deps=("a",))))
    (a, b) = board.tasks(run.id)
    assert a.title == "A" and a.input == {"x": [1, 2]} and a.depends_on == []
    assert b.depends_on == [f"{run.id}/a"] and b.pending_deps == 1
