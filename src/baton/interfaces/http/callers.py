"""Who is calling: the bearer token of each request, and the Board acting as the
participant it stands for — shared by every route of ``baton serve`` (the JSON API, the
shared-work routes, the MCP door)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from baton.board import Board
from baton.model.errors import Unauthenticated
from baton.model.participants import Principal


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send Authorization: Bearer <token>")
    return token


class Principals:
    """Who each token stood for when last authenticated, so that a request needs no
    lookup of its own: the Board re-checks the principal against the store in every
    transaction and read (a revoked participant or a rotated token is refused there, at
    once), so a remembered principal can never act beyond what the store says now.
    Endpoints that make no Board read (``/whoami``, ``/seq``, ``/changes``) look the
    token up afresh. Bounded; the oldest entries go first."""

    def __init__(self, board: Board, owner_token: str | None, size: int = 10_000) -> None:
        self.board, self.owner_token, self.size = board, owner_token, size
        self.known: dict[str, Principal] = {}

    def _owner(self, token: str) -> bool:
        return self.owner_token is not None and hmac.compare_digest(
            token.encode(), self.owner_token.encode()
        )

    async def board_for(self, token: str, *, fresh: bool) -> Board:
        if self._owner(token):
            return self.board
        principal = None if fresh else self.known.get(token)
        if principal is None:
            principal = await self.board.authenticate(token)
            if len(self.known) >= self.size:
                self.known.pop(next(iter(self.known)))
            self.known[token] = principal
        return self.board.acting_as(principal)


async def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Board:
    """The Board acting as the request's authenticated participant."""
    principals: Principals = request.app.state.principals
    return await principals.board_for(_bearer(authorization), fresh=False)


async def _fresh_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Board:
    """As :func:`_caller`, with the token looked up now (for calls the Board does not
    re-check: they read no run)."""
    principals: Principals = request.app.state.principals
    return await principals.board_for(_bearer(authorization), fresh=True)


As = Annotated[Board, Depends(_caller)]
Fresh = Annotated[Board, Depends(_fresh_caller)]
Key = Annotated[str | None, Header(alias="Idempotency-Key")]
