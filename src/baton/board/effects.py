"""The effect ledger (model/effects.py): start a task's step, record its result, read
the ledger. Every call is under the task's work lease (its fencing token), with the
task's row locked, so two attempts never race on one step and a holder whose lease was
lost records nothing."""

from __future__ import annotations

from typing import Any

from baton.board.core import BoardCore, held_task
from baton.board.escalations import escalate_in
from baton.board.policies import check_tool
from baton.board.reading import ReadService
from baton.model.effects import Effect, EffectStart, EffectState, effect_key
from baton.model.errors import InvalidTransition
from baton.model.events import EventKind
from baton.model.limits import check_json, check_name
from baton.model.participants import Principal
from baton.store import Tx


class EffectService:
    def __init__(self, core: BoardCore) -> None:
        self.core = core

    async def start_effect(
        self,
        task_id: str,
        token: int,
        step: str,
        *,
        participant: str,
        repeat_safe: bool = False,
        idempotency_key: str | None = None,
    ) -> EffectStart:
        check_name("effect step", step)
        check_name("participant", participant)

        async def body(tx: Tx, now: float, who: Principal) -> EffectStart:
            task = await held_task(tx, who, task_id, token, participant, now, "run effects")
            check_tool(await tx.run_policy(task.run_id), who, task.role, step, task.run_id)
            prior = await tx.lock_effect(task.id, step)
            if prior is not None and prior.state is EffectState.DONE:
                await tx.append_event(
                    task.run_id, task.id, EventKind.EFFECT_REUSED, participant,
                    {"step": step, "key": prior.key, "recorded_by": prior.started_by}, now,
                )  # fmt: skip
                return EffectStart(effect=prior, decision="recorded")
            if prior is not None and prior.started_token != token and not repeat_safe:
                reason = (
                    f"effect {step!r} of task {task.id} was started by {prior.started_by} "
                    f"(attempt token {prior.started_token}) and never recorded: it may or "
                    "may not have happened. Check it, then unblock the task (mark it done "
                    "with `record`) or cancel it."
                )
                evidence = {"step": step, "key": prior.key, "started_by": prior.started_by}
                await escalate_in(
                    tx, task.run_id, "effect_uncertain", reason, evidence, task.id, now, participant
                )
                return EffectStart(effect=prior, decision="uncertain")
            if prior is not None and prior.started_token == token:
                return EffectStart(effect=prior, decision="run")  # this attempt, again
            effect = Effect(
                task_id=task.id,
                step=step,
                key=effect_key(task.id, step),
                state=EffectState.STARTED,
                attempts=1 if prior is None else prior.attempts + 1,
                started_by=participant,
                started_token=token,
                started_at=now,
            )
            await tx.put_effect(effect)
            payload = {"step": step, "key": effect.key, "attempts": effect.attempts}
            await tx.append_event(
                task.run_id, task.id, EventKind.EFFECT_STARTED, participant, payload, now
            )
            return EffectStart(effect=effect, decision="run")

        op = f"start_effect {step} of {task_id} by {participant}"
        return await self.core.write(op, "effect_start", idempotency_key, body)

    async def record_effect(
        self,
        task_id: str,
        token: int,
        step: str,
        result: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Effect:
        check_name("effect step", step)
        check_name("participant", participant)
        value = check_json(f"result of effect {step!r}", result, limits=self.core.limits)

        async def body(tx: Tx, now: float, who: Principal) -> Effect:
            task = await held_task(tx, who, task_id, token, participant, now, "run effects")
            prior = await tx.lock_effect(task.id, step)
            if prior is None or prior.started_token != token:
                raise InvalidTransition(
                    task.id,
                    "not started" if prior is None else f"started by token {prior.started_token}",
                    f"record effect {step!r} of",
                    f"this attempt (token {token}) did not start it: start_effect it first",
                )
            if prior.state is EffectState.DONE:
                return prior  # recorded already by this attempt: the same call again
            done = prior.model_copy(
                update={"state": EffectState.DONE, "result": value, "done_at": now}
            )
            await tx.put_effect(done)
            await tx.append_event(
                task.run_id, task.id, EventKind.EFFECT_RECORDED, participant,
                {"step": step, "key": done.key, "result": value}, now,
            )  # fmt: skip
            return done

        op = f"record_effect {step} of {task_id} by {participant}"
        return await self.core.write(op, "effect", idempotency_key, body)

    async def effects(self, task_id: str) -> list[Effect]:
        task = await ReadService(self.core).get_task(task_id)
        return await self.core.store.list_effects(task.id)
