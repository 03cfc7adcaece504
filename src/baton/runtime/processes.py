"""Long-lived processes (a worker, an orchestrator): open the board, run until SIGINT
or SIGTERM asks to stop, then close the board — whatever command or door starts them,
and whether the board is local or remote."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from baton.board import BoardAPI


def until_signalled(
    open_board: Callable[[], Awaitable[BoardAPI]],
    work: Callable[[BoardAPI, asyncio.Event], Awaitable[None]],
) -> None:
    """Run a long-lived process (worker, orchestrator) on the board ``open_board()``
    gives, until SIGINT/SIGTERM sets ``stop``; the board is closed after."""

    async def main() -> None:
        board = await open_board()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await work(board, stop)
        finally:
            await board.close()

    asyncio.run(main())
