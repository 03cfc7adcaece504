"""PostgreSQL: how many round trips a call costs, and the write-behind that saves them.

A transaction's writes whose answer the domain does not read (guarded task updates,
counters, the ``BEGIN``) travel with its next statement or with the ``COMMIT``; every
query is a statement prepared once per connection and run by ``EXECUTE``. These tests
pin the counts on the common path, show that a guarded write that matches no row still
aborts the whole transaction, and that a failed transaction leaves its pooled connection
fully usable (psycopg answers a ``ROLLBACK`` with ``DEALLOCATE ALL`` when it prepared
anything itself, which would drop our statements too).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from baton import Board, IdempotencyConflict, LeaseLost, TaskState
from baton.model.errors import BatonRuntimeError
from baton.store.postgres import PostgresStore
from tests.helpers import plan, task


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query text sent to the server (one entry per round trip)."""
    queries: list[str] = []
    original = psycopg.AsyncCursor.execute

    async def counting(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        queries.append(query.decode() if isinstance(query, bytes) else str(query))
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting)
    return queries


def _board(url: str) -> Board:
    # No idle pings during the test: the counts are of the calls' own round trips.
    return Board(PostgresStore(url, max_connections=1, idle_check_s=3600))


def test_claim_and_submit_cost_one_round_trip_each(pg_url: str, sent: list[str]) -> None:
    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a"), task("b", deps=("a",))))
            assert await board.get_run(run.id) is not None  # the pool is open and warm
            sent.clear()

            lease = await board.claim("w1", ["worker"])
            assert lease is not None and lease.task.key == "a"
            claim = list(sent)
            sent.clear()
            await board.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
            submit = list(sent)
            sent.clear()
            b = await board.get_task(f"{run.id}/b")
            read = list(sent)
            sent.clear()
            scoped = await board.claim("w1", ["worker"], run_id=run.id)  # as workers claim
            assert scoped is not None and scoped.task.key == "b"
            claim_in_run = list(sent)
        finally:
            await board.close()

        # BEGIN + the generated claim (find, update, event) + COMMIT + the sequencer
        # that numbers the event (migration 0019), as one query.
        assert len(claim) == 1, claim
        assert claim[0].startswith("BEGIN") and claim[0].rstrip().endswith(
            "COMMIT;\nEXECUTE baton_sequence_events"
        )
        assert "baton_claim_one_trip" in claim[0]
        # BEGIN + the generated submit (update, release b, events) + COMMIT, as one query.
        assert len(submit) == 1, submit
        assert submit[0].startswith("BEGIN") and "baton_submit_one_trip" in submit[0]
        assert len(read) == 1 and "BEGIN" not in read[0], read  # autocommit: no BEGIN/COMMIT
        assert b is not None and b.state is TaskState.READY
        assert len(claim_in_run) == 1, claim_in_run  # the run is looked up only if nothing is found

    asyncio.run(scenario())


