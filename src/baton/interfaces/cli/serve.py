"""``baton serve``: the HTTP door over a store, for workers, people and tools on other
machines (docs/http.md)."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from typing import Annotated

import typer

from baton.board import Board
from baton.interfaces.cli.common import DEFAULT_DB, Db, err, is_server
from baton.interfaces.http.server import ServeSettings, serve
from baton.model.errors import InvalidArgument


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_cmd(
    db: Db = DEFAULT_DB,
    host: Annotated[
        str,
        typer.Option(
            envvar="BATON_HOST",
            show_envvar=True,
            help="Interface to listen on; anything but loopback must be asked for.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="BATON_PORT", show_envvar=True, help="0 takes a free port.")
    ] = 8711,
    max_body_bytes: Annotated[
        int,
        typer.Option(envvar="BATON_MAX_BODY_BYTES", help="Larger request bodies get 413.", min=1),
    ] = 2_000_000,
    cors_origin: Annotated[
        list[str],
        typer.Option(
            envvar="BATON_CORS_ORIGINS", help="Allow browser calls from this origin (repeat)."
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    keepalive_s: Annotated[
        float,
        typer.Option(envvar="BATON_KEEPALIVE_S", help="Seconds between SSE keep-alive comments."),
    ] = 15.0,
    owner_token: Annotated[
        str | None,
        typer.Option(
            envvar="BATON_OWNER_TOKEN",
            help="A secret that acts as the store's owner over HTTP (off unless given).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="BATON_LOG_LEVEL")] = "warning",
) -> None:
    """Serve the board over HTTP (bearer tokens from `baton participant add`).

    Prints the URL once it listens. Put TLS in front (a reverse proxy) before listening
    anywhere but loopback."""
    if is_server(db):
        raise InvalidArgument(f"--db must be a store to serve, not a server ({db})")
    if not 0 < keepalive_s <= 3600:
        raise InvalidArgument(f"--keepalive-s must be in (0, 3600], got {keepalive_s}")
    if owner_token is not None and len(owner_token) < 32:
        raise InvalidArgument("--owner-token must be at least 32 characters of secret")
    if not _loopback(host):
        err.print(
            f"warning: listening on {host}, not loopback: anyone who can reach it can try "
            "tokens; put TLS in front (docs/http.md)"
        )
    settings = ServeSettings(
        max_body_bytes=max_body_bytes,
        cors_origins=tuple(cors_origin),
        owner_token=owner_token,
        keepalive_s=keepalive_s,
    )

    def ready(url: str) -> None:
        print(url, flush=True)
        err.print(f"baton serve: {db} on {url} (API docs at {url}/docs)")

    async def main() -> None:
        board = Board.open(db, create=False)
        await serve(
            board, host=host, port=port, settings=settings, ready=ready, log_level=log_level
        )

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles the signal itself
        sys.exit(130)
