"""Long-lived processes (a worker, an orchestrator): open the board, run until SIGINT
or SIGTERM asks to stop, then close the board — whatever command or door starts them."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from baton.board import Board


def until_signalled(
    db: str, work: Callable[[Board, asyncio.Event], Awaitable[None]], *, token: str | None = None
) -> None:
    """Run a long-lived process (worker, orchestrator) until SIGINT/SIGTERM sets ``stop``,
    acting as ``token``'s participant if one is given."""

    async def main() -> None:
        owned = Board.open(db, create=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await work(owned if token is None else await owned.login(token), stop)
        finally:
            await owned.close()

    asyncio.run(main())
