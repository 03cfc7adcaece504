"""What the PostgreSQL benchmark's worker processes run: Baton's side, the raw limit, and
the two ends of the hand-off measurement.

Baton's side goes through the public async API (``Board.claim``/``submit`` on a
``PostgresStore``), as an agent worker would, minus the agent. The raw limit is what a
careful programmer would write with nothing but psycopg to get the same guarantees at
the storage level: an atomic ``FOR UPDATE SKIP LOCKED`` claim that bumps a fencing
token, and a completion that checks the token and releases dependents — each one
autocommitted statement (a data-modifying CTE for the completion), so two round trips
per lifecycle. ``raw_events`` adds what Baton's event log costs when written by hand:
each claim and completion becomes a transaction that also takes gap-free seqs from a
locked counter row, appends the event rows and sends ``pg_notify`` (Baton's design,
statement by statement, as PostgresStore does). ``raw_events_tail`` is the same log
with the counter, the event rows and the notify in one statement sent together with
the COMMIT (psycopg pipeline mode): what Baton's flush could do instead.
``worker_path`` runs the documented ``Worker`` with a no-op agent (bench/_worker_path.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import _worker_path as worker_path
import psycopg

from baton.board import Board
from baton.runtime.worker import Worker

ROLE = "worker"
OUTPUT = {"ok": True}
LEASE_S = 60.0


@dataclass(frozen=True)
class Job:
    """One process's share of a measurement (picklable: it crosses a queue)."""

    kind: str
    url: str
    name: str
    start_at: float  # time.monotonic() at which to begin (the same clock in every process)
    deadline_s: float
    run_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    name: str
    count: int  # lifecycles or claims done
    started: float
    finished: float
    idle_polls: int
    exhausted: bool  # the board ran out of work before the deadline
    extra: dict[str, Any] = field(default_factory=dict)


def _wait_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)  # all processes of a measurement begin at the same instant


# --- Baton ------------------------------------------------------------------------------


async def _baton(job: Job, submit: bool) -> Result:
    board = Board.open(job.url)
    limit = job.extra.get("limit")  # stop after this many (filling a board part way)
    try:
        await board.get_run(job.run_id)  # pool open, schema checked, before the start
        _wait_until(job.start_at)
        started = time.monotonic()
        deadline = started + job.deadline_s
        done = idle = 0
        exhausted = False
        while time.monotonic() < deadline and (limit is None or done < limit):
            lease = await board.claim(job.name, [ROLE])
            if lease is None:
                if not submit:
                    exhausted = True
                    break
                idle += 1  # the rest is pending behind tasks other workers hold
                states = await board.store.count_by_state(job.run_id)
                if not states.keys() - {"done"}:
                    exhausted = True
                    break
                await asyncio.sleep(0.0005)
                continue
            if submit:
                await board.submit(lease.task.id, lease.token, OUTPUT, participant=job.name)
            done += 1
        finished = time.monotonic()
    finally:
        await board.close()
    return Result(job.name, done, started, finished, idle, exhausted)


async def _agent_worker(job: Job) -> Result:
    """The documented ``Worker`` with a no-op agent, until the run has ended; the time
    is that of ``Worker.run`` (bench/_worker_path.py). ``extra["watchdog"]``: False for
    ``Worker(..., watchdog=False)``."""
    board = Board.open(job.url)
    watchdog = bool(job.extra.get("watchdog", True))
    agent = Worker(board, {ROLE: worker_path.noop}, name=job.name, concurrency=1, watchdog=watchdog)
    try:
        await board.get_run(job.run_id)  # pool open, schema checked, before the start
        _wait_until(job.start_at)
        started = time.monotonic()
        await asyncio.wait_for(agent.run(run_id=job.run_id), job.deadline_s)
        finished = time.monotonic()
    finally:
        await board.close()
    return Result(job.name, agent.completed, started, finished, 0, True)


# --- raw psycopg ------------------------------------------------------------------------

