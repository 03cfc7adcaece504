"""Reviewing: a claim for a reviewer role gives a review lease on submitted work;
approve it or send it back with the issues to fix. (There is no "request review" call:
a task whose spec names a ``reviewer_role`` goes to review when it is submitted.)"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool
from baton.interfaces.mcp.views import where_now

TaskId = Field(description="The task's id, written run/key.")
Token = Field(default=None, description="Your review lease's token (from claim).")


class Approve(Args):
    task_id: str = TaskId
    token: int | None = Token
    comment: str = Field(default="", description="Why, for the log.")


@board_tool("approve", Approve)
async def approve(board: BoardAPI, args: Approve) -> dict[str, Any]:
    """Approve a task you are reviewing (it goes on to done, or to its approval gate),
    or one at its approval gate if you hold the approve grant. Nobody approves their
    own work."""
    task = await board.approve(
        args.task_id, actor=board.principal.id, token=args.token, comment=args.comment
    )
    return {"task_id": task.id, "state": task.state.value, "now": where_now(task)}


class Reject(Args):
    task_id: str = TaskId
    feedback: list[str] = Field(
        min_length=1, description="The issues to fix, one per item; the next attempt sees them."
    )
    token: int | None = Token


@board_tool("reject", Reject)
async def reject(board: BoardAPI, args: Reject) -> dict[str, Any]:
    """Send the work back with feedback: the task is worked again and the next attempt
    reads your issues; after its max_review_rounds rejections it fails for good."""
    task = await board.reject(
        args.task_id, args.feedback, actor=board.principal.id, token=args.token
    )
    return {"task_id": task.id, "state": task.state.value, "now": where_now(task)}


TOOLS: list[BoardTool[Any]] = [approve, reject]
