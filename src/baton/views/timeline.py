"""Attempts drawn from the event log: who worked (or reviewed) which task, from when to
when, how it ended, and how long the task waited before it was claimed — the rows of a
run's timeline (a Gantt per participant) and the durations its critical path is made of.

Pure: it reads events in seq order and keeps no state between calls, so the web board,
the CLI and anything else draw the same timeline from the same log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from baton.model import Event

#: Events that make a task claimable again (the wait before its next claim starts here).
_READY_AGAIN = frozenset(
    {
        "task.created",
        "task.deps_done",
        "task.retry",
        "task.release",
        "task.reject",
        "task.unblock",
    }
)
#: Events that end a work attempt, and the word the timeline shows for each.
_WORK_ENDS = {
    "task.complete": "done",
    "task.submit_for_review": "to review",
    "task.submit_for_approval": "to approval",
    "task.expand": "expanded",
    "task.retry": "retry",
    "task.release": "released",
    "task.fail": "failed",
    "task.block": "blocked",
    "task.cancel": "cancelled",
}
#: Events that end a review attempt.
_REVIEW_ENDS = {
    "task.approve": "approved",
    "task.approve_to_gate": "approved, to gate",
    "task.reject": "rejected",
    "task.reject_final": "rejected (final)",
    "task.review_released": "released",
    "task.review_failed": "failed",
    "task.review_lease_expired": "lease expired",
    "task.cancel": "cancelled",
}
#: Events after which a review may be claimed (again).
_REVIEWABLE_AGAIN = frozenset(
    {
        "task.submit_for_review",
        "task.review_released",
        "task.review_failed",
        "task.review_lease_expired",
    }
)
#: Outcomes after which the task goes round again.
RETRIED = frozenset({"retry", "rejected", "released", "lease expired", "failed"})


@dataclass
class Attempt:
    """One claim of a task by one participant, to its end (``end`` is ``None`` while it
    is still held)."""

    task_id: str
    participant: str
    kind: str  # "work" or "review"
    number: int  # the task's n-th attempt of this kind
    start: float
    end: float | None = None
    outcome: str = "running"
    wait_s: float = 0.0  # from claimable to claimed

    @property
    def retried(self) -> bool:
        return self.outcome in RETRIED

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


@dataclass
class Lane:
    participant: str
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Timeline:
    start: float
    end: float
    lanes: list[Lane]

    @property
    def span(self) -> float:
        return max(self.end - self.start, 1e-6)


def attempts(events: Iterable[Event]) -> list[Attempt]:
    """Every attempt in ``events`` (a run's log, in seq order), oldest first."""
    found: list[Attempt] = []
    open_work: dict[str, Attempt] = {}
    open_review: dict[str, Attempt] = {}
    ready_since: dict[str, float] = {}
    counts: dict[tuple[str, str], int] = {}
    for e in events:
        task = e.task_id
        if task is None:
            continue
        if e.kind == "task.claim" or e.kind == "task.review_claimed":
            kind = "work" if e.kind == "task.claim" else "review"
            number = counts[(task, kind)] = counts.get((task, kind), 0) + 1
            attempt = Attempt(task, e.actor, kind, number, e.at)
            attempt.wait_s = max(0.0, e.at - ready_since.get(task, e.at))
            (open_work if kind == "work" else open_review)[task] = attempt
            found.append(attempt)
            continue
        for table, held in ((_WORK_ENDS, open_work), (_REVIEW_ENDS, open_review)):
            if e.kind in table and task in held:
                ended = held.pop(task)
                ended.end, ended.outcome = e.at, table[e.kind]
        if e.kind in _READY_AGAIN:
            ready_since[task] = e.at
        elif e.kind in _REVIEWABLE_AGAIN:
            ready_since[task] = e.at  # the (next) review's wait starts now
    return found


def timeline(found: Sequence[Attempt], *, now: float) -> Timeline:
    """Lanes per participant, in the order they first started work."""
    lanes: dict[str, Lane] = {}
    for a in found:
        lanes.setdefault(a.participant, Lane(a.participant)).attempts.append(a)
    start = min((a.start for a in found), default=now)
    end = max((a.end if a.end is not None else now for a in found), default=now)
    return Timeline(start=start, end=end, lanes=list(lanes.values()))


def work_seconds(found: Iterable[Attempt], *, now: float) -> dict[str, float]:
    """Seconds of work and review per task: the weights of the critical path."""
    total: dict[str, float] = {}
    for a in found:
        total[a.task_id] = total.get(a.task_id, 0.0) + a.duration(now)
    return total