def test_a_worker_attempt_costs_three_round_trips(pg_url: str, sent: list[str]) -> None:
    """What the Worker sends per task (claim, briefing, submit with its idempotency
    key): one round trip each. The key is recorded in the submit's own trip (migration
    0021) and a repeat of the submit is a replay of the very same result, even after
    the task moved on; the briefing reads the run, its messages and the
    dependencies asked for together."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a"), task("b", deps=("a",))))
            await board.post_message(run.id, "note", {"text": "hi"}, sender="ann")
            assert await board.get_run(run.id) is not None
            sent.clear()

            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            claim = list(sent)
            sent.clear()
            briefing = await board.briefing(run.id)
            brief = list(sent)
            sent.clear()
            key = f"w1:{lease.task.id}:{lease.token}:result"
            first = await board.submit(
                lease.task.id, lease.token, {"ok": 1}, participant="w1", idempotency_key=key
            )
            submit = list(sent)
            sent.clear()

            b = await board.claim("w1", ["worker"])  # the task's dependent moves on
            assert b is not None
            sent.clear()
            with_deps = await board.briefing(run.id, dependencies=b.task.depends_on)
            brief_deps = list(sent)
            await board.submit(b.task.id, b.token, {}, participant="w1")
            before = await board.store.snapshot()
            again = await board.submit(
                lease.task.id, lease.token, {"ok": 1}, participant="w1", idempotency_key=key
            )
            assert again == first, "a replay returns the first result"
            assert await board.store.snapshot() == before, "a replay writes nothing"
        finally:
            await board.close()

        assert len(claim) == 1 and "baton_claim_one_trip" in claim[0], claim
        assert len(brief) == 1, brief
        assert "baton_get_run" in brief[0] and "baton_latest_run_messages" in brief[0]
        assert [m.kind for m in briefing.messages] == ["message.note"], briefing.messages
        assert len(submit) == 1 and "baton_submit_one_trip_keyed" in submit[0], submit
        assert len(brief_deps) == 1 and "baton_tasks_by_id" in brief_deps[0], brief_deps
        assert [d.output for d in with_deps.dependencies] == [{"ok": 1}]
        assert first.state is TaskState.DONE and first.output == {"ok": 1}

    asyncio.run(scenario())


def test_a_submit_and_claim_costs_one_round_trip(pg_url: str, sent: list[str]) -> None:
    """What the Worker sends between two tasks: the keyed submit and the next claim in
    one transaction and one round trip (migration 0025), the key recorded with both
    rows, so that a repeat replays the very same hand-off and writes nothing."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(
                plan(task("a"), task("b", deps=("a",)), task("c", deps=("b",)))
            )
            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            sent.clear()
            key = f"w1:{lease.task.id}:{lease.token}:result+claim"
            first = await board.submit_and_claim(
                lease.task.id, lease.token, {"ok": 1}, participant="w1", roles=["worker"],
                run_id=run.id, idempotency_key=key,
            )  # fmt: skip
            trip = list(sent)
            assert first.lease is not None and first.lease.task.key == "b"
            sent.clear()
            # the lease that came back is remembered for the next one-trip hand-off
            second = await board.submit_and_claim(
                first.lease.task.id, first.lease.token, {}, participant="w1", roles="worker"
            )
            trip2 = list(sent)
            assert second.lease is not None and second.lease.task.key == "c"
            before = await board.store.snapshot()
            again = await board.submit_and_claim(
                lease.task.id, lease.token, {"ok": 1}, participant="w1", roles=["worker"],
                run_id=run.id, idempotency_key=key,
            )  # fmt: skip
            assert again == first, "a replay returns the first hand-off, lease and all"
            assert await board.store.snapshot() == before, "a replay writes nothing"
        finally:
            await board.close()

        assert len(trip) == 1 and "baton_submit_and_claim_one_trip" in trip[0], trip
        assert trip[0].startswith("BEGIN")
        assert len(trip2) == 1 and "baton_submit_and_claim_one_trip" in trip2[0], trip2

    asyncio.run(scenario())


def test_a_claim_the_one_trip_leaves_to_the_general_path_takes_the_submit_with_it(
    pg_url: str,
) -> None:
    """A run with an attempts budget: the claim half must count the attempt, which the
    generated claim leaves to the Board, so the one trip rolls back whole (BT001) and
    the general path does both, in one transaction still."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            spec = plan(task("a"), task("b", deps=("a",)))
            spec["budget"] = {"attempts": 10}
            run = await board.create_run(spec)
            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            handoff = await board.submit_and_claim(
                lease.task.id, lease.token, {}, participant="w1", roles=["worker"]
            )
            assert handoff.task.state is TaskState.DONE
            assert handoff.lease is not None and handoff.lease.task.key == "b"
            assert (await board.get_run(run.id)).claims == 2
        finally:
            await board.close()

    asyncio.run(scenario())


def test_a_keyed_submit_in_one_trip_refuses_a_key_used_for_something_else(
    pg_url: str, sent: list[str]
) -> None:
    """A key already recorded by another call: the one trip writes nothing and the
    general path names the conflict, leaving the task running."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a")))
            await board.post_message(run.id, "note", {"text": "x"}, sender="s", idempotency_key="k")
            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            before = await board.store.snapshot()
            with pytest.raises(IdempotencyConflict, match="'k'"):
                await board.submit(
                    lease.task.id, lease.token, {}, participant="w1", idempotency_key="k"
                )
            assert await board.store.snapshot() == before
            assert (await board.get_task(lease.task.id)).state is TaskState.RUNNING
        finally:
            await board.close()

    asyncio.run(scenario())


