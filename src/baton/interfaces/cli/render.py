"""Rich renderables for the CLI: the board table and its progress bar."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from baton.model import Run, Task
from baton.model.states import TaskState
from baton.views.reporting import RoleUsage

STATE_STYLE = {
    TaskState.PENDING: "dim",
    TaskState.READY: "cyan",
    TaskState.RUNNING: "bold yellow",
    TaskState.IN_REVIEW: "magenta",
    TaskState.AWAITING_APPROVAL: "bold magenta",
    TaskState.BLOCKED: "bold red",
    TaskState.DONE: "green",
    TaskState.FAILED: "bold red",
    TaskState.SKIPPED: "dim red",
    TaskState.CANCELLED: "dim",
}


def _note(t: Task) -> str:
    if t.state is TaskState.BLOCKED:
        return t.blocked_reason or ""
    if t.state in (TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED) and t.last_error:
        err = t.last_error
        return str(err.get("message") or err.get("root_cause") or err.get("kind", ""))
    if t.feedback and t.state is not TaskState.DONE:
        last = t.feedback[-1]
        return f"review round {last['round']}: " + "; ".join(last["items"])
    if t.last_error and t.state is TaskState.READY:
        return f"retry after: {t.last_error.get('message') or t.last_error.get('kind')}"
    return ""


def board_view(run: Run, tasks: Sequence[Task]) -> RenderableType:
    table = Table(title=f"{run.id} — {run.goal} [{run.state.value}]", expand=True)
    for col in ("task", "role", "state", "try", "holder", "note"):
        table.add_column(col, overflow="fold", ratio=3 if col == "note" else None)
    for t in tasks:
        table.add_row(
            t.title or t.key,
            t.role,
            Text(t.state.value, style=STATE_STYLE[t.state]),
            str(t.attempts),
            t.lease_owner or "",
            _note(t),
        )
    done = sum(t.state is TaskState.DONE for t in tasks)
    terminal = sum(t.state.value in ("done", "failed", "skipped", "cancelled") for t in tasks)
    bar = ProgressBar(total=max(1, len(tasks)), completed=terminal, width=50)
    caption = Text(f"{done}/{len(tasks)} done, {terminal}/{len(tasks)} finished")
    return Group(table, bar, caption)


def usage_table(rows: Sequence[RoleUsage]) -> Table:
    table = Table(title="Tokens and cost per role")
    for col in ("role", "calls", "tokens in", "tokens out", "USD", "model"):
        numeric = col not in ("role", "model")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=True)
    for r in rows:
        table.add_row(
            r.role,
            str(r.calls),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            f"{r.cost_usd:.4f}",
            ", ".join(sorted(r.models or ())),
        )
    if not rows:
        table.add_row("(no model usage recorded)", "", "", "", "", "")
    return table
