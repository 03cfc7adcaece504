"""Runs: creating them (from a plan or a goal), growing them, budgets, escalations,
pausing, resuming and cancelling."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from baton.board.authorization import (
    acting_name,
    require_grant,
    require_run,
    require_self,
    require_steer,
)
from baton.board.budgets import pause_if_over, pause_if_role_over, run_exhausted
from baton.board.core import BoardCore, check_lease, load_run, load_task
from baton.board.escalations import append_returned, escalate_in
from baton.board.growth import named_tasks, plan_run, put_tasks
from baton.board.policies import check_create
from baton.board.transitions import Later, apply
from baton.model import Budget, Event, LeaseKind, Plan, Run, RunState, SubPlan, Task, TaskSpec
from baton.model.budgets import over_budget
from baton.model.changes import TaskChanges
from baton.model.errors import InvalidArgument, InvalidPlan, NotFound
from baton.model.events import EventKind
from baton.model.limits import (
    check_amount,
    check_id,
    check_json,
    check_name,
    check_text,
    lookup_id,
)
from baton.model.participants import Grant, Principal
from baton.model.policies import apply_policy
from baton.model.states import TERMINAL, Action, TaskState
from baton.planning.additions import validate_additions
from baton.planning.bounds import check_plan_limits, limit_problems
from baton.planning.graph import parse_plan
from baton.store import Tx


class RunService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def create_run(
        self,
        plan: Plan | Mapping[str, Any],
        *,
        actor: str | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        if actor is not None:
            check_name("actor", actor)
        valid = check_plan_limits(parse_plan(plan), self.core.limits)
        rid = f"r-{secrets.token_hex(5)}" if run_id is None else check_id("run", run_id)

        async def body(tx: Tx, now: float, who: Principal) -> Run:
            name = acting_name(who, actor, "api", "create runs")
            require_grant(who, Grant.CREATE_RUNS, "create runs")
            policy = await tx.current_policy()
            check_create(policy, who)
            if await tx.get_run(rid) is not None:
                raise InvalidArgument(f"a run with id {rid!r} already exists")
            planned, triggered = (
                (valid, []) if policy is None else apply_policy(valid, policy.policy)
            )
            run = plan_run(planned, rid, now)
            if not who.owner:
                run = run.model_copy(update={"created_by": who.id})
            await tx.insert_run(run)
            payload = {"goal": run.goal, "roles": run.roles, "tasks": len(valid.tasks)}
            if run.budget:
                payload["budget"] = run.budget
            if policy is not None:
                await tx.set_run_policy(rid, policy.version)
                payload["policy"] = {
                    "version": policy.version,
                    "triggered": [t.model_dump() for t in triggered],
                }
            await tx.append_event(rid, None, EventKind.RUN_CREATED, name, payload, now)
            await put_tasks(
                tx, rid, planned.tasks, existing={}, parent_id=None, actor=name, now=now
            )
            return run

        return await self.core.write("create_run", "create_run", idempotency_key, body)

    async def create_goal_run(
        self,
        goal: str,
        *,
        roles: Sequence[str],
        planner_role: str = "planner",
        budget: Budget | Mapping[str, Any] | None = None,
        max_planning_attempts: int = 3,
        actor: str | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        plan = {
            "goal": goal,
            "roles": list(dict.fromkeys([planner_role, *roles])),
            "budget": budget.model_dump(exclude_none=True)
            if isinstance(budget, Budget)
            else budget,
            "tasks": [
                {
                    "id": "plan",
                    "title": f"Plan: {goal}",
                    "role": planner_role,
                    "expand": True,
                    "max_attempts": max_planning_attempts,
                    "output_contract": SubPlan.model_json_schema(),
                    "backoff_base_s": 0,
                    "input": {"goal": goal, "roles": list(roles)},
                    "acceptance_criteria": [
                        "a valid plan: tasks with ids, roles from the team, acyclic dependencies"
                    ],
                }
            ],
        }
        return await self.create_run(
            plan, actor=actor, run_id=run_id, idempotency_key=idempotency_key
        )

    async def add_tasks(
        self,
        run_id: str,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> list[Task]:

        check_name("actor", actor)

        async def body(tx: Tx, now: float, who: Principal) -> list[Task]:
            require_self(who, actor, "add tasks", run_id=run_id)
            run = await self._active_run(tx, run_id)
            # An agent at work on the run may grow it (ctx.add_tasks).
            if not await tx.holds_live_lease(run_id, who.id, now):
                require_steer(who, run, "add tasks to")
            existing, downstream = await named_tasks(tx, run_id, tasks, None)
            specs = validate_additions(run, tasks, existing, downstream=downstream)
            over = limit_problems(run.goal, specs, self.core.limits)
            if over:
                raise InvalidPlan(over)
            added = await put_tasks(
                tx, run_id, specs, existing=existing, parent_id=None, actor=actor, now=now
            )
            # A new child of an expanded parent: the parent now waits for it too.
            parents = {t.id: t for t in existing.values() if t.expand and t.output is not None}
            for parent_id in sorted({t.parent_id for t in added if t.parent_id in parents}):
                kids = [t.id for t in added if t.parent_id == parent_id]
                if parents[parent_id].state is TaskState.PENDING:
                    await tx.add_dependencies(parent_id, kids, len(kids))
            return added

        return await self.core.write(f"add_tasks to {run_id}", "tasks", idempotency_key, body)

    @staticmethod
    async def _active_run(tx: Tx, run_id: str) -> Run:
        run = await tx.lock_run(lookup_id("run", run_id))
        if run is None:
            raise NotFound("run", run_id)
        if run.ended:
            raise InvalidArgument(f"run {run_id!r} is {run.state.value}")
        return run

    async def cancel_run(
        self,
        run_id: str,
        *,
        actor: str | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Run:
        if actor is not None:
            check_name("actor", actor)
        check_text("the reason", reason, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Run:
            name = acting_name(who, actor, "api", "cancel runs")
            run = await self._active_run(tx, run_id)
            require_steer(who, run, "cancel")
            for task in await tx.run_tasks(run_id):
                if task.state not in TERMINAL:
                    await apply(
                        tx,
                        task,
                        Action.CANCEL,
                        actor=name,
                        now=now,
                        payload={"reason": reason},
                        changes=TaskChanges(clear_lease=True),
                    )
            await tx.set_run_state(run_id, RunState.CANCELLED, now)
            await tx.append_event(
                run_id, None, EventKind.RUN_CANCELLED, name, {"reason": reason}, now
            )
            return run.model_copy(update={"state": RunState.CANCELLED, "finished_at": now})

        return await self.core.write(f"cancel_run {run_id}", "create_run", idempotency_key, body)

    # --- budgets, pausing, escalation -------------------------------------------------

    async def record_usage(
        self,
        task_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float = 0.0,
        actor: str,
        role: str | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        check_name("actor", actor)
        check_amount(f"input_tokens for {task_id!r}", input_tokens, integer=True)
        check_amount(f"output_tokens for {task_id!r}", output_tokens, integer=True)
        check_amount(f"cost_usd for {task_id!r}", cost_usd)
        check_text("the model name", model, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Task:
            task = await load_task(tx, task_id)
            require_self(who, actor, "record usage", run_id=task.run_id)
            require_run(who, await load_run(tx, task.run_id), "record usage on")
            tokens = input_tokens + output_tokens
            await tx.add_usage(task.id, task.run_id, tokens=tokens, cost=cost_usd, claims=0)
            usage = {
                "model": model,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_usd": cost_usd,
                "role": role or task.role,
            }
            await tx.append_event(task.run_id, task.id, EventKind.TASK_USAGE, actor, usage, now)
            task = await load_task(tx, task_id)
            over = over_budget(task.budget, task.tokens_used, task.cost_used)
            if over and task.state is TaskState.RUNNING:
                reason = f"task budget exceeded: {over}"
                task = await apply(
                    tx,
                    task,
                    Action.BLOCK,
                    actor="budget",
                    now=now,
                    payload={"reason": reason},
                    changes=TaskChanges(blocked_reason=reason, clear_lease=True),
                )
                await escalate_in(
                    tx, task.run_id, "budget", reason, {"task": task.id}, task.id, now
                )
            run = await load_run(tx, task.run_id, lock=True)
            if not await pause_if_over(tx, run, now):
                await pause_if_role_over(tx, run, task.role, now)
            return task

        return await self.core.write(f"record_usage {task_id}", "task", idempotency_key, body)

    async def record_context(
        self,
        task_id: str,
        token: int,
        assembly: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Event:
        check_name("participant", participant)
        check_json(f"the context record of {task_id!r}", assembly, limits=self.core.limits)
        record = _context_record(assembly)

        async def body(tx: Tx, now: float, who: Principal) -> Later[Event]:
            task = await load_task(tx, task_id)
            require_self(who, participant, "record context", run_id=task.run_id)
            kind = LeaseKind(task.lease_kind) if task.lease_kind else LeaseKind.WORK
            check_lease(task, token, participant, kind, now)
            payload = {"token": token, **record}
            return await append_returned(
                tx, task.run_id, task.id, EventKind.TASK_CONTEXT, participant, payload, now
            )

        op = f"record_context {task_id}@{token} by {participant}"
        return await self.core.write(op, "event", idempotency_key, body)

    async def pause_run(
        self, run_id: str, *, actor: str, reason: str, idempotency_key: str | None = None
    ) -> Run:
        check_name("actor", actor)
        check_text("the reason", reason, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Run:
            require_self(who, actor, "pause runs", run_id=run_id)
            run = await self._active_run(tx, run_id)
            require_steer(who, run, "pause")
            if run.state is RunState.PAUSED:
                return run
            await tx.set_run_state(run_id, RunState.PAUSED, None, reason)
            await tx.append_event(
                run_id, None, EventKind.RUN_PAUSED, actor, {"reason": reason}, now
            )
            return run.model_copy(update={"state": RunState.PAUSED, "paused_reason": reason})

        return await self.core.write(f"pause_run {run_id}", "create_run", idempotency_key, body)

    async def resume_run(
        self,
        run_id: str,
        *,
        actor: str,
        budget: Budget | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        check_name("actor", actor)
        new_budget = None if budget is None else _valid_budget(run_id, budget)

        async def body(tx: Tx, now: float, who: Principal) -> Run:
            require_self(who, actor, "resume runs", run_id=run_id)
            run = await self._active_run(tx, run_id)
            require_steer(who, run, "resume")
            if new_budget is not None:
                await tx.set_run_budget(run_id, new_budget)
                run = run.model_copy(update={"budget": new_budget})
            over = run_exhausted(run, now)
            if over:
                raise InvalidArgument(f"run {run_id!r} is still out of budget: {over}; raise it")
            await tx.set_run_state(run_id, RunState.ACTIVE, None, None)
            payload = {"budget": run.budget} if new_budget is not None else {}
            await tx.append_event(run_id, None, EventKind.RUN_RESUMED, actor, payload, now)
            return run.model_copy(update={"state": RunState.ACTIVE, "paused_reason": None})

        return await self.core.write(f"resume_run {run_id}", "create_run", idempotency_key, body)

    async def escalate(
        self,
        run_id: str,
        kind: str,
        reason: str,
        *,
        evidence: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        actor: str,
        idempotency_key: str | None = None,
    ) -> Event:
        check_name("actor", actor)
        check_id("escalation kind", kind)
        check_text("the reason", reason, limits=self.core.limits)
        if evidence is not None and not isinstance(evidence, Mapping):
            raise InvalidArgument(
                f"the evidence of an escalation on {run_id!r} must be an object, "
                f"got {type(evidence).__name__}"
            )
        check_json(
            f"the evidence of an escalation on {run_id!r}",
            dict(evidence or {}),
            limits=self.core.limits,
        )

        async def body(tx: Tx, now: float, who: Principal) -> Later[Event]:
            require_self(who, actor, "escalate", run_id=run_id)
            run = await tx.get_run(lookup_id("run", run_id))
            if run is None:
                raise NotFound("run", run_id)
            require_run(who, run, "escalate on")
            return await escalate_in(
                tx, run_id, kind, reason, dict(evidence or {}), task_id, now, actor
            )

        return await self.core.write(f"escalate {kind} on {run_id}", "event", idempotency_key, body)


def _valid_budget(run_id: str, budget: Budget | Mapping[str, Any]) -> dict[str, Any]:
    """The budget as stored, or :class:`InvalidArgument` naming the run and the fault."""
    try:
        return Budget.model_validate(budget).model_dump(exclude_none=True)
    except ValidationError as exc:
        faults = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<budget>'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidArgument(f"invalid budget for run {run_id!r}: {faults}") from None


_CONTEXT_FIELDS = {"encoding", "budget", "total_tokens", "over_budget", "pieces"}


def _context_record(assembly: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a context assembly's record (``ContextAssembly.event_payload()``),
    checked for shape: names and counts, not the assembled text."""
    fields = set(assembly)
    if fields != _CONTEXT_FIELDS or not isinstance(assembly.get("pieces"), list):
        raise InvalidArgument(
            "a context record has exactly the fields "
            f"{', '.join(sorted(_CONTEXT_FIELDS))} (ContextAssembly.event_payload()); "
            f"got {', '.join(sorted(fields)) or 'none'}"
        )
    return dict(assembly)
