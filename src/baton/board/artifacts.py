"""Artifacts on the board: versioned shared context, written without lost updates
(reads are :mod:`baton.board.artifact_reads`).

A write is one transaction: lock the artifact's head row, check the writer may write in
that scope (and, acting for a task, still holds its lease), check no other task holds
the name under an exclusive reservation, then either fast-forward (the writer read the
head), merge (it read an older version and the strategy merges cleanly), or refuse with
:class:`ArtifactConflict` — recorded as an ``artifact.conflict`` event in a transaction
of its own, since the refused one wrote nothing. See :mod:`baton.model.artifacts`."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from baton.board.authorization import (
    acting_name,
    own_name,
    require_artifact_scope,
    require_run,
)
from baton.board.core import BoardCore, check_lease, load_run
from baton.board.escalations import escalate_in
from baton.board.reservations import check_unreserved
from baton.model import LeaseKind, Task
from baton.model.artifacts import (
    Artifact,
    ArtifactKind,
    ArtifactVersion,
    ArtifactWrite,
    MergeStrategy,
    check_artifact_name,
    decode,
    digest,
    encode,
)
from baton.model.errors import (
    ArtifactConflict,
    BatonRuntimeError,
    InvalidArgument,
    NotFound,
    TransientConflict,
)
from baton.model.events import EventKind
from baton.model.limits import Limits, check_count, lookup_id, safe_repr
from baton.model.merging import apply_merge_patch, merge_json, merge_text
from baton.model.participants import Grant, Principal
from baton.store import Tx

#: Versions count from 1 and fit the stores' INTEGER columns.
MAX_VERSION = 2**31 - 1

log = logging.getLogger("baton.board.artifacts")

#: How much of a refused write an escalation carries (the human reads the rest from the
#: writer; base and head are versions on the board).
ESCALATED_CHARS = 20_000


def address_of(run_id: str, scope: str | None, name: str) -> str:
    return f"{scope or run_id}:{name}"


class ArtifactService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def write(
        self,
        run_id: str,
        name: str,
        content: Any,
        *,
        scope: str | None,
        base: int | None,
        kind: ArtifactKind | str | None,
        strategy: MergeStrategy | str | None,
        patch: bool,
        task_id: str | None,
        token: int | None,
        author: str | None,
        idempotency_key: str | None,
    ) -> ArtifactWrite:
        check_artifact_name(name)
        check_scope(scope)
        if base is not None:
            check_count("base", base, low=1, high=MAX_VERSION)
        wanted_kind = _kind_of(kind, content, patch)
        wanted_strategy = None if strategy is None else _strategy(strategy)
        address = address_of(run_id, scope, name)
        conflict: dict[str, Any] = {}

        async def write(tx: Tx, now: float, who: Principal) -> ArtifactWrite:
            run = await load_run(tx, run_id)
            require_run(who, run, "write artifacts in")  # before anything about its tasks
            acting = await self._acting(tx, who, run_id, task_id, token, now)
            if acting is not None and token is None and not who.has(Grant.CONTEXT):
                raise InvalidArgument(
                    f"writing as the holder of task {acting.id} needs its lease token"
                )
            require_artifact_scope(who, run, scope, acting, set(), write=True)
            holder = acting.lease_owner if acting is not None and acting.lease_owner else None
            by = acting_name(who, author, holder or who.id, "write artifacts as")
            # A reservation counts as the writer's own only under the lease it presented.
            await tx.lock_reservations(shared=True)  # no reserve() commits in between
            await check_unreserved(
                tx, who, run_id, name, acting.id if acting and token is not None else None, now
            )
            head = await tx.lock_artifact(run_id, scope, name)
            if head is None:
                return await self._create(
                    tx,
                    now,
                    by,
                    run_id,
                    scope,
                    name,
                    content,
                    base,
                    wanted_kind,
                    wanted_strategy,
                    patch,
                )
            if wanted_kind is not None and wanted_kind is not head.kind:
                raise InvalidArgument(
                    f"artifact {address} holds {head.kind.value}, not {wanted_kind.value}"
                )
            if wanted_strategy is not None and wanted_strategy is not head.strategy:
                raise InvalidArgument(
                    f"artifact {address} merges by {head.strategy.value}; a strategy is "
                    "chosen when the artifact is created"
                )
            if base is not None and base > head.head:
                raise InvalidArgument(
                    f"artifact {address} has no version {base} (head is {head.head})"
                )
            base_text = await self._text(tx, head, base) if base is not None else None
            head_text = await self._text(tx, head, head.head)
            # A patch applies to what the writer read — or, where the last writer wins,
            # to the head it wins over (so that fields it never named survive).
            lww = head.strategy is MergeStrategy.LAST_WRITER_WINS
            patched = head_text if lww else base_text
            mine = _mine(head.kind, content, patched, patch, self.core.limits)
            merged_with: int | None = None
            if base != head.head:
                try:
                    mine = _resolve(head, base, base_text, head_text, mine, self.core.limits)
                except ArtifactConflict as refused:
                    conflict.update(error=refused, head=head, mine=mine, acting=acting)
                    raise
                merged_with = head.head
            if mine == head_text:  # nothing changed: no new version
                version = (await _version_in(tx, head, head.head))[0]
                return ArtifactWrite(artifact=head, version=version, merged=merged_with is not None)
            return await self._append(tx, now, by, head, mine, base, merged_with)

        # The op names the content too: a key reused for another content is a conflict,
        # not a replay of the first write.
        what = hashlib.sha256(
            json.dumps([content, kind, strategy, patch, scope, task_id], default=str).encode()
        ).hexdigest()[:16]
        op = f"write_artifact {address} from {base} {what}"
        try:
            return await self.core.write(op, "artifact_write", idempotency_key, write)
        except ArtifactConflict as refused:
            if conflict:
                try:
                    await self._record_conflict(
                        refused,
                        conflict["head"],
                        conflict["mine"],
                        conflict["acting"],
                        by_name=author,
                    )
                except BatonRuntimeError:  # the refusal stands even if its record failed
                    log.warning("could not record the conflict on %s", address, exc_info=True)
            raise

    async def _acting(
        self,
        tx: Tx,
        who: Principal,
        run_id: str,
        task_id: str | None,
        token: int | None,
        now: float,
    ) -> Task | None:
        """The task the caller acts for (its lease checked when a token is given)."""
        if task_id is None:
            if token is not None:
                raise InvalidArgument("a token is the lease of a task: give task_id too")
            return None
        task = await tx.get_task(lookup_id("task", task_id))
        if task is None:
            raise NotFound("task", task_id)
        if task.run_id != run_id:
            raise NotFound("task", task_id)  # as if absent: another run's task is not named
        if token is not None:
            lease_owner = task.lease_owner or ""
            holder = lease_owner if who.owner or own_name(who, lease_owner) else who.id
            check_lease(task, token, holder, LeaseKind.WORK, now)
        return task

    async def _create(
        self,
        tx: Tx,
        now: float,
        by: str,
        run_id: str,
        scope: str | None,
        name: str,
        content: Any,
        base: int | None,
        kind: ArtifactKind | None,
        strategy: MergeStrategy | None,
        patch: bool,
    ) -> ArtifactWrite:
        address = address_of(run_id, scope, name)
        if base is not None:
            raise NotFound("artifact", address)
        kind = kind or ArtifactKind.TEXT
        if scope is not None:
            owner = await tx.get_task(lookup_id("task", scope))
            if owner is None or owner.run_id != run_id:
                raise NotFound("task", scope)
        text = encode(
            kind, apply_merge_patch(None, content) if patch else content, limits=self.core.limits
        )
        artifact = Artifact(
            run_id=run_id,
            scope=scope,
            name=name,
            kind=kind,
            strategy=strategy or MergeStrategy.MERGE,
            head=0,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        if not await tx.insert_artifact(artifact):
            # Another transaction created it between our lock and insert (PostgreSQL):
            # the retry reads it and merges or refuses like any other write.
            raise TransientConflict(f"artifact {address} was created concurrently")
        return await self._append(tx, now, by, artifact, text, None, None)

    async def _append(
        self,
        tx: Tx,
        now: float,
        by: str,
        artifact: Artifact,
        text: str,
        base: int | None,
        merged_with: int | None,
    ) -> ArtifactWrite:
        address = digest(text)
        version = ArtifactVersion(
            version=artifact.head + 1,
            digest=address,
            size=len(text.encode("utf-8")),
            base=base,
            merged_with=merged_with,
            author=by,
            at=now,
        )
        after = artifact.model_copy(update={"head": version.version, "updated_at": now})
        await tx.put_blob(address, text)
        await tx.insert_version(after, version)
        await tx.set_artifact_head(after)
        await tx.append_event(
            artifact.run_id,
            artifact.scope,
            EventKind.ARTIFACT_WRITTEN,
            by,
            {
                "name": artifact.name,
                "scope": artifact.scope,
                "version": version.version,
                "base": base,
                "merged_with": merged_with,
                "digest": address,
                "size": version.size,
                "kind": artifact.kind.value,
                "strategy": artifact.strategy.value,
            },
            now,
        )
        return ArtifactWrite(artifact=after, version=version, merged=merged_with is not None)

    async def _text(self, tx: Tx, artifact: Artifact, version: int) -> str:
        return (await _version_in(tx, artifact, version))[1]

    async def _record_conflict(
        self,
        refused: ArtifactConflict,
        head: Artifact,
        mine: str,
        acting: Task | None,
        *,
        by_name: str | None,
    ) -> None:
        """The ``artifact.conflict`` event (and, for ``escalate``, the escalation with
        base, head and the refused write), in a transaction of its own.

        Events are read by everyone who sees the run, so the contents go in only for
        the run's shared scope (readable by all of them anyway); for a task's private
        scope the event names the versions and where the hunks are, and the writer —
        who may read them — has the contents in its ``ArtifactConflict``."""
        who = self.core.principal
        now = self.core.clock()
        shared = head.scope is None
        hunks = [h if shared else _where(h) for h in refused.hunks[:20]]
        actor = by_name or (acting.lease_owner if acting and acting.lease_owner else who.id)
        async with self.core.store.transaction() as tx:
            payload = {
                "name": head.name,
                "scope": head.scope,
                "base": refused.base,
                "head": refused.head,
                "why": refused.why,
                "hunks": hunks,
                "escalated": refused.escalated,
            }
            await tx.append_event(
                head.run_id, head.scope, EventKind.ARTIFACT_CONFLICT, actor, payload, now
            )
            if refused.escalated:
                reason = (
                    f"two writes to artifact {head.address} conflict: {actor} wrote from "
                    f"version {refused.base}, the head is {refused.head}; pick or merge them "
                    "and write the result"
                )
                evidence: dict[str, Any] = {
                    "artifact": head.name,
                    "scope": head.scope,
                    "base": refused.base,
                    "head": refused.head,
                    "writer": actor,
                    "writer_task": acting.id if acting else None,
                    "refused_size": len(mine.encode("utf-8")),
                    "hunks": hunks,
                }
                if shared:
                    evidence["refused_write"] = mine[:ESCALATED_CHARS]
                task_id = acting.id if acting else head.scope
                await escalate_in(
                    tx, head.run_id, "artifact_conflict", reason, evidence, task_id, now, actor
                )


def _kind_of(kind: ArtifactKind | str | None, content: Any, patch: bool) -> ArtifactKind | None:
    found: ArtifactKind | None
    if kind is not None:
        try:
            found = ArtifactKind(kind)
        except ValueError:
            raise InvalidArgument(
                f"unknown artifact kind {safe_repr(kind)}: use text or json"
            ) from None
    else:
        found = ArtifactKind.JSON if patch or not isinstance(content, str) else None
    if patch and found is ArtifactKind.TEXT:
        raise InvalidArgument("a merge patch (RFC 7386) applies to a json artifact, not text")
    return found


def _strategy(value: MergeStrategy | str) -> MergeStrategy:
    try:
        return MergeStrategy(value)
    except ValueError:
        choices = ", ".join(s.value for s in MergeStrategy)
        raise InvalidArgument(f"unknown merge strategy {safe_repr(value)}: use {choices}") from None


def _mine(
    kind: ArtifactKind, content: Any, base_text: str | None, patch: bool, limits: Limits
) -> str:
    """What the writer means, canonically encoded: its content, or its merge patch
    applied to the version it read."""
    if patch:
        target = decode(kind, base_text) if base_text is not None else None
        content = apply_merge_patch(target, content)
    if kind is ArtifactKind.TEXT and not isinstance(content, str):
        raise InvalidArgument(f"a text artifact's content is text, got {type(content).__name__}")
    return encode(kind, content, limits=limits)


def _resolve(
    head: Artifact,
    base: int | None,
    base_text: str | None,
    head_text: str,
    mine: str,
    limits: Limits,
) -> str:
    """The text to write when the writer read ``base`` but the head is newer, by the
    artifact's strategy; :class:`ArtifactConflict` when it cannot be written."""
    if head.strategy is MergeStrategy.LAST_WRITER_WINS:
        return mine
    if base is None or base_text is None:
        raise ArtifactConflict(
            head.address, None, head.head, "it exists already; read it and name the version read"
        )
    if head.strategy is MergeStrategy.REFUSE:
        raise ArtifactConflict(head.address, base, head.head, "its strategy is refuse")
    if head.kind is ArtifactKind.TEXT:
        merged = merge_text(base_text, head_text, mine)
    else:
        merged = merge_json(
            decode(head.kind, base_text), decode(head.kind, head_text), decode(head.kind, mine)
        )
    if merged.clean:  # escalate too: only a real conflict goes to a human
        return encode(head.kind, merged.content, limits=limits)
    what = "lines" if head.kind is ArtifactKind.TEXT else "fields"
    raise ArtifactConflict(
        head.address,
        base,
        head.head,
        f"{len(merged.hunks)} overlapping change(s) to the same {what}",
        merged.hunks,
        escalated=head.strategy is MergeStrategy.ESCALATE,
    )


async def _version_in(tx: Tx, artifact: Artifact, number: int) -> tuple[ArtifactVersion, str]:
    """Version ``number`` of ``artifact`` and its content, inside the transaction."""
    found = await tx.version_content(artifact.run_id, artifact.scope, artifact.name, number)
    if found is None:
        raise NotFound("artifact version", f"{artifact.address}@{number}")
    return found


def _where(hunk: dict[str, Any]) -> dict[str, Any]:
    """A hunk without its contents: where it is and how big each side is."""
    where = {k: v for k, v in hunk.items() if k in ("at_line", "field")}
    for side in ("base", "head", "mine"):
        where[f"{side}_chars"] = len(json.dumps(hunk.get(side), ensure_ascii=False))
    return where


def check_scope(scope: str | None) -> None:
    """``scope`` is ``None`` (the run's) or a task id that could exist."""
    if scope is not None:
        if scope == "":
            raise InvalidArgument("scope is a task id, or None for the run's shared scope")
        lookup_id("task", scope)
