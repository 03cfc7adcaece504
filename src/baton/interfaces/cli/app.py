"""The ``baton`` command line. Every option can also come from a ``BATON_*`` variable.

Errors print one line and exit non-zero (2 for a bad request, 1 for a failure), never a
traceback for a user error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from baton.board import SyncBoard
from baton.interfaces.cli.artifacts import artifact_app, artifacts_cmd, reservations_cmd
from baton.interfaces.cli.audit import audit_app
from baton.interfaces.cli.common import (
    DEFAULT_ACTOR,
    DEFAULT_DB,
    Actor,
    AsJson,
    Db,
    Token,
    Wait,
    WaitTimeout,
    acting,
    dump,
    err,
    open_board,
    out,
)
from baton.interfaces.cli.mcp import mcp_cmd
from baton.interfaces.cli.participants import participant_app
from baton.interfaces.cli.policy import policy_app
from baton.interfaces.cli.processes import orchestrate_cmd, worker_cmd
from baton.interfaces.cli.render import board_view, usage_table
from baton.interfaces.cli.serve import serve_cmd
from baton.interfaces.cli.text import plain
from baton.interfaces.cli.trace import trace_cmd
from baton.model import Event, RunState
from baton.model.errors import BatonError, InvalidArgument, RunFailed, UsageError
from baton.model.redaction import Redactor
from baton.planning.files import load_plan
from baton.runtime.logs import configure_logging
from baton.runtime.tracing import configure_tracing
from baton.views.narration import narrate
from baton.views.reporting import usage_by_role

app = typer.Typer(
    help="Baton: the board that teams of AI agents and humans coordinate through.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
task_app = typer.Typer(help="Inspect tasks.", no_args_is_help=True)
app.add_typer(task_app, name="task")
app.add_typer(participant_app, name="participant")
app.add_typer(artifact_app, name="artifact")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.command("trace")(trace_cmd)
app.command("artifacts")(artifacts_cmd)
app.command("reservations")(reservations_cmd)
app.command("serve")(serve_cmd)
app.command("mcp")(mcp_cmd)


@app.command()
def run(
    plan: Annotated[Path, typer.Argument(help="Plan file (.yaml, .yml or .json).")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    run_id: Annotated[
        str | None, typer.Option(envvar="BATON_RUN_ID", help="Pick the run id.")
    ] = None,
    actor: Actor = DEFAULT_ACTOR,
    as_json: AsJson = False,
    wait: Wait = False,
    timeout: WaitTimeout = 0,
) -> None:
    """Validate a plan and put it on the board as a new run."""
    valid = load_plan(plan)
    with open_board(db, token=token, create=True) as board:
        created = board.create_run(valid, actor=acting(board, actor), run_id=run_id)
        if as_json:
            dump(created.model_dump(mode="json"))
        else:
            out.print(
                Text(plain(f"run {created.id}"), style="green"),
                plain(f" created with {len(valid.tasks)} tasks: {valid.goal}"),
                sep="",
            )
            out.print(plain(f"watch it: baton board {created.id} --db {db}"))
        if wait:
            _wait_for_end(board, created.id, timeout)


def _outcome(board: SyncBoard, run_id: str) -> None:
    """Exit like the run ended: 0 when it finished, 1 (one line saying why) when it
    failed or was cancelled — so that scripts and CI can tell success from failure."""
    r = board.get_run(run_id)
    if r.state is RunState.FAILED:
        reasons = [
            e.payload.get("reason", "")
            for e in board.recent_events(run_id, kind_prefix="run.failed", limit=1)
        ]
        raise RunFailed(run_id, "failed", reasons[0] if reasons else "")
    if r.state is RunState.CANCELLED:
        raise RunFailed(run_id, "was cancelled")


def _wait_for_end(board: SyncBoard, run_id: str, timeout: float) -> None:
    try:
        r = board.wait_ended(run_id, timeout=timeout or None)
    except TimeoutError:
        raise InvalidArgument(f"run {run_id} still not ended after {timeout}s") from None
    out.print(plain(narrate(r, board.tasks(run_id), board.escalations(run_id), now=time.time())))
    _outcome(board, run_id)


@app.command()
def runs(db: Db = DEFAULT_DB, token: Token = None, as_json: AsJson = False) -> None:
    """List the runs in the store."""
    with open_board(db, token=token) as board:
        found = board.list_runs()
    if as_json:
        dump([r.model_dump(mode="json") for r in found])
        return
    for r in found:
        out.print(plain(f"{r.id}  {r.state.value:9}  {r.goal}"))


@app.command("board")
def board_cmd(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    once: Annotated[bool, typer.Option(help="Print the board once and exit.")] = False,
    timeout: Annotated[
        float, typer.Option(envvar="BATON_TIMEOUT", help="Give up after seconds.")
    ] = 0,
) -> None:
    """Show the run's board, live, updated from the event stream until the run ends."""
    with open_board(db, token=token) as board:
        r = board.get_run(run_id)
        if once:
            out.print(board_view(r, board.tasks(run_id), time.time()))
            return
        deadline = time.monotonic() + timeout if timeout else None
        if not out.is_terminal:  # redirected: no live redraws, one final board
            try:
                r = board.wait_ended(run_id, timeout=timeout or None)
            except TimeoutError:
                raise InvalidArgument(f"run {run_id} still active after {timeout}s") from None
            out.print(board_view(r, board.tasks(run_id), time.time()))
            _outcome(board, run_id)
            return
        with Live(
            board_view(r, board.tasks(run_id), time.time()), console=out, refresh_per_second=10
        ) as live:
            last_seq, last_draw = 0, 0.0
            while r.state is RunState.ACTIVE:
                # Redraw at most every 0.1 s while events flow, and once when they pause.
                for event in board.subscribe(since=last_seq, run_id=run_id, idle_timeout=0.1):
                    last_seq = event.seq
                    if time.monotonic() - last_draw > 0.1:
                        break
                r = board.get_run(run_id)
                live.update(board_view(r, board.tasks(run_id), time.time()))
                last_draw = time.monotonic()
                if deadline and time.monotonic() > deadline:
                    raise InvalidArgument(f"run {run_id} still active after {timeout}s")
        _outcome(board, run_id)