RAW_SCHEMA = """
CREATE TABLE tasks (
    id               BIGINT PRIMARY KEY,
    priority         INTEGER NOT NULL,
    seq              BIGINT NOT NULL,
    state            TEXT NOT NULL,
    pending_deps     INTEGER NOT NULL,
    owner            TEXT,
    token            INTEGER NOT NULL DEFAULT 0,
    lease_expires_at DOUBLE PRECISION,
    output           TEXT
);
CREATE INDEX tasks_ready ON tasks (priority DESC, seq) WHERE state = 'ready';
CREATE TABLE deps (
    dep_id  BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    PRIMARY KEY (dep_id, task_id)
);
CREATE TABLE events (
    seq     BIGINT PRIMARY KEY,
    task_id BIGINT,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL
);
CREATE TABLE event_counter (id INTEGER PRIMARY KEY, last BIGINT NOT NULL);
INSERT INTO event_counter VALUES (1, 0);
"""

RAW_CLAIM = """
UPDATE tasks SET state = 'running', owner = %s, token = token + 1, lease_expires_at = %s
WHERE id = (SELECT id FROM tasks WHERE state = 'ready' ORDER BY priority DESC, seq
            LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, token
"""

RAW_COMPLETE = """
WITH done AS (
    UPDATE tasks SET state = 'done', owner = NULL, lease_expires_at = NULL, output = %s
    WHERE id = %s AND token = %s AND state = 'running'
    RETURNING id
), released AS (
    UPDATE tasks t SET pending_deps = t.pending_deps - 1,
        state = CASE WHEN t.pending_deps = 1 THEN 'ready' ELSE t.state END
    FROM deps d, done
    WHERE d.dep_id = done.id AND t.id = d.task_id
    RETURNING t.id, t.state
)
SELECT (SELECT count(*) FROM done), (SELECT json_agg(json_build_array(id, state)) FROM released)
"""

RAW_TAKE_SEQS = "UPDATE event_counter SET last = last + %s WHERE id = 1 RETURNING last"
RAW_EVENT = (
    "INSERT INTO events (seq, task_id, kind, actor, payload, at) VALUES (%s, %s, %s, %s, %s, %s)"
)
RAW_NOTIFY = "SELECT pg_notify('raw_events', %s)"


def raw_populate(url: str, n_tasks: int, chain_len: int) -> None:
    """Schema and ``n_tasks`` tasks (chains of ``chain_len``; 1 = all ready), in SQL."""
    with psycopg.connect(url) as conn:
        conn.execute(RAW_SCHEMA.encode())
        conn.execute(
            "INSERT INTO tasks (id, priority, seq, state, pending_deps) "
            "SELECT i, 0, i, CASE WHEN i %% %s = 0 THEN 'ready' ELSE 'pending' END, "
            "CASE WHEN i %% %s = 0 THEN 0 ELSE 1 END FROM generate_series(0, %s - 1) i",
            (chain_len, chain_len, n_tasks),
        )
        conn.execute(
            "INSERT INTO deps (dep_id, task_id) SELECT i - 1, i "
            "FROM generate_series(0, %s - 1) i WHERE i %% %s <> 0",
            (n_tasks, chain_len),
        )
        conn.execute("ANALYZE")


