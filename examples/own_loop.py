"""Your own claim loop, idling the way the Worker does.

Claim; when nothing is claimable, wait for work *in turn* with the other idle loops
that could claim the same tasks (``Board.idle_turn``): one waits and claims, the
others wait for the turn, so a released task wakes one loop, not all of them. The turn's
holder claims after reading the head (work committed before it is seen now), waits for
work, and after each wake-up claims and waits again from the seq that woke it — one
round trip per wake-up. Leaving the ``async with`` block with a lease hands the turn to
the next idle loop, which claims at once.

    python examples/own_loop.py                      # a temporary SQLite file
    python examples/own_loop.py postgresql://...     # across processes on PostgreSQL

Prints how many tasks each loop did and how many claims found nothing.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from baton import Board, Lease

ROLES = ["worker"]


class Loop:
    def __init__(self, board: Board, name: str) -> None:
        self.board, self.name = board, name
        self.done = self.empty = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            lease = await self.claim() or await self.idle(stop)
            if lease is not None:
                output = {"by": self.name}
                await self.board.submit(lease.task.id, lease.token, output, participant=self.name)
                self.done += 1

    async def idle(self, stop: asyncio.Event) -> Lease | None:
        async with self.board.idle_turn(ROLES, timeout=0.5) as mine:
            if not mine:  # another loop waits for all of us; back to claiming
                return None
            head = await self.board.last_seq()
            while not stop.is_set():
                lease = await self.claim()  # after reading head: nothing is missed
                if lease is not None:
                    return lease  # leaving the block hands the turn on
                await self.board.reap_expired(actor=self.name)
                woke = await self.board.wait_for_work(head, 0.5)
                head = head if woke is None else woke
        return None

    async def claim(self) -> Lease | None:
        lease = await self.board.claim(self.name, ROLES)
        self.empty += lease is None
        return lease


async def main(url: str) -> None:
    board = Board.open(url)
    try:
        chain = [
            {"id": f"step{i}", "role": "worker", "depends_on": [f"step{i - 1}"] if i else []}
            for i in range(30)
        ]
        run = await board.create_run({"goal": "a chain", "roles": ROLES, "tasks": chain})
        loops = [Loop(board, f"loop-{i}") for i in range(4)]
        stop = asyncio.Event()
        running = [asyncio.create_task(loop.run(stop)) for loop in loops]
        ended = await board.wait_ended(run.id, timeout=60)
        stop.set()
        await asyncio.gather(*running)
        print(f"run {ended.state.value}")
        for loop in loops:
            print(f"{loop.name}: {loop.done} tasks, {loop.empty} claims that found nothing")
    finally:
        await board.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tmp) / "board.db")))
