"""One attempt at a leased task, start to finish: the agent's context (the task, its
dependencies' results, the run's messages, what is left of the budget), the agent run
under its timeout with its lease renewed meanwhile, and the result — or the failure, as
data — handed back with the lease's fencing token, through a store outage while the
lease may still hold.

The :class:`~baton.runtime.worker.Worker` decides *what* to work on (claims, idle
turns, the watchdog duty, shutdown); this module is *how* one attempt goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry import context as otel_context

from baton.board import BoardAPI
from baton.model import Handoff, Lease, LeaseKind, Run, Task
from baton.model.budgets import remaining
from baton.model.errors import (
    ContractViolation,
    EffectUncertain,
    GiveUp,
    LeaseLost,
    NotFound,
    PermissionDenied,
    PolicyDenied,
    RetryLater,
    SecretMissing,
    StoreUnavailable,
    TransientConflict,
)
from baton.model.redaction import Redactor, resolve_secrets, secret_names
from baton.runtime.agents.context import Agent, BudgetLeft, DependencyResult, TaskContext, Verdict
from baton.runtime.logs import attempt_context
from baton.runtime.signing import sign_own_events
from baton.runtime.tracing import attempt_span, record_attempt

log = logging.getLogger("baton.runtime.worker")
_T = TypeVar("_T")


#: What :meth:`Attempts._persist` returns for a write that did not land.
_DROPPED = object()


@dataclass(frozen=True)
class ClaimNext:
    """What a slot claims next, asked with the hand-in of a result in the same call
    (:meth:`~baton.board.Board.submit_and_claim`): one commit between two tasks
    instead of two. Not asked once ``stop`` is set (a stopping worker claims nothing)."""

    roles: Sequence[str]
    run_id: str | None
    stop: asyncio.Event


class Attempts:
    """Runs one worker's attempts; counts what they completed and what failed.

    ``secrets`` resolve the secret references in task inputs and, with ``redactor``,
    are kept out of what attempts hand in; ``signing_key`` signs the events each
    attempt caused.
    """

    def __init__(
        self,
        board: BoardAPI,
        *,
        tools: Sequence[Callable[..., Any]],
        secrets: Mapping[str, str],
        redactor: Redactor,
        signing_key: Ed25519PrivateKey | None,
    ) -> None:
        self.board = board
        self.tools = list(tools)
        self.secrets = secrets
        self.redactor = redactor
        self.signing_key = signing_key
        self._signed_up_to: dict[str, int] = {}  # per run: the last seq looked at
        self.completed = 0
        self.failed = 0

    async def context(self, lease: Lease) -> TaskContext:
        """Everything the agent sees: the task, its dependencies' results, messages,
        what is left of the budget."""
        task = lease.task
        briefing = await self.board.briefing(task.run_id, messages=50, dependencies=task.depends_on)
        run = briefing.run
        deps = {d.key: DependencyResult.of(d) for d in briefing.dependencies}
        return TaskContext(
            task=self._with_secrets(task),
            lease=lease,
            run=run,
            board=self.board,
            dependencies=deps,
            messages=briefing.messages,
            tools=self.tools,
            budget=_budget_left(run, task.budget, task.tokens_used, task.cost_used),
            loop=asyncio.get_running_loop(),
            trace_context=otel_context.get_current(),
        )

    def _with_secrets(self, task: Task) -> Task:
        """The task as its agent sees it: secret references in its input resolved from
        this worker's secrets (which join what it redacts). A missing one is the
        attempt's failure, named, never a value."""
        names = secret_names(task.input)
        if not names:
            return task
        missing = sorted({n for n in names if n not in self.secrets})
        if missing:
            raise SecretMissing(task.id, missing)
        return task.model_copy(update={"input": resolve_secrets(task.input, self.secrets)})

    async def work(self, agent: Agent, lease: Lease, then: ClaimNext | None = None) -> Lease | None:
        """Run ``agent`` on the leased task to its end: context, the agent under its
        timeout, a heartbeat while it runs, the result or the failure handed in. Given
        back (released) only when the worker is cancelled at shutdown. With ``then``, a
        result is handed in together with the claim of the next task, whose lease is
        returned (``None``: none was claimed — the caller claims as usual)."""
        task = lease.task
        running = asyncio.create_task(self._run_agent(agent, lease, then))
        # The heartbeat task starts only when the agent is still running at the first
        # renewal: most tasks end sooner, and a timer costs less than a task.
        loop = asyncio.get_running_loop()
        beats: list[asyncio.Task[None]] = []
        timer = loop.call_later(
            _beat_interval(lease),
            lambda: beats.append(asyncio.create_task(self._heartbeat(lease, running))),
        )
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is None or not me.cancelling():  # the lease was lost: only the agent stops
                return None
            running.cancel()  # shutdown past the grace period: give the task back
            with contextlib.suppress(LeaseLost, asyncio.CancelledError):
                await asyncio.shield(
                    self.board.release(task.id, lease.token, participant=lease.owner)
                )
            log.warning("%s: released %s at shutdown", lease.owner, task.id)
            raise
        finally:
            timer.cancel()
            for beat in beats:
                beat.cancel()

    async def _run_agent(self, agent: Agent, lease: Lease, then: ClaimNext | None) -> Lease | None:
        task = lease.task
        kind = lease.kind.value
        role = task.role if lease.kind is LeaseKind.WORK else (task.reviewer_role or task.role)
        with attempt_span(task.run_id, task.id, role, lease.owner, kind, lease.token) as span:
            ids = span.get_span_context()
            with attempt_context(
                self._redactor_for(task),
                run=task.run_id,
                task=task.id,
                participant=lease.owner,
                trace_id=format(ids.trace_id, "032x") if ids.is_valid else "",
                span_id=format(ids.span_id, "016x") if ids.is_valid else "",
            ):
                done, failed, began = self.completed, self.failed, time.monotonic()
                try:
                    following = await self._attempt(agent, lease, then)
                    if self.signing_key is not None:
                        _, self._signed_up_to[task.run_id] = await sign_own_events(
                            self.board, lease.owner, self.signing_key, task.run_id,
                            since=self._signed_up_to.get(task.run_id, 0),
                        )  # fmt: skip
                finally:
                    outcome = (
                        "done" if self.completed > done else
                        "failed" if self.failed > failed else "other"
                    )  # fmt: skip
                    record_attempt(
                        role=role, kind=kind, outcome=outcome, seconds=time.monotonic() - began
                    )
                return following

    async def _attempt(self, agent: Agent, lease: Lease, then: ClaimNext | None) -> Lease | None:
        """One attempt; the lease claimed with its hand-in, if any."""
        task = lease.task
        try:
            # A lost connection here is an outage, not the agent's failure: read again
            # while the lease holds, so the task is not stranded until it expires.
            ctx = await self._within_lease(lease, lambda: self.context(lease))
        except SecretMissing as exc:
            await self._failed(agent, lease, {"kind": "secret_missing", "message": str(exc)})
            return None
        try:
            async with asyncio.timeout(task.timeout_s) as deadline:
                result = await agent.run(ctx)
            if lease.kind is LeaseKind.REVIEW:
                result = result if isinstance(result, Verdict) else Verdict.model_validate(result)
        except LeaseLost as exc:
            log.warning("%s: lost %s while working: %s", lease.owner, task.id, exc)
            return None
        except TimeoutError as exc:
            if not deadline.expired():  # the agent's own TimeoutError: its error, not ours
                await self._failed(agent, lease, _error(agent, exc))
                return None
            message = f"agent {agent.name} ran past {task.timeout_s}s"
            await self._failed(
                agent, lease, {"kind": "timeout", "agent": agent.name, "message": message}
            )
            return None
        except EffectUncertain as exc:  # a person must check what happened out there
            log.warning("%s: %s", lease.owner, exc)
            why = str(exc)
            await self._persist(
                lease,
                lambda: self.board.block(
                    task.id, lease.token, why, participant=lease.owner,
                    idempotency_key=f"{lease.owner}:{task.id}:{lease.token}:uncertain",
                ),
            )  # fmt: skip
            return None
        except GiveUp as exc:
            await self._failed(agent, lease, _error(agent, exc), retryable=False)
            return None
        except RetryLater as exc:
            log.info("%s: %s asks to retry %s later: %s", lease.owner, agent.name, task.id, exc)
            await self._failed(agent, lease, _error(agent, exc, kind="retry_later"))
            return None
        except (asyncio.CancelledError, StoreUnavailable, TransientConflict):
            raise  # shutdown, or an outage the slot waits out: not the agent's failure
        except Exception as exc:  # the agent's failure is data, recorded on the board
            log.warning("%s: %s raised %r on %s", lease.owner, agent.name, exc, task.id)
            await self._failed(agent, lease, _error(agent, exc))
            return None
        return await self._hand_in(lease, result, then)

    async def _failed(
        self, agent: Agent, lease: Lease, error: dict[str, Any], *, retryable: bool = True
    ) -> None:
        """Record a failed attempt; a reviewer's failure frees the review for another."""
        self.failed += 1
        error = self._redactor_for(lease.task).value(error)
        key = f"{lease.owner}:{lease.task.id}:{lease.token}:failed"
        if lease.kind is LeaseKind.REVIEW:
            await self._persist(
                lease,
                lambda: self.board.abandon_review(
                    lease.task.id, lease.token, error, participant=lease.owner, idempotency_key=key
                ),
            )
            return
        await self._persist(
            lease,
            lambda: self.board.fail(
                lease.task.id,
                lease.token,
                error,
                participant=lease.owner,
                retryable=retryable,
                idempotency_key=key,
            ),
        )

    async def _hand_in(self, lease: Lease, result: Any, then: ClaimNext | None) -> Lease | None:
        """Hand the result in; with ``then`` (a work lease, the worker not stopping)
        together with the next claim, whose lease comes back."""
        task = lease.task
        redactor = self._redactor_for(task)
        result = result if isinstance(result, Verdict) else redactor.value(result)
        key = f"{lease.owner}:{task.id}:{lease.token}:result"
        call: Callable[[], Awaitable[Any]]
        if lease.kind is LeaseKind.REVIEW:
            verdict = result if isinstance(result, Verdict) else Verdict.model_validate(result)
            if verdict.approve:
                call = lambda: self.board.approve(  # noqa: E731 - a retryable call
                    task.id,
                    actor=lease.owner,
                    token=lease.token,
                    comment=redactor.text(verdict.comment) if verdict.comment else verdict.comment,
                    idempotency_key=key,
                )
            else:
                feedback = redactor.value(verdict.feedback or ["rejected without details"])
                call = lambda: self.board.reject(  # noqa: E731
                    task.id, feedback, actor=lease.owner, token=lease.token, idempotency_key=key
                )
        elif then is not None and not then.stop.is_set():
            claim_next = then

            async def call() -> Any:
                try:
                    return await self.board.submit_and_claim(
                        task.id, lease.token, result, participant=lease.owner,
                        roles=claim_next.roles, run_id=claim_next.run_id,
                        idempotency_key=f"{key}+claim",
                    )  # fmt: skip
                except (PermissionDenied, PolicyDenied, NotFound) as exc:
                    # The claim refused (say a rate limit on claims) refuses the whole
                    # call; the result still goes in, alone.
                    log.info("%s: handing in %s alone: %s", lease.owner, task.id, exc)
                    return await self.board.submit(
                        task.id, lease.token, result, participant=lease.owner,
                        idempotency_key=key,
                    )  # fmt: skip
        else:
            call = lambda: self.board.submit(  # noqa: E731
                task.id, lease.token, result, participant=lease.owner, idempotency_key=key
            )
        try:
            handed = await self._persist(lease, call)
        except ContractViolation as exc:
            self.failed += 1
            log.warning("%s: %s", lease.owner, exc)
            return None
        if handed is _DROPPED:
            return None
        self.completed += 1
        return handed.lease if isinstance(handed, Handoff) else None

    def _redactor_for(self, task: Task) -> Redactor:
        """What this worker redacts from an attempt's results: its secret environment
        values, and the secrets the task's input resolved to."""
        names = [n for n in secret_names(task.input) if n in self.secrets]
        return self.redactor.knowing(self.secrets[n] for n in names)

    async def _persist(self, lease: Lease, call: Callable[[], Awaitable[Any]]) -> Any:
        """Make a write about the lease land despite a lost database connection: keep
        the result and call again (same idempotency key, so a write that did land is
        not doubled) while the lease may still be valid. What the call returned, or
        ``_DROPPED`` if the result was dropped, and why is logged."""
        try:
            return await self._within_lease(lease, call)
        except LeaseLost as exc:
            log.warning("%s: dropped result for %s: %s", lease.owner, lease.task.id, exc)
            return _DROPPED
        except (StoreUnavailable, TransientConflict) as exc:
            log.warning(
                "%s: dropped result for %s: store unavailable past the lease (%s)",
                lease.owner,
                lease.task.id,
                exc,
            )
            return _DROPPED

    async def _within_lease(self, lease: Lease, call: Callable[[], Awaitable[_T]]) -> _T:
        """Call through an outage: back off and call again while the lease may still be
        valid (the heartbeat keeps renewing it meanwhile); past it, the outage raises."""
        backoff = Backoff()
        while True:
            try:
                return await call()
            except (StoreUnavailable, TransientConflict):
                if self.board.clock() > lease.expires_at + lease.task.lease_s:
                    raise
                await asyncio.sleep(backoff.next())

    async def _heartbeat(self, lease: Lease, running: asyncio.Task[Lease | None]) -> None:
        """Renew the lease every third of it while the agent runs (started one interval
        after the claim, so the first renewal is at once)."""
        interval = _beat_interval(lease)
        first = True
        while not running.done():
            if not first:
                await asyncio.sleep(interval)
            first = False
            try:
                renewed = await self.board.heartbeat(lease.task.id, lease.token, lease.owner)
                lease = lease.model_copy(update={"expires_at": renewed.expires_at})
            except LeaseLost as exc:  # someone else owns it now: stop working on it
                log.warning("%s: %s; cancelling the agent", lease.owner, exc)
                running.cancel()
                return
            except (StoreUnavailable, TransientConflict) as exc:
                log.warning("%s: heartbeat for %s failed: %s", lease.owner, lease.task.id, exc)


