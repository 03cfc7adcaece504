"""Claims: which task a participant takes, checked and applied inside a write's
transaction — the work lease (``ready -> running``, one trip where the store can) or the
review lease, an attempts budget counted (and refunded on release). Shared by
:meth:`WorkService.claim` and :meth:`WorkService.submit_and_claim`, which runs it after
a submit in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton.board.authorization import require_every_run, require_roles, require_run, require_self
from baton.board.budgets import pause_if_over
from baton.board.core import load_run
from baton.board.transitions import apply, record
from baton.model import Lease, LeaseKind, Task
from baton.model.budgets import past
from baton.model.changes import TaskChanges
from baton.model.errors import BatonRuntimeError, InvalidArgument, NotFound
from baton.model.events import EventKind
from baton.model.limits import Limits, check_duration, check_id, check_name, safe_repr
from baton.model.participants import Principal
from baton.model.states import Action, TaskState
from baton.store import Tx


def claim_roles(
    participant: str,
    roles: str | Sequence[str],
    run_id: str | None,
    lease_s: float | None,
    *,
    limits: Limits,
) -> list[str]:
    """A claim's arguments checked; the roles as a list."""
    check_name("participant", participant)
    roles = [roles] if isinstance(roles, str) else list(roles)
    if not roles:
        raise InvalidArgument(f"participant {participant!r} asked to claim with no roles")
    if not all(isinstance(r, str) and r for r in roles):
        raise InvalidArgument(f"roles must be non-empty text, got {safe_repr(roles)}")
    if run_id is not None:
        check_id("run", run_id)
    if lease_s is not None:
        check_duration("lease_s", lease_s, limits=limits)
    return roles


async def claim_in(
    tx: Tx,
    now: float,
    who: Principal,
    participant: str,
    roles: list[str],
    run_id: str | None,
    lease_s: float | None,
    *,
    one_trip: bool,
) -> Lease | None:
    """The claim, in ``tx``; ``one_trip``: it may be the store's one-trip claim (the
    transaction's only statement, the owner's, without an idempotency key)."""
    if not who.owner:
        _may_claim(who, participant, roles, run_id)
        if run_id is not None:
            require_run(who, await load_run(tx, run_id), "claim in")
    mine = "" if who.owner else who.id  # the owner's names are not identities
    if one_trip and len(set(roles)) == 1:
        # The same ready -> running edge, generated from the transition table.
        trip = await tx.claim_in_one_trip(roles[0], run_id, now, owner=participant, lease_s=lease_s)
        if trip.handled:
            return None if trip.task is None else lease_of(trip.task)
    best: Task | None = None
    budget: dict[str, Any] | None = None
    for role in dict.fromkeys(roles):
        found = await tx.find_claimable(role, run_id, now, not_reviewed_by=mine)
        if found is not None and (
            best is None
            or (-found.task.priority, found.task.created_seq) < (-best.priority, best.created_seq)
        ):
            best, budget = found
    if best is None:
        if run_id is not None and await tx.get_run(run_id) is None:
            raise NotFound("run", run_id)  # asked only now: a found task has a run
        return None
    counted = budget is not None and budget.get("attempts") is not None
    if counted and best.state is TaskState.READY and not await count_attempt(tx, best.run_id, now):
        return None  # the run just ran out of its attempts budget: paused
    expires = now + (lease_s or best.lease_s)
    if best.state is TaskState.READY:
        kind = LeaseKind.WORK
        task = await apply(
            tx,
            best,
            Action.CLAIM,
            actor=participant,
            now=now,
            payload={"owner": participant, "expires_at": expires},
            changes=TaskChanges(
                lease_owner=participant,
                lease_kind=kind.value,
                lease_expires_at=expires,
                token=best.token + 1,
                attempts=best.attempts + 1,
            ),
        )
    else:
        kind = LeaseKind.REVIEW
        task = await record(
            tx,
            best,
            EventKind.TASK_REVIEW_CLAIMED,
            actor=participant,
            now=now,
            changes=TaskChanges(
                lease_owner=participant,
                lease_kind=kind.value,
                lease_expires_at=expires,
                token=best.token + 1,
            ),
        )
    return Lease.model_construct(
        task=task, owner=participant, token=task.token, kind=kind, expires_at=expires
    )


def _may_claim(who: Principal, participant: str, roles: list[str], run_id: str | None) -> None:
    require_self(who, participant, "claim", run_id=run_id or "")
    require_roles(who, roles, "claim for", run_id=run_id or "")
    if run_id is None:
        require_every_run(who, "claim across runs")


async def count_attempt(tx: Tx, run_id: str, now: float) -> bool:
    """Count a claim against the run's attempts budget, if it has one; ``False``
    (and the run paused, a human asked) when the budget is already used up.

    Only budgeted runs count, so unbudgeted runs never contend on their run row.
    """
    run = await tx.lock_run(run_id)
    if run is None or not run.budget or run.budget.get("attempts") is None:
        return True  # the budget changed since the claim's read: nothing to count
    if past(run.claims + 1, run.budget["attempts"]):
        await pause_if_over(tx, run.model_copy(update={"claims": run.claims + 1}), now)
        return False
    await tx.add_usage(None, run_id, tokens=0, cost=0.0, claims=1)
    return True


async def refund_attempt(tx: Tx, run_id: str) -> None:
    """Give a released claim's unit back to the run's attempts budget, if it has
    one: nothing was attempted. Unbudgeted runs never touch their run row here."""
    run = await tx.get_run(run_id)
    if run is None or not run.budget or run.budget.get("attempts") is None:
        return
    run = await tx.lock_run(run_id)
    if run is not None and run.claims > 0:
        await tx.add_usage(None, run_id, tokens=0, cost=0.0, claims=-1)


def lease_of(task: Task) -> Lease:
    """The lease a claim just gave: what the claimed row now says."""
    if task.lease_owner is None or task.lease_expires_at is None or task.lease_kind is None:
        raise BatonRuntimeError(f"claimed task {task.id!r} came back without its lease")
    return Lease.model_construct(
        task=task,
        owner=task.lease_owner,
        token=task.token,
        kind=LeaseKind(task.lease_kind),
        expires_at=task.lease_expires_at,
    )
