"""Queries whose cost must not grow with the run use the index made for them. Checked
on the planner's own EXPLAIN on both stores: a query reworded so that its partial index
no longer applies still returns the right rows (the conformance suite passes) but walks
the whole run again -- bench/scale.py measured 380 ms a watchdog pass at 1,000,000
tasks before tasks_watched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from baton import SyncBoard
from baton.store.postgres.prepared import QUERIES as PG_QUERIES
from baton.store.sql_files import load_queries
from tests.helpers import plan, task

SQLITE_QUERIES = load_queries("sqlite")


def _board(url: str) -> None:
    with SyncBoard.open(url) as board:
        board.create_run(plan(task("a"), task("b")), run_id="r1")


def test_sqlite_watch_reads_only_the_watched_index(tmp_path: Path) -> None:
    db = tmp_path / "board.db"
    _board(str(db))
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "EXPLAIN QUERY PLAN " + SQLITE_QUERIES["watched_tasks"], ("r1", 2)
        ).fetchall()
    finally:
        conn.close()
    plan_text = " | ".join(r[-1] for r in rows)
    assert "USING INDEX tasks_watched" in plan_text, plan_text


def test_postgres_watch_can_read_only_the_watched_index(pg_url: str) -> None:
    _board(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # A two-task table is cheapest to scan whole; what is checked is that the
        # partial index applies to the query at all, as it will on a big run.
        conn.execute("SET enable_seqscan = off")
        rows = conn.execute("EXPLAIN " + PG_QUERIES["watched_tasks"], ("r1", 2)).fetchall()
    plan_text = " | ".join(r[0] for r in rows)
    assert "tasks_watched" in plan_text, plan_text
