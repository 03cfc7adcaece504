"""Run the hierarchical example: one worker per role (architect, three team leads, three
kinds of developer), all at once on one SQLite file.

``python -m examples.hierarchy.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from baton import Board
from baton.plans import load_plan
from examples._shared import ExampleResult, report, work_run, workers_for
from examples.hierarchy.agents import AGENTS

PLAN = Path(__file__).with_name("plan.yaml")

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in AGENTS}


async def run_example(db_path: str) -> ExampleResult:
    board = Board.open(db_path)
    try:
        run = await board.create_run(
            load_plan(PLAN), run_id=f"orders-{secrets.token_hex(2)}", actor="cto"
        )
        workers = workers_for(board, [(WORKERS[role], a) for role, a in AGENTS.items()])
        rec = await work_run(board, run.id, workers)
    finally:
        await board.close()
    return ExampleResult(db_path=db_path, runs={"feature": rec}, workers=dict(WORKERS))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_example(str(Path(tmp) / "hierarchy.db")))
        print(report("Hierarchy: an architect over three teams", result))
        rec = result.runs["feature"]
        print("\nThe tree (parent -> children):")
        for key in ("feature", "db", "api", "ops"):
            print(f"  {key:<8} -> {', '.join(rec.children(key))}")
        print(f"\nThe endpoint as built: {rec.tasks['api.endpoint'].output}")


if __name__ == "__main__":
    main()
