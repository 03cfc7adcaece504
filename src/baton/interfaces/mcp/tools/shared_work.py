"""Shared work: versioned artifacts (read, write, history, diff, list) and reservations
of paths and named resources (reserve, release, list). The Board enforces scopes,
leases, merges and reservations; a refused write comes back as an ``ArtifactConflict``
tool error with the hunks, a held path as ``ReservationConflict`` naming the holder."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool

SCOPE = (
    "A task id for that task's private scope; omit for the run's shared scope. You read "
    "your task's, its dependencies' and its ancestors' scopes and the run's; you write in "
    "your own task's (unless granted more)."
)
ACTING = "The task you hold (your claim's task_id): scopes are checked against it."


class ReadArtifact(Args):
    run_id: str = Field(description="The run.")
    name: str = Field(description="The artifact's name, e.g. design.md or src/api/routes.py.")
    scope: str | None = Field(default=None, description=SCOPE)
    version: int | None = Field(default=None, ge=1, description="A version (default: head).")
    task_id: str | None = Field(default=None, description=ACTING)


@board_tool("read_artifact", ReadArtifact, read_only=True)
async def read_artifact(board: BoardAPI, args: ReadArtifact) -> dict[str, Any]:
    """An artifact's content at its head (or a version), with the version number to pass
    as `base` when you write it back."""
    found = await board.read_artifact(
        args.run_id, args.name, scope=args.scope, version=args.version, task_id=args.task_id
    )
    return found.model_dump(mode="json")


class WriteArtifact(Args):
    run_id: str = Field(description="The run.")
    name: str = Field(description="The artifact's name (path-like).")
    content: Any = Field(description="Text, or a JSON value (or an RFC 7386 merge patch).")
    base: int | None = Field(
        default=None,
        ge=1,
        description="The version you read (read_artifact); omit only to create it.",
    )
    scope: str | None = Field(default=None, description=SCOPE)
    task_id: str | None = Field(default=None, description=ACTING)
    token: int | None = Field(default=None, description="Your lease's token (from claim).")
    kind: str | None = Field(default=None, description="text or json (default: from content).")
    strategy: str | None = Field(
        default=None,
        description="At creation only: merge (default), last_writer_wins, escalate, refuse.",
    )
    patch: bool = Field(default=False, description="content is an RFC 7386 merge patch.")


@board_tool("write_artifact", WriteArtifact)
async def write_artifact(board: BoardAPI, args: WriteArtifact) -> dict[str, Any]:
    """Write a new version based on the version you read. If someone wrote since, the
    Board merges (text lines, JSON fields) or refuses with ArtifactConflict and the
    overlapping hunks: read again, redo your change, write again. Never overwrites."""
    written = await board.write_artifact(
        args.run_id,
        args.name,
        args.content,
        base=args.base,
        scope=args.scope,
        kind=args.kind,
        strategy=args.strategy,
        patch=args.patch,
        task_id=args.task_id,
        token=args.token,
    )
    return written.model_dump(mode="json")


class ArtifactHistory(Args):
    run_id: str = Field(description="The run.")
    name: str = Field(description="The artifact's name.")
    scope: str | None = Field(default=None, description=SCOPE)
    task_id: str | None = Field(default=None, description=ACTING)


@board_tool("artifact_history", ArtifactHistory, read_only=True)
async def artifact_history(board: BoardAPI, args: ArtifactHistory) -> dict[str, Any]:
    """Every version: author, time, size, the version it was based on, what it merged."""
    versions = await board.artifact_history(
        args.run_id, args.name, scope=args.scope, task_id=args.task_id
    )
    return {"versions": [v.model_dump(mode="json") for v in versions]}


class DiffArtifact(Args):
    run_id: str = Field(description="The run.")
    name: str = Field(description="The artifact's name.")
    from_version: int = Field(ge=1, description="The older version.")
    to_version: int | None = Field(default=None, ge=1, description="Default: the head.")
    scope: str | None = Field(default=None, description=SCOPE)
    task_id: str | None = Field(default=None, description=ACTING)


@board_tool("diff_artifact", DiffArtifact, read_only=True)
async def diff_artifact(board: BoardAPI, args: DiffArtifact) -> dict[str, Any]:
    """A unified diff between two versions (JSON compared field per line)."""
    text = await board.diff_artifact(
        args.run_id, args.name, args.from_version, args.to_version,
        scope=args.scope, task_id=args.task_id,
    )  # fmt: skip
    return {"diff": text}


class ListArtifacts(Args):
    run_id: str = Field(description="The run.")
    task_id: str | None = Field(default=None, description=ACTING)


@board_tool("list_artifacts", ListArtifacts, read_only=True)
async def list_artifacts(board: BoardAPI, args: ListArtifacts) -> dict[str, Any]:
    """The run's artifacts you may read: name, scope, kind, strategy, head version."""
    found = await board.artifacts(args.run_id, task_id=args.task_id)
    return {"artifacts": [a.model_dump(mode="json") for a in found]}


class Reserve(Args):
    task_id: str = Field(description="The task you hold.")
    token: int = Field(description="Your lease's token (from claim).")
    resources: list[str] = Field(
        min_length=1, description="Path patterns (src/api/**, docs/*.md) or names (db:schema)."
    )
    mode: str = Field(default="exclusive", description="exclusive or shared.")
    wait_s: float | None = Field(
        default=None, gt=0, le=600, description="Wait up to this long for a holder to finish."
    )


@board_tool("reserve", Reserve)
async def reserve(board: BoardAPI, args: Reserve) -> dict[str, Any]:
    """Reserve paths before you edit them, all or none: others are refused overlapping
    reservations and writes under yours. They last as long as your lease (heartbeat
    keeps them) and end when you submit, fail or release. A refusal names the holder."""
    taken = await board.reserve(
        args.task_id, args.token, args.resources, participant=board.principal.id,
        mode=args.mode, wait_s=args.wait_s,
    )  # fmt: skip
    return {"reservations": [r.model_dump(mode="json") for r in taken]}


class ReleaseReservations(Args):
    task_id: str = Field(description="The task you hold.")
    token: int = Field(description="Your lease's token.")
    resources: list[str] | None = Field(default=None, description="Default: all of them.")


@board_tool("release_reservations", ReleaseReservations)
async def release_reservations(board: BoardAPI, args: ReleaseReservations) -> dict[str, Any]:
    """End your task's reservations (some or all) before you hand it in."""
    gone = await board.release_reservations(
        args.task_id, args.token, args.resources, participant=board.principal.id
    )
    return {"released": [r.model_dump(mode="json") for r in gone]}


class ListReservations(Args):
    run_id: str | None = Field(default=None, description="Default: every run you see.")


@board_tool("list_reservations", ListReservations, read_only=True)
async def list_reservations(board: BoardAPI, args: ListReservations) -> dict[str, Any]:
    """Who holds which paths now, for which task, until when."""
    found = await board.reservations(args.run_id)
    return {"reservations": [r.model_dump(mode="json") for r in found]}


TOOLS: list[BoardTool[Any]] = [
    read_artifact,
    write_artifact,
    artifact_history,
    diff_artifact,
    list_artifacts,
    reserve,
    release_reservations,
    list_reservations,
]
