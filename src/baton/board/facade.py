"""The Board: the one API every participant — agent, human, orchestrator, door — works
through.

Every mutating method is one store transaction that checks, writes the new state and
appends the events describing it; so the store and the log never disagree, and a crash
at any instant leaves either all of a change or none of it. Every mutating method takes
an optional ``idempotency_key``: repeating a call with the same key returns the first
result and writes nothing.

Writes about a claimed task must present the lease's fencing ``token``. A claim bumps
the token, so once a lease has expired and the task was claimed again, the old holder's
writes raise :class:`~baton.model.errors.LeaseLost` and nothing of theirs lands.

The Board is a facade: each method says what it does and delegates to one small
service (``runs``, ``work``, ``reviews``, ``messages``, ``reading``) over the shared
:class:`~baton.board.core.BoardCore`. Its interface, written down as
:class:`~baton.board.protocol.BoardAPI`, is all that the runtime and the doors use.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from baton.board.artifact_reads import ArtifactReads
from baton.board.artifacts import ArtifactService
from baton.board.audit import ArchiveService, AuditService
from baton.board.core import BoardCore
from baton.board.duties import DutyService
from baton.board.effects import EffectService
from baton.board.messages import MessageService
from baton.board.participants import ParticipantService
from baton.board.policies import PolicyService
from baton.board.reading import ReadService
from baton.board.reservations import ReservationService
from baton.board.reviews import ReviewService
from baton.board.runs import RunService
from baton.board.signatures import SignatureService
from baton.board.work import WorkService
from baton.model import Briefing, Budget, Duty, Event, Handoff, Lease, Plan, Run, Task, TaskSpec
from baton.model.artifacts import (
    Artifact,
    ArtifactContent,
    ArtifactKind,
    ArtifactVersion,
    ArtifactWrite,
    MergeStrategy,
)
from baton.model.audit import ArchivedEvent, ArchiveRecord, ArchiveReport, AuditReport
from baton.model.effects import Effect, EffectStart
from baton.model.limits import DEFAULT_LIMITS, Limits
from baton.model.messages import DEFAULT_MESSAGE_KINDS
from baton.model.participants import OWNER, Grant, Participant, ParticipantKind, Principal
from baton.model.policies import Policy, PolicyCheck, PolicyRecord
from baton.model.redaction import Redactor
from baton.model.reservations import Reservation, ReservationMode
from baton.model.signatures import ParticipantKey
from baton.store import Store, open_store


class Board:
    """Async board over a :class:`~baton.store.Store`. See the module docstring.

    ``clock`` and ``rng`` are injectable so that tests can expire leases and pin retry
    jitter without sleeping; ``message_kinds`` maps each message kind to its schema.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        message_kinds: Mapping[str, type[BaseModel]] = DEFAULT_MESSAGE_KINDS,
        limits: Limits = DEFAULT_LIMITS,
        principal: Principal = OWNER,
        redactor: Redactor | None = None,
    ) -> None:
        self._bind(
            BoardCore(
                store,
                clock=clock,
                rng=rng,
                message_kinds=message_kinds,
                limits=limits,
                principal=principal,
                redactor=redactor,
            )
        )

    def _bind(self, core: BoardCore) -> None:
        self.core = core
        self._participants = ParticipantService(core)
        self._runs = RunService(self.core)
        self._work = WorkService(self.core)
        self._reviews = ReviewService(self.core)
        self._messages = MessageService(self.core)
        self._reads = ReadService(self.core)
        self._duties = DutyService(self.core)
        self._artifacts = ArtifactService(self.core)
        self._artifact_reads = ArtifactReads(self.core)
        self._reservations = ReservationService(self.core)
        self._audit = AuditService(self.core)
        self._archives = ArchiveService(self.core)
        self._signatures = SignatureService(self.core)
        self._effects = EffectService(self.core)
        self._policies = PolicyService(self.core)

    @classmethod
    def open(
        cls,
        url: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        message_kinds: Mapping[str, type[BaseModel]] = DEFAULT_MESSAGE_KINDS,
        limits: Limits = DEFAULT_LIMITS,
        create: bool = True,
    ) -> Board:
        """A board on the store at ``url``: a file path or ``sqlite:///path`` (embedded),
        or ``postgresql://…`` (many machines). A missing SQLite file becomes a new store
        unless ``create=False``, which refuses it with :class:`StoreNotFound` (what
        every command but ``baton run`` and ``baton plan`` does).

        The board acts as the store's local owner; ``await board.login(token)`` gives
        the same board acting as a registered participant."""
        return cls(
            open_store(url, create=create),
            clock=clock,
            rng=rng,
            message_kinds=message_kinds,
            limits=limits,
        )

    @property
    def store(self) -> Store:
        """The store underneath, for tools and tests that inspect it directly; the
        runtime and the doors never touch it (they use the Board's methods)."""
        return self.core.store

    def clock(self) -> float:
        """The board's idea of now (seconds since the epoch): lease expiry and backoff
        are measured on it, so callers that compare against leases use it too."""
        return self.core.clock()

    @property
    def limits(self) -> Limits:
        """The size and range limits this board enforces (see :class:`Limits`)."""
        return self.core.limits

    async def close(self) -> None:
        await self.core.store.close()

    # --- who acts ------------------------------------------------------------
    @property
    def principal(self) -> Principal:
        """Who this board's calls act as (:data:`~baton.model.participants.OWNER`
        unless it was opened with a token or made by :meth:`acting_as`)."""
        return self.core.principal

    def acting_as(self, principal: Principal) -> Board:
        """The same board (store, clock, limits), acting as ``principal``: what a door
        does per request once it has authenticated the caller."""
        view = object.__new__(Board)
        view._bind(self.core.acting_as(principal))
        return view

    async def authenticate(self, token: str) -> Principal:
        """The participant a bearer token stands for; :class:`Unauthenticated` for a
        token this board never issued, revoked, or rotated since."""
        return await self._participants.authenticate(token)

    async def login(self, token: str) -> Board:
        """This board acting as the participant ``token`` was issued to."""
        return self.acting_as(await self.authenticate(token))

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
        return await self._participants.add(
            participant_id, kind=kind, name=name, roles=roles, grants=grants, runs=runs
        )

    async def rotate_token(self, participant_id: str) -> str:
        """A new token for the participant; the old one stops working at once."""
        return await self._participants.rotate(participant_id)

    async def revoke_participant(self, participant_id: str) -> Participant:
        """Revoke a participant: its token stops working at once, on every door."""
        return await self._participants.revoke(participant_id)

    async def get_participant(self, participant_id: str) -> Participant:
        return await self._participants.get(participant_id)

    async def participants(self) -> list[Participant]:
        return await self._participants.list()

    # --- runs --------------------------------------------------------------
    async def create_run(
        self,
        plan: Plan | Mapping[str, Any],
        *,
        actor: str | None = None,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Validate ``plan`` whole and put it on the board as a new run.

        Raises:
            InvalidPlan: naming every offending task id; nothing is written.
        """
        return await self._runs.create_run(
            self.core.redact_model(plan),
            actor=actor,
            run_id=run_id,
            idempotency_key=idempotency_key,
        )

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
        """A run whose only task asks ``planner_role`` to turn ``goal`` into a plan.

        The planner's output is a sub-plan (``{"tasks": [...]}``), checked like any plan;
        an invalid one is sent back with the errors, up to ``max_planning_attempts``
        times, then the failure is escalated to a human.
        """
        return await self._runs.create_goal_run(
            self.core.redact(goal),
            roles=roles,
            planner_role=planner_role,
            budget=budget,
            max_planning_attempts=max_planning_attempts,
            actor=actor,
            run_id=run_id,
            idempotency_key=idempotency_key,
        )

    async def add_tasks(
        self,
        run_id: str,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        actor: str,
        idempotency_key: str | None = None,
    ) -> list[Task]:
        """Add tasks to a running run (peers handing work to other roles). They may
        depend on the run's existing tasks by plan id. Validated whole, like a plan.

        Raises:
            InvalidPlan: naming every fault; nothing is written.
        """
        return await self._runs.add_tasks(
            run_id,
            [self.core.redact_model(t) for t in tasks],
            actor=actor,
            idempotency_key=idempotency_key,
        )

    async def cancel_run(
        self,
        run_id: str,
        *,
        actor: str | None = None,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Run:
        """Cancel every task of the run that is not finished, and the run itself."""
        return await self._runs.cancel_run(
            run_id, actor=actor, reason=self.core.redact(reason), idempotency_key=idempotency_key
        )

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
        """Record tokens and cost spent on a task (a ``task.usage`` event).

        Past the run's budget the run is paused (nothing new is claimed; nothing done
        is lost) and a human is asked; past the task's own budget the task is blocked.
        """
        return await self._runs.record_usage(
            task_id,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            actor=actor,
            role=role,
            idempotency_key=idempotency_key,
        )

    async def record_context(
        self,
        task_id: str,
        token: int,
        assembly: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Event:
        """Record what an attempt's context was assembled from — the record of a
        :class:`~baton.views.context_budget.ContextAssembly` (``event_payload()``: piece
        kinds, names, token counts, the budget), not its text — as a ``task.context``
        event, under the attempt's lease."""
        return await self._runs.record_context(
            task_id, token, assembly, participant=participant, idempotency_key=idempotency_key
        )

    async def pause_run(
        self, run_id: str, *, actor: str, reason: str, idempotency_key: str | None = None
    ) -> Run:
        """Stop new claims on the run; work in progress may still finish."""
        return await self._runs.pause_run(
            run_id, actor=actor, reason=self.core.redact(reason), idempotency_key=idempotency_key
        )

    async def resume_run(
        self,
        run_id: str,
        *,
        actor: str,
        budget: Budget | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Let a paused run go on, optionally with a new budget.

        Raises:
            InvalidArgument: the new budget is invalid, or the run is still over it.
        """
        return await self._runs.resume_run(
            run_id, actor=actor, budget=budget, idempotency_key=idempotency_key
        )

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
        """Ask a human: an ``escalation.<kind>`` event with the evidence.

        Watchdogs pass an idempotency key per incident, so that several orchestrators
        (or one that restarts) raise each incident once.
        """
        return await self._runs.escalate(
            run_id,
            kind,
            self.core.redact(reason),
            evidence=self.core.redact(evidence),
            task_id=task_id,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    # --- work --------------------------------------------------------------
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
        return await self._work.claim(
            participant, roles, run_id=run_id, lease_s=lease_s, idempotency_key=idempotency_key
        )

    async def heartbeat(
        self,
        task_id: str,
        token: int,
        participant: str,
        *,
        lease_s: float | None = None,
        idempotency_key: str | None = None,
    ) -> Lease:
        """Extend the lease. Raises :class:`LeaseLost` if it is no longer yours."""
        return await self._work.heartbeat(
            task_id, token, participant, lease_s=lease_s, idempotency_key=idempotency_key
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
        """Hand in the output. It goes to review, to the approval gate, or straight to done.

        Raises:
            LeaseLost: the lease is no longer yours; nothing lands.
            ContractViolation: the output breaks the task's output contract; the attempt
                is recorded as failed (retried or final), never done.
        """
        return await self._work.submit(
            task_id,
            token,
            self.core.redact(output),
            participant=participant,
            idempotency_key=idempotency_key,
        )

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
        """:meth:`submit`, then :meth:`claim` for the same participant, in one
        transaction — what a worker does between two tasks, for one commit instead of
        two (on PostgreSQL one round trip instead of two). The claim sees what the
        submit released, so on a chain the submitter takes the dependent itself.

        All or nothing: any error (a lost lease, a role the participant lacks, an
        unknown run) changes nothing. A broken output contract records the failed
        attempt, claims nothing and raises :class:`ContractViolation`, as
        :meth:`submit` does. Returns the submitted task and the new lease (``None``:
        nothing was claimable); an idempotency key replays both.
        """
        return await self._work.submit_and_claim(
            task_id,
            token,
            self.core.redact(output),
            participant=participant,
            roles=roles,
            run_id=run_id,
            lease_s=lease_s,
            idempotency_key=idempotency_key,
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
        """Record a failed attempt: retried after a backoff, or failed for good when
        ``retryable`` is false or the task has used ``max_attempts``."""
        return await self._work.fail(
            task_id,
            token,
            self.core.redact(error),
            participant=participant,
            retryable=retryable,
            idempotency_key=idempotency_key,
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
        return await self._work.block(
            task_id,
            token,
            self.core.redact(reason),
            participant=participant,
            idempotency_key=idempotency_key,
        )

    async def release(
        self, task_id: str, token: int, *, participant: str, idempotency_key: str | None = None
    ) -> Task:
        """Give the claim back without counting an attempt (e.g. on graceful shutdown)."""
        return await self._work.release(
            task_id, token, participant=participant, idempotency_key=idempotency_key
        )

    async def unblock(
        self, task_id: str, *, actor: str, idempotency_key: str | None = None
    ) -> Task:
        """Let a blocked task go on: ready if its dependencies are settled, else pending."""
        return await self._work.unblock(task_id, actor=actor, idempotency_key=idempotency_key)

    async def reap_expired(
        self, *, actor: str | None = None, limit: int = 1000, idempotency_key: str | None = None
    ) -> list[Task]:
        """Return expired leases: work goes back to ``ready`` (a failed attempt), or to
        ``failed`` past ``max_attempts``; an expired review lease just frees the review.
        Safe to run from any number of processes at once."""
        return await self._work.reap_expired(
            actor=actor, limit=limit, idempotency_key=idempotency_key
        )

    # --- reviews -----------------------------------------------------------
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
        return await self._reviews.approve(
            task_id,
            actor=actor,
            token=token,
            comment=self.core.redact(comment),
            idempotency_key=idempotency_key,
        )

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
        return await self._reviews.reject(
            task_id,
            self.core.redact(feedback),
            actor=actor,
            token=token,
            idempotency_key=idempotency_key,
        )

    async def abandon_review(
        self,
        task_id: str,
        token: int,
        error: Mapping[str, Any],
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> Task:
        """A reviewer could not review (it failed): record why and free the review at
        once for another reviewer. The task stays ``in_review``."""
        return await self._reviews.abandon_review(
            task_id,
            token,
            self.core.redact(error),
            participant=participant,
            idempotency_key=idempotency_key,
        )

    async def cancel_task(
        self, task_id: str, *, actor: str, reason: str = "", idempotency_key: str | None = None
    ) -> Task:
        """Cancel a task that is not finished; its dependents that have not started are
        cancelled too."""
        return await self._reviews.cancel_task(
            task_id, actor=actor, reason=self.core.redact(reason), idempotency_key=idempotency_key
        )

    # --- messages ----------------------------------------------------------
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
        return await self._messages.post_message(
            run_id,
            kind,
            self.core.redact(body),
            sender=sender,
            to=to,
            task_id=task_id,
            idempotency_key=idempotency_key,
        )

    async def messages(self, run_id: str, *, limit: int = 100) -> list[Event]:
        """The run's last ``limit`` structured messages, oldest first."""
        return await self._messages.messages(run_id, limit=limit)

    # --- artifacts: versioned shared context ---------------------------------
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
        """Write a new version of the artifact ``name`` in ``scope`` (a task id, or
        ``None`` for the run's shared scope), based on version ``base`` — the one the
        writer read; ``None`` creates the artifact. ``kind`` (text or json) is taken
        from the content when not given; ``strategy`` is chosen at creation (default
        ``merge``). With ``patch`` the content is an RFC 7386 merge patch applied to
        ``base``. ``task_id`` and ``token`` name the task and work lease the writer acts
        for (a participant without the context grant writes only in that task's scope);
        ``author`` is recorded on the version (an authenticated participant's own id or
        a label of it; the local owner names anyone, by default the task's holder).

        If ``base`` is no longer the head the strategy decides: ``merge`` (three-way,
        lines or fields), ``last_writer_wins``, ``escalate`` (a conflict goes to a human
        with base, head and the refused write) or ``refuse``.

        Raises:
            ArtifactConflict: the write could not be merged; nothing was written (an
                ``artifact.conflict`` event names both versions and the hunks).
            ReservationConflict: another task holds ``name`` exclusively.
            LeaseLost: ``token`` is not the task's current lease.
            PermissionDenied: not a scope the caller may write.
            InvalidArgument: bad name, content over ``Limits.max_artifact_bytes``,
                another kind or strategy than the artifact's.
        """
        return await self._artifacts.write(
            run_id,
            name,
            content,
            scope=scope,
            base=base,
            kind=kind,
            strategy=strategy,
            patch=patch,
            task_id=task_id,
            token=token,
            author=author,
            idempotency_key=idempotency_key,
        )

    async def read_artifact(
        self,
        run_id: str,
        name: str,
        *,
        scope: str | None = None,
        version: int | None = None,
        task_id: str | None = None,
    ) -> ArtifactContent:
        """The artifact's head (or ``version``) with its content. A task's scope is read
        by the holder of that task, of a task below it or of a task depending on it
        (``task_id`` names the task the caller acts for), and by people who approve or
        steer; the run's shared scope by anyone who sees the run."""
        return await self._artifact_reads.read(
            run_id, name, scope=scope, version=version, task_id=task_id
        )

    async def artifact_history(
        self, run_id: str, name: str, *, scope: str | None = None, task_id: str | None = None
    ) -> list[ArtifactVersion]:
        """Every version of the artifact, oldest first: author, time, size, digest, the
        version each was based on and the head it was merged with."""
        return await self._artifact_reads.history(run_id, name, scope=scope, task_id=task_id)

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
        """A unified diff between two versions (``to_version`` defaults to the head;
        JSON is compared pretty-printed, field per line)."""
        return await self._artifact_reads.diff(
            run_id, name, from_version, to_version, scope=scope, task_id=task_id
        )

    async def artifacts(self, run_id: str, *, task_id: str | None = None) -> list[Artifact]:
        """The run's artifacts the caller may read (acting for ``task_id``)."""
        return await self._artifact_reads.list(run_id, task_id=task_id)

    # --- reservations ----------------------------------------------------------
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
        """Reserve ``resources`` (path patterns like ``src/api/**``, or names) for the
        task whose work lease ``participant`` holds with ``token``: all or none. They
        last as long as that lease (heartbeats keep them; a hand-in, release or expiry
        ends them). Each reservation's ``id`` is a fencing token.

        Raises:
            ReservationConflict: an overlapping reservation of another task is held
                (exclusive, or any when asking exclusive): names holder, task, expiry.
                With ``wait_s`` the call first waits up to that long for it to end.
            LeaseLost: ``token`` is not the task's current work lease.
        """
        return await self._reservations.reserve(
            task_id,
            token,
            resources,
            participant=participant,
            mode=mode,
            wait_s=wait_s,
            idempotency_key=idempotency_key,
        )

    async def release_reservations(
        self,
        task_id: str,
        token: int,
        resources: Sequence[str] | None = None,
        *,
        participant: str,
        idempotency_key: str | None = None,
    ) -> list[Reservation]:
        """End the task's reservations (``resources``, or all); those released."""
        return await self._reservations.release(
            task_id, token, resources, participant=participant, idempotency_key=idempotency_key
        )

    async def reservations(self, run_id: str | None = None) -> list[Reservation]:
        """The live reservations (of ``run_id``, or of every run the caller sees)."""
        return await self._reservations.list(run_id)

    # --- reading -----------------------------------------------------------
    async def briefing(
        self, run_id: str, *, messages: int = 50, dependencies: Sequence[str] = ()
    ) -> Briefing:
        """The run, its latest ``messages`` messages and the tasks ``dependencies``
        names (ids of tasks in the run: an attempt's ``task.depends_on``) in one call:
        what a worker reads before each attempt — one request to a remote board, one
        round trip on PostgreSQL. An id that is not a task of the run: ``NotFound``
        naming it."""
        return await self._messages.briefing(run_id, messages=messages, dependencies=dependencies)

    async def get_run(self, run_id: str) -> Run:
        return await self._reads.get_run(run_id)

    async def list_runs(self) -> list[Run]:
        return await self._reads.list_runs()

    async def get_task(self, task_id: str) -> Task:
        return await self._reads.get_task(task_id)

    async def tasks(self, run_id: str) -> list[Task]:
        return await self._reads.tasks(run_id)

    async def count_by_state(self, run_id: str) -> dict[str, int]:
        """How many of the run's tasks are in each state (one aggregate query)."""
        return await self._reads.count_by_state(run_id)

    async def ready_by_role(self, run_id: str) -> dict[str, int]:
        """How many of the run's tasks wait to be claimed, per role (work waiting for a
        reviewer counts under the reviewer's role): the depth of each role's queue."""
        return await self._reads.ready_by_role(run_id)

    async def watched_tasks(self, run_id: str, *, review_rounds_at_least: int) -> list[Task]:
        """The run's open tasks that are blocked, or were returned by review at least
        ``review_rounds_at_least`` times: what the watchdog checks every pass, read
        without loading the whole run."""
        return await self._reads.watched_tasks(
            run_id, review_rounds_at_least=review_rounds_at_least
        )

    async def events(
        self, run_id: str | None = None, *, since: int = 0, limit: int = 10_000
    ) -> list[Event]:
        return await self._reads.events(run_id, since=since, limit=limit)

    async def forget_idempotency(self, *, older_than_s: float = 7 * 86400) -> int:
        """Forget idempotency keys recorded more than ``older_than_s`` ago (a repeat of
        such a call runs again). Keys must outlive any retry of their call; a week is a
        generous default. The orchestrator calls this on every tick."""
        return await self._reads.forget_idempotency(older_than_s=older_than_s)

    async def escalations(self, run_id: str, *, limit: int = 1000) -> list[Event]:
        """The run's escalations (``escalation.*`` events), oldest first."""
        return await self._reads.escalations(run_id, limit=limit)

    async def recent_events(
        self, run_id: str, *, kind_prefix: str = "", limit: int = 500
    ) -> list[Event]:
        """The run's last ``limit`` events whose kind starts with ``kind_prefix``, oldest first."""
        return await self._reads.recent_events(run_id, kind_prefix=kind_prefix, limit=limit)

    async def last_progress(self, run_id: str) -> tuple[int, float] | None:
        """``(seq, at)`` of the run's last event that moved work forward (not a lease
        renewal, usage record, message or escalation), or ``None``."""
        return await self._reads.last_progress(run_id)

    async def last_seq(self) -> int:
        """The seq of the newest committed event (0 on an empty board)."""
        return await self._reads.last_seq()

    async def wait_for_change(self, after_seq: int, timeout: float) -> bool:
        """Wait until an event after ``after_seq`` is committed, by any process; ``False``
        after ``timeout`` seconds. Driven by the store's commit wake-up, not a loop."""
        return await self._reads.wait_for_change(after_seq, timeout)

    async def wait_for_work(self, after_seq: int, timeout: float) -> int | None:
        """Like :meth:`wait_for_change`, for an idle worker: wait until a commit after
        ``after_seq`` may have made a task claimable (or changed a run's state). On
        PostgreSQL only such commits wake it — not every claim and message of every
        other worker — so idle workers do not all stampede on each commit; elsewhere it
        is :meth:`wait_for_change`. Returns the seq it woke at — a claim now sees every
        commit up to it, so a worker that then finds nothing waits again *from it*, with
        no round trip to read the head — or ``None`` after ``timeout`` seconds. A wake-up
        may be early (the claim finds nothing); it is never late by more than the
        store's poll interval."""
        return await self._reads.wait_for_work(after_seq, timeout)

    def idle_turn(
        self, roles: Sequence[str], *, run_id: str | None = None, timeout: float
    ) -> AbstractAsyncContextManager[bool]:
        """For an idle worker, before it waits for work: hold the turn of the workers
        that could claim the same tasks (this principal's, for ``roles``, in ``run_id``)
        for an ``async with`` block — ``True`` once it is this worker's, ``False`` if
        another kept it for ``timeout`` seconds. One holder at a time waits and claims,
        so a released task wakes one idle worker, not all of them; the holder leaves the
        block as soon as it has claimed, and the next takes the turn and claims at once.
        On PostgreSQL turns hold across processes (an advisory lock, given up with the
        holder's connection); elsewhere within one process. ``async with
        board.idle_turn(["coder"], timeout=0.5) as mine: ...``"""
        return self._reads.idle_turn(roles, run_id=run_id, timeout=timeout)

    async def similar_ids(self, kind: str, ident: str, *, limit: int = 3) -> list[str]:
        """Ids of ``kind`` ("run" or "task") that look like ``ident``, for a door to ask
        "did you mean …?" after a :class:`NotFound`."""
        return await self._reads.similar_ids(kind, ident, limit=limit)

    async def backup(self, destination: str) -> int:
        """Write a consistent copy of the live store to the file ``destination`` (SQLite:
        the online backup API, safe while workers write; PostgreSQL: use ``pg_dump``)
        and return its size in bytes. See docs/backup.md."""
        return await self._reads.backup(destination)

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
        """Start the side effect ``step`` of a task under its lease (docs/effects.md).
        ``decision`` says what to do: ``run`` it and :meth:`record_effect` the result;
        use the ``recorded`` result of an earlier attempt instead; or stop, because an
        earlier attempt started it and never recorded it (``uncertain``: an escalation
        is raised) — unless ``repeat_safe``, when it is run again."""
        return await self._effects.start_effect(
            task_id,
            token,
            step,
            participant=participant,
            repeat_safe=repeat_safe,
            idempotency_key=idempotency_key,
        )

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
        """Record the result of a step this attempt started: every later attempt gets it
        back from :meth:`start_effect` instead of running the step again."""
        return await self._effects.record_effect(
            task_id,
            token,
            step,
            self.core.redact(result),
            participant=participant,
            idempotency_key=idempotency_key,
        )

    async def effects(self, task_id: str) -> list[Effect]:
        """The task's effect ledger: every step, its state, result and attempts."""
        return await self._effects.effects(task_id)

    async def register_key(self, participant_id: str, public_key: str) -> ParticipantKey:
        """Register ``participant_id``'s Ed25519 public key (64 hex digits; its own act,
        or an admin's); an earlier key is revoked. Events it causes may then be signed
        (:meth:`sign_events`, or ``Worker(signing_key=...)``), and ``verify_audit``
        checks every signature."""
        return await self._signatures.register_key(participant_id, public_key)

    async def revoke_key(self, participant_id: str) -> None:
        """Revoke the participant's key: signatures made with it from now on fail."""
        await self._signatures.revoke_key(participant_id)

    async def sign_events(self, participant: str, signatures: Sequence[tuple[int, str]]) -> int:
        """Store ``(seq, signature)`` pairs over events ``participant`` caused, each
        checked against its active key (model/signatures.py: what is signed)."""
        return await self._signatures.sign_events(participant, signatures)

    async def event_hashes(
        self, run_id: str, *, since: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, str]]:
        """(seq, actor, chain hash) of a run's events after ``since``: what signers sign."""
        return await self._signatures.event_hashes(run_id, since=since, limit=limit)

    async def export_archive(self, run_id: str) -> list[ArchivedEvent]:
        """An ended run's live events exactly as stored, to write an archive file from
        (docs/audit.md, retention). Admin grant; nothing is removed."""
        return await self._archives.export(run_id)

    async def compact_run(
        self, run_id: str, *, path: str, file_hash: str, actor: str | None = None
    ) -> ArchiveRecord:
        """Remove an archived run's events from the live store, keeping what the chain
        needs; ``file_hash`` is the archive file's chain head, which must be that of the
        run's events. The hand-over is recorded and announced (``run.archived``)."""
        return await self._archives.compact(run_id, path=path, file_hash=file_hash, actor=actor)

    async def verify_archive(self, lines: list[str]) -> ArchiveReport:
        """Prove an archive file (its lines) against the store's hand-over record."""
        return await self._archives.verify_archive(lines)

    async def set_policy(
        self, policy: Policy | Mapping[str, Any], *, actor: str | None = None
    ) -> PolicyRecord:
        """Make ``policy`` the board's policy, as a new version (docs/policies.md); runs
        created from now on follow it, runs already created keep theirs. Needs the
        admin grant; an invalid document is InvalidArgument naming what is wrong."""
        return await self._policies.set_policy(policy, actor=actor)

    async def policy(self) -> PolicyRecord | None:
        """The board's current policy (``None`` when none was ever set)."""
        return await self._policies.policy()

    async def check_policy(self, plan: Plan | Mapping[str, Any]) -> PolicyCheck:
        """What the current policy would do with ``plan``, for the acting principal:
        whether it may create the run, which approvals and budgets it adds. Writes
        nothing."""
        return await self._policies.check_policy(plan)

    async def verify_audit(self, run_id: str | None = None) -> AuditReport:
        """Prove the audit chain (docs/audit.md): every event's hash from its predecessor
        and its content, gap-free up to the recorded head — or, for ``run_id``, across
        the span of the log the run's events lie in. Names the first bad seq; changes
        nothing. The whole log needs a principal that sees every run."""
        return await self._audit.verify(run_id)

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the store, sorted: compare two to prove that nothing changed."""
        return await self._reads.snapshot()

    def subscribe(
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
        return self._reads.subscribe(
            since=since, run_id=run_id, kinds=kinds, idle_timeout=idle_timeout
        )

    async def wait_finished(self, run_id: str, timeout: float) -> Run:
        """Wait until the run is no longer active (it ended, or it was paused);
        ``TimeoutError`` after ``timeout``. To wait for the end only, use :meth:`wait_ended`."""
        return await self._reads.wait_finished(run_id, timeout)

    async def wait_ended(self, run_id: str, *, timeout: float | None = None) -> Run:
        """Wait until the run has ended — finished, failed or cancelled (a paused run
        has not) — and return it; ``TimeoutError`` after ``timeout`` seconds."""
        return await self._reads.wait_ended(run_id, timeout=timeout)

    # --- duties --------------------------------------------------------------------

    async def claim_duty(self, name: str, participant: str, *, lease_s: float) -> Duty | None:
        """Take (or renew) the singleton duty ``name`` for ``lease_s`` seconds; ``None``
        while another participant holds it and its lease has not expired. Taking it over
        bumps its token, fencing the previous holder off."""
        return await self._duties.claim_duty(name, participant, lease_s=lease_s)

    async def renew_duty(self, name: str, token: int, participant: str, *, lease_s: float) -> Duty:
        """Extend the duty's lease. Raises :class:`LeaseLost` if it is no longer yours."""
        return await self._duties.renew_duty(name, token, participant, lease_s=lease_s)

    async def release_duty(self, name: str, token: int, participant: str) -> None:
        """Give the duty up (on shutdown), so another process takes it at once; a no-op
        if it is no longer yours."""
        await self._duties.release_duty(name, token, participant)

    async def get_duty(self, name: str) -> Duty | None:
        """Who holds the duty and until when, as last committed (``None``: never taken)."""
        return await self._duties.get_duty(name)
