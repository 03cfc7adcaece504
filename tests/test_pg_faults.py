"""PostgreSQL: bad input and faults.

* A wrong URL, a wrong password, a database from a newer schema: one clear error
  (``StoreUnavailable`` / ``SchemaTooNew``, naming the server without the password),
  and nothing changed.
* A server that goes away mid-claim (the claimer's connection cut, or the whole server
  restarted, while the claim's transaction holds the task): a clear error, the task is
  still ready, and it is claimed exactly once afterwards.
* A subscriber whose LISTEN connection is killed reconnects and resumes from its last
  seq: nothing missed, nothing doubled.
* Event ``seq`` stays gap-free and in commit order under 8 concurrent writer processes,
  some of whose transactions roll back (after numbering their events, too).
* The SKIP LOCKED race: 16 processes claim 2,000 ready tasks; each is claimed and
  completed exactly once.
* Schema: a fresh schema equals all migration files applied by hand; an old schema
  upgrades to the same thing; concurrent first openers migrate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from baton import Board, RunState, SchemaTooNew, SyncBoard, TaskState
from baton.model.errors import StoreUnavailable
from baton.runtime.worker import Worker
from baton.store.postgres import SCHEMA_VERSION, PostgresStore
from tests import pg
from tests.helpers import plan, task
from tests.pgprocs import server
from tests.pgprocs.seq_writer import TWINS, write
from tests.procs.logcheck import all_events, assert_gap_free
from tests.procs.race_check import race_and_check, run_processes

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def empty_db(pg_template: bool) -> Iterator[Callable[[], str]]:
    """Empty databases (no Baton schema), dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = f"e_{uuid.uuid4().hex[:16]}"
        with server.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        made.append(pg.url_for(name))
        return made[-1]

    yield make
    for url in made:
        pg.drop_database(url)


def _password() -> str:
    found = re.match(r"postgresql://[^:]+:([^@]+)@", pg.SERVER)
    assert found, pg.SERVER
    return found.group(1)


async def until_up(call: Callable[[], Awaitable[T]], timeout_s: float = 60.0) -> T:
    """``call()`` through a server restart, with backoff (what a worker does)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return await call()
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- bad input --------------------------------------------------------------------------


def _bad_urls() -> dict[str, tuple[str, str]]:
    """name -> (URL, what the error must say)."""
    if not pg.SERVER:
        return {}
    base = pg.url_for("postgres")
    port = re.search(r":(\d+)/", base)
    assert port
    return {
        "nobody_listening": (
            base.replace(f":{port.group(1)}/", f":{_free_port()}/"),
            "Connection refused",
        ),
        "no_such_database": (pg.url_for("no_such_db"), 'database "no_such_db" does not exist'),
        "port_not_a_number": (base.replace(f":{port.group(1)}/", ":notaport/"), "notaport"),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("case", ["nobody_listening", "no_such_database", "port_not_a_number"])
def test_a_wrong_url_is_one_clear_error(pg_template: bool, case: str) -> None:
    url, says = _bad_urls()[case]
    started = time.monotonic()
    with SyncBoard.open(url) as board:
        for _ in range(2):  # and again: a failed open leaves no half-open store behind
            with pytest.raises(StoreUnavailable) as caught:
                board.list_runs()
            message = str(caught.value)
            assert message.startswith("PostgreSQL at postgresql://baton@127.0.0.1:"), message
            assert "is unavailable" in message and says in message, message
            assert _password() not in message, message
    assert time.monotonic() - started < 10, "a refused connection must fail fast"


def test_a_wrong_password_is_one_clear_error(pg_url: str) -> None:
    wrong = pg_url.replace(f":{_password()}@", ":not-the-password@")
    with SyncBoard.open(wrong) as board, pytest.raises(StoreUnavailable) as caught:
        board.create_run(plan(task("a")))
    message = str(caught.value)
    assert 'password authentication failed for user "baton"' in message, message
    assert "not-the-password" not in message and _password() not in message, message
    with SyncBoard.open(pg_url) as board:
        assert board.list_runs() == [], "nothing was written"

    done = _cli("runs", "--db", wrong)
    assert done.returncode == 1, done
    assert "password authentication failed" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "not-the-password" not in done.stderr


def test_an_unparsable_url_does_not_show_its_password(pg_template: bool) -> None:
    url = "postgresql://baton:s3cret-pw@[::1/baton"
    with SyncBoard.open(url) as board, pytest.raises(StoreUnavailable) as caught:
        board.list_runs()
    assert "is unavailable" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value), str(caught.value)


def _catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The schema as PostgreSQL sees it (the ``public`` schema), without Baton's own
    version bookkeeping table."""
    queries = {
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
        "column_default, numeric_precision, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name <> 'baton_schema' ORDER BY 1, 3",
        "constraints": "SELECT conrelid::regclass::text, conname, contype, "
        "pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace "
        "AND conrelid::regclass::text <> 'baton_schema' ORDER BY 1, 2",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' ORDER BY 1, 2",
        "relations": "SELECT relname, relkind FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relname <> 'baton_schema' ORDER BY 1",
        "functions": "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
        "ORDER BY 1",
        "triggers": "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
        "WHERE NOT tgisinternal ORDER BY 1, 2",
        "event_counter": "SELECT * FROM event_counter",
    }
    with psycopg.connect(url) as conn:
        return {k: [tuple(r) for r in conn.execute(q).fetchall()] for k, q in queries.items()}


