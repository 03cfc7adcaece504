"""Reading artifacts: the head or a version with its content, the history, a diff, the
list a caller may read. Reads go to committed rows (no transaction); each checks the
scope the Board's rules let the caller read (:func:`require_artifact_scope`), acting for
the task it names. Writes are :mod:`baton.board.artifacts`."""

from __future__ import annotations

from baton.board.artifacts import MAX_VERSION, address_of, check_scope
from baton.board.authorization import readable_scopes, require_artifact_scope
from baton.board.core import BoardCore
from baton.model import Task
from baton.model.artifacts import (
    Artifact,
    ArtifactContent,
    ArtifactKind,
    ArtifactVersion,
    check_artifact_name,
    decode,
)
from baton.model.errors import NotFound, PermissionDenied
from baton.model.limits import check_count, lookup_id
from baton.model.merging import pretty_json, unified_diff
from baton.model.participants import Principal
from baton.store import Store


class ArtifactReads:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def read(
        self,
        run_id: str,
        name: str,
        *,
        scope: str | None,
        version: int | None,
        task_id: str | None,
    ) -> ArtifactContent:
        check_artifact_name(name)
        check_scope(scope)
        if version is not None:
            check_count("version", version, low=1, high=MAX_VERSION)

        async def read(who: Principal) -> ArtifactContent:
            artifact = await self._readable(who, run_id, scope, name, task_id)
            number = artifact.head if version is None else version
            found, text = await self._version(artifact, number)
            return ArtifactContent(
                artifact=artifact, version=found, content=decode(artifact.kind, text)
            )

        return await self.core.read(read)

    async def history(
        self, run_id: str, name: str, *, scope: str | None, task_id: str | None
    ) -> list[ArtifactVersion]:
        check_artifact_name(name)
        check_scope(scope)

        async def read(who: Principal) -> list[ArtifactVersion]:
            await self._readable(who, run_id, scope, name, task_id)
            return await self.core.store.list_versions(run_id, scope, name)

        return await self.core.read(read)

    async def diff(
        self,
        run_id: str,
        name: str,
        from_version: int,
        to_version: int | None,
        *,
        scope: str | None,
        task_id: str | None,
    ) -> str:
        check_artifact_name(name)
        check_scope(scope)
        check_count("from_version", from_version, low=1, high=MAX_VERSION)
        if to_version is not None:
            check_count("to_version", to_version, low=1, high=MAX_VERSION)

        async def read(who: Principal) -> str:
            artifact = await self._readable(who, run_id, scope, name, task_id)
            texts = []
            for number in (from_version, to_version or artifact.head):
                _, text = await self._version(artifact, number)
                shown = pretty_json(text) if artifact.kind is ArtifactKind.JSON else text
                texts.append((f"{artifact.address}@{number}", shown))
            (old_name, old), (new_name, new) = texts
            return unified_diff(old, new, old_name, new_name)

        return await self.core.read(read)

    async def list(self, run_id: str, *, task_id: str | None) -> list[Artifact]:
        """The run's artifacts the caller may read."""

        async def read(who: Principal) -> list[Artifact]:
            run = await self.core.visible_run(who, run_id, "read artifacts of")
            acting = await self._acting_read(who, run_id, task_id)
            readable = await readable_from(self.core.store, acting)
            out = []
            for artifact in await self.core.store.list_artifacts(run_id):
                try:
                    require_artifact_scope(who, run, artifact.scope, acting, readable, write=False)
                except PermissionDenied:  # not readable: not listed
                    continue
                out.append(artifact)
            return out

        return await self.core.read(read)

    async def _version(self, artifact: Artifact, number: int) -> tuple[ArtifactVersion, str]:
        """A committed version of ``artifact`` and its content."""
        found = await self.core.store.read_version(
            artifact.run_id, artifact.scope, artifact.name, number
        )
        if found is None:
            raise NotFound("artifact version", f"{artifact.address}@{number}")
        return found

    async def _acting_read(self, who: Principal, run_id: str, task_id: str | None) -> Task | None:
        if task_id is None:
            return None
        task = await self.core.store.get_task(lookup_id("task", task_id))
        if task is None or task.run_id != run_id:
            raise NotFound("task", task_id)
        return task

    async def _readable(
        self, who: Principal, run_id: str, scope: str | None, name: str, task_id: str | None
    ) -> Artifact:
        run = await self.core.visible_run(who, run_id, "read artifacts of")
        acting = await self._acting_read(who, run_id, task_id)
        readable = await readable_from(self.core.store, acting)
        require_artifact_scope(who, run, scope, acting, readable, write=False)
        artifact = await self.core.store.get_artifact(run_id, scope, name)
        if artifact is None:
            raise NotFound("artifact", address_of(run_id, scope, name))
        return artifact


async def readable_from(store: Store, acting: Task | None) -> set[str | None]:
    """The scopes ``acting``'s holder may read: its lineage is read from committed rows
    (a task's parent never changes), walking up at most 100 levels."""
    if acting is None:
        return {None}
    ancestors: list[str] = []
    parent = acting.parent_id
    while parent is not None and len(ancestors) < 100:
        ancestors.append(parent)
        found = await store.get_task(parent)
        parent = found.parent_id if found is not None else None
    return readable_scopes(acting, ancestors)
