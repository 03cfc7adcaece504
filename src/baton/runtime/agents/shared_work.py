"""Shared work from inside an attempt: ``ctx.artifacts`` and ``ctx.reservations``.

Each call is the Board call made for this task under this attempt's lease (so a stale
attempt can write nothing), with the scope rules the Board enforces: an agent reads the
run's shared artifacts, its own task's, its ancestors' and its dependencies'; it writes
in its own task's scope (``scope=TASK``, the default for writes) unless its participant
has the context grant (then ``scope=None`` is the run's shared scope).

:meth:`Artifacts.update` is the read-modify-write loop every writer of shared state
needs: read the head, apply a change, write it based on the version read, and on
:class:`~baton.model.errors.ArtifactConflict` read again and re-apply — so concurrent
writers lose no update and nobody writes the loop twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from baton.model.artifacts import (
    Artifact,
    ArtifactContent,
    ArtifactKind,
    ArtifactWrite,
    MergeStrategy,
)
from baton.model.errors import ArtifactConflict, NotFound
from baton.model.reservations import Reservation, ReservationMode

if TYPE_CHECKING:
    from baton.runtime.agents.context import TaskContext

#: ``scope=TASK``: this task's own scope (its global id cannot collide: ids hold a "/").
TASK: Final = "task"


class Artifacts:
    """This attempt's view of the run's artifacts (``ctx.artifacts``)."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def _scope(self, scope: str | None) -> str | None:
        return self._ctx.task.id if scope == TASK else scope

    async def read(
        self, name: str, *, scope: str | None = None, version: int | None = None
    ) -> ArtifactContent:
        """The artifact's head (or ``version``) in ``scope`` (``None``: the run's;
        ``TASK``: this task's; or another task's id)."""
        ctx = self._ctx
        return await ctx.board.read_artifact(
            ctx.run.id, name, scope=self._scope(scope), version=version, task_id=ctx.task.id
        )

    async def write(
        self,
        name: str,
        content: Any,
        *,
        base: int | None = None,
        scope: str | None = TASK,
        kind: ArtifactKind | str | None = None,
        strategy: MergeStrategy | str | None = None,
        patch: bool = False,
    ) -> ArtifactWrite:
        """Write a version based on ``base`` (the version read; ``None`` creates)."""
        ctx = self._ctx
        return await ctx.board.write_artifact(
            ctx.run.id,
            name,
            content,
            base=base,
            scope=self._scope(scope),
            kind=kind,
            strategy=strategy,
            patch=patch,
            task_id=ctx.task.id,
            token=ctx.lease.token,
            author=ctx.participant,
        )

    async def update(
        self,
        name: str,
        change: Callable[[Any], Any],
        *,
        scope: str | None = TASK,
        kind: ArtifactKind | str | None = None,
        strategy: MergeStrategy | str | None = None,
        attempts: int = 20,
    ) -> ArtifactWrite:
        """Read the head, write ``change(content)`` based on it (``change(None)`` when
        there is none yet), and on a conflict read again and re-apply, up to
        ``attempts`` times. ``change`` gets a copy and may be called more than once.

        Raises:
            ArtifactConflict: still conflicting after ``attempts`` tries, or escalated
                to a human (then retrying would only ask again).
        """
        last: ArtifactConflict | None = None
        for _ in range(max(1, attempts)):
            try:
                current = await self.read(name, scope=scope)
            except NotFound as missing:
                if missing.kind != "artifact":
                    raise  # the run or the task, not the artifact, is missing
                base, value = None, None
            else:
                base, value = current.version.version, copy.deepcopy(current.content)
            try:
                return await self.write(
                    name, change(value), base=base, scope=scope, kind=kind, strategy=strategy
                )
            except ArtifactConflict as conflict:
                if conflict.escalated:
                    raise
                last = conflict
        assert last is not None
        raise last

    async def list(self) -> list[Artifact]:
        """The run's artifacts this task may read."""
        return await self._ctx.board.artifacts(self._ctx.run.id, task_id=self._ctx.task.id)

    async def diff(
        self,
        name: str,
        from_version: int,
        to_version: int | None = None,
        *,
        scope: str | None = None,
    ) -> str:
        ctx = self._ctx
        return await ctx.board.diff_artifact(
            ctx.run.id, name, from_version, to_version, scope=self._scope(scope),
            task_id=ctx.task.id,
        )  # fmt: skip

    def read_sync(
        self, name: str, *, scope: str | None = None, version: int | None = None
    ) -> ArtifactContent:
        """:meth:`read` for a sync agent."""
        return self._ctx._blocking("artifacts.read", self.read(name, scope=scope, version=version))

    def write_sync(self, name: str, content: Any, **kw: Any) -> ArtifactWrite:
        """:meth:`write` for a sync agent."""
        return self._ctx._blocking("artifacts.write", self.write(name, content, **kw))

    def update_sync(self, name: str, change: Callable[[Any], Any], **kw: Any) -> ArtifactWrite:
        """:meth:`update` for a sync agent."""
        return self._ctx._blocking("artifacts.update", self.update(name, change, **kw))


class Reservations:
    """This task's reservations (``ctx.reservations``): they last as long as the
    attempt's lease, which the worker keeps renewing."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    async def reserve(
        self,
        resources: Sequence[str],
        *,
        mode: ReservationMode | str = ReservationMode.EXCLUSIVE,
        wait_s: float | None = None,
    ) -> list[Reservation]:
        """Reserve path patterns (``src/api/**``) or names, all or none; with
        ``wait_s``, wait that long for a holder to finish first.

        Raises:
            ReservationConflict: held by another task (names holder, task, expiry).
        """
        ctx = self._ctx
        return await ctx.board.reserve(
            ctx.task.id, ctx.lease.token, resources, participant=ctx.participant, mode=mode,
            wait_s=wait_s,
        )  # fmt: skip

    async def release(self, resources: Sequence[str] | None = None) -> list[Reservation]:
        """End this task's reservations (``resources``, or all) before handing in."""
        ctx = self._ctx
        return await ctx.board.release_reservations(
            ctx.task.id, ctx.lease.token, resources, participant=ctx.participant
        )

    def reserve_sync(self, resources: Sequence[str], **kw: Any) -> list[Reservation]:
        """:meth:`reserve` for a sync agent."""
        return self._ctx._blocking("reservations.reserve", self.reserve(resources, **kw))

    def release_sync(self, resources: Sequence[str] | None = None) -> list[Reservation]:
        """:meth:`release` for a sync agent."""
        return self._ctx._blocking("reservations.release", self.release(resources))
