"""Run the support-triage example: two tickets, each its own run, worked at the same
time by four workers per run (triage, billing, technical, responder) on one SQLite file.

``python -m examples.support_triage.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
from pathlib import Path

from baton import Board
from examples._shared import ExampleResult, RunRecord, register, report, work_run, workers_for
from examples.support_triage.agents import AGENTS
from examples.support_triage.plan import ROLES, TICKETS, plan_for

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in ROLES}


async def run_example(db_path: str) -> ExampleResult:
    board = Board.open(db_path)
    team = [(WORKERS[role], {role: AGENTS[role]}) for role in ROLES]
    runs: dict[str, RunRecord] = {}

    async def one(label: str) -> None:
        ticket = TICKETS[label]
        run_id = f"{ticket['id'].lower()}-{secrets.token_hex(2)}"
        run = await board.create_run(plan_for(ticket), run_id=run_id, actor="support-inbox")
        workers = await workers_for(board, team, tokens=tokens)
        runs[label] = await work_run(board, run.id, workers)

    try:
        tokens = await register(board, team)  # the team, registered once per store
        async with asyncio.TaskGroup() as group:
            for label in TICKETS:
                group.create_task(one(label))
    finally:
        await board.close()
    ordered = {label: runs[label] for label in TICKETS}
    return ExampleResult(db_path=db_path, runs=ordered, workers=dict(WORKERS))


def main() -> None:
    # The worker logs every failed attempt as a warning, RetryLater included; here those
    # are billing and technical waiting for each other's message (the log shows them).
    logging.getLogger("baton.runtime.worker").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_example(str(Path(tmp) / "support.db")))
        print(report("Support triage: peer-to-peer, no planner", result))
        reply = result.runs["charged_after_cancel"].tasks["reply"]
        print(f"\nReply sent for T-1042: {reply.output['body']}")
        print("T-1043: no automated reply; a human has the escalation.")


if __name__ == "__main__":
    main()
