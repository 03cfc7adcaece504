"""Run the feature team in one process: ``python -m examples.feature_team.run``.

``make demo`` runs the same team with several worker processes through the CLI.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from baton import Board, Event, Run, Task
from baton.runtime.orchestrator import Orchestrator
from baton.runtime.worker import Worker
from baton.views.narration import narrate
from examples._shared import register
from examples.feature_team.team import GOAL, ROLES, build_agents


@dataclass
class ExampleResult:
    run: Run
    tasks: list[Task]
    events: list[Event]
    narration: str


async def approve_gates(board: Board, run_id: str) -> None:
    """Play the human at the approval gate: approve each deploy as it arrives."""
    async for event in board.subscribe(run_id=run_id, kinds=("task.submit_for_approval",)):
        if event.task_id:
            await board.approve(event.task_id, actor="human:example", comment="ship it")


async def run_example(db_path: str, *, workers: int = 3, timeout_s: float = 60) -> ExampleResult:
    board = Board.open(db_path)
    try:
        run = await board.create_goal_run(GOAL, roles=ROLES)
        names = [f"agent-{i}" for i in range(1, workers + 1)]
        tokens = await register(board, [(name, build_agents()) for name in names])
        team = [  # each worker a registered participant, on its own token
            Worker(await board.login(tokens[name]), build_agents(), name=name, concurrency=2)
            for name in names
        ]
        orchestrator = Orchestrator(board, stall_s=30, tick_s=0.5)
        helpers = [
            asyncio.create_task(approve_gates(board, run.id)),
            asyncio.create_task(orchestrator.run(run_id=run.id)),
        ]
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(w.run(run_id=run.id) for w in team))
        for h in helpers:
            h.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        final = await board.get_run(run.id)
        tasks = await board.tasks(run.id)
        return ExampleResult(
            run=final,
            tasks=tasks,
            events=await board.events(run.id),
            narration=narrate(final, tasks, await board.escalations(run.id)),
        )
    finally:
        await board.close()


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "feature.db")
    result = asyncio.run(run_example(path))
    print(result.narration)
    print(f"database: {path}")
