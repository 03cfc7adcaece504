"""A worker: hosts agents, claims work for the roles they serve, keeps each lease alive
while its agent runs, and hands the result back with the lease's fencing token.

Work is pulled, never pushed: a worker that dies simply stops renewing its leases, the
reaper returns its tasks to ``ready``, and another worker takes them — whatever it had
not submitted is redone, and whatever it submits late is refused (``LeaseLost``).

On stop (SIGTERM / Ctrl-C in ``baton worker``) it claims nothing more, lets running
agents finish for ``grace_s`` seconds, then cancels them and releases their leases
(a release does not count as a failed attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from opentelemetry import context as otel_context

from baton.board import BoardAPI
from baton.model import Lease, LeaseKind, Run, Task
from baton.model.budgets import remaining
from baton.model.errors import (
    ContractViolation,
    EffectUncertain,
    GiveUp,
    InvalidArgument,
    LeaseLost,
    PermissionDenied,
    RetryLater,
    SecretMissing,
    StoreUnavailable,
    TransientConflict,
)
from baton.model.participants import Principal
from baton.model.redaction import Redactor, resolve_secrets, secret_names
from baton.runtime.agents.context import Agent, BudgetLeft, DependencyResult, TaskContext, Verdict
from baton.runtime.agents.function import FunctionAgent
from baton.runtime.logs import attempt_context
from baton.runtime.signing import sign_own_events
from baton.runtime.tracing import attempt_span, record_attempt
from baton.runtime.watchdog import WatchdogDuty

log = logging.getLogger("baton.runtime.worker")
_T = TypeVar("_T")

#: What a worker can host: agents, or a mapping of role -> function of the context.
AgentsLike = Agent | Sequence[Agent] | Mapping[str, Callable[[TaskContext], Any]]


def as_agents(spec: AgentsLike) -> list[Agent]:
    """The agents ``spec`` names: agents, one agent, or a mapping of role -> function.

    Raises:
        InvalidArgument: anything else, said plainly (``os:system`` is a function of a
            string, not a mapping of roles to agents).
    """
    if isinstance(spec, Mapping):
        bad_roles = [r for r in spec if not isinstance(r, str) or not r]
        not_callable = [r for r, fn in spec.items() if not callable(fn)]
        if bad_roles or not_callable:
            raise InvalidArgument(
                "a mapping of agents needs role names mapped to functions of the task "
                f"context; bad entries: {sorted(map(repr, bad_roles + not_callable))}"
            )
        return [FunctionAgent(fn, roles=[role], name=role) for role, fn in spec.items()]
    if isinstance(spec, Agent):
        return [spec]
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence | set | tuple):
        raise InvalidArgument(
            f"{type(spec).__name__} {getattr(spec, '__name__', '')!s} is not agents: give a "
            "list of agents, one agent, or a mapping of role -> function of the task context"
        )
    agents = list(spec)
    bad = [a for a in agents if not isinstance(a, Agent)]
    if bad:
        raise InvalidArgument(f"not agents (need name, roles and async run(ctx)): {bad!r}")
    return agents


class Worker:
    """Runs ``agents`` against the board, ``concurrency`` tasks at a time."""

    def __init__(
        self,
        board: BoardAPI,
        agents: AgentsLike,
        *,
        name: str,
        concurrency: int = 1,
        idle_wait_s: float = 0.5,
        grace_s: float = 30.0,
        tools: Sequence[Callable[..., Any]] = (),
        idempotency_retention_s: float = 7 * 86400,
        prune_every_s: float = 600.0,
        watchdog: bool = True,
        watchdog_lease_s: float = 10.0,
        watchdog_tick_s: float = 2.0,
        stall_s: float = 120.0,
        secrets: Mapping[str, str] | None = None,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.board = board
        self.agents = as_agents(agents)
        if not self.agents:
            raise InvalidArgument(f"worker {name!r} has no agents")
        self.by_role: dict[str, Agent] = {}
        for a in self.agents:
            for role in a.roles:
                self.by_role.setdefault(role, a)
        self.name = name
        #: Where secret references in task inputs are resolved (default: the
        #: environment); every value here is also redacted from what attempts hand in.
        self.secrets: Mapping[str, str] = os.environ if secrets is None else secrets
        #: Signs the events each attempt caused (its public half registered with
        #: ``board.register_key``): docs/audit.md, signed events.
        self.signing_key = signing_key
        self._signed_up_to: dict[str, int] = {}  # per run: the last seq looked at
        self.redactor = Redactor.from_environment(() if secrets is None else secrets.values())
        _check_identity(board.principal, name, set(self.by_role))
        self.concurrency = concurrency
        self.idle_wait_s = idle_wait_s
        self.grace_s = grace_s
        self.tools = list(tools)
        self.idempotency_retention_s = idempotency_retention_s
        self.prune_every_s = prune_every_s
        self._pruned_at: float | None = None
        self._reaped_at = -float("inf")  # time.monotonic() of this process's last reap
        #: The singleton watchdog duty this worker competes for (``None``: disabled).
        self.watchdog = (
            WatchdogDuty(
                board,
                participant=f"{name}:watchdog",
                lease_s=watchdog_lease_s,
                tick_s=watchdog_tick_s,
                stall_s=stall_s,
            )
            if watchdog
            else None
        )
        self.completed = 0
        self.failed = 0

    async def check_run(self, run_id: str) -> Run:
        """The run, if this worker can do any of its work; a clear error otherwise."""
        run = await self.board.get_run(run_id)
        served = set(self.by_role)
        if not served & set(run.roles):
            raise InvalidArgument(
                f"worker {self.name!r} serves roles {sorted(served)}, none of which is in "
                f"run {run_id!r} (roles {run.roles})"
            )
        for a in self.agents:
            if not set(a.roles) & set(run.roles):
                log.warning("%s: agent %s serves no role in run %s", self.name, a.name, run_id)
        return run

    async def run(self, *, run_id: str | None = None, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set, or until the run ``run_id`` has ended."""
        stop = stop or asyncio.Event()
        if run_id is not None:
            backoff = _Backoff()
            while True:  # a worker started during an outage waits for the store
                try:
                    await self.check_run(run_id)
                    break
                except StoreUnavailable as exc:
                    log.warning("%s: store unavailable at start (%s); retrying", self.name, exc)
                    if stop.is_set():
                        return
                    await asyncio.sleep(backoff.next())
        slots = [asyncio.create_task(self._slot(i, run_id, stop)) for i in range(self.concurrency)]
        duty_stop = asyncio.Event()
        duty = (
            asyncio.create_task(self.watchdog.run(duty_stop, run_id=run_id))
            if self.watchdog is not None
            else None
        )
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([*slots, stopper], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                _done, late = await asyncio.wait(slots, timeout=self.grace_s)
                for slot in late:
                    slot.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            await asyncio.gather(*slots, return_exceptions=True)
        finally:
            stopper.cancel()
            duty_stop.set()  # the duty is given back, for another worker to take at once
            if duty is not None:
                await asyncio.gather(duty, return_exceptions=True)

    async def _reap(self, me: str) -> None:
        """Give expired leases back, at most once per ``idle_wait_s`` for all slots: a
        wake-up that finds nothing (another worker won the task) need not pay for it,
        and an idle wait ends within ``idle_wait_s`` anyway, so nothing waits longer."""
        started = time.monotonic()
        if started - self._reaped_at < self.idle_wait_s:
            return
        self._reaped_at = started
        await self.board.reap_expired(actor=me)

    async def _prune_idempotency(self) -> None:
        """Forget idempotency keys past their retention, at most every
        ``prune_every_s`` and only when idle, so that a team running without an
        orchestrator does not grow the table forever (the orchestrator prunes too)."""
        now = self.board.clock()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every_s:
            return
        self._pruned_at = now
        await self.board.forget_idempotency(older_than_s=self.idempotency_retention_s)

    async def _slot(self, index: int, run_id: str | None, stop: asyncio.Event) -> None:
        me = f"{self.name}#{index}" if self.concurrency > 1 else self.name
        roles = list(self.by_role)
        backoff = _Backoff()
        while not stop.is_set():
            try:
                # The busy path is one claim per task; only when it finds nothing does
                # the slot go idle.
                lease = await self.board.claim(me, roles, run_id=run_id)
                if lease is None:
                    found = await self._idle(me, roles, run_id, stop)
                    backoff.reset()
                    if found is _Idled.RUN_ENDED:
                        return
                    if found is _Idled.AGAIN:
                        continue
                    lease = found
                backoff.reset()
                await self._work(lease)
            except StoreUnavailable as exc:  # the database went away: wait, then go on
                delay = backoff.next()
                log.warning("%s: store unavailable (%s); retrying in %.2fs", me, exc, delay)
                await asyncio.sleep(delay)
            except TransientConflict as exc:
                log.info("%s: %s; going on", me, exc)

    async def _idle(
        self, me: str, roles: list[str], run_id: str | None, stop: asyncio.Event
    ) -> Lease | _Idled:
        """Wait for work in turn (:meth:`Board.idle_turn`): of the idle workers that
        could claim the same tasks one waits and claims, the others wait for the turn.
        The holder leaves with the first lease it claims, and the next holder claims at
        once. A lease, or what to do instead."""
        async with self.board.idle_turn(roles, run_id=run_id, timeout=self.idle_wait_s) as mine:
            if not mine:
                await self._reap(me)
                return _Idled.RUN_ENDED if await self._run_ended(run_id) else _Idled.AGAIN
            head = await self.board.last_seq()
            while not stop.is_set():
                # Claim after reading head: work committed before head is seen now;
                # anything later wakes the wait.
                lease = await self.board.claim(me, roles, run_id=run_id)
                if lease is not None:
                    return lease
                if await self._run_ended(run_id):
                    return _Idled.RUN_ENDED
                await self._reap(me)
                await self._prune_idempotency()
                # Woken only by commits that may have made work (PostgreSQL: not every
                # other worker's claim), or after idle_wait_s to reap. Every commit up
                # to the seq it woke at is seen by the next claim: wait again from it.
                woke = await self.board.wait_for_work(head, self.idle_wait_s)
                head = head if woke is None else woke
            return _Idled.AGAIN

    async def _run_ended(self, run_id: str | None) -> bool:
        """A claim finds nothing in a run that ended or was paused: that is when to look."""
        return run_id is not None and (await self.board.get_run(run_id)).ended

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

    async def _work(self, lease: Lease) -> None:
        task = lease.task
        role = task.role if lease.kind is LeaseKind.WORK else task.reviewer_role
        agent = self.by_role[role or task.role]
        running = asyncio.create_task(self._run_agent(agent, lease))
        # The heartbeat task starts only when the agent is still running at the first
        # renewal: most tasks end sooner, and a timer costs less than a task.
        loop = asyncio.get_running_loop()
        beats: list[asyncio.Task[None]] = []
        timer = loop.call_later(
            _beat_interval(lease),
            lambda: beats.append(asyncio.create_task(self._heartbeat(lease, running))),
        )
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is None or not me.cancelling():  # the lease was lost: only the agent stops
                return
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

    async def _run_agent(self, agent: Agent, lease: Lease) -> None:
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
                    await self._attempt(agent, lease)
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

    async def _attempt(self, agent: Agent, lease: Lease) -> None:
        task = lease.task
        try:
            # A lost connection here is an outage, not the agent's failure: read again
            # while the lease holds, so the task is not stranded until it expires.
            ctx = await self._within_lease(lease, lambda: self.context(lease))
        except SecretMissing as exc:
            await self._failed(agent, lease, {"kind": "secret_missing", "message": str(exc)})
            return
        try:
            async with asyncio.timeout(task.timeout_s) as deadline:
                result = await agent.run(ctx)
            if lease.kind is LeaseKind.REVIEW:
                result = result if isinstance(result, Verdict) else Verdict.model_validate(result)
        except LeaseLost as exc:
            log.warning("%s: lost %s while working: %s", lease.owner, task.id, exc)
            return
        except TimeoutError as exc:
            if not deadline.expired():  # the agent's own TimeoutError: its error, not ours
                await self._failed(agent, lease, _error(agent, exc))
                return
            message = f"agent {agent.name} ran past {task.timeout_s}s"
            await self._failed(
                agent, lease, {"kind": "timeout", "agent": agent.name, "message": message}
            )
            return
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
            return
        except GiveUp as exc:
            await self._failed(agent, lease, _error(agent, exc), retryable=False)
            return
        except RetryLater as exc:
            log.info("%s: %s asks to retry %s later: %s", lease.owner, agent.name, task.id, exc)
            await self._failed(agent, lease, _error(agent, exc, kind="retry_later"))
            return
        except (asyncio.CancelledError, StoreUnavailable, TransientConflict):
            raise  # shutdown, or an outage the slot waits out: not the agent's failure
        except Exception as exc:  # the agent's failure is data, recorded on the board
            log.warning("%s: %s raised %r on %s", lease.owner, agent.name, exc, task.id)
            await self._failed(agent, lease, _error(agent, exc))
            return
        await self._hand_in(lease, result)

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

    async def _hand_in(self, lease: Lease, result: Any) -> None:
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
        else:
            call = lambda: self.board.submit(  # noqa: E731
                task.id, lease.token, result, participant=lease.owner, idempotency_key=key
            )
        try:
            if await self._persist(lease, call):
                self.completed += 1
        except ContractViolation as exc:
            self.failed += 1
            log.warning("%s: %s", lease.owner, exc)

    def _redactor_for(self, task: Task) -> Redactor:
        """What this worker redacts from an attempt's results: its secret environment
        values, and the secrets the task's input resolved to."""
        names = [n for n in secret_names(task.input) if n in self.secrets]
        return self.redactor.knowing(self.secrets[n] for n in names)

    async def _persist(self, lease: Lease, call: Callable[[], Awaitable[Any]]) -> bool:
        """Make a write about the lease land despite a lost database connection: keep
        the result and call again (same idempotency key, so a write that did land is
        not doubled) while the lease may still be valid. ``False`` if the result was
        dropped, and why is logged."""
        try:
            await self._within_lease(lease, call)
            return True
        except LeaseLost as exc:
            log.warning("%s: dropped result for %s: %s", lease.owner, lease.task.id, exc)
            return False
        except (StoreUnavailable, TransientConflict) as exc:
            log.warning(
                "%s: dropped result for %s: store unavailable past the lease (%s)",
                lease.owner,
                lease.task.id,
                exc,
            )
            return False

    async def _within_lease(self, lease: Lease, call: Callable[[], Awaitable[_T]]) -> _T:
        """Call through an outage: back off and call again while the lease may still be
        valid (the heartbeat keeps renewing it meanwhile); past it, the outage raises."""
        backoff = _Backoff()
        while True:
            try:
                return await call()
            except (StoreUnavailable, TransientConflict):
                if self.board.clock() > lease.expires_at + lease.task.lease_s:
                    raise
                await asyncio.sleep(backoff.next())

    async def _heartbeat(self, lease: Lease, running: asyncio.Task[None]) -> None:
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


class _Idled(enum.Enum):
    """What a slot does after idling without a lease."""

    AGAIN = "again"  # stop, or the turn was another's: back to the busy path
    RUN_ENDED = "run ended"  # the run it serves ended: the slot is done


def _beat_interval(lease: Lease) -> float:
    return max(0.05, lease.task.lease_s / 3)


def _error(agent: Agent, exc: BaseException, *, kind: str = "exception") -> dict[str, Any]:
    return {"kind": kind, "agent": agent.name, "type": type(exc).__name__, "message": str(exc)}


class _Backoff:
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


__all__ = ["AgentsLike", "Verdict", "Worker", "as_agents"]


def _check_identity(me: Principal, name: str, roles: set[str]) -> None:
    """A worker on a participant's board works as that participant, for its roles: say
    so at start rather than have every claim refused."""
    if me.owner:
        return
    if name != me.id and not name.startswith((f"{me.id}#", f"{me.id}:")):
        raise InvalidArgument(
            f"this board acts as participant {me.id}, so the worker must be named {me.id!r}, "
            f"not {name!r}"
        )
    missing = sorted(roles - me.roles)
    if missing:
        raise PermissionDenied(
            me.id, "work for", f"it does not have the role(s) {', '.join(missing)}"
        )
