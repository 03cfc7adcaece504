"""Growing a run, peer to peer: an agent at work on a run hands new tasks to other roles
(checked whole, like a plan, against the run's existing tasks)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool
from baton.model import TaskSpec


class AddTasks(Args):
    run_id: str = Field(description="The run to add to.")
    tasks: list[TaskSpec] = Field(
        min_length=1,
        description=(
            "The new tasks, as a plan writes them: id, role, and optionally title, "
            "description, input, acceptance_criteria, output_contract, depends_on (plan "
            "ids of this run's tasks or of other new ones), reviewer_role, priority…"
        ),
    )


@board_tool("add_tasks", AddTasks)
async def add_tasks(board: BoardAPI, args: AddTasks) -> dict[str, Any]:
    """Create follow-up tasks on a run you are working on (or steer): all of them or
    none — an invalid one (unknown role or dependency, duplicate id, cycle) refuses the
    lot, naming every fault."""
    added = await board.add_tasks(args.run_id, args.tasks, actor=board.principal.id)
    return {"added": [{"task_id": t.id, "state": t.state.value, "role": t.role} for t in added]}


TOOLS: list[BoardTool[Any]] = [add_tasks]
