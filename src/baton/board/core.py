"""The board's plumbing: one transaction per call, idempotency, lease checks."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter

from baton.board.authorization import require_run, require_self
from baton.board.rates import RateGate
from baton.board.transitions import Later
from baton.model import Duty, Event, Lease, LeaseKind, Run, Task
from baton.model.artifacts import ArtifactWrite
from baton.model.audit import ArchiveRecord
from baton.model.effects import Effect, EffectStart
from baton.model.errors import (
    IdempotencyConflict,
    InvalidArgument,
    LeaseLost,
    NotFound,
    PermissionDenied,
    PolicyDenied,
    TransientConflict,
    Unauthenticated,
)
from baton.model.events import BOARD_SCOPE, EventKind
from baton.model.limits import DEFAULT_LIMITS, Limits, lookup_id
from baton.model.messages import DEFAULT_MESSAGE_KINDS
from baton.model.participants import OWNER, Principal, same_hash
from baton.model.policies import PolicyRecord
from baton.model.redaction import Redactor
from baton.model.reservations import Reservation
from baton.model.signatures import ParticipantKey
from baton.store import Store, Tx
from baton.store.rows import claimed_from_record, task_from_record

T = TypeVar("T")

#: A call the store may do in one round trip for the owner, as a transaction's only
#: statement (tx, now, op, idempotency key): its result, or ``None`` when it did nothing.
OwnersTrip = Callable[[Tx, float, str, str | None], Awaitable[T | None]]
V = TypeVar("V")
M = TypeVar("M")


class SubmitResult(BaseModel):
    """What a submit did: the task after it, and the contract violations if refused;
    for a submit-and-claim, the task claimed next (``None``: none)."""

    task: Task
    violations: list[str] = []
    claimed: Task | None = None


def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


_CODECS: dict[str, TypeAdapter[Any]] = {
    "create_run": _adapter(Run),
    "claim": _adapter(Lease | None),
    "heartbeat": _adapter(Lease),
    "submit": _adapter(SubmitResult),
    "task": _adapter(Task),
    "tasks": _adapter(list[Task]),
    "event": _adapter(Event),
    "duty": _adapter(Duty | None),
    "none": _adapter(None),
    "artifact_write": _adapter(ArtifactWrite),
    "reservations": _adapter(list[Reservation]),
    "effect_start": _adapter(EffectStart),
    "effect": _adapter(Effect),
    "policy": _adapter(PolicyRecord),
    "archive": _adapter(ArchiveRecord),
    "key": _adapter(ParticipantKey),
    "count": _adapter(int),
}


class BoardCore:
    """What every board service shares: the store, the clock, the random source, and
    :meth:`write`, the one way a service changes the store.

    ``clock`` and ``rng`` are injectable so that tests can expire leases and pin retry
    jitter without sleeping.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        message_kinds: Mapping[str, type[BaseModel]] = DEFAULT_MESSAGE_KINDS,
        limits: Limits = DEFAULT_LIMITS,
        principal: Principal = OWNER,
        redactor: Redactor | None = None,
        rates: RateGate | None = None,
    ) -> None:
        self.store = store
        #: The rate limits of the board's policy, checked in every write (board/rates.py).
        self.rates = rates or RateGate()
        #: Secrets kept out of everything this board stores (model/redaction.py): this
        #: process's secret environment values and the shapes of keys and tokens.
        self.redactor = redactor or Redactor.from_environment()
        self.principal = principal
        self.limits = limits
        self.clock = clock
        self.rng = rng or random.Random()
        self.message_kinds = message_kinds
        self.max_conflict_retries = 8

    def acting_as(self, principal: Principal) -> BoardCore:
        """The same store, clock and limits, acting as ``principal``."""
        return BoardCore(
            self.store,
            clock=self.clock,
            rng=self.rng,
            message_kinds=self.message_kinds,
            limits=self.limits,
            principal=principal,
            redactor=self.redactor,
            rates=self.rates,
        )

    def redact(self, value: V) -> V:
        """``value`` (text or JSON) with every secret replaced: what any write that
        stores free text or caller-supplied JSON stores instead."""
        redacted: V = self.redactor.value(value)
        return redacted

    def redact_model(self, value: M) -> M:
        """A plan, task spec or mapping with its secrets replaced (parsed again only when
        something was)."""
        if not isinstance(value, BaseModel):
            return self.redact(value)
        dumped = value.model_dump(mode="json", exclude_unset=True)
        redacted = self.redactor.value(dumped)
        return value if redacted is dumped else type(value).model_validate(redacted)

    async def verify(self, tx: Tx | None = None) -> Principal:
        """The acting principal, fresh from the store: a revoked participant or a
        rotated token is refused at once (:class:`Unauthenticated`), and changed roles
        or grants apply to this very call. The owner needs no lookup."""
        if self.principal.owner:
            return self.principal
        pid = self.principal.id
        found = await (tx.lock_participant(pid) if tx else self.store.get_participant(pid))
        if found is None:
            raise Unauthenticated(f"participant {pid} is not registered")
        participant, token_hash = found
        if participant.revoked_at is not None:
            raise Unauthenticated(f"participant {pid} was revoked")
        if not same_hash(token_hash, self.principal.token_hash):
            raise Unauthenticated(f"the token of {pid} was rotated")
        return Principal.of(participant, token_hash)

    async def read(self, body: Callable[[Principal], Awaitable[T]]) -> T:
        """Run a read as the verified principal; a refusal is recorded like a write's."""
        try:
            return await body(await self.verify())
        except PermissionDenied as denied:
            await self.record_denied(denied)
            raise

    async def visible_run(self, who: Principal, run_id: str, action: str) -> Run:
        """The run, if ``who`` may see it: :class:`NotFound` if there is none,
        :class:`PermissionDenied` if it is not granted."""
        return seen_run(who, run_id, await self.store.get_run(lookup_id("run", run_id)), action)

    async def record_denied(self, denied: PermissionDenied) -> None:
        """An ``access.denied`` event for the audit trail, in a transaction of its own
        (the refused call changed nothing)."""
        payload: dict[str, Any] = {
            "action": denied.action,
            "target": denied.target,
            "missing": denied.missing,
        }
        kind = EventKind.ACCESS_DENIED
        if isinstance(denied, PolicyDenied):
            kind = EventKind.POLICY_DENIED
            payload.update(rule=denied.rule, version=denied.version)
        async with self.store.transaction() as tx:
            await tx.append_event(
                denied.run_id or BOARD_SCOPE, None, kind, denied.participant, payload, self.clock()
            )

    async def write(
        self,
        op: str,
        codec: str,
        key: str | None,
        body: Callable[[Tx, float, Principal], Awaitable[T | Later[T]]],
        *,
        owners_trip: OwnersTrip[T] | None = None,
    ) -> T:
        """Run ``body`` in one transaction, honouring the idempotency key.

        ``op`` names the operation *and its target* (e.g. ``"submit r/x by w1"``), so a
        key reused for another task or participant is a conflict, not a silent replay.
        A transaction the store had to abort for a transient conflict (a PostgreSQL
        deadlock) is run again from the start, a bounded number of times.

        ``owners_trip``, for the owner only, is tried first, as the transaction's only
        statement: a call the store may do in one round trip, checking and recording
        the idempotency key itself (``None``: it did nothing, and the key is checked and
        ``body`` runs as usual).
        """
        for attempt in range(1, self.max_conflict_retries + 1):
            try:
                return await self._write_once(op, codec, key, body, owners_trip)
            except PermissionDenied as denied:
                await self.record_denied(denied)
                raise
            except TransientConflict:
                if attempt == self.max_conflict_retries:
                    raise
                await asyncio.sleep(self.rng.uniform(0, 0.002 * attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write_once(
        self,
        op: str,
        codec: str,
        key: str | None,
        body: Callable[[Tx, float, Principal], Awaitable[T | Later[T]]],
        owners_trip: OwnersTrip[T] | None,
    ) -> T:
        async with self.store.transaction() as tx:
            who = await self.verify(tx)
            if not who.owner:
                op = f"{op} as {who.id}"  # another participant's key replays nothing
            elif owners_trip is not None:
                done = await owners_trip(tx, self.clock(), op, key)
                if done is not None:
                    return done
            if key is not None:
                prior = await tx.get_idempotent(key)
                if prior is not None:
                    if prior[0] != op:
                        raise IdempotencyConflict(key, prior[0], op)
                    recorded = task_from_record(prior[1]) if codec == "submit" else None
                    if recorded is not None:  # recorded by the store's one trip
                        return cast(
                            T,
                            SubmitResult.model_construct(
                                task=recorded, violations=[], claimed=claimed_from_record(prior[1])
                            ),
                        )
                    replayed: T = _CODECS[codec].validate_json(prior[1])
                    return replayed
            now = self.clock()
            await self.rates.check(tx, who, op, now)
            outcome = await body(tx, now, who)
            if isinstance(outcome, Later):
                await tx.flush()  # the result names its events' seqs
                result: T = outcome.make()
            else:
                result = outcome  # the commit numbers the events
            if key is not None:
                encoded = _CODECS[codec].dump_json(result).decode()
                await tx.put_idempotent(key, op, encoded, now)
            return result


def seen_run(who: Principal, run_id: str, run: Run | None, action: str) -> Run:
    """``run`` (read as ``run_id``), if ``who`` may see it: :class:`NotFound` if there is
    none, :class:`PermissionDenied` if it is not granted."""
    if run is None:
        raise NotFound("run", run_id)
    require_run(who, run, action)
    return run


async def load_task(tx: Tx, task_id: str) -> Task:
    """The task, locked for this transaction; :class:`NotFound` if there is none."""
    task = await tx.get_task(lookup_id("task", task_id))
    if task is None:
        raise NotFound("task", task_id)
    return task


async def load_run(tx: Tx, run_id: str, *, lock: bool = False) -> Run:
    """The run (locked for this transaction with ``lock``); :class:`NotFound` if none."""
    lookup_id("run", run_id)
    run = await (tx.lock_run(run_id) if lock else tx.get_run(run_id))
    if run is None:
        raise NotFound("run", run_id)
    return run


async def held_task(
    tx: Tx, who: Principal, task_id: str, token: int, participant: str, now: float, action: str
) -> Task:
    """The task whose work lease ``participant`` (``who``) holds with ``token``, locked:
    what every call made under an attempt's lease (reservations, effects) starts with."""
    task = await load_task(tx, task_id)
    require_self(who, participant, action, run_id=task.run_id)
    run = await tx.get_run(task.run_id)
    if run is not None:
        require_run(who, run, f"{action} in")
    check_lease(task, token, participant, LeaseKind.WORK, now)
    return task


def check_lease(task: Task, token: int, participant: str, kind: LeaseKind, now: float) -> None:
    """Raise :class:`LeaseLost` unless ``participant`` holds the current, unexpired lease.

    An expired lease is lost even before the reaper returns the task: its holder
    cannot know whether someone else is about to claim it, so it must not write.
    """
    if isinstance(token, bool) or not isinstance(token, int):
        raise InvalidArgument(f"a fencing token is a whole number, got {type(token).__name__}")
    if token > task.token or token < 1:
        raise LeaseLost(task.id, token, "that token is not one this task ever issued")
    if task.token != token:
        raise LeaseLost(task.id, token, f"the task was claimed again (token now {task.token})")
    if task.lease_owner != participant or task.lease_kind != kind.value:
        holder = task.lease_owner or "nobody"
        raise LeaseLost(task.id, token, f"it is {task.state.value}, held by {holder}")
    if task.lease_expires_at is not None and task.lease_expires_at < now:
        raise LeaseLost(task.id, token, f"the lease expired at {task.lease_expires_at:.3f}")
