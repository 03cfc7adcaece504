"""PostgreSQL: the event log without a hot counter row (migrations 0019, 0020), committed
out of order on purpose.

The writer that finds the counter row free numbers its own events and holds the row
until it commits; every other writer stages its events and locks nothing; the sequencer
numbers the staged events of transactions older than every one still running. What a
subscriber relies on must hold whatever order transactions commit in: resuming after seq
n it sees every later event exactly once, in order, gap-free, the audit chain intact; a
transaction that saw another's commit is numbered after it; and numbering is the same
whenever it is computed (which is why the sequencer may commit asynchronously). Each
test drives transactions by hand on their own connections, so the interleaving is the
one written, not a likely one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import psycopg
import pytest

from baton import Board, TransientConflict
from baton.model.audit import event_digest
from baton.store import rows as _rows
from baton.store.postgres import PostgresStore
from tests.helpers import plan, task

Conn = psycopg.AsyncConnection[tuple[Any, ...]]


def _staged(run_id: str, kind: str, n: int = 1) -> tuple[int, str]:
    """Arguments of ``baton_append_events`` for ``n`` events of ``kind`` in ``run_id``,
    with the digests the audit chain checks."""
    rows = []
    for i in range(n):
        payload = _rows.dumps({"i": i})  # spliced in as written: its digest covers that text
        at = 1_000.0 + i
        digest = event_digest(run_id, None, kind, "tester", at, payload).hex()
        head = json.dumps([run_id, None, kind, "tester", at])[:-1]
        rows.append(f'{head}, {payload}, "{digest}"]')
    return n, f"[{','.join(rows)}]"


async def _stage(conn: Conn, run_id: str, kind: str, n: int = 1) -> None:
    await conn.execute("SELECT baton_append_events(%s, %s::json)", _staged(run_id, kind, n))


async def _sequence(conn: Conn) -> int | None:
    cur = await conn.execute("SELECT baton_sequence_events()")
    row = await cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def _pending(conn: Conn) -> int:
    cur = await conn.execute("SELECT count(*) FROM pending_events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _hold_counter(url: str) -> Conn:
    """A transaction holding the event counter row, as a writer numbering its own events
    does until it commits: every writer meanwhile stages. Commit it to let go."""
    holder = await psycopg.AsyncConnection.connect(url)
    await holder.execute("SELECT 1 FROM event_counter WHERE id = 1 FOR UPDATE")
    return holder


async def _setup(url: str) -> tuple[Board, str, int, Conn, Conn, Conn]:
    board = Board(PostgresStore(url, catch_up_timeout_s=0.2))
    run = await board.create_run(plan(task("a")))
    head = await board.last_seq()
    older = await psycopg.AsyncConnection.connect(url)  # transactions by hand
    younger = await psycopg.AsyncConnection.connect(url)
    plain = await psycopg.AsyncConnection.connect(url, autocommit=True)
    return board, run.id, head, older, younger, plain


def test_a_later_commit_waits_for_an_older_transaction_then_both_in_order(pg_url: str) -> None:
    async def scenario() -> None:
        board, run_id, head, older, younger, plain = await _setup(pg_url)
        try:
            holder = await _hold_counter(pg_url)  # so that both stage
            await _stage(older, run_id, "test.older", 2)  # stages first, commits last
            await _stage(younger, run_id, "test.younger")
            await younger.commit()
            await holder.commit()
            await holder.close()
            assert await _sequence(plain) is None  # held back by the older transaction
            assert await _pending(plain) == 1  # the younger's event, committed, staged

            # A reader does not pass it (nor wait forever: catch_up_timeout_s).
            assert await board.events(since=head) == []
            assert await board.last_seq() == head

            # A subscriber already waiting sees nothing until the older one commits.
            waiting = asyncio.create_task(board.wait_for_change(head, 10))
            await older.commit()
            assert await _sequence(plain) == head + 3
            assert await asyncio.wait_for(waiting, 10) is True

            events = await board.events(since=head)
            assert [(e.seq, e.kind) for e in events] == [
                (head + 1, "test.older"),
                (head + 2, "test.older"),
                (head + 3, "test.younger"),
            ]
            assert await board.events(since=head + 2) == events[2:]  # resume: once each
            assert await _pending(plain) == 0
            report = await board.verify_audit()
            assert report.ok and report.head_seq == head + 3, report
        finally:
            for conn in (older, younger, plain):
                await conn.close()
            await board.close()

    asyncio.run(scenario())


def test_a_rolled_back_older_transaction_leaves_no_gap(pg_url: str) -> None:
    async def scenario() -> None:
        board, run_id, head, older, younger, plain = await _setup(pg_url)
        try:
            holder = await _hold_counter(pg_url)
            await _stage(older, run_id, "test.older", 3)
            await _stage(younger, run_id, "test.younger")
            await younger.commit()
            await holder.commit()
            await holder.close()
            assert await _sequence(plain) is None
            await older.rollback()
            assert await _sequence(plain) == head + 1

            events = await board.events(since=head)
            assert [(e.seq, e.kind) for e in events] == [(head + 1, "test.younger")]
            assert (await board.verify_audit()).ok
        finally:
            for conn in (older, younger, plain):
                await conn.close()
            await board.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("path", ["staged", "numbered in place"])
def test_a_transaction_that_saw_another_commit_is_numbered_after_it(pg_url: str, path: str) -> None:
    """The older transaction (by xid) waits on the younger's row lock and writes after
    its commit: numbering by the transactions' own xids would put it first. Staging in a
    subtransaction of its own gives it an xid from after the wait; numbering in place
    happens after the wait anyway."""

    async def scenario() -> None:
        board, run_id, head, first_xid, second_xid, plain = await _setup(pg_url)
        holder = await _hold_counter(pg_url) if path == "staged" else None
        try:
            await plain.execute("CREATE TABLE contested (id INT PRIMARY KEY)")
            await plain.execute("INSERT INTO contested VALUES (1)")
            cur = await first_xid.execute("SELECT pg_current_xact_id()::text::bigint")
            earlier = await cur.fetchone()
            cur = await second_xid.execute("SELECT pg_current_xact_id()::text::bigint")
            later = await cur.fetchone()
            assert earlier is not None and later is not None and earlier[0] < later[0]

            # The transaction with the later xid takes the row and stages its event.
            await second_xid.execute("SELECT id FROM contested WHERE id = 1 FOR UPDATE")
            await _stage(second_xid, run_id, "test.first-to-commit")

            async def waits_then_writes() -> None:
                await first_xid.execute("SELECT id FROM contested WHERE id = 1 FOR UPDATE")
                await _stage(first_xid, run_id, "test.saw-the-commit")
                await first_xid.commit()

            blocked = asyncio.create_task(waits_then_writes())
            await _until_waiting_on_a_lock(plain)
            await second_xid.commit()
            await asyncio.wait_for(blocked, 10)
            if holder is not None:
                assert await _pending(plain) == 2
                await holder.commit()
            await _sequence(plain)

            events = await board.events(since=head)
            assert [e.kind for e in events] == ["test.first-to-commit", "test.saw-the-commit"]
        finally:
            for conn in (first_xid, second_xid, plain, holder):
                if conn is not None:
                    await conn.close()
            await board.close()

    asyncio.run(scenario())


async def _until_waiting_on_a_lock(plain: Conn, timeout: float = 10.0) -> None:
    """Until some backend waits on a lock (the server's own view, not a sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        cur = await plain.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        row = await cur.fetchone()
        if row is not None and row[0] > 0:
            return
        assert asyncio.get_running_loop().time() < deadline, "nobody waited on the lock"
        await asyncio.sleep(0.005)


def test_numbering_is_the_same_whenever_it_is_computed(pg_url: str) -> None:
    """A sequencer commit lost in a server crash (it commits asynchronously) is redone
    later: the same events must get the same seqs and hashes. Here the loss is a
    rollback of a sequencer run whose numbering was read first."""

    async def scenario() -> None:
        board, run_id, head, older, younger, plain = await _setup(pg_url)
        third = await psycopg.AsyncConnection.connect(pg_url)
        try:
            holder = await _hold_counter(pg_url)
            await _stage(older, run_id, "test.a", 2)
            await _stage(younger, run_id, "test.b", 3)
            await _stage(third, run_id, "test.c")
            await holder.commit()
            await holder.close()
            await third.commit()
            await younger.commit()
            await older.commit()  # committed in the reverse of the staging order

            lost = await psycopg.AsyncConnection.connect(pg_url)
            try:
                assert await _sequence(lost) == head + 6
                cur = await lost.execute(
                    "SELECT seq, kind, hash FROM events WHERE seq > %s ORDER BY seq", (head,)
                )
                seen = await cur.fetchall()
                await lost.rollback()  # as if the server crashed before its WAL was written
            finally:
                await lost.close()

            assert await _sequence(plain) == head + 6
            cur = await plain.execute(
                "SELECT seq, kind, hash FROM events WHERE seq > %s ORDER BY seq", (head,)
            )
            assert await cur.fetchall() == seen
            assert [r[1] for r in seen] == ["test.a"] * 2 + ["test.b"] * 3 + ["test.c"]
            assert (await board.verify_audit()).ok
        finally:
            for conn in (older, younger, plain, third):
                await conn.close()
            await board.close()

    asyncio.run(scenario())


def test_a_reader_waits_for_what_committed_before_it_asked(pg_url: str) -> None:
    """Read-your-writes: a Board write whose events an older open transaction holds
    back (it holds the counter, so the write stages); the reader waits for that
    transaction (within catch_up_timeout_s) and then sees both, in order."""

    async def scenario() -> None:
        store = PostgresStore(pg_url, catch_up_timeout_s=30)
        board = Board(store)
        older = await psycopg.AsyncConnection.connect(pg_url)
        plain = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
        try:
            run = await board.create_run(plan(task("a")))
            head = await board.last_seq()
            await _stage(older, run.id, "test.older")  # numbered; holds the counter
            assert await _pending(plain) == 0
            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            assert await _pending(plain) == 1  # the claim's event, staged and held back

            reading = asyncio.create_task(board.events(run.id, since=head))
            assert await _pending(plain) == 1
            assert not reading.done()
            await older.commit()
            events = await asyncio.wait_for(reading, 30)
            assert [(e.seq, e.kind) for e in events] == [
                (head + 1, "test.older"),
                (head + 2, "task.claim"),
            ]
        finally:
            await older.close()
            await plain.close()
            await board.close()

    asyncio.run(scenario())


def test_the_first_writer_numbers_in_place_the_next_stages_without_waiting(
    pg_url: str,
) -> None:
    """Migration 0020: a writer that finds the counter free numbers its events in its own
    transaction (nothing staged) and holds the counter; a concurrent writer stages and
    commits without waiting for it; a sequencer meanwhile leaves the staged event to the
    holder (it neither waits for the holder's commit nor numbers past it); after the
    holder commits, its sequencer numbers the staged event after the holder's."""

    async def scenario() -> None:
        board, run_id, head, first, second, plain = await _setup(pg_url)
        try:
            await _stage(first, run_id, "test.in-place", 2)
            assert await _pending(plain) == 0  # numbered, not staged
            cur = await first.execute("SELECT max(seq) FROM events")
            assert await cur.fetchone() == (head + 2,)  # seen by its own transaction

            await asyncio.wait_for(_stage(second, run_id, "test.staged"), 10)
            await asyncio.wait_for(second.commit(), 10)  # never waits for the holder
            assert await _pending(plain) == 1
            assert await asyncio.wait_for(_sequence(plain), 10) is None  # skips the holder
            assert await board.events(since=head) == []

            await first.commit()
            assert await _sequence(first) == head + 3  # the holder's own sequencer
            await first.commit()  # (by hand, the sequencer's transaction is ours to end)
            events = await board.events(since=head)
            assert [(e.seq, e.kind) for e in events] == [
                (head + 1, "test.in-place"),
                (head + 2, "test.in-place"),
                (head + 3, "test.staged"),
            ]
            assert (await board.verify_audit()).ok
        finally:
            for conn in (first, second, plain):
                await conn.close()
            await board.close()

    asyncio.run(scenario())


def test_announcements_leave_with_the_sequencer_and_never_for_a_rollback(pg_url: str) -> None:
    """The numbering transaction only records what to announce; the sequencer run after
    its COMMIT sends it (so no announcing commit holds the notify queue lock through its
    WAL flush). A rolled-back numbering announces nothing."""

    async def scenario() -> None:
        board, run_id, head, writer, _unused, plain = await _setup(pg_url)
        listener = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
        try:
            await listener.execute("LISTEN baton_events")
            await _stage(writer, run_id, "test.rolled-back")
            await writer.rollback()
            assert await _sequence(writer) is None

            await _stage(writer, run_id, "test.kept")
            await writer.commit()
            await _sequence(writer)
            await writer.commit()  # the sequencer's own transaction

            async def first_notification() -> str:
                async for n in listener.notifies():
                    return n.payload
                raise AssertionError("the listener stopped")

            assert await asyncio.wait_for(first_notification(), 10) == str(head + 1)
            events = await board.events(since=head)
            assert [(e.seq, e.kind) for e in events] == [(head + 1, "test.kept")]
        finally:
            for conn in (writer, _unused, plain, listener):
                await conn.close()
            await board.close()

    asyncio.run(scenario())


def test_a_writer_frozen_while_it_holds_the_counter_is_ended_within_a_second(
    pg_url: str,
) -> None:
    """A result that names its seqs (a message, an escalation) numbers its events before
    it commits and holds the counter row until then. If its process freezes in between
    (a GC pause: here a blocking sleep on its event loop), every other writer stages and
    every reader of the log waits: before, for ``catch_up_timeout_s`` (5 s) on each read,
    and no event was numbered for as long as the freeze lasted. The server now ends that
    session after a second idle: the frozen transaction rolls back (its writer, waking,
    gets ``TransientConflict``, which the Board retries whole), the staged events are
    numbered, and the reader sees them."""
    flushed = threading.Event()
    outcome: list[BaseException] = []

    def frozen_writer(run_id: str) -> None:
        async def write() -> None:
            store = PostgresStore(pg_url)
            try:
                async with store.transaction() as tx:
                    await tx.append_event(run_id, None, "test.frozen", "tester", {}, 1.0)
                    await tx.flush()  # numbered: the counter row is held until COMMIT
                    flushed.set()
                    time.sleep(3.0)  # frozen, event loop and all
            except BaseException as exc:  # what the writer sees on waking
                outcome.append(exc)
            finally:
                await store.close()

        asyncio.run(write())

    async def scenario() -> None:
        board = Board(PostgresStore(pg_url))  # the default catch_up_timeout_s
        plain = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
        writer: threading.Thread | None = None
        try:
            run = await board.create_run(plan(task("a")))
            head = await board.last_seq()
            writer = threading.Thread(target=frozen_writer, args=(run.id,))
            writer.start()
            assert await asyncio.to_thread(flushed.wait, 30)
            lease = await board.claim("w1", ["worker"])  # stages: the counter is held
            assert lease is not None
            assert await _pending(plain) == 1

            started = time.monotonic()
            events = await board.events(run.id, since=head)
            waited = time.monotonic() - started
            assert [e.kind for e in events] == ["task.claim"], events
            assert waited < 2.5, f"the reader waited {waited:.1f}s behind a frozen writer"
        finally:
            if writer is not None:
                await asyncio.to_thread(writer.join, 30)
            await plain.close()
            await board.close()
        assert len(outcome) == 1 and isinstance(outcome[0], TransientConflict), outcome
        assert "idle-in-transaction" in str(outcome[0])

    asyncio.run(scenario())
