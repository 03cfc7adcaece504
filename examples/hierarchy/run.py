"""Run the hierarchical example: one worker per role (architect, three team leads, three
kinds of developer), all at once on one SQLite file.

``python -m examples.hierarchy.run`` prints the board's narration and event log.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from examples._shared import ExampleResult, report, run_plan_file
from examples.hierarchy.agents import AGENTS

PLAN = Path(__file__).with_name("plan.yaml")

#: The participant name each role's worker claims under.
WORKERS = {role: f"{role}-agent" for role in AGENTS}


async def run_example(db_path: str) -> ExampleResult:
    return await run_plan_file(db_path, PLAN, AGENTS, run_name="feature", actor="cto")


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
