"""The raw limit: the same task lifecycle as minimal hand-written SQL, no Baton code.

This is what a careful programmer would write with nothing but ``sqlite3`` to get the
same guarantees at the storage level: an atomic claim with a fencing token, and a
completion that checks the token and releases dependents in the same transaction. It
deliberately leaves out everything Baton adds on top (event log, idempotency, JSON task
specs, leases with kinds, retries, run bookkeeping), so the ratio Baton / raw is the
price of those features plus Python-side modelling.

Connection settings are the same as ``SqliteStore``'s: WAL, the chosen ``synchronous``,
``temp_store=MEMORY``, the same WAL checkpoint interval, the same 30 s busy timeout
(SQLite's own busy handler), autocommit mode with explicit ``BEGIN IMMEDIATE`` for every
write transaction. ``board.py`` reads the settings back from both and refuses to compare
if they differ.

``with_events=True`` adds one thing Baton has to the raw schema: an append-only event
log (one row per transition, indexed by run, written in the same transaction), so the
report can say how much of the gap is the event log and how much is everything else.
"""

from __future__ import annotations

import json
import sqlite3
import time
from multiprocessing.synchronize import Barrier

from _harness import Job, WorkerResult

BUSY_TIMEOUT_S = 30.0  # SqliteStore's default
WAL_AUTOCHECKPOINT_PAGES = 10_000  # SqliteStore's setting

SCHEMA = """
CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY,
    priority         INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    state            TEXT NOT NULL,
    pending_deps     INTEGER NOT NULL,
    owner            TEXT,
    token            INTEGER NOT NULL DEFAULT 0,
    lease_expires_at REAL,
    output           TEXT
);
CREATE INDEX tasks_ready ON tasks (priority DESC, seq) WHERE state = 'ready';
CREATE TABLE deps (
    dep_id  INTEGER NOT NULL,
    task_id INTEGER NOT NULL,
    PRIMARY KEY (dep_id, task_id)
) WITHOUT ROWID;
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL,
    task_id INTEGER,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      REAL NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);
"""

CLAIM = """
UPDATE tasks SET state = 'running', owner = ?, token = token + 1, lease_expires_at = ?
WHERE id = (SELECT id FROM tasks WHERE state = 'ready' ORDER BY priority DESC, seq LIMIT 1)
RETURNING id, token
"""

COMPLETE = """
UPDATE tasks SET state = 'done', owner = NULL, lease_expires_at = NULL, output = ?
WHERE id = ? AND token = ? AND state = 'running'
"""

RELEASE_DEPENDENTS = """
UPDATE tasks SET pending_deps = pending_deps - 1,
                 state = CASE WHEN pending_deps = 1 THEN 'ready' ELSE state END
WHERE id IN (SELECT task_id FROM deps WHERE dep_id = ?)
"""

EVENT = "INSERT INTO events (run_id, task_id, kind, actor, payload, at) VALUES ('r', ?, ?, ?, ?, ?)"


def connect(path: str, durability: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    return conn


def create(path: str, durability: str, n_tasks: int, chain_len: int) -> float:
    """Create the schema and ``n_tasks`` tasks in chains, in one transaction; seconds."""
    conn = connect(path, durability)
    conn.executescript(SCHEMA)
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO tasks (id, priority, seq, state, pending_deps) VALUES (?, 0, ?, ?, ?)",
        (
            (i, i, "ready" if i % chain_len == 0 else "pending", 0 if i % chain_len == 0 else 1)
            for i in range(n_tasks)
        ),
    )
    conn.executemany(
        "INSERT INTO deps (dep_id, task_id) VALUES (?, ?)",
        ((i - 1, i) for i in range(n_tasks) if i % chain_len != 0),
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def claim(
    conn: sqlite3.Connection, owner: str, lease_s: float, events: bool
) -> tuple[int, int] | None:
    """One write transaction: take the best ready task, bump its fencing token."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = time.time()
        row = conn.execute(CLAIM, (owner, now + lease_s)).fetchone()
        if row is not None and events:
            payload = json.dumps({"token": row[1], "expires_at": now + lease_s})
            conn.execute(EVENT, (row[0], "task.claim", owner, payload, now))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return None if row is None else (int(row[0]), int(row[1]))


def complete(
    conn: sqlite3.Connection, task_id: int, token: int, output: object, owner: str, events: bool
) -> None:
    """One write transaction: done if the token still holds, then release dependents."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = time.time()
        out = json.dumps(output)
        if conn.execute(COMPLETE, (out, task_id, token)).rowcount != 1:
            raise RuntimeError(f"lease lost on task {task_id}")
        if not events:
            conn.execute(RELEASE_DEPENDENTS, (task_id,))
        else:
            sql = f"{RELEASE_DEPENDENTS} RETURNING id, state"
            released = conn.execute(sql, (task_id,)).fetchall()
            conn.execute(EVENT, (task_id, "task.complete", owner, out, now))
            for dependent, state in released:
                if state == "ready":
                    conn.execute(EVENT, (dependent, "task.deps_done", owner, "{}", now))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def worker(job: Job, barrier: Barrier) -> WorkerResult:
    conn = connect(job.path, job.durability)
    barrier.wait()
    started = time.monotonic()
    deadline = started + job.deadline_s
    done = idle = 0
    while time.monotonic() < deadline:
        got = claim(conn, job.name, 60.0, job.with_events)
        if got is None:
            if conn.execute("SELECT 1 FROM tasks WHERE state != 'done' LIMIT 1").fetchone():
                idle += 1  # the rest is pending behind tasks other workers hold
                time.sleep(0.0005)
                continue
            break
        complete(conn, got[0], got[1], {"ok": True}, job.name, job.with_events)
        done += 1
    finished = time.monotonic()
    conn.close()
    return WorkerResult(job.name, done, started, finished, idle)


def count_done(path: str) -> tuple[int, int]:
    """(done, running) after a measurement: a sanity check that nothing was lost."""
    conn = sqlite3.connect(path)
    done = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = 'done'").fetchone()[0]
    running = conn.execute("SELECT COUNT(*) FROM tasks WHERE state = 'running'").fetchone()[0]
    conn.close()
    return int(done), int(running)
