"""Runs: creating them from plans, cancelling them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from baton._board_core import BoardCore
from baton._effects import NO_LEASE, apply
from baton.errors import (
    InvalidArgument,
    NotFound,
)
from baton.graph import parse_plan
from baton.models import Plan, Run, RunState, Task
from baton.states import TERMINAL, Action, TaskState
from baton.store import Tx


class RunOps(BoardCore):
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
