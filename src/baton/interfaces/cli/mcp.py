"""``baton mcp``: the board as an MCP server over stdio, for a coding agent (Claude Code,
Codex, Cursor, Gemini CLI) that spawns it (docs/mcp.md).

It always acts as a registered participant: the token comes from ``BATON_TOKEN`` (the
agent's MCP config sets it) and is required even on a local store, where every other
command would act as the store's owner. An agent should be a participant — its roles
bound what it may claim, the Board's rules hold for it, and the log says who it was —
and the owner passes every rule, so ``baton mcp`` never serves as the owner. A missing
or refused token stops it before it serves anything, with one line saying why.

It serves until the client closes stdin (what MCP clients do first). SIGTERM and SIGINT
end it at once, without the graceful stop of ``baton worker``: the SDK reads stdin in a
thread that nothing interrupts, and stopping anywhere loses nothing — every Board write
is one transaction, and a lease the agent held expires as after a crash.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from baton.interfaces.cli.common import DEFAULT_DB, Db, board_opener
from baton.model.errors import UsageError

Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="BATON_TOKEN",
        show_envvar=True,
        help="The participant's token; required. Prefer BATON_TOKEN to the flag (ps shows flags).",
    ),
]


def mcp_cmd(db: Db = DEFAULT_DB, token: Token = None) -> None:
    """Serve the board to a coding agent over MCP (stdio), as the participant whose
    token is in BATON_TOKEN (`baton participant add` issues one)."""
    if not token:
        raise UsageError(
            "baton mcp acts as a participant: put its token in BATON_TOKEN "
            "(`baton participant add ID --roles ROLE --runs '*'` prints one)"
        )

    async def main() -> None:
        board = await board_opener(db, token)()  # Unauthenticated here: nothing served
        try:
            # Imported here: the MCP SDK takes ~0.6 s to import; only this command needs it.
            from baton.interfaces.mcp.stdio import serve_stdio

            await serve_stdio(board)
        finally:
            await board.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    asyncio.run(main())
