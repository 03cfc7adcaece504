"""Rebuild the board's state from its event log alone.

The log is the source of every view (audit, timeline, narration), so it must carry
enough to reproduce the state: a replay to the last ``seq`` must equal the store, and a
replay to any earlier ``seq`` shows the board as it was then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from baton.model import Event, RunState, Task
from baton.model.errors import BatonRuntimeError
from baton.model.states import TaskState


@dataclass
class TaskView:
    state: TaskState
    token: int = 0
    output: Any = None
    lease_owner: str | None = None


@dataclass
class BoardView:
    """The replayed board: the state of every run and task as of ``seq``."""

    seq: int = 0
    runs: dict[str, RunState] = field(default_factory=dict)
    tasks: dict[str, TaskView] = field(default_factory=dict)


_LEASE_DROPPING = {"task.review_released", "task.review_lease_expired"}


def replay(events: Iterable[Event], *, until: int | None = None) -> BoardView:
    """Fold ``events`` (in ``seq`` order) into a :class:`BoardView`."""
    view = BoardView()
    for e in events:
        if until is not None and e.seq > until:
            break
        if e.seq != view.seq + 1 and view.seq:
            raise BatonRuntimeError(f"the event log has a gap: seq {view.seq} then {e.seq}")
        view.seq = e.seq
        p = e.payload
        if e.kind == "run.created":
            view.runs[e.run_id] = RunState.ACTIVE
        elif e.kind == "run.finished":
            view.runs[e.run_id] = RunState.FINISHED
        elif e.kind == "run.failed":
            view.runs[e.run_id] = RunState.FAILED
        elif e.kind == "run.cancelled":
            view.runs[e.run_id] = RunState.CANCELLED
        elif e.kind == "task.created" and e.task_id:
            view.tasks[e.task_id] = TaskView(state=TaskState(p["to"]))
        elif e.kind.startswith("task.") and e.task_id:
            t = view.tasks[e.task_id]
            t.token = p.get("token", t.token)
            if "to" in p:
                t.state = TaskState(p["to"])
                t.lease_owner = p.get("owner") if e.kind == "task.claim" else None
            if "output" in p:
                t.output = p["output"]
            if "lease_owner" in p:
                t.lease_owner = p["lease_owner"]
            if e.kind in _LEASE_DROPPING:
                t.lease_owner = None
    return view


def project(tasks: Iterable[Task]) -> dict[str, TaskView]:
    """The same view, read from stored tasks: ``replay(log).tasks == project(tasks)``."""
    return {
        t.id: TaskView(state=t.state, token=t.token, output=t.output, lease_owner=t.lease_owner)
        for t in tasks
    }