def _events(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    """Number ``rows`` (task, kind, actor, payload, at) from the locked counter, write
    them, notify — the tail of every Baton write transaction, by hand."""
    cur = conn.execute(RAW_TAKE_SEQS, (len(rows),))
    last = int(cur.fetchone()[0])  # type: ignore[index]
    first = last - len(rows) + 1
    with conn.cursor() as c:
        c.executemany(RAW_EVENT, [(first + i, *r) for i, r in enumerate(rows)])
    conn.execute(RAW_NOTIFY, (str(last),))


RAW_TAIL = """
WITH n AS (UPDATE event_counter SET last = last + %(k)s WHERE id = 1 RETURNING last),
ins AS (
    INSERT INTO events (seq, task_id, kind, actor, payload, at)
    SELECT n.last - %(k)s + e.ord, e.task_id, e.kind, %(actor)s, e.payload, %(at)s
    FROM n, unnest(%(tasks)s::bigint[], %(kinds)s::text[], %(payloads)s::text[])
        WITH ORDINALITY AS e(task_id, kind, payload, ord)
    RETURNING seq
)
SELECT pg_notify('raw_events', (SELECT last FROM n)::text)
"""


def _tail(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    """The same tail as :func:`_events`, as one statement: queued in a pipeline together
    with the COMMIT that follows it, so the counter row is locked only while the server
    runs the two back to back — never across a round trip to this process."""
    conn.execute(
        RAW_TAIL,
        {
            "k": len(rows),
            "actor": rows[0][2],
            "at": rows[0][4],
            "tasks": [r[0] for r in rows],
            "kinds": [r[1] for r in rows],
            "payloads": [r[3] for r in rows],
        },
    )


def _raw_tail(job: Job) -> Result:
    """Lifecycles as in ``raw_events``, each transaction's tail sent with its COMMIT."""
    conn = psycopg.connect(job.url, autocommit=True)
    try:
        conn.execute("SELECT 1")
        _wait_until(job.start_at)
        started = time.monotonic()
        deadline = started + job.deadline_s
        done = idle = 0
        exhausted = False
        out = json.dumps(OUTPUT)
        while time.monotonic() < deadline:
            now = time.time()
            with conn.pipeline(), conn.transaction():
                row = conn.execute(RAW_CLAIM, (job.name, now + LEASE_S)).fetchone()
                if row is not None:
                    payload = json.dumps({"token": row[1], "expires_at": now + LEASE_S})
                    _tail(conn, [(row[0], "task.claim", job.name, payload, now)])
            if row is None:
                idle += 1
                left = conn.execute("SELECT 1 FROM tasks WHERE state <> 'done' LIMIT 1")
                if left.fetchone() is None:
                    exhausted = True
                    break
                time.sleep(0.0005)
                continue
            with conn.pipeline(), conn.transaction():
                got = conn.execute(RAW_COMPLETE, (out, row[0], row[1])).fetchone()
                assert got is not None
                if got[0] != 1:
                    raise RuntimeError(f"lease lost on task {row[0]}")
                now = time.time()
                rows = [(row[0], "task.complete", job.name, json.dumps({"output": OUTPUT}), now)]
                rows += [
                    (dependent, "task.ready", job.name, "{}", now)
                    for dependent, state in got[1] or []
                    if state == "ready"
                ]
                _tail(conn, rows)
            done += 1
        finished = time.monotonic()
    finally:
        conn.close()
    return Result(job.name, done, started, finished, idle, exhausted)


def _raw(job: Job, submit: bool, events: bool) -> Result:
    conn = psycopg.connect(job.url, autocommit=True)
    try:
        conn.execute("SELECT 1")
        _wait_until(job.start_at)
        started = time.monotonic()
        deadline = started + job.deadline_s
        done = idle = 0
        exhausted = False
        while time.monotonic() < deadline:
            now = time.time()
            if events:
                with conn.transaction():
                    row = conn.execute(RAW_CLAIM, (job.name, now + LEASE_S)).fetchone()
                    if row is not None:
                        payload = json.dumps({"token": row[1], "expires_at": now + LEASE_S})
                        _events(conn, [(row[0], "task.claim", job.name, payload, now)])
            else:
                row = conn.execute(RAW_CLAIM, (job.name, now + LEASE_S)).fetchone()
            if row is None:
                if not submit:
                    exhausted = True
                    break
                idle += 1
                left = conn.execute("SELECT 1 FROM tasks WHERE state <> 'done' LIMIT 1")
                if left.fetchone() is None:
                    exhausted = True
                    break
                time.sleep(0.0005)
                continue
            if submit:
                out = json.dumps(OUTPUT)
                if events:
                    with conn.transaction():
                        _complete(conn, out, row, job.name, events=True)
                else:
                    _complete(conn, out, row, job.name, events=False)
            done += 1
        finished = time.monotonic()
    finally:
        conn.close()
    return Result(job.name, done, started, finished, idle, exhausted)


def _complete(
    conn: psycopg.Connection[Any], out: str, row: tuple[Any, ...], owner: str, *, events: bool
) -> None:
    got = conn.execute(RAW_COMPLETE, (out, row[0], row[1])).fetchone()
    assert got is not None
    if got[0] != 1:
        raise RuntimeError(f"lease lost on task {row[0]}")
    if events:
        now = time.time()
        rows = [(row[0], "task.complete", owner, json.dumps({"output": OUTPUT}), now)]
        for dependent, state in got[1] or []:
            if state == "ready":
                rows.append((dependent, "task.ready", owner, "{}", now))
        _events(conn, rows)


def raw_count(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT state, count(*) FROM tasks GROUP BY state").fetchall()
    return {str(s): int(n) for s, n in rows}


# --- hand-off ---------------------------------------------------------------------------


async def _idle_claimer(job: Job) -> Result:
    """Serve role ``second`` the way ``Worker`` does when idle (claim; nothing: reap,
    then wait for the next commit), and note when each claim returned."""
    board = Board.open(job.url)
    claimed: dict[str, float] = {}
    idle = 0
    want = int(job.extra["pairs"])
    try:
        await board.get_run(job.run_id)
        started = time.monotonic()
        while len(claimed) < want and time.monotonic() < started + job.deadline_s:
            head = await board.store.last_seq()
            lease = await board.claim(job.name, ["second"], run_id=job.run_id)
            if lease is None:
                idle += 1
                await board.reap_expired(actor=job.name)
                await board.store.wait_for_commit(head, 0.5)
                continue
            claimed[lease.task.key] = time.monotonic()
            await board.submit(lease.task.id, lease.token, OUTPUT, participant=job.name)
        finished = time.monotonic()
    finally:
        await board.close()
    return Result(job.name, len(claimed), started, finished, idle, False, {"t1": claimed})


async def _idle_worker(job: Job) -> Result:
    """The real ``Worker`` serving role ``second``; its agent notes when it started."""
    board = Board.open(job.url)
    began: dict[str, float] = {}

    async def agent(ctx: Any) -> dict[str, Any]:
        began[ctx.task.key] = time.monotonic()
        return OUTPUT

    worker = Worker(board, {"second": agent}, name=job.name, idle_wait_s=0.5)
    try:
        started = time.monotonic()
        await asyncio.wait_for(worker.run(run_id=job.run_id), job.deadline_s)
        finished = time.monotonic()
    finally:
        await board.close()
    return Result(job.name, len(began), started, finished, 0, False, {"t1": began})


# --- dispatch ---------------------------------------------------------------------------


def run_job(job: Job) -> Result:
    if job.kind == "baton_life":
        return asyncio.run(_baton(job, submit=True))
    if job.kind == "baton_claim":
        return asyncio.run(_baton(job, submit=False))
    if job.kind == "raw_life":
        return _raw(job, submit=True, events=False)
    if job.kind == "raw_events_life":
        return _raw(job, submit=True, events=True)
    if job.kind == "raw_events_tail_life":
        return _raw_tail(job)
    if job.kind == "raw_claim":
        return _raw(job, submit=False, events=False)
    if job.kind == "handoff_claimer":
        return asyncio.run(_idle_claimer(job))
    if job.kind == "handoff_worker":
        return asyncio.run(_idle_worker(job))
    if job.kind == "worker_path":
        return asyncio.run(_agent_worker(job))
    raise ValueError(f"unknown job kind {job.kind!r}")


def crew_main(inbox: Any, outbox: Any) -> None:
    """A long-lived benchmark process: run jobs from ``inbox`` until ``None``."""
    import traceback

    while True:
        job = inbox.get()
        if job is None:
            return
        try:
            outbox.put(run_job(job))
        except BaseException:
            outbox.put(f"{job.name} ({job.kind}): {traceback.format_exc()}")
