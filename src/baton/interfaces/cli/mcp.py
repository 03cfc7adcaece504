"""``baton mcp``: the board as an MCP server over stdio, for a coding agent (Claude Code,
Codex, Cursor, Gemini CLI) that spawns it (docs/mcp.md).

It always acts as a registered participant: the token comes from ``BATON_TOKEN`` (the
agent's MCP config sets it) and is required even on a local store, where every other
command would act as the store's owner. An agent should be a participant — its roles
bound what it may claim, the Board's rules hold for it, and the log says who it was —
and the owner passes every rule, so ``baton mcp`` never serves as the owner. A missing
or refused token stops it before it serves anything, with one line saying why.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from baton.board import BoardAPI
from baton.interfaces.cli.common import DEFAULT_DB, Db, board_opener
from baton.interfaces.mcp.stdio import serve_stdio
from baton.model.errors import UsageError
from baton.runtime.processes import until_signalled

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

    async def work(board: BoardAPI, stop: asyncio.Event) -> None:
        await serve_stdio(board, stop)

    until_signalled(board_opener(db, token), work)
