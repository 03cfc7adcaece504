"""One SQLite write transaction: every operation of :class:`~baton.store.Tx` as named
queries on the writer connection, inside the ``BEGIN IMMEDIATE`` that
:class:`~baton.store.sqlite.store.SqliteStore` opens (so every read here sees this
transaction's writes, and nothing else writes meanwhile)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from baton.model import Duty, Run, RunState, Task
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.audit import GENESIS, ArchiveRecord, ChainHead, event_digest, link
from baton.model.effects import Effect
from baton.model.participants import Participant
from baton.model.policies import PolicyRecord
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.store import governance_rows as _grows
from baton.store import rows as _rows
from baton.store.sql_files import load_queries
from baton.store.transaction import GENERAL_PATH, Claimable, EventRef, OneTrip

QUERIES = load_queries("sqlite")

_EventRow = tuple[str, str | None, str, str, dict[str, Any], float]


class SqliteTx:
    """A ``BEGIN IMMEDIATE`` transaction on the writer connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn
        self.wrote_events = False
        self._head: ChainHead | None = None

    async def insert_run(self, run: Run) -> None:
        self._c.execute(QUERIES["insert_run"], _rows.run_row(run))

    async def get_run(self, run_id: str) -> Run | None:
        row = self._c.execute(QUERIES["get_run"], (run_id,)).fetchone()
        return None if row is None else _rows.run_from_row(row)

    async def lock_run(self, run_id: str) -> Run | None:
        return await self.get_run(run_id)  # BEGIN IMMEDIATE already serialises writers

    async def set_run_state(
        self, run_id: str, state: RunState, finished_at: float | None, reason: str | None = None
    ) -> None:
        self._c.execute(QUERIES["set_run_state"], (state.value, finished_at, reason, run_id))

    async def add_usage(
        self, task_id: str | None, run_id: str, *, tokens: int, cost: float, claims: int
    ) -> None:
        if task_id is not None:
            self._c.execute(QUERIES["add_task_usage"], (tokens, cost, task_id))
        self._c.execute(QUERIES["add_run_usage"], (tokens, cost, claims, run_id))

    async def next_created_seq(self) -> int:
        return int(self._c.execute(QUERIES["next_created_seq"]).fetchone()[0])

    async def insert_tasks(self, tasks: Sequence[Task]) -> None:
        self._c.executemany(QUERIES["insert_task"], [_rows.insert_row(t) for t in tasks])
        self._c.executemany(QUERIES["insert_dep"], [(t.id, d) for t in tasks for d in t.depends_on])

    async def add_dependencies(self, task_id: str, dep_ids: Sequence[str], pending: int) -> None:
        self._c.executemany(QUERIES["insert_dep"], [(task_id, d) for d in dep_ids])
        self._c.execute(QUERIES["add_pending_deps"], (pending, task_id))

    async def set_run_budget(self, run_id: str, budget: dict[str, Any] | None) -> None:
        self._c.execute(
            QUERIES["set_run_budget"], (None if budget is None else _rows.dumps(budget), run_id)
        )

    async def get_task(self, task_id: str) -> Task | None:
        row = self._c.execute(QUERIES["get_task"], (task_id,)).fetchone()
        return None if row is None else _rows.task_from_row(row)

    async def run_tasks(self, run_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in self._c.execute(QUERIES["list_tasks"], (run_id,))]

    async def tasks_by_id(self, task_ids: Sequence[str]) -> list[Task]:
        rows = (self._c.execute(QUERIES["get_task"], (i,)).fetchone() for i in set(task_ids))
        found = [_rows.task_from_row(r) for r in rows if r is not None]
        return sorted(found, key=lambda t: t.created_seq)  # in-process: a lookup each

    async def downstream(self, task_id: str) -> set[str]:
        return {r[0] for r in self._c.execute(QUERIES["downstream"], (task_id,))}

    async def holds_live_lease(self, run_id: str, owner: str, now: float) -> bool:
        runs = self._c.execute(QUERIES["live_lease_runs"], (now, owner))
        return any(r[0] == run_id for r in runs)

    async def claim_in_one_trip(
        self, role: str, run_id: str | None, now: float, *, owner: str, lease_s: float | None
    ) -> OneTrip:
        return GENERAL_PATH  # in-process: the general path costs no round trips here

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
        return GENERAL_PATH

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
        return GENERAL_PATH

    async def find_claimable(
        self, role: str, run_id: str | None, now: float, *, not_reviewed_by: str = ""
    ) -> Claimable | None:
        if run_id is None:
            # With a run paused, walking the claim index would pass its queued tasks.
            paused = self._c.execute(QUERIES["any_run_paused"]).fetchone() is not None
            query = QUERIES["find_claimable_past_paused" if paused else "find_claimable"]
            row = self._c.execute(query, (role, now, not_reviewed_by)).fetchone()
        else:
            row = self._c.execute(
                QUERIES["find_claimable_in_run"], (run_id, role, now, not_reviewed_by)
            ).fetchone()
        if row is None:
            return None
        return Claimable(_rows.task_from_row(row), _rows.run_budget_of(row))

    async def update_task(self, task: Task, *, expect_state: str, expect_token: int) -> bool:
        cur = self._c.execute(
            QUERIES["update_task"], _rows.update_row(task, expect_state, expect_token)
        )
        return cur.rowcount == 1

    async def dependents(self, task_id: str) -> list[Task]:
        return [_rows.task_from_row(r) for r in self._c.execute(QUERIES["dependents"], (task_id,))]

    async def settle_dependency(self, task_id: str) -> list[Task]:
        rows = self._c.execute(QUERIES["settle_dependency"], (task_id,)).fetchall()
        ready_ids = [r[0] for r in rows if r[1] == 0 and r[2] == "pending"]
        found = [await self.get_task(i) for i in sorted(ready_ids)]
        return sorted((t for t in found if t is not None), key=lambda t: t.created_seq)

    async def expired_leases(self, now: float, limit: int) -> list[Task]:
        rows = self._c.execute(QUERIES["expired_leases"], (now, limit))
        return [_rows.task_from_row(r) for r in rows]

    async def has_open_tasks(self, run_id: str) -> bool:
        return self._c.execute(QUERIES["has_open_tasks"], (run_id,)).fetchone() is not None

    async def append_event(
        self,
        run_id: str,
        task_id: str | None,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        at: float,
    ) -> EventRef:
        seq = self._chain(((run_id, task_id, kind, actor, payload, at),))
        return EventRef(seq)

    async def flush(self) -> None:
        """Nothing to do: events are numbered as they are appended, in commit order."""

    async def append_events(
        self, rows: Sequence[tuple[str, str | None, str, str, dict[str, Any], float]]
    ) -> None:
        if rows:
            self._chain(rows)

    def _chain(self, rows: Sequence[_EventRow]) -> int:
        """Number and hash events onto the chain (model/audit.py) and insert them. This
        transaction holds the database's one write lock, so the head it read is the
        last committed event and the numbers are handed out in commit order."""
        if self._head is None:
            row = self._c.execute(QUERIES["chain_head"]).fetchone()
            self._head = ChainHead(0, GENESIS) if row is None else ChainHead(row[0], row[1])
        seq, previous = self._head.seq, self._head.hash
        values = []
        for run_id, task_id, kind, actor, payload, at in rows:
            seq += 1
            text = _rows.dumps(payload)
            previous = link(previous, seq, event_digest(run_id, task_id, kind, actor, at, text))
            values.append((seq, run_id, task_id, kind, actor, text, at, previous))
        self._c.executemany(QUERIES["append_event"], values)
        self._head = ChainHead(seq, previous)
        self.wrote_events = True
        return seq

    def seal(self) -> None:
        """Record the chain's new head; called just before ``COMMIT``."""
        if self._head is not None and self.wrote_events:
            self._c.execute(QUERIES["put_chain_head"], (self._head.seq, self._head.hash))

    async def lock_duty(self, name: str) -> Duty:
        self._c.execute(QUERIES["ensure_duty"], (name,))
        holder, token, expires_at = self._c.execute(QUERIES["get_duty"], (name,)).fetchone()
        return Duty(name=name, holder=holder, token=token, expires_at=expires_at)

    async def put_duty(self, duty: Duty) -> None:
        self._c.execute(QUERIES["put_duty"], (duty.holder, duty.token, duty.expires_at, duty.name))

    async def insert_participant(self, participant: Participant, token_hash: str) -> None:
        self._c.execute(
            QUERIES["insert_participant"], _rows.participant_row(participant, token_hash)
        )

    async def lock_participant(self, participant_id: str) -> tuple[Participant, str] | None:
        row = self._c.execute(QUERIES["lock_participant"], (participant_id,)).fetchone()
        return None if row is None else _rows.participant_from_row(row)

    async def update_participant(self, participant: Participant, token_hash: str) -> None:
        row = _rows.participant_row(participant, token_hash)
        self._c.execute(QUERIES["update_participant"], (*row[1:], row[0]))

    async def lock_artifact(self, run_id: str, scope: str | None, name: str) -> Artifact | None:
        row = self._c.execute(
            QUERIES["lock_artifact"], (run_id, _rows.scope_key(scope), name)
        ).fetchone()
        return None if row is None else _rows.artifact_from_row(row)

    async def insert_artifact(self, artifact: Artifact) -> bool:
        return (
            self._c.execute(QUERIES["insert_artifact"], _rows.artifact_row(artifact)).fetchone()
            is not None
        )

    async def set_artifact_head(self, artifact: Artifact) -> None:
        self._c.execute(
            QUERIES["set_artifact_head"],
            (
                artifact.head,
                artifact.updated_at,
                artifact.run_id,
                _rows.scope_key(artifact.scope),
                artifact.name,
            ),
        )

    async def put_blob(self, digest: str, content: str) -> None:
        self._c.execute(QUERIES["put_blob"], (digest, content))

    async def insert_version(self, artifact: Artifact, version: ArtifactVersion) -> None:
        self._c.execute(QUERIES["insert_version"], _rows.version_row(artifact, version))

    async def version_content(
        self, run_id: str, scope: str | None, name: str, version: int
    ) -> tuple[ArtifactVersion, str] | None:
        params = (run_id, _rows.scope_key(scope), name, version)
        row = self._c.execute(QUERIES["version_content"], params).fetchone()
        return None if row is None else (_rows.version_from_row(row[:-1]), row[-1])

    async def lock_reservations(self, *, shared: bool = False) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serialises every write."""

    async def live_reservations(self, now: float) -> list[Reservation]:
        rows = self._c.execute(QUERIES["live_reservations"], (now,)).fetchall()
        return [_rows.reservation_from_row(r) for r in rows]

    async def purge_reservations(self, now: float) -> None:
        self._c.execute(QUERIES["purge_reservations"], (now,))

    async def insert_reservation(self, reservation: Reservation) -> int:
        row = self._c.execute(
            QUERIES["insert_reservation"], _rows.reservation_row(reservation)
        ).fetchone()
        return int(row[0])

    async def delete_reservation(self, reservation_id: int) -> None:
        self._c.execute(QUERIES["delete_reservation"], (reservation_id,))

    async def lock_effect(self, task_id: str, step: str) -> Effect | None:
        row = self._c.execute(QUERIES["get_effect"], (task_id, step)).fetchone()
        return None if row is None else _grows.effect_from_row(row)

    async def put_effect(self, effect: Effect) -> None:
        self._c.execute(QUERIES["put_effect"], _grows.effect_row(effect))

    async def insert_archived(self, rows: Sequence[tuple[int, str, bytes, bytes]]) -> None:
        self._c.executemany(QUERIES["insert_archived"], rows)

    async def delete_run_events(self, run_id: str, up_to_seq: int) -> int:
        return int(self._c.execute(QUERIES["delete_run_events"], (run_id, up_to_seq)).rowcount)

    async def insert_archive(self, record: ArchiveRecord) -> None:
        self._c.execute(QUERIES["insert_archive"], _grows.archive_row(record))

    async def insert_key(self, key: ParticipantKey) -> None:
        self._c.execute(
            QUERIES["insert_key"], (key.key_id, key.participant, key.public_key, key.added_at)
        )

    async def revoke_keys(self, participant: str, now: float) -> None:
        self._c.execute(QUERIES["revoke_keys"], (now, participant))

    async def active_key(self, participant: str) -> ParticipantKey | None:
        row = self._c.execute(QUERIES["active_key"], (participant,)).fetchone()
        return None if row is None else _grows.key_from_row(row)

    async def insert_signature(self, seq: int, key_id: str, signature: str, now: float) -> None:
        self._c.execute(QUERIES["insert_signature"], (seq, key_id, signature, now))

    async def event_actor_hash(self, seq: int) -> tuple[str, bytes] | None:
        row = self._c.execute(QUERIES["event_actor_hash"], (seq,)).fetchone()
        return None if row is None or row[1] is None else (row[0], bytes(row[1]))

    async def lock_policies(self) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serialises every write."""

    async def current_policy(self) -> PolicyRecord | None:
        row = self._c.execute(QUERIES["current_policy"]).fetchone()
        return None if row is None else _grows.policy_from_row(row)

    async def insert_policy(self, record: PolicyRecord) -> None:
        self._c.execute(QUERIES["insert_policy"], _grows.policy_row(record))

    async def set_run_policy(self, run_id: str, version: int) -> None:
        self._c.execute(QUERIES["set_run_policy"], (run_id, version))

    async def run_policy(self, run_id: str) -> PolicyRecord | None:
        row = self._c.execute(QUERIES["run_policy"], (run_id,)).fetchone()
        return None if row is None else _grows.policy_from_row(row)

    async def bump_rate(self, participant: str, rule: str, window_start: float) -> int:
        self._c.execute(QUERIES["purge_rate"], (participant, rule, window_start))
        row = self._c.execute(QUERIES["bump_rate"], (participant, rule, window_start)).fetchone()
        return int(row[0])

    async def role_usage(self, run_id: str, role: str) -> tuple[int, float]:
        tokens, cost = self._c.execute(QUERIES["role_usage"], (run_id, role)).fetchone()
        return int(tokens), float(cost)

    async def get_idempotent(self, key: str) -> tuple[str, str] | None:
        row = self._c.execute(QUERIES["get_idempotent"], (key,)).fetchone()
        return None if row is None else (row[0], row[1])

    async def put_idempotent(self, key: str, op: str, result_json: str, at: float) -> None:
        self._c.execute(QUERIES["put_idempotent"], (key, op, result_json, at))

    async def forget_idempotency(self, before: float) -> int:
        return int(self._c.execute(QUERIES["forget_idempotency"], (before,)).rowcount)
