"""Plain-language status of a run, from the board alone.

"6 of 8 tasks done. 'Search indexing' is waiting on 'Schema migration'. 'Profile UI'
was returned by review with 2 issues and is being reworked."
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.model import Event, Run, RunState, Task
from baton.model.states import TaskState


def _name(task: Task) -> str:
    return f"'{task.title or task.key}'"


#: Ready work unclaimed for this long is worth saying out loud: maybe nobody serves it.
UNCLAIMED_AFTER_S = 10.0


def narrate(
    run: Run, tasks: Sequence[Task], escalations: Sequence[Event] = (), *, now: float | None = None
) -> str:
    """The run in plain words. With ``now``, ready work nobody has claimed for
    :data:`UNCLAIMED_AFTER_S` is named by role, with how to start a worker for it."""
    by_id = {t.id: t for t in tasks}
    done = sum(t.state is TaskState.DONE for t in tasks)
    lines = [f"{done} of {len(tasks)} tasks done."]
    if run.state is RunState.FINISHED:
        lines[0] = f"Run finished: {done} of {len(tasks)} tasks done."
    elif run.state is RunState.FAILED:
        failed = [t for t in tasks if t.state in (TaskState.FAILED, TaskState.SKIPPED)]
        lines[0] = (
            f"Run FAILED: {done} of {len(tasks)} tasks done, {len(failed)} failed or skipped."
        )
    elif run.state is RunState.CANCELLED:
        lines[0] = f"Run cancelled: {done} of {len(tasks)} tasks done."
    if run.state is RunState.PAUSED:
        lines.append(f"The run is paused: {run.paused_reason}.")
    for t in tasks:
        lines.extend(_sentences(t, by_id))
    if now is not None and run.state is RunState.ACTIVE:
        lines.extend(unclaimed_work(tasks, now))
    if escalations:
        last = escalations[-1].payload.get("reason", "")
        lines.append(f"{len(escalations)} escalation(s) for a human; the latest: {last}.")
    return " ".join(lines)


def unclaimed_work(tasks: Sequence[Task], now: float) -> list[str]:
    """One sentence per role whose ready work nobody has claimed for a while."""
    waiting: dict[str, float] = {}
    for t in tasks:
        ready_for = now - max(t.updated_at, t.not_before)
        if t.state is TaskState.READY and ready_for >= UNCLAIMED_AFTER_S:
            waiting[t.role] = max(waiting.get(t.role, 0.0), ready_for)
        review = t.state is TaskState.IN_REVIEW and t.lease_owner is None and t.reviewer_role
        if review and now - t.updated_at >= UNCLAIMED_AFTER_S:
            role = str(t.reviewer_role)
            waiting[role] = max(waiting.get(role, 0.0), now - t.updated_at)
    return [
        f"Work for role {role!r} has been ready for {age:.0f}s and no worker has claimed it: "
        f"start one (baton worker --agents MODULE:AGENTS) for role {role!r}."
        for role, age in sorted(waiting.items())
    ]


def _sentences(t: Task, by_id: dict[str, Task]) -> list[str]:
    name = _name(t)
    out = []
    issues = sum(len(f.get("items", [])) for f in t.feedback[-1:])
    if t.state is TaskState.RUNNING:
        rework = f" (rework after review: {issues} issue(s))" if t.review_rounds else ""
        out.append(f"{name} is being worked on by {t.lease_owner}{rework}.")
    elif t.state is TaskState.READY and t.review_rounds:
        out.append(
            f"{name} was returned by review with {issues} issue(s) and is waiting to be reworked."
        )
    elif t.state is TaskState.READY and t.failures:
        out.append(f"{name} failed {t.failures} time(s) and will be retried.")
    elif t.state is TaskState.PENDING:
        waiting = [by_id[d] for d in t.depends_on if d in by_id]
        open_deps = [_name(d) for d in waiting if d.state is not TaskState.DONE]
        if len(open_deps) > 3:
            open_deps = [*open_deps[:3], f"{len(open_deps) - 3} more"]
        if open_deps:
            what = "its sub-tasks " if t.expand and t.output is not None else ""
            out.append(f"{name} is waiting on {what}{', '.join(open_deps)}.")
    elif t.state is TaskState.BLOCKED:
        out.append(f"{name} is blocked: {t.blocked_reason}.")
    elif t.state is TaskState.IN_REVIEW:
        who = f" by {t.lease_owner}" if t.lease_owner else ""
        out.append(f"{name} is in review{who}.")
    elif t.state is TaskState.AWAITING_APPROVAL:
        out.append(f"{name} awaits human approval (baton approve {t.id}).")
    elif t.state is TaskState.FAILED:
        err = t.last_error or {}
        if err.get("root_cause") and err.get("root_cause") != t.id:
            root = by_id.get(str(err["root_cause"]))
            cause = _name(root) if root else str(err["root_cause"])
            out.append(f"{name} was not started because {cause} failed.")
        else:
            out.append(f"{name} failed: {_error_text(err)}.")
    elif t.state is TaskState.SKIPPED:
        out.append(f"{name} was skipped.")
    elif t.state is TaskState.DONE and t.review_rounds:
        out.append(f"{name} passed review after {t.review_rounds} rework round(s).")
    return out


def _error_text(err: dict[str, object]) -> str:
    if "message" in err:
        return str(err["message"])
    if err.get("kind") == "contract_violation":
        return "its output broke the contract (" + "; ".join(map(str, err.get("errors", []))) + ")"  # type: ignore[call-overload]
    if err.get("kind") == "review_rounds_exhausted":
        return f"review rejected it {err.get('rounds')} times"
    return str(err.get("kind", "unknown error"))
