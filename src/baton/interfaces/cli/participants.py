"""``baton participant add|list|show|revoke|rotate``: who may act on the board.

Adding or rotating prints the token once, on stdout alone (so ``$(baton participant add
…)`` captures it); the store keeps only its hash. Run as the store's owner (no token) or
with an admin participant's ``--token``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from baton.interfaces.cli.common import DEFAULT_DB, AsJson, Db, Token, dump, err, open_board, out
from baton.interfaces.cli.text import plain
from baton.model.participants import Participant, ParticipantKind

participant_app = typer.Typer(
    help="Register participants, rotate and revoke their tokens.", no_args_is_help=True
)

ParticipantId = Annotated[str, typer.Argument(help="Participant id (letters, digits, ._:-).")]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@participant_app.command("add")
def add(
    participant_id: ParticipantId,
    kind: Annotated[
        ParticipantKind, typer.Option(help="agent, human or service.")
    ] = ParticipantKind.AGENT,
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    roles: Annotated[str, typer.Option(help="Comma-separated roles it may claim and review.")] = "",
    grants: Annotated[
        str,
        typer.Option(help="Comma-separated: create_runs, approve, answer, steer, context, admin."),
    ] = "",
    runs: Annotated[
        str, typer.Option(help="Comma-separated run ids it may see; '*' for every run.")
    ] = "",
    db: Db = DEFAULT_DB,
    token: Token = None,
) -> None:
    """Register a participant and print its token (shown only this once)."""
    with open_board(db, token=token) as board:
        added, secret = board.add_participant(
            participant_id,
            kind=kind,
            name=name,
            roles=_split(roles),
            grants=_split(grants),
            runs=_split(runs),
        )
    err.print(plain(f"added {_describe(added)}; its token (shown once):"))
    print(secret, flush=True)


@participant_app.command("rotate")
def rotate(participant_id: ParticipantId, db: Db = DEFAULT_DB, token: Token = None) -> None:
    """Issue a new token (printed once); the old one stops working at once."""
    with open_board(db, token=token) as board:
        secret = board.rotate_token(participant_id)
    err.print(plain(f"rotated {participant_id}; the old token no longer works. New token:"))
    print(secret, flush=True)


@participant_app.command("revoke")
def revoke(participant_id: ParticipantId, db: Db = DEFAULT_DB, token: Token = None) -> None:
    """Revoke a participant: its token stops working at once, on every door."""
    with open_board(db, token=token) as board:
        board.revoke_participant(participant_id)
    out.print(plain(f"revoked {participant_id}"))


@participant_app.command("show")
def show(
    participant_id: ParticipantId, db: Db = DEFAULT_DB, token: Token = None, as_json: AsJson = False
) -> None:
    """Show one participant (never its token)."""
    with open_board(db, token=token) as board:
        found = board.get_participant(participant_id)
    if as_json:
        dump(found.model_dump(mode="json"))
        return
    for key, value in found.model_dump(mode="json").items():
        shown = ", ".join(value) if isinstance(value, list) else value
        out.print(plain(f"{key:>11}: {shown if shown not in (None, '') else '-'}"))


@participant_app.command("list")
def list_(db: Db = DEFAULT_DB, token: Token = None, as_json: AsJson = False) -> None:
    """Every registered participant, revoked ones included."""
    with open_board(db, token=token) as board:
        found = board.participants()
    if as_json:
        dump([p.model_dump(mode="json") for p in found])
        return
    table = Table()
    for column in ("id", "kind", "name", "roles", "grants", "runs", "token", "state"):
        table.add_column(column, overflow="fold")
    for p in found:
        table.add_row(
            *(
                plain(v)
                for v in (
                    p.id,
                    p.kind.value,
                    p.name,
                    ",".join(p.roles) or "-",
                    ",".join(p.grants) or "-",
                    ",".join(p.runs) or "-",
                    p.token_hint,
                    "active" if p.active else "revoked",
                )
            )
        )
    out.print(table)


def _describe(p: Participant) -> str:
    roles = f" roles {','.join(p.roles)}" if p.roles else ""
    grants = f" grants {','.join(p.grants)}" if p.grants else ""
    runs = f" runs {','.join(p.runs)}" if p.runs else " (no runs yet)"
    return f"{p.kind.value} {p.id}{roles}{grants}{runs}"
