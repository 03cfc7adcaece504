"""Run the content pipeline: one worker per role on one SQLite file.

``python -m examples.content_pipeline.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from examples._shared import ExampleResult, report, run_plan_file
from examples.content_pipeline.agents import AGENTS

PLAN = Path(__file__).with_name("plan.yaml")

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in AGENTS}


async def run_example(db_path: str) -> ExampleResult:
    return await run_plan_file(db_path, PLAN, AGENTS, run_name="article", actor="managing-editor")


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
