"""Queries whose cost must not grow with the run use the index made for them. Checked
on the planner's own EXPLAIN on both stores: a query reworded so that its partial index
no longer applies still returns the right rows (the conformance suite passes) but walks
the whole run again -- bench/scale.py measured 380 ms a watchdog pass at 1,000,000
tasks before tasks_watched; add_tasks read the whole run, 35 s for 100 tasks added to a
1,000,000-task run, before it read only the tasks it names."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from baton import SyncBoard
from baton.store.postgres.prepared import QUERIES as PG_QUERIES
from baton.store.sql_files import load_queries
from tests.helpers import plan, task

SQLITE_QUERIES = load_queries("sqlite")


def _board(url: str) -> None:
    with SyncBoard.open(url) as board:
        board.create_run(plan(task("a"), task("b")), run_id="r1")


#: (query, arguments, the index it must be able to use, and why it matters at scale).
INDEXED = [
    pytest.param("watched_tasks", ("r1", 2), "tasks_watched", id="watchdog-pass"),
    pytest.param("live_lease_runs", (0.0, "w1"), "tasks_lease", id="add-tasks-lease"),
    pytest.param("downstream", ("r1/a",), "deps_by_dep", id="add-tasks-cycle-check"),
]


@pytest.mark.parametrize(("name", "args", "index"), INDEXED)
def test_sqlite_query_uses_its_index(
    tmp_path: Path, name: str, args: tuple[object, ...], index: str
) -> None:
    db = tmp_path / "board.db"
    _board(str(db))
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("EXPLAIN QUERY PLAN " + SQLITE_QUERIES[name], args).fetchall()
    finally:
        conn.close()
    plan_text = " | ".join(r[-1] for r in rows)
    assert f"INDEX {index}" in plan_text, plan_text


@pytest.mark.parametrize(("name", "args", "index"), INDEXED)
def test_postgres_query_can_use_its_index(
    pg_url: str, name: str, args: tuple[object, ...], index: str
) -> None:
    _board(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # A two-task table is cheapest to scan whole; what is checked is that the
        # (partial) index applies to the query at all, as it will on a big run.
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute("EXPLAIN " + PG_QUERIES[name], args).fetchall()
    plan_text = " | ".join(r[0] for r in rows)
    assert index in plan_text, plan_text
