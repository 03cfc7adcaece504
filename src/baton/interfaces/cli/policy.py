"""``baton policy set FILE``, ``baton policy show`` and ``baton policy check PLAN``: the
board's policy as data (docs/policies.md). ``check`` shows what a plan would trigger —
approvals, budgets, a refusal to create it — before anything runs, and changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from baton.interfaces.cli.common import DEFAULT_DB, AsJson, Db, Token, dump, open_board, out
from baton.interfaces.cli.text import plain
from baton.model.errors import InvalidArgument
from baton.planning.files import load_plan

policy_app = typer.Typer(help="The board's policy: who may do what, as data.", no_args_is_help=True)


def _document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read policy {path}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"policy {path} is not YAML or JSON: {exc}") from None


@policy_app.command("set")
def set_cmd(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON policy document.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
) -> None:
    """Make FILE the board's policy (a new version; runs already created keep theirs)."""
    document = _document(file)
    if not isinstance(document, dict):
        raise InvalidArgument(f"policy {file} must be a mapping at the top level")
    with open_board(db, token=token) as board:
        record = board.set_policy(document)
    out.print(plain(f"policy {record.policy.name!r} is version {record.version}"))


@policy_app.command("show")
def show_cmd(db: Db = DEFAULT_DB, token: Token = None) -> None:
    """The board's current policy, as JSON."""
    with open_board(db, token=token) as board:
        record = board.policy()
    dump(None if record is None else record.model_dump(mode="json"))


@policy_app.command("check")
def check_cmd(
    plan_file: Annotated[Path, typer.Argument(help="A YAML or JSON plan.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """What the board's policy would do with PLAN if you ran it now (nothing written)."""
    plan = load_plan(plan_file)
    with open_board(db, token=token) as board:
        found = board.check_policy(plan)
    if as_json:
        dump(found.model_dump(mode="json"))
    elif found.version is None:
        out.print(plain("no policy is set on this board: the plan runs as written"))
    else:
        verdict = "may be created" if found.may_create else f"REFUSED: {found.refusal}"
        out.print(plain(f"policy version {found.version}: the run {verdict}"))
        table = Table()
        for column in ("rule", "task", "effect"):
            table.add_column(column, overflow="fold")
        for t in found.triggered:
            table.add_row(plain(t.rule), plain(t.task or "(run)"), plain(t.effect))
        if found.triggered:
            out.print(table)
        else:
            out.print(plain("no rule changes this plan"))
    if not found.may_create:
        raise typer.Exit(1)