def _version(url: str) -> int:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM baton_schema").fetchall()
    assert len(rows) == 1, rows
    return int(str(rows[0][0]))


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("runs", "tasks", "deps", "events", "idempotency", "event_counter", "baton_schema")
    with psycopg.connect(url) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


def test_a_newer_schema_is_refused_and_left_untouched(pg_url: str) -> None:
    with SyncBoard.open(pg_url) as board:
        board.create_run(plan(task("a"), task("b", deps=("a",))))
    newer = SCHEMA_VERSION + 1
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE baton_schema SET version = %s", (newer,))
    catalog, rows = _catalog(pg_url), _rows(pg_url)

    with SyncBoard.open(pg_url) as board:
        for _ in range(2):
            with pytest.raises(SchemaTooNew) as caught:
                board.list_runs()
            message = str(caught.value)
            assert f"schema version {newer}" in message, message
            assert f"supports up to {SCHEMA_VERSION}" in message, message
            assert _password() not in message, message
    done = _cli("runs", "--db", pg_url)
    assert done.returncode == 1, done
    assert f"schema version {newer}" in done.stderr and "Traceback" not in done.stderr

    assert _catalog(pg_url) == catalog
    assert _rows(pg_url) == rows, "refusing must not change a single row"


# --- the server goes away ---------------------------------------------------------------


#: Blocks every writer's last step (an INSERT into events or, where another writer holds
#: the counter, into pending_events: migrations 0019, 0020), not readers.
HOLD_EVENT_LOG = "LOCK TABLE pending_events, events IN SHARE MODE"


async def _blocked_backend(app: str, timeout_s: float = 20.0) -> int:
    """The pid of the server process serving ``app`` once it waits on a lock."""
    deadline = time.monotonic() + timeout_s
    async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as conn:
        while time.monotonic() < deadline:
            cur = await conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                (app,),
            )
            row = await cur.fetchone()
            if row is not None:
                return int(row[0])
            await asyncio.sleep(0.01)  # polling the server for the state we wait for
    raise TimeoutError(f"{app} never blocked on a lock")


