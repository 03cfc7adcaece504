"""Artifacts: named, versioned pieces of shared context (a document, a file's content, a
decision, a JSON object) that agents and people read and write through the board.

An artifact lives in a *scope*: its run (``scope=None``: shared by every task of the
run) or one task (``scope="<task id>"``; a sub-task has its own). Every version is kept;
contents are stored once per digest (content-addressed), so writing back what is
already there costs a version row, not a second copy. A write names the version it read
(its *base*); when that is no longer the head, the artifact's :class:`MergeStrategy`
decides — merge, last writer wins, escalate to a human, or refuse — and a write that
cannot be merged is refused with :class:`~baton.model.errors.ArtifactConflict`. Nothing
is ever overwritten silently.

Pure data and pure functions: the canonical encoding of a content and its digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from baton.model.errors import InvalidArgument
from baton.model.limits import DEFAULT_LIMITS, Limits, json_problem, safe_repr, text_problem


class ArtifactKind(StrEnum):
    TEXT = "text"  # any Unicode text: a document, a file's content
    JSON = "json"  # a JSON value: a decision, a config, structured notes


class MergeStrategy(StrEnum):
    """What a write whose base is no longer the head does."""

    MERGE = "merge"  # three-way merge: lines for text, fields for JSON; overlaps conflict
    LAST_WRITER_WINS = "last_writer_wins"  # the write becomes the head (chosen at creation)
    ESCALATE = "escalate"  # refused, and a human gets base, head and the refused write
    REFUSE = "refuse"  # refused: the writer re-reads and decides


class Artifact(BaseModel):
    """An artifact's head: where it lives, how it merges, and its latest version."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    scope: str | None  # a task id, or None for the run's shared scope
    name: str
    kind: ArtifactKind
    strategy: MergeStrategy
    head: int  # the latest version's number (versions count from 1)
    created_by: str
    created_at: float
    updated_at: float

    @property
    def address(self) -> str:
        """``run:name`` or ``task:name``: how messages and errors name it."""
        return f"{self.scope or self.run_id}:{self.name}"


class ArtifactVersion(BaseModel):
    """One kept version: who wrote it, when, how big, and what it was based on."""

    model_config = ConfigDict(frozen=True)

    version: int
    digest: str  # sha256 of the canonical content
    size: int  # bytes of the canonical content
    base: int | None  # the version the writer read (None for the first)
    merged_with: int | None  # the head it was merged with, when base was not the head
    author: str
    at: float


class ArtifactContent(BaseModel):
    """An artifact's head and one of its versions, with that version's content."""

    artifact: Artifact
    version: ArtifactVersion
    content: Any  # str for text, a JSON value for json


class ArtifactWrite(BaseModel):
    """What a write did: the artifact after it and the version it made; ``merged`` when
    the writer's base was behind and the strategy merged (or let it win)."""

    artifact: Artifact
    version: ArtifactVersion
    merged: bool = False


#: What an artifact name may be: a path-like name (``design.md``, ``src/api/routes.py``).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-+@=,~ ]+(/[A-Za-z0-9_.\-+@=,~ ]+)*")
NAME_RULE = (
    "1 to 300 characters: path segments of letters, digits, spaces and _ . - + @ = , ~ "
    "joined by '/', no empty, '.' or '..' segment"
)


def check_artifact_name(value: object) -> str:
    """``value`` if it can name an artifact; else :class:`InvalidArgument` naming it."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= 300
        or not NAME_PATTERN.fullmatch(value)
        or any(part.strip() in {"", ".", ".."} for part in value.split("/"))
    ):
        raise InvalidArgument(f"invalid artifact name {safe_repr(value)}: use {NAME_RULE}")
    return value


def encode(kind: ArtifactKind, content: Any, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """The canonical text of ``content``: the text itself, or JSON with sorted keys and
    no spaces (so equal values have equal digests). Refuses what no store can keep and
    what is larger than ``limits.max_artifact_bytes``."""
    if kind is ArtifactKind.TEXT:
        if not isinstance(content, str):
            raise InvalidArgument(
                f"a text artifact's content is text, got {type(content).__name__}"
            )
        problem = text_problem(content)
        if problem:
            raise InvalidArgument(f"the artifact's text {problem}")
        text = content
    else:
        unlimited = Limits(max_json_bytes=limits.max_artifact_bytes * 4, max_depth=limits.max_depth)
        problem_ = json_problem(content, limits=unlimited)
        if problem_ is not None:
            raise InvalidArgument(f"the artifact's JSON is not storable: {problem_}")
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode("utf-8"))
    if size > limits.max_artifact_bytes:
        raise InvalidArgument(
            f"the artifact is {size:,} bytes; the limit is {limits.max_artifact_bytes:,} "
            "(Limits.max_artifact_bytes)"
        )
    return text


def decode(kind: ArtifactKind, text: str) -> Any:
    """The content a canonical text stands for."""
    return text if kind is ArtifactKind.TEXT else json.loads(text)


def digest(text: str) -> str:
    """The content address of a canonical text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
