"""What each page shows, read from the Board as the signed-in participant. Every read
goes through the Board (so a run the person may not see is a 404 here too); which
buttons a page offers is asked of the Board's own permission rules
(:mod:`baton.board.authorization`), so a person sees no button that would fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from baton.board import Board
from baton.board import authorization as rules
from baton.model import Event, Run, Task, TaskState
from baton.model.artifacts import Artifact, ArtifactVersion
from baton.model.errors import PermissionDenied
from baton.model.participants import Grant, Principal
from baton.model.reservations import Reservation
from baton.views.reporting import usage_by_role
from baton.views.timeline import Attempt, attempts

#: The kanban's columns: a title and the states it holds, in the order work flows.
COLUMNS: list[tuple[str, tuple[TaskState, ...]]] = [
    ("Waiting", (TaskState.PENDING,)),
    ("Ready", (TaskState.READY,)),
    ("Running", (TaskState.RUNNING,)),
    ("In review", (TaskState.IN_REVIEW,)),
    ("Awaiting approval", (TaskState.AWAITING_APPROVAL,)),
    ("Blocked", (TaskState.BLOCKED,)),
    ("Done", (TaskState.DONE,)),
    ("Failed, skipped, cancelled", (TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED)),
]


def permitted(rule: Callable[..., None], *args: Any, **kwargs: Any) -> bool:
    """Whether the Board's ``rule`` lets the call through (the same function the Board
    runs inside its transaction)."""
    try:
        rule(*args, **kwargs)
    except PermissionDenied:
        return False
    return True


@dataclass
class Can:
    """What the signed-in participant may do, per the Board's rules."""

    who: Principal

    def steer(self, run: Run) -> bool:
        return not run.ended and permitted(rules.require_steer, self.who, run, "steer")

    def create_runs(self) -> bool:
        return self.who.has(Grant.CREATE_RUNS)

    def answer(self) -> bool:
        return self.who.has(Grant.ANSWER)

    def decide(self, task: Task, now: float) -> bool:
        """Approve or reject ``task`` (a gate, or a review nobody holds a live lease on)."""
        if task.state not in (TaskState.IN_REVIEW, TaskState.AWAITING_APPROVAL):
            return False
        held = task.lease_owner is not None and (task.lease_expires_at or 0.0) > now
        if task.state is TaskState.IN_REVIEW and held:
            return False
        return permitted(rules.require_reviewer, self.who, task, "approve", leased=False)


async def all_events(board: Board, run_id: str, kinds: tuple[str, ...] = ()) -> list[Event]:
    """Every event of a run (paged), optionally only those whose kind starts so."""
    found: list[Event] = []
    cursor = 0
    while True:
        batch = await board.events(run_id, since=cursor, limit=1000)
        found.extend(e for e in batch if not kinds or e.kind.startswith(kinds))
        if len(batch) < 1000:
            return found
        cursor = batch[-1].seq


async def pending_escalations(board: Board, run_id: str) -> list[Event]:
    """The run's escalations nobody has answered yet."""
    answers = await board.recent_events(run_id, kind_prefix="message.answer", limit=10_000)
    return open_escalations(await board.escalations(run_id), answers)


def open_escalations(escalations: list[Event], messages: list[Event]) -> list[Event]:
    """Escalations nobody has answered yet (an ``answer`` message naming its seq)."""
    answered = {
        (m.payload.get("body") or {}).get("question_seq")
        for m in messages
        if m.kind == "message.answer"
    }
    return [e for e in escalations if e.seq not in answered]


@dataclass
class RunRow:
    run: Run
    total: int
    done: int
    counts: dict[str, int]
    needs_human: list[str] = field(default_factory=list)


async def run_rows(board: Board) -> list[RunRow]:
    rows = []
    runs = sorted(await board.list_runs(), key=lambda r: -r.created_at)[:200]
    for run in runs:
        counts = await board.count_by_state(run.id)
        row = RunRow(run, sum(counts.values()), counts.get("done", 0), counts)
        if counts.get("awaiting_approval"):
            row.needs_human.append(f"{counts['awaiting_approval']} awaiting approval")
        if counts.get("blocked"):
            row.needs_human.append(f"{counts['blocked']} blocked")
        if not run.ended:
            pending = await pending_escalations(board, run.id)
            if pending:
                row.needs_human.append(f"{len(pending)} escalation(s)")
        rows.append(row)
    return rows


@dataclass
class InboxItem:
    kind: str  # "approval", "review", "escalation"
    run: Run
    task: Task | None
    event: Event | None = None


async def inbox(board: Board, can: Can) -> list[InboxItem]:
    items: list[InboxItem] = []
    now = board.clock()
    for run in await board.list_runs():
        if run.ended:
            continue
        for task in await board.tasks(run.id):
            mine = task.reviewer_role in can.who.roles
            if task.state is TaskState.AWAITING_APPROVAL and can.decide(task, now):
                items.append(InboxItem("approval", run, task))
            elif task.state is TaskState.IN_REVIEW and mine and can.decide(task, now):
                items.append(InboxItem("review", run, task))
        if can.answer():
            pending = await pending_escalations(board, run.id)
            for e in pending:
                about = await board.get_task(e.task_id) if e.task_id else None
                items.append(InboxItem("escalation", run, about, e))
    return items


@dataclass
class Costs:
    run: Run
    tasks: list[Task]
    roles: list[Any]
    budget: dict[str, Any]


async def costs(board: Board, run_id: str) -> Costs:
    run = await board.get_run(run_id)
    tasks = sorted(await board.tasks(run_id), key=lambda t: (-t.cost_used, -t.tokens_used))
    usage = await all_events(board, run_id, ("task.usage",))
    return Costs(run, tasks, usage_by_role(usage), dict(run.budget or {}))


async def run_attempts(board: Board, run_id: str) -> list[Attempt]:
    return attempts(await all_events(board, run_id))


#: How much of an artifact's head a task page shows inline.
PREVIEW_CHARS = 4000


@dataclass
class ArtifactView:
    """One artifact as a task page shows it: its head, a preview, its history."""

    artifact: Artifact
    preview: str
    clipped: bool
    history: list[ArtifactVersion]


async def shared_work(board: Board, task: Task) -> tuple[list[ArtifactView], list[Reservation]]:
    """The artifacts in ``task``'s scope that the viewer may read (the Board decides,
    so someone without the grant sees none) and the task's live reservations."""
    views = []
    for artifact in await board.artifacts(task.run_id):
        if artifact.scope != task.id:
            continue
        head = await board.read_artifact(task.run_id, artifact.name, scope=task.id)
        text = (
            head.content
            if isinstance(head.content, str)
            else json.dumps(head.content, indent=2, sort_keys=True, ensure_ascii=False)
        )
        history = await board.artifact_history(task.run_id, artifact.name, scope=task.id)
        views.append(
            ArtifactView(artifact, text[:PREVIEW_CHARS], len(text) > PREVIEW_CHARS, history)
        )
    held = [r for r in await board.reservations(task.run_id) if r.task_id == task.id]
    return views, held
