"""``baton mcp``: the server over stdin/stdout for one participant, authenticated once
when the process starts (a coding agent spawns it with the participant's token in
``BATON_TOKEN``; see :mod:`baton.interfaces.cli.mcp`)."""

from __future__ import annotations

import asyncio

import anyio

from baton.board import BoardAPI
from baton.interfaces.mcp.callers import fixed
from baton.interfaces.mcp.server import build_server


async def serve_stdio(board: BoardAPI, stop: asyncio.Event | None = None) -> None:
    """Serve ``board`` (acting as its participant) over stdio until the client closes
    stdin, or ``stop`` is set (SIGTERM)."""
    server = build_server(fixed(board))
    async with anyio.create_task_group() as group:

        async def stop_on_signal() -> None:
            if stop is not None:
                await stop.wait()
                group.cancel_scope.cancel()

        group.start_soon(stop_on_signal)
        await server.run_stdio_async()
        group.cancel_scope.cancel()
