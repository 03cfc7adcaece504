"""``baton audit verify [RUN | --all]``: prove the event log's hash chain (docs/audit.md).

Prints how many events it proved and the chain's head hash — keep that line somewhere
else (a ticket, a commit, a log shipped off the machine): a later verify that still
passes through it proves nothing before it was rewritten. A broken chain prints the
first bad seq and what is wrong there, and exits 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

from baton.interfaces.cli.common import DEFAULT_DB, AsJson, Db, Token, dump, err, open_board, out
from baton.interfaces.cli.text import plain
from baton.model.errors import UsageError

audit_app = typer.Typer(help="Prove the event log is untouched.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd(
    run_id: Annotated[str | None, typer.Argument(help="Run id (or --all).")] = None,
    every: Annotated[bool, typer.Option("--all", help="The whole log, every run.")] = False,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Walk the hash chain; name the first edited, deleted, inserted or moved event."""
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
