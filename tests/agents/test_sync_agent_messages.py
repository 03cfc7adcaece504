"""Sync agents (a plain ``def``, run in a thread) act on the board through the
``*_sync`` methods of their context; calling the async ones there is a clear error that
says what to call, not a coroutine nobody awaits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from baton import Board, Event, Run, RunState, Task, TaskContext, Worker
from tests.helpers import plan, task


def _run_one(tmp_path: Path, agent: Any, **spec: Any) -> tuple[list[Event], Task, list[Run]]:
    async def main() -> tuple[list[Event], Task, list[Run]]:
        board = Board.open(tmp_path / "b.db")
        try:
            run = await board.create_run(plan(task("a", max_attempts=1, **spec)))
            await asyncio.wait_for(
                Worker(board, {"worker": agent}, name="w1").run(run_id=run.id), 30
            )
            return (
                await board.messages(run.id),
                await board.get_task(f"{run.id}/a"),
                [await board.get_run(run.id)],
            )
        finally:
            await board.close()

    return asyncio.run(main())


def test_a_sync_agent_posts_a_message_and_records_usage(tmp_path: Path) -> None:
    def agent(ctx: TaskContext) -> dict[str, bool]:
        event = ctx.post_message_sync("handoff", {"to_role": "qa", "summary": "ready"}, to="qa")
        ctx.record_usage_sync(model="m", input_tokens=3, output_tokens=4)
        return {"posted": event.seq > 0}

    messages, t, (run,) = _run_one(tmp_path, agent)
    (m,) = messages
    assert m.kind == "message.handoff" and m.actor == "w1" and m.task_id == t.id
    assert m.payload == {
        "to": "qa",
        "body": {"to_role": "qa", "summary": "ready", "task": None, "data": {}},
    }
    assert t.output == {"posted": True} and t.tokens_used == 7
    assert run.state is RunState.FINISHED


def test_a_sync_agent_calling_the_async_method_is_told_what_to_call(tmp_path: Path) -> None:
    def agent(ctx: TaskContext) -> None:
        _ = ctx.post_message("note", {"text": "hi"})  # forgot that it is async: raises here

    messages, t, (run,) = _run_one(tmp_path, agent)
    assert messages == []
    assert t.last_error is not None and t.last_error["type"] == "UsageError"
    assert "ctx.post_message_sync(...)" in t.last_error["message"]
    assert run.state is RunState.FAILED


def test_an_async_agent_calling_the_sync_method_is_told_to_await(tmp_path: Path) -> None:
    async def agent(ctx: TaskContext) -> None:
        ctx.post_message_sync("note", {"text": "hi"})

    messages, t, _ = _run_one(tmp_path, agent)
    assert messages == []
    assert t.last_error is not None
    assert "an async agent awaits ctx.post_message(...)" in t.last_error["message"]