def _event_line(e: Event) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(e.at))
    subject = e.task_id or e.run_id
    detail = {k: v for k, v in e.payload.items() if k not in ("spec",)}
    body = json.dumps(detail, default=str)
    return plain(f"{e.seq:>6} {when} {e.kind:<24} {subject:<32} {e.actor:<16} {body}")


_RUN_END_EVENTS = frozenset({"run.finished", "run.failed", "run.cancelled"})


@app.command()
def events(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    since: Annotated[
        int, typer.Option(envvar="BATON_SINCE", help="Only events after this seq.")
    ] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Print the run's event log (one JSON object per line with --json)."""
    with open_board(db, token=token) as board:
        board.get_run(run_id)
        stream = board.subscribe(since=since, run_id=run_id, idle_timeout=None if follow else 0)
        for e in stream:
            if as_json:
                print(e.model_dump_json(), flush=True)
            else:
                out.print(_event_line(e), soft_wrap=True)
            if follow and e.kind in _RUN_END_EVENTS:
                break  # the run ended: nothing more will come


@task_app.command("show")
def task_show(
    task_id: Annotated[str, typer.Argument(help="Task id (run/key).")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Show one task: spec, state, lease, output, errors, review feedback."""
    with open_board(db, token=token) as board:
        t = board.get_task(task_id)
    data = t.model_dump(mode="json")
    if as_json:
        dump(data)
        return
    out.print(Text(plain(f"{t.id} — {t.title or t.key} [{t.state.value}]"), style="bold"))
    for key in (
        "role",
        "reviewer_role",
        "depends_on",
        "attempts",
        "failures",
        "token",
        "lease_owner",
        "lease_expires_at",
        "review_rounds",
        "blocked_reason",
    ):
        if data.get(key) not in (None, [], ""):
            out.print(plain(f"  {key}: {data[key]}"))
    for key in ("input", "output", "last_error", "feedback", "acceptance_criteria"):
        if data.get(key) not in (None, [], {}):
            out.print(f"  {key}:")
            out.print_json(json.dumps(data[key]), indent=2)


@app.command()
def approve(
    task_id: Annotated[str, typer.Argument(help="Task id awaiting review or approval.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Approve a task in review or at its approval gate."""
    with open_board(db, token=token) as board:
        t = board.approve(task_id, actor=acting(board, actor), comment=comment)
    out.print(plain(f"{t.id} approved by {actor}: now {t.state.value}"))


@app.command()
def reject(
    task_id: Annotated[str, typer.Argument(help="Task id awaiting review or approval.")],
    feedback: Annotated[
        list[str], typer.Option("--feedback", "-m", help="An issue to fix (repeatable).")
    ],
    db: Db = DEFAULT_DB,
    token: Token = None,
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Send a task back with feedback the next attempt will see."""
    with open_board(db, token=token) as board:
        t = board.reject(task_id, feedback, actor=acting(board, actor))
    out.print(plain(f"{t.id} rejected by {actor}: now {t.state.value}"))


@app.command()
def unblock(
    task_id: Annotated[str, typer.Argument(help="A blocked task.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Let a blocked task go on."""
    with open_board(db, token=token) as board:
        t = board.unblock(task_id, actor=acting(board, actor))
    out.print(plain(f"{t.id} unblocked by {actor}: now {t.state.value}"))


@app.command()
def cancel(
    target: Annotated[str, typer.Argument(help="A run id, or a task id (run/key).")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    reason: Annotated[str, typer.Option(help="Why, for the log.")] = "",
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Cancel a task (and its dependents that have not started) or a whole run."""
    with open_board(db, token=token) as board:
        if "/" in target:
            t = board.cancel_task(target, actor=acting(board, actor), reason=reason)
            out.print(plain(f"task {t.id} cancelled"))
        else:
            r = board.cancel_run(target, actor=acting(board, actor), reason=reason)
            out.print(plain(f"run {r.id} cancelled"))


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(help="Run id.")], db: Db = DEFAULT_DB, token: Token = None
) -> None:
    """A plain-language summary of the run."""
    with open_board(db, token=token) as board:
        run = board.get_run(run_id)
        out.print(
            plain(narrate(run, board.tasks(run_id), board.escalations(run_id), now=time.time()))
        )


@app.command()
def plan(
    goal: Annotated[str, typer.Argument(help="The goal, in plain words.")],
    roles: Annotated[str, typer.Option(envvar="BATON_ROLES", help="Comma-separated team roles.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    planner_role: Annotated[str, typer.Option(envvar="BATON_PLANNER_ROLE")] = "planner",
    run_id: Annotated[str | None, typer.Option(envvar="BATON_RUN_ID")] = None,
    tokens: Annotated[int | None, typer.Option(help="Run token budget.")] = None,
    cost: Annotated[float | None, typer.Option(help="Run cost budget, USD.")] = None,
    actor: Actor = DEFAULT_ACTOR,
    as_json: AsJson = False,
    wait: Wait = False,
    timeout: WaitTimeout = 0,
) -> None:
    """Start a run from a goal: a planner agent turns it into a validated plan."""
    team = [r.strip() for r in roles.split(",") if r.strip()]
    budget = {k: v for k, v in (("tokens", tokens), ("cost_usd", cost)) if v is not None}
    with open_board(db, token=token, create=True) as board:
        created = board.create_goal_run(
            goal,
            roles=team,
            planner_role=planner_role,
            budget=budget or None,
            actor=acting(board, actor),
            run_id=run_id,
        )
        if as_json:
            dump(created.model_dump(mode="json"))
        else:
            out.print(
                Text(plain(f"run {created.id}"), style="green"),
                plain(f" created: {planner_role} will plan {goal!r}"),
                sep="",
            )
        if wait:
            _wait_for_end(board, created.id, timeout)


@app.command()
def escalations(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """What waits for a human on this run, with the evidence."""
    with open_board(db, token=token) as board:
        found = board.escalations(run_id)
    if as_json:
        dump([e.model_dump(mode="json") for e in found])
        return
    if not found:
        out.print("no escalations")
    for e in found:
        subject = e.task_id or e.run_id
        kind = e.kind.removeprefix("escalation.")
        out.print(plain(f"#{e.seq} {kind} on {subject}: {e.payload['reason']}"))


@app.command()
def usage(
    run_id: Annotated[str, typer.Argument(help="Run id.")], db: Db = DEFAULT_DB, token: Token = None
) -> None:
    """Tokens and cost per role on this run."""
    with open_board(db, token=token) as board:
        rows = usage_by_role(board.events(run_id))
    out.print(usage_table(rows))


@app.command()
def pause(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Stop new claims on a run (work in progress may finish)."""
    with open_board(db, token=token) as board:
        board.pause_run(run_id, actor=acting(board, actor), reason=reason)
    out.print(plain(f"run {run_id} paused"))


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
    tokens: Annotated[int | None, typer.Option(help="New token budget.")] = None,
    cost: Annotated[float | None, typer.Option(help="New cost budget, USD.")] = None,
    actor: Actor = DEFAULT_ACTOR,
) -> None:
    """Let a paused run go on, optionally with a higher budget."""
    with open_board(db, token=token) as board:
        run = board.get_run(run_id)
        budget = dict(run.budget or {})
        budget.update({k: v for k, v in (("tokens", tokens), ("cost_usd", cost)) if v is not None})
        board.resume_run(
            run_id, actor=acting(board, actor), budget=budget if (tokens or cost) else None
        )
    out.print(plain(f"run {run_id} resumed"))


@app.command()
def backup(
    destination: Annotated[Path, typer.Argument(help="A new file for the copy.")],
    db: Db = DEFAULT_DB,
    token: Token = None,
) -> None:
    """Copy the live store to a new file, consistently, while workers keep writing
    (SQLite's online backup; for PostgreSQL it names the pg_dump command)."""
    with open_board(db, token=token) as board:
        size = board.backup(str(destination))
    out.print(plain(f"backed up {db} to {destination} ({size:,} bytes)"))


@app.command()
def reap(db: Db = DEFAULT_DB, token: Token = None) -> None:
    """Return expired leases to the board (any number of reapers may run at once)."""
    with open_board(db, token=token) as board:
        done = board.reap_expired()
    out.print(f"returned {len(done)} expired lease(s)")


# After the rest, as `baton --help` has always listed them: the long-running commands.
app.command("orchestrate")(orchestrate_cmd)
app.command("worker")(worker_cmd)


def _redact(exc: BaseException) -> str:
    return Redactor.from_environment().text(str(exc))


def main() -> None:
    """Entry point: one clear line per error, exit 2 for bad requests, 1 for failures."""
    configure_logging(os.environ.get("BATON_LOG_LEVEL", "WARNING").upper())
    configure_tracing()
    try:
        app()
    except UsageError as exc:
        err.print(Text("error: ", style="red"), plain(_redact(exc)), sep="", soft_wrap=True)
        sys.exit(2)
    except BatonError as exc:
        err.print(Text("failed: ", style="red"), plain(_redact(exc)), sep="", soft_wrap=True)
        sys.exit(1)
