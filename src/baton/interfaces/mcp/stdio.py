"""``baton mcp``: the server over stdin/stdout for one participant, authenticated once
when the process starts (a coding agent spawns it with the participant's token in
``BATON_TOKEN``; see :mod:`baton.interfaces.cli.mcp`)."""

from __future__ import annotations

from baton.board import BoardAPI
from baton.interfaces.mcp.callers import fixed
from baton.interfaces.mcp.server import build_server


async def serve_stdio(board: BoardAPI) -> None:
    """Serve ``board`` (acting as its participant) over stdio until the client closes
    stdin."""
    await build_server(fixed(board)).run_stdio_async()
