"""Structured messages on a run: questions, answers, handoffs, notes, blockers — each
kind with its own schema, checked by the Board."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.board import BoardAPI
from baton.interfaces.mcp.registry import Args, BoardTool, board_tool


class PostMessage(Args):
    run_id: str = Field(description="The run to post on.")
    kind: str = Field(
        description=(
            "note {text, data?} | question {question, to_role?} | "
            "answer {question_seq, answer} | handoff {to_role, summary, task?, data?} | "
            "blocked_by {task, blocked_by, reason}"
        )
    )
    body: dict[str, Any] = Field(description="The message, as its kind's schema says.")
    to: str | None = Field(default=None, description="A participant or role (default: everyone).")
    task_id: str | None = Field(default=None, description="The task it is about.")


@board_tool("post_message", PostMessage)
async def post_message(board: BoardAPI, args: PostMessage) -> dict[str, Any]:
    """Post a structured message on a run, from you: ordered with every other change and
    seen by every participant (read_messages, read_task_context)."""
    event = await board.post_message(
        args.run_id,
        args.kind,
        args.body,
        sender=board.principal.id,
        to=args.to,
        task_id=args.task_id,
    )
    return {"seq": event.seq, "kind": event.kind, "run_id": event.run_id}


class ReadMessages(Args):
    run_id: str = Field(description="The run.")
    limit: int = Field(default=50, ge=1, le=1000, description="The latest this many.")


@board_tool("read_messages", ReadMessages, read_only=True)
async def read_messages(board: BoardAPI, args: ReadMessages) -> dict[str, Any]:
    """The run's latest messages, oldest first: who sent what, to whom, about which task."""
    found = await board.messages(args.run_id, limit=args.limit)
    return {
        "messages": [
            {
                "seq": m.seq,
                "kind": m.kind.removeprefix("message."),
                "from": m.actor,
                "task_id": m.task_id,
                "at": m.at,
                **m.payload,
            }
            for m in found
        ]
    }


TOOLS: list[BoardTool[Any]] = [post_message, read_messages]
