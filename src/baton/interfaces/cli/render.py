"""Rich renderables for the CLI: the board table and its progress bar."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from baton.interfaces.cli.text import plain
from baton.model import Run, RunState, Task
from baton.model.states import TaskState
from baton.views.narration import unclaimed_work
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


def board_view(run: Run, tasks: Sequence[Task], now: float | None = None) -> RenderableType:
    table = Table(title=plain(f"{run.id} — {run.goal} [{run.state.value}]"), expand=True)
    for col in ("task", "role", "state", "try", "holder", "note"):
        table.add_column(col, overflow="fold", ratio=3 if col == "note" else None)
    for t in tasks:
        table.add_row(
            Text(plain(t.title or t.key)),
            Text(plain(t.role)),
            Text(t.state.value, style=STATE_STYLE[t.state]),
            str(t.attempts),
            Text(plain(t.lease_owner or "")),
            Text(plain(_note(t))),
        )
    done = sum(t.state is TaskState.DONE for t in tasks)
    terminal = sum(t.state.value in ("done", "failed", "skipped", "cancelled") for t in tasks)
    bar = ProgressBar(total=max(1, len(tasks)), completed=terminal, width=50)
    caption = Text(f"{done}/{len(tasks)} done, {terminal}/{len(tasks)} finished")
    notes = unclaimed_work(tasks, now) if now is not None and run.state is RunState.ACTIVE else []
    return Group(table, bar, caption, *(Text(plain(n), style="yellow") for n in notes))


def usage_table(rows: Sequence[RoleUsage]) -> Table:
    table = Table(title="Tokens and cost per role")
    for col in ("role", "calls", "tokens in", "tokens out", "USD", "model"):
        numeric = col not in ("role", "model")
        table.add_column(
            col, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold"
        )
    for r in rows:
        table.add_row(
            Text(plain(r.role)),
            str(r.calls),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            f"{r.cost_usd:.4f}",
            Text(plain(", ".join(sorted(r.models or ())))),
        )
    if not rows:
        table.add_row("(no model usage recorded)", "", "", "", "", "")
    return table
