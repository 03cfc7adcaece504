"""How a tool call finds the Board it acts on: the participant behind it.

Over stdio one process serves one participant, authenticated once at start
(:func:`fixed`); over HTTP every request carries its own bearer token, so each call
looks the token up again through ``baton serve``'s own token → principal lookup
(:func:`per_request`), never a second one of the door's own. Either way the Board
re-checks the principal against the store in every transaction, so a token revoked
mid-session is refused on the next call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mcp.server.mcpserver import Context

from baton.board import BoardAPI

#: The SDK's per-request context, as the tools and resources receive it.
Ctx = Context[Any, Any]
#: The Board a call acts on, found from the call's context.
Caller = Callable[[Ctx], Awaitable[BoardAPI]]


class TokenLookup(Protocol):
    """``baton serve``'s lookup: the Board acting as the participant whose bearer token
    the ``Authorization`` header carries; :class:`Unauthenticated` when it carries none
    or one the board does not accept. ``fresh`` asks the store now instead of the
    server's memory of the token."""

    def __call__(self, authorization: str | None, *, fresh: bool) -> Awaitable[BoardAPI]: ...


def fixed(board: BoardAPI) -> Caller:
    """Every call acts on ``board`` (stdio: one process, one participant)."""

    async def caller(ctx: Ctx) -> BoardAPI:
        return board

    return caller


def per_request(lookup: TokenLookup) -> Caller:
    """Each call acts as the participant of the HTTP request that carried it."""

    async def caller(ctx: Ctx) -> BoardAPI:
        headers = ctx.headers or {}
        return await lookup(headers.get("authorization"), fresh=False)

    return caller
