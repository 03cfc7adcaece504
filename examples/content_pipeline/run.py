"""Run the content pipeline: one worker per role on one SQLite file.

``python -m examples.content_pipeline.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from baton import Board
from baton.plans import load_plan
from examples._shared import ExampleResult, report, work_run, workers_for
from examples.content_pipeline.agents import AGENTS

PLAN = Path(__file__).with_name("plan.yaml")

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in AGENTS}


async def run_example(db_path: str) -> ExampleResult:
    board = Board.open(db_path)
    try:
        run = await board.create_run(
            load_plan(PLAN), run_id=f"article-{secrets.token_hex(2)}", actor="managing-editor"
        )
        workers = workers_for(board, [(WORKERS[role], a) for role, a in AGENTS.items()])
        rec = await work_run(board, run.id, workers)
    finally:
        await board.close()
    return ExampleResult(db_path=db_path, runs={"article": rec}, workers=dict(WORKERS))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run_example(str(Path(tmp) / "content.db")))
        print(report("Content pipeline: research, write, edit, design, publish", result))
        rec = result.runs["article"]
        draft = rec.tasks["draft"]
        print(f"\nThe editor's feedback on draft 1: {draft.feedback[0]['items']}")
        print(f"Draft {draft.output['draft']} as approved: {draft.output['headline']!r}")
        for paragraph in draft.output["paragraphs"]:
            print(f"  {paragraph}")
        print(f"Published at {rec.tasks['publish'].output['url']}")


if __name__ == "__main__":
    main()
