"""PostgresStore: the board for teams that outgrow one machine.

Design (see docs/architecture.md, "PostgreSQL specifics"):

* psycopg 3, async, with a connection pool; opened lazily on first use, so that
  ``Board.open(url)`` stays synchronous, and a bad URL or password surfaces as one clear
  :class:`~baton.model.errors.StoreUnavailable` on the first call.
* Round trips are the cost to save: a transaction's ``BEGIN`` and the writes whose answer
  the domain does not read travel with its next statement (see :class:`PgTx`), and every
  query is prepared once per pooled connection and run by ``EXECUTE``.
* Write transactions are ``READ COMMITTED``; every row the domain will change is read
  ``FOR UPDATE`` inside the transaction, and claims and the reaper use
  ``FOR UPDATE SKIP LOCKED``, so two claimers never wait on — or win — the same task.
* Event ``seq`` is gap-free, and a transaction that saw another's commit has its events
  numbered after that one's, without a lock held across any commit (migration 0019): a
  transaction *stages* its events as its last step (:meth:`PgTx.commit`), and the
  *sequencer* run right after every commit numbers and chains the staged events of
  every transaction older than the oldest still running. Readers of the log first run
  it too and wait (briefly) for what committed before they asked (:meth:`_caught_up`),
  so a caller always reads its own events. A result that names its seqs (a message)
  numbers its events before it commits (:meth:`PgTx.flush`), holding the counter row.
* ``NOTIFY baton_events, '<last seq>'`` is sent by whoever numbers events (delivered on
  its commit); one listener connection per store, listening only while someone in the
  process waits, wakes subscribers and idle workers. If it drops, it reconnects with
  backoff and wakes everyone to re-read from their last seq.
* ``NOTIFY baton_work, '<last seq>'`` too, only for events of a transaction that made a
  task claimable or changed a run's state (triggers flag it, migration 0018): idle
  workers wait for that (:meth:`PostgresStore.wait_for_work`), so the claims and
  messages of busy workers do not wake them all.
* Deadlocks and serialisation failures surface as
  :class:`~baton.model.errors.TransientConflict`, which the board retries whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from baton.model import Duty, Event, Run, Task
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import GENESIS, ArchivedEvent, ArchiveRecord, ChainHead, ChainLink
from baton.model.effects import Effect
from baton.model.errors import (
    BatonRuntimeError,
    SchemaTooNew,
    StoreUnavailable,
    TransientConflict,
    UsageError,
)
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.model.turns import LocalTurns
from baton.store import governance_rows as _grows
from baton.store import rows as _rows
from baton.store.postgres.prepared import PREPARED as _PREPARED
from baton.store.postgres.prepared import Row
from baton.store.postgres.turns import ServerTurns
from baton.store.postgres.tx import _GUARD_FAILED, PgTx
from baton.store.postgres.wakeups import Wakeups
from baton.store.sql_files import load_migrations

_MIGRATIONS = load_migrations("postgres")
SCHEMA_VERSION = _MIGRATIONS[-1][0]
_MIGRATION_LOCK = 7_243_001  # pg_advisory_xact_lock key: one migrator at a time
#: Aborted by the server, nothing committed: the board retries the write whole. The
#: idle timeout is :data:`~baton.store.postgres.tx.FLUSH_HOLD_LIMIT`'s (a client frozen
#: while it held the event counter); the retry gets another pooled connection.
_TRANSIENT = (
    pg_errors.DeadlockDetected,
    pg_errors.SerializationFailure,
    pg_errors.IdleInTransactionSessionTimeout,
)

#: A transaction that inserts this many tasks refreshes the planner's statistics after
#: its commit. Without it a board created in one go is planned as if it were still
#: empty, and the claim query sorts every ready task instead of reading the first one
#: off its index (measured: 5 ms instead of 0.14 ms per claim on a new 20,000-task run).
ANALYZE_AFTER_TASKS = 200


def describe(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable PostgreSQL URL>"
    user, host = info.get("user", ""), info.get("host", "localhost")
    return f"postgresql://{user}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if url in first or ("password" in first.lower() and "authentication" not in first.lower()):
        first = f"{type(exc).__name__} (details withheld: they quote the URL)"
    return StoreUnavailable(f"PostgreSQL at {describe(url)} is unavailable: {first}")


async def _chain_old_events(conn: psycopg.AsyncConnection[Row]) -> None:
    """Once, for a store upgraded from before the audit chain: hash its events (inside
    the migration's transaction, under its lock)."""
    cur = await conn.execute("SELECT last, head FROM event_counter WHERE id = 1 FOR UPDATE")
    row = await cur.fetchone()
    if row is None or row[1] is not None or int(row[0]) == 0:
        return
    cur = await conn.execute(
        "SELECT seq, run_id, task_id, kind, actor, payload, at FROM events ORDER BY seq"
    )
    hashes, head = _grows.chain_unchained(await cur.fetchall())
    async with conn.cursor() as update:
        await update.executemany("UPDATE events SET hash = %s WHERE seq = %s", hashes)
    await conn.execute("UPDATE event_counter SET head = %s WHERE id = 1", (head.hash,))


def _has_input(conn: psycopg.AsyncConnection[Row]) -> bool:
    """Whether an idle connection's socket is readable (or unusable), without blocking."""
    try:
        poller = select.poll()  # not select.select: file descriptors above 1023 are fine
        poller.register(conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


class PostgresStore:
    """The :class:`~baton.store.Store` on a PostgreSQL database. See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout_s: float = 5.0,
        poll_interval_s: float = 1.0,
        idle_check_s: float = 1.0,
        listen_linger_s: float = 2.0,
        catch_up_timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.min_connections = min_connections
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self.idle_check_s = idle_check_s
        self._last_used: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Row], float] = (
            weakref.WeakKeyDictionary()
        )
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] | None = None
        self._opening: asyncio.Lock | None = None
        self.catch_up_timeout_s = catch_up_timeout_s
        self._closed = False
        self._local_turns = LocalTurns()
        self._server_turns = ServerTurns(url, connect_timeout_s=connect_timeout_s)
        #: Who waits for commits is woken by one LISTEN connection (wakeups.py).
        self.wakeups = Wakeups(
            url,
            connect_timeout_s=connect_timeout_s,
            poll_interval_s=poll_interval_s,
            listen_linger_s=listen_linger_s,
            last_seq=self.last_seq,
        )

    # --- opening ---------------------------------------------------------------------

    async def _ready(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Row]]:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                await self._migrate()
                pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
                    self.url,
                    min_size=self.min_connections,
                    max_size=self.max_connections,
                    open=False,
                    check=self._check,  # drop dead connections
                    configure=self._configure,
                    timeout=self.connect_timeout_s * 6,
                    kwargs={"connect_timeout": int(self.connect_timeout_s)},
                )
                try:
                    await pool.open(wait=True, timeout=self.connect_timeout_s * 2)
                except Exception as exc:
                    await pool.close()
                    raise _unavailable(self.url, exc) from exc
                self._pool = pool
        return self._pool

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Row]) -> None:
        """A new pooled connection: autocommit (a transaction's ``BEGIN`` travels with
        its first statement, and a read outside one is a single round trip) and every
        named query prepared once."""
        await conn.set_autocommit(True)
        # psycopg's own automatic preparation would answer any ROLLBACK with
        # DEALLOCATE ALL, dropping ours too; ours cover every query anyway.
        conn.prepare_threshold = None
        await conn.execute(";\n".join(_PREPARED.prepare))

    async def _check(self, conn: psycopg.AsyncConnection[Row]) -> None:
        """Ping a pooled connection before use only when it sat idle for a while, or
        when its socket has something to say (an idle connection is never sent
        anything but the server's goodbye: a restart or a terminated backend). A ping
        per transaction would be a round trip per transaction."""
        idle = time.monotonic() - self._last_used.get(conn, 0.0) > self.idle_check_s
        if idle or _has_input(conn):
            await AsyncConnectionPool.check_connection(conn)

    async def _connect(self, *, autocommit: bool = False) -> psycopg.AsyncConnection[Row]:
        try:
            return await psycopg.AsyncConnection.connect(
                self.url, autocommit=autocommit, connect_timeout=int(self.connect_timeout_s)
            )
        except psycopg.Error as exc:
            raise _unavailable(self.url, exc) from exc

    async def _migrate(self) -> None:
        """Apply newer numbered migrations under an advisory lock; refuse a newer schema
        before changing anything."""
        conn = await self._connect()
        try:
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS baton_schema (version INTEGER NOT NULL)"
                )
                cur = await conn.execute("SELECT version FROM baton_schema")
                row = await cur.fetchone()
                found = 0 if row is None else int(row[0])
                if found > SCHEMA_VERSION:
                    raise SchemaTooNew(describe(self.url), found, SCHEMA_VERSION)
                if row is None:
                    await conn.execute("INSERT INTO baton_schema (version) VALUES (0)")
                for version, sql in _MIGRATIONS:
                    if version > found:
                        await conn.execute(sql)
                        await conn.execute("UPDATE baton_schema SET version = %s", (version,))
                await _chain_old_events(conn)
        except psycopg.Error as exc:
            raise _unavailable(self.url, exc) from exc
        finally:
            await conn.close()

    # --- writing ---------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        pool = await self._ready()
        try:
            async with pool.connection() as conn:
                tx = PgTx(conn)
                try:
                    yield tx
                    await tx.commit()
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        await tx.rollback()
                    raise
                if tx.inserted_tasks >= ANALYZE_AFTER_TASKS:
                    await conn.execute(b"ANALYZE tasks, deps")
                self._last_used[conn] = time.monotonic()
        except _TRANSIENT as exc:
            raise TransientConflict(f"transaction aborted by PostgreSQL: {exc}") from exc
        except pg_errors.UniqueViolation as exc:
            if exc.diag.table_name in ("idempotency", "participants"):  # a concurrent twin won
                raise TransientConflict(f"idempotency key taken concurrently: {exc}") from exc
            raise
        except pg_errors.RaiseException as exc:
            message = exc.diag.message_primary or ""
            if message.startswith(_GUARD_FAILED):
                raise BatonRuntimeError(message.removeprefix(_GUARD_FAILED)) from exc
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise _unavailable(self.url, exc) from exc
        except TimeoutError as exc:  # the pool had no connection to give
            raise _unavailable(self.url, exc) from exc

    # --- reading ---------------------------------------------------------------------

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[psycopg.AsyncConnection[Row]]:
        """A pooled connection for reads, its use noted; a lost server is
        :class:`StoreUnavailable`."""
        pool = await self._ready()
        try:
            async with pool.connection() as conn:
                yield conn
                self._last_used[conn] = time.monotonic()
        except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
            raise _unavailable(self.url, exc) from exc

    async def _read(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._reading() as conn:
            statement = _PREPARED.execute(psycopg.AsyncClientCursor(conn), query, params)
            cur = await conn.execute(statement)
            return await cur.fetchall()

    async def _caught_up(self) -> None:
        """Number every event committed before this call, so that a reader of the log
        sees its own writes and everything else that committed before it asked.

        Usually one cheap round trip (the sequencer finds nothing, or numbers what the
        writers' own sequencer runs had to leave). Staged events can only wait for an
        older transaction still running (migration 0019), which for a board's
        transactions is a matter of milliseconds: wait for it with a short backoff, at
        most ``catch_up_timeout_s`` (a session left idle in a transaction would hold
        every reader back; past the bound they read what is numbered)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.catch_up_timeout_s
        target: int | None = None
        delay = 0.0005
        while True:
            rows = await self._read("catch_up", (target,))
            target = None if not rows or rows[0][0] is None else int(rows[0][0])
            if target is None or loop.time() >= deadline:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _read_log(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        """:meth:`_read` of the event log (or the chain), caught up first."""
        return (await self._read_logs([(query, params)]))[0]

    async def _read_logs(self, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Several reads, the event log caught up first: in the same round trip as the
        reads when nothing is held back (the usual case), else by :meth:`_caught_up` and
        the reads again. The catch-up is a transaction of its own (``BEGIN``/``COMMIT``
        in the same simple query), so the sequencer's locks are not held through them."""
        async with self._reading() as conn:
            binder = psycopg.AsyncClientCursor(conn)
            catch_up = _PREPARED.execute(binder, "catch_up", (None,))
            sent = ";\n".join(_PREPARED.execute(binder, q, p) for q, p in reads)
            cur = conn.cursor()
            await cur.execute(f"BEGIN;\n{catch_up};\nCOMMIT;\n{sent}")
            cur.nextset()  # past the BEGIN
            held_back = await cur.fetchone()
            cur.nextset()  # the COMMIT
            results = []
            for _ in reads:
                cur.nextset()
                results.append(await cur.fetchall())
        if held_back is None or held_back[0] is None:
            return results
        await self._caught_up()
        return [await self._read(q, p) for q, p in reads]

    async def get_run(self, run_id: str) -> Run | None:
        rows = await self._read("get_run", (run_id,))
        return _rows.run_from_row(rows[0]) if rows else None

    async def list_runs(self) -> list[Run]:
        return [_rows.run_from_row(r) for r in await self._read("list_runs")]

    async def get_task(self, task_id: str) -> Task | None:
        rows = await self._read("get_task", (task_id,))
        return _rows.task_from_row(rows[0]) if rows else None

    async def list_tasks(self, run_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in await self._read("list_tasks", (run_id,))]

    async def watched_tasks(self, run_id: str, review_rounds_at_least: int) -> list[Task]:
        if review_rounds_at_least > 0:
            rows = await self._read("watched_tasks", (run_id, review_rounds_at_least))
        else:
            rows = await self._read("watched_tasks_all_open", (run_id,))
        return [_rows.task_from_row(r) for r in rows]

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        return {r: int(n) for r, n in await self._read("ready_by_role", (run_id,))}

    async def count_by_state(self, run_id: str) -> dict[str, int]:
        return {s: int(n) for s, n in await self._read("count_by_state", (run_id,))}

    async def read_events(self, *, since: int, run_id: str | None, limit: int) -> list[Event]:
        if run_id is None:
            rows = await self._read_log("read_events", (since, limit))
        else:
            rows = await self._read_log("read_run_events", (run_id, since, limit))
        return [_rows.event_from_row(r) for r in rows]

    async def latest_events(self, run_id: str, kind_prefix: str, limit: int) -> list[Event]:
        rows = await self._read_log(*_latest_events_read(run_id, kind_prefix, limit))
        return [_rows.event_from_row(r) for r in reversed(rows)]

    async def read_briefing(
        self, run_id: str, kind_prefix: str, limit: int, task_ids: Sequence[str]
    ) -> tuple[Run | None, list[Event], list[Task]]:
        reads = [("get_run", (run_id,)), _latest_events_read(run_id, kind_prefix, limit)]
        if task_ids:
            reads.append(("tasks_by_id", (list(task_ids),)))
        runs, rows, *tasks = await self._read_logs(reads)
        run = _rows.run_from_row(runs[0]) if runs else None
        found = [_rows.task_from_row(r) for r in tasks[0]] if tasks else []
        return run, [_rows.event_from_row(r) for r in reversed(rows)], found

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        rows = await self._read_log("last_progress", (run_id,))
        if not rows or rows[0][0] is None:
            return None
        return int(rows[0][0]), float(rows[0][1])

    async def archive_rows(self, run_id: str, after: int, limit: int) -> list[ArchivedEvent]:
        rows = await self._read_log("archive_rows", (run_id, after, limit))
        return [_grows.archived_event_from_row(r) for r in rows]

    async def archived_links(self, run_id: str) -> dict[int, tuple[bytes, bytes]]:
        rows = await self._read("archived_links", (run_id,))
        return {int(s): (bytes(d), bytes(h)) for s, d, h in rows}

    async def get_archive(self, run_id: str) -> ArchiveRecord | None:
        rows = await self._read("get_archive", (run_id,))
        return _grows.archive_from_row(rows[0]) if rows else None

    async def all_keys(self) -> list[ParticipantKey]:
        return [_grows.key_from_row(r) for r in await self._read("all_keys")]

    async def signatures_between(self, after: int, up_to: int) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self._read_log("signatures_between", (after, up_to))]

    async def current_policy(self) -> PolicyRecord | None:
        rows = await self._read("current_policy")
        return _grows.policy_from_row(rows[0]) if rows else None

    async def list_effects(self, task_id: str) -> list[Effect]:
        return [_grows.effect_from_row(r) for r in await self._read("list_effects", (task_id,))]

    async def chain_head(self) -> ChainHead:
        rows = await self._read_log("read_chain_head")
        if not rows or rows[0][1] is None:
            return ChainHead(0, GENESIS)
        return ChainHead(int(rows[0][0]), bytes(rows[0][1]))

    async def chain_links(self, after: int, up_to: int, limit: int) -> list[ChainLink]:
        rows = await self._read_log("chain_links", (after, up_to, after, up_to, limit))
        return [_grows.chain_link_from_row(r) for r in rows]

    async def link_hash(self, seq: int) -> bytes | None:
        rows = await self._read_log("link_hash", (seq, seq))
        return None if not rows or rows[0][0] is None else bytes(rows[0][0])

    async def run_span(self, run_id: str) -> tuple[int, int] | None:
        rows = await self._read_log("run_span", (run_id,) * 4)
        return None if not rows or rows[0][0] is None else (int(rows[0][0]), int(rows[0][1]))

    async def get_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        rows = await self._read("get_participant", (participant_id,))
        return _rows.participant_from_row(rows[0]) if rows else None

    async def participant_by_token(self, token_hash: str) -> tuple[Participant, str] | None:
        rows = await self._read("participant_by_token", (token_hash,))
        return _rows.participant_from_row(rows[0]) if rows else None

    async def list_participants(self) -> list[Participant]:
        return [_rows.participant_from_row(r)[0] for r in await self._read("list_participants")]

    async def get_duty(self, name: str) -> Duty | None:
        rows = await self._read("read_duty", (name,))
        if not rows:
            return None
        holder, token, expires_at = rows[0]
        return Duty(name=name, holder=holder, token=token, expires_at=expires_at)

    async def last_seq(self) -> int:
        rows = await self._read_log("last_seq")
        return int(rows[0][0]) if rows else 0

    async def get_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None:
        rows = await self._read("get_artifact", (run_id, _rows.scope_key(scope), name))
        return _rows.artifact_from_row(rows[0]) if rows else None

    async def list_artifacts(self, run_id: str) -> list[Artifact]:
        return [_rows.artifact_from_row(r) for r in await self._read("list_artifacts", (run_id,))]

    async def list_versions(
        self, run_id: str, scope: str | None, name: str
    ) -> list[ArtifactVersion]:
        rows = await self._read("list_versions", (run_id, _rows.scope_key(scope), name))
        return [_rows.version_from_row(r) for r in rows]

    async def read_version(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        rows = await self._read("version_content", (run_id, _rows.scope_key(scope), name, version))
        return (_rows.version_from_row(rows[0][:-1]), rows[0][-1]) if rows else None

    async def list_reservations(self, now: float) -> list[Reservation]:
        return [
            _rows.reservation_from_row(r) for r in await self._read("live_reservations", (now,))
        ]

    async def wait_for_commit(self, after_seq: int, timeout: float) -> bool:
        await self._ready()
        return await self.wakeups.wait_for_commit(after_seq, timeout)

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        await self._ready()
        return await self.wakeups.wait_for_work(after_seq, timeout)

    @asynccontextmanager
    async def idle_turn(self, key: str, timeout: float) -> AsyncIterator[bool]:
        """This process's turn first, so that one session per process waits on the
        server's lock, then every process's."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._local_turns.take(key, timeout) as mine:
            if not mine:
                yield False
                return
            async with self._server_turns.take(key, deadline - loop.time()) as ours:
                yield ours

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        tables = (
            "runs",
            "tasks",
            "deps",
            "events",
            "idempotency",
            "event_counter",
            "duties",
            "participants",
            "blobs",
            "artifacts",
            "artifact_versions",
            "reservations",
            "archived_events",
            "archives",
            "effects",
            "policies",
            "run_policies",
            "participant_keys",
            "event_signatures",
        )
        pool = await self._ready()
        await self._caught_up()
        out = {}
        async with pool.connection() as conn:
            for t in tables:
                cur = await conn.execute(f"SELECT * FROM {t}")
                out[t] = _rows.snapshot_rows(await cur.fetchall())
        return out

    async def backup(self, destination: str) -> int:
        """Not done from here: PostgreSQL has its own tools for consistent copies."""
        raise UsageError(
            f"back up PostgreSQL with its own tools, e.g. `pg_dump --format=custom "
            f"--file {destination} {describe(self.url)}` (and pg_restore to restore); "
            "see docs/backup.md"
        )

    async def close(self) -> None:
        self._closed = True
        await self._server_turns.close()
        await self.wakeups.close()
        if self._pool is not None:
            await self._pool.close()


def _latest_events_read(run_id: str, kind_prefix: str, limit: int) -> tuple[str, tuple[Any, ...]]:
    """The query and arguments of the run's latest events of a family."""
    indexed = _rows.INDEXED_FAMILIES.get(kind_prefix)
    if indexed is not None:
        return indexed, (run_id, limit)
    return "latest_run_events_like", (run_id, f"{kind_prefix}%", limit)
