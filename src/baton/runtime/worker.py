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
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from baton.board import BoardAPI
from baton.model import Lease, LeaseKind, Run
from baton.model.errors import (
    InvalidArgument,
    LeaseLost,
    PermissionDenied,
    StoreUnavailable,
    TransientConflict,
)
from baton.model.participants import Principal
from baton.model.redaction import Redactor
from baton.runtime.agents.context import Agent, TaskContext, Verdict
from baton.runtime.agents.function import FunctionAgent
from baton.runtime.attempts import Attempts, Backoff, ClaimNext
from baton.runtime.watchdog import WatchdogDuty

log = logging.getLogger("baton.runtime.worker")

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
        _check_identity(board.principal, name, set(self.by_role))
        #: How each leased task is worked. Secret references in task inputs resolve
        #: from ``secrets`` (default: the environment), and every value there is
        #: redacted from what attempts hand in; ``signing_key`` signs the events each
        #: attempt caused (its public half registered with ``board.register_key``).
        self.attempts = Attempts(
            board,
            tools=tools,
            secrets=os.environ if secrets is None else secrets,
            redactor=Redactor.from_environment(() if secrets is None else secrets.values()),
            signing_key=signing_key,
        )
        self.concurrency = concurrency
        self.idle_wait_s = idle_wait_s
        self.grace_s = grace_s
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

    @property
    def completed(self) -> int:
        """Attempts whose result landed."""
        return self.attempts.completed

    @property
    def failed(self) -> int:
        """Attempts that failed (the agent's error, a timeout, a broken contract)."""
        return self.attempts.failed

    async def context(self, lease: Lease) -> TaskContext:
        """Everything the agent sees for ``lease``: :meth:`Attempts.context`."""
        return await self.attempts.context(lease)

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
            backoff = Backoff()
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
        backoff = Backoff()
        # Results go in with the next claim when the slot serves one role: that is the
        # store's one round trip on PostgreSQL. A claim across several roles takes the
        # general path, which there costs more round trips than a one-trip submit and
        # a claim apart, so such a slot submits and then claims.
        then = ClaimNext(roles, run_id, stop) if len(roles) == 1 else None
        following: Lease | None = None
        while not stop.is_set():
            try:
                # The busy path is one call per task: the result handed in with the
                # next claim. Only when that (or a claim) finds nothing does the slot
                # go idle.
                lease, following = following, None
                if lease is None:
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
                task = lease.task
                role = task.role if lease.kind is LeaseKind.WORK else task.reviewer_role
                following = await self.attempts.work(self.by_role[role or task.role], lease, then)
            except StoreUnavailable as exc:  # the database went away: wait, then go on
                delay = backoff.next()
                log.warning("%s: store unavailable (%s); retrying in %.2fs", me, exc, delay)
                await asyncio.sleep(delay)
            except TransientConflict as exc:
                log.info("%s: %s; going on", me, exc)
        if following is not None:  # stopped with the next task claimed: give it back
            with contextlib.suppress(LeaseLost, StoreUnavailable, TransientConflict):
                task = following.task
                await self.board.release(task.id, following.token, participant=following.owner)

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


class _Idled(enum.Enum):
    """What a slot does after idling without a lease."""

    AGAIN = "again"  # stop, or the turn was another's: back to the busy path
    RUN_ENDED = "run ended"  # the run it serves ended: the slot is done


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
