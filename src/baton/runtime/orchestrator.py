"""The orchestrator: the loop that keeps runs from hanging silently.

Every tick it returns expired leases and looks at each open run for trouble a human
should hear about — no progress for ``stall_s``, a task sent back by review
``review_alert`` times, a wait-for cycle between blocked tasks, an agent failing
``failure_streak`` times in a row, a run past its wall-time budget, and the anomalies of
runtime/anomalies.py (a participant refused again and again, two agents chatting with no
progress, a burst of claims, a spend rate that exhausts the budget before the work is
done) — and raises each as an ``escalation.<kind>`` event carrying the evidence.

Planning, review routing and budgets need no loop: they happen on the board, in the
transaction of the call that triggers them. So any number of orchestrators may run at
once: each incident is raised with an idempotency key derived from it, so it is raised
once whoever sees it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence

from baton.board import BoardAPI
from baton.model import RUN_ENDED, Event, Run, RunState, Task
from baton.model.budgets import past
from baton.model.errors import IdempotencyConflict
from baton.model.states import TERMINAL, TaskState
from baton.planning.graph import find_cycles
from baton.runtime.anomalies import (
    Thresholds,
    chatter,
    claim_burst,
    repeated_denials,
    spend_rate,
)
from baton.runtime.tracing import metrics_on, record_queue_depth, record_task_states

log = logging.getLogger("baton.runtime.orchestrator")

_FAILED_ATTEMPT = ("task.retry", "task.fail")
_SUCCESS = ("task.complete", "task.submit_for_review", "task.submit_for_approval", "task.expand")


class Orchestrator:
    def __init__(
        self,
        board: BoardAPI,
        *,
        name: str = "orchestrator",
        stall_s: float = 120.0,
        review_alert: int = 2,
        failure_streak: int = 3,
        tick_s: float = 1.0,
        idempotency_retention_s: float = 7 * 86400,
        anomalies: Thresholds | None = None,
    ) -> None:
        self.board = board
        #: Thresholds of the anomaly checks (runtime/anomalies.py).
        self.anomalies = anomalies or Thresholds()
        self.name = name
        self.stall_s = stall_s
        self.review_alert = review_alert
        self.failure_streak = failure_streak
        self.tick_s = tick_s
        self.idempotency_retention_s = idempotency_retention_s

    async def run(self, *, stop: asyncio.Event | None = None, run_id: str | None = None) -> None:
        """Tick until ``stop`` is set (or, with ``run_id``, until that run has ended)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.tick(run_id=run_id)
            if run_id is not None:
                state = (await self.board.get_run(run_id)).state
                if state in RUN_ENDED:
                    return
            head = await self.board.last_seq()
            await self.board.wait_for_change(head, self.tick_s)

    async def tick(self, *, run_id: str | None = None) -> list[Event]:
        """One pass: reap, then check every open run. Returns the escalations raised."""
        await self.board.reap_expired(actor=self.name)
        await self.board.forget_idempotency(older_than_s=self.idempotency_retention_s)
        runs = [await self.board.get_run(run_id)] if run_id else await self.board.list_runs()
        raised: list[Event] = []
        for run in runs:
            if run.state in (RunState.ACTIVE, RunState.PAUSED):
                raised.extend(await self.check_run(run))
        return raised

    async def check_run(self, run: Run) -> list[Event]:
        """One pass over one run. Its cost does not grow with the run: it reads the
        counts by state, the tasks worth watching (blocked, or returned by review
        ``review_alert`` times) and the last 500 events — the whole run's tasks only when
        a stall is found, for the evidence."""
        watched = await self.board.watched_tasks(run.id, review_rounds_at_least=self.review_alert)
        recent = await self.board.recent_events(run.id, limit=500)
        found: list[Event | None] = []
        now = self.board.clock()
        found.append(await self._wall_time(run, now))
        run = await self.board.get_run(run.id)  # the wall-time check may have paused it
        found.append(await self._stall(run, now))
        found.extend([await self._review_loop(run, t) for t in watched])
        found.append(await self._wait_cycle(run, watched))
        found.extend(await self._failing_agents(run, recent))
        found.extend(await self._anomalies(run, recent, now))
        return [e for e in found if e is not None]

    async def _anomalies(self, run: Run, recent: Sequence[Event], now: float) -> list[Event]:
        limits = self.anomalies
        incidents = [
            *repeated_denials(run, recent, limits),
            *chatter(run, recent, limits),
            *claim_burst(run, recent, now, limits),
        ]
        counts = await self.board.count_by_state(run.id) if run.budget or metrics_on() else {}
        record_task_states(run.id, counts)
        if metrics_on():
            record_queue_depth(run.id, run.roles, await self.board.ready_by_role(run.id))
        if run.budget:
            incidents.extend(spend_rate(run, counts))
        raised = []
        for incident in incidents:
            event = await self._raise(
                run, incident.kind, incident.reason, incident.evidence, incident.key
            )
            if event is not None:
                raised.append(event)
        return raised

    async def _raise(
        self,
        run: Run,
        kind: str,
        reason: str,
        evidence: Mapping[str, object],
        key: str,
        task_id: str | None = None,
    ) -> Event | None:
        head = await self.board.last_seq()
        try:
            event = await self.board.escalate(
                run.id,
                kind,
                reason,
                evidence=evidence,
                task_id=task_id,
                actor=self.name,
                idempotency_key=f"watchdog:{key}",
            )
        except IdempotencyConflict:  # pragma: no cover - keys are unique per incident kind
            return None
        if event.seq <= head:  # raised before (by us or another orchestrator): a replay
            return None
        log.warning("escalation on %s: %s", run.id, reason)
        return event

    async def _wall_time(self, run: Run, now: float) -> Event | None:
        limit = (run.budget or {}).get("wall_s")
        if not past(now - run.created_at, limit) or run.state is not RunState.ACTIVE:
            return None
        reason = f"run wall-time budget exceeded: {now - run.created_at:.0f}s of {limit}s"
        await self.board.pause_run(run.id, actor=self.name, reason=reason)
        return await self._raise(run, "budget", reason, {"wall_s": limit}, f"wall:{run.id}:{limit}")

    async def _stall(self, run: Run, now: float) -> Event | None:
        if run.state is not RunState.ACTIVE:
            return None
        last = await self.board.last_progress(run.id)
        last_seq, last_at = last if last else (0, run.created_at)
        since = now - last_at
        if since < self.stall_s:
            return None
        counts = await self.board.count_by_state(run.id)
        if not any(n for s, n in counts.items() if TaskState(s) not in TERMINAL):
            return None
        states: dict[str, list[str]] = defaultdict(list)
        for t in await self.board.tasks(run.id):
            if t.state not in TERMINAL:
                states[t.state.value].append(t.key)
        reason = f"no progress on run {run.id!r} for {since:.0f}s"
        evidence = {"idle_s": round(since, 1), "last_seq": last_seq, "open_tasks": dict(states)}
        return await self._raise(run, "stalled", reason, evidence, f"stall:{run.id}:{last_seq}")

    async def _review_loop(self, run: Run, task: Task) -> Event | None:
        if task.state in TERMINAL or task.review_rounds < self.review_alert:
            return None
        reason = f"{task.title or task.key!r} was returned by review {task.review_rounds} times"
        evidence = {"feedback": task.feedback, "max_review_rounds": task.max_review_rounds}
        return await self._raise(
            run, "review_loop", reason, evidence, f"review:{task.id}:{task.review_rounds}", task.id
        )

    async def _wait_cycle(self, run: Run, tasks: Sequence[Task]) -> Event | None:
        """Blocked tasks waiting on each other (from ``blocked_by`` messages)."""
        blocked = {t.key: t for t in tasks if t.state is TaskState.BLOCKED}
        if len(blocked) < 2:
            return None
        waits: dict[str, list[str]] = defaultdict(list)
        for m in await self.board.messages(run.id, limit=1000):
            if m.kind == "message.blocked_by":
                body = m.payload.get("body", {})
                a, b = _key(body.get("task")), _key(body.get("blocked_by"))
                if a in blocked and b in blocked:
                    waits[a].append(b)
        cycles = find_cycles({k: waits.get(k, []) for k in blocked})
        if not cycles:
            return None
        cycle = cycles[0]
        reason = "wait-for cycle between blocked tasks: " + " -> ".join([*cycle, cycle[0]])
        evidence: dict[str, object] = {
            "cycle": cycle,
            "reasons": {k: blocked[k].blocked_reason for k in cycle},
        }
        return await self._raise(
            run, "deadlock", reason, evidence, f"cycle:{run.id}:{','.join(sorted(cycle))}"
        )

    async def _failing_agents(self, run: Run, recent: Sequence[Event]) -> list[Event]:
        streak: dict[str, list[Event]] = defaultdict(list)
        for e in recent:
            if e.kind in _FAILED_ATTEMPT:
                error = e.payload.get("error") or {}
                # An expired lease is its holder's failure, whoever reaped it.
                who = error.get("owner") if error.get("kind") == "lease_expired" else e.actor
                if who and who not in (self.name, "reaper"):
                    streak[str(who)].append(e)
            elif e.kind in _SUCCESS:
                streak.pop(e.actor, None)
        raised = []
        for actor, failures in streak.items():
            if len(failures) >= self.failure_streak:
                errors = [f.payload.get("error") for f in failures[-self.failure_streak :]]
                reason = f"agent {actor} failed {len(failures)} attempts in a row"
                event = await self._raise(
                    run,
                    "failing_agent",
                    reason,
                    {"agent": actor, "last_errors": errors},
                    f"failing:{run.id}:{actor}:{failures[self.failure_streak - 1].seq}",
                )
                if event:
                    raised.append(event)
        return raised


def _key(ref: object) -> str:
    """A task reference from a message: a global id (run/key) or a plan key."""
    text = str(ref or "")
    return text.rsplit("/", 1)[-1]