async def _server_goes_away_mid_claim(url: str, how: str) -> None:
    claimer = Board.open(server.with_app(url, "mid-claim"))
    other = Board.open(url)
    try:
        run = await other.create_run(plan(task("a", priority=1), task("b")))
        head = await other.store.last_seq()
        await claimer.store.last_seq()  # open
        # Hold the event log: the claim finds task a, locks and updates it, then
        # waits to write its event — in the middle of its transaction, holding the task.
        holder = await psycopg.AsyncConnection.connect(url)
        await holder.execute(HOLD_EVENT_LOG)
        claiming = asyncio.create_task(claimer.claim("w-gone", ["worker"], run_id=run.id))
        pid = await _blocked_backend("mid-claim")
        if how == "connection_cut":
            async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as adm:
                await adm.execute("SELECT pg_terminate_backend(%s)", (pid,))
        else:
            await asyncio.to_thread(server.restart)
        try:
            landed = await asyncio.wait_for(claiming, 60)
        except StoreUnavailable as exc:
            message = str(exc)
            assert message.startswith("PostgreSQL at postgresql://baton@127.0.0.1:"), message
            assert "is unavailable" in message and _password() not in message, message
            landed = None
        finally:
            with contextlib.suppress(psycopg.Error):
                await holder.rollback()
            await holder.close()
        a = await until_up(lambda: other.get_task(f"{run.id}/a"))
        if landed is not None or a.state is TaskState.RUNNING:
            # Only a restart can let it land: the holder's session may end (releasing the
            # counter) just before the claimer's, whose COMMIT, already sent, then runs
            # before its session is told to stop. The claim then happened exactly once;
            # if the COMMIT's reply went down with the session, the claimer was told
            # StoreUnavailable and the lease nobody holds expires (a known limit,
            # docs/architecture.md).
            assert how == "restart"
            assert (a.state, a.token, a.lease_owner) == (TaskState.RUNNING, 1, "w-gone")
            b = await until_up(lambda: other.claim("w-other", ["worker"], run_id=run.id))
            assert b is not None and (b.task.key, b.token) == ("b", 1)
            assert await claimer.claim("w-gone", ["worker"], run_id=run.id) is None
            events = await other.events(since=head)
            assert [(e.kind, e.task_id, e.actor) for e in events] == [
                ("task.claim", f"{run.id}/a", "w-gone"),
                ("task.claim", f"{run.id}/b", "w-other"),
            ]
            return

        # Nothing was lost: task a is ready as if the claim had never started.
        assert (a.state, a.token, a.attempts, a.lease_owner) == (TaskState.READY, 0, 0, None)
        assert await other.events(since=head) == []
        # ... and nothing is double-claimed: each task goes to exactly one claimer.
        first = await until_up(lambda: other.claim("w-other", ["worker"], run_id=run.id))
        again = await until_up(lambda: claimer.claim("w-gone", ["worker"], run_id=run.id))
        assert first is not None and again is not None
        assert (first.task.key, first.token) == ("a", 1)
        assert (again.task.key, again.token) == ("b", 1)
        assert await claimer.claim("w-gone", ["worker"], run_id=run.id) is None
        events = await other.events(since=head)
        assert [(e.kind, e.task_id, e.actor) for e in events] == [
            ("task.claim", f"{run.id}/a", "w-other"),
            ("task.claim", f"{run.id}/b", "w-gone"),
        ]
        assert [e.seq for e in events] == [head + 1, head + 2]
    finally:
        await claimer.close()
        await other.close()


def test_a_connection_cut_mid_claim_loses_nothing(pg_url: str) -> None:
    asyncio.run(_server_goes_away_mid_claim(pg_url, "connection_cut"))


def test_a_server_restart_mid_claim_loses_nothing(pg_url: str, restartable: None) -> None:
    asyncio.run(_server_goes_away_mid_claim(pg_url, "restart"))


def test_a_board_works_as_soon_as_the_server_is_back(pg_url: str, restartable: None) -> None:
    with SyncBoard.open(pg_url) as board:
        run = board.create_run(plan(task("a")))
        server.restart()  # returns once the server accepts connections again
        assert board.get_run(run.id).state is RunState.ACTIVE


# --- concurrent transactions that must see each other ---------------------------------


@contextlib.asynccontextmanager
async def holding_the_event_log(url: str) -> AsyncIterator[None]:
    """Hold the event log's tables: every write transaction then stops at its last step
    (numbering or staging its events), after all its reads and writes, until this
    ends."""
    async with await psycopg.AsyncConnection.connect(url) as holder:
        await holder.execute(HOLD_EVENT_LOG)
        yield
        await holder.rollback()


