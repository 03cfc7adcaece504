"""Run the payment pipeline on two transactions at once, a clean one and a fraudulent
one, each its own run worked by five workers (one per role) on one SQLite file.

``python -m examples.payment_flow.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from baton import Board
from examples._shared import ExampleResult, RunRecord, register, report, work_run, workers_for
from examples.payment_flow.agents import AGENTS
from examples.payment_flow.plan import ROLES, TRANSACTIONS, plan_for

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in ROLES}


async def run_example(db_path: str) -> ExampleResult:
    board = Board.open(db_path)
    team = [(WORKERS[role], {role: AGENTS[role]}) for role in ROLES]
    runs: dict[str, RunRecord] = {}

    async def one(label: str) -> None:
        tx = TRANSACTIONS[label]
        run = await board.create_run(
            plan_for(tx), run_id=f"{tx['id']}-{secrets.token_hex(2)}", actor="checkout"
        )
        workers = await workers_for(board, team, tokens=tokens)
        runs[label] = await work_run(board, run.id, workers)

    try:
        tokens = await register(board, team)  # the team, registered once per store
        async with asyncio.TaskGroup() as group:
            for label in TRANSACTIONS:
                group.create_task(one(label))
    finally:
        await board.close()
    ordered = {label: runs[label] for label in TRANSACTIONS}
    return ExampleResult(db_path=db_path, runs=ordered, workers=dict(WORKERS))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_example(str(Path(tmp) / "payments.db")))
        print(report("Payment flow: a failed fraud check stops everything after it", result))
        bad = result.runs["fraudulent"]
        downstream = ("payment", "accounting", "confirmation_email")
        never = [key for key in downstream if not bad.of(key, "task.claim")]
        print(f"\nFraudulent transaction: never claimed: {', '.join(never)}.")


if __name__ == "__main__":
    main()
