"""PostgreSQL: idle workers wait for work, not for every commit.

An idle worker waits with ``wait_for_work``: only a commit that made a task claimable
or changed a run's state (announced on ``baton_work``, migration 0018) wakes it. Claims,
messages and usage — most commits of a busy board — used to wake every idle worker of
every process, each then spending round trips to find nothing; a chain's hand-off got
worse with more workers. Waiter and writer are separate boards with their own pools, so
every wake-up here travels through the server's LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio

from baton import Board
from baton.store.postgres import PostgresStore
from tests.helpers import plan, task


async def _until(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_only_commits_that_make_work_wake_an_idle_worker(pg_url: str) -> None:
    async def scenario() -> None:
        idle_store = PostgresStore(pg_url)
        idle, busy = Board(idle_store), Board(PostgresStore(pg_url))
        try:
            run = await busy.create_run(plan(task("a"), task("b", deps=("a",))))
            head = await idle.last_seq()
            waiting = asyncio.create_task(idle.wait_for_work(head, 30))
            await _until(lambda: idle_store.wakeups.listening.is_set())
            await asyncio.sleep(0)

            lease = await busy.claim("w1", ["worker"])
            assert lease is not None
            await busy.post_message(run.id, "note", {"text": "halfway"}, sender="w1")
            last = await busy.last_seq()
            # Both commits reached the idle process's listener, and did not wake it.
            await _until(lambda: idle_store.wakeups.notified_seq >= last)
            await asyncio.sleep(0)
            assert not waiting.done(), "a claim or a message woke an idle worker"
            assert idle_store.wakeups.work_seq <= head

            await busy.submit(lease.task.id, lease.token, {"ok": True}, participant="w1")
            released = await busy.last_seq()
            assert await asyncio.wait_for(waiting, 10) == released, "the released task woke it"
            assert idle_store.wakeups.work_seq == released
            assert (await idle.claim("w2", ["worker"])) is not None
        finally:
            await idle.close()
            await busy.close()

    asyncio.run(scenario())


def test_a_run_ending_or_resuming_wakes_idle_workers(pg_url: str) -> None:
    async def scenario() -> None:
        idle, busy = Board(PostgresStore(pg_url)), Board(PostgresStore(pg_url))
        try:
            run = await busy.create_run(plan(task("a")))
            await busy.pause_run(run.id, actor="human:ann", reason="lunch")
            head = await idle.last_seq()
            waiting = asyncio.create_task(idle.wait_for_work(head, 30))
            await busy.resume_run(run.id, actor="human:ann")
            assert await asyncio.wait_for(waiting, 10) == await busy.last_seq(), "resumed: work"

            head = await idle.last_seq()
            waiting = asyncio.create_task(idle.wait_for_work(head, 30))
            await busy.cancel_run(run.id, actor="human:ann", reason="done with it")
            assert await asyncio.wait_for(waiting, 10) == await busy.last_seq(), "run ended"
        finally:
            await idle.close()
            await busy.close()

    asyncio.run(scenario())


def test_with_no_work_the_wait_times_out(pg_url: str) -> None:
    async def scenario() -> None:
        board = Board(PostgresStore(pg_url))
        try:
            await board.create_run(plan(task("a")))
            head = await board.last_seq()
            assert await board.wait_for_work(head, 0.3) is None
        finally:
            await board.close()

    asyncio.run(scenario())
