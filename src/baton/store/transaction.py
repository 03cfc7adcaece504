"""The transaction protocol: what the Board may do inside ``async with
store.transaction() as tx`` — locked reads, writes, events — and what a store's one-trip
calls answer. Atomic and serialisable with respect to every other transaction on the
same database (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: row locks taken by the ``Tx``
reads documented below). :mod:`baton.store.protocol` is the store around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from baton.model import Duty, Run, RunState, Task
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import ArchiveRecord
from baton.model.effects import Effect
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey


class Claimable(NamedTuple):
    task: Task
    run_budget: dict[str, Any] | None


class OneTrip(NamedTuple):
    """What :meth:`Tx.claim_in_one_trip` did: ``handled`` with the claimed task (or
    ``None``: nothing was claimable), or not handled — the general path decides. For
    :meth:`Tx.submit_and_claim_in_one_trip`, ``task`` is the submitted task and
    ``claimed`` the one claimed next (``None``: nothing was claimable)."""

    handled: bool
    task: Task | None = None
    claimed: Task | None = None


#: The answer of a store with no one-trip claim (SQLite: a claim has no round trips).
GENERAL_PATH = OneTrip(handled=False)


@dataclass
class EventRef:
    """An appended event's ``seq``: known at once on SQLite, after ``Tx.flush()`` on stores
    that number events at the end of the transaction (PostgreSQL, where without a flush
    the commit numbers them and the ref is never filled in)."""

    seq: int = 0


class Tx(Protocol):
    """One open write transaction. Reads inside it see its own writes."""

    async def insert_run(self, run: Run) -> None: ...

    async def get_run(self, run_id: str) -> Run | None: ...

    async def lock_run(self, run_id: str) -> Run | None:
        """The run, locked until the transaction ends: for decisions on its budget and
        state that concurrent transactions must not both make."""
        ...

    async def set_run_state(
        self, run_id: str, state: RunState, finished_at: float | None, reason: str | None = None
    ) -> None: ...

    async def add_usage(
        self, task_id: str | None, run_id: str, *, tokens: int, cost: float, claims: int
    ) -> None:
        """Add to the task's (if given) and the run's spending counters."""
        ...

    async def next_created_seq(self) -> int:
        """A number larger than every task's ``created_seq`` so far."""
        ...

    async def insert_tasks(self, tasks: Sequence[Task]) -> None:
        """Insert tasks and their ``depends_on`` edges."""
        ...

    async def add_dependencies(self, task_id: str, dep_ids: Sequence[str], pending: int) -> None:
        """Make ``task_id`` depend on ``dep_ids`` too, ``pending`` of which are unsettled."""
        ...

    async def set_run_budget(self, run_id: str, budget: dict[str, Any] | None) -> None: ...

    async def get_task(self, task_id: str) -> Task | None:
        """The task, locked against concurrent writers until the transaction ends."""
        ...

    async def run_tasks(self, run_id: str) -> list[Task]: ...

    async def tasks_by_id(self, task_ids: Sequence[str]) -> list[Task]:
        """Those of ``task_ids`` that exist, locked, in creation order: what a change to
        a big run reads instead of the whole run (``add_tasks``, a sub-plan)."""
        ...

    async def downstream(self, task_id: str) -> set[str]:
        """The ids of every task that waits for ``task_id``, directly or through others."""
        ...

    async def holds_live_lease(self, run_id: str, owner: str, now: float) -> bool:
        """Whether ``owner`` holds an unexpired lease on a task of the run (reads only
        the live leases, not the run)."""
        ...

    async def find_claimable(
        self, role: str, run_id: str | None, now: float, *, not_reviewed_by: str = ""
    ) -> Claimable | None:
        """The best task that ``role`` may claim now (priority, then age), locked, with
        its run's budget (so a claim needs no second read).

        Claimable means ready for the worker role, or in review with no review lease
        for the reviewer role, and past its retry backoff. Rows that another
        transaction has locked are skipped, never waited on. A task in review whose
        work ``not_reviewed_by`` did (its ``worked_by``) is skipped: nobody reviews
        their own work.
        """
        ...

    async def claim_in_one_trip(
        self, role: str, run_id: str | None, now: float, *, owner: str, lease_s: float | None
    ) -> OneTrip:
        """Claim the best ready task of ``role`` for ``owner`` and commit, as the first
        and last statement of this transaction, where the store can do that in one round
        trip (PostgreSQL: the function generated from the transition table). It applies
        exactly the ``ready → running`` claim the Board would; for anything else — a
        review lease, a run with an attempts budget, a run to look up — it writes nothing
        and returns :data:`GENERAL_PATH`, and the transaction goes on as if it had just
        begun. Only for callers that need no check of their own first (the owner, no
        idempotency key)."""
        ...

    async def submit_in_one_trip(
        self,
        task_id: str,
        token: int,
        output: Any,
        now: float,
        *,
        owner: str,
        idempotency: tuple[str, str] | None = None,
    ) -> OneTrip:
        """Complete ``task_id`` with ``output`` (already checked against its contract),
        release its dependents and commit, as this transaction's only statement, where
        the store can do that in one round trip — exactly the ``running → done`` and
        ``pending → ready`` edges the Board would apply. For anything else (a lease not
        held, a run that may be over, a parent whose children are done) nothing is
        written and :data:`GENERAL_PATH` comes back. Only for a task with no review, no
        approval and no sub-plan, submitted by the owner. With ``idempotency`` (key,
        operation) the key is recorded in the same transaction, the task's row as its
        result (:func:`baton.store.rows.task_from_record`); a key already recorded
        writes nothing and comes back :data:`GENERAL_PATH`, which replays it."""
        ...

    async def submit_and_claim_in_one_trip(
        self,
        task_id: str,
        token: int,
        output: Any,
        now: float,
        *,
        owner: str,
        role: str,
        run_id: str | None,
        lease_s: float | None,
        idempotency: tuple[str, str] | None = None,
    ) -> OneTrip:
        """:meth:`submit_in_one_trip`, then :meth:`claim_in_one_trip` of ``role`` for
        the same owner, in the same transaction and the same round trip (it sees the
        dependents the submit released). All or nothing: when either must take the
        general path nothing is written and :data:`GENERAL_PATH` comes back. With
        ``idempotency`` the key is recorded with both tasks' rows
        (:func:`baton.store.rows.claimed_from_record`)."""
        ...

    async def update_task(self, task: Task, *, expect_state: str, expect_token: int) -> bool:
        """Write ``task``'s mutable fields if the row still has ``expect_state`` and
        ``expect_token``; ``False`` (and nothing written) otherwise.

        A store that sends writes later (PostgreSQL, with the next statement) returns
        ``True`` and checks the guard when the write runs: a miss then aborts the whole
        transaction with ``BatonRuntimeError``. Either way a miss is a store bug, since
        every read inside a transaction locks the rows it returns."""
        ...

    async def dependents(self, task_id: str) -> list[Task]: ...

    async def settle_dependency(self, task_id: str) -> list[Task]:
        """Count ``task_id`` as settled for each dependent; return the dependents that
        are still ``pending`` and now wait on nothing."""
        ...

    async def expired_leases(self, now: float, limit: int) -> list[Task]:
        """Tasks whose lease expired before ``now``, oldest first, locked (skip locked)."""
        ...

    async def has_open_tasks(self, run_id: str) -> bool:
        """Whether the run still has an unfinished task — answered so that two
        transactions finishing the run's last tasks at once cannot both say yes."""
        ...

    async def append_event(
        self,
        run_id: str,
        task_id: str | None,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        at: float,
    ) -> EventRef:
        """Append an event; its ``seq`` is final once :meth:`flush` has run."""
        ...

    async def flush(self) -> None:
        """Number the events appended so far (gap-free, in commit order) now, for a
        result that names their seqs. Called at most once, last, before the idempotency
        record; events not flushed by then are numbered by the commit itself."""
        ...

    async def append_events(
        self, rows: Sequence[tuple[str, str | None, str, str, dict[str, Any], float]]
    ) -> None:
        """Append many events at once, in order."""
        ...

    async def lock_duty(self, name: str) -> Duty:
        """The duty's row (created free if it did not exist), locked until the
        transaction ends."""
        ...

    async def put_duty(self, duty: Duty) -> None:
        """Write the duty's holder, token and expiry."""
        ...

    async def insert_participant(self, participant: Participant, token_hash: str) -> None:
        """Register a participant; :class:`~baton.model.errors.InvalidArgument` if its
        id is taken."""
        ...

    async def lock_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        """The participant and its token hash, locked until the transaction ends."""
        ...

    async def update_participant(self, participant: Participant, token_hash: str) -> None: ...

    async def lock_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None:
        """The artifact's head, locked until the transaction ends (writers of one
        artifact go one at a time; other artifacts are not held up)."""
        ...

    async def insert_artifact(self, artifact: Artifact) -> bool:
        """Create the artifact's head row; ``False`` (nothing written) if a concurrent
        transaction created it first."""
        ...

    async def set_artifact_head(self, artifact: Artifact) -> None:
        """Write the artifact's ``head`` and ``updated_at``."""
        ...

    async def put_blob(self, digest: str, content: str) -> None:
        """Keep ``content`` under ``digest`` (nothing happens if it is already kept)."""
        ...

    async def insert_version(self, artifact: Artifact, version: ArtifactVersion) -> None: ...

    async def version_content(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        """One version of an artifact and its content."""
        ...

    async def lock_reservations(self, *, shared: bool = False) -> None:
        """Serialise reservation decisions until the transaction ends; ``shared``: only
        keep them out (many artifact writes at once, no reservation in between)."""
        ...

    async def live_reservations(self, now: float) -> list[Reservation]:
        """Every reservation whose task still holds the work lease it was taken under."""
        ...

    async def purge_reservations(self, now: float) -> None:
        """Delete reservations that are no longer live."""
        ...

    async def insert_reservation(self, reservation: Reservation) -> int:
        """Store a reservation; its id (the fencing token: larger than every earlier one)."""
        ...

    async def delete_reservation(self, reservation_id: int) -> None: ...

    async def lock_effect(self, task_id: str, step: str) -> Effect | None:
        """The ledger entry of a task's step, locked for this transaction."""
        ...

    async def put_effect(self, effect: Effect) -> None:
        """Insert or replace a ledger entry."""
        ...

    async def insert_archived(self, rows: Sequence[tuple[int, str, bytes, bytes]]) -> None:
        """Keep (seq, run_id, digest, hash) of events moved to an archive file."""
        ...

    async def delete_run_events(self, run_id: str, up_to_seq: int) -> int:
        """Remove a run's events up to ``up_to_seq`` (archived); how many."""
        ...

    async def insert_archive(self, record: ArchiveRecord) -> None: ...

    async def insert_key(self, key: ParticipantKey) -> None: ...

    async def revoke_keys(self, participant: str, now: float) -> None:
        """Revoke every active key of ``participant`` as of ``now``."""
        ...

    async def active_key(self, participant: str) -> ParticipantKey | None: ...

    async def insert_signature(self, seq: int, key_id: str, signature: str, now: float) -> None: ...

    async def event_actor_hash(self, seq: int) -> tuple[str, bytes] | None:
        """The actor and chain hash of live event ``seq``."""
        ...

    async def lock_policies(self) -> None:
        """Serialise policy changes (versions are max + 1)."""
        ...

    async def current_policy(self) -> PolicyRecord | None:
        """The board's current policy (the highest version)."""
        ...

    async def insert_policy(self, record: PolicyRecord) -> None: ...

    async def set_run_policy(self, run_id: str, version: int) -> None:
        """Record the policy version a run was created under."""
        ...

    async def run_policy(self, run_id: str) -> PolicyRecord | None:
        """The policy a run was created under."""
        ...

    async def bump_rate(self, participant: str, rule: str, window_start: float) -> int:
        """Count one more action by ``participant`` under rate limit ``rule`` in the window
        starting at ``window_start``, forgetting its earlier windows; the window's count
        so far, this one included (rolled back with the transaction)."""
        ...

    async def role_usage(self, run_id: str, role: str) -> tuple[int, float]:
        """Tokens and cost spent so far on the run's tasks of ``role``."""
        ...

    async def get_idempotent(self, key: str) -> tuple[str, str] | None:
        """``(op, result_json)`` recorded under ``key``, if any."""
        ...

    async def put_idempotent(self, key: str, op: str, result_json: str, at: float) -> None: ...

    async def forget_idempotency(self, before: float) -> int:
        """Delete idempotency records made before ``before``; how many went."""
        ...
