"""Reading the board: who you are, a task's whole context, a run's status in words."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool
from baton.interfaces.mcp.views import run_status, task_context


class WhoAmI(Args):
    pass


@board_tool("whoami", WhoAmI, read_only=True)
async def whoami(board: BoardAPI, args: WhoAmI) -> dict[str, Any]:
    """Who this board acts as: your participant id, the roles you may claim and review,
    your grants and the runs you may see."""
    me = board.principal
    return {
        "participant": me.id,
        "kind": me.kind.value,
        "roles": sorted(me.roles),
        "grants": sorted(g.value for g in me.grants),
        "runs": sorted(me.runs),
    }


class ReadContext(Args):
    task_id: str = Field(description="The task's id, written run/key.")


@board_tool("read_task_context", ReadContext, read_only=True)
async def read_task_context(board: BoardAPI, args: ReadContext) -> dict[str, Any]:
    """Everything you need to do a task: the run's goal, the task's description and
    input, its acceptance criteria and output contract, its dependencies' outputs, review
    feedback from earlier rounds, errors of your earlier attempt, the run's recent
    messages, your lease, and where the task goes after submit."""
    return await task_context(board, args.task_id)


class RunStatus(Args):
    run_id: str = Field(description="The run's id.")


@board_tool("run_status", RunStatus, read_only=True)
async def status(board: BoardAPI, args: RunStatus) -> dict[str, Any]:
    """A run's state, its tasks counted by state, and its narration: what is done, what
    waits on what, what was returned by review, what is unclaimed and why."""
    return await run_status(board, args.run_id)


TOOLS: list[BoardTool[Any]] = [whoami, read_task_context, status]