def test_a_guarded_write_that_matches_nothing_aborts_the_whole_transaction(
    pg_url: str,
) -> None:
    """The guard is checked by the server, in the same query as the COMMIT: nothing of
    the transaction lands, and the error names the task."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a"), task("b")))
            before = await board.store.snapshot()
            with pytest.raises(BatonRuntimeError, match=f"task {run.id}/a changed"):
                async with board.store.transaction() as tx:
                    b = await tx.get_task(f"{run.id}/b")
                    assert b is not None
                    await tx.update_task(
                        b.model_copy(update={"priority": 9}),
                        expect_state=b.state.value,
                        expect_token=b.token,
                    )
                    a = await tx.get_task(f"{run.id}/a")
                    assert a is not None
                    stale = a.model_copy(update={"state": TaskState.DONE})
                    await tx.update_task(stale, expect_state="running", expect_token=a.token)
                    await tx.append_event(run.id, a.id, "task.complete", "w", {}, 1.0)
            assert await board.store.snapshot() == before
        finally:
            await board.close()

    asyncio.run(scenario())


def test_a_failed_transaction_leaves_its_connection_usable(pg_url: str) -> None:
    """One pooled connection: a call refused in Python (a stale token) and one refused
    by the server (a guard) roll back; the next calls run on the same connection."""

    async def scenario() -> None:
        board = _board(pg_url)
        try:
            run = await board.create_run(plan(task("a"), task("b")))
            lease = await board.claim("w1", ["worker"])
            assert lease is not None
            with pytest.raises(LeaseLost):
                await board.submit(lease.task.id, lease.token + 1, {}, participant="w1")
            with pytest.raises(BatonRuntimeError):
                async with board.store.transaction() as tx:
                    t = await tx.get_task(lease.task.id)
                    assert t is not None
                    await tx.update_task(t, expect_state="ready", expect_token=t.token)
                    await tx.get_task(lease.task.id)  # the guard fails here, before COMMIT
            done = await board.submit(lease.task.id, lease.token, {}, participant="w1")
            assert done.state is TaskState.DONE
            second = await board.claim("w1", ["worker"])
            assert second is not None and second.task.id == f"{run.id}/b"
        finally:
            await board.close()

    asyncio.run(scenario())


def test_queries_are_prepared_with_numbered_parameters() -> None:
    """Named parameters keep one number however often they appear; ``%%`` is a percent
    sign; fragments (not statements) are not prepared."""
    from baton.store.postgres.prepared import _Prepared

    prepared = _Prepared(
        {
            "a": "SELECT x FROM t WHERE a = %(n)s AND b LIKE 'x%%' AND c = %(n)s + %(m)s",
            "fragment": "t.id, t.x",
            "b": "-- a comment first\nUPDATE t SET a = %s WHERE b = %s",
        }
    )
    assert prepared.prepare == [
        "PREPARE baton_a AS SELECT x FROM t WHERE a = $1 AND b LIKE 'x%' AND c = $1 + $2",
        "PREPARE baton_b AS -- a comment first\nUPDATE t SET a = $1 WHERE b = $2",
    ]
    assert prepared.templates == {
        "a": "EXECUTE baton_a(%(n)s, %(m)s)",
        "b": "EXECUTE baton_b(%s, %s)",
    }
