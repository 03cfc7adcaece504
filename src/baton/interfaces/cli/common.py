"""What every command shares: the options (``--db``, ``--token``, ``--as``, ``--json``…),
the consoles, and opening the board the way every command must (never creating a store
by accident, explaining an unknown id)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from baton.board import Board, BoardAPI, SyncBoard
from baton.interfaces.cli.text import plain
from baton.interfaces.http.client import connect, connect_sync
from baton.model.errors import NotFound, UsageError

# Stored text is never markup (see text.py); styling is done with Text objects.
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)

Db = Annotated[
    str,
    typer.Option(
        "--db",
        "--server",
        envvar=["BATON_SERVER", "BATON_DB"],
        show_envvar=True,
        help=(
            "The board: a store (file path, sqlite:///path, postgresql://…) or a "
            "`baton serve` URL (http://…, with --token)."
        ),
    ),
]
Actor = Annotated[
    str,
    typer.Option("--as", envvar="BATON_ACTOR", show_envvar=True, help="Who you are, for the log."),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="BATON_TOKEN",
        show_envvar=True,
        help="Act as the participant this token was issued to (else as the store's owner).",
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", envvar="BATON_JSON", help="Machine-readable output.")
]
Wait = Annotated[
    bool,
    typer.Option(
        "--wait", envvar="BATON_WAIT", help="Wait until the run ends; exit 1 unless it succeeded."
    ),
]
WaitTimeout = Annotated[
    float, typer.Option(envvar="BATON_TIMEOUT", help="With --wait: give up after seconds.")
]
DEFAULT_DB = ".baton/board.db"


def default_actor() -> str:
    try:
        return f"human:{getpass.getuser()}"
    except (OSError, KeyError):
        return "human"


DEFAULT_ACTOR = default_actor()


def is_server(db: str) -> bool:
    """``db`` names a ``baton serve`` (a remote board), not a store."""
    return db.startswith(("http://", "https://"))


def _server_token(db: str, token: str | None) -> str:
    if not token:
        raise UsageError(f"{db} is a baton server: give --token (BATON_TOKEN) to act there")
    return token


@contextmanager
def open_board(db: str, *, token: str | None, create: bool = False) -> Iterator[SyncBoard]:
    """The board at ``db``, acting as ``token``'s participant if one is given (else as
    the store's local owner); ``db`` may be a ``baton serve`` URL (then a token is
    needed). Only ``run`` and ``plan`` create a store; every other command refuses a
    missing one, naming the path. An unknown id is told with the board it was looked up
    in and the ids that look like it."""
    if is_server(db):
        with connect_sync(db, _server_token(db, token)) as remote:
            try:
                yield remote
            except NotFound as exc:
                raise explained(remote, exc, db) from None
        return
    is_new = create and "://" not in db and not Path(db).exists()
    with SyncBoard.open(db, create=create) as owned:
        if is_new:
            err.print(plain(f"created a new store at {db}"))
        board = owned if token is None else owned.login(token)
        try:
            yield board
        except NotFound as exc:
            raise explained(board, exc, db) from None


def board_opener(db: str, token: str | None) -> Callable[[], Awaitable[BoardAPI]]:
    """How a long-lived process (worker, orchestrator) opens its board: the store, or
    the server at ``db``, acting as ``token``'s participant if one is given."""

    async def opened() -> BoardAPI:
        if is_server(db):
            return await connect(db, _server_token(db, token))
        owned = Board.open(db, create=False)
        if token is None:
            return owned
        try:
            return await owned.login(token)
        except BaseException:
            await owned.close()
            raise

    return opened


def acting(board: SyncBoard, actor: str) -> str:
    """Who a command records as acting: ``--as`` for the owner; with a token, the
    participant itself (a different ``--as`` is left for the Board to refuse)."""
    if board.principal.owner or actor != DEFAULT_ACTOR:
        return actor
    return board.principal.id


def explained(board: SyncBoard, exc: NotFound, db: str) -> NotFound:
    hint = ""
    if exc.kind == "task" and "/" not in exc.ident:
        hint = "; task ids are written run/key"
    similar = board.similar_ids(exc.kind, exc.ident) if exc.kind in ("run", "task") else []
    if similar:
        hint += f" — did you mean {' or '.join(similar)}?"
    explained = NotFound(exc.kind, exc.ident)
    where = f"on the server {db}" if is_server(db) else f"in the store at {db}"
    explained.args = (f"{exc} {where}{hint}",)
    return explained


def dump(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))
