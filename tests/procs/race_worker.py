"""Entry point of one racing process: claim and complete until nothing is left.

Run in a fresh interpreter (multiprocessing ``spawn``); every process opens its own
board on the shared SQLite file, waits at the barrier so that all start claiming at
once, then loops claim → (a millisecond of work) → submit until ``claim`` returns ``None``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from baton import Board


def race(url: str, run_id: str, name: str, barrier: Any, out_dir: str) -> None:
    asyncio.run(_race(url, run_id, name, barrier, Path(out_dir)))


async def _race(url: str, run_id: str, name: str, barrier: Any, out_dir: Path) -> None:
    board = Board.open(url)
    completed: list[str] = []
    try:
        await board.store.last_seq()  # the store is open and readable before the race
        barrier.wait(timeout=120)
        while True:
            lease = await board.claim(name, ["worker"], run_id=run_id)
            if lease is None:
                break
            await asyncio.sleep(0.001)  # a sliver of work, as an agent would do
            output = {"by": name, "token": lease.token}
            await board.submit(lease.task.id, lease.token, output, participant=name)
            completed.append(lease.task.id)
    finally:
        await board.close()
    (out_dir / f"{name}.json").write_text(json.dumps({"name": name, "completed": completed}))
