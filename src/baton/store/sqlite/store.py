"""SqliteStore: the embedded default. One file, many processes, no server.

Design (see docs/architecture.md):

* WAL journal, so readers never block the writer and vice versa.
* Every write transaction is ``BEGIN IMMEDIATE``: it takes the database's single write
  lock up front, so every transaction is serialisable and read-then-write inside it is
  safe across processes. Event ``seq`` is the rowid, assigned in commit order and
  gap-free because a rolled-back insert frees its number.
* Two connections per store: one writer (guarded by an ``asyncio.Lock`` in-process) and
  one reader that only ever sees committed data.
* SQLite calls run inline on the event loop: each takes microseconds, and a thread hop
  per call would cost more than the call. The loop blocks only while another *process*
  holds the write lock (bounded by ``busy_timeout``).
* The WAL is checkpointed every ``WAL_AUTOCHECKPOINT_PAGES`` pages instead of SQLite's
  default 1,000. A task lifecycle writes about 16 WAL pages (the row, its claim, state and
  lease indexes, the events), so the default meant a checkpoint (two fsyncs at
  ``synchronous=NORMAL`` and a write-back of every page touched) every ~60 lifecycles,
  and on the benchmark machine that was a third of a single worker's time. At 10,000
  pages the WAL file may grow to ~40 MB; a crash replays at most that much on open.
* In-process subscribers are woken by the commit itself; other processes' commits are
  noticed by a cheap ``MAX(seq)`` probe every ``poll_interval`` seconds while waiting
  (SQLite has no cross-process notification).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from baton.model import Duty, Event, Run, Task
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import GENESIS, ArchivedEvent, ArchiveRecord, ChainHead, ChainLink
from baton.model.effects import Effect
from baton.model.errors import (
    InvalidArgument,
    SchemaTooNew,
    StoreNotFound,
    StoreUnavailable,
)
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.model.turns import LocalTurns
from baton.store import governance_rows as _grows
from baton.store import rows as _rows
from baton.store.sql_files import load_migrations
from baton.store.sqlite.tx import QUERIES as _Q
from baton.store.sqlite.tx import SqliteTx

Durability = Literal["normal", "full"]

WAL_AUTOCHECKPOINT_PAGES = 10_000

_MIGRATIONS = load_migrations("sqlite")
SCHEMA_VERSION = _MIGRATIONS[-1][0]


def _connect(path: str, durability: Durability, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    return conn


class _Transaction(AbstractAsyncContextManager[SqliteTx]):
    """``async with store.transaction() as tx``: the in-process lock, ``BEGIN IMMEDIATE``,
    then ``COMMIT``, or ``ROLLBACK`` on any exception (which propagates).

    A plain class rather than ``@asynccontextmanager``: every claim and every submit
    enters one while other processes wait for the write lock, and the generator-based
    manager cost three times as much as the in-process lock it wraps.
    """

    __slots__ = ("_store", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def __aenter__(self) -> SqliteTx:
        store = self._store
        await store._lock.acquire()
        try:
            store._w.execute("BEGIN IMMEDIATE")
        except BaseException:
            store._lock.release()
            raise
        self._tx = SqliteTx(store._w)
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        try:
            if exc_type is None:
                self._tx.seal()
                store._w.execute("COMMIT")
            elif store._w.in_transaction:  # SQLite may have rolled back already (disk full)
                store._w.execute("ROLLBACK")
        except sqlite3.Error as failed:  # disk full at COMMIT, a page found corrupt
            if store._w.in_transaction:
                with suppress(sqlite3.Error):
                    store._w.execute("ROLLBACK")
            raise _unavailable(store.path, failed) from failed
        finally:
            store._lock.release()
        if isinstance(exc, sqlite3.Error):  # raised inside the transaction, rolled back
            raise _unavailable(store.path, exc) from exc
        if exc_type is None and self._tx.wrote_events:
            store._committed.set()
            store._committed = asyncio.Event()


def _unavailable(path: str, exc: sqlite3.Error) -> StoreUnavailable:
    """A driver error as one line a person can act on; nothing of the call was kept."""
    text = str(exc)
    hint = {
        "database or disk is full": "free disk space and retry",
        "database disk image is malformed": "restore it from a backup (`baton backup`)",
        "file is not a database": "it is not a Baton store",
    }.get(text, "")
    return StoreUnavailable(
        f"SQLite store {path} failed: {text}"
        + (f"; {hint}" if hint else "")
        + " (nothing of this call was written)"
    )


#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def _check_path(path: str, *, create: bool) -> bool:
    """Whether opening ``path`` creates a new store; refuse what is not a store.

    A missing file (or an empty one) is a new store only when ``create`` is asked for:
    every other use refuses it, naming the path, so that a typo never leaves an empty
    board behind. A file that exists and is not an SQLite database is never touched.
    """
    if path in ("", ":memory:") or path.startswith("file:"):
        raise InvalidArgument(
            f"SQLite store {path!r} is not supported: an in-memory database is private to "
            "one connection, and URIs are not accepted; give a file path"
        )
    p = Path(path)
    if p.is_dir():
        raise InvalidArgument(f"store path {path} is a directory; give a file path")
    size = p.stat().st_size if p.exists() else None
    if size is None or size == 0:
        if not create:
            raise StoreNotFound(path, "no Baton store" if size is None else "an empty file")
        return True
    with p.open("rb") as f:
        header = f.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise StoreUnavailable(
            f"{path} is not a Baton store (not an SQLite database); refusing to touch it"
        )
    return False


class SqliteStore:
    """The :class:`~baton.store.Store` on one SQLite file. See the module docstring.

    ``create`` (the default, for the embedded API) makes a missing file a new store;
    ``create=False`` refuses a missing or empty file with :class:`StoreNotFound`."""

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "normal",
        busy_timeout_s: float = 30.0,
        poll_interval_s: float = 0.05,
        create: bool = True,
    ) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self.durability = durability
        self.poll_interval_s = poll_interval_s
        self.created = _check_path(self.path, create=create)
        if self.created:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._refuse_newer_schema()
            self._w = _connect(self.path, durability, busy_timeout_s)
            self._migrate()
            self._r = _connect(self.path, durability, busy_timeout_s)
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._lock = asyncio.Lock()
        self._committed = asyncio.Event()
        self._turns = LocalTurns()

    def _refuse_newer_schema(self) -> None:
        """Check the version before touching anything: a refused file keeps its journal
        mode and every byte (``_connect`` would switch it to WAL)."""
        if self.path == ":memory:" or not Path(self.path).exists():
            return
        probe = sqlite3.connect(self.path)
        try:
            found = probe.execute("PRAGMA user_version").fetchone()[0]
        finally:
            probe.close()
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(self.path, found, SCHEMA_VERSION)

    def _migrate(self) -> None:
        """Apply every newer numbered migration, each in its own write transaction."""
        found = self._w.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            self._w.close()
            raise SchemaTooNew(self.path, found, SCHEMA_VERSION)
        for version, sql in _MIGRATIONS:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                current = self._w.execute("PRAGMA user_version").fetchone()[0]
                if current < version:
                    for statement in sql.split(";\n"):
                        if statement.strip():
                            self._w.execute(statement)
                    self._w.execute(f"PRAGMA user_version = {version}")
                self._w.execute("COMMIT")
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
        self._chain_old_events()

    def _chain_old_events(self) -> None:
        """Once, for a store upgraded from before the audit chain: hash its events."""
        if self._w.execute(_Q["chain_head"]).fetchone() is not None:
            return
        self._w.execute("BEGIN IMMEDIATE")
        try:
            rows = self._w.execute(_Q["unchained_events"]).fetchall()
            if rows:
                hashes, head = _grows.chain_unchained(rows)
                self._w.executemany(_Q["set_event_hash"], hashes)
                self._w.execute(_Q["put_chain_head"], (head.seq, head.hash))
            self._w.execute("COMMIT")
        except BaseException:
            self._w.execute("ROLLBACK")
            raise

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of a read on the reader connection; a driver error (a page found
        corrupt while reading, say) is StoreUnavailable."""
        try:
            return self._r.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise _unavailable(self.path, exc) from exc

    def _read_one(self, query: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read(query, params)
        return rows[0] if rows else None

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    async def get_run(self, run_id: str) -> Run | None:
        row = self._read_one(_Q["get_run"], (run_id,))
        return None if row is None else _rows.run_from_row(row)

    async def list_runs(self) -> list[Run]:
        return [_rows.run_from_row(r) for r in self._read(_Q["list_runs"])]

    async def get_task(self, task_id: str) -> Task | None:
        row = self._read_one(_Q["get_task"], (task_id,))
        return None if row is None else _rows.task_from_row(row)

    async def list_tasks(self, run_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in self._read(_Q["list_tasks"], (run_id,))]

    async def watched_tasks(self, run_id: str, review_rounds_at_least: int) -> list[Task]:
        if review_rounds_at_least > 0:
            rows = self._read(_Q["watched_tasks"], (run_id, review_rounds_at_least))
        else:
            rows = self._read(_Q["watched_tasks_all_open"], (run_id,))
        return [_rows.task_from_row(r) for r in rows]

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        return {r: n for r, n in self._read(_Q["ready_by_role"], (run_id,))}

    async def count_by_state(self, run_id: str) -> dict[str, int]:
        return {s: n for s, n in self._read(_Q["count_by_state"], (run_id,))}

    async def read_events(self, *, since: int, run_id: str | None, limit: int) -> list[Event]:
        if run_id is None:
            rows = self._read(_Q["read_events"], (since, limit))
        else:
            rows = self._read(_Q["read_run_events"], (run_id, since, limit))
        return [_rows.event_from_row(r) for r in rows]

    async def latest_events(self, run_id: str, kind_prefix: str, limit: int) -> list[Event]:
        indexed = _rows.INDEXED_FAMILIES.get(kind_prefix)
        if indexed is not None:
            rows = self._read(_Q[indexed], (run_id, limit))
        else:
            rows = self._read(_Q["latest_run_events_like"], (run_id, f"{kind_prefix}%", limit))
        return [_rows.event_from_row(r) for r in reversed(rows)]

    async def read_briefing(
        self, run_id: str, kind_prefix: str, limit: int, task_ids: Sequence[str]
    ) -> tuple[Run | None, list[Event], list[Task]]:
        tasks = [t for t in [await self.get_task(i) for i in task_ids] if t is not None]
        return (
            await self.get_run(run_id),
            await self.latest_events(run_id, kind_prefix, limit),
            tasks,
        )

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        row = self._read_one(_Q["last_progress"], (run_id,))
        return None if row is None or row[0] is None else (int(row[0]), float(row[1]))

    async def last_seq(self) -> int:
        return int(self._read_one(_Q["last_seq"])[0])

    async def archive_rows(self, run_id: str, after: int, limit: int) -> list[ArchivedEvent]:
        rows = self._read(_Q["archive_rows"], (run_id, after, limit))
        return [_grows.archived_event_from_row(r) for r in rows]

    async def archived_links(self, run_id: str) -> dict[int, tuple[bytes, bytes]]:
        rows = self._read(_Q["archived_links"], (run_id,))
        return {int(s): (bytes(d), bytes(h)) for s, d, h in rows}

    async def get_archive(self, run_id: str) -> ArchiveRecord | None:
        row = self._read_one(_Q["get_archive"], (run_id,))
        return None if row is None else _grows.archive_from_row(row)

    async def all_keys(self) -> list[ParticipantKey]:
        return [_grows.key_from_row(r) for r in self._read(_Q["all_keys"])]

    async def signatures_between(self, after: int, up_to: int) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._read(_Q["signatures_between"], (after, up_to))]

    async def current_policy(self) -> PolicyRecord | None:
        row = self._read_one(_Q["current_policy"])
        return None if row is None else _grows.policy_from_row(row)

    async def list_effects(self, task_id: str) -> list[Effect]:
        return [_grows.effect_from_row(r) for r in self._read(_Q["list_effects"], (task_id,))]

    async def chain_head(self) -> ChainHead:
        row = self._read_one(_Q["chain_head"])
        return ChainHead(0, GENESIS) if row is None else ChainHead(int(row[0]), bytes(row[1]))

    async def chain_links(self, after: int, up_to: int, limit: int) -> list[ChainLink]:
        rows = self._read(_Q["chain_links"], (after, up_to, after, up_to, limit))
        return [_grows.chain_link_from_row(r) for r in rows]

    async def link_hash(self, seq: int) -> bytes | None:
        row = self._read_one(_Q["link_hash"], (seq, seq))
        return None if row is None or row[0] is None else bytes(row[0])

    async def run_span(self, run_id: str) -> tuple[int, int] | None:
        row = self._read_one(_Q["run_span"], (run_id,) * 4)
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    async def get_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        row = self._read_one(_Q["get_participant"], (participant_id,))
        return None if row is None else _rows.participant_from_row(row)

    async def participant_by_token(self, token_hash: str) -> tuple[Participant, str] | None:
        row = self._read_one(_Q["participant_by_token"], (token_hash,))
        return None if row is None else _rows.participant_from_row(row)

    async def list_participants(self) -> list[Participant]:
        return [_rows.participant_from_row(r)[0] for r in self._read(_Q["list_participants"])]

    async def get_duty(self, name: str) -> Duty | None:
        row = self._read_one(_Q["read_duty"], (name,))
        return (
            None if row is None else Duty(name=name, holder=row[0], token=row[1], expires_at=row[2])
        )

    async def get_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None:
        row = self._read_one(_Q["get_artifact"], (run_id, _rows.scope_key(scope), name))
        return None if row is None else _rows.artifact_from_row(row)

    async def list_artifacts(self, run_id: str) -> list[Artifact]:
        return [_rows.artifact_from_row(r) for r in self._read(_Q["list_artifacts"], (run_id,))]

    async def list_versions(
        self, run_id: str, scope: str | None, name: str
    ) -> list[ArtifactVersion]:
        rows = self._read(_Q["list_versions"], (run_id, _rows.scope_key(scope), name))
        return [_rows.version_from_row(r) for r in rows]

    async def read_version(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        row = self._read_one(_Q["version_content"], (run_id, _rows.scope_key(scope), name, version))
        return None if row is None else (_rows.version_from_row(row[:-1]), row[-1])

    async def list_reservations(self, now: float) -> list[Reservation]:
        return [_rows.reservation_from_row(r) for r in self._read(_Q["live_reservations"], (now,))]

    async def wait_for_commit(self, after_seq: int, timeout: float) -> bool:
        return await self.wait_for_work(after_seq, timeout) is not None

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        # One machine: waking every in-process waiter on a commit costs no round trip.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._committed  # taken before the check: no lost wake-up
            if (last := await self.last_seq()) > after_seq:
                return last
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), min(remaining, self.poll_interval_s))

    def idle_turn(self, key: str, timeout: float) -> AbstractAsyncContextManager[bool]:
        # This process's workers only: other processes on the file wake as before.
        return self._turns.take(key, timeout)

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        tables = (
            "runs",
            "tasks",
            "deps",
            "events",
            "idempotency",
            "duties",
            "participants",
            "blobs",
            "artifacts",
            "artifact_versions",
            "reservations",
            "event_chain",
            "archived_events",
            "archives",
            "effects",
            "policies",
            "run_policies",
            "participant_keys",
            "event_signatures",
        )
        return {t: _rows.snapshot_rows(self._read(f"SELECT * FROM {t}")) for t in tables}

    async def backup(self, destination: str) -> int:
        """A consistent copy of the live store (WAL included) at ``destination``, made
        with SQLite's online backup API while writers go on; returns its size in bytes.
        Refuses to overwrite an existing file."""
        target = Path(destination)
        if target.exists():
            raise InvalidArgument(f"backup target {destination} exists; pick a new file")
        if not target.parent.is_dir():
            raise InvalidArgument(f"backup target's folder {target.parent} does not exist")
        try:
            copy = sqlite3.connect(str(target))
            try:
                self._r.backup(copy, pages=1024)
            finally:
                copy.close()
        except sqlite3.Error as exc:
            target.unlink(missing_ok=True)
            raise _unavailable(self.path, exc) from exc
        return target.stat().st_size

    async def close(self) -> None:
        self._r.close()
        self._w.close()
