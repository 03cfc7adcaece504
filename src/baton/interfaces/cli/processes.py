"""The long-running commands: ``baton worker`` (agents working the board's tasks, each
worker also competing for the watchdog duty) and ``baton orchestrate`` (the watchdog
alone). Both run until SIGTERM/Ctrl-C (:func:`~baton.runtime.processes.until_signalled`)
or, with ``--run``, until that run ends.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from baton.board import BoardAPI
from baton.interfaces.cli.common import DEFAULT_DB, Db, Token, board_opener, err
from baton.interfaces.cli.text import plain
from baton.model import RunState
from baton.model.errors import InvalidArgument, RunFailed
from baton.runtime.loading import load_agents
from baton.runtime.orchestrator import Orchestrator
from baton.runtime.processes import until_signalled
from baton.runtime.worker import Worker

#: The options both commands take, said once.
RunOnly = Annotated[
    str | None,
    typer.Option("--run", envvar="BATON_RUN", help="Only this run; exit when it ends."),
]
StallS = Annotated[
    float,
    typer.Option(envvar="BATON_STALL_S", help="Escalate after this long without progress."),
]


def orchestrate_cmd(
    db: Db = DEFAULT_DB,
    token: Token = None,
    run_id: RunOnly = None,
    stall_s: StallS = 120.0,
    review_alert: Annotated[int, typer.Option(envvar="BATON_REVIEW_ALERT")] = 2,
    failure_streak: Annotated[int, typer.Option(envvar="BATON_FAILURE_STREAK")] = 3,
    tick_s: Annotated[float, typer.Option(envvar="BATON_TICK_S")] = 1.0,
) -> None:
    """Reap expired leases and watch runs for trouble; escalate it to a human."""

    async def work(board: BoardAPI, stop: asyncio.Event) -> None:
        orch = Orchestrator(
            board,
            stall_s=stall_s,
            review_alert=review_alert,
            failure_streak=failure_streak,
            tick_s=tick_s,
        )
        await orch.run(stop=stop, run_id=run_id)

    until_signalled(board_opener(db, token), work)


def worker_cmd(
    agents: Annotated[
        str,
        typer.Option(
            envvar="BATON_AGENTS", show_envvar=True, help="module:mapping of role -> handler."
        ),
    ],
    db: Db = DEFAULT_DB,
    token: Token = None,
    name: Annotated[str, typer.Option(envvar="BATON_WORKER_NAME", help="Participant id.")] = "",
    concurrency: Annotated[int, typer.Option(envvar="BATON_CONCURRENCY", min=1)] = 1,
    grace_s: Annotated[
        float,
        typer.Option(envvar="BATON_GRACE_S", help="Seconds running agents get to finish on stop."),
    ] = 30.0,
    run_id: RunOnly = None,
    watchdog: Annotated[
        bool,
        typer.Option(
            envvar="BATON_WATCHDOG",
            help="Compete for the watchdog duty (reaping, stalls, escalations).",
        ),
    ] = True,
    watchdog_lease_s: Annotated[
        float,
        typer.Option(
            envvar="BATON_WATCHDOG_LEASE_S",
            help="How long the duty stays with a holder that died.",
        ),
    ] = 10.0,
    watchdog_tick_s: Annotated[
        float, typer.Option(envvar="BATON_WATCHDOG_TICK_S", help="Seconds between passes.")
    ] = 2.0,
    stall_s: StallS = 120.0,
) -> None:
    """Claim and work tasks for the roles the agents serve, until stopped (SIGTERM/Ctrl-C).

    Every worker also competes for the watchdog duty: exactly one at a time returns
    expired leases and escalates stalls, so no separate orchestrator is needed."""
    handlers = load_agents(agents)
    for flag, value in (
        ("--watchdog-lease-s", watchdog_lease_s),
        ("--watchdog-tick-s", watchdog_tick_s),
        ("--stall-s", stall_s),
    ):
        if not (0 < value < 86_400):
            raise InvalidArgument(f"{flag} must be between 0 and 86400 seconds, got {value}")

    async def work(board: BoardAPI, stop: asyncio.Event) -> None:
        me = board.principal
        participant = name or (f"worker-{os.getpid()}" if me.owner else me.id)
        w = Worker(
            board,
            handlers,
            name=participant,
            concurrency=concurrency,
            grace_s=grace_s,
            watchdog=watchdog,
            watchdog_lease_s=watchdog_lease_s,
            watchdog_tick_s=watchdog_tick_s,
            stall_s=stall_s,
        )
        await w.run(run_id=run_id, stop=stop)
        err.print(plain(f"{participant}: finished {w.completed} task(s)"))
        if run_id is not None and not stop.is_set():
            ended = await board.get_run(run_id)
            if ended.state in (RunState.FAILED, RunState.CANCELLED):
                raise RunFailed(run_id, ended.state.value)

    until_signalled(board_opener(db, token), work)
