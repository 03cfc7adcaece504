"""Reservations on the board: "I am editing ``src/api/``, keep off", enforced.

A reservation is taken for a task by the holder of its work lease, all the resources of
one call or none; it lives exactly as long as that lease (see
:mod:`baton.model.reservations`). Decisions are serialised (SQLite: the write lock;
PostgreSQL: one advisory lock), so two overlapping reservations can never both be
granted. A refused one names the holder, its task and when its lease expires; with
``wait_s`` the call waits for a commit or that expiry, whichever comes first, and tries
again until the deadline.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.board.core import BoardCore, held_task
from baton.model.errors import InvalidArgument, ReservationConflict
from baton.model.events import EventKind
from baton.model.limits import MAX_ROWS, check_count, check_duration, check_name
from baton.model.participants import Principal
from baton.model.reservations import (
    Reservation,
    ReservationMode,
    check_resource,
    covers,
    overlaps,
)
from baton.store import Tx

#: The most resources one call reserves.
MAX_RESOURCES = 100


async def check_unreserved(
    tx: Tx, who: Principal, run_id: str, name: str, own_task: str | None, now: float
) -> None:
    """Refuse a write to the artifact ``name`` of ``run_id`` while another task of that
    run holds it exclusively (``own_task``: the task whose lease the writer presented)."""
    for held in await tx.live_reservations(now):
        if held.run_id != run_id or held.task_id == own_task:
            continue
        if held.mode is ReservationMode.EXCLUSIVE and covers(held.resource, name):
            raise _conflict(name, held, who, f"{name!r} is under {held.resource!r}")


def _conflict(
    resource: str, held: Reservation, who: Principal, why: str = ""
) -> ReservationConflict:
    """The refusal, naming the holder — unless it is in a run ``who`` may not see, which
    is then not named (a reservation must not leak another run's work)."""
    if who.sees_run(held.run_id, None):
        return ReservationConflict(
            resource, held.resource, held.holder, held.task_id, held.expires_at, why=why
        )
    return ReservationConflict(
        resource,
        held.resource,
        "another participant",
        "(a task of a run it may not see)",
        held.expires_at,
        why=why,
    )


class ReservationService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def reserve(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str],
        *,
        participant: str,
        mode: ReservationMode | str,
        wait_s: float | None,
        idempotency_key: str | None,
    ) -> list[Reservation]:
        check_name("participant", participant)
        wanted = _resources(resources)
        try:
            how = ReservationMode(mode)
        except ValueError:
            raise InvalidArgument(
                f"unknown reservation mode {mode!r}: use exclusive or shared"
            ) from None
        deadline = (
            None
            if wait_s is None
            else self.core.clock() + check_duration("wait_s", wait_s, limits=self.core.limits)
        )

        async def write(tx: Tx, now: float, who: Principal) -> list[Reservation]:
            task = await held_task(tx, who, task_id, token, participant, now, "reserve resources")
            await tx.lock_reservations()
            await tx.purge_reservations(now)
            live = await tx.live_reservations(now)
            out: list[Reservation] = []
            for resource in wanted:
                kept = next(
                    (
                        r
                        for r in live
                        if r.task_id == task.id and r.resource == resource and r.mode is how
                    ),
                    None,
                )
                if kept is not None:
                    out.append(kept)
                    continue
                for held in live:
                    exclusive = (
                        how is ReservationMode.EXCLUSIVE or held.mode is ReservationMode.EXCLUSIVE
                    )
                    if held.task_id != task.id and exclusive and overlaps(resource, held.resource):
                        raise _conflict(resource, held, who)
                reservation = Reservation(
                    id=0,
                    resource=resource,
                    mode=how,
                    run_id=task.run_id,
                    task_id=task.id,
                    holder=task.lease_owner or participant,
                    task_token=task.token,
                    created_at=now,
                    expires_at=task.lease_expires_at,
                )
                rid = await tx.insert_reservation(reservation)
                reservation = reservation.model_copy(update={"id": rid})
                await tx.append_event(
                    task.run_id,
                    task.id,
                    EventKind.RESERVATION_TAKEN,
                    participant,
                    _payload(reservation),
                    now,
                )
                out.append(reservation)
            return out

        op = f"reserve {','.join(wanted)} {how.value} for {task_id} by {participant}"
        while True:
            seen = await self.core.store.last_seq()
            try:
                return await self.core.write(op, "reservations", idempotency_key, write)
            except ReservationConflict as refused:
                now = self.core.clock()
                if deadline is None or now >= deadline:
                    raise
                until = deadline - now
                if refused.expires_at is not None:
                    until = min(until, max(refused.expires_at - now, 0.0) + 0.01)
                await self.core.store.wait_for_commit(seen, until)

    async def release(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str] | None,
        *,
        participant: str,
        idempotency_key: str | None,
    ) -> list[Reservation]:
        check_name("participant", participant)
        wanted = None if resources is None else set(_resources(resources))

        async def write(tx: Tx, now: float, who: Principal) -> list[Reservation]:
            task = await held_task(tx, who, task_id, token, participant, now, "reserve resources")
            await tx.lock_reservations()
            gone = [
                r
                for r in await tx.live_reservations(now)
                if r.task_id == task.id and (wanted is None or r.resource in wanted)
            ]
            for reservation in gone:
                await tx.delete_reservation(reservation.id)
                await tx.append_event(
                    task.run_id,
                    task.id,
                    EventKind.RESERVATION_RELEASED,
                    participant,
                    _payload(reservation),
                    now,
                )
            return gone

        op = f"release_reservations {task_id} by {participant}"
        return await self.core.write(op, "reservations", idempotency_key, write)

    async def list(self, run_id: str | None, *, limit: int = MAX_ROWS) -> list[Reservation]:
        check_count("limit", limit, low=1, high=MAX_ROWS)

        async def read(who: Principal) -> list[Reservation]:
            if run_id is not None:
                await self.core.visible_run(who, run_id, "read reservations of")
            found = await self.core.store.list_reservations(self.core.clock())
            if run_id is not None:
                found = [r for r in found if r.run_id == run_id]
            elif not who.sees_all_runs():
                found = [r for r in found if r.run_id in who.runs]
            return found[:limit]

        return await self.core.read(read)


def _resources(resources: Sequence[str]) -> list[str]:
    if isinstance(resources, str):
        raise InvalidArgument("resources is a list of patterns, not one string")
    wanted = list(dict.fromkeys(check_resource(r) for r in resources))
    if not 0 < len(wanted) <= MAX_RESOURCES:
        raise InvalidArgument(f"reserve 1 to {MAX_RESOURCES} resources, got {len(wanted)}")
    return wanted


def _payload(reservation: Reservation) -> dict[str, object]:
    return {
        "id": reservation.id,
        "resource": reservation.resource,
        "mode": reservation.mode.value,
        "holder": reservation.holder,
        "token": reservation.task_token,
    }
