"""The Board's interface, written down: what the runtime (workers, the orchestrator,
agents) and the doors may call. The local :class:`~baton.board.Board` implements it, and
so will a remote board over HTTP; a ``Worker`` given any object that implements it
works. A test checks that ``Board`` satisfies it, method by method and signature by
signature.

The methods' documentation lives on :class:`~baton.board.Board`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class BoardAPI(Protocol):
    """Every call a participant can make on a board. See :class:`baton.board.Board`."""

    def clock(self) -> float: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def principal(self) -> Principal:
        """Who this board's calls act as."""
        ...

    async def close(self) -> None: ...

    async def authenticate(self, token: str) -> Principal:
        """The participant a bearer token stands for; :class:`Unauthenticated` for a
        token this board never issued, revoked, or rotated since."""
        ...

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
        """Register a participant (admin grant); returns it and its token — the only
        time the token is shown. ``runs`` may hold ``"*"`` for every run."""
        ...

    async def rotate_token(self, participant_id: str) -> str:
        """A new token for the participant; the old one stops working at once."""
        ...

    async def revoke_participant(self, participant_id: str) -> Participant:
        """Revoke a participant: its token stops working at once, on every door."""
        ...

    async def get_participant(self, participant_id: str) -> Participant: ...

    async def participants(self) -> list[Participant]: ...

    async def create_run(
        self,
        plan: Plan | Mapping[str, Any],
        *,
        actor: str | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run: ...

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
    ) -> Run: ...

    async def add_tasks(
        self,
        run_id: str,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> list[Task]: ...

    async def cancel_run(
        self,
        run_id: str,
        *,
        actor: str | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Run: ...

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
    ) -> Task: ...

    async def pause_run(
        self, run_id: str, *, actor: str, reason: str, idempotency_key: str | None = None
    ) -> Run: ...

    async def resume_run(
        self,
        run_id: str,
        *,
        actor: str,
        budget: Budget | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run: ...

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
    ) -> Event: ...

    async def claim(
        self,
        participant: str,
        roles: str | Sequence[str],
        *,
        run_id: str | None = None,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease | None: ...

    async def heartbeat(
        self,
        task_id: str,
        token: int,
        participant: str,
        *,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease: ...

    async def submit(
        self,
        task_id: str,
        token: int,
        output: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task: ...

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
    ) -> Handoff: ...

    async def fail(
        self,
        task_id: str,
        token: int,
        error: str | Mapping[str, Any],
        *,
        participant: str,
        retryable: bool = True,
        idempotency_key: str | None = None,
    ) -> Task: ...

    async def block(
        self,
        task_id: str,
        token: int,
        reason: str,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task: ...

    async def release(
        self, task_id: str, token: int, *, participant: str, idempotency_key: str | None = None
    ) -> Task: ...

    async def unblock(
        self, task_id: str, *, actor: str, idempotency_key: str | None = None
    ) -> Task: ...

    async def reap_expired(
        self, *, actor: str | None = None, limit: int = 1000, idempotency_key: str | None = None
    ) -> list[Task]: ...

    async def approve(
        self,
        task_id: str,
        *,
        actor: str,
        token: int | None = None,
        comment: str = "",
        idempotency_key: str | None = None,
    ) -> Task: ...

    async def reject(
        self,
        task_id: str,
        feedback: str | Sequence[str],
        *,
        actor: str,
        token: int | None = None,
        idempotency_key: str | None = None,
    ) -> Task: ...

    async def abandon_review(
        self,
        task_id: str,
        token: int,
        error: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task: ...

    async def cancel_task(
        self, task_id: str, *, actor: str, reason: str = "", idempotency_key: str | None = None
    ) -> Task: ...

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
    ) -> Event: ...

    async def messages(self, run_id: str, *, limit: int = 100) -> list[Event]: ...

    async def briefing(
        self, run_id: str, *, messages: int = 50, dependencies: Sequence[str] = ()
    ) -> Briefing: ...

    async def record_context(
        self,
        task_id: str,
        token: int,
        assembly: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Event: ...

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
    ) -> ArtifactWrite: ...

    async def read_artifact(
        self,
        run_id: str,
        name: str,
        *,
        scope: str | None = None,
        version: int | None = None,
        task_id: str | None = None,
    ) -> ArtifactContent: ...

    async def artifact_history(
        self, run_id: str, name: str, *, scope: str | None = None, task_id: str | None = None
    ) -> list[ArtifactVersion]: ...

    async def diff_artifact(
        self,
        run_id: str,
        name: str,
        from_version: int,
        to_version: int | None = None,
        *,
        scope: str | None = None,
        task_id: str | None = None,
    ) -> str: ...

    async def artifacts(self, run_id: str, *, task_id: str | None = None) -> list[Artifact]: ...

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
    ) -> list[Reservation]: ...

    async def release_reservations(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str] | None = None,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> list[Reservation]: ...

    async def reservations(self, run_id: str | None = None) -> list[Reservation]: ...

    async def get_run(self, run_id: str) -> Run: ...

    async def list_runs(self) -> list[Run]: ...

    async def get_task(self, task_id: str) -> Task: ...

    async def tasks(self, run_id: str) -> list[Task]: ...

    async def count_by_state(self, run_id: str) -> dict[str, int]: ...

    async def ready_by_role(self, run_id: str) -> dict[str, int]: ...

    async def watched_tasks(self, run_id: str, *, review_rounds_at_least: int) -> list[Task]: ...

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]: ...

    async def forget_idempotency(self, *, older_than_s: float = 7 * 86400) -> int: ...

    async def verify_audit(self, run_id: str | None = None) -> AuditReport: ...

    async def register_key(self, participant_id: str, public_key: str) -> ParticipantKey: ...

    async def revoke_key(self, participant_id: str) -> None: ...

    async def sign_events(self, participant: str, signatures: Sequence[tuple[int, str]]) -> int: ...

    async def event_hashes(
        self, run_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, str]]: ...

    async def set_policy(
        self, policy: Policy | Mapping[str, Any], *, actor: str | None = None
    ) -> PolicyRecord: ...

    async def policy(self) -> PolicyRecord | None: ...

    async def check_policy(self, plan: Plan | Mapping[str, Any]) -> PolicyCheck: ...

    async def start_effect(
        self,
        task_id: str,
        token: int,
        step: str,
        *,
        participant: str,
        repeat_safe: bool = False,
        idempotency_key: str | None = None,
    ) -> EffectStart: ...

    async def record_effect(
        self,
        task_id: str,
        token: int,
        step: str,
        result: Any,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Effect: ...

    async def effects(self, task_id: str) -> list[Effect]: ...

    async def escalations(self, run_id: str, *, limit: int = 1000) -> list[Event]: ...

    async def recent_events(
        self, run_id: str, *, kind_prefix: str = "", limit: int = 500
    ) -> list[Event]: ...

    async def last_progress(self, run_id: str) -> tuple[int, float] | None: ...

    async def last_seq(self) -> int: ...

    async def wait_for_change(self, after_seq: int, timeout: float) -> bool: ...

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None: ...

    def idle_turn(
        self, roles: Sequence[str], *, run_id: str | None = None, timeout: float
    ) -> AbstractAsyncContextManager[bool]: ...

    async def similar_ids(self, kind: str, ident: str, *, limit: int = 3) -> list[str]: ...

    async def backup(self, destination: str) -> int: ...

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]: ...

    def subscribe(
        self,
        *,
        since: int = 0,
        run_id: str | None = None,
        kinds: Sequence[str] = (),
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Event, None]: ...

    async def wait_finished(self, run_id: str, timeout: float) -> Run: ...

    async def wait_ended(self, run_id: str, *, timeout: float | None = None) -> Run: ...

    async def claim_duty(self, name: str, participant: str, *, lease_s: float) -> Duty | None: ...

    async def renew_duty(
        self, name: str, token: int, participant: str, *, lease_s: float
    ) -> Duty: ...

    async def release_duty(self, name: str, token: int, participant: str) -> None: ...

    async def get_duty(self, name: str) -> Duty | None: ...
