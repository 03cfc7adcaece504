"""The Store protocol: the only way the domain touches persistence.

A store runs well-defined operations; it knows nothing of policies, retries or reviews.
Mutations happen inside ``async with store.transaction() as tx``, which is atomic and
serialisable with respect to every other transaction on the same database (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: row locks taken by the ``Tx`` reads documented below).
Events appended in a transaction become visible, with their ``seq``, exactly when it
commits; ``seq`` is gap-free and increases in commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from baton.model import Duty, Event, Run, Task
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import ArchivedEvent, ArchiveRecord, ChainHead, ChainLink
from baton.model.effects import Effect
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.store.transaction import Tx


class Store(Protocol):
    """Durable board state plus its event log. See the module docstring."""

    url: str

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def get_run(self, run_id: str) -> Run | None: ...

    async def list_runs(self) -> list[Run]: ...

    async def get_task(self, task_id: str) -> Task | None: ...

    async def list_tasks(self, run_id: str) -> list[Task]: ...

    async def count_by_state(self, run_id: str) -> dict[str, int]: ...

    async def watched_tasks(self, run_id: str, review_rounds_at_least: int) -> list[Task]:
        """The run's open tasks that are blocked or have at least that many review
        rounds, by creation: what a watchdog pass needs, without reading the whole run."""
        ...

    async def read_events(self, *, since: int, run_id: str | None, limit: int) -> list[Event]:
        """Committed events with ``seq > since``, in ``seq`` order."""
        ...

    async def latest_events(self, run_id: str, kind_prefix: str, limit: int) -> list[Event]:
        """The run's last ``limit`` events whose kind starts with ``kind_prefix``, in order."""
        ...

    async def read_briefing(
        self, run_id: str, kind_prefix: str, limit: int, task_ids: Sequence[str]
    ) -> tuple[Run | None, list[Event], list[Task]]:
        """:meth:`get_run`, :meth:`latest_events` and the tasks of ``task_ids`` that
        exist (any order) in one read: what a worker reads before each attempt
        (PostgreSQL: one round trip instead of two plus one per task)."""
        ...

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        """``(seq, at)`` of the run's last event that is progress (not a lease renewal,
        usage record, message or escalation), or ``None``."""
        ...

    async def last_seq(self) -> int: ...

    async def archive_rows(self, run_id: str, after: int, limit: int) -> list[ArchivedEvent]:
        """A run's live events exactly as stored (payload text, hash), for an archive."""
        ...

    async def archived_links(self, run_id: str) -> dict[int, tuple[bytes, bytes]]:
        """seq → (digest, hash) of a run's archived events."""
        ...

    async def get_archive(self, run_id: str) -> ArchiveRecord | None: ...

    async def all_keys(self) -> list[ParticipantKey]:
        """Every participant key ever registered (revoked ones too)."""
        ...

    async def signatures_between(self, after: int, up_to: int) -> list[tuple[Any, ...]]:
        """(seq, key_id, signature, signed_at, event hash, event actor) in seq order."""
        ...

    async def current_policy(self) -> PolicyRecord | None:
        """The board's current policy."""
        ...

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        """How many of the run's tasks wait to be claimed, per role (its queues' depth)."""
        ...

    async def list_effects(self, task_id: str) -> list[Effect]:
        """A task's effect ledger, oldest first."""
        ...

    async def chain_head(self) -> ChainHead:
        """The audit chain's recorded head: the last event's seq and hash."""
        ...

    async def chain_links(self, after: int, up_to: int, limit: int) -> list[ChainLink]:
        """Up to ``limit`` links of the audit chain with ``after < seq <= up_to``, in seq
        order, live and archived events together."""
        ...

    async def link_hash(self, seq: int) -> bytes | None:
        """The hash stored with event ``seq`` (live or archived)."""
        ...

    async def run_span(self, run_id: str) -> tuple[int, int] | None:
        """The first and last seq of a run's events, live or archived."""
        ...

    async def get_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        """The participant and its token hash."""
        ...

    async def participant_by_token(self, token_hash: str) -> tuple[Participant, str] | None:
        """The participant whose current token hashes to ``token_hash``."""
        ...

    async def list_participants(self) -> list[Participant]: ...

    async def get_duty(self, name: str) -> Duty | None:
        """The duty as last committed, or ``None`` if nobody ever took it."""
        ...

    async def get_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None: ...

    async def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The run's artifacts, every scope, by scope then name."""
        ...

    async def list_versions(
        self, run_id: str, scope: str | None, name: str
    ) -> list[ArtifactVersion]:
        """Every version of the artifact, oldest first."""
        ...

    async def read_version(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        """One committed version and its content."""
        ...

    async def list_reservations(self, now: float) -> list[Reservation]:
        """The live reservations, oldest first."""
        ...

    async def wait_for_commit(self, after_seq: int, timeout: float) -> bool:
        """Return ``True`` once an event with ``seq > after_seq`` is committed (by any
        process), ``False`` after ``timeout`` seconds."""
        ...

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        """Return a seq ``> after_seq`` once a commit after ``after_seq`` may have made
        a task claimable or changed a run's state (early is allowed, missing one is
        not), ``None`` after ``timeout`` seconds. Every commit up to the returned seq is
        visible to the caller's next read, and any later one that makes work wakes a
        wait from it. A store that cannot tell such commits apart waits for any commit."""
        ...

    def idle_turn(self, key: str, timeout: float) -> AbstractAsyncContextManager[bool]:
        """Hold the idle workers' turn ``key`` (:mod:`baton.model.turns`) for an
        ``async with`` block: ``True`` once it is this caller's, ``False`` if another
        holder kept it for ``timeout`` seconds. Within one process always; across
        processes where the store can (PostgreSQL). When it cannot be asked, ``True``."""
        ...

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted: for audits and "nothing changed" checks."""
        ...

    async def backup(self, destination: str) -> int:
        """A consistent copy of the store at ``destination`` (a file); its size. Stores
        with tools of their own for this (PostgreSQL) raise ``UsageError`` naming them."""
        ...

    async def close(self) -> None: ...
