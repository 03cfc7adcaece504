"""``baton artifacts``, ``baton artifact show|history|diff|write`` and ``baton
reservations``: a run's versioned shared context and who is holding what, from the shell.

A write names the version it read (``--base``); when that is no longer the head the
artifact's merge strategy decides, and a write that cannot be merged prints the
overlapping hunks (base, head and yours) and exits 1 with nothing written. A scope is a
task id (``run/key``, or just ``key`` within the run); without one, the run's shared
scope. Contents print exactly as stored when redirected (``show > file`` gives the file
back) and with control characters made visible on a terminal.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from baton.board import SyncBoard
from baton.interfaces.cli.common import (
    DEFAULT_ACTOR,
    DEFAULT_DB,
    Actor,
    AsJson,
    Db,
    Token,
    acting,
    dump,
    err,
    open_board,
    out,
)
from baton.interfaces.cli.text import plain
from baton.model.artifacts import Artifact, ArtifactKind, ArtifactWrite, MergeStrategy
from baton.model.errors import ArtifactConflict, InvalidArgument, NotFound

artifact_app = typer.Typer(help="Read and write a run's versioned artifacts.", no_args_is_help=True)

RunId = Annotated[str, typer.Argument(help="Run id.")]
Name = Annotated[str, typer.Argument(help="Artifact name (e.g. design.md, src/api/routes.py).")]
Scope = Annotated[
    str | None,
    typer.Option(
        "--scope",
        help="The task whose scope holds it (run/key, or key); default the run's shared scope.",
    ),
]
ActingTask = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="Act for this task (run/key, or key): its holder reads its own, its parents' "
        "and its dependencies' scopes.",
    ),
]


def _task_id(run_id: str, task: str | None) -> str | None:
    """A task id from ``run/key`` or a bare ``key`` of ``run_id`` (keys hold no ``/``)."""
    if task is None or "/" in task:
        return task
    return f"{run_id}/{task}"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _address(a: Artifact) -> str:
    return plain(a.address)


def _emit(text: str) -> None:
    """Stored text on stdout: byte for byte when redirected, with control characters
    made visible on a terminal (stored text never drives the operator's terminal)."""
    if out.is_terminal:
        shown = plain(text, newlines=True)
        out.print(shown, end="" if shown.endswith("\n") else "\n", soft_wrap=True)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


# --- listing ---------------------------------------------------------------------------


def artifacts_cmd(
    run_id: RunId,
    task: ActingTask = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The run's artifacts you may read: scope, name, kind, strategy, head version."""
    with open_board(db, token=token) as board:
        found = board.artifacts(run_id, task_id=_task_id(run_id, task))
    if as_json:
        dump([a.model_dump(mode="json") for a in found])
        return
    if not found:
        out.print(plain(f"no artifacts on run {run_id}"))
        return
    table = Table()
    for column in ("scope", "name", "kind", "strategy", "head", "updated"):
        table.add_column(column, overflow="fold", justify="right" if column == "head" else "left")
    for a in found:
        table.add_row(
            Text(plain(a.scope or "(run)")),
            Text(plain(a.name)),
            a.kind.value,
            a.strategy.value,
            str(a.head),
            _when(a.updated_at),
        )
    out.print(table)


def reservations_cmd(
    run_id: Annotated[
        str | None, typer.Argument(help="Run id (default: every run you may see).")
    ] = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The live reservations: resource, mode, holder, task, fencing id, expiry."""
    with open_board(db, token=token) as board:
        found = board.reservations(run_id)
    if as_json:
        dump([r.model_dump(mode="json") for r in found])
        return
    if not found:
        out.print(plain(f"no reservations on run {run_id}" if run_id else "no reservations"))
        return
    now = time.time()
    table = Table()
    for column in ("resource", "mode", "holder", "task", "fencing id", "expires in"):
        numeric = column in ("fencing id", "expires in")
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for r in found:
        if r.expires_at is None:
            expires = "-"
        elif r.expires_at > now:
            expires = f"{r.expires_at - now:.0f} s"
        else:
            expires = "expired"
        table.add_row(
            Text(plain(r.resource)),
            r.mode.value,
            Text(plain(r.holder)),
            Text(plain(r.task_id)),
            str(r.id),
            expires,
        )
    out.print(table)


# --- reading ---------------------------------------------------------------------------


@artifact_app.command("show")
def show(
    run_id: RunId,
    name: Name,
    scope: Scope = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="This version (default: the head).")
    ] = None,
    task: ActingTask = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Print an artifact's content (JSON pretty-printed); --json: with its version."""
    with open_board(db, token=token) as board:
        found = board.read_artifact(
            run_id,
            name,
            scope=_task_id(run_id, scope),
            version=version,
            task_id=_task_id(run_id, task),
        )
    if as_json:
        dump(found.model_dump(mode="json"))
        return
    if found.artifact.kind is ArtifactKind.JSON:
        _emit(json.dumps(found.content, indent=2, ensure_ascii=False) + "\n")
    else:
        _emit(found.content)


@artifact_app.command("history")
def history(
    run_id: RunId,
    name: Name,
    scope: Scope = None,
    task: ActingTask = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Every version, oldest first: author, size, the version read and the head merged."""
    with open_board(db, token=token) as board:
        versions = board.artifact_history(
            run_id, name, scope=_task_id(run_id, scope), task_id=_task_id(run_id, task)
        )
    if as_json:
        dump([v.model_dump(mode="json") for v in versions])
        return
    table = Table(title=plain(f"{_task_id(run_id, scope) or run_id}:{name}"))
    for column in ("version", "author", "size", "base", "merged_with", "time"):
        numeric = column in ("version", "size", "base", "merged_with")
        table.add_column(column, overflow="fold", justify="right" if numeric else "left")
    for v in versions:
        table.add_row(
            str(v.version),
            Text(plain(v.author)),
            f"{v.size:,}",
            "-" if v.base is None else str(v.base),
            "-" if v.merged_with is None else str(v.merged_with),
            _when(v.at),
        )
    out.print(table)


@artifact_app.command("diff")
def diff(
    run_id: RunId,
    name: Name,
    from_version: Annotated[int, typer.Argument(min=1, help="The older version.")],
    to_version: Annotated[
        int | None, typer.Argument(min=1, help="The newer version (default: the head).")
    ] = None,
    scope: Scope = None,
    task: ActingTask = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
) -> None:
    """A unified diff between two versions (JSON compared field per line)."""
    with open_board(db, token=token) as board:
        text = board.diff_artifact(
            run_id,
            name,
            from_version,
            to_version,
            scope=_task_id(run_id, scope),
            task_id=_task_id(run_id, task),
        )
    if text:
        _emit(text if text.endswith("\n") else text + "\n")
    else:
        err.print("no differences")


# --- writing ---------------------------------------------------------------------------


def _read_source(source: str) -> str:
    """The text of ``source``: a file, or stdin for ``-``; UTF-8."""
    if source == "-":
        data = sys.stdin.buffer.read()
        where = "stdin"
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read {source}: {exc.strerror}") from None
        where = source
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{where} is not UTF-8 text (byte {exc.start}); artifacts hold text or JSON"
        ) from None


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = "stdin" if source == "-" else source
        raise InvalidArgument(
            f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "give --kind text to store it as text"
        ) from None


def _existing_kind(
    board: SyncBoard, run_id: str, name: str, scope: str | None, task_id: str | None
) -> ArtifactKind | None:
    """The kind of the artifact being written, if it exists already (a file's text
    written to a JSON artifact is its JSON, not a JSON string)."""
    try:
        return board.read_artifact(run_id, name, scope=scope, task_id=task_id).artifact.kind
    except NotFound:
        return None


def _show_conflict(refused: ArtifactConflict, as_json: bool) -> None:
    if as_json:
        dump(
            {
                "conflict": {
                    "artifact": refused.artifact,
                    "base": refused.base,
                    "head": refused.head,
                    "why": refused.why,
                    "escalated": refused.escalated,
                    "hunks": refused.hunks,
                }
            }
        )
    else:
        read = "nothing" if refused.base is None else f"version {refused.base}"
        count = len(refused.hunks)
        for i, hunk in enumerate(refused.hunks, 1):
            where = f"at line {hunk['at_line']}" if "at_line" in hunk else f"field {hunk['field']}"
            out.print(Text(plain(f"hunk {i} of {count}, {where}:"), style="bold"))
            for side, label in (
                ("base", f"base (what you read: {read})"),
                ("head", f"head (version {refused.head})"),
                ("mine", "mine (your write)"),
            ):
                out.print(plain(f"  {label}:"))
                out.print(_indented(hunk.get(side), as_json="field" in hunk), soft_wrap=True)
    err.print(Text("conflict: ", style="red"), plain(refused), sep="", soft_wrap=True)


def _indented(value: Any, *, as_json: bool) -> str:
    """One side of a hunk, indented: text as it is, a JSON field's value as JSON."""
    if as_json and value != "(absent)":
        text = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        text = str(value) or "(nothing)"
    return "\n".join(f"    {line}" for line in plain(text, newlines=True).splitlines())


def _written(w: ArtifactWrite, base: int | None) -> str:
    address = _address(w.artifact)
    if w.merged:
        merged = w.version.merged_with
        with_ = f" with version {merged}" if merged is not None else " with the head"
        return f"{address} is at version {w.version.version}: you read {base}, merged{with_}"
    if base is not None and w.version.version == base:
        return f"{address} unchanged at version {base} (same content)"
    return f"{address} version {w.version.version} written"


@artifact_app.command("write")
def write(
    run_id: RunId,
    name: Name,
    source: Annotated[str, typer.Argument(help="A file with the content, or - for stdin.")],
    base: Annotated[
        int | None,
        typer.Option(
            "--base", min=1, help="The version you read (leave out to create the artifact)."
        ),
    ] = None,
    scope: Scope = None,
    kind: Annotated[
        ArtifactKind | None,
        typer.Option(help="text or json (default: the artifact's; text for a new one)."),
    ] = None,
    strategy: Annotated[
        MergeStrategy | None,
        typer.Option(help="When created: how a stale write merges (default merge)."),
    ] = None,
    patch: Annotated[
        bool, typer.Option("--patch", help="The content is a JSON merge patch (RFC 7386).")
    ] = False,
    task: ActingTask = None,
    lease: Annotated[
        int | None,
        typer.Option(
            "--lease", help="The task's work-lease token, when writing as its holder (--task)."
        ),
    ] = None,
    db: Db = DEFAULT_DB,
    token: Token = None,
    actor: Actor = DEFAULT_ACTOR,
    as_json: AsJson = False,
) -> None:
    """Write a new version from a file or stdin, based on the version you read; on a
    conflict print the overlapping hunks and exit 1 (nothing is written)."""
    text = _read_source(source)
    scope_id, task_id = _task_id(run_id, scope), _task_id(run_id, task)
    with open_board(db, token=token) as board:
        wanted = kind
        if wanted is None and not patch:
            wanted = _existing_kind(board, run_id, name, scope_id, task_id)
        content: Any = text
        if patch or wanted is ArtifactKind.JSON:
            content = _parse_json(text, source)
        try:
            w = board.write_artifact(
                run_id,
                name,
                content,
                base=base,
                scope=scope_id,
                kind=wanted or (None if patch else ArtifactKind.TEXT),
                strategy=strategy,
                patch=patch,
                task_id=task_id,
                token=lease,
                author=acting(board, actor),
            )
        except ArtifactConflict as refused:
            _show_conflict(refused, as_json)
            raise typer.Exit(1) from None
    if as_json:
        dump(w.model_dump(mode="json"))
    else:
        out.print(plain(_written(w, base)))