def test_the_run_finishes_when_its_last_two_tasks_end_at_once(pg_url: str) -> None:
    async def scenario() -> RunState:
        one = Board.open(server.with_app(pg_url, "finisher-1"))
        two = Board.open(server.with_app(pg_url, "finisher-2"))
        try:
            run = await one.create_run(plan(task("x"), task("y")))
            x = await one.claim("w1", ["worker"])
            y = await two.claim("w2", ["worker"])
            assert x is not None and y is not None
            async with holding_the_event_log(pg_url):
                first = asyncio.create_task(one.submit(x.task.id, x.token, {}, participant="w1"))
                await _blocked_backend("finisher-1")
                second = asyncio.create_task(two.submit(y.task.id, y.token, {}, participant="w2"))
                await _blocked_backend("finisher-2")
            await first
            await second
            assert {t.state for t in await one.tasks(run.id)} == {TaskState.DONE}
            return (await one.get_run(run.id)).state
        finally:
            await one.close()
            await two.close()

    assert asyncio.run(scenario()) is RunState.FINISHED


def test_an_attempts_budget_holds_under_concurrent_claims(pg_url: str) -> None:
    async def scenario() -> tuple[int, int]:
        one = Board.open(server.with_app(pg_url, "budget-1"))
        two = Board.open(server.with_app(pg_url, "budget-2"))
        try:
            run = await one.create_run({**plan(task("a"), task("b")), "budget": {"attempts": 1}})
            async with holding_the_event_log(pg_url):
                first = asyncio.create_task(one.claim("w1", ["worker"]))
                await _blocked_backend("budget-1")
                second = asyncio.create_task(two.claim("w2", ["worker"]))
                await _blocked_backend("budget-2")
            won = [lease for lease in (await first, await second) if lease is not None]
            return len(won), (await one.get_run(run.id)).claims
        finally:
            await one.close()
            await two.close()

    won, claims = asyncio.run(scenario())
    assert (won, claims) == (1, 1), f"{won} claims won on an attempts budget of 1"


def test_a_worker_does_not_blame_its_agent_for_a_lost_connection(pg_url: str) -> None:
    """The worker's pool has two connections (FIFO): while its claim waits at its last
    step on connection B, the idle connection A is cut; the claim commits, and the next
    read — the first one building the agent's context — gets the dead A."""

    async def scenario() -> tuple[int, list[Any]]:
        app = "ctx-worker"
        board = Board(PostgresStore(server.with_app(pg_url, app), min_connections=2))
        ran: list[int] = []

        async def agent(ctx: Any) -> dict[str, Any]:
            ran.append(ctx.lease.token)
            return {"ok": True}

        # No watchdog: its duty claim would also wait on the held log, on connection A,
        # leaving no idle connection to cut.
        worker = Worker(board, {"worker": agent}, name="w", idle_wait_s=0.1, watchdog=False)
        try:
            run = await board.create_run(plan(task("a", backoff_base_s=0.01)))
            async with holding_the_event_log(pg_url):
                working = asyncio.create_task(worker.run(run_id=run.id))
                await _blocked_backend(app)
                async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as adm:
                    cur = await adm.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s AND state = 'idle' "
                        "AND query NOT LIKE 'LISTEN%%'",
                        (app,),
                    )
                    assert len(await cur.fetchall()) == 1
            await asyncio.wait_for(working, 30)
            a = await board.get_task(f"{run.id}/a")
            retries = [e.payload["error"] for e in await board.events(run.id)
                       if e.kind == "task.retry"]  # fmt: skip
            return a.failures, retries
        finally:
            await board.close()

    failures, retries = asyncio.run(scenario())
    assert (failures, retries) == (0, []), retries


# --- LISTEN/NOTIFY ----------------------------------------------------------------------


async def _listeners(app: str) -> set[int]:
    async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND query LIKE 'LISTEN%%'",
            (app,),
        )
        return {int(r[0]) for r in await cur.fetchall()}


