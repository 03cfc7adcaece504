"""A remote Board: the Board's interface (:class:`~baton.board.protocol.BoardAPI`) over
HTTP to ``baton serve``, so that ``Worker``, ``Orchestrator``, the agents and the CLI run
unchanged on a machine with no access to the store.

``board = await baton.connect("http://127.0.0.1:8711", token)`` (async) or
``baton.connect_sync(url, token)`` (a :class:`~baton.board.sync.SyncBoard`). Every
error the server answers is raised as the exception the local Board would have raised
(same class, message and fields; see :mod:`.problems`); a server that cannot be reached
is :class:`~baton.model.errors.StoreUnavailable`, as an unreachable store is locally.

Waiting calls (``wait_for_change``, ``subscribe``, ``wait_finished``) are long polls of
at most 25 s each, repeated until the caller's timeout, so no proxy idles them out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from baton.board.sync import SyncBoard
from baton.interfaces.http import wire
from baton.interfaces.http.transport import Transport, plain
from baton.interfaces.http.wire import CURSOR_HEADER, MAX_WAIT_S
from baton.model import Briefing, Budget, Duty, Event, Handoff, Lease, Plan, Run, Task, TaskSpec
from baton.model.artifacts import (
    Artifact,
    ArtifactContent,
    ArtifactKind,
    ArtifactVersion,
    ArtifactWrite,
    MergeStrategy,
)
from baton.model.audit import AuditReport
from baton.model.effects import Effect, EffectStart
from baton.model.limits import Limits
from baton.model.participants import Grant, Participant, ParticipantKind, Principal
from baton.model.policies import Policy, PolicyCheck, PolicyRecord
from baton.model.reservations import Reservation, ReservationMode
from baton.model.signatures import ParticipantKey
from baton.model.turns import LocalTurns, turn_key

M = TypeVar("M", bound=BaseModel)

_TASKS = TypeAdapter(list[Task])
_RUNS = TypeAdapter(list[Run])
_EVENTS = TypeAdapter(list[Event])
_EFFECTS = TypeAdapter(list[Effect])
_ARTIFACTS = TypeAdapter(list[Artifact])
_VERSIONS = TypeAdapter(list[ArtifactVersion])
_RESERVATIONS = TypeAdapter(list[Reservation])
_PARTICIPANTS = TypeAdapter(list[Participant])
_COUNTS = TypeAdapter(dict[str, int])
_LEASE = TypeAdapter(Lease | None)
_DUTY = TypeAdapter(Duty | None)
_RUN = TypeAdapter(Run | None)
_PROGRESS = TypeAdapter(wire.Progress | None)


def _id(value: str) -> str:
    return quote(value, safe="")


def _task(value: str) -> str:
    return quote(value, safe="/")


def _body(**fields: Any) -> dict[str, Any]:
    """The request body without the arguments left at ``None`` (the server's default)."""
    return {k: plain(v) for k, v in fields.items() if v is not None}


class RemoteBoard:
    """The Board, over HTTP. Make one with :func:`connect`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        _wire: Transport | None = None,
    ) -> None:
        self._wire = _wire or Transport(url, token, timeout=timeout, transport=transport)
        self.url = self._wire.url
        self._turns = LocalTurns()
        self._principal: Principal | None = None
        self._limits: Limits | None = None

    async def start(self) -> RemoteBoard:
        """Check the token and learn who it stands for and the server's limits."""
        who = wire.Who.model_validate_json(await self._wire.get("/whoami"))
        self._principal = who.as_principal(self._wire.token)
        lim = wire.ServerLimits.model_validate_json(await self._wire.get("/limits"))
        self._limits = Limits(
            max_json_bytes=lim.max_json_bytes,
            max_depth=lim.max_depth,
            max_text=lim.max_text,
            max_tasks=lim.max_tasks,
            max_duration_s=lim.max_duration_s,
        )
        self._wire.max_depth = lim.max_depth
        return self

    # --- the Board -------------------------------------------------------------------
    def clock(self) -> float:
        """The server's clock, as of its last response."""
        return self._wire.clock()

    @property
    def limits(self) -> Limits:
        assert self._limits is not None, "use baton.connect(), which starts the board"
        return self._limits

    @property
    def principal(self) -> Principal:
        assert self._principal is not None, "use baton.connect(), which starts the board"
        return self._principal

    async def close(self) -> None:
        await self._wire.close()

    async def login(self, token: str) -> RemoteBoard:
        """The same server, acting as the participant ``token`` was issued to (sharing
        this board's connections; closing it closes nothing)."""
        return await RemoteBoard(self.url, token, _wire=self._wire.sharing(token)).start()

    async def authenticate(self, token: str) -> Principal:
        who = wire.Who.model_validate_json(await self._wire.post("/authenticate", {"token": token}))
        return who.as_principal(token)

    async def add_participant(
        self,
        participant_id: str,
        *,
        kind: ParticipantKind | str,
        name: str | None = None,
        roles: Sequence[str] = (),
        grants: Sequence[Grant | str] = (),
        runs: Sequence[str] = (),
    ) -> tuple[Participant, str]:
        body = _body(id=participant_id, kind=kind, name=name, roles=roles, grants=grants, runs=runs)
        issued = wire.IssuedToken.model_validate_json(await self._wire.post("/participants", body))
        return issued.participant, issued.token

    async def rotate_token(self, participant_id: str) -> str:
        raw = await self._wire.post(f"/participants/{_id(participant_id)}/rotate")
        return wire.IssuedToken.model_validate_json(raw).token

    async def revoke_participant(self, participant_id: str) -> Participant:
        raw = await self._wire.post(f"/participants/{_id(participant_id)}/revoke")
        return Participant.model_validate_json(raw)

    async def get_participant(self, participant_id: str) -> Participant:
        return Participant.model_validate_json(
            await self._wire.get(f"/participants/{_id(participant_id)}")
        )

    async def participants(self) -> list[Participant]:
        return _PARTICIPANTS.validate_json(await self._wire.get("/participants"))

    async def create_run(
        self,
        plan: Plan | Mapping[str, Any],
        *,
        actor: str | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        body = _body(plan=plan, actor=actor, run_id=run_id)
        return Run.model_validate_json(await self._wire.post("/runs", body, idempotency_key))

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
        body = _body(
            goal=goal,
            roles=roles,
            planner_role=planner_role,
            budget=budget,
            max_planning_attempts=max_planning_attempts,
            actor=actor,
            run_id=run_id,
        )
        return Run.model_validate_json(await self._wire.post("/runs/goal", body, idempotency_key))

    async def add_tasks(
        self,
        run_id: str,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> list[Task]:
        raw = await self._wire.post(
            f"/runs/{_id(run_id)}/tasks", _body(tasks=tasks, actor=actor), idempotency_key
        )
        return _TASKS.validate_json(raw)

    async def cancel_run(
        self,
        run_id: str,
        *,
        actor: str | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Run:
        raw = await self._wire.post(
            f"/runs/{_id(run_id)}/cancel", _body(actor=actor, reason=reason), idempotency_key
        )
        return Run.model_validate_json(raw)

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
        body = _body(
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            actor=actor,
            role=role,
        )
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/usage", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def pause_run(
        self, run_id: str, *, actor: str, reason: str, idempotency_key: str | None = None
    ) -> Run:
        raw = await self._wire.post(
            f"/runs/{_id(run_id)}/pause", _body(actor=actor, reason=reason), idempotency_key
        )
        return Run.model_validate_json(raw)

    async def resume_run(
        self,
        run_id: str,
        *,
        actor: str,
        budget: Budget | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        raw = await self._wire.post(
            f"/runs/{_id(run_id)}/resume", _body(actor=actor, budget=budget), idempotency_key
        )
        return Run.model_validate_json(raw)

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
        body = _body(kind=kind, reason=reason, evidence=evidence, task_id=task_id, actor=actor)
        raw = await self._wire.post(f"/runs/{_id(run_id)}/escalations", body, idempotency_key)
        return Event.model_validate_json(raw)

    async def claim(
        self,
        participant: str,
        roles: str | Sequence[str],
        *,
        run_id: str | None = None,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease | None:
        body = _body(participant=participant, roles=roles, run_id=run_id, lease_s=lease_s)
        return _LEASE.validate_json(await self._wire.post("/claims", body, idempotency_key))

    async def heartbeat(
        self,
        task_id: str,
        token: int,
        participant: str,
        *,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease:
        body = _body(token=token, participant=participant, lease_s=lease_s)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/heartbeat", body, idempotency_key)
        return Lease.model_validate_json(raw)

    async def submit(
        self,
        task_id: str,
        token: int,
        output: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        body = {"token": token, "output": plain(output), "participant": participant}
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/submit", body, idempotency_key)
        return Task.model_validate_json(raw)

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
        body = {"token": token, "output": plain(output), "participant": participant}
        body |= _body(roles=roles, run_id=run_id, lease_s=lease_s)
        path = f"/tasks/{_task(task_id)}/submit-and-claim"
        return Handoff.model_validate_json(await self._wire.post(path, body, idempotency_key))

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
        body = _body(token=token, error=error, participant=participant, retryable=retryable)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/fail", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def block(
        self,
        task_id: str,
        token: int,
        reason: str,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        body = _body(token=token, reason=reason, participant=participant)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/block", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def release(
        self, task_id: str, token: int, *, participant: str, idempotency_key: str | None = None
    ) -> Task:
        body = _body(token=token, participant=participant)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/release", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def unblock(
        self, task_id: str, *, actor: str, idempotency_key: str | None = None
    ) -> Task:
        raw = await self._wire.post(
            f"/tasks/{_task(task_id)}/unblock", _body(actor=actor), idempotency_key
        )
        return Task.model_validate_json(raw)

    async def reap_expired(
        self, *, actor: str | None = None, limit: int = 1000, idempotency_key: str | None = None
    ) -> list[Task]:
        raw = await self._wire.post("/reap", _body(actor=actor, limit=limit), idempotency_key)
        return _TASKS.validate_json(raw)

    async def approve(
        self,
        task_id: str,
        *,
        actor: str,
        token: int | None = None,
        comment: str = "",
        idempotency_key: str | None = None,
    ) -> Task:
        body = _body(actor=actor, token=token, comment=comment)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/approve", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def reject(
        self,
        task_id: str,
        feedback: str | Sequence[str],
        *,
        actor: str,
        token: int | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        body = _body(feedback=feedback, actor=actor, token=token)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/reject", body, idempotency_key)
        return Task.model_validate_json(raw)

    async def abandon_review(
        self,
        task_id: str,
        token: int,
        error: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        body = _body(token=token, error=error, participant=participant)
        raw = await self._wire.post(
            f"/tasks/{_task(task_id)}/abandon-review", body, idempotency_key
        )
        return Task.model_validate_json(raw)

    async def cancel_task(
        self, task_id: str, *, actor: str, reason: str = "", idempotency_key: str | None = None
    ) -> Task:
        body = _body(actor=actor, reason=reason)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/cancel", body, idempotency_key)
        return Task.model_validate_json(raw)

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
        payload = _body(kind=kind, body=body, sender=sender, to=to, task_id=task_id)
        raw = await self._wire.post(f"/runs/{_id(run_id)}/messages", payload, idempotency_key)
        return Event.model_validate_json(raw)

    async def messages(self, run_id: str, *, limit: int = 100) -> list[Event]:
        return _EVENTS.validate_json(
            await self._wire.get(f"/runs/{_id(run_id)}/messages", limit=limit)
        )

    async def briefing(
        self, run_id: str, *, messages: int = 50, dependencies: Sequence[str] = ()
    ) -> Briefing:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/briefing", messages=messages, dependencies=list(dependencies)
        )
        return Briefing.model_validate_json(raw)

    async def record_context(
        self,
        task_id: str,
        token: int,
        assembly: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Event:
        body = _body(token=token, assembly=dict(assembly), participant=participant)
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/context", body, idempotency_key)
        return Event.model_validate_json(raw)

    # --- artifacts and reservations ------------------------------------------------
    async def write_artifact(
        self,
        run_id: str,
        name: str,
        content: Any,
        *,
        base: int | None = None,
        scope: str | None = None,
        kind: ArtifactKind | str | None = None,
        strategy: MergeStrategy | str | None = None,
        patch: bool = False,
        task_id: str | None = None,
        token: int | None = None,
        author: str | None = None,
        idempotency_key: str | None = None,
    ) -> ArtifactWrite:
        body = _body(
            name=name,
            base=base,
            scope=scope,
            kind=kind,
            strategy=strategy,
            patch=patch or None,
            task_id=task_id,
            token=token,
            author=author,
        )
        body["content"] = content  # sent even when it is null (a JSON artifact's value)
        raw = await self._wire.post(f"/runs/{_id(run_id)}/artifacts", body, idempotency_key)
        return ArtifactWrite.model_validate_json(raw)

    async def read_artifact(
        self,
        run_id: str,
        name: str,
        *,
        scope: str | None = None,
        version: int | None = None,
        task_id: str | None = None,
    ) -> ArtifactContent:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/artifact",
            name=name,
            scope=scope,
            version=version,
            task_id=task_id,
        )
        return ArtifactContent.model_validate_json(raw)

    async def artifact_history(
        self, run_id: str, name: str, *, scope: str | None = None, task_id: str | None = None
    ) -> list[ArtifactVersion]:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/artifact/history", name=name, scope=scope, task_id=task_id
        )
        return _VERSIONS.validate_json(raw)

    async def diff_artifact(
        self,
        run_id: str,
        name: str,
        from_version: int,
        to_version: int | None = None,
        *,
        scope: str | None = None,
        task_id: str | None = None,
    ) -> str:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/artifact/diff",
            name=name,
            scope=scope,
            task_id=task_id,
            **{"from": from_version, "to": to_version},
        )
        return str(json.loads(raw)["diff"])

    async def artifacts(self, run_id: str, *, task_id: str | None = None) -> list[Artifact]:
        raw = await self._wire.get(f"/runs/{_id(run_id)}/artifacts", task_id=task_id)
        return _ARTIFACTS.validate_json(raw)

    async def reserve(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str],
        *,
        participant: str,
        mode: ReservationMode | str = ReservationMode.EXCLUSIVE,
        wait_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> list[Reservation]:
        body = _body(
            token=token,
            resources=list(resources),
            participant=participant,
            mode=mode,
            wait_s=wait_s,
        )
        path = f"/tasks/{_task(task_id)}/reservations"
        response = await self._wire.call(
            "POST", path, body=body, key=idempotency_key, wait=wait_s or 0.0
        )
        return _RESERVATIONS.validate_json(response.content)

    async def release_reservations(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str] | None = None,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> list[Reservation]:
        body = _body(
            token=token,
            resources=None if resources is None else list(resources),
            participant=participant,
        )
        path = f"/tasks/{_task(task_id)}/reservations/release"
        return _RESERVATIONS.validate_json(await self._wire.post(path, body, idempotency_key))

    async def reservations(self, run_id: str | None = None) -> list[Reservation]:
        return _RESERVATIONS.validate_json(await self._wire.get("/reservations", run_id=run_id))

    async def get_run(self, run_id: str) -> Run:
        return Run.model_validate_json(await self._wire.get(f"/runs/{_id(run_id)}"))

    async def list_runs(self) -> list[Run]:
        return _RUNS.validate_json(await self._wire.get("/runs"))

    async def get_task(self, task_id: str) -> Task:
        return Task.model_validate_json(await self._wire.get(f"/tasks/{_task(task_id)}"))

    async def tasks(self, run_id: str) -> list[Task]:
        return _TASKS.validate_json(await self._wire.get(f"/runs/{_id(run_id)}/tasks"))

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
        body = {
            "token": token,
            "step": step,
            "participant": participant,
            "repeat_safe": repeat_safe,
        }
        raw = await self._wire.post(f"/tasks/{_task(task_id)}/effects/start", body, idempotency_key)
        return EffectStart.model_validate_json(raw)

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
        body = {"token": token, "step": step, "participant": participant, "result": result}
        raw = await self._wire.post(
            f"/tasks/{_task(task_id)}/effects/record", body, idempotency_key
        )
        return Effect.model_validate_json(raw)

    async def effects(self, task_id: str) -> list[Effect]:
        return _EFFECTS.validate_json(await self._wire.get(f"/tasks/{_task(task_id)}/effects"))

    async def register_key(self, participant_id: str, public_key: str) -> ParticipantKey:
        raw = await self._wire.post(
            f"/participants/{_id(participant_id)}/key", {"public_key": public_key}
        )
        return ParticipantKey.model_validate_json(raw)

    async def revoke_key(self, participant_id: str) -> None:
        await self._wire.post(f"/participants/{_id(participant_id)}/key/revoke")

    async def sign_events(self, participant: str, signatures: Sequence[tuple[int, str]]) -> int:
        body = {"participant": participant, "signatures": [list(s) for s in signatures]}
        return int(json.loads(await self._wire.post("/signatures", body)))

    async def event_hashes(
        self, run_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, str]]:
        raw = await self._wire.get(f"/runs/{_id(run_id)}/event-hashes", since=since, limit=limit)
        return [(int(s), str(a), str(h)) for s, a, h in json.loads(raw)]

    async def set_policy(
        self, policy: Policy | Mapping[str, Any], *, actor: str | None = None
    ) -> PolicyRecord:
        document = policy.model_dump(mode="json") if isinstance(policy, Policy) else policy
        raw = await self._wire.post("/policy", {"policy": document, "actor": actor})
        return PolicyRecord.model_validate_json(raw)

    async def policy(self) -> PolicyRecord | None:
        raw = await self._wire.get("/policy")
        return None if raw.strip() == b"null" else PolicyRecord.model_validate_json(raw)

    async def check_policy(self, plan: Plan | Mapping[str, Any]) -> PolicyCheck:
        document = plan.model_dump(mode="json") if isinstance(plan, Plan) else plan
        raw = await self._wire.post("/policy/check", {"plan": document})
        return PolicyCheck.model_validate_json(raw)

    async def verify_audit(self, run_id: str | None = None) -> AuditReport:
        raw = await self._wire.get("/audit/verify", run=None if run_id is None else _id(run_id))
        return AuditReport.model_validate_json(raw)

    async def count_by_state(self, run_id: str) -> dict[str, int]:
        return _COUNTS.validate_json(await self._wire.get(f"/runs/{_id(run_id)}/counts"))

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        return _COUNTS.validate_json(await self._wire.get(f"/runs/{_id(run_id)}/queues"))

    async def watched_tasks(self, run_id: str, *, review_rounds_at_least: int) -> list[Task]:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/watched", review_rounds_at_least=review_rounds_at_least
        )
        return _TASKS.validate_json(raw)

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]:
        path = "/events" if run_id is None else f"/runs/{_id(run_id)}/events"
        return _EVENTS.validate_json(await self._wire.get(path, after=since, limit=limit))

    async def forget_idempotency(self, *, older_than_s: float = 7 * 86400) -> int:
        raw = await self._wire.post("/idempotency/forget", {"older_than_s": older_than_s})
        return wire.Count.model_validate_json(raw).count

    async def escalations(self, run_id: str, *, limit: int = 1000) -> list[Event]:
        raw = await self._wire.get(f"/runs/{_id(run_id)}/escalations", limit=limit)
        return _EVENTS.validate_json(raw)

    async def recent_events(
        self, run_id: str, *, kind_prefix: str = "", limit: int = 500
    ) -> list[Event]:
        raw = await self._wire.get(
            f"/runs/{_id(run_id)}/recent-events", kind_prefix=kind_prefix, limit=limit
        )
        return _EVENTS.validate_json(raw)

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        found = _PROGRESS.validate_json(await self._wire.get(f"/runs/{_id(run_id)}/progress"))
        return None if found is None else (found.seq, found.at)

    async def last_seq(self) -> int:
        return wire.Seq.model_validate_json(await self._wire.get("/seq")).seq

    async def wait_for_change(self, after_seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            wait = min(max(deadline - time.monotonic(), 0.0), MAX_WAIT_S)
            response = await self._wire.call(
                "GET", "/changes", params={"after": after_seq, "timeout": wait}, wait=wait
            )
            if wire.Changed.model_validate_json(response.content).changed:
                return True
            if time.monotonic() >= deadline:
                return False

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        """Over HTTP, any commit wakes an idle worker (``/changes``): the server's own
        wake-ups are what keep its store's idle workers from stampeding. The head is
        read after the wake-up, so every commit up to the seq returned is visible."""
        return await self.last_seq() if await self.wait_for_change(after_seq, timeout) else None

    def idle_turn(
        self, roles: Sequence[str], *, run_id: str | None = None, timeout: float
    ) -> AbstractAsyncContextManager[bool]:
        """Turns among this process's workers only: over HTTP a turn across processes
        would be a lock held open by a request."""
        return self._turns.take(turn_key("", roles, run_id), timeout)

    async def similar_ids(self, kind: str, ident: str, *, limit: int = 3) -> list[str]:
        raw = await self._wire.get("/similar-ids", kind=kind, ident=ident, limit=limit)
        return wire.Ids.model_validate_json(raw).ids

    async def backup(self, destination: str) -> int:
        """Back the store up to ``destination`` *on the server's machine* (admin)."""
        raw = await self._wire.post("/backup", {"destination": destination})
        return wire.Count.model_validate_json(raw).count

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        found = wire.Snapshot.model_validate_json(await self._wire.get("/snapshot"))
        return {name: [tuple(row) for row in rows] for name, rows in found.tables.items()}

    async def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Every event after ``since`` (of ``run_id``, of ``kinds``), live; ends after
        ``idle_timeout`` seconds with none. Long polls of the event pages, resumed
        from the last seq the server read, so each event arrives exactly once."""
        path = "/events" if run_id is None else f"/runs/{_id(run_id)}/events"
        cursor = since
        idle_since = time.monotonic()
        while True:
            if idle_timeout is None:
                wait = MAX_WAIT_S
            else:
                wait = min(MAX_WAIT_S, max(idle_timeout - (time.monotonic() - idle_since), 0.0))
            params: dict[str, Any] = {"after": cursor, "limit": 1000, "wait": wait}
            if kinds:
                params["kind"] = list(kinds)
            response = await self._wire.call("GET", path, params=params, wait=wait)
            batch = _EVENTS.validate_json(response.content)
            for event in batch:
                yield event
            cursor = int(response.headers.get(CURSOR_HEADER, batch[-1].seq if batch else cursor))
            if batch:
                idle_since = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                return

    async def wait_finished(self, run_id: str, timeout: float) -> Run:
        return await self._wait_run(run_id, "finished", timeout)

    async def wait_ended(self, run_id: str, *, timeout: float | None = None) -> Run:
        return await self._wait_run(run_id, "ended", timeout)

    async def _wait_run(self, run_id: str, until: str, timeout: float | None) -> Run:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = MAX_WAIT_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"run {run_id} did not end within {timeout} s")
            wait = min(left, MAX_WAIT_S)
            response = await self._wire.call(
                "GET",
                f"/runs/{_id(run_id)}/wait",
                params={"until": until, "timeout": wait},
                wait=wait,
            )
            run = _RUN.validate_json(response.content)
            if run is not None:
                return run
            await asyncio.sleep(0)

    async def claim_duty(self, name: str, participant: str, *, lease_s: float) -> Duty | None:
        raw = await self._wire.post(
            f"/duties/{_id(name)}/claim", {"participant": participant, "lease_s": lease_s}
        )
        return _DUTY.validate_json(raw)

    async def renew_duty(self, name: str, token: int, participant: str, *, lease_s: float) -> Duty:
        body = {"token": token, "participant": participant, "lease_s": lease_s}
        return Duty.model_validate_json(await self._wire.post(f"/duties/{_id(name)}/renew", body))

    async def release_duty(self, name: str, token: int, participant: str) -> None:
        await self._wire.post(
            f"/duties/{_id(name)}/release", {"token": token, "participant": participant}
        )

    async def get_duty(self, name: str) -> Duty | None:
        return _DUTY.validate_json(await self._wire.get(f"/duties/{_id(name)}"))


async def connect(url: str, token: str, *, timeout: float = 30.0) -> RemoteBoard:
    """A Board over HTTP to ``baton serve`` at ``url``, acting as the participant
    ``token`` was issued to; :class:`Unauthenticated` if the server does not accept it."""
    board = RemoteBoard(url, token, timeout=timeout)
    try:
        return await board.start()
    except BaseException:
        await board.close()
        raise


def connect_sync(url: str, token: str, *, timeout: float = 30.0) -> SyncBoard:
    """:func:`connect`, blocking: a :class:`~baton.board.sync.SyncBoard` over HTTP."""
    return SyncBoard.starting(lambda: connect(url, token, timeout=timeout))
