"""Idle workers take turns: of the workers that could claim the same tasks one waits
and claims, the others wait for the turn (``Board.idle_turn``, baton/model/turns.py).

Without turns every idle worker woke for every released task and claimed; one won.
With them a released task wakes one. The turn must never cost work: a holder killed
with SIGKILL passes it on, a lost connection gives the worker its turn anyway, and a
worker whose principal, roles or run differ never waits behind another's turn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from baton import Board, InvalidArgument, Lease, RunState, Worker
from baton.store.postgres import PostgresStore
from tests.helpers import plan, task


async def _holding(
    board: Board, roles: Sequence[str], **kw: Any
) -> tuple[asyncio.Task[bool], asyncio.Event]:
    """A task that holds the turn until the returned event is set; it returns whether
    the turn was its own. Returns once the turn is held (or refused)."""
    got = asyncio.get_running_loop().create_future()
    leave = asyncio.Event()

    async def hold() -> bool:
        async with board.idle_turn(
            roles, timeout=kw.get("timeout", 10.0), run_id=kw.get("run_id")
        ) as mine:
            got.set_result(mine)
            await leave.wait()
            return mine

    holder = asyncio.create_task(hold())
    await asyncio.wait_for(asyncio.shield(got), 10)
    return holder, leave


def test_one_holder_at_a_time_and_the_next_takes_over(store_url: str) -> None:
    async def scenario() -> None:
        board = Board.open(store_url)
        try:
            holder, leave = await _holding(board, ["coder"])
            started = time.monotonic()
            async with board.idle_turn(["coder"], timeout=0.2) as mine:
                assert mine is False, "a second holder while the first holds the turn"
            assert time.monotonic() - started >= 0.19
            waiting = asyncio.create_task(_holding(board, ["coder"]))
            await asyncio.sleep(0)
            assert not waiting.done()
            leave.set()
            assert await holder is True
            second, leave2 = await asyncio.wait_for(waiting, 10)
            leave2.set()
            assert await second is True
        finally:
            await board.close()

    asyncio.run(scenario())


def test_workers_that_could_claim_different_tasks_do_not_share_a_turn(store_url: str) -> None:
    async def scenario() -> None:
        board = Board.open(store_url)
        try:
            run = await board.create_run(plan(task("a")))
            _, coder = await board.add_participant(
                "ann", kind="service", roles=["worker"], runs=["*"]
            )
            _, reviewer = await board.add_participant(
                "bob", kind="service", roles=["worker"], runs=["*"]
            )
            holder, leave = await _holding(board, ["worker"])
            others = [
                (board, ["reviewer"], None),  # other roles
                (board, ["worker", "reviewer"], None),  # more roles
                (board, ["worker"], run.id),  # one run only
                (await board.login(coder), ["worker"], None),  # another principal: its
                (await board.login(reviewer), ["worker"], None),  # grants, its reviews
            ]
            for who, roles, run_id in others:
                async with who.idle_turn(roles, run_id=run_id, timeout=5) as mine:
                    assert mine is True, (roles, run_id, who.principal.id)
            leave.set()
            await holder
        finally:
            await board.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("roles", "run_id"),
    [([], None), ("worker", None), ([""], None), (["worker", 3], None), (["worker"], "no such/")],
)
def test_a_turn_with_bad_roles_or_run_is_refused(tmp_path: Path, roles: Any, run_id: Any) -> None:
    async def scenario() -> None:
        board = Board.open(tmp_path / "b.db")
        try:
            with pytest.raises(InvalidArgument):
                async with board.idle_turn(roles, run_id=run_id, timeout=0.1):
                    pass
        finally:
            await board.close()

    asyncio.run(scenario())


def test_turns_hold_across_processes_and_a_killed_holder_passes_it_on(pg_url: str) -> None:
    """A holder in another process, SIGKILLed: the server ends its session, and the
    turn is the next waiter's at once — not after a lease or a timeout."""
    holder_code = textwrap.dedent(
        """
        import asyncio, sys
        from baton import Board
        from baton.store.postgres import PostgresStore

        async def main():
            board = Board(PostgresStore(sys.argv[1]))
            async with board.idle_turn(["worker"], timeout=10) as mine:
                print("held" if mine else "refused", flush=True)
                await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code, pg_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        async def scenario() -> None:
            board = Board(PostgresStore(pg_url))
            try:
                async with board.idle_turn(["worker"], timeout=0.3) as mine:
                    assert mine is False, "another process holds the turn"
                waiting = asyncio.create_task(_holding(board, ["worker"], timeout=30))
                await asyncio.sleep(0.05)
                assert not waiting.done()
                killed = time.monotonic()
                os.kill(holder.pid, signal.SIGKILL)
                took, leave = await asyncio.wait_for(waiting, 30)
                assert time.monotonic() - killed < 5, "the killed holder's turn was passed on"
                leave.set()
                assert await took is True
            finally:
                await board.close()

        asyncio.run(scenario())
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_a_turn_whose_connection_is_cut_gives_the_worker_its_turn(pg_url: str) -> None:
    """The server ends the turn's session mid-hold: leaving does not fail, the lock went
    with the session, and the next turn opens a new connection."""

    async def scenario() -> None:
        board, other = Board(PostgresStore(pg_url)), Board(PostgresStore(pg_url))
        try:
            async with board.idle_turn(["worker"], timeout=5) as mine:
                assert mine is True
                async with other.idle_turn(["worker"], timeout=0.2) as theirs:
                    assert theirs is False
                await _terminate_turns(pg_url)
                async with other.idle_turn(["worker"], timeout=5) as theirs:
                    assert theirs is True, "the cut session's lock is gone"
            async with board.idle_turn(["worker"], timeout=5) as mine:
                assert mine is True, "a new connection for the next turn"
        finally:
            await board.close()
            await other.close()

    asyncio.run(scenario())


async def _terminate_turns(pg_url: str) -> None:
    """End the session holding a turn (two-id advisory locks: objsubid 2)."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid <> pg_backend_pid()"
        )
        assert len(await cur.fetchall()) == 1


