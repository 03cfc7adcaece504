"""``baton trace RUN``: the run's timeline in the terminal — a Gantt of attempts per
participant, with waits before each claim, retried attempts and the critical path
marked — and ``--otlp-json FILE``: the run's spans rebuilt from the event log as
OTLP/JSON, for Jaeger or any OTLP tool (docs/observability.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from baton.board import SyncBoard
from baton.interfaces.cli.common import DEFAULT_DB, AsJson, Db, Token, dump, open_board, out
from baton.interfaces.cli.text import plain
from baton.model import Event
from baton.views.dependency_graph import layout
from baton.views.timeline import Attempt, attempts, timeline, work_seconds
from baton.views.trace_export import otlp_json, trace_id_of

PAGE = 10_000


def _all_events(board: SyncBoard, run_id: str) -> list[Event]:
    found: list[Event] = []
    since = 0
    while True:
        page = board.events(run_id, since=since, limit=PAGE)
        found.extend(page)
        if len(page) < PAGE:
            return found
        since = page[-1].seq


def trace_cmd(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    otlp: Annotated[
        Path | None,
        typer.Option("--otlp-json", help="Write the run's spans as OTLP/JSON to this file."),
    ] = None,
    width: Annotated[int, typer.Option(help="Columns of the Gantt chart.", min=20)] = 80,
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """The run's timeline: attempts per participant, waits, retries, the critical path."""
    with open_board(db, token=token) as board:
        run = board.get_run(run_id)
        tasks = board.tasks(run_id)
        events = _all_events(board, run_id)
        now = board.board.clock()
    found = attempts(events)
    weights = work_seconds(found, now=now)
    critical = layout(tasks, durations=weights).critical_path
    if otlp is not None:
        exported = otlp_json(run, tasks, events)
        otlp.write_text(json.dumps(exported))
        count = len(exported["resourceSpans"][0]["scopeSpans"][0]["spans"])
        out.print(plain(f"wrote {count} spans of trace {trace_id_of(run.id)} to {otlp}"))
        return
    if as_json:
        dump(
            {
                "run": run.id,
                "trace_id": trace_id_of(run.id),
                "critical_path": critical,
                "attempts": [vars(a) for a in found],
            }
        )
        return
    _gantt(found, set(critical), now=now, width=min(width, max(20, out.width - 28)))
    retried = sum(a.retried for a in found)
    waited = sum(a.wait_s for a in found)
    out.print(
        plain(
            f"{len(found)} attempt(s), {retried} retried, {waited:.2f} s waiting to be "
            f"claimed; trace {trace_id_of(run.id)}"
        )
    )
    if critical:
        path = " → ".join(t.split("/")[-1] for t in critical)
        total = sum(weights.get(t, 0.0) for t in critical)
        out.print(plain(f"critical path ({total:.2f} s of work): {path}"))


def _gantt(found: list[Attempt], critical: set[str], *, now: float, width: int) -> None:
    drawn = timeline(found, now=now)
    scale = width / drawn.span

    def col(t: float) -> int:
        return min(width - 1, max(0, int((t - drawn.start) * scale)))

    table = Table(show_header=True, box=None, pad_edge=False)
    table.add_column("participant", overflow="fold", max_width=24)
    table.add_column(f"0 … {drawn.span:.2f} s", no_wrap=True)
    for lane in drawn.lanes:
        cells: list[tuple[str, str]] = [(" ", "")] * width
        for a in lane.attempts:
            begin, end = col(a.start), col(a.end if a.end is not None else now)
            for c in range(col(a.start - a.wait_s), begin):
                if cells[c][0] == " ":
                    cells[c] = ("·", "dim")
            style = "bold red" if a.task_id in critical else (
                "cyan" if a.kind == "work" else "magenta"
            )  # fmt: skip
            glyph = "█" if a.kind == "work" else "▓"
            for c in range(begin, max(begin + 1, end)):
                cells[c] = (glyph, style)
            if a.retried:
                cells[max(begin, end - 1)] = ("✗", "bold yellow")
        bar = Text()
        for glyph, style in cells:
            bar.append(glyph, style=style)
        table.add_row(Text(plain(lane.participant)), bar)
    out.print(table)
    out.print(
        Text.assemble(
            ("█", "cyan"),
            " work  ",
            ("▓", "magenta"),
            " review  ",
            ("·", "dim"),
            " waiting  ",
            ("✗", "bold yellow"),
            " retried  ",
            ("█", "bold red"),
            " critical path",
        )
    )