def _beat_interval(lease: Lease) -> float:
    return max(0.05, lease.task.lease_s / 3)


def _error(agent: Agent, exc: BaseException, *, kind: str = "exception") -> dict[str, Any]:
    return {"kind": kind, "agent": agent.name, "type": type(exc).__name__, "message": str(exc)}


class Backoff:
    """Exponential backoff with full jitter, 50 ms to 5 s."""

    def __init__(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        self.attempt += 1
        return float(random.uniform(0, min(5.0, 0.05 * 2**self.attempt)))

    def reset(self) -> None:
        self.attempt = 0


def _budget_left(
    run: Run, task_budget: Mapping[str, Any] | None, task_tokens: int, task_cost: float
) -> BudgetLeft:
    """The least that the run's and the task's budgets leave (``None``: unlimited)."""
    tokens: list[float] = []
    cost: list[float] = []
    for budget, used_tokens, used_cost in (
        (run.budget or {}, run.tokens_used, run.cost_used),
        (task_budget or {}, task_tokens, task_cost),
    ):
        left_tokens = remaining(used_tokens, budget.get("tokens"))
        left_cost = remaining(used_cost, budget.get("cost_usd"))
        if left_tokens is not None:
            tokens.append(left_tokens)
        if left_cost is not None:
            cost.append(left_cost)
    return BudgetLeft(
        tokens=int(min(tokens)) if tokens else None,
        cost_usd=min(cost) if cost else None,
    )