async def _terminate(pids: set[int]) -> None:
    async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as conn:
        for pid in pids:
            await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def _subscriber_survives_lost_listen(url: str) -> list[float]:
    # No safety-net polling: only NOTIFY, or the listener's wake-up after it reconnects,
    # can wake this subscriber within the test's timeouts.
    app = "subscriber"
    sub = Board(PostgresStore(server.with_app(url, app), poll_interval_s=300))
    writer = Board.open(url)
    got: list[int] = []
    moved = asyncio.Event()

    async def consume() -> None:
        async for e in sub.subscribe():
            got.append(e.seq)
            moved.set()

    async def caught_up(seq: int, timeout_s: float = 15.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not got or got[-1] < seq:
                moved.clear()
                await moved.wait()

    async def post(n: int, label: str) -> int:
        seq = 0
        for i in range(n):
            ev = await writer.post_message(run.id, "note", {"text": f"{label}.{i}"}, sender="w")
            seq = ev.seq
        return seq

    run = await writer.create_run(plan(task("a")))
    consumer = asyncio.create_task(consume())
    reconnects: list[float] = []
    try:
        await caught_up(await post(5, "before"))
        for round_ in range(3):
            async with asyncio.timeout(15):  # the listener starts with the first wait
                while len(old := await _listeners(app)) != 1:
                    await asyncio.sleep(0.01)
            await _terminate(old)
            cut = time.monotonic()
            # Written while the listener is gone or reconnecting: never notified to it.
            await caught_up(await post(5, f"cut{round_}"))
            async with asyncio.timeout(15):
                while not (new := await _listeners(app)) or new & old:
                    await asyncio.sleep(0.01)  # polling the server for the new listener
            reconnects.append(time.monotonic() - cut)
            # And once it is back, a single commit wakes the subscriber (NOTIFY).
            await caught_up(await post(1, f"after{round_}"), timeout_s=5)
        last = await post(3, "end")
        await caught_up(last)
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    assert got == list(range(1, last + 1)), "missed or doubled an event"

    # Resuming from the last seq seen, on another board, after more commits.
    more = await post(4, "later")
    resumed = Board(PostgresStore(url, poll_interval_s=300))
    try:
        rest = [e.seq async for e in resumed.subscribe(since=got[-1], idle_timeout=1.0)]
    finally:
        await resumed.close()
        await sub.close()
        await writer.close()
    assert rest == list(range(last + 1, more + 1))
    return reconnects


def test_a_subscriber_whose_listen_connection_dies_misses_nothing(pg_url: str) -> None:
    reconnects = asyncio.run(_subscriber_survives_lost_listen(pg_url))
    print(f"\nlisten: reconnected after {', '.join(f'{s * 1e3:.0f} ms' for s in reconnects)}")


async def _last_query(app: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(pg.SERVER, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
        return [str(r[0]) for r in await cur.fetchall()]


def test_a_store_listens_only_while_someone_waits(pg_url: str) -> None:
    """Every commit notifies every listener: a busy worker that never waits must not
    listen, or each process would be woken by every other's commits."""

    async def scenario() -> None:
        app = "on-demand"
        board = Board(PostgresStore(server.with_app(pg_url, app), listen_linger_s=0.2))
        try:
            run = await board.create_run(plan(task("a"), task("b")))
            lease = await board.claim("w", ["worker"], run_id=run.id)
            assert lease is not None
            await board.submit(lease.task.id, lease.token, {"ok": True}, participant="w")
            assert await _listeners(app) == set(), "listening without anyone waiting"

            head = await board.store.last_seq()
            waiter = asyncio.create_task(board.store.wait_for_commit(head, 10.0))
            async with asyncio.timeout(10):
                while not await _listeners(app):
                    await asyncio.sleep(0.01)
            writer = Board.open(pg_url)
            try:
                await writer.post_message(run.id, "note", {"text": "wake up"}, sender="x")
            finally:
                await writer.close()
            assert await asyncio.wait_for(waiter, 5.0) is True

            # No waiter for longer than the linger: the connection stops listening.
            async with asyncio.timeout(10):
                while "UNLISTEN *" not in await _last_query(app):
                    await asyncio.sleep(0.02)
            assert await _listeners(app) == set()
            # ... and listens again for the next waiter, which misses nothing.
            head = await board.store.last_seq()
            again = asyncio.create_task(board.store.wait_for_commit(head, 10.0))
            async with asyncio.timeout(10):
                while not await _listeners(app):
                    await asyncio.sleep(0.01)
            await board.post_message(run.id, "note", {"text": "again"}, sender="x")
            assert await asyncio.wait_for(again, 5.0) is True
        finally:
            await board.close()

    asyncio.run(scenario())


def test_a_database_that_is_not_utf8_keeps_text_exactly(pg_template: bool) -> None:
    """Statements are sent as text in the connection's encoding, not as UTF-8 bytes the
    server would read as LATIN1 (which turned "è" into "Ã¨")."""
    name = f"l_{uuid.uuid4().hex[:16]}"
    with server.admin() as conn:
        conn.execute(
            f"CREATE DATABASE {name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    url = pg.url_for(name)
    words = "Crème brûlée für Ärzte, naïve façade"
    try:
        with SyncBoard.open(url) as board:
            run = board.create_run(
                {"goal": words, "roles": ["worker"], "tasks": [task("a", title=words)]}
            )
            lease = board.claim("w1", ["worker"])
            assert lease is not None
            board.submit(lease.task.id, lease.token, {"note": words}, participant="w1")
            done = board.get_task(lease.task.id)
            assert board.get_run(run.id).goal == words
            assert done.output == {"note": words} and done.title == words
            events = board.events(run_id=run.id)
            assert {"note": words} in [e.payload.get("output") for e in events]
    finally:
        pg.drop_database(url)


def test_creating_a_large_run_refreshes_the_planner_statistics(pg_url: str) -> None:
    """A board created in one go must not be planned as if empty: the claim would sort
    every ready task instead of reading the first one off its index."""
    from baton.store.postgres import ANALYZE_AFTER_TASKS

    n = ANALYZE_AFTER_TASKS + 50
    with SyncBoard.open(pg_url) as board:
        board.create_run(plan(*(task(f"t{i}") for i in range(n))))
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'tasks'").fetchone()
    assert row is not None and row[0] == n, row


def test_the_open_task_probe_reads_the_open_tasks_index_not_the_table(pg_url: str) -> None:
    """Finishing a task with nothing to release asks whether its run has an open task.
    Left to itself the planner answers "LIMIT 1" with a table scan in physical order,
    walking past every finished task first; the probe must use the index of open ones."""
    from baton.store.postgres import ANALYZE_AFTER_TASKS

    n = ANALYZE_AFTER_TASKS + 100
    with SyncBoard.open(pg_url) as board:
        run = board.create_run(plan(*(task(f"t{i}") for i in range(n))))
    with psycopg.connect(pg_url) as conn:
        conn.execute(  # the oldest tasks finished first, as they do
            "UPDATE tasks SET state = 'done', queue_role = NULL WHERE created_seq < "
            "(SELECT MAX(created_seq) FROM tasks)"
        )
        conn.commit()
        for held in (True, False):
            found = conn.execute("SELECT baton_open_task(%s, %s)", (run.id, held)).fetchone()
            scans = conn.execute(
                "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'tasks'"
            ).fetchone()
            conn.rollback()  # a fresh transaction, so the scan counts are this probe's alone
            assert found == (True,)
            assert scans is not None and scans[0] == 0 and scans[1] >= 1, scans
        conn.execute("UPDATE tasks SET state = 'done', queue_role = NULL")
        assert conn.execute("SELECT baton_open_task(%s, TRUE)", (run.id,)).fetchone() == (False,)


# --- seq under concurrent writers -------------------------------------------------------

WRITERS = 8
CALLS_PER_WRITER = 100


def _forkserver(preload: str) -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([preload])
    return ctx


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_seq_is_gap_free_and_in_commit_order_under_concurrent_writers(
    pg_url: str, tmp_path: Path
) -> None:
    with SyncBoard.open(pg_url) as board:
        run = board.create_run(
            plan(*(task(f"t{i:04d}") for i in range(WRITERS * CALLS_PER_WRITER)))
        )
    ctx = _forkserver("tests.pgprocs.seq_writer")
    barrier = ctx.Barrier(WRITERS)
    names = [f"p{i:02d}" for i in range(WRITERS)]
    procs = [
        ctx.Process(
            target=write,
            args=(pg_url, run.id, n, CALLS_PER_WRITER, i, barrier, str(tmp_path / f"{n}.json")),
        )
        for i, n in enumerate(names)
    ]

    # A subscriber tails the log while they write: if a smaller seq ever became visible
    # after a larger one, it would skip it (it resumes from the largest seen) and show a gap.
    tail: list[int] = []

    follow_errors: list[BaseException] = []

    def follow() -> None:
        try:
            with SyncBoard.open(pg_url) as reader:
                for e in reader.subscribe():
                    tail.append(e.seq)
                    if e.actor == "test" and e.payload["body"]["text"] == "the end":
                        return
        except BaseException as exc:  # reported by the test, not as a thread warning
            follow_errors.append(exc)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    run_processes(procs, timeout_s=150)
    with SyncBoard.open(pg_url) as board:
        board.post_message(run.id, "note", {"text": "the end"}, sender="test")
        follower.join(timeout=60)
        assert not follow_errors, follow_errors
        assert not follower.is_alive(), f"the subscriber never saw the last event: {tail[-3:]}"
        events = all_events(board)

    assert_gap_free(events)
    assert tail == [e.seq for e in events], "the tailing subscriber missed or doubled one"
    reports = [json.loads((tmp_path / f"{n}.json").read_text()) for n in names]
    calls = [c for r in reports for c in r["calls"]]
    rolled: Counter[str] = Counter()
    for r in reports:
        rolled.update(r["rolled_back"])
    assert all(rolled[k] > 0 for k in ("lease_lost", "invalid", "flush_raise")), rolled

    # Every committed call's events are in the log exactly once; nothing rolled back is.
    find_seqs(events, calls)
    assert not [e for e in events if e.kind == "test.rolled_back"]
    twins = [c for c in calls if c["op"] == "twin"]
    twin_events = Counter(e.payload["body"]["text"] for e in events if e.actor == "twin")
    assert twin_events == dict.fromkeys({c["text"] for c in twins}, 1)
    by_text: dict[str, set[int]] = {}
    for c in twins:
        by_text.setdefault(c["text"], set()).add(c["seq"])
    assert all(len(s) == 1 for s in by_text.values()), "twins got different events"
    assert {c["by"] for c in twins} == set(TWINS)
    ops = Counter(c["op"] for c in calls)
    assert Counter(e.kind for e in events) == {
        "run.created": 1,
        "task.created": WRITERS * CALLS_PER_WRITER,
        "task.claim": ops["claim"],
        "task.complete": ops["submit"],
        "message.note": ops["note"] + len(twin_events) + 1,  # + "the end"
    }

    # Commit order: a call that returned before another began has all its seqs below.
    ordered = [c for c in calls if c["op"] != "twin"]  # a replayed twin committed nothing
    check_commit_order(ordered)
    print(
        f"\nseq: {len(events)} events from {WRITERS} processes, {len(ordered)} committed "
        f"calls, rolled back {dict(rolled)}, {len(twin_events)} twin keys"
    )


def find_seqs(events: list[Any], calls: list[dict[str, Any]]) -> None:
    """Set each call's ``seqs``: the (first, last) seq of its events, found in the log."""
    index: dict[tuple[str, str, Any], int] = {}
    for e in events:
        if e.kind == "task.claim":
            index[("claim", e.task_id, e.payload["token"])] = e.seq
        elif e.kind == "task.complete":
            index[("submit", e.task_id, e.payload["token"])] = e.seq
        elif e.kind == "message.note":
            index[("note", e.payload["body"]["text"], None)] = e.seq
    for c in calls:
        if c["op"] in ("claim", "submit"):
            seq = index[(c["op"], c["task"], c["token"])]
        else:
            seq = index[("note", c["text"], None)]
            assert seq == c["seq"], "post_message returned another seq than the log holds"
        c["seqs"] = (seq, seq)


def check_commit_order(calls: list[dict[str, Any]]) -> None:
    """For every call B: each call that returned before B began has smaller seqs."""
    by_end = sorted(calls, key=lambda c: c["t1"])
    highest_before = 0  # the largest seq of all calls that returned before t0
    i = 0
    for c in sorted(calls, key=lambda c: c["t0"]):
        while i < len(by_end) and by_end[i]["t1"] < c["t0"]:
            highest_before = max(highest_before, by_end[i]["seqs"][1])
            i += 1
        assert c["seqs"][0] > highest_before, (
            f"{c['by']} {c['op']} began after a call with seq {highest_before} returned, "
            f"yet got seq {c['seqs'][0]}"
        )


# --- the SKIP LOCKED race ---------------------------------------------------------------

RACERS = 16
RACE_TASKS = 2_000


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sixteen_processes_race_for_two_thousand_tasks(pg_url: str, tmp_path: Path) -> None:
    counts, elapsed = race_and_check(
        pg_url,
        processes=RACERS,
        tasks=RACE_TASKS,
        ctx=_forkserver("tests.procs.race_worker"),
        out_dir=tmp_path / "results",
        timeout_s=200,
    )
    print(
        f"\nrace (PostgreSQL): {RACERS} processes, {RACE_TASKS} tasks in {elapsed:.1f}s; "
        f"per process {counts}"
    )


# --- schema -----------------------------------------------------------------------------


def _migration_files() -> list[tuple[int, str]]:
    folder = files("baton.store.postgres").joinpath("sql")
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text()))
    return sorted(found)


def _open_store(url: str) -> None:
    async def go() -> None:
        store = PostgresStore(url)
        try:
            await store.last_seq()
        finally:
            await store.close()

    asyncio.run(go())


def _apply_by_hand(url: str, upto: int) -> None:
    with psycopg.connect(url) as conn:
        for version, sql in _migration_files():
            if version <= upto:
                conn.execute(sql.encode())


def test_postgres_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [v for v, _ in _migration_files()]
    assert versions == list(range(1, len(versions) + 1))
    assert versions[-1] == SCHEMA_VERSION


def test_a_fresh_schema_equals_all_migrations_applied_by_hand(
    empty_db: Callable[[], str],
) -> None:
    fresh, by_hand = empty_db(), empty_db()
    _open_store(fresh)
    _apply_by_hand(by_hand, SCHEMA_VERSION)
    mine, theirs = _catalog(fresh), _catalog(by_hand)
    assert {r[0] for r in mine["relations"] if r[1] == "r"} >= {
        "runs",
        "tasks",
        "deps",
        "events",
        "event_counter",
        "idempotency",
    }
    assert mine == theirs
    assert _version(fresh) == SCHEMA_VERSION


def test_an_old_schema_upgrades_to_the_fresh_one(empty_db: Callable[[], str]) -> None:
    fresh, old = empty_db(), empty_db()
    _open_store(fresh)
    _apply_by_hand(old, 1)
    with psycopg.connect(old) as conn:  # what version 1 of PostgresStore left behind
        conn.execute("CREATE TABLE baton_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO baton_schema (version) VALUES (1)")
        conn.execute(
            "INSERT INTO runs (id, goal, state, roles, labels, created_at) "
            "VALUES ('r1', 'kept', 'active', '[]', '[]', 1.0)"
        )
    _open_store(old)
    assert _version(old) == SCHEMA_VERSION
    assert _catalog(old) == _catalog(fresh)
    with psycopg.connect(old) as conn:
        row = conn.execute("SELECT goal, claims, tokens_used FROM runs").fetchall()
    assert [tuple(r) for r in row] == [("kept", 0, 0)], "data survives the upgrade"


def test_concurrent_first_openers_migrate_once(empty_db: Callable[[], str]) -> None:
    fresh, contested = empty_db(), empty_db()
    _open_store(fresh)
    openers = 6
    gate = threading.Barrier(openers)
    errors: list[BaseException] = []

    def open_at_once() -> None:
        try:
            gate.wait(timeout=30)
            _open_store(contested)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_at_once) for _ in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert _version(contested) == SCHEMA_VERSION
    assert _catalog(contested) == _catalog(fresh)
