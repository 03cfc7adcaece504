"""Claiming and working a task: claim, heartbeat, submit (and submit-and-claim), fail,
block, release, reap. Which task a claim takes is :mod:`baton.board.claims`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from baton.board.authorization import (
    acting_name,
    require_self,
    require_steer,
)
from baton.board.budgets import retry_delay
from baton.board.claims import claim_in, claim_roles, lease_of, refund_attempt
from baton.board.core import BoardCore, SubmitResult, check_lease, load_run, load_task
from baton.board.escalations import escalate_failure
from baton.board.growth import named_tasks, put_tasks
from baton.board.settle import settle
from baton.board.transitions import apply, record
from baton.model import Handoff, Lease, LeaseKind, Task
from baton.model.budgets import reached
from baton.model.changes import TaskChanges
from baton.model.contracts import violations
from baton.model.errors import (
    ContractViolation,
    InvalidArgument,
    InvalidPlan,
)
from baton.model.events import EventKind
from baton.model.limits import (
    MAX_ROWS,
    check_count,
    check_duration,
    check_json,
    check_name,
    check_text,
)
from baton.model.participants import Principal
from baton.model.states import Action
from baton.planning.additions import validate_additions
from baton.store import Tx

#: How many of the owner's work leases a Board remembers for a one-trip submit.
HELD_LEASES = 4096


class WorkService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core
        # The tasks this Board claimed as the owner, by id: a task's spec never changes,
        # so its contract can be checked here and the submit sent in one round trip.
        self._held: OrderedDict[str, Task] = OrderedDict()

    async def claim(
        self,
        participant: str,
        roles: str | Sequence[str],
        *,
        run_id: str | None = None,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease | None:
        roles = claim_roles(participant, roles, run_id, lease_s, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Lease | None:
            # The common claim, in one round trip where the store can (PostgreSQL).
            one_trip = who.owner and idempotency_key is None
            return await claim_in(
                tx, now, who, participant, roles, run_id, lease_s, one_trip=one_trip
            )

        lease = await self.core.write(f"claim by {participant}", "claim", idempotency_key, body)
        self._remember(lease)
        return lease

    def _remember(self, lease: Lease | None) -> None:
        """Keep the owner's work lease's task, for a one-trip submit of it later."""
        if lease is not None and lease.kind is LeaseKind.WORK and self.core.principal.owner:
            self._held[lease.task.id] = lease.task
            if len(self._held) > HELD_LEASES:
                self._held.popitem(last=False)

    async def heartbeat(
        self,
        task_id: str,
        token: int,
        participant: str,
        *,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease:
        check_name("participant", participant)
        if lease_s is not None:
            check_duration("lease_s", lease_s, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Lease:
            task = await load_task(tx, task_id)
            require_self(who, participant, "renew a lease", run_id=task.run_id)
            kind = LeaseKind(task.lease_kind) if task.lease_kind else LeaseKind.WORK
            check_lease(task, token, participant, kind, now)
            expires = now + (lease_s or task.lease_s)
            task = await record(
                tx,
                task,
                EventKind.TASK_LEASE_RENEWED,
                actor=participant,
                now=now,
                changes=TaskChanges(lease_expires_at=expires),
            )
            return Lease.model_construct(
                task=task, owner=participant, token=token, kind=kind, expires_at=expires
            )

        return await self.core.write(
            f"heartbeat {task_id} by {participant}", "heartbeat", idempotency_key, body
        )

    async def submit(
        self,
        task_id: str,
        token: int,
        output: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        check_name("participant", participant)
        check_json(f"the output of task {task_id!r}", output, limits=self.core.limits)

        async def one_trip(tx: Tx, now: float, op: str, key: str | None) -> SubmitResult | None:
            # The common submit, in one round trip where the store can (PostgreSQL): the
            # running -> done and pending -> ready edges of the transition table, and the
            # idempotency key recorded with them.
            if not _completes(self._held.pop(task_id, None), token, output):
                return None
            recording = None if key is None else (key, op)
            trip = await tx.submit_in_one_trip(
                task_id, token, output, now, owner=participant, idempotency=recording
            )
            return None if trip.task is None else SubmitResult.model_construct(task=trip.task)

        async def body(tx: Tx, now: float, who: Principal) -> SubmitResult:
            return await self._submit_in(tx, now, who, task_id, token, output, participant)

        result = await self.core.write(
            f"submit {task_id} by {participant}",
            "submit",
            idempotency_key,
            body,
            owners_trip=one_trip,
        )
        if result.violations:
            raise ContractViolation(task_id, result.violations, result.task.state.value)
        return result.task

    async def submit_and_claim(
        self,
        task_id: str,
        token: int,
        output: Any,
        *,
        participant: str,
        roles: str | Sequence[str],
        run_id: str | None = None,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Handoff:
        """The submit, then the submitter's claim, in one transaction: all or nothing.
        A refused output (a broken contract) records the failed attempt and claims
        nothing, as :meth:`submit` does."""
        check_name("participant", participant)
        check_json(f"the output of task {task_id!r}", output, limits=self.core.limits)
        roles = claim_roles(participant, roles, run_id, lease_s, limits=self.core.limits)
        operation = f"submit {task_id} by {participant}, then claim"

        async def one_trip(tx: Tx, now: float, op: str, key: str | None) -> SubmitResult | None:
            # Both in one round trip where the store can (PostgreSQL: migration 0025).
            if len(set(roles)) != 1 or not _completes(self._held.get(task_id), token, output):
                return None
            del self._held[task_id]
            recording = None if key is None else (key, op)
            trip = await tx.submit_and_claim_in_one_trip(
                task_id, token, output, now, owner=participant, role=roles[0],
                run_id=run_id, lease_s=lease_s, idempotency=recording,
            )  # fmt: skip
            if trip.task is None:
                return None
            return SubmitResult.model_construct(task=trip.task, claimed=trip.claimed)

        async def body(tx: Tx, now: float, who: Principal) -> SubmitResult:
            result = await self._submit_in(tx, now, who, task_id, token, output, participant)
            if result.violations:
                return result
            await self.core.rates.check(tx, who, f"claim by {participant}", now)
            lease = await claim_in(
                tx, now, who, participant, roles, run_id, lease_s, one_trip=False
            )
            if lease is None:
                return result
            return result.model_copy(update={"claimed": lease.task})

        result = await self.core.write(
            operation, "submit", idempotency_key, body, owners_trip=one_trip
        )
        if result.violations:
            raise ContractViolation(task_id, result.violations, result.task.state.value)
        lease = None if result.claimed is None else lease_of(result.claimed)
        self._remember(lease)
        return Handoff.model_construct(task=result.task, lease=lease)

    async def _submit_in(
        self,
        tx: Tx,
        now: float,
        who: Principal,
        task_id: str,
        token: int,
        output: Any,
        participant: str,
    ) -> SubmitResult:
        """The submit's general path, in ``tx``."""
        self._held.pop(task_id, None)
        task = await load_task(tx, task_id)
        require_self(who, participant, "submit", run_id=task.run_id)
        check_lease(task, token, participant, LeaseKind.WORK, now)
        errors = violations(output, task.output_contract)
        if not errors and task.expand:
            expanded = await self._expand(tx, task, output, actor=participant, now=now)
            if isinstance(expanded, Task):
                return SubmitResult.model_construct(task=expanded)
            errors = expanded
        if errors:
            error = {"kind": "contract_violation", "errors": errors}
            task = await self._failed_attempt(
                tx, task, error, final=False, actor=participant, now=now
            )
            return SubmitResult.model_construct(task=task, violations=errors)
        if task.reviewer_role:
            action = Action.SUBMIT_FOR_REVIEW
        elif task.requires_approval:
            action = Action.SUBMIT_FOR_APPROVAL
        else:
            action = Action.COMPLETE
        task = await apply(
            tx,
            task,
            action,
            actor=participant,
            now=now,
            payload={"output": output},
            changes=TaskChanges(
                output=output,
                last_error=None,
                clear_lease=True,
                worked_by=participant if who.owner else who.id,
            ),
        )
        await settle(tx, [task], actor=participant, now=now)
        return SubmitResult.model_construct(task=task)

    async def _expand(
        self, tx: Tx, task: Task, output: Any, *, actor: str, now: float
    ) -> Task | list[str]:
        """Put a submitted sub-plan's tasks on the run as ``task``'s children; the task
        then waits for them. Returns the problems instead when the sub-plan is invalid."""
        specs = output.get("tasks") if isinstance(output, dict) else None
        if not isinstance(specs, list) or not specs:
            return ["<root>: a sub-plan must be an object with a non-empty 'tasks' list"]
        run = await load_run(tx, task.run_id)
        existing, downstream = await named_tasks(tx, task.run_id, specs, task)
        try:
            valid = validate_additions(run, specs, existing, expanding=task, downstream=downstream)
        except InvalidPlan as exc:
            return [str(p) for p in exc.problems]
        children = await put_tasks(
            tx, task.run_id, valid, existing=existing, parent_id=task.id, actor=actor, now=now
        )
        await tx.add_dependencies(task.id, [c.id for c in children], len(children))
        return await apply(
            tx,
            task,
            Action.EXPAND,
            actor=actor,
            now=now,
            payload={"output": output, "children": [c.key for c in children]},
            changes=TaskChanges(
                output=output, last_error=None, pending_deps=len(children), clear_lease=True
            ),
        )

    async def fail(
        self,
        task_id: str,
        token: int,
        error: str | Mapping[str, Any],
        *,
        participant: str,
        retryable: bool = True,
        idempotency_key: str | None = None,
    ) -> Task:
        check_name("participant", participant)
        limits = self.core.limits
        if isinstance(error, str):
            err = {
                "kind": "error",
                "message": check_text(f"error for {task_id!r}", error, limits=limits),
            }
        else:
            err = dict(check_json(f"error for task {task_id!r}", dict(error), limits=limits))

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, participant, "fail", run_id=task.run_id)
            check_lease(task, token, participant, LeaseKind.WORK, now)
            return await self._failed_attempt(
                tx, task, err, final=not retryable, actor=participant, now=now
            )

        return await self.core.write(
            f"fail {task_id} by {participant}", "task", idempotency_key, body
        )

    async def _failed_attempt(
        self, tx: Tx, task: Task, error: dict[str, Any], *, final: bool, actor: str, now: float
    ) -> Task:
        failures = task.failures + 1
        if final or reached(failures, task.max_attempts):
            reason = "final" if final else f"{failures} of {task.max_attempts} attempts failed"
            failed = await apply(
                tx,
                task,
                Action.FAIL,
                actor=actor,
                now=now,
                payload={"error": error, "reason": reason},
                changes=TaskChanges(failures=failures, last_error=error, clear_lease=True),
            )
            await escalate_failure(
                tx, task, error, failures=failures, final=final, now=now, actor=actor
            )
            await settle(tx, [failed], actor=actor, now=now)
            return failed
        delay = retry_delay(task, failures, self.core.rng)
        return await apply(
            tx,
            task,
            Action.RETRY,
            actor=actor,
            now=now,
            payload={"error": error, "retry_in_s": delay},
            changes=TaskChanges(
                failures=failures, last_error=error, not_before=now + delay, clear_lease=True
            ),
        )

    async def block(
        self,
        task_id: str,
        token: int,
        reason: str,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        check_name("participant", participant)
        check_text(f"the reason for blocking {task_id!r}", reason, limits=self.core.limits)
        if not reason.strip():
            raise InvalidArgument(f"blocking task {task_id!r} needs a reason")

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, participant, "block", run_id=task.run_id)
            check_lease(task, token, participant, LeaseKind.WORK, now)
            return await apply(
                tx,
                task,
                Action.BLOCK,
                actor=participant,
                now=now,
                payload={"reason": reason},
                changes=TaskChanges(blocked_reason=reason, clear_lease=True),
            )

        return await self.core.write(
            f"block {task_id} by {participant}", "task", idempotency_key, body
        )

    async def release(
        self, task_id: str, token: int, *, participant: str, idempotency_key: str | None = None
    ) -> Task:

        check_name("participant", participant)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, participant, "release", run_id=task.run_id)
            if task.lease_kind == LeaseKind.REVIEW.value:
                check_lease(task, token, participant, LeaseKind.REVIEW, now)
                return await record(
                    tx,
                    task,
                    EventKind.TASK_REVIEW_RELEASED,
                    actor=participant,
                    now=now,
                    changes=TaskChanges(clear_lease=True),
                )
            check_lease(task, token, participant, LeaseKind.WORK, now)
            released = await apply(
                tx,
                task,
                Action.RELEASE,
                actor=participant,
                now=now,
                changes=TaskChanges(attempts=task.attempts - 1, clear_lease=True),
            )
            await refund_attempt(tx, task.run_id)
            return released

        return await self.core.write(
            f"release {task_id} by {participant}", "task", idempotency_key, body
        )

    async def unblock(
        self, task_id: str, *, actor: str, idempotency_key: str | None = None
    ) -> Task:

        check_name("actor", actor)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, actor, "unblock", run_id=task.run_id)
            require_steer(who, await load_run(tx, task.run_id), "unblock tasks of")
            action = Action.UNBLOCK if task.pending_deps <= 0 else Action.UNBLOCK_TO_PENDING
            return await apply(
                tx, task, action, actor=actor, now=now, changes=TaskChanges(blocked_reason=None)
            )

        return await self.core.write(f"unblock {task_id}", "task", idempotency_key, body)

    async def reap_expired(
        self, *, actor: str | None = None, limit: int = 1000, idempotency_key: str | None = None
    ) -> list[Task]:
        if actor is not None:
            check_name("actor", actor)
        check_count("limit", limit, low=1, high=MAX_ROWS)

        async def body(tx: Tx, now: float, who: Principal) -> list[Task]:
            # Any participant may return expired leases: it only undoes what a dead
            # holder can no longer finish, exactly as the rules say.
            name = acting_name(who, actor, "reaper", "reap expired leases")
            out = []
            for task in await tx.expired_leases(now, limit):
                if task.lease_kind == LeaseKind.REVIEW.value:
                    out.append(
                        await record(
                            tx,
                            task,
                            EventKind.TASK_REVIEW_LEASE_EXPIRED,
                            actor=name,
                            now=now,
                            changes=TaskChanges(clear_lease=True),
                        )
                    )
                    continue
                error = {"kind": "lease_expired", "owner": task.lease_owner, "token": task.token}
                out.append(
                    await self._failed_attempt(tx, task, error, final=False, actor=name, now=now)
                )
            return out

        return await self.core.write("reap", "tasks", idempotency_key, body)


def _completes(held: Task | None, token: int, output: Any) -> bool:
    """Whether submitting ``output`` for the remembered claim ``held`` simply completes
    it: the same attempt, no review, no approval, no sub-plan, the contract met."""
    return (
        held is not None
        and held.token == token
        and not held.reviewer_role
        and not held.requires_approval
        and not held.expand
        and not violations(output, held.output_contract)
    )
