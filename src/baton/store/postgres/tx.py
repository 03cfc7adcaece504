"""One PostgreSQL write transaction: writes nobody reads travel with the next
statement, and events are staged at the very end and numbered by the sequencer run
right after the commit (see :class:`PgTx`, migration 0019)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from baton.model import Duty, Run, RunState, Task, TaskState
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import ArchiveRecord, event_digest
from baton.model.effects import Effect
from baton.model.errors import BatonRuntimeError
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.store import governance_rows as _grows
from baton.store import rows as _rows
from baton.store.postgres.one_trip import GENERAL_PATH_STATE
from baton.store.postgres.prepared import PREPARED as _PREPARED
from baton.store.postgres.prepared import Params, Row
from baton.store.transaction import GENERAL_PATH, Claimable, EventRef, OneTrip

#: Stated, not left to the server's default: the row-locking design relies on it.
BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
_GUARD_FAILED = "baton: "  # the message prefix of baton_expect_one_row (migration 0005)
#: Sent after every ``COMMIT`` and ``ROLLBACK``, in the same simple query: the ended
#: transaction may have been what held staged events back (migration 0019).
SEQUENCE = _PREPARED.templates["sequence_events"]
_SEQUENCER = ("baton_sequence_events", "baton_number_locked")

#: Sent with :meth:`PgTx.flush`'s numbering: from then until its ``COMMIT`` the
#: transaction holds the event counter row, so every other writer stages and every
#: reader of the log waits (up to ``catch_up_timeout_s``). The client needs only
#: milliseconds there (it encodes its answer); a session idle that long in that state is
#: a frozen client — a GC pause, a suspended VM — and the server ends it, rolling back,
#: so one frozen process holds the board back for a second at most, not for as long as
#: it stays frozen. The writer sees ``TransientConflict`` and the board retries it whole.
FLUSH_HOLD_LIMIT = "SET LOCAL idle_in_transaction_session_timeout = '1s'"

#: Rows inserted per round trip when a run is created: big enough that the round trips
#: do not matter, small enough that one message stays a few hundred kB for ordinary
#: task specs.
INSERT_BATCH = 500


class PgTx:
    """One write transaction on a pooled connection. See the module docstring.

    Round trips are what a transaction costs here (each is a wake-up of the server and
    of this process), so statements whose answer the domain does not read — guarded
    task updates, counters, the ``BEGIN`` itself — wait in ``_ahead`` and go out in one
    simple query with the next statement that needs an answer, or with the ``COMMIT``.
    The server runs them in order, so reads still see the transaction's own writes; an
    error in any of them aborts the transaction and surfaces at that next statement.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Row]) -> None:
        self._c = conn
        self._cur = conn.cursor()
        self._bind = psycopg.AsyncClientCursor(conn)  # binds literals client-side
        self._ahead: list[str] = [BEGIN]
        self._events: list[tuple[EventRef, tuple[Any, ...]]] = []
        self.inserted_tasks = 0

    def _execute(self, query: str, params: Params = ()) -> str:
        return _PREPARED.execute(self._bind, query, params)

    def _later(self, query: str, params: Params = ()) -> None:
        self._ahead.append(self._execute(query, params))

    async def _send(self, statement: str | None = None) -> psycopg.AsyncCursor[Row]:
        """Send what waits, then ``statement``, as one simple query; the cursor is left
        on the last statement's result."""
        batch = [*self._ahead, statement] if statement is not None else self._ahead
        self._ahead = []
        await self._cur.execute(";\n".join(batch))  # str: psycopg encodes it for the server
        while self._cur.nextset():
            pass
        return self._cur

    async def _one(self, query: str, params: Params = ()) -> Row | None:
        return await (await self._send(self._execute(query, params))).fetchone()

    async def _required(self, query: str, params: Params = ()) -> Row:
        """A query that always returns a row (an aggregate, a ``RETURNING``)."""
        row = await self._one(query, params)
        if row is None:
            raise BatonRuntimeError(f"query {query!r} returned no row; this is a store bug")
        return row

    async def _all(self, query: str, params: Params = ()) -> list[Row]:
        return await (await self._send(self._execute(query, params))).fetchall()

    async def insert_run(self, run: Run) -> None:
        self._later("insert_run", _rows.run_row(run))

    async def get_run(self, run_id: str) -> Run | None:
        row = await self._one("get_run", (run_id,))
        return None if row is None else _rows.run_from_row(row)

    async def lock_run(self, run_id: str) -> Run | None:
        row = await self._one("lock_run", (run_id,))
        return None if row is None else _rows.run_from_row(row)

    async def set_run_state(
        self, run_id: str, state: RunState, finished_at: float | None, reason: str | None = None
    ) -> None:
        self._later("set_run_state", (state.value, finished_at, reason, run_id))

    async def add_usage(
        self, task_id: str | None, run_id: str, *, tokens: int, cost: float, claims: int
    ) -> None:
        if task_id is not None:
            self._later("add_task_usage", (tokens, cost, task_id))
        self._later("add_run_usage", (tokens, cost, claims, run_id))

    async def next_created_seq(self) -> int:
        return int((await self._required("next_created_seq"))[0])

    async def insert_tasks(self, tasks: Sequence[Task]) -> None:
        self.inserted_tasks += len(tasks)
        statements = [self._execute("insert_task", _rows.insert_row(t)) for t in tasks]
        statements += [self._execute("insert_dep", (t.id, d)) for t in tasks for d in t.depends_on]
        for start in range(0, len(statements), INSERT_BATCH):
            self._ahead += statements[start : start + INSERT_BATCH]
            await self._send()

    async def add_dependencies(self, task_id: str, dep_ids: Sequence[str], pending: int) -> None:
        for dep_id in dep_ids:
            self._later("insert_dep", (task_id, dep_id))
        self._later("add_pending_deps", (pending, task_id))

    async def set_run_budget(self, run_id: str, budget: dict[str, Any] | None) -> None:
        value = None if budget is None else _rows.dumps(budget)
        self._later("set_run_budget", (value, run_id))

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._one("get_task_for_update", (task_id,))
        return None if row is None else _rows.task_from_row(row)

    async def run_tasks(self, run_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in await self._all("run_tasks_for_update", (run_id,))]

    async def tasks_by_id(self, task_ids: Sequence[str]) -> list[Task]:
        rows = await self._all("tasks_by_id_for_update", (sorted(set(task_ids)),))
        return [_rows.task_from_row(r) for r in rows]

    async def downstream(self, task_id: str) -> set[str]:
        return {r[0] for r in await self._all("downstream", (task_id,))}

    async def holds_live_lease(self, run_id: str, owner: str, now: float) -> bool:
        return any(r[0] == run_id for r in await self._all("live_lease_runs", (now, owner)))

    async def find_claimable(
        self, role: str, run_id: str | None, now: float, *, not_reviewed_by: str = ""
    ) -> Claimable | None:
        if run_id is None:
            # With a run paused, walking the claim index would pass its queued tasks.
            paused = await self._one("any_run_paused") is not None
            if paused:
                row = await self._one(
                    "find_claimable_past_paused", (role, role, now, not_reviewed_by)
                )
            else:
                row = await self._one("find_claimable", (role, now, not_reviewed_by))
        else:
            row = await self._one("find_claimable_in_run", (run_id, role, now, not_reviewed_by))
        if row is None:
            return None
        return Claimable(_rows.task_from_row(row), _rows.run_budget_of(row))

    async def claim_in_one_trip(
        self, role: str, run_id: str | None, now: float, *, owner: str, lease_s: float | None
    ) -> OneTrip:
        """``BEGIN; <the generated claim>; COMMIT`` as one simple query (migration 0016,
        ``one_trip.py``)."""
        params = (role, run_id, now, "", owner, lease_s, _rows.dumps(now))
        return await self._one_trip("claim_one_trip", params)

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
        """``BEGIN; <the generated submit>; COMMIT`` as one simple query (migration 0016;
        with a key, its wrapper that records it, 0021)."""
        params = (task_id, token, owner, now, _rows.dumps(now), _rows.dumps(output))
        if idempotency is None:
            return await self._one_trip("submit_one_trip", params)
        return await self._one_trip("submit_one_trip_keyed", (*idempotency, *params))

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
        """``BEGIN; <submit, then claim>; COMMIT`` as one simple query (migration 0025,
        which calls the two generated functions)."""
        key, op = idempotency if idempotency is not None else (None, None)
        at = _rows.dumps(now)
        params = (key, op, task_id, token, owner, now, at, _rows.dumps(output), role, run_id,
                  lease_s)  # fmt: skip
        return await self._one_trip("submit_and_claim_one_trip", params)

    async def _one_trip(self, query: str, params: Params) -> OneTrip:
        """Send a generated function between ``BEGIN`` and ``COMMIT``, read its rows. A
        row of nulls means it wrote nothing; SQLSTATE BT001 that it rolled back what it
        wrote. Either way the transaction has ended, and the general path that follows
        begins a new one."""
        if self._ahead != [BEGIN] or self._events:
            raise BatonRuntimeError("a one-trip call must be a transaction's only statement")
        call = self._execute(query, params)
        try:
            await self._cur.execute(";\n".join([BEGIN, call, "COMMIT", SEQUENCE]))
        except psycopg.Error as exc:
            if exc.sqlstate != GENERAL_PATH_STATE:
                raise
            await self.rollback()
            self._ahead = [BEGIN]
            return GENERAL_PATH
        self._cur.nextset()  # BEGIN's result, then the call's
        rows = await self._cur.fetchall()
        while self._cur.nextset():
            pass
        self._ahead = [BEGIN]  # committed: what follows (the general path) is new
        if not rows:
            return OneTrip(handled=True)
        if rows[0][0] is None:
            return GENERAL_PATH
        claimed = _rows.task_from_row(rows[1]) if len(rows) > 1 else None
        return OneTrip(handled=True, task=_rows.task_from_row(rows[0]), claimed=claimed)

    async def update_task(self, task: Task, *, expect_state: str, expect_token: int) -> bool:
        """Always ``True``: the write goes out with the next statement, and its guard is
        checked by the server (migration 0005), failing the transaction if it matched
        no row — which the row locks taken by every read here make a store bug."""
        self._later("update_task", (*_rows.update_row(task, expect_state, expect_token), task.id))
        return True

    async def dependents(self, task_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in await self._all("dependents", (task_id,))]

    async def settle_dependency(self, task_id: str) -> list[Task]:
        settled = [_rows.task_from_row(r) for r in await self._all("settle_dependency", (task_id,))]
        ready = (t for t in settled if t.pending_deps == 0 and t.state is TaskState.PENDING)
        return sorted(ready, key=lambda t: t.created_seq)

    async def expired_leases(self, now: float, limit: int) -> list[Task]:
        return [_rows.task_from_row(r) for r in await self._all("expired_leases", (now, limit))]

    async def has_open_tasks(self, run_id: str) -> bool:
        """Safe against the run's last tasks finishing in concurrent transactions, each
        of which would see the other's task still open (READ COMMITTED).

        First, cheaply: an open task that no other transaction is changing, share-locked
        so that none can finish it before we commit — then the run is certainly not
        finished. Only when every open task is being changed (the end of a run) do we
        wait on the run's row and look again (a statement of its own, so it sees
        whatever committed before we got the lock)."""
        if await self._flag("open_task_held", (run_id,)):
            return True
        self._later("lock_run", (run_id,))
        return await self._flag("has_open_tasks", (run_id,))

    async def _flag(self, query: str, params: Params) -> bool:
        row = await self._one(query, params)
        return row is not None and bool(row[0])

    async def append_event(
        self,
        run_id: str,
        task_id: str | None,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        at: float,
    ) -> EventRef:
        ref = EventRef()
        text = _rows.dumps(payload)
        digest = event_digest(run_id, task_id, kind, actor, at, text).hex()
        self._events.append((ref, (run_id, task_id, kind, actor, text, at, digest)))
        return ref

    async def append_events(
        self, rows: Sequence[tuple[str, str | None, str, str, dict[str, Any], float]]
    ) -> None:
        for r, t, k, a, p, at in rows:
            await self.append_event(r, t, k, a, p, at)

    async def flush(self) -> None:
        """Number the buffered events and write them now, in one statement, for a result
        that names their seqs: the old path (migration 0019's ``baton_number_events``),
        which numbers every staged event it can see first and then holds the counter
        row's lock until this transaction commits. :meth:`commit` stages instead, and
        locks nothing."""
        if not self._events:
            return
        self._ahead.append(FLUSH_HOLD_LIMIT)
        row = await self._required("append_events_numbered", self._tail_params())
        first = int(row[0]) - len(self._events) + 1
        for offset, (ref, _) in enumerate(self._events):
            ref.seq = first + offset
        self._events.clear()

    async def commit(self) -> None:
        """Send what waits, stage the events still buffered, commit, and run the
        sequencer, all as one simple query: no lock is held across the commit's WAL
        flush, so concurrent writers share flushes, and the events are numbered as soon
        as every older transaction has ended (usually by this very query)."""
        if self._ahead == [BEGIN] and not self._events:
            return  # nothing was sent: there is no transaction to end
        if self._events:
            self._later("stage_events", self._tail_params())
            self._events.clear()
        self._ahead.append("COMMIT")
        try:
            await self._send(SEQUENCE)
        except psycopg.Error as exc:
            if not _from_sequencer(exc):
                raise
            # Committed: the sequencer failing after it (a cancel, a timeout) leaves
            # the events staged for the next sequencer, which every reader runs.

    async def rollback(self) -> None:
        self._ahead.clear()
        self._events.clear()
        if self._c.info.transaction_status != TransactionStatus.IDLE:
            await self._c.execute(f"ROLLBACK; {SEQUENCE}".encode())

    def _tail_params(self) -> dict[str, Any]:
        rows = ",".join(
            f'{_rows.dumps([run, task, kind, actor, at])[:-1]},{payload},"{digest}"]'
            for _, (run, task, kind, actor, payload, at, digest) in self._events
        )
        return {"n": len(self._events), "rows": f"[{rows}]"}

    async def lock_duty(self, name: str) -> Duty:
        self._later("ensure_duty", (name,))
        row = await self._one("get_duty", (name,))
        if row is None:  # ensure_duty inserted it in this very transaction
            raise BatonRuntimeError(f"duty {name!r} vanished inside a transaction")
        return Duty(name=name, holder=row[0], token=row[1], expires_at=row[2])

    async def put_duty(self, duty: Duty) -> None:
        self._later("put_duty", (duty.holder, duty.token, duty.expires_at, duty.name))

    async def insert_participant(self, participant: Participant, token_hash: str) -> None:
        self._later("insert_participant", _rows.participant_row(participant, token_hash))

    async def lock_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        row = await self._one("lock_participant", (participant_id,))
        return None if row is None else _rows.participant_from_row(row)

    async def update_participant(self, participant: Participant, token_hash: str) -> None:
        row = _rows.participant_row(participant, token_hash)
        self._later("update_participant", (*row[1:], row[0]))

    async def lock_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None:
        row = await self._one("lock_artifact", (run_id, _rows.scope_key(scope), name))
        return None if row is None else _rows.artifact_from_row(row)

    async def insert_artifact(self, artifact: Artifact) -> bool:
        return await self._one("insert_artifact", _rows.artifact_row(artifact)) is not None

    async def set_artifact_head(self, artifact: Artifact) -> None:
        scope = _rows.scope_key(artifact.scope)
        params = (artifact.head, artifact.updated_at, artifact.run_id, scope, artifact.name)
        self._later("set_artifact_head", params)

    async def put_blob(self, digest: str, content: str) -> None:
        self._later("put_blob", (digest, content))

    async def insert_version(self, artifact: Artifact, version: ArtifactVersion) -> None:
        self._later("insert_version", _rows.version_row(artifact, version))

    async def version_content(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        row = await self._one("version_content", (run_id, _rows.scope_key(scope), name, version))
        return None if row is None else (_rows.version_from_row(row[:-1]), row[-1])

    async def lock_reservations(self, *, shared: bool = False) -> None:
        await self._one("lock_reservations_shared" if shared else "lock_reservations")

    async def live_reservations(self, now: float) -> list[Reservation]:
        return [_rows.reservation_from_row(r) for r in await self._all("live_reservations", (now,))]

    async def purge_reservations(self, now: float) -> None:
        self._later("purge_reservations", (now,))

    async def insert_reservation(self, reservation: Reservation) -> int:
        row = await self._required("insert_reservation", _rows.reservation_row(reservation))
        return int(row[0])

    async def delete_reservation(self, reservation_id: int) -> None:
        self._later("delete_reservation", (reservation_id,))

    async def lock_effect(self, task_id: str, step: str) -> Effect | None:
        row = await self._one("get_effect", (task_id, step))
        return None if row is None else _grows.effect_from_row(row)

    async def put_effect(self, effect: Effect) -> None:
        self._later("put_effect", _grows.effect_row(effect))

    async def insert_archived(self, rows: Sequence[tuple[int, str, bytes, bytes]]) -> None:
        for row in rows:
            self._later("insert_archived", row)

    async def delete_run_events(self, run_id: str, up_to_seq: int) -> int:
        await self._send(self._execute("delete_run_events", (run_id, up_to_seq)))
        return int(self._cur.rowcount)

    async def insert_archive(self, record: ArchiveRecord) -> None:
        self._later("insert_archive", _grows.archive_row(record))

    async def insert_key(self, key: ParticipantKey) -> None:
        self._later("insert_key", (key.key_id, key.participant, key.public_key, key.added_at))

    async def revoke_keys(self, participant: str, now: float) -> None:
        self._later("revoke_keys", (now, participant))

    async def active_key(self, participant: str) -> ParticipantKey | None:
        row = await self._one("active_key", (participant,))
        return None if row is None else _grows.key_from_row(row)

    async def insert_signature(self, seq: int, key_id: str, signature: str, now: float) -> None:
        self._later("insert_signature", (seq, key_id, signature, now))

    async def event_actor_hash(self, seq: int) -> tuple[str, bytes] | None:
        row = await self._one("event_actor_hash", (seq,))
        return None if row is None or row[1] is None else (row[0], bytes(row[1]))

    async def lock_policies(self) -> None:
        await self._one("lock_policies")

    async def current_policy(self) -> PolicyRecord | None:
        row = await self._one("current_policy")
        return None if row is None else _grows.policy_from_row(row)

    async def insert_policy(self, record: PolicyRecord) -> None:
        self._later("insert_policy", _grows.policy_row(record))

    async def set_run_policy(self, run_id: str, version: int) -> None:
        self._later("set_run_policy", (run_id, version))

    async def run_policy(self, run_id: str) -> PolicyRecord | None:
        row = await self._one("run_policy", (run_id,))
        return None if row is None else _grows.policy_from_row(row)

    async def bump_rate(self, participant: str, rule: str, window_start: float) -> int:
        self._later("purge_rate", (participant, rule, window_start))
        return int((await self._required("bump_rate", (participant, rule, window_start)))[0])

    async def role_usage(self, run_id: str, role: str) -> tuple[int, float]:
        row = await self._required("role_usage", (run_id, role))
        return int(row[0]), float(row[1])

    async def get_idempotent(self, key: str) -> tuple[str, str] | None:
        row = await self._one("get_idempotent", (key,))
        return None if row is None else (row[0], row[1])

    async def forget_idempotency(self, before: float) -> int:
        cur = await self._send(self._execute("forget_idempotency", (before,)))
        return int(cur.rowcount)

    async def put_idempotent(self, key: str, op: str, result_json: str, at: float) -> None:
        self._later("put_idempotent", (key, op, result_json, at))  # a twin: see transaction()


def _from_sequencer(exc: psycopg.Error) -> bool:
    """Whether ``exc`` was raised inside the sequencer (after the ``COMMIT``)."""
    context = exc.diag.context or ""
    return any(name in context for name in _SEQUENCER)