class CountingClaims:
    """A board that counts the claims that found nothing: what every idle worker that
    wakes for a task it does not get costs the server."""

    def __init__(self, board: Board) -> None:
        self._board = board
        self.empty = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._board, name)

    async def claim(self, *args: Any, **kwargs: Any) -> Lease | None:
        lease = await self._board.claim(*args, **kwargs)
        self.empty += lease is None
        return lease


CHAIN = 30
WORKERS = 6


def _chain() -> dict[str, Any]:
    return plan(*[task(f"t{i}", deps=(f"t{i - 1}",) if i else ()) for i in range(CHAIN)])


def test_a_chain_wakes_one_idle_worker_per_hand_off_across_processes(pg_url: str) -> None:
    """Six workers, each on its own store (as six processes would be), on a chain:
    without turns each hand-off woke the five idle ones and each claimed for nothing
    (five empty claims per task); with turns one waits, so about one or two."""

    async def scenario() -> None:
        setup = Board(PostgresStore(pg_url))
        boards = [CountingClaims(Board(PostgresStore(pg_url))) for _ in range(WORKERS)]
        try:
            run = await setup.create_run(_chain())
            workers = [
                Worker(b, {"worker": lambda ctx: {"ok": True}}, name=f"w{i}", idle_wait_s=30)
                for i, b in enumerate(boards)
            ]
            await asyncio.wait_for(asyncio.gather(*(w.run(run_id=run.id) for w in workers)), 60)
            assert (await setup.get_run(run.id)).state is RunState.FINISHED
            assert sum(w.completed for w in workers) == CHAIN
            empty = sum(b.empty for b in boards)
            print(f"empty claims: {empty} for {CHAIN} tasks, {WORKERS} workers")
            # each worker's first busy claim, its first idle claim, its last claims as
            # the run ends, plus at most two per hand-off
            assert empty <= 2 * CHAIN + 3 * WORKERS, f"{empty} empty claims for {CHAIN} tasks"
        finally:
            await setup.close()
            for b in boards:
                await b.close()

    asyncio.run(scenario())


def test_a_worker_with_many_slots_idles_one_slot_at_a_time(tmp_path: Path) -> None:
    """SQLite, one process: the slots of a Worker take turns the same way."""

    async def scenario() -> None:
        board = CountingClaims(Board.open(tmp_path / "b.db"))
        try:
            run = await board.create_run(_chain())
            worker = Worker(
                board,
                {"worker": lambda ctx: {"ok": True}},
                name="w",
                concurrency=WORKERS,
                idle_wait_s=30,
            )
            await asyncio.wait_for(worker.run(run_id=run.id), 60)
            assert worker.completed == CHAIN
            empty = board.empty
            print(f"empty claims: {empty} for {CHAIN} tasks, {WORKERS} slots")
            assert empty <= 3 * CHAIN + 3 * WORKERS, f"{empty} empty claims for {CHAIN} tasks"
        finally:
            await board.close()

    asyncio.run(scenario())


def test_the_own_loop_example_runs(store_url: str) -> None:
    """examples/own_loop.py, as docs/guide.md tells users to run it."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "own_loop.py"), store_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "run finished", result.stdout
    assert sum(int(line.split(": ")[1].split()[0]) for line in lines[1:]) == 30
