"""``baton audit verify [RUN | --all]``: prove the event log's hash chain (docs/audit.md).

Prints how many events it proved and the chain's head hash — keep that line somewhere
else (a ticket, a commit, a log shipped off the machine): a later verify that still
passes through it proves nothing before it was rewritten. A broken chain prints the
first bad seq and what is wrong there, and exits 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from baton.board import Board, SyncBoard
from baton.interfaces.cli.common import DEFAULT_DB, AsJson, Db, Token, dump, err, open_board, out
from baton.interfaces.cli.text import plain
from baton.model.audit import archive_lines
from baton.model.errors import UsageError

audit_app = typer.Typer(help="Prove the event log is untouched.", no_args_is_help=True)


def _local(board: SyncBoard) -> None:
    if not isinstance(board.board, Board):
        raise UsageError("archives are written and proved on the store's own machine (--db)")


@audit_app.command("archive")
def archive_cmd(
    run_id: Annotated[str, typer.Argument(help="An ended run.")],
    to: Annotated[Path, typer.Option("--to", help="The archive file to write.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
) -> None:
    """Move an ended run's events to FILE (with its own hash chain) and out of the live
    store, keeping what the store's chain needs; the hand-over is on the chain."""
    if to.exists():
        raise UsageError(f"{to} exists: an archive is never overwritten")
    with open_board(db, token=token) as board:
        _local(board)
        events = board.export_archive(run_id)
        lines, file_hash = archive_lines(run_id, events)
        partial = to.with_name(to.name + ".partial")
        with partial.open("w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        partial.rename(to)
        record = board.compact_run(run_id, path=str(to), file_hash=file_hash)
    out.print(
        plain(
            f"archived {record.events} events of {run_id} (seq {record.first_seq}-"
            f"{record.last_seq}) to {to}; file chain head {record.file_hash}"
        )
    )


@audit_app.command("verify")
def verify_cmd(
    run_id: Annotated[str | None, typer.Argument(help="Run id (or --all).")] = None,
    every: Annotated[bool, typer.Option("--all", help="The whole log, every run.")] = False,
    archive: Annotated[
        Path | None, typer.Option("--archive", help="Prove an archive file instead.")
    ] = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Walk the hash chain; name the first edited, deleted, inserted or moved event."""
    if archive is not None:
        _verify_archive(archive, db, token, as_json)
        return
    if (run_id is None) == (not every):
        raise UsageError("name one run, or --all for the whole log (not both)")
    with open_board(db, token=token) as board:
        report = board.verify_audit(run_id)
    if as_json:
        dump(report.model_dump(mode="json"))
    elif report.ok:
        what = f"run {run_id}" if run_id else "the whole log"
        archived = f", {report.archived} of them archived" if report.archived else ""
        out.print(
            plain(
                f"ok: {what}: {report.checked} events proved (seq {report.first_seq}-"
                f"{report.last_seq}{archived}); head {report.head_seq} {report.head_hash}"
            )
        )
    else:
        err.print(plain(f"BROKEN at seq {report.bad_seq}: {report.problem}"))
    if not report.ok:
        raise typer.Exit(1)


def _verify_archive(path: Path, db: str, token: str | None, as_json: bool) -> None:
    try:
        # split on newlines only: a payload may hold U+2028, which splitlines() splits on
        lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    except OSError as exc:
        raise UsageError(f"cannot read archive {path}: {exc.strerror}") from None
    with open_board(db, token=token) as board:
        _local(board)
        report = board.verify_archive(lines)
    if as_json:
        dump(report.model_dump(mode="json"))
    elif report.ok:
        out.print(plain(f"ok: archive of {report.run_id}: {report.events} events proved"))
    else:
        where = f" at seq {report.bad_seq}" if report.bad_seq else ""
        err.print(plain(f"BROKEN{where}: {report.problem}"))
    if not report.ok:
        raise typer.Exit(1)
