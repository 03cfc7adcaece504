"""Dependencies for the queues that have none: a count of unfinished dependencies per
task, decremented by each finishing dependency; the one that brings it to zero
enqueues the dependent. This is what a user of a plain job queue (Procrastinate, a
DBOS queue, Celery) writes by hand for a DAG.

The counts live in the system's own store, beside its jobs — a table ``peer_pending``
in the same PostgreSQL database, a SQLite file beside DBOS's, keys in Celery's Redis —
and each decrement is one atomic statement (``UPDATE … RETURNING``, ``DECR``). It is
*not* in the same transaction as the queue's own acknowledgement (these libraries do
not offer one), so a crash between the two can run a dependent twice or not at all;
Baton, Temporal and LangGraph release dependents as part of their own state change.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import tasks

PG_DDL = """
CREATE TABLE IF NOT EXISTS peer_pending (
    run TEXT NOT NULL, tid TEXT NOT NULL, left_ INTEGER NOT NULL, PRIMARY KEY (run, tid)
)
"""
PG_RELEASE = (
    "UPDATE peer_pending SET left_ = left_ - 1 WHERE run = %s AND tid = ANY(%s) "
    "RETURNING tid, left_"
)


class PgCounters:
    """The counts in PostgreSQL, one autocommitted connection per thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()

    def conn(self) -> Any:
        import psycopg

        c = getattr(self.local, "conn", None)
        if c is None or c.closed:
            c = self.local.conn = psycopg.connect(self.url, autocommit=True)
        return c

    def setup(self) -> None:
        self.conn().execute(PG_DDL)

    def init(self, run: str, spec: str) -> None:
        g = tasks.graph(spec)
        rows = [(run, t, len(g.deps[t])) for t in g.ids if g.deps[t]]
        if rows:
            with self.conn().cursor() as cur:
                cur.executemany("INSERT INTO peer_pending VALUES (%s, %s, %s)", rows)

    def release(self, run: str, spec: str, task: str) -> list[str]:
        kids = list(tasks.graph(spec).children[task])
        if not kids:
            return []
        got = self.conn().execute(PG_RELEASE, (run, kids)).fetchall()
        return [t for t, left in got if left == 0]


class SqliteCounters:
    """The counts in a SQLite file (WAL; ``synchronous`` as the durability setting)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()

    def conn(self) -> sqlite3.Connection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if os.environ.get("PEERS_DURABLE") == "1" else "NORMAL"
            c.execute(f"PRAGMA synchronous={sync}")
            self.local.conn = c
        return c

    def setup(self) -> None:
        self.conn().execute(PG_DDL)

    def init(self, run: str, spec: str) -> None:
        g = tasks.graph(spec)
        rows = [(run, t, len(g.deps[t])) for t in g.ids if g.deps[t]]
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        c.executemany("INSERT INTO peer_pending VALUES (?, ?, ?)", rows)
        c.execute("COMMIT")

    def release(self, run: str, spec: str, task: str) -> list[str]:
        kids = list(tasks.graph(spec).children[task])
        if not kids:
            return []
        marks = ",".join("?" * len(kids))
        got = (
            self.conn()
            .execute(
                f"UPDATE peer_pending SET left_ = left_ - 1 WHERE run = ? AND tid IN ({marks}) "
                "RETURNING tid, left_",
                (run, *kids),
            )
            .fetchall()
        )
        return [t for t, left in got if left == 0]
