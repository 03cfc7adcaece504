"""The board: the one API every participant — agent, human, orchestrator — works through.

Every mutating method is one store transaction that checks, writes the new state and
appends the events describing it; so the store and the log never disagree, and a crash
at any instant leaves either all of a change or none of it. Every mutating method takes
an optional ``idempotency_key``: repeating a call with the same key returns the first
result and writes nothing.

Writes about a claimed task must present the lease's fencing ``token``. A claim bumps
the token, so once a lease has expired and the task was claimed again, the old holder's
writes raise :class:`~baton.errors.LeaseLost` and nothing of theirs lands.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from baton import _effects
from baton._effects import NO_LEASE, apply, record, retry_delay, settle
from baton.contracts import violations
from baton.errors import (
    ContractViolation,
    IdempotencyConflict,
    InvalidArgument,
    InvalidTransition,
    LeaseLost,
    NotFound,
)
from baton.graph import parse_plan
from baton.messages import DEFAULT_MESSAGE_KINDS, validate_message
from baton.models import Event, Lease, LeaseKind, Plan, Run, RunState, Task
from baton.states import TERMINAL, Action, TaskState
from baton.store import Store, Tx, open_store

T = TypeVar("T")


class SubmitResult(BaseModel):
    """What a submit did: the task after it, and the contract violations if refused."""

    task: Task
    violations: list[str] = []


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
}


class Board:
    """Async board over a :class:`~baton.store.Store`. See the module docstring.

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
    ) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        self.message_kinds = message_kinds

    @classmethod
    def open(cls, url: str | Path, **kwargs: Any) -> Board:
        """A board on the store at ``url`` (a file path or ``sqlite:///path``)."""
        return cls(open_store(url), **kwargs)

    async def close(self) -> None:
        await self.store.close()

    # --- plumbing -------------------------------------------------------------------

    async def _write(
        self,
        op: str,
        codec: str,
        key: str | None,
        body: Callable[[Tx, float], Awaitable[T]],
    ) -> T:
        """Run ``body`` in one transaction, honouring the idempotency key.

        ``op`` names the operation *and its target* (e.g. ``"submit r/x by w1"``), so a
        key reused for another task or participant is a conflict, not a silent replay.
        """
        async with self.store.transaction() as tx:
            if key is not None:
                prior = await tx.get_idempotent(key)
                if prior is not None:
                    if prior[0] != op:
                        raise IdempotencyConflict(key, prior[0], op)
                    result: T = _CODECS[codec].validate_json(prior[1])
                    return result
            result = await body(tx, self.clock())
            if key is not None:
                await tx.put_idempotent(key, op, _CODECS[codec].dump_json(result).decode())
            return result

    @staticmethod
    async def _task(tx: Tx, task_id: str) -> Task:
        task = await tx.get_task(task_id)
        if task is None:
            raise NotFound("task", task_id)
        return task

    @staticmethod
    def _check_lease(task: Task, token: int, participant: str, kind: LeaseKind, now: float) -> None:
        """Raise :class:`LeaseLost` unless ``participant`` holds the current, unexpired lease.

        An expired lease is lost even before the reaper returns the task: its holder
        cannot know whether someone else is about to claim it, so it must not write.
        """
        if task.token != token:
            raise LeaseLost(task.id, token, f"the task was claimed again (token now {task.token})")
        if task.lease_owner != participant or task.lease_kind != kind.value:
            holder = task.lease_owner or "nobody"
            raise LeaseLost(task.id, token, f"it is {task.state.value}, held by {holder}")
        if task.lease_expires_at is not None and task.lease_expires_at <= now:
            raise LeaseLost(task.id, token, f"the lease expired at {task.lease_expires_at:.3f}")

    # --- runs ------------------------------------------------------------------------

    async def create_run(
        self,
        plan: Plan | Mapping[str, Any],
        *,
        actor: str = "api",
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Validate ``plan`` whole and put it on the board as a new run.

        Raises:
            InvalidPlan: naming every offending task id; nothing is written.
        """
        valid = parse_plan(plan)
        rid = run_id or f"r-{secrets.token_hex(5)}"

        async def body(tx: Tx, now: float) -> Run:
            if await tx.get_run(rid) is not None:
                raise InvalidArgument(f"a run with id {rid!r} already exists")
            run = Run(
                id=rid,
                goal=valid.goal,
                state=RunState.ACTIVE,
                roles=valid.roles,
                labels=valid.labels,
                created_at=now,
            )
            await tx.insert_run(run)
            base = await tx.next_created_seq()
            tasks = [
                Task(
                    id=f"{rid}/{s.id}",
                    key=s.id,
                    run_id=rid,
                    **s.model_dump(exclude={"id", "depends_on", "parent"}),
                    depends_on=[f"{rid}/{d}" for d in s.depends_on],
                    parent_id=f"{rid}/{s.parent}" if s.parent else None,
                    created_seq=base + i,
                    state=TaskState.PENDING if s.depends_on else TaskState.READY,
                    pending_deps=len(s.depends_on),
                    updated_at=now,
                )
                for i, s in enumerate(valid.tasks)
            ]
            await tx.insert_tasks(tasks)
            await tx.append_event(
                rid,
                None,
                "run.created",
                actor,
                {"goal": run.goal, "roles": run.roles, "tasks": len(tasks)},
                now,
            )
            await tx.append_events(
                [
                    (
                        rid,
                        t.id,
                        "task.created",
                        actor,
                        {"to": t.state.value, "spec": s.model_dump(mode="json")},
                        now,
                    )
                    for t, s in zip(tasks, valid.tasks, strict=True)
                ]
            )
            return run

        return await self._write("create_run", "create_run", idempotency_key, body)

    async def cancel_run(
        self,
        run_id: str,
        *,
        actor: str = "api",
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Run:
        """Cancel every task of the run that is not finished, and the run itself."""

        async def body(tx: Tx, now: float) -> Run:
            run = await tx.get_run(run_id)
            if run is None:
                raise NotFound("run", run_id)
            if run.state is not RunState.ACTIVE:
                raise InvalidArgument(f"run {run_id!r} is {run.state.value}; cannot cancel it")
            for task in await tx.run_tasks(run_id):
                if task.state not in TERMINAL:
                    await apply(
                        tx,
                        task,
                        Action.CANCEL,
                        actor=actor,
                        now=now,
                        payload={"reason": reason},
                        **NO_LEASE,
                    )
            await tx.set_run_state(run_id, RunState.CANCELLED, now)
            await tx.append_event(run_id, None, "run.cancelled", actor, {"reason": reason}, now)
            return run.model_copy(update={"state": RunState.CANCELLED, "finished_at": now})

        return await self._write(f"cancel_run {run_id}", "create_run", idempotency_key, body)

    # --- claiming and working ----------------------------------------------------------

    async def claim(
        self,
        participant: str,
        roles: str | Sequence[str],
        *,
        run_id: str | None = None,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease | None:
        """Atomically take the best claimable task for any of ``roles``, or ``None``.

        Best means highest priority, then oldest. A ready task gives a work lease (the
        task becomes ``running``); an ``in_review`` task whose reviewer role matches gives
        a review lease (the state stays ``in_review``). Two claimers never both win.
        """
        roles = [roles] if isinstance(roles, str) else list(roles)
        if not roles:
            raise InvalidArgument(f"participant {participant!r} asked to claim with no roles")
        if lease_s is not None and lease_s <= 0:
            raise InvalidArgument(f"lease_s must be positive, got {lease_s}")

        async def body(tx: Tx, now: float) -> Lease | None:
            if run_id is not None and await tx.get_run(run_id) is None:
                raise NotFound("run", run_id)
            best: Task | None = None
            for role in dict.fromkeys(roles):
                found = await tx.find_claimable(role, run_id, now)
                if found is not None and (
                    best is None
                    or (-found.priority, found.created_seq) < (-best.priority, best.created_seq)
                ):
                    best = found
            if best is None:
                return None
            expires = now + (lease_s or best.lease_s)
            lease_fields = {
                "lease_owner": participant,
                "lease_expires_at": expires,
                "token": best.token + 1,
            }
            if best.state is TaskState.READY:
                kind = LeaseKind.WORK
                task = await apply(
                    tx,
                    best,
                    Action.CLAIM,
                    actor=participant,
                    now=now,
                    payload={"owner": participant, "expires_at": expires},
                    lease_kind=kind.value,
                    attempts=best.attempts + 1,
                    **lease_fields,
                )
            else:
                kind = LeaseKind.REVIEW
                task = await record(
                    tx,
                    best,
                    "task.review_claimed",
                    actor=participant,
                    now=now,
                    lease_kind=kind.value,
                    **lease_fields,
                )
            return Lease(
                task=task, owner=participant, token=task.token, kind=kind, expires_at=expires
            )

        return await self._write(f"claim by {participant}", "claim", idempotency_key, body)

    async def heartbeat(
        self, task_id: str, token: int, participant: str, *, lease_s: float | None = None
    ) -> Lease:
        """Extend the lease. Raises :class:`LeaseLost` if it is no longer yours."""
        if lease_s is not None and lease_s <= 0:
            raise InvalidArgument(f"lease_s must be positive, got {lease_s}")

        async def body(tx: Tx, now: float) -> Lease:
            task = await self._task(tx, task_id)
            kind = LeaseKind(task.lease_kind) if task.lease_kind else LeaseKind.WORK
            self._check_lease(task, token, participant, kind, now)
            expires = now + (lease_s or task.lease_s)
            task = await record(
                tx, task, "task.lease_renewed", actor=participant, now=now, lease_expires_at=expires
            )
            return Lease(task=task, owner=participant, token=token, kind=kind, expires_at=expires)

        return await self._write("heartbeat", "heartbeat", None, body)

    async def submit(
        self,
        task_id: str,
        token: int,
        output: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        """Hand in the output. It goes to review, to the approval gate, or straight to done.

        Raises:
            LeaseLost: the lease is no longer yours; nothing lands.
            ContractViolation: the output breaks the task's output contract; the attempt
                is recorded as failed (retried or final), never done.
        """

        async def body(tx: Tx, now: float) -> SubmitResult:
            task = await self._task(tx, task_id)
            self._check_lease(task, token, participant, LeaseKind.WORK, now)
            errors = violations(output, task.output_contract)
            if errors:
                error = {"kind": "contract_violation", "errors": errors}
                task = await self._failed_attempt(
                    tx, task, error, final=False, actor=participant, now=now
                )
                return SubmitResult(task=task, violations=errors)
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
                output=output,
                last_error=None,
                **NO_LEASE,
            )
            await settle(tx, [task], actor=participant, now=now)
            return SubmitResult(task=task)

        result = await self._write(
            f"submit {task_id} by {participant}", "submit", idempotency_key, body
        )
        if result.violations:
            raise ContractViolation(task_id, result.violations, result.task.state.value)
        return result.task

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
        """Record a failed attempt: retried after a backoff, or failed for good when
        ``retryable`` is false or the task has used ``max_attempts``."""
        err = {"kind": "error", "message": error} if isinstance(error, str) else dict(error)

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            self._check_lease(task, token, participant, LeaseKind.WORK, now)
            return await self._failed_attempt(
                tx, task, err, final=not retryable, actor=participant, now=now
            )

        return await self._write(f"fail {task_id} by {participant}", "task", idempotency_key, body)

    async def _failed_attempt(
        self, tx: Tx, task: Task, error: dict[str, Any], *, final: bool, actor: str, now: float
    ) -> Task:
        failures = task.failures + 1
        if final or failures >= task.max_attempts:
            reason = "final" if final else f"{failures} of {task.max_attempts} attempts failed"
            task = await apply(
                tx,
                task,
                Action.FAIL,
                actor=actor,
                now=now,
                payload={"error": error, "reason": reason},
                failures=failures,
                last_error=error,
                **NO_LEASE,
            )
            await settle(tx, [task], actor=actor, now=now)
            return task
        delay = retry_delay(task, failures, self.rng)
        return await apply(
            tx,
            task,
            Action.RETRY,
            actor=actor,
            now=now,
            payload={"error": error, "retry_in_s": delay},
            failures=failures,
            last_error=error,
            not_before=now + delay,
            **NO_LEASE,
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
        """Stop work on the task until someone unblocks it; the lease is given up."""
        if not reason.strip():
            raise InvalidArgument(f"blocking task {task_id!r} needs a reason")

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            self._check_lease(task, token, participant, LeaseKind.WORK, now)
            return await apply(
                tx,
                task,
                Action.BLOCK,
                actor=participant,
                now=now,
                payload={"reason": reason},
                blocked_reason=reason,
                **NO_LEASE,
            )

        return await self._write(f"block {task_id} by {participant}", "task", idempotency_key, body)

    async def release(
        self, task_id: str, token: int, *, participant: str, idempotency_key: str | None = None
    ) -> Task:
        """Give the claim back without counting an attempt (e.g. on graceful shutdown)."""

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            if task.lease_kind == LeaseKind.REVIEW.value:
                self._check_lease(task, token, participant, LeaseKind.REVIEW, now)
                return await record(
                    tx, task, "task.review_released", actor=participant, now=now, **NO_LEASE
                )
            self._check_lease(task, token, participant, LeaseKind.WORK, now)
            return await apply(
                tx,
                task,
                Action.RELEASE,
                actor=participant,
                now=now,
                attempts=task.attempts - 1,
                **NO_LEASE,
            )

        return await self._write(
            f"release {task_id} by {participant}", "task", idempotency_key, body
        )

    async def unblock(
        self, task_id: str, *, actor: str, idempotency_key: str | None = None
    ) -> Task:
        """Let a blocked task go on: ready if its dependencies are settled, else pending."""

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            action = Action.UNBLOCK if task.pending_deps <= 0 else Action.UNBLOCK_TO_PENDING
            return await apply(tx, task, action, actor=actor, now=now, blocked_reason=None)

        return await self._write(f"unblock {task_id}", "task", idempotency_key, body)

    # --- review and approval --------------------------------------------------------------

    def _check_reviewer(
        self, task: Task, actor: str, token: int | None, now: float, verb: str
    ) -> None:
        if token is not None:
            self._check_lease(task, token, actor, LeaseKind.REVIEW, now)
        elif (
            task.lease_kind == LeaseKind.REVIEW.value
            and task.lease_owner != actor
            and (task.lease_expires_at or 0) > now
        ):
            raise InvalidTransition(
                task.id, task.state.value, verb, f"claimed for review by {task.lease_owner}"
            )

    async def approve(
        self,
        task_id: str,
        *,
        actor: str,
        token: int | None = None,
        comment: str = "",
        idempotency_key: str | None = None,
    ) -> Task:
        """Approve a task in review (done, or on to its approval gate) or at its gate (done)."""

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            self._check_reviewer(task, actor, token, now, "approve")
            gate = task.state is TaskState.IN_REVIEW and task.requires_approval
            action = Action.APPROVE_TO_GATE if gate else Action.APPROVE
            task = await apply(
                tx, task, action, actor=actor, now=now, payload={"comment": comment}, **NO_LEASE
            )
            await settle(tx, [task], actor=actor, now=now)
            return task

        return await self._write(f"approve {task_id}", "task", idempotency_key, body)

    async def reject(
        self,
        task_id: str,
        feedback: str | Sequence[str],
        *,
        actor: str,
        token: int | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        """Send the work back with feedback the next attempt will see; after
        ``max_review_rounds`` rejections the task fails for good."""
        items = [feedback] if isinstance(feedback, str) else list(feedback)
        if not items or not all(i.strip() for i in items):
            raise InvalidArgument(f"rejecting task {task_id!r} needs non-empty feedback")

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            self._check_reviewer(task, actor, token, now, "reject")
            rounds = task.review_rounds + 1
            note = {
                "round": rounds,
                "by": actor,
                "stage": task.state.value,
                "items": items,
                "at": now,
            }
            changes: dict[str, Any] = {
                "review_rounds": rounds,
                "feedback": [*task.feedback, note],
                **NO_LEASE,
            }
            if rounds >= task.max_review_rounds:
                error = {"kind": "review_rounds_exhausted", "rounds": rounds, "feedback": items}
                task = await apply(
                    tx,
                    task,
                    Action.REJECT_FINAL,
                    actor=actor,
                    now=now,
                    payload={"feedback": items},
                    last_error=error,
                    **changes,
                )
                await settle(tx, [task], actor=actor, now=now)
                return task
            return await apply(
                tx,
                task,
                Action.REJECT,
                actor=actor,
                now=now,
                payload={"feedback": items},
                **changes,
            )

        return await self._write(f"reject {task_id}", "task", idempotency_key, body)

    async def cancel_task(
        self, task_id: str, *, actor: str, reason: str = "", idempotency_key: str | None = None
    ) -> Task:
        """Cancel a task that is not finished; its dependents that have not started are
        cancelled too."""

        async def body(tx: Tx, now: float) -> Task:
            task = await self._task(tx, task_id)
            task = await apply(
                tx,
                task,
                Action.CANCEL,
                actor=actor,
                now=now,
                payload={"reason": reason},
                **NO_LEASE,
            )
            await settle(tx, [task], actor=actor, now=now)
            return task

        return await self._write(f"cancel_task {task_id}", "task", idempotency_key, body)

    async def reap_expired(self, *, actor: str = "reaper", limit: int = 1000) -> list[Task]:
        """Return expired leases: work goes back to ``ready`` (a failed attempt), or to
        ``failed`` past ``max_attempts``; an expired review lease just frees the review.
        Safe to run from any number of processes at once."""

        async def body(tx: Tx, now: float) -> list[Task]:
            out = []
            for task in await tx.expired_leases(now, limit):
                if task.lease_kind == LeaseKind.REVIEW.value:
                    out.append(
                        await record(
                            tx, task, "task.review_lease_expired", actor=actor, now=now, **NO_LEASE
                        )
                    )
                    continue
                error = {"kind": "lease_expired", "owner": task.lease_owner, "token": task.token}
                out.append(
                    await self._failed_attempt(tx, task, error, final=False, actor=actor, now=now)
                )
            return out

        return await self._write("reap", "tasks", None, body)

    # --- messages ----------------------------------------------------------------------

    async def post_message(
        self,
        run_id: str,
        kind: str,
        body: Mapping[str, Any],
        *,
        sender: str,
        to: str | None = None,
        task_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Post a structured message on a run; it is stored as a ``message.<kind>`` event.

        Raises:
            InvalidMessage: unknown kind or a body that breaks the kind's schema.
        """
        content = validate_message(self.message_kinds, kind, body)

        async def write(tx: Tx, now: float) -> Event:
            if await tx.get_run(run_id) is None:
                raise NotFound("run", run_id)
            if task_id is not None:
                task = await tx.get_task(task_id)
                if task is None:
                    raise NotFound("task", task_id)
                if task.run_id != run_id:
                    raise InvalidArgument(
                        f"task {task_id!r} belongs to run {task.run_id!r}, not {run_id!r}"
                    )
            payload = {"to": to, "body": content}
            seq = await tx.append_event(run_id, task_id, f"message.{kind}", sender, payload, now)
            return Event(
                seq=seq,
                run_id=run_id,
                task_id=task_id,
                kind=f"message.{kind}",
                actor=sender,
                payload=payload,
                at=now,
            )

        return await self._write(
            f"post_message {kind} on {run_id}", "event", idempotency_key, write
        )

    # --- reading ---------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run:
        run = await self.store.get_run(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def list_runs(self) -> list[Run]:
        return await self.store.list_runs()

    async def get_task(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFound("task", task_id)
        return task

    async def tasks(self, run_id: str) -> list[Task]:
        await self.get_run(run_id)
        return await self.store.list_tasks(run_id)

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]:
        if run_id is not None:
            await self.get_run(run_id)
        return await self.store.read_events(since=since, run_id=run_id, limit=limit)

    async def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Every committed event after ``since``, in order, then each new one as it commits.

        Resuming with ``since`` set to the last ``seq`` seen delivers every later event
        exactly once. ``kinds`` keeps events whose kind starts with one of the prefixes.
        With ``idle_timeout``, the iteration ends after that long without a new event.
        """
        last = since
        while True:
            head = await self.store.last_seq()
            batch = await self.store.read_events(since=last, run_id=run_id, limit=1000)
            for event in batch:
                last = event.seq
                if not kinds or event.kind.startswith(tuple(kinds)):
                    yield event
            if batch:
                continue
            last = max(last, head)  # nothing of ours up to head: seq is in commit order
            woke = await self.store.wait_for_commit(
                last, 3600.0 if idle_timeout is None else idle_timeout
            )
            if not woke and idle_timeout is not None:
                return

    async def wait_finished(self, run_id: str, timeout: float) -> Run:
        """Wait until the run is finished or cancelled; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            async for _ in self.subscribe(run_id=run_id, kinds=("run.",)):
                run = await self.get_run(run_id)
                if run.state is not RunState.ACTIVE:
                    return run
        raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["Board", "SubmitResult", "_effects"]
