"""Review, approval gates and cancelling a task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from baton.board.authorization import (
    require_reviewer,
    require_run,
    require_self,
    require_steer,
)
from baton.board.core import BoardCore, check_lease, load_run, load_task
from baton.board.settle import settle
from baton.board.transitions import apply, record
from baton.model import LeaseKind, Task
from baton.model.budgets import reached
from baton.model.changes import TaskChanges
from baton.model.errors import (
    InvalidArgument,
    InvalidTransition,
)
from baton.model.events import EventKind
from baton.model.limits import check_name, check_text
from baton.model.participants import Principal
from baton.model.states import Action, TaskState
from baton.store import Tx


class ReviewService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    @staticmethod
    async def _check_reviewer(
        tx: Tx, who: Principal, task: Task, actor: str, token: int | None, now: float, verb: str
    ) -> None:
        if not who.owner:
            require_self(who, actor, verb, run_id=task.run_id)
            require_run(who, await load_run(tx, task.run_id), f"{verb} in")
            require_reviewer(who, task, verb, leased=token is not None)
        if token is not None:
            check_lease(task, token, actor, LeaseKind.REVIEW, now)
        elif (
            task.lease_kind == LeaseKind.REVIEW.value
            and task.lease_owner != actor
            and (task.lease_expires_at or 0) > now
        ):
            raise InvalidTransition(
                task.id, task.state.value, verb, f"it is claimed for review by {task.lease_owner}"
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
        check_name("actor", actor)
        check_text("the comment", comment, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            await self._check_reviewer(tx, who, task, actor, token, now, "approve")
            gate = task.state is TaskState.IN_REVIEW and task.requires_approval
            action = Action.APPROVE_TO_GATE if gate else Action.APPROVE
            task = await apply(
                tx,
                task,
                action,
                actor=actor,
                now=now,
                payload={"comment": comment},
                changes=TaskChanges(clear_lease=True),
            )
            await settle(tx, [task], actor=actor, now=now)
            return task

        return await self.core.write(f"approve {task_id}", "task", idempotency_key, body)

    async def reject(
        self,
        task_id: str,
        feedback: str | Sequence[str],
        *,
        actor: str,
        token: int | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        check_name("actor", actor)
        if not isinstance(feedback, str | list | tuple):
            raise InvalidArgument(
                f"feedback for {task_id!r} must be text or a list of texts, "
                f"got {type(feedback).__name__}"
            )
        items = [feedback] if isinstance(feedback, str) else list(feedback)
        for item in items:
            check_text(f"feedback for {task_id!r}", item, limits=self.core.limits)
        if not items or not all(i.strip() for i in items):
            raise InvalidArgument(f"rejecting task {task_id!r} needs non-empty feedback")

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            await self._check_reviewer(tx, who, task, actor, token, now, "reject")
            rounds = task.review_rounds + 1
            note = {
                "round": rounds,
                "by": actor,
                "stage": task.state.value,
                "items": items,
                "at": now,
            }
            feedback = [*task.feedback, note]
            if reached(rounds, task.max_review_rounds):
                error = {"kind": "review_rounds_exhausted", "rounds": rounds, "feedback": items}
                task = await apply(
                    tx,
                    task,
                    Action.REJECT_FINAL,
                    actor=actor,
                    now=now,
                    payload={"feedback": items},
                    changes=TaskChanges(
                        clear_lease=True, review_rounds=rounds, feedback=feedback, last_error=error
                    ),
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
                changes=TaskChanges(clear_lease=True, review_rounds=rounds, feedback=feedback),
            )

        return await self.core.write(f"reject {task_id}", "task", idempotency_key, body)

    async def abandon_review(
        self,
        task_id: str,
        token: int,
        error: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:

        check_name("participant", participant)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, participant, "abandon a review", run_id=task.run_id)
            check_lease(task, token, participant, LeaseKind.REVIEW, now)
            return await record(
                tx,
                task,
                EventKind.TASK_REVIEW_FAILED,
                actor=participant,
                now=now,
                payload={"error": dict(error)},
                changes=TaskChanges(clear_lease=True),
            )

        return await self.core.write(
            f"abandon_review {task_id} by {participant}", "task", idempotency_key, body
        )

    async def cancel_task(
        self, task_id: str, *, actor: str, reason: str = "", idempotency_key: str | None = None
    ) -> Task:

        check_name("actor", actor)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, actor, "cancel tasks", run_id=task.run_id)
            require_steer(who, await load_run(tx, task.run_id), "cancel tasks of")
            task = await apply(
                tx,
                task,
                Action.CANCEL,
                actor=actor,
                now=now,
                payload={"reason": reason},
                changes=TaskChanges(clear_lease=True),
            )
            await settle(tx, [task], actor=actor, now=now)
            return task

        return await self.core.write(f"cancel_task {task_id}", "task", idempotency_key, body)
